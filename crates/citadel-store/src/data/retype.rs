//! Changing a field's type: every stored value is converted by the core's
//! rules into a new generation of the column, inside one transaction, or
//! nothing changes and the records that would not convert are listed.

use chrono::FixedOffset;
use citadel_core::data::convert::{can_convert, convert};
use citadel_core::data::table::{field_column, physical_table};
use citadel_core::data::{FieldDef, TableSchema};
use citadel_core::{RecordId, TableId};
use sqlx::Row;

use super::apps::dialect;
use super::rows::{ReadRow, stored_columns, stored_params};
use super::sealing::{Sealer, blind_column};
use super::sql::{BindParams, ColumnType, Param, ident, index_key};
use crate::StoreError;
use crate::db::{BeginWrite, now_millis, write_on_pool};
use crate::tenant_db::TenantDb;

/// Records listed in a report at most; the count covers all.
const LISTED: usize = 1000;

/// What a type change did, or would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeChangeReport {
    /// Records of the table.
    pub records: u64,
    /// Records whose value would not convert, with why (the first 1,000).
    pub failures: Vec<(RecordId, String)>,
    pub failed: u64,
    /// Whether the change was made: only when asked and nothing failed.
    pub applied: bool,
}

/// Seals again, under the active data key, the sealed values in the
/// table's revisions (and with a field id, that field's plaintext ones),
/// inside the caller's transaction.
macro_rules! reseal_history {
    ($tx:expr, $sealer:expr, $table:expr, $also:expr) => {{
        let sealer: &Sealer = $sealer;
        let also: Option<citadel_core::FieldId> = $also;
        let rows =
            match also {
                Some(_) => sqlx::query(
                    "SELECT record_id, version, changes FROM record_revisions WHERE table_id = $1",
                )
                .bind($table.to_string())
                .fetch_all(&mut *$tx)
                .await?,
                None => {
                    sqlx::query(
                        "SELECT record_id, version, changes FROM record_revisions \
                     WHERE table_id = $1 AND sealed_key IS NOT NULL AND sealed_key <> $2",
                    )
                    .bind($table.to_string())
                    .bind(i64::from(sealer.active_version()))
                    .fetch_all(&mut *$tx)
                    .await?
                }
            };
        let mut moved: u64 = 0;
        for row in &rows {
            let (record, version, changes): (i64, i64, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(field) = also
                && !changes.contains(&field.to_string())
            {
                continue;
            }
            let (resealed, sealed_any) = sealer.reseal_changes(record, version, &changes, also)?;
            moved += sqlx::query(
                "UPDATE record_revisions SET changes = $1, sealed_key = $2 \
                 WHERE table_id = $3 AND record_id = $4 AND version = $5 AND changes = $6",
            )
            .bind(resealed)
            .bind(sealed_any.then(|| i64::from(sealer.active_version())))
            .bind($table.to_string())
            .bind(record)
            .bind(version)
            .bind(&changes)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        }
        moved
    }};
}
pub(crate) use reseal_history;

impl TenantDb {
    /// Converts `field`'s values to `target` (same id and name, the new
    /// kind and options). With `dry_run`, or when any value would not
    /// convert, nothing changes and the report lists the failures.
    pub async fn change_field_type(
        &self,
        table: TableId,
        target: FieldDef,
        dry_run: bool,
        offset: FixedOffset,
    ) -> Result<(TypeChangeReport, TableSchema), StoreError> {
        let schema = self.fresh_schema(table).await?;
        let old = schema
            .field(target.id)
            .ok_or(StoreError::NotFound("field"))?
            .clone();
        can_convert(&old.kind, &target.kind).map_err(StoreError::Invalid)?;
        if !old.kind.has_column() {
            return Err(StoreError::Invalid(citadel_core::CoreError::InvalidSchema(
                "a many-to-many link keeps its type".into(),
            )));
        }
        let generation: u32 = old
            .column
            .rsplit_once('_')
            .and_then(|(_, n)| n.parse().ok())
            .filter(|_| old.column.matches('_').count() == 2)
            .unwrap_or(0)
            + 1;
        let target = FieldDef {
            column: field_column(target.id, generation),
            position: old.position,
            ..target
        };
        let physical = ident(&physical_table(table))?;
        let old_column = ident(&old.column)?;
        let new_column = ident(&target.column)?;
        let dialect = dialect(&self.pool);
        // Turning encryption on or off is a change of storage like a type
        // change: every value is opened and/or sealed into the new column.
        let sealer = if old.options.encrypted || target.options.encrypted {
            Some(Sealer::new(self.keyring().await?, table))
        } else {
            None
        };
        let sealer = sealer.as_ref();
        let newly_sealed = target.options.encrypted && !old.options.encrypted;
        let report = write_on_pool!(&self.pool, |p| async {
            let mut tx = p.begin_write().await?;
            // First: writes that already checked the version (FOR SHARE on
            // PostgreSQL) finish before the rows are read, and later ones
            // see the new version and are refused (see check_schema_version).
            sqlx::query(
                "UPDATE data_tables SET schema_version = schema_version + 1, updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(now_millis())
            .bind(table.to_string())
            .execute(&mut *tx)
            .await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, {old_column} FROM {physical} ORDER BY id"
            )))
            .fetch_all(&mut *tx)
            .await?;
            let mut report = TypeChangeReport {
                records: rows.len() as u64,
                failures: Vec::new(),
                failed: 0,
                applied: false,
            };
            let mut converted = Vec::with_capacity(rows.len());
            for row in &rows {
                let id = RecordId(row.int(0)?.unwrap_or_default());
                let cell = row.field_cell(1, &old, id.0, sealer)?;
                match convert(&cell, &target, offset) {
                    Ok(new) => converted.push((id, new)),
                    Err(e) => {
                        report.failed += 1;
                        if report.failures.len() < LISTED {
                            report.failures.push((id, e.to_string()));
                        }
                    }
                }
            }
            if dry_run || report.failed > 0 {
                return Ok::<_, StoreError>(report);
            }
            let ty = ColumnType::of_field(&target).ddl(dialect);
            let field = target.id.simple();
            let mut ddl = vec![
                format!("DROP INDEX IF EXISTS {}", ident(&format!("u_{field}"))?),
                format!("DROP INDEX IF EXISTS {}", ident(&format!("i_{field}"))?),
                format!("ALTER TABLE {physical} ADD COLUMN {new_column} {ty}"),
            ];
            if target.options.encrypted {
                ddl.push(format!(
                    "ALTER TABLE {physical} ADD COLUMN {} {}",
                    ident(&blind_column(&target.column))?,
                    ColumnType::Bytes.ddl(dialect)
                ));
            }
            for statement in ddl.drain(..) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            let columns = stored_columns(&target)?;
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(n, c)| format!("{c} = ${}", n + 1))
                .collect();
            let update = format!(
                "UPDATE {physical} SET {} WHERE id = ${}",
                sets.join(", "),
                columns.len() + 1
            );
            for (id, cell) in &converted {
                let mut values = stored_params(&target, id.0, cell, sealer)?;
                values.push(Param::Int(Some(id.0)));
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind_params(values)
                    .execute(&mut *tx)
                    .await?;
            }
            for column in stored_columns(&old)? {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "ALTER TABLE {physical} DROP COLUMN {column}"
                )))
                .execute(&mut *tx)
                .await?;
            }
            if let (true, Some(sealer)) = (newly_sealed, sealer) {
                reseal_history!(tx, sealer, table, Some(target.id));
            }
            let indexed = match target.options.encrypted {
                true => ident(&blind_column(&target.column))?,
                false => new_column.clone(),
            };
            if target.options.unique {
                ddl.push(format!(
                    "CREATE UNIQUE INDEX {} ON {physical} ({})",
                    ident(&format!("u_{field}"))?,
                    index_key(&indexed, dialect)
                ));
            } else if target.options.filterable {
                ddl.push(format!(
                    "CREATE INDEX {} ON {physical} ({})",
                    ident(&format!("i_{field}"))?,
                    index_key(&indexed, dialect)
                ));
            }
            for statement in ddl {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(d) if d.is_unique_violation() => {
                            StoreError::Invalid(citadel_core::CoreError::InvalidField {
                                field: target.name.to_string(),
                                reason: "cannot be unique: some records share a value".into(),
                            })
                        }
                        _ => StoreError::Database(e),
                    })?;
            }
            sqlx::query(
                "UPDATE data_fields SET definition = $1, column_generation = $2, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(target.spec_json().to_string())
            .bind(i64::from(generation))
            .bind(now_millis())
            .bind(target.id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            report.applied = true;
            Ok::<_, StoreError>(report)
        }
        .await);
        let report = self.noticed(report).await?;
        if report.applied && newly_sealed {
            self.scrub_plaintext(table, &physical).await;
        }
        let schema = self.fresh_schema(table).await?;
        Ok((report, schema))
    }

    /// After a field's values were sealed, removes the plaintext copies
    /// the database keeps of what it replaced: on PostgreSQL the dropped
    /// column and the old row versions stay in the heap until the table is
    /// rewritten; on SQLite old page images stay in the WAL until it is
    /// checkpointed and truncated (pages changed in place were zeroed by
    /// `secure_delete`). The change has committed: a failure here is
    /// logged, not returned.
    async fn scrub_plaintext(&self, table: TableId, physical: &str) {
        let result: Result<(), sqlx::Error> = match &self.pool {
            crate::db::DbPool::Sqlite(pool, _) => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .map(|_| ()),
            crate::db::DbPool::Postgres(pool) => {
                async {
                    for statement in [
                        format!("VACUUM FULL {physical}"),
                        "VACUUM FULL record_revisions".to_owned(),
                    ] {
                        sqlx::query(sqlx::AssertSqlSafe(statement))
                            .execute(pool)
                            .await?;
                    }
                    Ok(())
                }
                .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(%table, error = %e, "could not scrub the plaintext a field's encryption replaced");
        }
    }
}
