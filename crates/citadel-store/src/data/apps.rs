//! Apps and tables: create, rename, list, the recycle bin (delete, restore,
//! purge after 30 days) and loading a table's schema.

use citadel_core::data::table::physical_table;
use citadel_core::data::{FieldDef, SchemaName, TableSchema};
use citadel_core::{AppId, FieldId, TableId};
use sqlx::Row;

use super::sql::{Dialect, ident};
use super::{Actor, AppRecord, TableRecord};
use crate::StoreError;
use crate::db::{BeginWrite, DbPool, now_millis, on_pool, write_on_pool};
use crate::tenant_db::TenantDb;

pub(crate) fn dialect(pool: &DbPool) -> Dialect {
    match pool {
        DbPool::Sqlite(..) => Dialect::Sqlite,
        DbPool::Postgres(_) => Dialect::Postgres,
    }
}

pub(super) fn taken(what: &str, name: &SchemaName) -> StoreError {
    StoreError::Conflict(format!("there is already {what} named `{name}`"))
}

macro_rules! app_from_row {
    ($row:expr) => {{
        let row = $row;
        AppRecord {
            id: AppId::parse(&row.try_get::<String, _>("id")?)?,
            name: SchemaName::parse(&row.try_get::<String, _>("name")?)?,
            description: row.try_get("description")?,
            position: row.try_get("position")?,
            created_at: row.try_get("created_at")?,
            deleted_at: row.try_get("deleted_at")?,
        }
    }};
}

macro_rules! table_from_row {
    ($row:expr) => {{
        let row = $row;
        TableRecord {
            id: TableId::parse(&row.try_get::<String, _>("id")?)?,
            app: AppId::parse(&row.try_get::<String, _>("app_id")?)?,
            name: SchemaName::parse(&row.try_get::<String, _>("name")?)?,
            description: row.try_get("description")?,
            position: row.try_get("position")?,
            created_at: row.try_get("created_at")?,
            deleted_at: row.try_get("deleted_at")?,
        }
    }};
}

pub(super) const APP_COLUMNS: &str = "id, name, description, position, created_at, deleted_at";
pub(super) const TABLE_COLUMNS: &str =
    "id, app_id, name, description, position, created_at, deleted_at";

/// A table is live when neither it nor its app is in the recycle bin.
pub(super) const LIVE_TABLE: &str = "t.deleted_at IS NULL AND EXISTS \
     (SELECT 1 FROM apps a WHERE a.id = t.app_id AND a.deleted_at IS NULL)";

