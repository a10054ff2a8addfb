//! The HTTP surface: every route, its OpenAPI description, and the layers
//! every request passes through.

pub mod apps;
pub mod audit;
pub mod audit_dto;
pub mod auth;
pub mod crypto;
pub mod data_dto;
pub mod dto;
pub mod fields;
pub mod groups;
pub mod health;
pub mod identity_dto;
pub mod keys;
pub mod me;
pub mod platform;
pub mod records;
pub mod security;
pub mod support;
pub mod transfer;
pub mod users;
pub mod views;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Router, middleware as axum_mw};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::problem_response;
use crate::middleware;
use crate::state::AppState;

/// The two session cookies and the personal access token, as OpenAPI
/// security schemes; each protected operation names the ones it accepts.
struct SessionCookies;

impl utoipa::Modify for SessionCookies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (scheme, cookie, what) in [
            (
                "tenant_session",
                crate::auth::TENANT_COOKIE,
                "A tenant user's session, set by POST /api/v1/auth/login.",
            ),
            (
                "operator_session",
                crate::auth::OPERATOR_COOKIE,
                "A platform operator's session, set by POST /api/v1/platform/login.",
            ),
        ] {
            components.add_security_scheme(
                scheme,
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(cookie, what))),
            );
        }
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal access token (`citadel_pat_…`) from POST /api/v1/me/tokens.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&SessionCookies),
    // Answered in place of `RecordsView` under `Prefer: return=minimal`,
    // so no route names it as its body.
    components(schemas(crate::routes::data_dto::RecordRefsView, crate::routes::data_dto::RecordRef)),
    info(title = "Citadel API", description = "Citadel: a privately deployable, multi-tenant no-code business platform."),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this specification"),
        (name = "platform", description = "Platform operators: bootstrap and the tenant registry"),
        (name = "auth", description = "Tenant users: sign-in, sessions, password"),
        (name = "me", description = "A user's own sessions, tokens, second factor, history and notifications"),
        (name = "users", description = "Tenant admins: users and departments"),
        (name = "security", description = "Tenant admins: IP bans, security policy, security events, sign-in history"),
        (name = "apps", description = "Apps, their tables and the recycle bin"),
        (name = "fields", description = "Tenant admins: online changes to a table's fields"),
        (name = "records", description = "Records: single and batch writes, listing with filters and cursors, history"),
        (name = "crypto", description = "The signing service: sign, verify and digest with the tenant's own keys (Ed25519/SHA-256 or SM2/SM3 by its suite)"),
        (name = "groups", description = "Tenant admins: permission groups, previews of their changes, explanations of decisions"),
        (name = "support", description = "Support access: tenants grant a named operator time-limited, read-only, audited access"),
        (name = "views", description = "Saved views of a table, personal or shared"),
        (name = "audit", description = "Audit administrators: the tamper-evident audit log, its signed tree heads, RFC 9162 proofs, the audit key, verification and CSV export; operators: the platform's own events"),
        (name = "transfer", description = "Import of records from CSV and XLSX (dry run, then all or nothing) and export of a table, view or filter")
    )
)]
struct ApiDoc;

/// The serialized specification, built once at start.
#[derive(Clone)]
struct Spec(Arc<Vec<u8>>);

/// This specification (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi_json(Extension(spec): Extension<Spec>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        spec.0.as_ref().clone(),
    )
}

async fn not_found() -> impl IntoResponse {
    problem_response(StatusCode::NOT_FOUND, "not_found", "no such resource")
}

