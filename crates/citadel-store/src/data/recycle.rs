//! The recycle bin (回收站): deleted apps and tables stay restorable for
//! [`RECYCLE_DAYS`], then [`TenantDb::purge_recycle_bin`] drops their
//! physical tables and metadata for good.

use citadel_core::data::SchemaName;
use citadel_core::data::table::{junction_table, physical_table};
use citadel_core::{AppId, FieldId, TableId};
use sqlx::Row;

use super::super::sql::{Dialect, ident};
use super::super::{Actor, AppRecord, Deleted, RECYCLE_DAYS, TableRecord};
use super::{APP_COLUMNS, LIVE_TABLE, TABLE_COLUMNS, dialect, taken};
use crate::StoreError;
use crate::db::{BeginWrite, now_millis, on_pool, write_on_pool};
use crate::tenant_db::TenantDb;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Live link fields outside `tables` that point into them, as
/// "table.field" names: deleting their target would leave them dangling.
macro_rules! links_into {
    ($tx:expr, $tables:expr) => {{
        let tables: &[TableId] = $tables;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.id AS table_id, t.name AS table_name, f.id AS field_id, f.definition \
             FROM data_fields f JOIN data_tables t ON t.id = f.table_id WHERE {LIVE_TABLE}"
        )))
        .fetch_all(&mut *$tx)
        .await?;
        let mut found = Vec::new();
        for row in &rows {
            let source = TableId::parse(&row.try_get::<String, _>("table_id")?)?;
            if tables.contains(&source) {
                continue;
            }
            let spec: serde_json::Value =
                serde_json::from_str(&row.try_get::<String, _>("definition")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let points_in = spec["type"] == "link"
                && spec["table"]
                    .as_str()
                    .and_then(|t| TableId::parse(t).ok())
                    .is_some_and(|t| tables.contains(&t));
            if points_in {
                found.push(format!(
                    "{}.{}",
                    row.try_get::<String, _>("table_name")?,
                    spec["name"].as_str().unwrap_or("?")
                ));
            }
        }
        found
    }};
}

fn linked(found: Vec<String>) -> StoreError {
    StoreError::Conflict(format!(
        "other tables link here ({}): delete or change those fields first",
        found.join(", ")
    ))
}