impl TenantDb {
    pub async fn create_app(
        &self,
        name: &SchemaName,
        description: Option<&str>,
        actor: Actor,
    ) -> Result<AppRecord, StoreError> {
        let id = AppId::generate();
        let now = now_millis();
        let position = write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM apps WHERE deleted_at IS NULL")
                    .fetch_all(&mut *tx)
                    .await?;
            if names.iter().any(|n| name.same_as(n)) {
                return Err(taken("an app", name));
            }
            let position: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM apps")
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO apps (id, name, description, position, created_at, created_by, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $5)",
            )
            .bind(id.to_string())
            .bind(name.as_str())
            .bind(description)
            .bind(position)
            .bind(now)
            .bind(actor.text())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            position
        });
        Ok(AppRecord {
            id,
            name: name.clone(),
            description: description.map(str::to_owned),
            position,
            created_at: now,
            deleted_at: None,
        })
    }

    pub async fn list_apps(&self) -> Result<Vec<AppRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE deleted_at IS NULL ORDER BY position"
            )))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|row| Ok(app_from_row!(row)))
                .collect::<Result<_, StoreError>>()
        })
    }

    /// A live app.
    pub async fn app(&self, id: AppId) -> Result<AppRecord, StoreError> {
        on_pool!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE id = $1 AND deleted_at IS NULL"
            )))
            .bind(id.to_string())
            .fetch_optional(p)
            .await?
            .ok_or(StoreError::NotFound("app"))?;
            Ok(app_from_row!(&row))
        })
    }

    pub async fn update_app(
        &self,
        id: AppId,
        name: Option<&SchemaName>,
        description: Option<Option<&str>>,
    ) -> Result<AppRecord, StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            if let Some(name) = name {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM apps WHERE deleted_at IS NULL AND id <> $1",
                )
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
                if names.iter().any(|n| name.same_as(n)) {
                    return Err(taken("an app", name));
                }
            }
            let changed = sqlx::query(
                "UPDATE apps SET name = COALESCE($1, name), \
                 description = CASE WHEN $2 THEN $3 ELSE description END, updated_at = $4 \
                 WHERE id = $5 AND deleted_at IS NULL",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(description.is_some())
            .bind(description.flatten())
            .bind(now_millis())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound("app"));
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.app(id).await
    }

    /// Creates a table and its physical table, with no fields yet.
    pub async fn create_table(
        &self,
        app: AppId,
        name: &SchemaName,
        description: Option<&str>,
        actor: Actor,
    ) -> Result<TableSchema, StoreError> {
        let id = TableId::generate();
        let now = now_millis();
        let physical = ident(&physical_table(id))?;
        let dialect = dialect(&self.pool);
        let ddl = match dialect {
            Dialect::Sqlite => format!(
                "CREATE TABLE {physical} (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                 version BIGINT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT, \
                 updated_at BIGINT NOT NULL, updated_by TEXT)"
            ),
            Dialect::Postgres => format!(
                "CREATE TABLE {physical} (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
                 version BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL, \
                 created_by TEXT COLLATE \"C\", updated_at TIMESTAMPTZ NOT NULL, \
                 updated_by TEXT COLLATE \"C\")"
            ),
        };
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let live: Option<String> =
                sqlx::query_scalar("SELECT id FROM apps WHERE id = $1 AND deleted_at IS NULL")
                    .bind(app.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            if live.is_none() {
                return Err(StoreError::NotFound("app"));
            }
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM data_tables WHERE app_id = $1 AND deleted_at IS NULL",
            )
            .bind(app.to_string())
            .fetch_all(&mut *tx)
            .await?;
            if names.iter().any(|n| name.same_as(n)) {
                return Err(taken("a table in this app", name));
            }
            let position: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM data_tables WHERE app_id = $1",
            )
            .bind(app.to_string())
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO data_tables (id, app_id, name, description, position, \
                 schema_version, created_at, created_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $6)",
            )
            .bind(id.to_string())
            .bind(app.to_string())
            .bind(name.as_str())
            .bind(description)
            .bind(position)
            .bind(now)
            .bind(actor.text())
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.table_schema(id).await
    }

    /// The live tables of a live app, in order.
    pub async fn list_tables(&self, app: AppId) -> Result<Vec<TableRecord>, StoreError> {
        self.app(app).await?;
        on_pool!(&self.pool, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TABLE_COLUMNS} FROM data_tables WHERE app_id = $1 \
                 AND deleted_at IS NULL ORDER BY position"
            )))
            .bind(app.to_string())
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|row| Ok(table_from_row!(row)))
                .collect::<Result<_, StoreError>>()
        })
    }

    /// A live table with its fields in order (from the schema cache when
    /// it was read a moment ago).
    pub async fn table_schema(&self, id: TableId) -> Result<TableSchema, StoreError> {
        if let Some(schema) = self.schemas.get(self.tenant, id) {
            return Ok(schema);
        }
        let reading = self.schemas.reading();
        let schema = self.read_table_schema(id).await?;
        self.schemas.put(self.tenant, &schema, reading);
        Ok(schema)
    }

    /// Forgets cached schemas after a change, so the next request reads
    /// the new fields.
    pub(crate) fn schema_changed(&self) {
        self.schemas.forget_tenant(self.tenant);
    }

    /// The schema as stored now, for changes that must not start from a
    /// cached copy; the cache is refreshed with it.
    pub(crate) async fn fresh_schema(&self, id: TableId) -> Result<TableSchema, StoreError> {
        self.schema_changed();
        self.table_schema(id).await
    }

    async fn read_table_schema(&self, id: TableId) -> Result<TableSchema, StoreError> {
        on_pool!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, app_id, name, description, schema_version FROM data_tables t \
                 WHERE t.id = $1 AND {LIVE_TABLE}"
            )))
            .bind(id.to_string())
            .fetch_optional(p)
            .await?
            .ok_or(StoreError::NotFound("table"))?;
            let fields = sqlx::query(
                "SELECT id, definition, position, column_generation FROM data_fields \
                 WHERE table_id = $1 ORDER BY position, id",
            )
            .bind(id.to_string())
            .fetch_all(p)
            .await?;
            let fields = fields
                .iter()
                .map(|f| {
                    let field = FieldId::parse(&f.try_get::<String, _>("id")?)?;
                    let definition: String = f.try_get("definition")?;
                    let spec: serde_json::Value = serde_json::from_str(&definition)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let generation: i64 = f.try_get("column_generation")?;
                    let column = citadel_core::data::table::field_column(
                        field,
                        u32::try_from(generation).unwrap_or(0),
                    );
                    Ok(FieldDef::from_spec_json(
                        field,
                        &spec,
                        f.try_get("position")?,
                        column,
                    )?)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(TableSchema {
                id,
                app: AppId::parse(&row.try_get::<String, _>("app_id")?)?,
                name: SchemaName::parse(&row.try_get::<String, _>("name")?)?,
                description: row.try_get("description")?,
                fields,
                schema_version: row.try_get("schema_version")?,
            })
        })
    }

    pub async fn update_table(
        &self,
        id: TableId,
        name: Option<&SchemaName>,
        description: Option<Option<&str>>,
    ) -> Result<TableSchema, StoreError> {
        let app = self.fresh_schema(id).await?.app;
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            if let Some(name) = name {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM data_tables WHERE app_id = $1 AND deleted_at IS NULL \
                     AND id <> $2",
                )
                .bind(app.to_string())
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
                if names.iter().any(|n| name.same_as(n)) {
                    return Err(taken("a table in this app", name));
                }
            }
            sqlx::query(
                "UPDATE data_tables SET name = COALESCE($1, name), \
                 description = CASE WHEN $2 THEN $3 ELSE description END, updated_at = $4, \
                 schema_version = schema_version + 1 WHERE id = $5",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(description.is_some())
            .bind(description.flatten())
            .bind(now_millis())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.fresh_schema(id).await
    }
}

#[path = "recycle.rs"]
mod recycle;
