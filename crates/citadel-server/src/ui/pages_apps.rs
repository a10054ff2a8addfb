//! The app builder's pages: the apps, an app's tables, and a table's
//! fields. Each reads through the same functions as the API's reads, so a
//! user is shown exactly what the API would give them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use citadel_core::Action;
use citadel_core::access::ops;
use minijinja::context;

use crate::routes::apps::{visible_app, visible_apps};
use crate::services::access::table_access;
use crate::state::AppState;
use crate::ui::frame::TenantPage;
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
    let access = match table_access::<ops::ManageSchema>(&state, &me.caller, &raw).await {
        Ok((_, _, access)) => access,
        Err(e) => return me.error(e),
    };
    let table = access.full_schema();
    let fields: Vec<serde_json::Value> = table.fields.iter().map(|f| f.to_json()).collect();
    page(
        StatusCode::OK,
        "schema.html",
        context! {
            ..me.frame("apps"),
            ..context! {
                table => context! {
                    id => table.id.to_string(),
                    app_id => table.app.to_string(),
                    name => table.name.to_string(),
                    description => table.description.clone(),
                },
                fields => to_value(&fields),
                kinds => to_value(FIELD_KINDS),
            }
        },
    )
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
