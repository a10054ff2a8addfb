//! The security console: IP bans and the security policy (security
//! administrators), security events and everyone's sign-in history (audit
//! administrators).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::{Action, EntryId, IpPrefix, UserId};

use crate::auth::TenantCaller;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::dto::Problem;
use crate::routes::identity_dto::{
    BanView, CreateBanRequest, HistoryQuery, LoginAttemptView, PageQuery, SecurityEventView,
    SecurityPolicyBody,
};
use crate::routes::me::page;
use crate::services::accounts::{self, AdminContext};
use crate::state::AppState;

/// Banned addresses and networks.
#[utoipa::path(get, path = "/api/v1/ip-bans", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    responses((status = 200, body = Vec<BanView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_bans(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<BanView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageSecurity)?;
    let bans = state.store().tenant(&scope).await?.list_ip_bans().await?;
    Ok(Json(bans.iter().map(BanView::from).collect()))
}

/// Bans an address or a CIDR network from signing in to this tenant. A
/// ban covering the admin's own address is refused.
#[utoipa::path(post, path = "/api/v1/ip-bans", security(("tenant_session" = []), ("access_token" = [])), tag = "security", request_body = CreateBanRequest,
    responses((status = 201, body = BanView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_ban(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CreateBanRequest>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let (scope, session) = caller.authorize(Action::ManageSecurity)?;
    let prefix: IpPrefix = body
        .prefix
        .parse()
        .map_err(|e| ApiError::invalid_field("prefix", e))?;
    if body.reason.chars().count() > 500 {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "reason: at most 500 characters".into(),
            field: Some("reason".into()),
        });
    }
    if body.expires_in_minutes == Some(0) {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "expires_in_minutes: must be at least 1".into(),
            field: Some("expires_in_minutes".into()),
        });
    }
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    let ban = accounts::ban(&ctx, prefix, body.reason, body.expires_in_minutes).await?;
    Ok((StatusCode::CREATED, Json(BanView::from(&ban))))
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/api/v1/ip-bans/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    params(("id" = String, Path, description = "Ban id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_ban(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageSecurity)?;
    let id = path_id("id", &id, EntryId::parse)?;
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    accounts::unban(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's security policy.
#[utoipa::path(get, path = "/api/v1/security-policy", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    responses((status = 200, body = SecurityPolicyBody), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<SecurityPolicyBody>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageSecurity)?;
    let policy = state
        .store()
        .tenant(&scope)
        .await?
        .security_policy()
        .await?;
    Ok(Json(policy.into()))
}

/// Replaces the tenant's security policy (password age and history,
/// lockout, who must use a second factor).
#[utoipa::path(put, path = "/api/v1/security-policy", security(("tenant_session" = []), ("access_token" = [])), tag = "security", request_body = SecurityPolicyBody,
    responses((status = 200, body = SecurityPolicyBody), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<SecurityPolicyBody>,
) -> Result<Json<SecurityPolicyBody>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageSecurity)?;
    let ctx = AdminContext::open(&state, &scope, session, client.ip).await?;
    let policy = body
        .try_into()
        .map_err(|e| ApiError::invalid_field("require_totp", e))?;
    let saved = accounts::set_policy(&ctx, policy).await?;
    Ok(Json(saved.into()))
}

/// Security events (unusual sign-ins, lockouts, admin changes), newest first.
#[utoipa::path(get, path = "/api/v1/security-events", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    params(PageQuery),
    responses((status = 200, body = Vec<SecurityEventView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn security_events(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Vec<SecurityEventView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let page = page(query.before.as_deref(), query.limit)?;
    let events = state
        .store()
        .tenant(&scope)
        .await?
        .security_events(&page)
        .await?;
    Ok(Json(events.iter().map(SecurityEventView::from).collect()))
}

/// Every sign-in attempt of the tenant, or one user's, newest first.
#[utoipa::path(get, path = "/api/v1/login-history", security(("tenant_session" = []), ("access_token" = [])), tag = "security",
    params(HistoryQuery),
    responses((status = 200, body = Vec<LoginAttemptView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn login_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<LoginAttemptView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let user = query
        .user_id
        .as_deref()
        .map(|u| path_id("user_id", u, UserId::parse))
        .transpose()?;
    let page = page(query.before.as_deref(), query.limit)?;
    let attempts = state
        .store()
        .tenant(&scope)
        .await?
        .login_attempts(user, &page)
        .await?;
    Ok(Json(attempts.iter().map(LoginAttemptView::from).collect()))
}
