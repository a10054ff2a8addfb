//! Records about to be created, made ready before they reach the writer.
//!
//! On SQLite every write of a tenant goes through its one writer, so the
//! writer's time per record bounds how fast a tenant can be loaded. What
//! does not need the transaction is done on the request's own task
//! instead: the ids are handed out here, the stored rows are built and
//! their encrypted cells sealed (the AAD names the record id, which is why
//! the ids come first). The writer then checks the schema version and
//! references, numbers auto-number fields and inserts the rows and their
//! first revisions (stored without values: see `history.rs`).
//!
//! **Ids.** PostgreSQL's sequence hands out ids outside the transaction
//! (as it always does: a rolled-back insert leaves a gap). SQLite has no
//! sequence to ask outside a write, so this process keeps the last id it
//! handed out per table ([`RecordIds`], one for the whole store, so a
//! tenant database opened anew after an eviction continues where the
//! previous handle stopped). It starts from the highest id the table ever
//! used (`sqlite_sequence`, kept because the tables are `AUTOINCREMENT`,
//! and the rows themselves); only this process writes a tenant's SQLite
//! file, and every insert of a new record takes its id from here, so no
//! id is handed out twice. A failed write leaves a gap, as on PostgreSQL.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use citadel_core::data::table::physical_table;
use citadel_core::data::{Cell, FieldDef, FieldKind, TableSchema};
use citadel_core::{FieldId, RecordId, TableId};

use super::apps::dialect;
use super::history::CREATE;
use super::records::{MAX_PARAMS, now, revision_statements};
use super::rows::{cell_param, stored_columns};
use super::sealing::CreatedCell;
use super::sql::{Dialect, Param, Params, Statement, ident};
use super::{Actor, RecordRow, RecordWrite};
use crate::StoreError;
use crate::db::DbPool;
use crate::tenant_db::TenantDb;

/// The last record id handed out for each SQLite table of this process.
#[derive(Debug, Default)]
pub struct RecordIds(Mutex<HashMap<TableId, i64>>);

impl RecordIds {
    /// `count` ids after the last one handed out, if `table` has had any.
    fn take(&self, table: TableId, count: i64) -> Option<i64> {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let last = last.get_mut(&table)?;
        let first = *last + 1;
        *last += count;
        Some(first)
    }

    /// `count` ids after `highest_used`, the table's highest id as stored,
    /// unless another task started the table meanwhile: then after its ids.
    fn start(&self, table: TableId, highest_used: i64, count: i64) -> i64 {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let last = last.entry(table).or_insert(highest_used);
        let first = *last + 1;
        *last += count;
        first
    }
}

/// A batch of records ready for the writer: ids given, encrypted cells
/// sealed, and the statements that insert the rows and their first
/// revisions built, all but the auto numbers.
pub(crate) struct NewRecords {
    /// As they will be stored; an auto-number field's cell is `Null` until
    /// the writer numbers it.
    pub(crate) rows: Vec<RecordRow>,
    /// The INSERTs of the rows, an auto-number field's parameters NULL.
    pub(crate) inserts: Vec<Statement>,
    /// Where each auto-number field's values go.
    numbered: Vec<NumberedField>,
    /// The rows' first revisions.
    pub(crate) revisions: Vec<Statement>,
}

/// An auto-number field of a batch: its position among the table's
/// fields, and row by row the statement and parameter its value binds to.
struct NumberedField {
    position: usize,
    slots: Vec<(usize, usize)>,
}

impl NewRecords {
    /// The positions (in the table's fields) of the auto-number fields the
    /// writer must number.
    pub(crate) fn numbered_fields(&self) -> impl Iterator<Item = usize> + '_ {
        self.numbered.iter().map(|f| f.position)
    }

    /// Gives the auto-number field at `position` the numbers from `first`
    /// on, row by row, in the rows and in the statements that insert them.
    pub(crate) fn number(&mut self, position: usize, first: i64) {
        let Some(field) = self.numbered.iter().find(|f| f.position == position) else {
            return;
        };
        for (n, (row, (statement, param))) in self.rows.iter_mut().zip(&field.slots).enumerate() {
            let number = first + n as i64;
            if let Some((_, cell)) = row.cells.get_mut(position) {
                *cell = Cell::Integer(number);
            }
            if let Some(slot) = self
                .inserts
                .get_mut(*statement)
                .and_then(|s| s.params.get_mut(*param))
            {
                *slot = Param::Int(Some(number));
            }
        }
    }
}

/// Where new records' ids come from: a pool, or the connection of the
/// transaction the records go into (an import, which must not wait for a
/// second connection while it holds one).
pub(crate) trait IdSource<'c> {
    fn record_ids(
        self,
        ids: &RecordIds,
        table: TableId,
        count: i64,
    ) -> impl std::future::Future<Output = Result<Vec<i64>, StoreError>> + Send;
}

