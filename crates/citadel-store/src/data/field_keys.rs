//! Encrypted field values under the tenant's data key versions: how many
//! each version seals (for key status), and moving them to the active
//! version (for the re-encryption after a rotation). Tables in the recycle
//! bin count: their records come back when they are restored.

use std::collections::BTreeMap;

use citadel_core::data::FieldDef;
use citadel_core::data::table::{field_column, physical_table};
use citadel_core::{FieldId, TableId};
use citadel_crypto::suite::sealed_header;
use sqlx::Row;

use super::apps::dialect;
use super::retype::reseal_history;
use super::sealing::{Sealer, blind_column};
use super::sql::{Dialect, Param, ident};
use crate::StoreError;
use crate::db::{BeginWrite, on_pool, write_on_pool};
use crate::tenant_db::TenantDb;

/// Records re-encrypted per transaction.
const BATCH: i64 = 500;

impl TenantDb {
    /// Every encrypted field with a column, of every table not purged.
    async fn encrypted_fields(&self) -> Result<Vec<(TableId, FieldDef)>, StoreError> {
        let rows: Vec<(String, String, String, i64, i64)> = on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT table_id, id, definition, position, column_generation FROM data_fields",
            )
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect::<Result<_, _>>()?
        });
        let mut fields = Vec::new();
        for (table, id, definition, position, generation) in rows {
            let id = FieldId::parse(&id)?;
            let spec: serde_json::Value = serde_json::from_str(&definition)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let column = field_column(id, u32::try_from(generation).unwrap_or(0));
            let field = FieldDef::from_spec_json(id, &spec, position, column)?;
            if field.options.encrypted && field.kind.has_column() {
                fields.push((TableId::parse(&table)?, field));
            }
        }
        Ok(fields)
    }

    /// How many stored values (field values, and revisions holding sealed
    /// values) each data key version seals.
    pub(crate) async fn sealed_field_counts(&self) -> Result<BTreeMap<u32, u64>, StoreError> {
        let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
        let header = match dialect(&self.pool) {
            Dialect::Sqlite => "substr",
            Dialect::Postgres => "substring",
        };
        for (table, field) in self.encrypted_fields().await? {
            let physical = ident(&physical_table(table))?;
            let column = ident(&field.column)?;
            // Bytes 2–5 of a sealed value are its key version.
            let sql = format!(
                "SELECT {header}({column}, 2, 4), COUNT(*) FROM {physical} \
                 WHERE {column} IS NOT NULL GROUP BY 1"
            );
            let found: Vec<(Vec<u8>, i64)> = on_pool!(&self.pool, |p| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(p)
                    .await?
                    .iter()
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, _>>()?
            });
            for (version, count) in found {
                let version = <[u8; 4]>::try_from(version.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("a sealed value is cut short".into()))?;
                *counts.entry(version).or_default() += count.max(0) as u64;
            }
        }
        let revisions: Vec<(i64, i64)> = on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT sealed_key, COUNT(*) FROM record_revisions \
                 WHERE sealed_key IS NOT NULL GROUP BY sealed_key",
            )
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, _>>()?
        });
        for (version, count) in revisions {
            let version = u32::try_from(version)
                .map_err(|_| StoreError::Corrupt("a revision names no key version".into()))?;
            *counts.entry(version).or_default() += count.max(0) as u64;
        }
        Ok(counts)
    }

    /// Seals every encrypted field value and sealed revision that is under
    /// an older data key version again under the active one. Each write is
    /// guarded by the value it replaces, so a concurrent edit wins. Returns
    /// how many were moved.
    pub(crate) async fn reencrypt_fields(&self) -> Result<u64, StoreError> {
        let keyring = self.keyring().await?;
        let active = keyring.active_data_version();
        let mut moved = 0;
        for (table, field) in self.encrypted_fields().await? {
            let sealer = Sealer::new(std::sync::Arc::clone(&keyring), table);
            moved += self.reencrypt_column(&sealer, table, &field).await?;
        }
        let tables: Vec<String> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "SELECT DISTINCT table_id FROM record_revisions \
                 WHERE sealed_key IS NOT NULL AND sealed_key <> $1",
            )
            .bind(i64::from(active))
            .fetch_all(p)
            .await?
        });
        for table in tables {
            let table = TableId::parse(&table)?;
            let sealer = Sealer::new(std::sync::Arc::clone(&keyring), table);
            let result: Result<u64, StoreError> = write_on_pool!(&self.pool, |p| async {
                let mut tx = p.begin_write().await?;
                let moved = reseal_history!(tx, &sealer, table, None);
                tx.commit().await?;
                Ok(moved)
            }
            .await);
            moved += self.noticed(result).await?;
        }
        Ok(moved)
    }

    async fn reencrypt_column(
        &self,
        sealer: &Sealer,
        table: TableId,
        field: &FieldDef,
    ) -> Result<u64, StoreError> {
        let physical = ident(&physical_table(table))?;
        let column = ident(&field.column)?;
        let blind = ident(&blind_column(&field.column))?;
        let active = sealer.active_version();
        let select = format!(
            "SELECT id, {column} FROM {physical} WHERE id > $1 AND {column} IS NOT NULL \
             ORDER BY id LIMIT $2"
        );
        let update = format!(
            "UPDATE {physical} SET {column} = $1, {blind} = $2 WHERE id = $3 AND {column} = $4"
        );
        let mut after = 0i64;
        let mut moved = 0;
        loop {
            let rows: Vec<(i64, Vec<u8>)> = on_pool!(&self.pool, |p| {
                sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(p)
                    .await?
                    .iter()
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, _>>()?
            });
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = *last;
            let mut resealed = Vec::new();
            for (id, sealed) in &rows {
                if sealed_header(sealed).is_ok_and(|(_, version)| version == active) {
                    continue;
                }
                // A value that does not open stays where it is, under its
                // version (which then is not retired), and is reported; the
                // rest of the tenant's values still move.
                let cell = match sealer.open(field, *id, sealed) {
                    Ok(cell) => cell,
                    Err(e @ StoreError::SealBroken { .. }) => {
                        let _ = self.noticed::<()>(Err(e)).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (new, index) = sealer.seal(field, *id, &cell)?;
                resealed.push((*id, new, index, sealed.clone()));
            }
            if resealed.is_empty() {
                continue;
            }
            moved += write_on_pool!(&self.pool, |p| async {
                let mut tx = p.begin_write().await?;
                let mut count = 0;
                for (id, new, index, old) in &resealed {
                    let (Param::Bytes(new), Param::Bytes(index)) = (new, index) else {
                        continue;
                    };
                    count += sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(new)
                        .bind(index)
                        .bind(id)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok::<_, StoreError>(count)
            }
            .await)?;
        }
        Ok(moved)
    }
}
