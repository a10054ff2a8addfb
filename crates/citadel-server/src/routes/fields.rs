//! Online schema changes to a table's fields (holders of the manage
//! schema grant on the table).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::access::ops;
use citadel_core::data::{FieldDef, TableSchema};
use serde_json::{Map, Value};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::ApiQuery;
use crate::routes::apps::table_view;
use crate::routes::data_dto::{
    ConversionFailureView, FieldOrderRequest, TableView, TypeChangeQuery, TypeChangeView,
};
use crate::routes::dto::Problem;
use crate::services::access::table_access;
use crate::services::data;
use crate::state::AppState;

fn field<'a>(table: &'a TableSchema, key: &str) -> Result<&'a FieldDef, ApiError> {
    table.field_by_key(key).ok_or(ApiError::NotFound("field"))
}

/// Adds a field. The body is a field declaration: `name`, `type` and the
/// type's options (see docs/data-model.md), `encrypted` among them (on by
/// default for resident ID, bank card and social credit code). Existing
/// records get the default, if one is given.
#[utoipa::path(post, path = "/api/v1/tables/{table}/fields", security(("tenant_session" = []), ("access_token" = [])), tag = "fields",
    request_body(content = Object, description = "A field declaration, e.g. {\"name\": \"金额\", \"type\": \"currency\", \"required\": true} or {\"name\": \"工资\", \"type\": \"decimal\", \"encrypted\": true}"),
    params(("table" = String, Path, description = "Table id")),
    responses((status = 201, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_field(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<TableView>), ApiError> {
    let (db, _, access) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    let field = data::new_field(&body)?;
    let schema = db.add_field(access.full_schema().id, field).await?;
    Ok((StatusCode::CREATED, Json(table_view(&schema))))
}

/// Changes a field: its name, constraints, choices, indexing, encryption.
/// Keys given replace the current ones; `null` removes one (not
/// `encrypted`, which takes true or false). Turning encryption on or off,
/// or a new scale or precision, converts every stored value in one
/// transaction. The type is changed by the type-change operation, not
/// here.
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
    let (db, _, access) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    // Whoever manages a table's schema works on all of its fields.
    let schema = access.full_schema();
    let changed = data::patched_field(field(schema, &key)?, &body)?;
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
    let (db, _, access) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    // Whoever manages a table's schema works on all of its fields.
    let schema = access.full_schema();
    let id = field(schema, &key)?.id;
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
    let (db, _, access) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    // Whoever manages a table's schema works on all of its fields.
    let schema = access.full_schema();
    let order = data::field_ids(schema, &body.fields)?;
    let schema = db.reorder_fields(schema.id, &order).await?;
    Ok(Json(table_view(&schema)))
}

/// Changes a field's type, converting every stored value the way a person
/// would retype it (text `"12.50"` becomes an amount, an amount becomes
/// `"12.50"`). With `dry_run=true` nothing changes and the answer lists the
/// records that would not convert; without it the change is made only if
/// every record converts (400 otherwise, and nothing changes). The body is
/// the new `type` and its options; other options of the old type do not
/// carry over.
#[utoipa::path(post, path = "/api/v1/tables/{table}/fields/{field}/type-change", security(("tenant_session" = []), ("access_token" = [])), tag = "fields",
    request_body(content = Object, description = "The new type and its options, e.g. {\"type\": \"currency\", \"scale\": 2}"),
    params(("table" = String, Path, description = "Table id"), ("field" = String, Path, description = "Field id or name"), TypeChangeQuery),
    responses((status = 200, body = TypeChangeView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn change_field_type(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((table, key)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<TypeChangeQuery>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<TypeChangeView>, ApiError> {
    let (db, _, access) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    // Whoever manages a table's schema works on all of its fields.
    let schema = access.full_schema();
    let target = data::retyped_field(field(schema, &key)?, &body)?;
    let name = target.name.to_string();
    // The reasons quote values: of a field hidden from the caller's reads,
    // they say only that a value does not convert.
    let hidden = access.is_hidden(target.id);
    let (mut report, schema) = db
        .change_field_type(schema.id, target, query.dry_run, data::tenant_offset())
        .await?;
    if hidden {
        for (_, reason) in &mut report.failures {
            *reason = "the value does not convert to the new type".into();
        }
    }
    if !query.dry_run && !report.applied {
        let first = report
            .failures
            .first()
            .map(|(id, why)| format!(" (first: record {id}: {why})"))
            .unwrap_or_default();
        return Err(ApiError::BadRequest {
            code: "conversion_failed",
            detail: format!(
                "{name}: {} of {} records would not convert{first}; nothing changed; \
                 ask with dry_run=true for the list",
                report.failed, report.records
            ),
            field: Some(name),
        });
    }
    Ok(Json(TypeChangeView {
        records: report.records,
        failed: report.failed,
        failures: report
            .failures
            .iter()
            .map(|(id, reason)| ConversionFailureView {
                record: id.0,
                reason: reason.clone(),
            })
            .collect(),
        applied: report.applied,
        table: table_view(&schema),
    }))
}