/// Every route with its documentation, before layers and state.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(keys::key_status))
        .routes(routes!(keys::rotate))
        .routes(routes!(crypto::sign))
        .routes(routes!(crypto::verify))
        .routes(routes!(crypto::digest))
        .routes(routes!(crypto::public_key))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(platform::bootstrap))
        .routes(routes!(platform::operator_login))
        .routes(routes!(platform::operator_logout))
        .routes(routes!(platform::list_operators, platform::create_operator))
        .routes(routes!(platform::list_tenants, platform::create_tenant))
        .routes(routes!(platform::get_tenant, platform::destroy_tenant))
        .routes(routes!(platform::suspend_tenant))
        .routes(routes!(platform::resume_tenant))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::me))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(me::login_history))
        .routes(routes!(me::list_tokens, me::create_token))
        .routes(routes!(me::revoke_token))
        .routes(routes!(me::begin_totp, me::remove_totp))
        .routes(routes!(me::confirm_totp))
        .routes(routes!(me::regenerate_recovery_codes))
        .routes(routes!(me::notifications))
        .routes(routes!(me::read_notification))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(users::unlock_user))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::reset_totp))
        .routes(routes!(users::list_departments, users::create_department))
        .routes(routes!(users::update_department, users::delete_department))
        .routes(routes!(security::list_bans, security::create_ban))
        .routes(routes!(security::delete_ban))
        .routes(routes!(security::get_policy, security::put_policy))
        .routes(routes!(security::security_events))
        .routes(routes!(security::login_history))
        .routes(routes!(apps::list_apps, apps::create_app))
        .routes(routes!(apps::get_app, apps::update_app, apps::delete_app))
        .routes(routes!(apps::restore_app))
        .routes(routes!(apps::list_tables, apps::create_table))
        .routes(routes!(
            apps::get_table,
            apps::update_table,
            apps::delete_table
        ))
        .routes(routes!(apps::restore_table))
        .routes(routes!(apps::recycle_bin))
        .routes(routes!(fields::add_field))
        .routes(routes!(fields::update_field, fields::delete_field))
        .routes(routes!(fields::reorder_fields))
        .routes(routes!(fields::change_field_type))
        .routes(routes!(records::list_records, records::create_record))
        .routes(routes!(
            records::get_record,
            records::update_record,
            records::delete_record
        ))
        .routes(routes!(records::record_history))
        .routes(routes!(records::create_records, records::update_records))
        .routes(routes!(records::delete_records))
        .routes(routes!(views::list_views, views::create_view))
        .routes(routes!(
            views::get_view,
            views::update_view,
            views::delete_view
        ))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(
            groups::get_group,
            groups::update_group,
            groups::delete_group
        ))
        .routes(routes!(groups::preview_group))
        .routes(routes!(groups::explain))
        .routes(routes!(support::list_grants, support::create_grant))
        .routes(routes!(support::revoke_grant))
        .routes(routes!(support::support_apps))
        .routes(routes!(support::support_records))
        .routes(routes!(support::support_record))
        .routes(routes!(transfer::import_records))
        .routes(routes!(transfer::export_records))
        .routes(routes!(audit::events))
        .routes(routes!(audit::export))
        .routes(routes!(audit::tree_head))
        .routes(routes!(audit::inclusion_proof))
        .routes(routes!(audit::consistency_proof))
        .routes(routes!(audit::public_key))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::platform_events))
        .routes(routes!(audit::get_policy, audit::put_policy))
}

/// The OpenAPI document of every route the server has.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().split_for_parts().1
}

/// The complete application: routes, state, and the layers every request
/// passes through, outermost first.
pub fn app(state: AppState) -> Router {
    let (router, api) = documented_routes().split_for_parts();
    let spec = Spec(Arc::new(serde_json::to_vec(&api).unwrap_or_default()));
    let max_body = state.settings().max_body_bytes;
    let layers = ServiceBuilder::new()
        .layer(axum_mw::map_response(middleware::security_headers))
        .layer(axum_mw::from_fn(middleware::no_store))
        .layer(CatchPanicLayer::custom(|_| {
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred",
            )
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(middleware::request_span))
        .layer(axum_mw::from_fn(middleware::problem_for_bare_errors))
        .layer(axum_mw::from_fn_with_state(
            state.clone(),
            middleware::track,
        ))
        .layer(axum_mw::from_fn(middleware::deadline))
        .layer(axum_mw::from_fn_with_state(
            state.clone(),
            crate::audit::record,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(Extension(spec));
    router
        .merge(crate::ui::routes())
        .fallback(not_found)
        .layer(layers)
        .with_state(state)
}
