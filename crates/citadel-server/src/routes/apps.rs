//! Apps (应用) and their tables (业务对象), and the recycle bin (回收站).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::access::ops;
use citadel_core::data::SchemaName;
use citadel_core::data::TableSchema;
use citadel_core::{Action, AppId, TableId};
use citadel_store::TenantDb;
use citadel_store::data::{Actor, AppRecord, Deleted, RECYCLE_DAYS, TableRecord};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, path_id};
use crate::routes::data_dto::{
    AppView, CreateAppRequest, CreateTableRequest, RecycledView, TableSummaryView, TableView,
    UpdateAppRequest, UpdateTableRequest,
};
use crate::routes::dto::{Problem, rfc3339};
use crate::services::access::{self, table_access};
use crate::services::data;
use crate::state::AppState;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub(crate) fn name(field: &'static str, raw: &str) -> Result<SchemaName, ApiError> {
    SchemaName::parse(raw).map_err(|e| ApiError::invalid_field(field, e))
}

/// The caller's tenant database, if `action` is allowed, and who they are.
pub(crate) async fn open(
    state: &AppState,
    caller: &TenantCaller,
    action: Action,
) -> Result<(TenantDb, Actor), ApiError> {
    let (scope, session) = caller.authorize(action)?;
    let db = state.store().tenant(&scope).await?;
    Ok((db, Actor(Some(session.user))))
}

pub(crate) fn actor_user(actor: Actor) -> Result<citadel_core::UserId, ApiError> {
    actor.0.ok_or(ApiError::Unauthenticated)
}

fn app_view(app: &AppRecord) -> AppView {
    AppView {
        id: app.id.to_string(),
        name: app.name.to_string(),
        description: app.description.clone(),
        position: app.position,
        created_at: rfc3339(app.created_at),
    }
}

fn table_summary(table: &TableRecord) -> TableSummaryView {
    TableSummaryView {
        id: table.id.to_string(),
        app_id: table.app.to_string(),
        name: table.name.to_string(),
        description: table.description.clone(),
        position: table.position,
        created_at: rfc3339(table.created_at),
    }
}

pub(crate) fn table_view(table: &TableSchema) -> TableView {
    TableView {
        id: table.id.to_string(),
        app_id: table.app.to_string(),
        name: table.name.to_string(),
        description: table.description.clone(),
        fields: table.fields.iter().map(|f| f.to_json()).collect(),
        schema_version: table.schema_version,
    }
}

fn description(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim) {
        Some(d) if d.chars().count() > 1000 => Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "description: may have at most 1000 characters".into(),
            field: Some("description".into()),
        }),
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// The tenant's apps.
#[utoipa::path(get, path = "/api/v1/apps", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    responses((status = 200, body = Vec<AppView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_apps(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<AppView>>, ApiError> {
    Ok(Json(visible_apps(&state, &caller).await?))
}

/// The apps shown to the caller: those with a table they may do
/// something with, or to which they may add tables.
pub(crate) async fn visible_apps(
    state: &AppState,
    caller: &TenantCaller,
) -> Result<Vec<AppView>, ApiError> {
    let (db, _) = open(state, caller, Action::ReadData).await?;
    let session = caller.session()?;
    let model = db.access_model().await?;
    let mut shown = Vec::new();
    for app in db.list_apps().await? {
        let tables = db.list_tables(app.id).await?;
        if access::may_see_app(&model, session, app.id, &tables) {
            shown.push(app_view(&app));
        }
    }
    Ok(shown)
}

/// Creates an app (admins).
#[utoipa::path(post, path = "/api/v1/apps", security(("tenant_session" = []), ("access_token" = [])), tag = "apps", request_body = CreateAppRequest,
    responses((status = 201, body = AppView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_app(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CreateAppRequest>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    let (db, actor) = open(&state, &caller, Action::ManageSchema).await?;
    let name = name("name", &body.name)?;
    let description = description(body.description.as_deref())?;
    let app = db.create_app(&name, description.as_deref(), actor).await?;
    Ok((StatusCode::CREATED, Json(app_view(&app))))
}

/// One app.
#[utoipa::path(get, path = "/api/v1/apps/{app}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, body = AppView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_app(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    Ok(Json(visible_app(&state, &caller, &app).await?.0))
}

/// An app shown to the caller, with the tables of it they are shown, and
/// whether they may add tables to it; 404 for an app they are not shown.
pub(crate) async fn visible_app(
    state: &AppState,
    caller: &TenantCaller,
    raw: &str,
) -> Result<(AppView, Vec<TableSummaryView>, bool), ApiError> {
    let (db, _) = open(state, caller, Action::ReadData).await?;
    let id = path_id("app", raw, AppId::parse)?;
    let app = db.app(id).await?;
    let model = db.access_model().await?;
    let session = caller.session()?;
    let tables = db.list_tables(id).await?;
    if !access::may_see_app(&model, session, id, &tables) {
        return Err(ApiError::NotFound("app"));
    }
    let shown = tables
        .iter()
        .filter(|t| access::may_see(&model, session, id, t.id))
        .map(table_summary)
        .collect();
    let may_add = access::check_new_table(&db, session, id).await.is_ok();
    Ok((app_view(&app), shown, may_add))
}

/// Renames an app or changes its description (admins).
#[utoipa::path(patch, path = "/api/v1/apps/{app}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps", request_body = UpdateAppRequest,
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, body = AppView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_app(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<UpdateAppRequest>,
) -> Result<Json<AppView>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let id = path_id("app", &app, AppId::parse)?;
    let name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
    let description = body
        .description
        .map(|d| description(d.as_deref()))
        .transpose()?;
    let app = db
        .update_app(
            id,
            name.as_ref(),
            description.as_ref().map(|d| d.as_deref()),
        )
        .await?;
    Ok(Json(app_view(&app)))
}

