-- When the tenant's access-control rows were first sealed: after that, an
-- unsealed row is a row changed beside the server, not an old one.
ALTER TABLE tenants ADD COLUMN access_sealed_at BIGINT;
