//! Writing records: batches of creates, updates and deletes, each batch in
//! one transaction (all or nothing), each record's change in its history.

use chrono::{DateTime, Utc};
use citadel_core::data::{Cell, FieldDef, TableSchema};
use citadel_core::{CoreError, FieldId, RecordId, TableId};
use serde_json::Value as Json;

use super::sql::{Dialect, Param, Params, Statement};
use crate::StoreError;

/// Most records one request may write.
pub const MAX_BATCH: usize = 1000;
/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's
/// 65,535.
pub(super) const MAX_PARAMS: usize = 30_000;

/// A new record: a value for every field that has one (defaults applied).
#[derive(Clone, Debug, Default)]
pub struct RecordWrite {
    pub cells: Vec<(FieldId, Cell)>,
}

/// Changes to a record, made only if it is still at `expected_version`.
#[derive(Clone, Debug)]
pub struct RecordChange {
    pub id: RecordId,
    pub expected_version: Option<i64>,
    pub cells: Vec<(FieldId, Cell)>,
}

#[derive(Clone, Copy, Debug)]
pub struct RecordDeletion {
    pub id: RecordId,
    pub expected_version: Option<i64>,
}

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

pub(super) fn invalid(field: &FieldDef, reason: String) -> StoreError {
    StoreError::Invalid(CoreError::InvalidField {
        field: field.name.to_string(),
        reason,
    })
}

/// Names the field whose unique index refused a write.
fn unique_refused(table: &TableSchema) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if let sqlx::Error::Database(d) = &e
            && d.is_unique_violation()
        {
            let text = format!("{} {}", d.message(), d.constraint().unwrap_or_default());
            if let Some(field) = table.fields.iter().find(|f| text.contains(&f.id.simple())) {
                return invalid(
                    field,
                    "must be unique: another record has this value".into(),
                );
            }
        }
        StoreError::Database(e)
    }
}

/// `{"<field id>": [old, new], ...}`, written straight out: every created
/// record has one, so no intermediate map of copied values.
fn changes_json(changes: &[(FieldId, Json, Json)]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + 64 * changes.len());
    out.push('{');
    for (n, (id, old, new)) in changes.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        // A field id is hex and hyphens; a value's Display is its JSON.
        // Writing to a String cannot fail.
        let _ = write!(out, "\"{id}\":[{old},{new}]");
    }
    out.push('}');
    out
}

/// Checks that every link, user and department named in `cells` exists.
macro_rules! check_references {
    ($tx:expr, $table:expr, $cells:expr) => {{
        let table: &TableSchema = $table;
        for field in &table.fields {
            let mut wanted: Vec<Param> = Vec::new();
            for cells in $cells {
                let cells: &Vec<(FieldId, Cell)> = cells;
                for (id, cell) in cells.iter().filter(|(id, _)| *id == field.id) {
                    let _ = id;
                    match cell {
                        Cell::Link(r) => wanted.push(Param::Int(Some(r.0))),
                        Cell::Links(rs) => wanted.extend(rs.iter().map(|r| Param::Int(Some(r.0)))),
                        Cell::Ref(r) => wanted.push(Param::Text(Some(r.clone()))),
                        _ => {}
                    }
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let source = match &field.kind {
                FieldKind::Link { table, .. } => ident(&physical_table(*table))?,
                FieldKind::User => "users".to_owned(),
                FieldKind::Department => "departments".to_owned(),
                _ => continue,
            };
            wanted.dedup();
            for chunk in wanted.chunks(500) {
                let mut params = Params::on(&*$tx);
                let list: Vec<String> = chunk.iter().map(|p| params.push(p.clone())).collect();
                let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {source} WHERE id IN ({})",
                    list.join(", ")
                )))
                .bind_params(params.0)
                .fetch_one(&mut *$tx)
                .await?
                .try_get::<i64, _>(0)?;
                let distinct = {
                    let mut c = chunk.to_vec();
                    c.sort_by_key(|p| format!("{p:?}"));
                    c.dedup();
                    c.len()
                };
                if found != distinct as i64 {
                    let what = match field.kind {
                        FieldKind::User => "a user",
                        FieldKind::Department => "a department",
                        _ => "a record",
                    };
                    return Err(invalid(
                        field,
                        format!("refers to {what} that does not exist"),
                    ));
                }
            }
        }
    }};
}

/// Refuses to write through a schema that changed since it was read.
///
/// On PostgreSQL the row is read `FOR SHARE`: a schema change, which bumps
/// the version first thing in its transaction, then waits for this write
/// to commit before it reads the rows it converts, and a write that comes
/// later waits for the change and sees the new version (409, try again),
/// so no write lands in a column a type change is replacing.
macro_rules! check_schema_version {
    ($tx:expr, $table:expr, $dialect:expr) => {{
        let table: &TableSchema = $table;
        let sql = match $dialect {
            Dialect::Sqlite => {
                "SELECT schema_version FROM data_tables WHERE id = $1 AND deleted_at IS NULL"
            }
            Dialect::Postgres => {
                "SELECT schema_version FROM data_tables WHERE id = $1 AND deleted_at IS NULL \
                 FOR SHARE"
            }
        };
        let current: Option<i64> = sqlx::query_scalar(sql)
            .bind(table.id.to_string())
            .fetch_optional(&mut *$tx)
            .await?;
        match current {
            None => return Err(StoreError::NotFound("table")),
            Some(v) if v != table.schema_version => {
                return Err(StoreError::Conflict(
                    "the table's fields changed while this request ran; try again".into(),
                ));
            }
            Some(_) => {}
        }
    }};
}

