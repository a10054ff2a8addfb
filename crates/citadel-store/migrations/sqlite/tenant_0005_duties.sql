ALTER TABLE users ADD COLUMN is_security_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN is_audit_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN is_protected BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET is_security_admin = is_admin, is_audit_admin = is_admin;
