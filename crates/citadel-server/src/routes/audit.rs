//! The audit trail for audit administrators (三员分立: only the audit
//! duty opens it): events, their CSV export, the signed tree head,
//! proofs against it, the audit key and a verification of the whole
//! log. Operators read the platform's own events.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use citadel_core::Action;
use citadel_core::alerts::AuditPolicy;
use serde_json::json;

use crate::audit::AuditNote;
use crate::auth::{OperatorCaller, TenantCaller};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::audit_dto::{
    AuditKeyView, AuditPolicyBody, ConsistencyProofView, ConsistencyQuery, EventsPage, EventsQuery,
    InclusionProofView, InclusionQuery, TreeHeadView, VerifyReport,
};
use crate::routes::dto::Problem;
use crate::services::audit;
use crate::state::AppState;

/// The tenant's audit events, newest first, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/audit/events", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    params(EventsQuery),
    responses((status = 200, body = EventsPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let query = audit::event_query(&query)?;
    let db = state.store().tenant(&scope).await?;
    let (events, next_before) = audit::search(db.audit(), &query).await?;
    Ok(Json(EventsPage {
        events,
        next_before,
    }))
}

/// Every event the filters match, as CSV (UTF-8 with a byte-order mark,
/// newest first). The export is itself an audited event.
#[utoipa::path(get, path = "/api/v1/audit/export", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    params(EventsQuery),
    responses((status = 200, description = "The events as CSV", content_type = "text/csv"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Response, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let query = audit::event_query(&query)?;
    note.detail(
        "filters",
        json!({
            "from": query.from_ms, "to": query.to_ms, "actor": query.actor_id,
            "action": query.action, "outcome": query.outcome.map(|o| o.as_str()),
            "target": query.target,
        }),
    );
    let db = state.store().tenant(&scope).await?;
    let body = audit::export_csv(db.audit().clone(), query).await?;
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-events.csv\""),
    );
    Ok(response)
}

/// The newest signed tree head of the tenant's log.
#[utoipa::path(get, path = "/api/v1/audit/tree-head", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    responses((status = 200, body = TreeHeadView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no head signed yet")))]
pub async fn tree_head(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<TreeHeadView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let db = state.store().tenant(&scope).await?;
    let head = db
        .audit()
        .latest_head()
        .await?
        .ok_or(ApiError::NotFound("signed tree head"))?;
    Ok(Json(TreeHeadView::from(&head)))
}

/// Proves an event is in the log as a signed head has it (RFC 9162
/// inclusion proof).
#[utoipa::path(get, path = "/api/v1/audit/proofs/inclusion", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    params(InclusionQuery),
    responses((status = 200, body = InclusionProofView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn inclusion_proof(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProofView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let db = state.store().tenant(&scope).await?;
    let proof = db
        .audit()
        .inclusion_proof(required("seq", query.seq)?, query.tree_size)
        .await?;
    Ok(Json(InclusionProofView::from(&proof)))
}

/// Proves an older signed head is a prefix of a newer one (RFC 9162
/// consistency proof): nothing it covered was changed or removed since.
#[utoipa::path(get, path = "/api/v1/audit/proofs/consistency", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProofView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn consistency_proof(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let db = state.store().tenant(&scope).await?;
    let proof = db
        .audit()
        .consistency_proof(required("first", query.first)?, query.second)
        .await?;
    Ok(Json(ConsistencyProofView::from(&proof)))
}

/// The public half of the platform audit key that signs this tenant's
/// heads, to check them offline (`citadel audit check-proof`).
#[utoipa::path(get, path = "/api/v1/audit/public-key", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    responses((status = 200, body = AuditKeyView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn public_key(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<AuditKeyView>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let db = state.store().tenant(&scope).await?;
    let key = db.audit().public_key().await?;
    Ok(Json(AuditKeyView {
        suite: key.suite().as_str().to_owned(),
        public_key: hex::encode(key.to_bytes()),
    }))
}

/// Checks every stored event against every signed head and names the
/// first bad one. A failure is also raised as a security event.
#[utoipa::path(post, path = "/api/v1/audit/verify", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    responses((status = 200, body = VerifyReport), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
) -> Result<Json<VerifyReport>, ApiError> {
    let (scope, _) = caller.authorize(Action::ReadAudit)?;
    let db = state.store().tenant(&scope).await?;
    let report = audit::verify(db.audit()).await?;
    note.detail("intact", report.intact);
    if !report.intact {
        note.integrity_failure();
        note.detail("first_bad_seq", report.first_bad_seq);
        db.auth()
            .security_event(
                "audit_integrity_failure",
                None,
                None,
                &json!({ "first_bad_seq": report.first_bad_seq, "problem": report.problem }),
            )
            .await?;
    }
    Ok(Json(report))
}

/// A query parameter the operation needs; asked for after the caller was
/// allowed, so a caller without the duty learns nothing from a 400.
fn required(field: &'static str, value: Option<u64>) -> Result<u64, ApiError> {
    value.ok_or_else(|| ApiError::BadRequest {
        code: "invalid_field",
        detail: format!("{field}: required"),
        field: Some(field.into()),
    })
}

/// The platform's own events (operators, the tenant registry), newest
/// first: for operators.
#[utoipa::path(get, path = "/api/v1/platform/audit/events", security(("operator_session" = [])), tag = "audit",
    params(EventsQuery),
    responses((status = 200, body = EventsPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn platform_events(
    State(state): State<AppState>,
    caller: OperatorCaller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    caller.authorize(Action::ReadPlatformAudit)?;
    let query = audit::event_query(&query)?;
    let (events, next_before) = audit::search(state.store().platform_audit(), &query).await?;
    Ok(Json(EventsPage {
        events,
        next_before,
    }))
}

/// The tenant's audit policy: alert thresholds, working hours, the alert
/// webhook, retention. Security administrators.
#[utoipa::path(get, path = "/api/v1/audit-policy", security(("tenant_session" = []), ("access_token" = [])), tag = "audit",
    responses((status = 200, body = AuditPolicyBody), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<AuditPolicyBody>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageSecurity)?;
    let policy = state.store().tenant(&scope).await?.audit_policy().await?;
    Ok(Json(policy.into()))
}

/// Replaces the tenant's audit policy. Retention cannot go below 180 days.
#[utoipa::path(put, path = "/api/v1/audit-policy", security(("tenant_session" = []), ("access_token" = [])), tag = "audit", request_body = AuditPolicyBody,
    responses((status = 200, body = AuditPolicyBody), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<AuditPolicyBody>,
) -> Result<Json<AuditPolicyBody>, ApiError> {
    let (scope, _) = caller.authorize(Action::ManageSecurity)?;
    let policy = AuditPolicy::from(body);
    policy.validate().map_err(ApiError::from_core)?;
    let db = state.store().tenant(&scope).await?;
    db.set_audit_policy(&policy).await?;
    Ok(Json(db.audit_policy().await?.into()))
}