impl<'c, E: sqlx::Executor<'c, Database = sqlx::Sqlite>> IdSource<'c> for SqliteSource<E> {
    async fn record_ids(
        self,
        ids: &RecordIds,
        table: TableId,
        count: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let first = match ids.take(table, count) {
            Some(first) => first,
            None => {
                let physical_name = physical_table(table);
                let physical = ident(&physical_name)?;
                let highest: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = $1), 0), \
                         COALESCE((SELECT MAX(id) FROM {physical}), 0))"
                )))
                .bind(&physical_name)
                .fetch_one(self.0)
                .await?;
                ids.start(table, highest, count)
            }
        };
        Ok((first..first + count).collect())
    }
}

impl<'c, E: sqlx::Executor<'c, Database = sqlx::Postgres>> IdSource<'c> for PostgresSource<E> {
    async fn record_ids(
        self,
        _: &RecordIds,
        table: TableId,
        count: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
        )
        .bind(physical_table(table))
        .bind(count)
        .fetch_all(self.0)
        .await?)
    }
}

/// A transaction's connection as the [`IdSource`] of its records.
pub(crate) trait OwnIds {
    fn own_ids(&mut self) -> impl IdSource<'_> + '_;
}

impl OwnIds for sqlx::SqliteConnection {
    fn own_ids(&mut self) -> impl IdSource<'_> + '_ {
        SqliteSource(self)
    }
}

impl OwnIds for sqlx::PgConnection {
    fn own_ids(&mut self) -> impl IdSource<'_> + '_ {
        PostgresSource(self)
    }
}

/// An SQLite pool or connection as an [`IdSource`].
pub(crate) struct SqliteSource<E>(pub(crate) E);
/// A PostgreSQL pool or connection as an [`IdSource`].
pub(crate) struct PostgresSource<E>(pub(crate) E);

fn id_count(count: usize) -> Result<i64, StoreError> {
    i64::try_from(count).map_err(|_| StoreError::Conflict("too many records in one write".into()))
}

impl TenantDb {
    /// Ids for `count` new records of `table` from the pool (see the
    /// module's notes).
    pub(crate) async fn new_record_ids(
        &self,
        table: TableId,
        count: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let count = id_count(count)?;
        match &self.pool {
            DbPool::Sqlite(pool, _) => {
                SqliteSource(pool)
                    .record_ids(&self.record_ids, table, count)
                    .await
            }
            DbPool::Postgres(pool) => {
                PostgresSource(pool)
                    .record_ids(&self.record_ids, table, count)
                    .await
            }
        }
    }

    /// Makes `writes` ready for the writer, their ids taken from the pool.
    pub(crate) async fn prepare_new_records(
        &self,
        table: &TableSchema,
        writes: Vec<RecordWrite>,
        actor: Actor,
    ) -> Result<NewRecords, StoreError> {
        let ids = self.new_record_ids(table.id, writes.len()).await?;
        self.prepare_with_ids(table, writes, ids, actor).await
    }

    /// Ids for `count` new records of `table` from `source`.
    pub(crate) async fn record_ids_from<'c>(
        &self,
        source: impl IdSource<'c>,
        table: TableId,
        count: usize,
    ) -> Result<Vec<i64>, StoreError> {
        source
            .record_ids(&self.record_ids, table, id_count(count)?)
            .await
    }

    /// Makes `writes` ready for the writer with the ids `ids`: rows,
    /// sealed cells and the statements that insert them.
    pub(crate) async fn prepare_with_ids(
        &self,
        table: &TableSchema,
        writes: Vec<RecordWrite>,
        ids: Vec<i64>,
        actor: Actor,
    ) -> Result<NewRecords, StoreError> {
        let sealer = self.sealer(table).await?;
        let at = now();
        let actor = actor.text();
        let rows: Vec<RecordRow> = writes
            .into_iter()
            .zip(&ids)
            .map(|(write, id)| RecordRow {
                id: RecordId(*id),
                version: 1,
                created_at: at,
                created_by: actor.clone(),
                updated_at: at,
                updated_by: actor.clone(),
                cells: stored_cells(table, write),
            })
            .collect();
        let encrypted: Vec<&FieldDef> = table
            .fields
            .iter()
            .filter(|f| f.options.encrypted && f.kind.has_column())
            .collect();
        let sealed = match &sealer {
            Some(sealer) if !encrypted.is_empty() => {
                let cells: Vec<(i64, &[(FieldId, Cell)])> =
                    rows.iter().map(|r| (r.id.0, r.cells.as_slice())).collect();
                sealer.seal_created(&encrypted, &cells)?
            }
            _ => Vec::new(),
        };
        let dialect = dialect(&self.pool);
        let (inserts, numbered) = row_inserts(table, &rows, sealed, at, dialect)?;
        // Stored without values: history.rs fills them in when read.
        let revisions = rows
            .iter()
            .map(|row| {
                (
                    row.id.0,
                    1,
                    CREATE,
                    row.created_by.clone(),
                    at.timestamp_millis(),
                    "{}".to_owned(),
                    None,
                )
            })
            .collect();
        let revisions =
            revision_statements(table.id, revisions, Some(table.schema_version), dialect);
        Ok(NewRecords {
            rows,
            inserts,
            numbered,
            revisions,
        })
    }
}

