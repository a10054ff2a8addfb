//! Import of records from CSV and XLSX files (dry run, then all or
//! nothing) and export of a table, view or filter as CSV or XLSX, both
//! streamed (docs/import-export.md).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citadel_core::access::ops;
use citadel_core::data::import::RowError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::apps::actor_user;
use crate::routes::dto::Problem;
use crate::services::access::{conceal, table_access};
use crate::services::transfer::{self, Format, ImportOutcome, ImportRequest, XLSX_TYPE};
use crate::state::AppState;

/// How to read an uploaded file.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `csv` or `xlsx`; when absent, taken from the Content-Type.
    pub format: Option<String>,
    /// Check every row and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// A JSON object (URL-encoded): column header → field name or id, or
    /// `null` to skip the column. Headers it leaves out go to the field of
    /// the same name.
    pub mapping: Option<String>,
    /// The XLSX sheet to read; the first when absent.
    pub sheet: Option<String>,
}

/// What to export. `filter` is in the filter language; `sort` and `fields`
/// are comma-separated field names, as for listing records.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// A saved view whose filter, sort and fields apply.
    pub view: Option<String>,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub fields: Option<String>,
}

/// Why one row cannot be imported. Rows are numbered as a spreadsheet
/// shows them: the header is row 1.
#[derive(Serialize, ToSchema)]
pub struct ImportRowError {
    pub row: u64,
    /// The column's header in the file, when the error is about a cell.
    pub column: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

impl From<RowError> for ImportRowError {
    fn from(e: RowError) -> Self {
        Self {
            row: e.row,
            column: e.column,
            field: e.field,
            reason: e.reason,
        }
    }
}

/// A column of the file and the field it feeds (`null`: skipped).
#[derive(Serialize, ToSchema)]
pub struct ImportColumn {
    pub column: String,
    pub field: Option<String>,
}

/// A dry run's findings. Nothing was written.
#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows in the file (blank rows are not counted).
    pub rows: u64,
    /// Rows that would be imported.
    pub valid_rows: u64,
    /// Every error found (a row may have several).
    pub error_count: u64,
    /// The first 1,000 errors, in row order.
    pub errors: Vec<ImportRowError>,
    pub columns: Vec<ImportColumn>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportedView {
    pub imported: u64,
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn mapping(raw: Option<&str>) -> Result<Option<Map<String, JsonValue>>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match serde_json::from_str(raw) {
        Ok(JsonValue::Object(map)) => Ok(Some(map)),
        _ => Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: "mapping must be a JSON object of column header → field name or null".into(),
            field: Some("mapping".into()),
        }),
    }
}

/// Imports records from a CSV or XLSX file sent as the request body (at
/// most 100 MB). With `dry_run=true`, checks every row and reports each
/// failing one, writing nothing. Otherwise imports every row or none: the
/// first bad row is a 400 naming the row, column and reason.
#[utoipa::path(post, path = "/api/v1/tables/{table}/import", security(("tenant_session" = []), ("access_token" = [])), tag = "transfer",
    params(("table" = String, Path, description = "Table id"), ImportQuery),
    request_body(description = "The file: CSV (UTF-8, header row first) or XLSX", content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses((status = 200, description = "Dry run report", body = ImportReport), (status = 201, body = ImportedView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem)))]
pub async fn import_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (db, actor, access) = table_access::<ops::Import>(&state, &caller, &raw).await?;
    let request = ImportRequest {
        format: Format::choose(query.format.as_deref(), content_type(&headers))?,
        sheet: query.sheet,
        mapping: mapping(query.mapping.as_deref())?,
        dry_run: query.dry_run,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let file = transfer::spool(body, declared, transfer::temp_dir(&state).await?).await?;
    match transfer::import(&db, &access, file, request, actor).await? {
        ImportOutcome::Report(report) => Ok((StatusCode::OK, Json(report)).into_response()),
        ImportOutcome::Imported(imported) => {
            Ok((StatusCode::CREATED, Json(ImportedView { imported })).into_response())
        }
    }
}

/// `attachment` with the table's name as the file name: RFC 5987 UTF-8
/// for browsers, and an ASCII stand-in for the rest.
fn disposition(name: &str, extension: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = if ascii.chars().all(|c| c == '_') {
        "export".to_owned()
    } else {
        ascii
    };
    let mut encoded = String::new();
    for byte in format!("{name}.{extension}").bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}.{extension}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// Exports the records of a table, of a saved view or of a filter, as CSV
/// (UTF-8 with a BOM) or XLSX, streamed page by page.
#[utoipa::path(get, path = "/api/v1/tables/{table}/export", security(("tenant_session" = []), ("access_token" = [])), tag = "transfer",
    params(("table" = String, Path, description = "Table id"), ExportQuery),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
            headers(("Content-Disposition" = String, description = "attachment; the table's name"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (db, actor, access) = table_access::<ops::Export>(&state, &caller, &raw).await?;
    let format = Format::choose(Some(query.format.as_deref().unwrap_or("csv")), None)?;
    let request = transfer::export_request(
        &db,
        access.schema(),
        query.view.as_deref(),
        query.filter.as_deref(),
        query.sort.as_deref(),
        query.fields.as_deref(),
        Some(actor_user(actor)?),
    )
    .await
    .map_err(|e| conceal(&access, e))?;
    let name = access.schema().name.to_string();
    let (body, kind) = match format {
        Format::Csv => (
            transfer::export_csv(db, access, request).await?,
            "text/csv; charset=utf-8",
        ),
        Format::Xlsx => (
            transfer::export_xlsx(db, access, request, transfer::temp_dir(&state).await?).await?,
            XLSX_TYPE,
        ),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CONTENT_DISPOSITION,
        disposition(&name, format.extension()),
    );
    Ok(response)
}
