//! Tenant admins manage the tenant's users and departments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::{
    Action, DepartmentId, DisplayName, Duties, Email, LoginName, UserId, UserStatus,
};
use citadel_store::UserChanges;

use crate::audit::AuditNote;
use crate::auth::TenantCaller;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, path_id};
use crate::routes::dto::{Problem, UserView};
use crate::routes::identity_dto::{
    CreateDepartmentRequest, CreateUserRequest, CreatedUserView, DepartmentView,
    OneTimePasswordView, UpdateDepartmentRequest, UpdateUserRequest,
};
use crate::services::accounts::{self, AdminContext, DutyChanges, NewAccount};
use crate::state::AppState;

fn department(field: &'static str, raw: Option<&str>) -> Result<Option<DepartmentId>, ApiError> {
    raw.map(|d| path_id(field, d, DepartmentId::parse))
        .transpose()
}

fn display_name(field: &'static str, raw: Option<&str>) -> Result<Option<DisplayName>, ApiError> {
    raw.map(|n| DisplayName::parse(n).map_err(|e| ApiError::invalid_field(field, e)))
        .transpose()
}

/// The tenant's users.
#[utoipa::path(get, path = "/api/v1/users", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let users = state.store().tenant(&scope).await?.list_users().await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// Creates a user with a one-time password (shown once) that must be
/// changed at first sign-in. Needs a signed-in session (not a token).
#[utoipa::path(post, path = "/api/v1/users", security(("tenant_session" = []), ("access_token" = [])), tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUserView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    note: AuditNote,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreatedUserView>), ApiError> {
    let (scope, session) = caller.authorize(Action::AdministerCredentials)?;
    if body.is_admin || body.security_admin || body.audit_admin {
        note.escalation();
    }
    let account = NewAccount {
        login: LoginName::parse(&body.login).map_err(|e| ApiError::invalid_field("login", e))?,
        email: Email::parse(&body.email).map_err(|e| ApiError::invalid_field("email", e))?,
        display_name: display_name("display_name", body.display_name.as_deref())?,
        department: department("department_id", body.department_id.as_deref())?,
        duties: Duties {
            system: body.is_admin,
            security: body.security_admin,
            audit: body.audit_admin,
        },
        combine_duties: body.combine_duties,
    };
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    let created = accounts::create_user(&state, &ctx, account).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUserView {
            user: UserView::from(&created.user),
            one_time_password: created.one_time_password.expose().to_owned(),
        }),
    ))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let id = path_id("id", &id, UserId::parse)?;
    let user = state
        .store()
        .tenant(&scope)
        .await?
        .find_user(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(UserView::from(&user)))
}

/// Changes a user: email, display name, department, admin right, or
/// status (`disabled` ends their sessions and stops their tokens). Admin
/// right and status need a signed-in session (not a token).
#[utoipa::path(patch, path = "/api/v1/users/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "users", request_body = UpdateUserRequest,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    note: AuditNote,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserView>, ApiError> {
    if [body.is_admin, body.security_admin, body.audit_admin].contains(&Some(true)) {
        note.escalation();
    }
    // Admin rights and account status decide who gets in: a session is
    // needed for those, a profile edit may come from a script's token.
    let action = if body.is_admin.is_some()
        || body.security_admin.is_some()
        || body.audit_admin.is_some()
        || body.protected.is_some()
        || body.status.is_some()
    {
        Action::AdministerCredentials
    } else {
        Action::ManageIdentity
    };
    let (scope, session) = caller.authorize(action)?;
    let id = path_id("id", &id, UserId::parse)?;
    let changes = UserChanges {
        email: body
            .email
            .as_deref()
            .map(|e| Email::parse(e).map_err(|e| ApiError::invalid_field("email", e)))
            .transpose()?,
        display_name: body
            .display_name
            .map(|n| display_name("display_name", n.as_deref()))
            .transpose()?,
        department: body
            .department_id
            .map(|d| department("department_id", d.as_deref()))
            .transpose()?,
        duties: None,
        protected: body.protected,
        status: body
            .status
            .as_deref()
            .map(|s| UserStatus::parse(s).map_err(|e| ApiError::invalid_field("status", e)))
            .transpose()?,
    };
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    let duties = DutyChanges {
        system: body.is_admin,
        security: body.security_admin,
        audit: body.audit_admin,
        combine: body.combine_duties,
    };
    let user = accounts::update_user(&ctx, id, changes, duties).await?;
    Ok(Json(UserView::from(&user)))
}

/// Lifts a lock after failed sign-ins.
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageIdentity)?;
    let id = path_id("id", &id, UserId::parse)?;
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    accounts::unlock_user(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a new one-time password (shown once) for another user, to be
/// changed at the next sign-in; ends the user's sessions, revokes their
/// access tokens and lifts a lock. Needs a signed-in session (not a token).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = OneTimePasswordView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<Json<OneTimePasswordView>, ApiError> {
    let (scope, session) = caller.authorize(Action::AdministerCredentials)?;
    let id = path_id("id", &id, UserId::parse)?;
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    let password = accounts::reset_password(&state, &ctx, id).await?;
    Ok(Json(OneTimePasswordView {
        one_time_password: password.expose().to_owned(),
    }))
}

/// Removes another user's second factor (a lost phone); they enrol again.
/// Needs a signed-in session (not a token).
#[utoipa::path(delete, path = "/api/v1/users/{id}/totp", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_totp(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::AdministerCredentials)?;
    let id = path_id("id", &id, UserId::parse)?;
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    accounts::reset_totp(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The department tree, as a flat list with parent ids.
#[utoipa::path(get, path = "/api/v1/departments", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    responses((status = 200, body = Vec<DepartmentView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_departments(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<DepartmentView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let list = state
        .store()
        .tenant(&scope)
        .await?
        .list_departments()
        .await?;
    Ok(Json(list.iter().map(DepartmentView::from).collect()))
}

/// Creates a department, at the root or under a parent.
#[utoipa::path(post, path = "/api/v1/departments", security(("tenant_session" = []), ("access_token" = [])), tag = "users", request_body = CreateDepartmentRequest,
    responses((status = 201, body = DepartmentView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_department(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CreateDepartmentRequest>,
) -> Result<(StatusCode, Json<DepartmentView>), ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let name = DisplayName::parse(&body.name).map_err(|e| ApiError::invalid_field("name", e))?;
    let parent = department("parent_id", body.parent_id.as_deref())?;
    let created = state
        .store()
        .tenant(&scope)
        .await?
        .create_department(&name, parent)
        .await?;
    Ok((StatusCode::CREATED, Json(DepartmentView::from(&created))))
}

/// Renames or moves a department; a move under its own subtree is 409.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "users", request_body = UpdateDepartmentRequest,
    params(("id" = String, Path, description = "Department id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_department(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDepartmentRequest>,
) -> Result<StatusCode, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let id = path_id("id", &id, DepartmentId::parse)?;
    let name = display_name("name", body.name.as_deref())?;
    let parent = body
        .parent_id
        .map(|p| department("parent_id", p.as_deref()))
        .transpose()?;
    state
        .store()
        .tenant(&scope)
        .await?
        .update_department(id, name.as_ref(), parent)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an empty department (no members, no sub-departments).
#[utoipa::path(delete, path = "/api/v1/departments/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "users",
    params(("id" = String, Path, description = "Department id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_department(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let id = path_id("id", &id, DepartmentId::parse)?;
    state
        .store()
        .tenant(&scope)
        .await?
        .delete_department(id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
