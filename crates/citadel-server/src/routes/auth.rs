//! A tenant user's sign-in, sign-out, password change and identity.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use citadel_core::{Action, Principal};

use crate::audit::AuditNote;
use crate::auth::{TENANT_COOKIE, TenantCaller, clear_cookie, session_cookie};
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::dto::{
    ChangePasswordRequest, LoginRequest, Problem, SignedIn, TenantBrief, UserView, pending_name,
};
use crate::services::credentials;
use crate::services::login::{self, LoginInput};
use crate::services::sessions::{self, Proof};
use crate::state::AppState;

/// Signs a tenant user in with tenant slug, login name, password and, when
/// the user enrolled a second factor, a TOTP code or a recovery code. Sets
/// the `citadel_session` cookie and returns the anti-CSRF token. Unknown
/// tenant, unknown login, wrong password and a locked account all answer
/// the same 401. Too many failures from one address answer 429.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SignedIn), (status = 400, body = Problem),
        (status = 401, body = Problem, description = "invalid_credentials, second_factor_required or invalid_second_factor"),
        (status = 403, body = Problem, description = "account_disabled, ip_banned or tenant_suspended"),
        (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    note: AuditNote,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let input = LoginInput {
        tenant: body.tenant,
        login: body.login,
        password: body.password.0,
        totp_code: body.totp_code,
        recovery_code: body.recovery_code.map(|c| c.0),
    };
    let signed = login::tenant_login(&state, &client, &note, input).await?;
    let cookie = session_cookie(TENANT_COOKIE, signed.cookie_value.expose())?;
    let body = SignedIn {
        user: UserView::from(&signed.user),
        tenant: TenantBrief::from(&signed.tenant),
        csrf_token: Some(signed.csrf_token),
        pending: pending_name(signed.pending),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("tenant_session" = [])), tag = "auth",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
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

/// Changes the signed-in user's password. Policy: at least 10 characters,
/// three character classes, not containing the login, none of the last
/// passwords (5 by default). Ends the user's other sessions.
#[utoipa::path(post, path = "/api/v1/auth/password", security(("tenant_session" = [])), tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ChangeOwnPassword)?;
    credentials::change_password(
        &state,
        &scope,
        session,
        &client,
        body.current_password.0,
        body.new_password.0,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user, their tenant, what they must do first, and (for a
/// cookie session) the anti-CSRF token.
#[utoipa::path(get, path = "/api/v1/me", security(("tenant_session" = []), ("access_token" = [])), tag = "auth",
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
    // Authentication decided the pending step from the account and the
    // policy on this very request.
    let pending = match &session.principal {
        Principal::TenantUser { pending, .. } => *pending,
        _ => citadel_core::Pending::Nothing,
    };
    Ok(Json(SignedIn {
        pending: pending_name(pending),
        user: UserView::from(&user),
        tenant: TenantBrief::from(&session.tenant),
        csrf_token: match &session.proof {
            Proof::Session { csrf_token, .. } => Some(csrf_token.clone()),
            Proof::AccessToken { .. } => None,
        },
    }))
}
