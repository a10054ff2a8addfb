//! Online schema changes to a table's fields (admins).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::data::{FieldDef, TableSchema};
use citadel_core::{Action, TableId};
use serde_json::{Map, Value};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, path_id};
use crate::routes::apps::{open, table_view};
use crate::routes::data_dto::{FieldOrderRequest, TableView};
use crate::routes::dto::Problem;
use crate::services::data;
use crate::state::AppState;

fn field<'a>(table: &'a TableSchema, key: &str) -> Result<&'a FieldDef, ApiError> {
    table.field_by_key(key).ok_or(ApiError::NotFound("field"))
}

/// Adds a field. The body is a field declaration: `name`, `type` and the
/// type's options (see docs/data-model.md). Existing records get the
/// default, if one is given.
#[utoipa::path(post, path = "/api/v1/tables/{table}/fields", security(("tenant_session" = []), ("access_token" = [])), tag = "fields",
    request_body(content = Object, description = "A field declaration, e.g. {\"name\": \"金额\", \"type\": \"currency\", \"required\": true}"),
    params(("table" = String, Path, description = "Table id")),
    responses((status = 201, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_field(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<TableView>), ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let table = path_id("table", &table, TableId::parse)?;
    let field = data::new_field(&body)?;
    let schema = db.add_field(table, field).await?;
    Ok((StatusCode::CREATED, Json(table_view(&schema))))
}

/// Changes a field: its name, constraints, choices, indexing. Keys given
/// replace the current ones; `null` removes one. The type is changed by
/// the type-change operation, not here.
#[utoipa::path(patch, path = "/api/v1/tables/{table}/fields/{field}", security(("tenant_session" = []), ("access_token" = [])), tag = "fields",
    request_body(content = Object, description = "The keys of the declaration to change"),
    params(("table" = String, Path, description = "Table id"), ("field" = String, Path, description = "Field id or name")),
    responses((status = 200, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_field(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((table, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<TableView>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let schema = db
        .table_schema(path_id("table", &table, TableId::parse)?)
        .await?;
    let changed = data::patched_field(field(&schema, &key)?, &body)?;
    let schema = db.update_field(schema.id, changed).await?;
    Ok(Json(table_view(&schema)))
}

/// Deletes a field and its data.
#[utoipa::path(delete, path = "/api/v1/tables/{table}/fields/{field}", security(("tenant_session" = []), ("access_token" = [])), tag = "fields",
    params(("table" = String, Path, description = "Table id"), ("field" = String, Path, description = "Field id or name")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_field(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((table, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let schema = db
        .table_schema(path_id("table", &table, TableId::parse)?)
        .await?;
    let id = field(&schema, &key)?.id;
    db.delete_field(schema.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the order of the fields; the list must name each field once.
#[utoipa::path(put, path = "/api/v1/tables/{table}/field-order", security(("tenant_session" = []), ("access_token" = [])), tag = "fields", request_body = FieldOrderRequest,
    params(("table" = String, Path, description = "Table id")),
    responses((status = 200, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reorder_fields(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
    ApiJson(body): ApiJson<FieldOrderRequest>,
) -> Result<Json<TableView>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let schema = db
        .table_schema(path_id("table", &table, TableId::parse)?)
        .await?;
    let order = data::field_ids(&schema, &body.fields)?;
    let schema = db.reorder_fields(schema.id, &order).await?;
    Ok(Json(table_view(&schema)))
}
