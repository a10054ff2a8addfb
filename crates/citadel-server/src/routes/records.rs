//! Records of a table: one at a time with ETag / If-Match, in batches of up
//! to 1,000 that land whole or not at all, listed with filters, sorts and
//! cursors, and each record's history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citadel_core::RecordId;
use citadel_core::access::ops;
use citadel_core::data::TableSchema;
use citadel_store::data::{RecordDeletion, RecordRow};

use crate::audit::AuditNote;
use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::routes::apps::actor_user;
use crate::routes::data_dto::{
    BatchCreateRequest, BatchDeleteRequest, BatchUpdateRequest, ListRecordsQuery, RecordInput,
    RecordPageView, RecordRef, RecordRefsView, RecordView, RecordsView, RevisionView,
};
use crate::routes::dto::Problem;
use crate::services::access::{conceal, refuse_unwritable, table_access};
use crate::services::data;
use crate::state::AppState;

fn record_id(raw: &str) -> Result<RecordId, ApiError> {
    path_id("record", raw, RecordId::parse)
}

/// `value` as a JSON answer, written into a buffer of `capacity` bytes
/// reserved up front. axum's `Json` starts at 128 bytes and grows by
/// doubling through `BytesMut`, a copy at each step and a bounds check at
/// each token: for a page of records that was a few percent of the list.
fn json_answer(status: StatusCode, value: &impl serde::Serialize, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// Room for `records` in an answer, judged by the first one's size (a
/// record of ten short fields is about 400 bytes).
fn room_for(records: &[RecordView]) -> usize {
    let each = records
        .first()
        .and_then(|first| serde_json::to_vec(first).ok())
        .map_or(0, |first| first.len() + 1);
    64 + each.saturating_mul(records.len())
}

/// A record with its version as a strong ETag.
fn with_etag(status: StatusCode, table: &TableSchema, row: &RecordRow) -> Response {
    let mut response = json_answer(status, &data::record_view(table, row), 1024);
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", row.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// Whether the client asked for a minimal answer (RFC 7240,
/// `Prefer: return=minimal`), as a bulk loader does that needs only the
/// new ids and versions and not its own values echoed back.
fn wants_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| {
            let mut parts = preference.split(';').next().unwrap_or_default().split('=');
            let name = parts.next().unwrap_or_default().trim();
            let value = parts.next().unwrap_or_default().trim().trim_matches('"');
            name.eq_ignore_ascii_case("return") && value.eq_ignore_ascii_case("minimal")
        })
}

/// A batch's records as JSON: whole, or with `Prefer: return=minimal`
/// only each record's id and version. Grown by doubling, a thousand
/// records' answer would take about twice its size at its peak and copy
/// itself ten times.
fn batch_response(
    status: StatusCode,
    table: &TableSchema,
    rows: &[RecordRow],
    headers: &HeaderMap,
) -> Response {
    if wants_minimal(headers) {
        let records: Vec<RecordRef> = rows
            .iter()
            .map(|r| RecordRef {
                id: r.id.0,
                version: r.version,
            })
            .collect();
        // `{"id":…,"version":…}` is under 48 bytes for any id and version.
        let mut response = json_answer(status, &RecordRefsView { records }, 64 + 48 * rows.len());
        response.headers_mut().insert(
            HeaderName::from_static("preference-applied"),
            HeaderValue::from_static("return=minimal"),
        );
        return response;
    }
    let records: Vec<RecordView> = rows.iter().map(|r| data::record_view(table, r)).collect();
    let capacity = room_for(&records);
    json_answer(status, &RecordsView { records }, capacity)
}

/// The version named by `If-Match`, if any. `*` matches any version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_if_match",
            detail: "If-Match must be a record's ETag, such as \"3\", or *".into(),
            field: Some("If-Match".into()),
        })
}

