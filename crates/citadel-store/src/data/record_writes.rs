//! The three batch writes. Each runs in one write transaction: the schema
//! version, references, versions and uniqueness are checked inside it, so
//! a batch either lands whole or leaves nothing behind.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use citadel_core::access::{TableAccess, ops};
use citadel_core::data::query::Predicate;
use citadel_core::data::table::{field_column, junction_table, physical_table};
use citadel_core::data::{Cell, FieldDef, FieldKind, TableSchema};
use citadel_core::{FieldId, RecordId, TableId};
use serde_json::Value as Json;
use sqlx::{Row, SqliteConnection};

use super::super::new_records::NewRecords;
use super::super::reads::{decode_row, fill_links, select_list};
use super::super::rows::{stored_columns, stored_params};
use super::super::sealing::Sealer;
use super::super::sql::{BindParams, Dialect, Param, Params, ident, render};
use super::super::{Actor, RecordRow};
use super::{
    MAX_PARAMS, RecordChange, RecordDeletion, RecordWrite, changes_json, invalid, now,
    unique_refused,
};
use crate::StoreError;
use crate::db::{BeginWrite, DbPool};
use crate::tenant_db::TenantDb;

/// Reads the current rows of `ids` (all fields) inside the transaction;
/// with a scope, only those of them within it.
macro_rules! current_rows {
    ($tx:expr, $table:expr, $ids:expr, $scope:expr, $dialect:expr, $sealer:expr) => {{
        let table: &TableSchema = $table;
        let ids: &[i64] = $ids;
        let scope: Option<&Predicate> = $scope;
        let sealer: Option<&Sealer> = $sealer;
        let (select, chosen) = select_list(table, None)?;
        let physical = ident(&physical_table(table.id))?;
        let mut rows: Vec<RecordRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut params = Params::on(&*$tx);
            let list: Vec<String> = chunk
                .iter()
                .map(|id| params.push(Param::Int(Some(*id))))
                .collect();
            let within = match scope {
                Some(rows) => format!(
                    " AND {}",
                    render(rows, table, $dialect, sealer, &mut params)?
                ),
                None => String::new(),
            };
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {select} FROM {physical} r WHERE r.id IN ({}){within}",
                list.join(", ")
            )))
            .bind_params(params.0)
            .fetch_all(&mut *$tx)
            .await?;
            for row in &found {
                rows.push(decode_row(row, &chosen, sealer)?);
            }
        }
        fill_links!($tx, &mut rows, &chosen);
        let mut by_id: HashMap<i64, RecordRow> = HashMap::new();
        for row in rows {
            by_id.insert(row.id.0, row);
        }
        by_id
    }};
}

/// Checks each record exists and is at the version the caller expects.
fn check_versions(
    current: &HashMap<i64, RecordRow>,
    wanted: impl Iterator<Item = (RecordId, Option<i64>)>,
) -> Result<(), StoreError> {
    for (id, expected) in wanted {
        let row = current.get(&id.0).ok_or(StoreError::NotFound("record"))?;
        if let Some(expected) = expected
            && expected != row.version
        {
            return Err(StoreError::VersionMismatch {
                record: id.0,
                expected,
                current: row.version,
            });
        }
    }
    Ok(())
}

/// A field's old and new value in a revision.
type FieldChange = (FieldId, Json, Json);

/// A revision's changes with the values of encrypted fields sealed, and
/// the data key version they are sealed under (none when nothing is).
fn seal_changes(
    table: &TableSchema,
    sealer: Option<&Sealer>,
    record: i64,
    version: i64,
    changes: Vec<FieldChange>,
) -> Result<(Vec<FieldChange>, Option<i64>), StoreError> {
    let Some(sealer) = sealer else {
        return Ok((changes, None));
    };
    let mut sealed_any = false;
    let mut out = Vec::with_capacity(changes.len());
    for (field, old, new) in changes {
        if table.field(field).is_some_and(|f| f.options.encrypted) {
            sealed_any = true;
            out.push((
                field,
                sealer.seal_history(field, record, version, &old)?,
                sealer.seal_history(field, record, version, &new)?,
            ));
        } else {
            out.push((field, old, new));
        }
    }
    Ok((out, sealed_any.then(|| i64::from(sealer.active_version()))))
}

fn cell_json(cells: &[(FieldId, Cell)], field: FieldId) -> Json {
    cells
        .iter()
        .find(|(id, _)| *id == field)
        .map_or(Json::Null, |(_, c)| c.to_json())
}

/// Runs a write body in a transaction: on SQLite through the group-commit
/// writer, on PostgreSQL in a transaction of its own.
macro_rules! write_through {
    ($db:expr, $table:expr, $input:expr, $actor:expr, $body:ident) => {{
        match &$db.pool {
            DbPool::Sqlite(_, Some(tenant)) => {
                let owned: TableSchema = $table.clone();
                let input = $input;
                let actor: Actor = $actor;
                tenant
                    .writer
                    .write(move |tx: &mut SqliteConnection| -> Job<'_, _> {
                        Box::pin(async move { $body!(tx, owned, input, actor, Dialect::Sqlite) })
                    })
                    .await
            }
            DbPool::Sqlite(pool, None) => {
                let mut tx = pool.begin_write().await?;
                let out = $body!(tx, $table, $input, $actor, Dialect::Sqlite)?;
                tx.commit().await?;
                Ok(out)
            }
            DbPool::Postgres(pool) => {
                let (mut tx, deferred) = crate::durability::begin_record_write(pool).await?;
                let out = $body!(tx, $table, $input, $actor, Dialect::Postgres)?;
                tx.commit().await?;
                if let Some(pending) = deferred {
                    pending.unflushed_on(pool);
                }
                Ok(out)
            }
        }
    }};
}

