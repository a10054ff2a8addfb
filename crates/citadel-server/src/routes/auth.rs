//! A tenant user's sign-in, sign-out, password change and identity.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use citadel_core::Action;

use crate::auth::{TENANT_COOKIE, TenantCaller, clear_cookie, session_cookie};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::dto::{
    ChangePasswordRequest, LoginRequest, Problem, SignedIn, TenantBrief, UserView,
};
use crate::services::sessions;
use crate::state::AppState;

/// Signs a tenant user in with tenant slug, login name and password; sets
/// the `citadel_session` cookie. A user with a one-time password must
/// change it before doing anything else.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SignedIn), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let signed = sessions::tenant_login(&state, &body.tenant, &body.login, body.password.0).await?;
    let cookie = session_cookie(TENANT_COOKIE, signed.cookie_value.expose())?;
    let body = SignedIn {
        user: UserView::from(&signed.user),
        tenant: TenantBrief::from(&signed.tenant),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("tenant_session" = [])), tag = "auth",
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<impl IntoResponse, ApiError> {
    let (scope, session) = caller.authorize(Action::TenantSelf)?;
    sessions::tenant_logout(&state, &scope, session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(TENANT_COOKIE))],
    ))
}

/// Changes the signed-in user's password (policy: at least 10 characters,
/// three character classes, not containing the login). Ends the user's
/// other sessions.
#[utoipa::path(post, path = "/api/v1/auth/password", security(("tenant_session" = [])), tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ChangeOwnPassword)?;
    sessions::change_password(
        &state,
        &scope,
        session,
        body.current_password.0,
        body.new_password.0,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and their tenant.
#[utoipa::path(get, path = "/api/v1/me", security(("tenant_session" = [])), tag = "auth",
    responses((status = 200, body = SignedIn), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<SignedIn>, ApiError> {
    let (scope, session) = caller.authorize(Action::TenantSelf)?;
    let user = state
        .store()
        .tenant(&scope)
        .await?
        .find_user(session.user)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Json(SignedIn {
        user: UserView::from(&user),
        tenant: TenantBrief::from(&session.tenant),
    }))
}
