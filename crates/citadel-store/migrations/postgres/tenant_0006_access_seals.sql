-- A MAC under the tenant's integrity key over each group's name, built-in
-- role, policy (grants, field rules, row scopes), version and member list:
-- a change made beside the server is detected when the group is loaded.
ALTER TABLE permission_groups ADD COLUMN seal BYTEA;
-- Likewise over each user's duties, protection, status and department.
ALTER TABLE users ADD COLUMN role_seal BYTEA;