/// A write job's future, borrowing the writer's connection.
type Job<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

macro_rules! create_body {
    ($tx:ident, $table:expr, $input:expr, $actor:expr, $dialect:expr) => {{
        let tx = &mut *$tx;
        let table: &TableSchema = &$table;
        let mut new: NewRecords = $input;
        // The rows and statements carry their creator already.
        let _: Actor = $actor;
        let dialect: Dialect = $dialect;
        let count = new.rows.len() as i64;
        check_schema_version!(tx, table, dialect);
        check_references!(tx, table, new.rows.iter().map(|r| &r.cells));
        // Auto numbers are the one part that needs the transaction.
        let numbered: Vec<usize> = new.numbered_fields().collect();
        for position in numbered {
            let Some(field) = table.fields.get(position) else {
                continue;
            };
            let first: i64 = sqlx::query_scalar(
                "UPDATE data_fields SET next_number = next_number + $1 WHERE id = $2 \
                     RETURNING next_number - $1",
            )
            .bind(count)
            .bind(field.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            new.number(position, first);
        }
        run_statements!(tx, std::mem::take(&mut new.inserts), unique_refused(table));
        let rows = std::mem::take(&mut new.rows);
        write_links!(tx, table, rows.iter().map(|r| (&r.id.0, &r.cells)), false);
        run_statements!(tx, std::mem::take(&mut new.revisions));
        Ok::<_, StoreError>(rows)
    }};
}

macro_rules! update_body {
    ($tx:ident, $table:expr, $input:expr, $actor:expr, $dialect:expr) => {{
        let tx = &mut *$tx;
        let table: &TableSchema = &$table;
        let (changes, scope, sealer): (Vec<RecordChange>, Option<Predicate>, Option<Sealer>) =
            $input;
        let sealer = sealer.as_ref();
        let actor: Actor = $actor;
        let dialect: Dialect = $dialect;
        let physical = ident(&physical_table(table.id))?;
        let at = now();
        let ids: Vec<i64> = changes.iter().map(|c| c.id.0).collect();
        check_schema_version!(tx, table, dialect);
        let current = current_rows!(tx, table, &ids, scope.as_ref(), dialect, sealer);
        check_versions(&current, changes.iter().map(|c| (c.id, c.expected_version)))?;
        let cell_sets: Vec<&Vec<(FieldId, Cell)>> = changes.iter().map(|c| &c.cells).collect();
        check_references!(tx, table, cell_sets.iter().copied());
        let mut revisions = Vec::new();
        let mut link_writes: Vec<(i64, Vec<(FieldId, Cell)>)> = Vec::new();
        // The rows as they are stored, kept up to date here rather than read
        // back (the writer is the tenant's bottleneck, and a read is a round
        // trip); a second change of one record in a batch is compared with
        // the first change's result.
        let mut after: HashMap<i64, RecordRow> = current;
        for change in &changes {
            let before = &after[&change.id.0];
            let version = before.version;
            let mut diff = Vec::new();
            let mut params = Params::on(&*tx);
            let mut sets = Vec::new();
            let mut links = Vec::new();
            for (field_id, cell) in &change.cells {
                let Some(field) = table.field(*field_id) else {
                    continue;
                };
                let old = cell_json(&before.cells, *field_id);
                let new = cell.to_json();
                if old == new {
                    continue;
                }
                diff.push((*field_id, old, new));
                if field.kind.has_column() {
                    let values = stored_params(field, change.id.0, cell, sealer)?;
                    for (column, value) in stored_columns(field)?.into_iter().zip(values) {
                        sets.push(format!("{column} = {}", params.push(value)));
                    }
                } else {
                    links.push((*field_id, cell.clone()));
                }
            }
            if diff.is_empty() {
                continue;
            }
            let next = version + 1;
            sets.push(format!("version = {}", params.push(Param::Int(Some(next)))));
            sets.push(format!(
                "updated_at = {}",
                params.push(Param::DateTime(Some(at)))
            ));
            sets.push(format!(
                "updated_by = {}",
                params.push(Param::Text(actor.text()))
            ));
            let id = params.push(Param::Int(Some(change.id.0)));
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {physical} SET {} WHERE id = {id}",
                sets.join(", ")
            )))
            .bind_params(params.0)
            .execute(&mut *tx)
            .await
            .map_err(unique_refused(table))?;
            if let Some(row) = after.get_mut(&change.id.0) {
                for (field_id, cell) in &change.cells {
                    if diff.iter().any(|(changed, _, _)| changed == field_id)
                        && let Some(slot) = row.cells.iter_mut().find(|(id, _)| id == field_id)
                    {
                        slot.1 = cell.clone();
                    }
                }
                row.version = next;
                row.updated_at = at;
                row.updated_by = actor.text();
            }
            if !links.is_empty() {
                link_writes.push((change.id.0, links));
            }
            let (diff, sealed_key) = seal_changes(table, sealer, change.id.0, next, diff)?;
            revisions.push((
                change.id.0,
                next,
                "update",
                actor.text(),
                at.timestamp_millis(),
                changes_json(&diff),
                sealed_key,
            ));
        }
        write_links!(tx, table, link_writes.iter().map(|(id, c)| (id, c)), true);
        insert_revisions!(tx, table.id, revisions);
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(row) = after.remove(id) {
                rows.push(row);
            }
        }
        Ok::<_, StoreError>(rows)
    }};
}

