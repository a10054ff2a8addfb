//! The platform operator's API: bootstrap, sign-in, the operators and the
//! tenant registry. Operators manage tenants; they never read tenant data.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use citadel_core::{Action, CryptoSuite, Email, LoginName, TenantSlug, TenantStatus};
use citadel_crypto::token::csrf_token;

use crate::audit::AuditNote;
use crate::auth::{OPERATOR_COOKIE, OperatorCaller, clear_cookie, session_cookie};
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::dto::{
    BootstrapRequest, CreateOperatorRequest, CreateTenantRequest, CreatedTenantView,
    DestroyTenantRequest, OperatorLoginRequest, OperatorSignedIn, OperatorSummaryView,
    OperatorView, Problem, TenantView,
};
use crate::services::{sessions, tenants};
use crate::state::AppState;

fn slug_from_path(slug: &str) -> Result<TenantSlug, ApiError> {
    TenantSlug::parse(slug).map_err(|e| ApiError::invalid_field("slug", e))
}

/// Creates the first platform operator with the one-time bootstrap token.
#[utoipa::path(post, path = "/api/v1/platform/bootstrap", tag = "platform", request_body = BootstrapRequest,
    responses((status = 201, body = OperatorView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn bootstrap(
    State(state): State<AppState>,
    note: AuditNote,
    ApiJson(body): ApiJson<BootstrapRequest>,
) -> Result<impl IntoResponse, ApiError> {
    note.trail(state.store().platform_audit());
    let login = LoginName::parse(&body.login).map_err(|e| ApiError::invalid_field("login", e))?;
    note.detail("login", login.as_str());
    let id =
        sessions::bootstrap_operator(&state, body.token.0.expose(), login, body.password.0).await?;
    Ok((
        StatusCode::CREATED,
        Json(OperatorView { id: id.to_string() }),
    ))
}

/// Signs a platform operator in; sets the `citadel_operator` session
/// cookie and returns the session's anti-CSRF token.
#[utoipa::path(post, path = "/api/v1/platform/login", tag = "platform", request_body = OperatorLoginRequest,
    responses((status = 200, body = OperatorSignedIn), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn operator_login(
    State(state): State<AppState>,
    Client(client): Client,
    note: AuditNote,
    ApiJson(body): ApiJson<OperatorLoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    note.trail(state.store().platform_audit());
    // The login tried, if it is one (as the tenant sign-in records it).
    if let Ok(login) = LoginName::parse(&body.login) {
        note.detail("login", login.as_str());
    }
    let token = sessions::operator_login(&state, client.ip, &body.login, body.password.0).await?;
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie(OPERATOR_COOKIE, token.expose())?,
        )],
        Json(OperatorSignedIn {
            csrf_token: csrf_token(token.expose()),
        }),
    ))
}

/// Ends the operator's session.
#[utoipa::path(post, path = "/api/v1/platform/logout", security(("operator_session" = [])), tag = "platform",
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn operator_logout(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<impl IntoResponse, ApiError> {
    let scope = caller.authorize_self(Action::OperatorSelf)?;
    if let Some((_, hash)) = caller.0 {
        state.store().delete_operator_session(&scope, &hash).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(OPERATOR_COOKIE))],
    ))
}

