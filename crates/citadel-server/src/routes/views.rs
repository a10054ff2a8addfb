//! Saved views: a filter, a sort and visible fields per table, personal
//! or shared. Anyone who reads a table keeps personal views; shared views
//! are made and changed by those who manage the table's schema.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::access::{TableAccess, ops};
use citadel_core::data::TableSchema;
use citadel_core::{Action, ViewId};
use citadel_store::TenantDb;
use citadel_store::data::{Actor, ViewRecord};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, path_id};
use crate::routes::apps::{actor_user, name, open};
use crate::routes::data_dto::{CreateViewRequest, UpdateViewRequest, ViewView};
use crate::routes::dto::Problem;
use crate::services::access::{self, conceal_names, table_access};
use crate::services::data;
use crate::state::AppState;

/// A view the caller may change: their own, or a shared one if they
/// manage the schema. Others' personal views do not exist for them.
async fn changeable(
    state: &AppState,
    caller: &TenantCaller,
    raw: &str,
) -> Result<(TenantDb, Actor, ViewRecord, TableSchema), ApiError> {
    let (db, actor) = open(state, caller, Action::ReadData).await?;
    let view = db.view(path_id("view", raw, ViewId::parse)?).await?;
    let session = caller.session()?;
    let table = db.table_schema(view.table).await?;
    let shown = match view.owner {
        Some(owner) if owner != actor_user(actor)? => return Err(ApiError::NotFound("view")),
        Some(_) => access::decide::<ops::Read>(&db, session, table)
            .await?
            .schema()
            .clone(),
        None => access::decide::<ops::ManageSchema>(&db, session, table)
            .await?
            .schema()
            .clone(),
    };
    Ok((db, actor, view, shown))
}

/// A view as a reader sees it: a shared view's filter or sort may name
/// fields hidden from them, whose names must not reach them.
/// Such a filter or sort is not shown at all (its values would tell
/// something of the hidden field too); using the view is refused like a
/// filter on a field that does not exist.
pub(crate) fn shown(access: &TableAccess<ops::Read>, view: &ViewRecord) -> ViewView {
    let mut shown = data::view_view(access.schema(), view);
    let withheld = |text: String| {
        if conceal_names(access, &text) == text {
            text
        } else {
            HIDDEN_CONDITION.to_owned()
        }
    };
    shown.filter = shown.filter.map(withheld);
    shown.sort = shown.sort.map(withheld);
    shown
}

const HIDDEN_CONDITION: &str = "(on fields hidden from you)";

/// The shared views of a table and the caller's own.
#[utoipa::path(get, path = "/api/v1/tables/{table}/views", security(("tenant_session" = []), ("access_token" = [])), tag = "views",
    params(("table" = String, Path, description = "Table id")),
    responses((status = 200, body = Vec<ViewView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_views(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
) -> Result<Json<Vec<ViewView>>, ApiError> {
    let (db, actor, access) = table_access::<ops::Read>(&state, &caller, &table).await?;
    let schema = access.schema();
    let views = db.list_views(schema.id, actor.0).await?;
    Ok(Json(views.iter().map(|v| shown(&access, v)).collect()))
}

/// Saves a view; `shared` views need schema rights.
#[utoipa::path(post, path = "/api/v1/tables/{table}/views", security(("tenant_session" = []), ("access_token" = [])), tag = "views", request_body = CreateViewRequest,
    params(("table" = String, Path, description = "Table id")),
    responses((status = 201, body = ViewView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_view(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
    ApiJson(body): ApiJson<CreateViewRequest>,
) -> Result<(StatusCode, Json<ViewView>), ApiError> {
    // Filters, sorts and fields are checked against the table as the
    // caller sees it: a view cannot name a field hidden from its maker.
    let (db, actor, schema) = if body.shared {
        let (db, actor, access) =
            table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
        (db, actor, access.schema().clone())
    } else {
        let (db, actor, access) = table_access::<ops::Read>(&state, &caller, &table).await?;
        (db, actor, access.schema().clone())
    };
    let definition = data::view_definition(
        &schema,
        body.filter.as_deref(),
        body.sort.as_deref(),
        body.fields.as_deref(),
    )?;
    let owner = if body.shared { None } else { actor.0 };
    let view = db
        .create_view(
            schema.id,
            &name("name", &body.name)?,
            owner,
            &definition,
            actor,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(data::view_view(&schema, &view))))
}

/// One view.
#[utoipa::path(get, path = "/api/v1/views/{view}", security(("tenant_session" = []), ("access_token" = [])), tag = "views",
    params(("view" = String, Path, description = "View id")),
    responses((status = 200, body = ViewView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_view(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
) -> Result<Json<ViewView>, ApiError> {
    let (db, actor) = open(&state, &caller, Action::ReadData).await?;
    let view = db.view(path_id("view", &raw, ViewId::parse)?).await?;
    if view.owner.is_some_and(|owner| Some(owner) != actor.0) {
        return Err(ApiError::NotFound("view"));
    }
    let table = db.table_schema(view.table).await?;
    let access = access::decide::<ops::Read>(&db, caller.session()?, table).await?;
    Ok(Json(shown(&access, &view)))
}

/// Changes a view's name, filter, sort or fields (`null` clears one).
#[utoipa::path(patch, path = "/api/v1/views/{view}", security(("tenant_session" = []), ("access_token" = [])), tag = "views", request_body = UpdateViewRequest,
    params(("view" = String, Path, description = "View id")),
    responses((status = 200, body = ViewView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_view(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<UpdateViewRequest>,
) -> Result<Json<ViewView>, ApiError> {
    let (db, _, view, schema) = changeable(&state, &caller, &raw).await?;
    let current = &view.definition;
    let field_names: Option<Vec<String>> = match &body.fields {
        Some(fields) => fields.clone(),
        None => current.fields.as_ref().map(|ids| {
            ids.iter()
                .filter_map(|id| schema.field(*id).map(|f| f.id.to_string()))
                .collect()
        }),
    };
    let definition = data::view_definition(
        &schema,
        body.filter
            .clone()
            .unwrap_or_else(|| current.filter.clone())
            .as_deref(),
        body.sort
            .clone()
            .unwrap_or_else(|| current.sort.clone())
            .as_deref(),
        field_names.as_deref(),
    )?;
    let new_name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
    let view = db
        .update_view(view.id, new_name.as_ref(), Some(&definition))
        .await?;
    Ok(Json(data::view_view(&schema, &view)))
}

/// Deletes a view.
#[utoipa::path(delete, path = "/api/v1/views/{view}", security(("tenant_session" = []), ("access_token" = [])), tag = "views",
    params(("view" = String, Path, description = "View id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_view(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (db, _, view, _) = changeable(&state, &caller, &raw).await?;
    db.delete_view(view.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
