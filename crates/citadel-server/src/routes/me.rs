//! A user's own security: sessions, sign-in history, personal access
//! tokens, the TOTP second factor, recovery codes and notifications.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use citadel_core::{Action, DisplayName, EntryId, SessionId, TokenId};
use citadel_store::Page;

use crate::auth::TenantCaller;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::dto::Problem;
use crate::routes::identity_dto::{
    ConfirmTotpRequest, CreateTokenRequest, CreatedTokenView, LoginAttemptView, NotificationView,
    PageQuery, PasswordConfirmation, RecoveryCodesView, SessionView, TokenView, TotpEnrolmentView,
};
use crate::services::credentials;
use crate::state::AppState;

/// Converts paging parameters; a malformed cursor is a 400.
pub fn page(before: Option<&str>, limit: Option<u32>) -> Result<Page, ApiError> {
    let before = before
        .map(|b| path_id("before", b, EntryId::parse))
        .transpose()?;
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "limit: must be between 1 and 500".into(),
            field: Some("limit".into()),
        });
    }
    Ok(Page { before, limit })
}

/// The signed-in user's sessions, newest first; `current` marks this one.
#[utoipa::path(get, path = "/api/v1/me/sessions", security(("tenant_session" = [])), tag = "me",
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let entries = state
        .store()
        .tenant(&scope)
        .await?
        .list_sessions(session.user)
        .await?;
    Ok(Json(
        entries
            .iter()
            .map(|e| SessionView::new(e, session.session_hash()))
            .collect(),
    ))
}

/// Ends one of the signed-in user's sessions (another device's, or this one).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", security(("tenant_session" = [])), tag = "me",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let id = path_id("id", &id, SessionId::parse)?;
    credentials::revoke_session(&state, &scope, session, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's sign-in attempts, newest first.
#[utoipa::path(get, path = "/api/v1/me/login-history", security(("tenant_session" = []), ("access_token" = [])), tag = "me",
    params(PageQuery),
    responses((status = 200, body = Vec<LoginAttemptView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn login_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Vec<LoginAttemptView>>, ApiError> {
    let (scope, session) = caller.authorize(Action::TenantSelf)?;
    let page = page(query.before.as_deref(), query.limit)?;
    let attempts = state
        .store()
        .tenant(&scope)
        .await?
        .login_attempts(Some(session.user), &page)
        .await?;
    Ok(Json(attempts.iter().map(LoginAttemptView::from).collect()))
}

/// The signed-in user's personal access tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", security(("tenant_session" = [])), tag = "me",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let tokens = state
        .store()
        .tenant(&scope)
        .await?
        .list_access_tokens(session.user)
        .await?;
    Ok(Json(tokens.iter().map(TokenView::from).collect()))
}

/// Creates a personal access token for scripts, after the current
/// password. The secret is in this response only; the server keeps its
/// SHA-256. Tokens act as the user but cannot manage credentials.
#[utoipa::path(post, path = "/api/v1/me/tokens", security(("tenant_session" = [])), tag = "me", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedTokenView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedTokenView>), ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let name = DisplayName::parse(&body.name).map_err(|e| ApiError::invalid_field("name", e))?;
    let issued = credentials::create_access_token(
        &state,
        &scope,
        session,
        &client,
        name,
        body.expires_in_days,
        body.password.0,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenView {
            token: TokenView::from(&issued.record),
            secret: issued.token.expose().to_owned(),
        }),
    ))
}

/// Revokes one of the signed-in user's tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", security(("tenant_session" = [])), tag = "me",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let id = path_id("id", &id, TokenId::parse)?;
    state
        .store()
        .tenant(&scope)
        .await?
        .revoke_access_token(session.user, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts enrolling an authenticator app (RFC 6238 TOTP): returns the
/// `otpauth://` URI and the seed. Nothing changes until a code from the
/// new app is confirmed.
#[utoipa::path(post, path = "/api/v1/me/totp", security(("tenant_session" = [])), tag = "me",
    responses((status = 200, body = TotpEnrolmentView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn begin_totp(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<TotpEnrolmentView>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let enrolment = credentials::begin_totp(&state, &scope, session).await?;
    Ok(Json(TotpEnrolmentView {
        qr_svg: qr_svg(enrolment.otpauth_uri.expose()),
        otpauth_uri: enrolment.otpauth_uri.expose().to_owned(),
        secret: enrolment.secret_base32.expose().to_owned(),
    }))
}

/// Confirms the enrolment with the app's current code and the current
/// password; returns ten recovery codes, shown once.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", security(("tenant_session" = [])), tag = "me", request_body = ConfirmTotpRequest,
    responses((status = 200, body = RecoveryCodesView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ConfirmTotpRequest>,
) -> Result<Json<RecoveryCodesView>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let codes = credentials::confirm_totp(
        &state,
        &scope,
        session,
        &client,
        &body.code,
        body.password.0,
    )
    .await?;
    Ok(Json(RecoveryCodesView {
        recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
    }))
}

/// Removes the second factor, after the current password; refused while
/// the tenant's policy requires one.
#[utoipa::path(delete, path = "/api/v1/me/totp", security(("tenant_session" = [])), tag = "me", request_body = PasswordConfirmation,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn remove_totp(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    credentials::remove_totp(&state, &scope, session, &client, body.password.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes (after the current password); the old
/// ones stop working.
#[utoipa::path(post, path = "/api/v1/me/recovery-codes", security(("tenant_session" = [])), tag = "me", request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodesView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<Json<RecoveryCodesView>, ApiError> {
    let (scope, session) = caller.authorize(Action::ManageOwnCredentials)?;
    let codes =
        credentials::regenerate_recovery_codes(&state, &scope, session, &client, body.password.0)
            .await?;
    Ok(Json(RecoveryCodesView {
        recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
    }))
}

/// The signed-in user's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/me/notifications", security(("tenant_session" = []), ("access_token" = [])), tag = "me",
    params(PageQuery),
    responses((status = 200, body = Vec<NotificationView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let (scope, session) = caller.authorize(Action::TenantSelf)?;
    let page = page(query.before.as_deref(), query.limit)?;
    let list = state
        .store()
        .tenant(&scope)
        .await?
        .notifications(session.user, &page)
        .await?;
    Ok(Json(list.iter().map(NotificationView::from).collect()))
}

/// Marks a notification read.
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", security(("tenant_session" = []), ("access_token" = [])), tag = "me",
    params(("id" = String, Path, description = "Notification id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn read_notification(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::TenantSelf)?;
    let id = path_id("id", &id, EntryId::parse)?;
    state
        .store()
        .tenant(&scope)
        .await?
        .mark_notification_read(session.user, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `otpauth://` URI as a QR code in SVG, drawn here so the secret
/// never goes to a third-party service or script.
fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg =
            super::qr_svg("otpauth://totp/Citadel:bob?secret=JBSWY3DPEHPK3PXP&issuer=Citadel");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(!svg.contains("JBSWY3DP"), "the seed is drawn, not written");
    }
}