/// Lists records: filter, sort on several fields, field selection, a
/// cursor for the next page, and the total on request.
#[utoipa::path(get, path = "/api/v1/tables/{table}/records", security(("tenant_session" = []), ("access_token" = [])), tag = "records",
    params(("table" = String, Path, description = "Table id"), ListRecordsQuery),
    responses((status = 200, body = RecordPageView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ListRecordsQuery>,
) -> Result<Response, ApiError> {
    let (db, actor, access) = table_access::<ops::Read>(&state, &caller, &raw).await?;
    let listed = data::list_records(&db, &access, &query, Some(actor_user(actor)?)).await?;
    // Written out here, while the view borrows the page.
    let view = listed.view(access.schema());
    let capacity = room_for(&view.records);
    Ok(json_answer(StatusCode::OK, &view, capacity))
}

/// Creates a record. Missing fields take their default.
#[utoipa::path(post, path = "/api/v1/tables/{table}/records", security(("tenant_session" = []), ("access_token" = [])), tag = "records", request_body = RecordInput,
    params(("table" = String, Path, description = "Table id")),
    responses((status = 201, body = RecordView, headers(("ETag" = String, description = "The record's version"))), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_record(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<RecordInput>,
) -> Result<Response, ApiError> {
    note.fields(body.fields.keys());
    let (db, actor, access) = table_access::<ops::Create>(&state, &caller, &raw).await?;
    refuse_unwritable(&access, body.fields.keys())?;
    let write = data::new_record(access.full_schema(), &body).map_err(|e| conceal(&access, e))?;
    let mut rows = db
        .create_records(&access, vec![write], actor)
        .await
        .map_err(|e| conceal(&access, e.into()))?;
    let row = rows
        .pop()
        .ok_or(ApiError::Internal("no record created".into()))?;
    note.target("record", row.id.0);
    Ok(with_etag(StatusCode::CREATED, access.schema(), &row))
}

/// One record, with its version as the ETag.
#[utoipa::path(get, path = "/api/v1/tables/{table}/records/{record}", security(("tenant_session" = []), ("access_token" = [])), tag = "records",
    params(("table" = String, Path, description = "Table id"), ("record" = i64, Path, description = "Record id")),
    responses((status = 200, body = RecordView, headers(("ETag" = String, description = "The record's version"))), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_record(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((raw, record)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (db, _, access) = table_access::<ops::Read>(&state, &caller, &raw).await?;
    let row = db.get_record(&access, record_id(&record)?).await?;
    Ok(with_etag(StatusCode::OK, access.schema(), &row))
}

/// Changes the given fields of a record. With `If-Match`, only if the
/// record is still at that version (412 otherwise, and nothing changes).
#[utoipa::path(patch, path = "/api/v1/tables/{table}/records/{record}", security(("tenant_session" = []), ("access_token" = [])), tag = "records", request_body = RecordInput,
    params(("table" = String, Path, description = "Table id"), ("record" = i64, Path, description = "Record id"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change is based on")),
    responses((status = 200, body = RecordView, headers(("ETag" = String, description = "The record's new version"))), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn update_record(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    Path((raw, record)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RecordInput>,
) -> Result<Response, ApiError> {
    note.fields(body.fields.keys());
    let (db, actor, access) = table_access::<ops::Update>(&state, &caller, &raw).await?;
    refuse_unwritable(&access, body.fields.keys())?;
    let change = data::record_change(
        access.full_schema(),
        record_id(&record)?,
        if_match(&headers)?,
        &body.fields,
    )?;
    let mut rows = db
        .update_records(&access, vec![change], actor)
        .await
        .map_err(|e| conceal(&access, e.into()))?;
    let row = rows.pop().ok_or(ApiError::NotFound("record"))?;
    Ok(with_etag(StatusCode::OK, access.schema(), &row))
}

/// Deletes a record, with `If-Match` only at that version. Its history
/// stays readable.
#[utoipa::path(delete, path = "/api/v1/tables/{table}/records/{record}", security(("tenant_session" = []), ("access_token" = [])), tag = "records",
    params(("table" = String, Path, description = "Table id"), ("record" = i64, Path, description = "Record id"),
        ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_record(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((raw, record)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (db, actor, access) = table_access::<ops::Delete>(&state, &caller, &raw).await?;
    let deletion = RecordDeletion {
        id: record_id(&record)?,
        expected_version: if_match(&headers)?,
    };
    db.delete_records(&access, vec![deletion], actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who changed which fields of a record, when, with old and new values.
#[utoipa::path(get, path = "/api/v1/tables/{table}/records/{record}/history", security(("tenant_session" = []), ("access_token" = [])), tag = "records",
    params(("table" = String, Path, description = "Table id"), ("record" = i64, Path, description = "Record id")),
    responses((status = 200, body = Vec<RevisionView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn record_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((raw, record)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionView>>, ApiError> {
    let (db, _, access) = table_access::<ops::Read>(&state, &caller, &raw).await?;
    let revisions = db.record_history(&access, record_id(&record)?).await?;
    if revisions.is_empty() {
        return Err(ApiError::NotFound("record"));
    }
    Ok(Json(
        revisions
            .iter()
            .map(|r| data::revision_view(access.schema(), r))
            .collect(),
    ))
}

/// Creates up to 1,000 records: all of them, or none and a 4xx naming the
/// first bad record and field.
#[utoipa::path(post, path = "/api/v1/tables/{table}/records/batch", security(("tenant_session" = []), ("access_token" = [])), tag = "records", request_body = BatchCreateRequest,
    params(("table" = String, Path, description = "Table id"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal`: answer each record's id and version only (a `RecordRefsView`)")),
    responses((status = 201, body = RecordsView, description = "The records created; with `Prefer: return=minimal` a `RecordRefsView` and `Preference-Applied: return=minimal`"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem)))]
pub async fn create_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BatchCreateRequest>,
) -> Result<Response, ApiError> {
    note.fields(body.records.iter().flat_map(|r| r.fields.keys()));
    note.detail("count", body.records.len());
    let (db, actor, access) = table_access::<ops::Create>(&state, &caller, &raw).await?;
    refuse_unwritable(&access, body.records.iter().flat_map(|r| r.fields.keys()))?;
    let writes =
        data::new_records(access.full_schema(), &body.records).map_err(|e| conceal(&access, e))?;
    // The parsed request is not needed while the batch waits for its
    // commit, the longest part of its life.
    drop(body);
    let rows = db
        .create_records(&access, writes, actor)
        .await
        .map_err(|e| conceal(&access, e.into()))?;
    for row in &rows {
        note.target("record", row.id.0);
    }
    Ok(batch_response(
        StatusCode::CREATED,
        access.schema(),
        &rows,
        &headers,
    ))
}

/// Changes up to 1,000 records: all of them, or none. An item with a
/// `version` fails the batch (412) if its record has moved on.
#[utoipa::path(patch, path = "/api/v1/tables/{table}/records/batch", security(("tenant_session" = []), ("access_token" = [])), tag = "records", request_body = BatchUpdateRequest,
    params(("table" = String, Path, description = "Table id"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal`: answer each record's id and version only (a `RecordRefsView`)")),
    responses((status = 200, body = RecordsView, description = "The records changed; with `Prefer: return=minimal` a `RecordRefsView` and `Preference-Applied: return=minimal`"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 413, body = Problem)))]
pub async fn update_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BatchUpdateRequest>,
) -> Result<Response, ApiError> {
    note.fields(body.records.iter().flat_map(|r| r.fields.keys()));
    note.detail("count", body.records.len());
    for item in &body.records {
        note.target("record", item.id);
    }
    let (db, actor, access) = table_access::<ops::Update>(&state, &caller, &raw).await?;
    refuse_unwritable(&access, body.records.iter().flat_map(|r| r.fields.keys()))?;
    let changes = data::record_changes(access.full_schema(), &body.records)?;
    drop(body);
    let rows = db
        .update_records(&access, changes, actor)
        .await
        .map_err(|e| conceal(&access, e.into()))?;
    Ok(batch_response(
        StatusCode::OK,
        access.schema(),
        &rows,
        &headers,
    ))
}

/// Deletes up to 1,000 records: all of them, or none.
#[utoipa::path(post, path = "/api/v1/tables/{table}/records/batch-delete", security(("tenant_session" = []), ("access_token" = [])), tag = "records", request_body = BatchDeleteRequest,
    params(("table" = String, Path, description = "Table id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem), (status = 413, body = Problem)))]
pub async fn delete_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    note: AuditNote,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<BatchDeleteRequest>,
) -> Result<StatusCode, ApiError> {
    note.detail("count", body.records.len());
    for item in &body.records {
        note.target("record", item.id);
    }
    let (db, actor, access) = table_access::<ops::Delete>(&state, &caller, &raw).await?;
    let deletions = data::record_deletions(&body.records)?;
    db.delete_records(&access, deletions, actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
