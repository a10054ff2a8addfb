//! The app builder's pages: the apps, an app's tables, and a table's
//! fields. Each reads through the same functions as the API's reads, so a
//! user is shown exactly what the API would give them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use citadel_core::Action;
use citadel_core::access::ops;
use minijinja::context;

use crate::error::ApiError;
use crate::routes::apps::{self, visible_app, visible_apps};
use crate::services::access::{may_see, table_access};
use crate::state::AppState;
use crate::ui::frame::TenantPage;
use crate::ui::pages_records::table_brief;
use crate::ui::render::{page, to_value};

/// The apps the user is shown; admins may create one here.
pub async fn apps(State(state): State<AppState>, me: TenantPage) -> Response {
    match visible_apps(&state, &me.caller).await {
        Ok(apps) => page(
            StatusCode::OK,
            "apps.html",
            context! {
                ..me.frame("apps"),
                ..context! { apps => to_value(&apps), may_create => me.may(Action::ManageSchema) }
            },
        ),
        Err(e) => me.error(e),
    }
}

/// An app: its tables, and adding one for whoever may.
pub async fn app(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
) -> Response {
    match visible_app(&state, &me.caller, &raw).await {
        Ok((app, tables, may_add)) => page(
            StatusCode::OK,
            "app.html",
            context! {
                ..me.frame("apps"),
                ..context! {
                    app => to_value(&app),
                    tables => to_value(&tables),
                    may_add => may_add,
                    may_manage_app => me.may(Action::ManageSchema),
                }
            },
        ),
        Err(e) => me.error(e),
    }
}

/// A table's fields, for whoever may manage its schema: add, change,
/// reorder and delete them.
pub async fn schema(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
) -> Response {
    let context = async {
        let (db, _, access) = table_access::<ops::ManageSchema>(&state, &me.caller, &raw).await?;
        let table = access.full_schema();
        let fields: Vec<serde_json::Value> = table.fields.iter().map(|f| f.to_json()).collect();
        // Link fields point at a table of the same app: those the user is
        // shown, as the API's list of the app's tables would give them.
        let session = me.caller.session()?;
        let model = db.access_model().await?;
        let related: Vec<serde_json::Value> = db
            .list_tables(table.app)
            .await?
            .iter()
            .filter(|t| may_see(&model, session, table.app, t.id))
            .map(|t| serde_json::json!({"id": t.id.to_string(), "name": t.name.to_string()}))
            .collect();
        Ok::<_, ApiError>(context! {
            ..me.frame("apps"),
            ..context! {
                table => table_brief(&db, table).await?,
                fields => to_value(&fields),
                related => to_value(&related),
                kinds => to_value(FIELD_KINDS),
            }
        })
    };
    match context.await {
        Ok(context) => page(StatusCode::OK, "schema.html", context),
        Err(e) => me.error(e),
    }
}

/// The recycle bin (admins): deleted apps and tables, when each will be
/// purged, and restoring them.
pub async fn recycle_bin(State(state): State<AppState>, me: TenantPage) -> Response {
    match apps::recycle_bin(State(state), me.caller.clone()).await {
        Ok(Json(bin)) => page(
            StatusCode::OK,
            "recycle_bin.html",
            context! { ..me.frame("apps"), ..context! { bin => to_value(&bin) } },
        ),
        Err(e) => me.error(e),
    }
}

/// The field types offered when adding a field, in the order shown.
pub const FIELD_KINDS: &[&str] = &[
    "text",
    "long_text",
    "integer",
    "decimal",
    "currency",
    "percent",
    "boolean",
    "date",
    "date_time",
    "single_select",
    "multi_select",
    "email",
    "url",
    "mobile_phone",
    "landline",
    "user",
    "department",
    "link",
    "auto_number",
    "resident_id",
    "bank_card",
    "social_credit_code",
];
