//! The web interface: server-rendered pages in Chinese or English, with
//! small scripts that make changes through the JSON API (so every change
//! passes the same authorization, validation and audit as an API call).
//! Pages read through the same services as the API's reads.

mod frame;
mod pages_admin;
mod pages_apps;
mod pages_auth;
mod pages_records;
mod pages_tenant_admin;
mod pages_tenant_groups;
pub mod render;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

use crate::state::AppState;

/// Every page of the interface and its assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/apps") }))
        .route("/assets/{version}/{name}", get(asset))
        .route("/sign-in", get(pages_auth::sign_in))
        .route("/password", get(pages_auth::password))
        .route("/account", get(pages_admin::account))
        .route("/apps", get(pages_apps::apps))
        .route("/apps/{app}", get(pages_apps::app))
        .route("/recycle-bin", get(pages_apps::recycle_bin))
        .route("/tables/{table}", get(pages_records::grid))
        .route("/tables/{table}/schema", get(pages_apps::schema))
        .route("/tables/{table}/new", get(pages_records::new_record))
        .route("/tables/{table}/import", get(pages_records::import))
        .route(
            "/tables/{table}/records/{record}",
            get(pages_records::record),
        )
        .route("/admin/audit", get(pages_admin::audit))
        .route("/admin/users", get(pages_tenant_admin::users))
        .route("/admin/departments", get(pages_tenant_admin::departments))
        .route("/admin/groups", get(pages_tenant_groups::groups))
        .route("/admin/groups/{group}", get(pages_tenant_groups::group))
        .route("/admin/security", get(pages_tenant_admin::security))
        .route("/admin/keys", get(pages_tenant_admin::keys))
        .route("/platform", get(pages_admin::platform))
        .route("/platform/sign-in", get(pages_auth::operator_sign_in))
}

/// An asset of this build. Another version is 404 and not cached: during
/// a rolling upgrade an old node must not answer for a new build's URL,
/// which browsers would then keep for a year.
async fn asset(Path((version, name)): Path<(String, String)>) -> impl IntoResponse {
    render::asset(&version, &name)
}

/// The page routes, for the audit rules and the tests.
pub const PAGE_ROUTES: &[&str] = &[
    "/",
    "/assets/{version}/{name}",
    "/sign-in",
    "/password",
    "/account",
    "/apps",
    "/apps/{app}",
    "/recycle-bin",
    "/tables/{table}",
    "/tables/{table}/schema",
    "/tables/{table}/new",
    "/tables/{table}/import",
    "/tables/{table}/records/{record}",
    "/admin/audit",
    "/admin/users",
    "/admin/departments",
    "/admin/groups",
    "/admin/groups/{group}",
    "/admin/security",
    "/admin/keys",
    "/platform",
    "/platform/sign-in",
];
