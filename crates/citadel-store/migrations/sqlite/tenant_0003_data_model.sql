-- The no-code data model's metadata. Each user table's rows live in a
-- physical table of its own, created by the store from these rows.
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    deleted_by TEXT
);
CREATE TABLE data_tables (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    name TEXT NOT NULL,
    description TEXT,
    position BIGINT NOT NULL,
    schema_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    deleted_by TEXT
);
CREATE INDEX data_tables_app ON data_tables(app_id);
CREATE TABLE data_fields (
    id TEXT PRIMARY KEY,
    table_id TEXT NOT NULL REFERENCES data_tables(id),
    definition TEXT NOT NULL,
    position BIGINT NOT NULL,
    column_generation BIGINT NOT NULL,
    next_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX data_fields_table ON data_fields(table_id);
CREATE TABLE data_views (
    id TEXT PRIMARY KEY,
    table_id TEXT NOT NULL REFERENCES data_tables(id),
    name TEXT NOT NULL,
    owner_id TEXT,
    definition TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX data_views_table ON data_views(table_id);
CREATE TABLE record_revisions (
    table_id TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT,
    at BIGINT NOT NULL,
    changes TEXT NOT NULL,
    PRIMARY KEY (table_id, record_id, version)
);