/// One revision as written: record, version, action, actor, time (ms),
/// changes (JSON), and the data key version its sealed values are under.
pub(super) type RevisionRow = (
    i64,
    i64,
    &'static str,
    Option<String>,
    i64,
    String,
    Option<i64>,
);

/// The statements that write `rows` as revisions of `table`'s records;
/// with `schema`, the schema version the table had when they were written
/// (creates record it: see `history.rs`). Built apart from the transaction
/// so that a create can build them before it queues for the writer.
pub(super) fn revision_statements(
    table: TableId,
    rows: Vec<RevisionRow>,
    schema: Option<i64>,
    dialect: Dialect,
) -> Vec<Statement> {
    const COLUMNS: usize = 9;
    let table_text = table.to_string();
    let mut statements = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut params = Params::new(dialect);
        let mut sql = String::from(
            "INSERT INTO record_revisions (table_id, record_id, version, action, actor, at, \
             changes, sealed_key, schema_version) VALUES ",
        );
        for (n, (record, version, action, actor, at, changes, sealed_key)) in
            rows.by_ref().take(MAX_PARAMS / COLUMNS).enumerate()
        {
            sql.push_str(if n == 0 { "(" } else { ", (" });
            let values = [
                Param::Text(Some(table_text.clone())),
                Param::Int(Some(record)),
                Param::Int(Some(version)),
                Param::Text(Some(action.to_owned())),
                Param::Text(actor),
                Param::Int(Some(at)),
                Param::Text(Some(changes)),
                Param::Int(sealed_key),
                Param::Int(schema),
            ];
            params.place_all(values, &mut sql);
            sql.push(')');
        }
        statements.push(Statement {
            sql,
            params: params.0,
        });
    }
    statements
}

/// Runs statements built ahead in the transaction `$tx`; a database error
/// goes through `$refused`.
macro_rules! run_statements {
    ($tx:expr, $statements:expr) => {
        run_statements!($tx, $statements, StoreError::from)
    };
    ($tx:expr, $statements:expr, $refused:expr) => {{
        for statement in $statements {
            let statement: $crate::data::sql::Statement = statement;
            sqlx::query(sqlx::AssertSqlSafe(statement.sql))
                .bind_params(statement.params)
                .execute(&mut *$tx)
                .await
                .map_err($refused)?;
        }
    }};
}

/// Writes revisions of `$table`'s records; with `$schema`, the schema
/// version the table had when they were written.
macro_rules! insert_revisions {
    ($tx:expr, $table:expr, $rows:expr) => {
        insert_revisions!($tx, $table, $rows, None)
    };
    ($tx:expr, $table:expr, $rows:expr, $schema:expr) => {{
        let dialect = $crate::data::sql::Dialect::of(&*$tx);
        let statements =
            $crate::data::records::revision_statements($table, $rows, $schema, dialect);
        run_statements!($tx, statements)
    }};
}

/// Replaces the links of many-to-many fields for the given records.
macro_rules! write_links {
    ($tx:expr, $table:expr, $records:expr, $replace:expr) => {{
        let table: &TableSchema = $table;
        for field in table.fields.iter().filter(|f| !f.kind.has_column()) {
            let junction = ident(&junction_table(field.id))?;
            let mut rows: Vec<(i64, i64, i64)> = Vec::new();
            for (record, cells) in $records {
                let record: i64 = *record;
                let cells: &Vec<(FieldId, Cell)> = cells;
                let Some((_, Cell::Links(targets))) = cells.iter().find(|(id, _)| *id == field.id)
                else {
                    continue;
                };
                if $replace {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {junction} WHERE src = $1"
                    )))
                    .bind(record)
                    .execute(&mut *$tx)
                    .await?;
                }
                for (position, target) in targets.iter().enumerate() {
                    rows.push((record, target.0, position as i64));
                }
            }
            for chunk in rows.chunks(MAX_PARAMS / 3) {
                let mut params = Params::on(&*$tx);
                let values: Vec<String> = chunk
                    .iter()
                    .map(|(src, dst, pos)| {
                        format!(
                            "({}, {}, {})",
                            params.push(Param::Int(Some(*src))),
                            params.push(Param::Int(Some(*dst))),
                            params.push(Param::Int(Some(*pos)))
                        )
                    })
                    .collect();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {junction} (src, dst, position) VALUES {}",
                    values.join(", ")
                )))
                .bind_params(params.0)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}

#[macro_use]
#[path = "unlink.rs"]
mod unlink;

#[path = "record_writes.rs"]
mod writes;
