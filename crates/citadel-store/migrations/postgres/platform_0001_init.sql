CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE operator_sessions (
    token_hash BYTEA PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    suite TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    db_role TEXT,
    db_credential BYTEA
);
