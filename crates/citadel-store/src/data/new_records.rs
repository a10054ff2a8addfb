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

use super::records::now;
use super::sealing::CreatedCell;
use super::sql::ident;
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
/// sealed, all but the auto numbers.
pub(crate) struct NewRecords {
    /// As they will be stored; an auto-number field's cell is `Null` until
    /// the writer numbers it.
    pub(crate) rows: Vec<RecordRow>,
    /// How many encrypted fields with a column the table has.
    pub(crate) encrypted_per_row: usize,
    /// Row by row, each encrypted field's stored cell (`None`: empty).
    pub(crate) sealed: Vec<Option<CreatedCell>>,
    pub(crate) at: DateTime<Utc>,
}

impl NewRecords {
    /// Row `n`'s stored cell of its `k`-th encrypted field, taken out.
    pub(crate) fn take_sealed(&mut self, n: usize, k: usize) -> Option<CreatedCell> {
        let at = n * self.encrypted_per_row + k;
        self.sealed.get_mut(at).and_then(Option::take)
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

    /// Makes `writes` ready for the writer with the ids `ids`: rows and
    /// sealed cells.
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
        Ok(NewRecords {
            rows,
            encrypted_per_row: encrypted.len(),
            sealed,
            at,
        })
    }
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