macro_rules! delete_body {
    ($tx:ident, $table:expr, $input:expr, $actor:expr, $dialect:expr) => {{
        let tx = &mut *$tx;
        let table: &TableSchema = &$table;
        let (deletions, scope, sealer): (Vec<RecordDeletion>, Option<Predicate>, Option<Sealer>) =
            $input;
        let sealer = sealer.as_ref();
        let actor: Actor = $actor;
        let physical = ident(&physical_table(table.id))?;
        let at = now();
        let ids: Vec<i64> = deletions.iter().map(|d| d.id.0).collect();
        check_schema_version!(tx, table, $dialect);
        let current = current_rows!(tx, table, &ids, scope.as_ref(), $dialect, sealer);
        check_versions(
            &current,
            deletions.iter().map(|d| (d.id, d.expected_version)),
        )?;
        let inbound = inbound_links!(tx, table.id);
        let mut revisions = Vec::new();
        // The ids in the order given, once each; and as a set, for the
        // links between records of the batch.
        let mut gone: Vec<i64> = Vec::new();
        let mut deleting: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for id in &ids {
            if !deleting.insert(*id) {
                continue;
            }
            gone.push(*id);
            let before = &current[id];
            let diff: Vec<_> = before
                .cells
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(f, c)| (*f, c.to_json(), Json::Null))
                .collect();
            let (diff, sealed_key) = seal_changes(table, sealer, *id, before.version + 1, diff)?;
            revisions.push((
                *id,
                before.version + 1,
                "delete",
                actor.text(),
                at.timestamp_millis(),
                changes_json(&diff),
                sealed_key,
            ));
        }
        for chunk in gone.chunks(500) {
            let mut params = Params::on(&*tx);
            let list: Vec<String> = chunk
                .iter()
                .map(|id| params.push(Param::Int(Some(*id))))
                .collect();
            let list = list.join(", ");
            unlink_inbound!(tx, table, &inbound, chunk, &deleting, actor, at);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {physical} WHERE id IN ({list})"
            )))
            .bind_params(params.0)
            .execute(&mut *tx)
            .await?;
        }
        insert_revisions!(tx, table.id, revisions);
        Ok::<_, StoreError>(())
    }};
}

impl TenantDb {
    /// A write refused for a changed schema means the cached one is stale.
    fn forget_schema_if_stale<T>(&self, result: &Result<T, StoreError>) {
        if matches!(
            result,
            Err(StoreError::Conflict(_)) | Err(StoreError::NotFound("table"))
        ) {
            self.schema_changed();
        }
    }

    /// Creates records in one transaction and returns them as stored.
    pub async fn create_records(
        &self,
        access: &TableAccess<ops::Create>,
        writes: Vec<RecordWrite>,
        actor: Actor,
    ) -> Result<Vec<RecordRow>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let table = access.full_schema();
        let input = self.prepare_new_records(table, writes, actor).await?;
        let result = write_through!(self, table, input, actor, create_body);
        self.forget_schema_if_stale(&result);
        result
    }

    /// Applies changes in one transaction; a record already at a newer
    /// version than a change expects, or outside the rows the decision
    /// lets its holder update, fails the whole batch.
    pub async fn update_records(
        &self,
        access: &TableAccess<ops::Update>,
        changes: Vec<RecordChange>,
        actor: Actor,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let table = access.full_schema();
        let input = (changes, access.rows().cloned(), self.sealer(table).await?);
        let result = write_through!(self, table, input, actor, update_body);
        self.forget_schema_if_stale(&result);
        self.noticed(result).await
    }

    /// Deletes records in one transaction. Links to them from other
    /// records are cleared; their history stays readable.
    pub async fn delete_records(
        &self,
        access: &TableAccess<ops::Delete>,
        deletions: Vec<RecordDeletion>,
        actor: Actor,
    ) -> Result<(), StoreError> {
        let table = access.full_schema();
        let input = (deletions, access.rows().cloned(), self.sealer(table).await?);
        let result = write_through!(self, table, input, actor, delete_body);
        self.forget_schema_if_stale(&result);
        self.noticed(result).await
    }
}

// The streamed import and the look-ups its dry run needs; a file of its
// own to keep this one short, inside this module to reuse the bodies.
#[path = "record_import.rs"]
mod import;
