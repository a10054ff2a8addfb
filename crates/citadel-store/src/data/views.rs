//! Saved views of a table: a filter, a sort and the visible fields in
//! their order. Shared views are seen by everyone who can read the table;
//! personal views only by their owner.

use citadel_core::data::SchemaName;
use citadel_core::{FieldId, TableId, UserId, ViewId};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::Actor;
use crate::StoreError;
use crate::db::{now_millis, on_pool, write_on_pool};
use crate::tenant_db::TenantDb;

/// What a view shows. The filter and sort are kept as text in the filter
/// language, checked against the table when saved and when applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// Visible fields in column order; all fields when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldId>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewRecord {
    pub id: ViewId,
    pub table: TableId,
    pub name: SchemaName,
    /// `None` for a shared view.
    pub owner: Option<UserId>,
    pub definition: ViewDefinition,
    pub position: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! view_from_row {
    ($row:expr) => {{
        let row = $row;
        let definition: String = row.try_get("definition")?;
        ViewRecord {
            id: ViewId::parse(&row.try_get::<String, _>("id")?)?,
            table: TableId::parse(&row.try_get::<String, _>("table_id")?)?,
            name: SchemaName::parse(&row.try_get::<String, _>("name")?)?,
            owner: row
                .try_get::<Option<String>, _>("owner_id")?
                .map(|o| UserId::parse(&o))
                .transpose()?,
            definition: serde_json::from_str(&definition)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            position: row.try_get("position")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        }
    }};
}

const VIEW_COLUMNS: &str =
    "id, table_id, name, owner_id, definition, position, created_at, updated_at";

fn encode(definition: &ViewDefinition) -> Result<String, StoreError> {
    serde_json::to_string(definition).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl TenantDb {
    pub async fn create_view(
        &self,
        table: TableId,
        name: &SchemaName,
        owner: Option<UserId>,
        definition: &ViewDefinition,
        actor: Actor,
    ) -> Result<ViewRecord, StoreError> {
        let id = ViewId::generate();
        let now = now_millis();
        let encoded = encode(definition)?;
        write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO data_views (id, table_id, name, owner_id, definition, position, \
                 created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, \
                 (SELECT COALESCE(MAX(position), 0) + 1 FROM data_views WHERE table_id = $2), \
                 $6, $7, $6)",
            )
            .bind(id.to_string())
            .bind(table.to_string())
            .bind(name.as_str())
            .bind(owner.map(|o| o.to_string()))
            .bind(encoded)
            .bind(now)
            .bind(actor.text())
            .execute(p)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        self.view(id).await
    }

    /// The shared views of a table and the personal views of `viewer`.
    pub async fn list_views(
        &self,
        table: TableId,
        viewer: Option<UserId>,
    ) -> Result<Vec<ViewRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {VIEW_COLUMNS} FROM data_views WHERE table_id = $1 \
                 AND (owner_id IS NULL OR owner_id = $2) ORDER BY position"
            )))
            .bind(table.to_string())
            .bind(viewer.map(|v| v.to_string()))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|row| Ok(view_from_row!(row)))
                .collect::<Result<_, StoreError>>()
        })
    }

    pub async fn view(&self, id: ViewId) -> Result<ViewRecord, StoreError> {
        on_pool!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {VIEW_COLUMNS} FROM data_views WHERE id = $1"
            )))
            .bind(id.to_string())
            .fetch_optional(p)
            .await?
            .ok_or(StoreError::NotFound("view"))?;
            Ok(view_from_row!(&row))
        })
    }

    pub async fn update_view(
        &self,
        id: ViewId,
        name: Option<&SchemaName>,
        definition: Option<&ViewDefinition>,
    ) -> Result<ViewRecord, StoreError> {
        let encoded = definition.map(encode).transpose()?;
        let changed = write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE data_views SET name = COALESCE($1, name), \
                 definition = COALESCE($2, definition), updated_at = $3 WHERE id = $4",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(encoded)
            .bind(now_millis())
            .bind(id.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound("view"));
        }
        self.view(id).await
    }

    pub async fn delete_view(&self, id: ViewId) -> Result<(), StoreError> {
        let changed = write_on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM data_views WHERE id = $1")
                .bind(id.to_string())
                .execute(p)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound("view"));
        }
        Ok(())
    }
}