impl TenantDb {
    /// Moves an app and its tables to the recycle bin.
    pub async fn delete_app(&self, id: AppId, actor: Actor) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM data_tables WHERE app_id = $1 AND deleted_at IS NULL",
            )
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
            let tables = tables
                .iter()
                .map(|t| TableId::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            let found = links_into!(tx, &tables);
            if !found.is_empty() {
                return Err(linked(found));
            }
            let changed = sqlx::query(
                "UPDATE apps SET deleted_at = $1, deleted_by = $2 WHERE id = $3 \
                 AND deleted_at IS NULL",
            )
            .bind(now_millis())
            .bind(actor.text())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound("app"));
            }
            tx.commit().await?;
            self.schema_changed();
            Ok(())
        })
    }

    pub async fn restore_app(&self, id: AppId) -> Result<AppRecord, StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let name: String = sqlx::query_scalar(
                "SELECT name FROM apps WHERE id = $1 AND deleted_at IS NOT NULL",
            )
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("deleted app"))?;
            let name = SchemaName::parse(&name)?;
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM apps WHERE deleted_at IS NULL")
                    .fetch_all(&mut *tx)
                    .await?;
            if names.iter().any(|n| name.same_as(n)) {
                return Err(taken("an app", &name));
            }
            sqlx::query("UPDATE apps SET deleted_at = NULL, deleted_by = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.schema_changed();
        self.app(id).await
    }

    /// Moves a table to the recycle bin, unless live tables link to it.
    pub async fn delete_table(&self, id: TableId, actor: Actor) -> Result<(), StoreError> {
        self.fresh_schema(id).await?;
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let found = links_into!(tx, &[id]);
            if !found.is_empty() {
                return Err(linked(found));
            }
            sqlx::query(
                "UPDATE data_tables SET deleted_at = $1, deleted_by = $2, \
                 schema_version = schema_version + 1 WHERE id = $3",
            )
            .bind(now_millis())
            .bind(actor.text())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.schema_changed();
            Ok(())
        })
    }

    pub async fn restore_table(&self, id: TableId) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let row = sqlx::query(
                "SELECT t.app_id, t.name, a.deleted_at AS app_deleted FROM data_tables t \
                 JOIN apps a ON a.id = t.app_id WHERE t.id = $1 AND t.deleted_at IS NOT NULL",
            )
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("deleted table"))?;
            if row.try_get::<Option<i64>, _>("app_deleted")?.is_some() {
                return Err(StoreError::Conflict(
                    "its app is in the recycle bin: restore the app first".into(),
                ));
            }
            let app: String = row.try_get("app_id")?;
            let name = SchemaName::parse(&row.try_get::<String, _>("name")?)?;
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM data_tables WHERE app_id = $1 AND deleted_at IS NULL",
            )
            .bind(&app)
            .fetch_all(&mut *tx)
            .await?;
            if names.iter().any(|n| name.same_as(n)) {
                return Err(taken("a table in this app", &name));
            }
            sqlx::query(
                "UPDATE data_tables SET deleted_at = NULL, deleted_by = NULL, \
                 schema_version = schema_version + 1 WHERE id = $1",
            )
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.schema_changed();
            Ok(())
        })
    }

    /// Deleted apps, and deleted tables of live apps, newest first.
    pub async fn recycle_bin(&self) -> Result<Vec<Deleted>, StoreError> {
        on_pool!(&self.pool, |p| {
            let apps = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE deleted_at IS NOT NULL"
            )))
            .fetch_all(p)
            .await?;
            let tables = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TABLE_COLUMNS} FROM data_tables t WHERE t.deleted_at IS NOT NULL AND \
                 EXISTS (SELECT 1 FROM apps a WHERE a.id = t.app_id AND a.deleted_at IS NULL)"
            )))
            .fetch_all(p)
            .await?;
            let mut bin = Vec::new();
            for row in &apps {
                bin.push(Deleted::App(app_from_row!(row)));
            }
            for row in &tables {
                bin.push(Deleted::Table(table_from_row!(row)));
            }
            bin.sort_by_key(|d| {
                std::cmp::Reverse(match d {
                    Deleted::App(a) => a.deleted_at,
                    Deleted::Table(t) => t.deleted_at,
                })
            });
            Ok(bin)
        })
    }

    /// Drops for good what has been in the recycle bin longer than
    /// [`RECYCLE_DAYS`] as of `now`: physical tables, junctions, history,
    /// views and metadata. Returns how many tables went.
    pub async fn purge_recycle_bin(&self, now: i64) -> Result<usize, StoreError> {
        let cutoff = now - RECYCLE_DAYS * DAY_MS;
        let cascade = match dialect(&self.pool) {
            Dialect::Sqlite => "",
            Dialect::Postgres => " CASCADE",
        };
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let expired: Vec<String> = sqlx::query_scalar(
                "SELECT t.id FROM data_tables t JOIN apps a ON a.id = t.app_id \
                 WHERE (t.deleted_at IS NOT NULL AND t.deleted_at < $1) \
                    OR (a.deleted_at IS NOT NULL AND a.deleted_at < $1)",
            )
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
            for table in &expired {
                let table_id = TableId::parse(table)?;
                let fields =
                    sqlx::query("SELECT id, definition FROM data_fields WHERE table_id = $1")
                        .bind(table)
                        .fetch_all(&mut *tx)
                        .await?;
                for field in &fields {
                    let spec: serde_json::Value =
                        serde_json::from_str(&field.try_get::<String, _>("definition")?)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if spec["type"] == "link" && spec["multiple"] == true {
                        let id = FieldId::parse(&field.try_get::<String, _>("id")?)?;
                        let junction = ident(&junction_table(id))?;
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP TABLE IF EXISTS {junction}{cascade}"
                        )))
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                let physical = ident(&physical_table(table_id))?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP TABLE IF EXISTS {physical}{cascade}"
                )))
                .execute(&mut *tx)
                .await?;
                for statement in [
                    "DELETE FROM data_views WHERE table_id = $1",
                    "DELETE FROM record_revisions WHERE table_id = $1",
                    "DELETE FROM data_fields WHERE table_id = $1",
                    "DELETE FROM data_tables WHERE id = $1",
                ] {
                    sqlx::query(statement).bind(table).execute(&mut *tx).await?;
                }
            }
            sqlx::query(
                "DELETE FROM apps WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM data_tables t WHERE t.app_id = apps.id)",
            )
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.schema_changed();
            Ok(expired.len())
        })
    }
}