/// Lists tenants (registry data only).
#[utoipa::path(get, path = "/api/v1/platform/tenants", security(("operator_session" = [])), tag = "platform",
    responses((status = 200, body = Vec<TenantView>), (status = 401, body = Problem)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<Json<Vec<TenantView>>, ApiError> {
    let scope = caller.authorize(Action::ManageTenants)?;
    let tenants = state.store().list_tenants(&scope).await?;
    Ok(Json(tenants.iter().map(TenantView::from).collect()))
}

/// Creates a tenant with its own database and its first admin, whose
/// one-time password is in the response and nowhere else.
#[utoipa::path(post, path = "/api/v1/platform/tenants", security(("operator_session" = [])), tag = "platform", request_body = CreateTenantRequest,
    responses((status = 201, body = CreatedTenantView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: OperatorCaller,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let scope = caller.authorize(Action::ManageTenants)?;
    let slug = TenantSlug::parse(&body.slug).map_err(|e| ApiError::invalid_field("slug", e))?;
    let email =
        Email::parse(&body.admin_email).map_err(|e| ApiError::invalid_field("admin_email", e))?;
    let suite = match body.suite.as_deref() {
        None => CryptoSuite::default(),
        Some(s) => CryptoSuite::parse(s).map_err(|e| ApiError::invalid_field("suite", e))?,
    };
    let (created, one_time) = tenants::create_tenant(
        state.store(),
        state.passwords(),
        &scope,
        &slug,
        suite,
        email,
    )
    .await?;
    let view = CreatedTenantView {
        tenant: TenantView::from(&created.tenant),
        admin_login: created.admin_login,
        one_time_password: one_time.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// One tenant's registry entry.
#[utoipa::path(get, path = "/api/v1/platform/tenants/{slug}", security(("operator_session" = [])), tag = "platform",
    params(("slug" = String, Path)),
    responses((status = 200, body = TenantView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    caller.authorize(Action::ManageTenants)?;
    let slug = slug_from_path(&slug)?;
    let tenant = state
        .store()
        .find_tenant_by_slug(&slug)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    Ok(Json(TenantView::from(&tenant)))
}

async fn set_status(
    state: &AppState,
    caller: &OperatorCaller,
    slug: &str,
    status: TenantStatus,
) -> Result<Json<TenantView>, ApiError> {
    let scope = caller.authorize(Action::ManageTenants)?;
    let slug = slug_from_path(slug)?;
    let tenant = state
        .store()
        .set_tenant_status(&scope, &slug, status)
        .await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Suspends a tenant: its users can no longer sign in or use sessions.
#[utoipa::path(post, path = "/api/v1/platform/tenants/{slug}/suspend", security(("operator_session" = [])), tag = "platform",
    params(("slug" = String, Path)),
    responses((status = 200, body = TenantView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn suspend_tenant(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &caller, &slug, TenantStatus::Suspended).await
}

/// Resumes a suspended tenant.
#[utoipa::path(post, path = "/api/v1/platform/tenants/{slug}/resume", security(("operator_session" = [])), tag = "platform",
    params(("slug" = String, Path)),
    responses((status = 200, body = TenantView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn resume_tenant(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_status(&state, &caller, &slug, TenantStatus::Active).await
}

/// Destroys a tenant and all its data, irreversibly. The body must repeat
/// the slug.
#[utoipa::path(delete, path = "/api/v1/platform/tenants/{slug}", security(("operator_session" = [])), tag = "platform",
    params(("slug" = String, Path)), request_body = DestroyTenantRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn destroy_tenant(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<DestroyTenantRequest>,
) -> Result<StatusCode, ApiError> {
    let scope = caller.authorize(Action::ManageTenants)?;
    let slug = slug_from_path(&slug)?;
    if body.confirm != slug.as_str() {
        return Err(ApiError::BadRequest {
            code: "confirmation_mismatch",
            detail: "confirm must repeat the tenant's slug exactly".into(),
            field: Some("confirm".into()),
        });
    }
    // Run to the end on its own task: a client that gives up, or the
    // request timeout, must not stop a destroy half-way.
    let store = state.store_arc();
    tokio::spawn(async move { store.destroy_tenant(&scope, &slug).await })
        .await
        .map_err(|e| ApiError::Internal(format!("destroy task: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}

/// The platform's operators.
#[utoipa::path(get, path = "/api/v1/platform/operators", security(("operator_session" = [])), tag = "platform",
    responses((status = 200, body = Vec<OperatorSummaryView>), (status = 401, body = Problem)))]
pub async fn list_operators(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<Json<Vec<OperatorSummaryView>>, ApiError> {
    let scope = caller.authorize(Action::ManageOperators)?;
    let operators = state.store().list_operators(&scope).await?;
    Ok(Json(
        operators.iter().map(OperatorSummaryView::from).collect(),
    ))
}

/// Adds a platform operator with a login and a password (the password
/// policy applies); they may sign in at once. The acting operator confirms
/// with their own password (401 when it is wrong; attempts are throttled
/// per address like sign-ins).
#[utoipa::path(post, path = "/api/v1/platform/operators", security(("operator_session" = [])), tag = "platform", request_body = CreateOperatorRequest,
    responses((status = 201, body = OperatorView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn create_operator(
    State(state): State<AppState>,
    Client(client): Client,
    caller: OperatorCaller,
    note: AuditNote,
    ApiJson(body): ApiJson<CreateOperatorRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let scope = caller.authorize(Action::ManageOperators)?;
    let (acting, _) = caller.0.ok_or(ApiError::Unauthenticated)?;
    let login = LoginName::parse(&body.login).map_err(|e| ApiError::invalid_field("login", e))?;
    note.detail("login", login.as_str());
    let input = sessions::NewOperatorInput {
        acting,
        ip: client.ip,
        current_password: body.current_password.0,
        login,
        password: body.password.0,
    };
    let id = sessions::add_operator(&state, &scope, input).await?;
    note.target("operator", id);
    Ok((
        StatusCode::CREATED,
        Json(OperatorView { id: id.to_string() }),
    ))
}