/// The INSERT statements of `rows` (as many rows to a statement as its
/// parameters allow), with `sealed` row by row holding each encrypted
/// field's stored cell; and where the auto numbers go.
fn row_inserts(
    table: &TableSchema,
    rows: &[RecordRow],
    sealed: Vec<Option<CreatedCell>>,
    at: DateTime<Utc>,
    dialect: Dialect,
) -> Result<(Vec<Statement>, Vec<NumberedField>), StoreError> {
    let physical = ident(&physical_table(table.id))?;
    // With each field's position among the table's fields: a row's cells
    // are in that order (see `stored_cells`).
    let columns: Vec<(usize, &FieldDef)> = table
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind.has_column())
        .collect();
    let mut head = format!(
        "INSERT INTO {physical} (id, version, created_at, created_by, updated_at, updated_by"
    );
    let mut per_row = 6;
    for (_, field) in &columns {
        for column in stored_columns(field)? {
            head.push_str(", ");
            head.push_str(&column);
            per_row += 1;
        }
    }
    head.push_str(") VALUES ");
    let mut numbered: Vec<NumberedField> = columns
        .iter()
        .filter(|(_, f)| matches!(f.kind, FieldKind::AutoNumber))
        .map(|(position, _)| NumberedField {
            position: *position,
            slots: Vec::with_capacity(rows.len()),
        })
        .collect();
    let chunk_rows = (MAX_PARAMS / per_row).clamp(1, 500);
    let mut sealed = sealed.into_iter();
    let mut statements = Vec::with_capacity(rows.len().div_ceil(chunk_rows));
    for chunk in rows.chunks(chunk_rows) {
        let mut params = Params::new(dialect);
        params.0.reserve(chunk.len() * per_row);
        let mut sql = String::with_capacity(head.len() + chunk.len() * per_row * 3);
        sql.push_str(&head);
        for (offset, row) in chunk.iter().enumerate() {
            sql.push_str(if offset == 0 { "(" } else { ", (" });
            let system = [
                Param::Int(Some(row.id.0)),
                Param::Int(Some(1)),
                Param::DateTime(Some(at)),
                Param::Text(row.created_by.clone()),
                Param::DateTime(Some(at)),
                Param::Text(row.updated_by.clone()),
            ];
            params.place_all(system, &mut sql);
            for (position, field) in &columns {
                sql.push_str(", ");
                if field.options.encrypted {
                    let (stored, blind) = sealed
                        .next()
                        .flatten()
                        .map_or((None, None), |c| (Some(c.sealed), Some(c.blind)));
                    params.place_all([Param::Bytes(stored), Param::Bytes(blind)], &mut sql);
                    continue;
                }
                if let Some(slots) = numbered.iter_mut().find(|f| f.position == *position) {
                    slots.slots.push((statements.len(), params.0.len()));
                }
                let cell = row.cells.get(*position).map_or(&Cell::Null, |(_, c)| c);
                params.place(cell_param(cell, &field.kind), &mut sql);
            }
            sql.push(')');
        }
        statements.push(Statement {
            sql,
            params: params.0,
        });
    }
    Ok((statements, numbered))
}

/// A new record's cell for each field of `table`, in the table's order:
/// the value written, or none (auto numbers are numbered by the writer).
fn stored_cells(table: &TableSchema, mut write: RecordWrite) -> Vec<(FieldId, Cell)> {
    table
        .fields
        .iter()
        .map(|f| {
            let given = write
                .cells
                .iter_mut()
                .find(|(id, _)| *id == f.id)
                .filter(|_| !matches!(f.kind, FieldKind::AutoNumber))
                .map(|(_, c)| std::mem::replace(c, Cell::Null));
            let cell = given.unwrap_or_else(|| {
                if f.kind.has_column() {
                    Cell::Null
                } else {
                    Cell::Links(Vec::new())
                }
            });
            (f.id, cell)
        })
        .collect()
}
