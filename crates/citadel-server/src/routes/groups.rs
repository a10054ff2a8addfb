//! Permission groups (权限组): their members and grants, a preview of what a
//! change would do, and explanations of single decisions (tenant admins).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::access::{GroupPolicy, Member};
use citadel_core::{Action, GroupId};
use citadel_store::TenantDb;
use citadel_store::access::GroupRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::apps::open;
use crate::routes::dto::{Problem, rfc3339};
use crate::services::groups;
use crate::services::sessions::TenantSession;
use crate::state::AppState;

/// A group as sent and received. `members` is a list of `{"user": id}`
/// and `{"department": {"id": id, "include_subdepartments": bool}}`;
/// `grants` is described in docs/permissions.md.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<Member>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: GroupPolicy,
    /// On update: the version the change is based on (409 if it moved on).
    pub version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `tenant_admin` or `member` for the two built-in groups.
    pub builtin: Option<&'static str>,
    #[schema(value_type = Vec<Object>)]
    pub members: JsonValue,
    #[schema(value_type = Object)]
    pub grants: JsonValue,
    pub version: i64,
    pub updated_at: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// The user asked about (required).
    pub user: Option<String>,
    /// read, create, update, delete, export, import or manage_schema
    /// (required).
    pub operation: Option<String>,
    /// The table (required).
    pub table: Option<String>,
    /// A field of the table (name or id): its rule for the user.
    pub field: Option<String>,
    /// A record: whether the operation reaches it.
    pub record: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupVerdictView {
    pub id: String,
    pub name: String,
    pub builtin: Option<&'static str>,
    /// Why the user is in the group: everyone, administrator, named, or
    /// department:<id>.
    #[schema(value_type = String)]
    pub membership: JsonValue,
    /// Everything the group grants on the table.
    pub operations: Vec<&'static str>,
    /// Whether it grants the operation asked about.
    pub grants_operation: bool,
    /// The group's field rules on the table, by field name.
    pub field_rules: BTreeMap<String, &'static str>,
    /// The rows it lets the operation reach.
    #[schema(value_type = Option<Object>)]
    pub rows: Option<JsonValue>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldVerdictView {
    pub name: String,
    /// hidden, read_only or read_write.
    pub rule: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ExplanationView {
    pub user: String,
    pub table: String,
    pub operation: &'static str,
    pub allowed: bool,
    /// Why not, when not allowed.
    pub denied_because: Option<String>,
    /// Every group the user belongs to, with what it contributes.
    pub groups: Vec<GroupVerdictView>,
    /// The row scopes that together make the rows the operation reaches.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<JsonValue>,
    pub field: Option<FieldVerdictView>,
    /// How many records the operation reaches now.
    pub reachable_rows: Option<i64>,
    /// Whether the record asked about is among them.
    pub record_within_scope: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewChange {
    pub user: String,
    pub login: String,
    pub table: String,
    pub table_name: String,
    pub gained: Vec<&'static str>,
    pub lost: Vec<&'static str>,
    pub fields_hidden: Vec<String>,
    pub fields_shown: Vec<String>,
    pub fields_read_only: Vec<String>,
    pub fields_writable: Vec<String>,
    pub readable_rows_before: Option<i64>,
    pub readable_rows_after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    /// Each user and table whose rights the change would alter.
    pub changes: Vec<PreviewChange>,
}

fn group_view(record: &GroupRecord) -> GroupView {
    let group = &record.group;
    GroupView {
        id: group.id.to_string(),
        name: group.name.clone(),
        description: record.description.clone(),
        builtin: group.builtin.map(|b| b.name()),
        members: serde_json::to_value(&group.members).unwrap_or_default(),
        grants: serde_json::to_value(&group.policy).unwrap_or_default(),
        version: record.version,
        updated_at: rfc3339(record.updated_at),
    }
}

async fn admin<'a>(
    state: &AppState,
    caller: &'a TenantCaller,
) -> Result<(TenantDb, &'a TenantSession), ApiError> {
    let (db, _) = open(state, caller, Action::ManageIdentity).await?;
    Ok((db, caller.session()?))
}

fn group_id(raw: &str) -> Result<GroupId, ApiError> {
    path_id("group", raw, GroupId::parse)
}

/// The tenant's permission groups, built-in ones first.
#[utoipa::path(get, path = "/api/v1/groups", security(("tenant_session" = []), ("access_token" = [])), tag = "groups",
    responses((status = 200, body = Vec<GroupView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    let (db, _) = admin(&state, &caller).await?;
    Ok(Json(
        db.list_groups().await?.iter().map(group_view).collect(),
    ))
}

/// Creates a group with its members and grants.
#[utoipa::path(post, path = "/api/v1/groups", security(("tenant_session" = []), ("access_token" = [])), tag = "groups", request_body = GroupInput,
    responses((status = 201, body = GroupView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let (db, _) = admin(&state, &caller).await?;
    let definition = groups::definition(&db, &body).await?;
    let group = db.create_group(&definition).await?;
    Ok((StatusCode::CREATED, Json(group_view(&group))))
}

/// One group.
#[utoipa::path(get, path = "/api/v1/groups/{group}", security(("tenant_session" = []), ("access_token" = [])), tag = "groups",
    params(("group" = String, Path, description = "Group id")),
    responses((status = 200, body = GroupView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_group(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    let (db, _) = admin(&state, &caller).await?;
    Ok(Json(group_view(&db.group(group_id(&raw)?).await?)))
}

/// Replaces a group's name, description, members and grants. The built-in
/// groups keep their memberships, and the admin group its grants.
#[utoipa::path(put, path = "/api/v1/groups/{group}", security(("tenant_session" = []), ("access_token" = [])), tag = "groups", request_body = GroupInput,
    params(("group" = String, Path, description = "Group id")),
    responses((status = 200, body = GroupView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_group(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<GroupInput>,
) -> Result<Json<GroupView>, ApiError> {
    let (db, _) = admin(&state, &caller).await?;
    let definition = groups::definition(&db, &body).await?;
    let group = db
        .update_group(group_id(&raw)?, body.version, &definition)
        .await?;
    Ok(Json(group_view(&group)))
}

/// Deletes a group (not a built-in one). Its members lose what it granted.
#[utoipa::path(delete, path = "/api/v1/groups/{group}", security(("tenant_session" = []), ("access_token" = [])), tag = "groups",
    params(("group" = String, Path, description = "Group id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (db, _) = admin(&state, &caller).await?;
    db.delete_group(group_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What saving this definition of the group would change, without saving
/// it: per user and table, operations gained and lost, fields hidden or
/// shown, made read-only or writable, and readable rows before and after.
#[utoipa::path(post, path = "/api/v1/groups/{group}/preview", security(("tenant_session" = []), ("access_token" = [])), tag = "groups", request_body = GroupInput,
    params(("group" = String, Path, description = "Group id")),
    responses((status = 200, body = PreviewView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn preview_group(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<GroupInput>,
) -> Result<Json<PreviewView>, ApiError> {
    let (db, session) = admin(&state, &caller).await?;
    let definition = groups::definition(&db, &body).await?;
    Ok(Json(
        groups::preview(&db, session, group_id(&raw)?, definition).await?,
    ))
}

/// Why a user may or may not do an operation on a table (and a field and
/// a record): each of their groups and what it contributes.
#[utoipa::path(get, path = "/api/v1/authz/explain", security(("tenant_session" = []), ("access_token" = [])), tag = "groups",
    params(ExplainQuery),
    responses((status = 200, body = ExplanationView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn explain(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<Json<ExplanationView>, ApiError> {
    let (db, session) = admin(&state, &caller).await?;
    Ok(Json(groups::explain_decision(&db, session, &query).await?))
}
