//! Changing a field's type: every stored value is converted by the core's
//! rules into a new generation of the column, inside one transaction, or
//! nothing changes and the records that would not convert are listed.

use chrono::FixedOffset;
use citadel_core::data::convert::{can_convert, convert};
use citadel_core::data::table::{field_column, physical_table};
use citadel_core::data::{FieldDef, TableSchema};
use citadel_core::{RecordId, TableId};

use super::apps::dialect;
use super::rows::{ReadRow, cell_param};
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
        let report = write_on_pool!(&self.pool, |p| async {
            let mut tx = p.begin_write().await?;
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
                let cell = row.cell(1, &old.kind)?;
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
            let ty = ColumnType::of_kind(&target.kind).ddl(dialect);
            let field = target.id.simple();
            let mut ddl = vec![
                format!("DROP INDEX IF EXISTS {}", ident(&format!("u_{field}"))?),
                format!("DROP INDEX IF EXISTS {}", ident(&format!("i_{field}"))?),
                format!("ALTER TABLE {physical} ADD COLUMN {new_column} {ty}"),
            ];
            for statement in ddl.drain(..) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            let update = format!("UPDATE {physical} SET {new_column} = $1 WHERE id = $2");
            for (id, cell) in &converted {
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind_params(vec![cell_param(cell, &target.kind), Param::Int(Some(id.0))])
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {physical} DROP COLUMN {old_column}"
            )))
            .execute(&mut *tx)
            .await?;
            if target.options.unique {
                ddl.push(format!(
                    "CREATE UNIQUE INDEX {} ON {physical} ({})",
                    ident(&format!("u_{field}"))?,
                    index_key(&new_column, dialect)
                ));
            } else if target.options.filterable {
                ddl.push(format!(
                    "CREATE INDEX {} ON {physical} ({})",
                    ident(&format!("i_{field}"))?,
                    index_key(&new_column, dialect)
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
            sqlx::query(
                "UPDATE data_tables SET schema_version = schema_version + 1, updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(now_millis())
            .bind(table.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            report.applied = true;
            Ok::<_, StoreError>(report)
        }
        .await)?;
        let schema = self.fresh_schema(table).await?;
        Ok((report, schema))
    }
}