/// Moves an app and its tables to the recycle bin for 30 days (admins).
#[utoipa::path(delete, path = "/api/v1/apps/{app}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("app" = String, Path, description = "App id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_app(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (db, actor) = open(&state, &caller, Action::ManageSchema).await?;
    db.delete_app(path_id("app", &app, AppId::parse)?, actor)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Brings an app back from the recycle bin (admins).
#[utoipa::path(post, path = "/api/v1/apps/{app}/restore", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, body = AppView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn restore_app(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let app = db.restore_app(path_id("app", &app, AppId::parse)?).await?;
    Ok(Json(app_view(&app)))
}

/// The tables of an app.
#[utoipa::path(get, path = "/api/v1/apps/{app}/tables", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, body = Vec<TableSummaryView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_tables(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
) -> Result<Json<Vec<TableSummaryView>>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ReadData).await?;
    let app = path_id("app", &app, AppId::parse)?;
    let tables = db.list_tables(app).await?;
    let model = db.access_model().await?;
    let session = caller.session()?;
    Ok(Json(
        tables
            .iter()
            .filter(|t| access::may_see(&model, session, app, t.id))
            .map(table_summary)
            .collect(),
    ))
}

/// Creates a table, optionally with its first fields (admins). The
/// declarations are all checked before anything is created.
#[utoipa::path(post, path = "/api/v1/apps/{app}/tables", security(("tenant_session" = []), ("access_token" = [])), tag = "apps", request_body = CreateTableRequest,
    params(("app" = String, Path, description = "App id")),
    responses((status = 201, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_table(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CreateTableRequest>,
) -> Result<(StatusCode, Json<TableView>), ApiError> {
    let (db, actor) = open(&state, &caller, Action::WriteData).await?;
    let app = path_id("app", &app, AppId::parse)?;
    access::check_new_table(&db, caller.session()?, app).await?;
    let name = name("name", &body.name)?;
    let description = description(body.description.as_deref())?;
    let table =
        data::create_table(&db, app, &name, description.as_deref(), &body.fields, actor).await?;
    Ok((StatusCode::CREATED, Json(table_view(&table))))
}

/// A table with its fields.
#[utoipa::path(get, path = "/api/v1/tables/{table}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("table" = String, Path, description = "Table id")),
    responses((status = 200, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_table(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
) -> Result<Json<TableView>, ApiError> {
    Ok(Json(table_view(
        &visible_table(&state, &caller, &table).await?,
    )))
}

/// A table as the caller may see it (hidden fields left out).
pub(crate) async fn visible_table(
    state: &AppState,
    caller: &TenantCaller,
    raw: &str,
) -> Result<TableSchema, ApiError> {
    let (db, _) = open(state, caller, Action::ReadData).await?;
    let schema = db
        .table_schema(path_id("table", raw, TableId::parse)?)
        .await?;
    access::describe(&db, caller.session()?, schema).await
}

/// Renames a table or changes its description (admins).
#[utoipa::path(patch, path = "/api/v1/tables/{table}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps", request_body = UpdateTableRequest,
    params(("table" = String, Path, description = "Table id")),
    responses((status = 200, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_table(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
    ApiJson(body): ApiJson<UpdateTableRequest>,
) -> Result<Json<TableView>, ApiError> {
    let (db, _, schema) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    let id = schema.full_schema().id;
    let name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
    let description = body
        .description
        .map(|d| description(d.as_deref()))
        .transpose()?;
    let schema = db
        .update_table(
            id,
            name.as_ref(),
            description.as_ref().map(|d| d.as_deref()),
        )
        .await?;
    Ok(Json(table_view(&schema)))
}

/// Moves a table to the recycle bin for 30 days (admins). Refused while
/// other tables link to it.
#[utoipa::path(delete, path = "/api/v1/tables/{table}", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("table" = String, Path, description = "Table id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_table(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (db, actor, schema) = table_access::<ops::ManageSchema>(&state, &caller, &table).await?;
    db.delete_table(schema.full_schema().id, actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Brings a table back from the recycle bin (admins).
#[utoipa::path(post, path = "/api/v1/tables/{table}/restore", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    params(("table" = String, Path, description = "Table id")),
    responses((status = 200, body = TableView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn restore_table(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(table): Path<String>,
) -> Result<Json<TableView>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let id = path_id("table", &table, TableId::parse)?;
    db.restore_table(id).await?;
    Ok(Json(table_view(&db.table_schema(id).await?)))
}

/// What is in the recycle bin and when it will be purged (admins).
#[utoipa::path(get, path = "/api/v1/recycle-bin", security(("tenant_session" = []), ("access_token" = [])), tag = "apps",
    responses((status = 200, body = Vec<RecycledView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn recycle_bin(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<RecycledView>>, ApiError> {
    let (db, _) = open(&state, &caller, Action::ManageSchema).await?;
    let entry = |kind, id: String, name: String, app_id, deleted_at: Option<i64>| {
        let deleted_at = deleted_at.unwrap_or_default();
        RecycledView {
            kind,
            id,
            name,
            app_id,
            deleted_at: rfc3339(deleted_at),
            purge_at: rfc3339(deleted_at + RECYCLE_DAYS * DAY_MS),
        }
    };
    let bin = db.recycle_bin().await?;
    Ok(Json(
        bin.iter()
            .map(|d| match d {
                Deleted::App(a) => entry(
                    "app",
                    a.id.to_string(),
                    a.name.to_string(),
                    None,
                    a.deleted_at,
                ),
                Deleted::Table(t) => entry(
                    "table",
                    t.id.to_string(),
                    t.name.to_string(),
                    Some(t.app.to_string()),
                    t.deleted_at,
                ),
            })
            .collect(),
    ))
}
