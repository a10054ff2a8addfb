//! The audit log's tables: on SQLite in the log's own file, on
//! PostgreSQL in the `citadel_audit` schema, owned by the platform's user.

use sqlx::AssertSqlSafe;

use citadel_core::TenantId;

use crate::StoreError;

pub(crate) const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    actor_ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    leaf BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms);
CREATE TRIGGER IF NOT EXISTS audit_events_not_updated BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TABLE IF NOT EXISTS audit_archive (
    first_seq INTEGER PRIMARY KEY,
    end_seq INTEGER NOT NULL,
    first_at_ms INTEGER NOT NULL,
    last_at_ms INTEGER NOT NULL,
    data BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_archive_not_updated BEFORE UPDATE ON audit_archive
BEGIN SELECT RAISE(ABORT, 'audit archive segments are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_archive_not_deleted BEFORE DELETE ON audit_archive
BEGIN SELECT RAISE(ABORT, 'audit archive segments are append-only'); END;
BEGIN IMMEDIATE;
DROP TRIGGER IF EXISTS audit_events_not_deleted;
CREATE TRIGGER audit_events_not_deleted BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_archive WHERE OLD.seq >= first_seq AND OLD.seq < end_seq)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
COMMIT;
";

/// The schema holding every tenant's audit table on PostgreSQL, owned by
/// the platform's user: a tenant role owns its own schema and could drop
/// any table in it, whoever owned the table.
pub(crate) const POSTGRES_AUDIT_SCHEMA: &str = "citadel_audit";

/// The audit table of `tenant` on PostgreSQL (schema-qualified), or of the
/// platform's own log for `None`. Hex digits of an id only.
pub(crate) fn postgres_table(tenant: Option<TenantId>) -> String {
    match tenant {
        Some(id) => format!("{POSTGRES_AUDIT_SCHEMA}.t_{}", id.as_uuid().simple()),
        None => format!("{POSTGRES_AUDIT_SCHEMA}.platform"),
    }
}

/// The archive segments' table beside a log's table `table`.
pub(crate) fn archive_table(table: &str) -> String {
    match table.rsplit_once('.') {
        Some((schema, name)) => format!("{schema}.{name}_archive"),
        None => "audit_archive".to_owned(),
    }
}

/// Creates `table` (from [`postgres_table`]) and its archive if missing,
/// owned by the connection's user, and lets `role` (a tenant's) read and
/// append to the log and read the archive: moving events to the archive
/// is the platform's (`AuditLog::archive_before`).
pub(crate) async fn create_postgres_table(
    executor: &mut sqlx::PgConnection,
    table: &str,
    role: Option<&str>,
) -> Result<(), StoreError> {
    let archive = archive_table(table);
    let mut ddl = vec![
        format!("CREATE SCHEMA IF NOT EXISTS {POSTGRES_AUDIT_SCHEMA}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                seq BIGINT PRIMARY KEY,
                at_ms BIGINT NOT NULL,
                actor_id TEXT,
                actor_name TEXT,
                actor_ip TEXT,
                user_agent TEXT,
                request_id TEXT,
                action TEXT NOT NULL,
                targets TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL,
                leaf BYTEA NOT NULL
            )"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {}_at ON {table} (at_ms)",
            table.rsplit('.').next().unwrap_or("audit")
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {archive} (
                first_seq BIGINT PRIMARY KEY,
                end_seq BIGINT NOT NULL,
                first_at_ms BIGINT NOT NULL,
                last_at_ms BIGINT NOT NULL,
                data BYTEA NOT NULL
            )"
        ),
    ];
    if let Some(role) = role {
        ddl.push(format!(
            "GRANT USAGE ON SCHEMA {POSTGRES_AUDIT_SCHEMA} TO \"{role}\""
        ));
        ddl.push(format!("GRANT SELECT, INSERT ON {table} TO \"{role}\""));
        ddl.push(format!("GRANT SELECT ON {archive} TO \"{role}\""));
    }
    for statement in ddl {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut *executor)
            .await?;
    }
    Ok(())
}
