//! Support access: tenants grant it (system administrators), operators
//! use it (read only, audited in the tenant's security events).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use citadel_core::{Action, EntryId, LoginName, RecordId};
use citadel_store::{SupportGrant, now_millis};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{OperatorCaller, TenantCaller};
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::data_dto::{ListRecordsQuery, RecordPageView, RecordView};
use crate::routes::dto::{Problem, rfc3339};
use crate::services::data;
use crate::services::support::{self, GRANT_HOURS};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSupportGrantRequest {
    /// The platform operator's login.
    pub operator: String,
    /// How long the grant lasts: 1 to 72 hours.
    pub hours: u32,
    /// Why support needs to look (kept with the grant and in the events).
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct SupportGrantView {
    pub id: String,
    pub operator: String,
    pub reason: String,
    pub granted_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    /// Whether the operator may use it now.
    pub live: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SupportTableView {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SupportAppView {
    pub id: String,
    pub name: String,
    pub tables: Vec<SupportTableView>,
}

fn grant_view(grant: &SupportGrant) -> SupportGrantView {
    SupportGrantView {
        id: grant.id.to_string(),
        operator: grant.operator_login.clone(),
        reason: grant.reason.clone(),
        granted_by: grant.granted_by.to_string(),
        created_at: rfc3339(grant.created_at),
        expires_at: rfc3339(grant.expires_at),
        revoked_at: grant.revoked_at.map(rfc3339),
        live: grant.is_live(now_millis()),
    }
}

/// The tenant's support grants, newest first (at most 200).
#[utoipa::path(get, path = "/api/v1/support-grants", security(("tenant_session" = []), ("access_token" = [])), tag = "support",
    responses((status = 200, body = Vec<SupportGrantView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_grants(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Vec<SupportGrantView>>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageIdentity)?;
    let grants = state.store().support_grants(&scope).await?;
    Ok(Json(grants.iter().map(grant_view).collect()))
}

/// Lets a named platform operator read this tenant's records for 1 to 72
/// hours (not the values of resident ID, bank card and credit code
/// fields; nothing they could change). Every use is a security event.
/// Needs a signed-in session.
#[utoipa::path(post, path = "/api/v1/support-grants", security(("tenant_session" = []), ("access_token" = [])), tag = "support", request_body = CreateSupportGrantRequest,
    responses((status = 201, body = SupportGrantView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_grant(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CreateSupportGrantRequest>,
) -> Result<(StatusCode, Json<SupportGrantView>), ApiError> {
    let (scope, session) = caller.authorize(Action::AdministerCredentials)?;
    let operator =
        LoginName::parse(&body.operator).map_err(|e| ApiError::invalid_field("operator", e))?;
    if !GRANT_HOURS.contains(&body.hours) {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "hours: a grant lasts 1 to 72 hours".into(),
            field: Some("hours".into()),
        });
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: "reason: say why, in at most 500 characters".into(),
            field: Some("reason".into()),
        });
    }
    let now = now_millis();
    let expires = now + i64::from(body.hours) * 3_600_000;
    let grant = state
        .store()
        .grant_support(&scope, &operator, reason, session.user, now, expires)
        .await?;
    let db = state.store().tenant(&scope).await?;
    db.auth()
        .security_event(
            "support_granted",
            None,
            Some(client.ip),
            &json!({"by": session.user.to_string(), "operator": grant.operator_login,
                    "grant": grant.id.to_string(), "hours": body.hours, "reason": reason}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(grant_view(&grant))))
}

/// Ends a support grant now. Needs a signed-in session.
#[utoipa::path(delete, path = "/api/v1/support-grants/{id}", security(("tenant_session" = []), ("access_token" = [])), tag = "support",
    params(("id" = String, Path, description = "Grant id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Client(client): Client,
    caller: TenantCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (scope, session) = caller.authorize(Action::AdministerCredentials)?;
    let id = path_id("id", &raw, EntryId::parse)?;
    state
        .store()
        .revoke_support(&scope, id, now_millis())
        .await?;
    let db = state.store().tenant(&scope).await?;
    db.auth()
        .security_event(
            "support_revoked",
            None,
            Some(client.ip),
            &json!({"by": session.user.to_string(), "grant": id.to_string()}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Support access: the tenant's apps and tables.
#[utoipa::path(get, path = "/api/v1/platform/support/{slug}/apps", security(("operator_session" = [])), tag = "support",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses((status = 200, body = Vec<SupportAppView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn support_apps(
    State(state): State<AppState>,
    Client(client): Client,
    caller: OperatorCaller,
    Path(slug): Path<String>,
) -> Result<Json<Vec<SupportAppView>>, ApiError> {
    let (scope, operator) = caller.support()?;
    let what = format!("GET /support/{slug}/apps");
    let session = support::open(&state, &scope, operator, &slug, &what, client.ip).await?;
    let mut apps = Vec::new();
    for app in session.db.list_apps().await? {
        let tables = session.db.list_tables(app.id).await?;
        apps.push(SupportAppView {
            id: app.id.to_string(),
            name: app.name.to_string(),
            tables: tables
                .iter()
                .map(|t| SupportTableView {
                    id: t.id.to_string(),
                    name: t.name.to_string(),
                })
                .collect(),
        });
    }
    Ok(Json(apps))
}

/// Support access: a table's records, listed as for its users.
#[utoipa::path(get, path = "/api/v1/platform/support/{slug}/tables/{table}/records", security(("operator_session" = [])), tag = "support",
    params(("slug" = String, Path, description = "Tenant slug"), ("table" = String, Path, description = "Table id"), ListRecordsQuery),
    responses((status = 200, body = RecordPageView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn support_records(
    State(state): State<AppState>,
    Client(client): Client,
    caller: OperatorCaller,
    Path((slug, table)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ListRecordsQuery>,
) -> Result<Response, ApiError> {
    let (scope, operator) = caller.support()?;
    let what = format!("GET /support/{slug}/tables/{table}/records");
    let session = support::open(&state, &scope, operator, &slug, &what, client.ip).await?;
    let access = session.read(&table).await?;
    let listed = data::list_records(&session.db, &access, &query, None).await?;
    Ok(Json(listed.view(access.schema())).into_response())
}

/// Support access: one record.
#[utoipa::path(get, path = "/api/v1/platform/support/{slug}/tables/{table}/records/{record}", security(("operator_session" = [])), tag = "support",
    params(("slug" = String, Path, description = "Tenant slug"), ("table" = String, Path, description = "Table id"), ("record" = i64, Path, description = "Record id")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn support_record(
    State(state): State<AppState>,
    Client(client): Client,
    caller: OperatorCaller,
    Path((slug, table, record)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (scope, operator) = caller.support()?;
    let what = format!("GET /support/{slug}/tables/{table}/records/{record}");
    let session = support::open(&state, &scope, operator, &slug, &what, client.ip).await?;
    let access = session.read(&table).await?;
    let id = path_id("record", &record, RecordId::parse)?;
    let row = session.db.get_record(&access, id).await?;
    Ok(Json(data::record_view(access.schema(), &row)).into_response())
}
