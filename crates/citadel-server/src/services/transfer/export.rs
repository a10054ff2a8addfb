//! Exports of a table (or of a view or filter of it), page by page with
//! keyset cursors so memory stays flat however large the table.
//!
//! CSV streams straight into the response: a UTF-8 BOM (so Excel reads
//! Chinese right), the field names, then each record with values as text.
//! XLSX is written by rust_xlsxwriter in constant-memory mode to a
//! temporary file, then streamed: numbers as numbers, dates as dates.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use citadel_core::access::{TableAccess, ops};
use citadel_core::data::text_input::guard_formula;
use citadel_core::data::{Cell, FieldDef, FieldKind, TableSchema};
use citadel_core::{FieldId, UserId};
use citadel_store::TenantDb;
use citadel_store::data::{ListRequest, RecordRow};
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook, Worksheet, XlsxError};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::services::data::tenant_offset;

/// The most rows an XLSX sheet holds, the header among them.
const XLSX_MAX_ROWS: u32 = 1_048_576;
/// The longest text an XLSX cell holds.
const XLSX_MAX_CHARS: usize = 32_767;

/// The listing an export pages through: the view's filter (narrowed by
/// `filter`), its sort or `sort`, its fields or `fields`.
pub async fn export_request(
    db: &TenantDb,
    table: &TableSchema,
    view: Option<&str>,
    filter: Option<&str>,
    sort: Option<&str>,
    fields: Option<&str>,
    user: Option<UserId>,
) -> Result<ListRequest, ApiError> {
    crate::services::data::list_request(db, table, view, filter, sort, fields, user).await
}

/// The fields an export writes, in table order (a view's order for the
/// columns it lists).
fn chosen_fields<'t>(table: &'t TableSchema, request: &ListRequest) -> Vec<&'t FieldDef> {
    match &request.fields {
        Some(ids) => ids.iter().filter_map(|id| table.field(*id)).collect(),
        None => table.fields.iter().collect(),
    }
}

fn column_names(fields: &[&FieldDef]) -> Vec<String> {
    let mut names = vec!["id".to_owned()];
    names.extend(fields.iter().map(|f| f.name.to_string()));
    names.extend(["created_at".to_owned(), "updated_at".to_owned()]);
    names
}

fn cell_of(row: &RecordRow, field: FieldId) -> &Cell {
    row.cells
        .iter()
        .find(|(id, _)| *id == field)
        .map_or(&Cell::Null, |(_, c)| c)
}

fn utc_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn joined<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(";")
}

/// A value as CSV text: decimals exact, lists joined with `;`, date-times
/// in RFC 3339 UTC, and text a spreadsheet would run as a formula guarded.
fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(t) => guard_formula(t).into_owned(),
        Cell::Ref(t) => t.clone(),
        Cell::Integer(n) => n.to_string(),
        Cell::Decimal(d) => d.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::DateTime(t) => utc_text(t),
        Cell::Choices(c) => guard_formula(&c.join(";")).into_owned(),
        Cell::Link(id) => id.0.to_string(),
        Cell::Links(ids) => joined(ids.iter().map(|id| id.0)),
    }
}

pub(crate) fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.write_record(&row)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    out.into_inner()
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn csv_page(fields: &[FieldId], rows: &[RecordRow]) -> Result<Vec<u8>, ApiError> {
    csv_bytes(rows.iter().map(|row| {
        let mut line = Vec::with_capacity(fields.len() + 3);
        line.push(row.id.0.to_string());
        line.extend(fields.iter().map(|f| csv_text(cell_of(row, *f))));
        line.push(utc_text(&row.created_at));
        line.push(utc_text(&row.updated_at));
        line
    }))
}

/// Where a CSV export stands between two chunks of its body.
struct CsvPages {
    db: TenantDb,
    access: TableAccess<ops::Export>,
    request: ListRequest,
    fields: Vec<FieldId>,
    pending: Option<Bytes>,
    more: bool,
}

fn cut_short(e: impl std::fmt::Display) -> std::io::Error {
    tracing::error!(error = %e, "export stopped");
    std::io::Error::other("the export failed")
}

/// A CSV export as a response body. The first page is read before the
/// response starts, so a failing listing is still a proper error; a
/// failure later can only cut the download short.
pub async fn export_csv(
    db: TenantDb,
    access: TableAccess<ops::Export>,
    mut request: ListRequest,
) -> Result<Body, ApiError> {
    let first = db.list_records(&access, &request).await?;
    let chosen = chosen_fields(access.schema(), &request);
    let fields: Vec<FieldId> = chosen.iter().map(|f| f.id).collect();
    let mut head = "\u{feff}".as_bytes().to_vec();
    head.extend(csv_bytes([column_names(&chosen)])?);
    head.extend(csv_page(&fields, &first.records)?);
    let more = first.next.is_some();
    request.after = first.next;
    let pages = CsvPages {
        db,
        access,
        request,
        fields,
        pending: Some(Bytes::from(head)),
        more,
    };
    let stream = futures_util::stream::unfold(pages, |mut pages| async move {
        if let Some(chunk) = pages.pending.take() {
            return Some((Ok(chunk), pages));
        }
        if !pages.more {
            return None;
        }
        let page = match pages.db.list_records(&pages.access, &pages.request).await {
            Ok(page) => page,
            Err(e) => {
                pages.more = false;
                return Some((Err(cut_short(e)), pages));
            }
        };
        pages.more = page.next.is_some();
        pages.request.after = page.next;
        match csv_page(&pages.fields, &page.records) {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), pages)),
            Err(e) => {
                pages.more = false;
                Some((Err(cut_short(e)), pages))
            }
        }
    });
    Ok(Body::from_stream(stream))
}

/// Formats shared by every cell of a column.
struct Formats {
    header: CellFormat,
    whole: CellFormat,
    date: CellFormat,
    date_time: CellFormat,
}

fn number_format(kind: &FieldKind) -> CellFormat {
    let places = |scale: u8| {
        if scale == 0 {
            String::new()
        } else {
            format!(".{}", "0".repeat(usize::from(scale)))
        }
    };
    let format = match kind {
        FieldKind::Decimal { scale, .. } => format!("0{}", places(*scale)),
        FieldKind::Currency { scale, .. } => format!("#,##0{}", places(*scale)),
        // `12.5` means 12.5 %: a literal sign, not Excel's ×100 format.
        FieldKind::Percent { scale } => format!("0{}\"%\"", places(*scale)),
        _ => "0".to_owned(),
    };
    CellFormat::new().set_num_format(format)
}

/// A decimal as a number when a float holds it exactly enough (15
/// significant digits, Excel's own precision); else as its text.
fn decimal_number(text: &str) -> Option<f64> {
    let digits = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|b| *b == b'0')
        .count();
    (digits <= 15).then(|| text.parse().ok()).flatten()
}

fn excel_time(t: &DateTime<Utc>) -> Option<ExcelDateTime> {
    let local = t.with_timezone(&tenant_offset()).naive_local();
    ExcelDateTime::from_ymd(
        u16::try_from(local.year()).ok()?,
        local.month() as u8,
        local.day() as u8,
    )
    .ok()?
    .and_hms_milli(
        local.hour() as u16,
        local.minute() as u8,
        local.second() as u8,
        (local.nanosecond() / 1_000_000).min(999) as u16,
    )
    .ok()
}

fn write_cell(
    sheet: &mut Worksheet,
    at: (u32, u16),
    cell: &Cell,
    formats: &Formats,
    number: &CellFormat,
) -> Result<(), XlsxError> {
    let (row, col) = at;
    match cell {
        Cell::Null => {}
        Cell::Text(t) | Cell::Ref(t) => {
            sheet.write_string(row, col, t)?;
        }
        Cell::Integer(n) if n.unsigned_abs() <= 1 << 53 => {
            sheet.write_number_with_format(row, col, *n as f64, &formats.whole)?;
        }
        Cell::Integer(n) => {
            sheet.write_string(row, col, n.to_string())?;
        }
        Cell::Decimal(d) => {
            let text = d.to_string();
            match decimal_number(&text) {
                Some(f) => sheet.write_number_with_format(row, col, f, number)?,
                None => sheet.write_string(row, col, text)?,
            };
        }
        Cell::Bool(b) => {
            sheet.write_boolean(row, col, *b)?;
        }
        Cell::Date(d) => {
            match ExcelDateTime::from_ymd(
                u16::try_from(d.year()).unwrap_or(0),
                d.month() as u8,
                d.day() as u8,
            ) {
                Ok(day) => sheet.write_datetime_with_format(row, col, &day, &formats.date)?,
                Err(_) => sheet.write_string(row, col, d.format("%Y-%m-%d").to_string())?,
            };
        }
        Cell::DateTime(t) => {
            match excel_time(t) {
                Some(at) => sheet.write_datetime_with_format(row, col, &at, &formats.date_time)?,
                None => sheet.write_string(row, col, utc_text(t))?,
            };
        }
        Cell::Choices(c) => {
            sheet.write_string(row, col, c.join(";"))?;
        }
        Cell::Link(id) => {
            sheet.write_number_with_format(row, col, id.0 as f64, &formats.whole)?;
        }
        Cell::Links(ids) if ids.is_empty() => {}
        Cell::Links(ids) => {
            sheet.write_string(row, col, joined(ids.iter().map(|id| id.0)))?;
        }
    }
    Ok(())
}

fn too_long(row: &RecordRow, field: &FieldDef) -> ApiError {
    ApiError::BadRequest {
        code: "xlsx_limit",
        detail: format!(
            "record {}, {}: longer than {XLSX_MAX_CHARS} characters, the most an XLSX cell \
             holds; export as CSV",
            row.id.0, field.name
        ),
        field: Some("format".into()),
    }
}

fn xlsx_failed(e: XlsxError) -> ApiError {
    ApiError::Internal(format!("xlsx export: {e}"))
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(table: &TableSchema) -> String {
    let name: String = table
        .name
        .as_str()
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    let name = name.trim_matches('\'').to_owned();
    if name.is_empty() {
        "Sheet1".into()
    } else {
        name
    }
}

/// Writes the workbook from pages received on `pages`, on a blocking
/// thread.
fn write_workbook(
    table: &TableSchema,
    fields: &[FieldId],
    path: &Path,
    scratch: &Path,
    mut pages: mpsc::Receiver<Vec<RecordRow>>,
) -> Result<(), ApiError> {
    let mut workbook = Workbook::new();
    workbook.set_tempdir(scratch).map_err(xlsx_failed)?;
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_failed)?;
    if sheet.set_name(sheet_name(table)).is_err() {
        sheet.set_name("Sheet1").map_err(xlsx_failed)?;
    }
    let formats = Formats {
        header: CellFormat::new().set_bold(),
        whole: CellFormat::new().set_num_format("0"),
        date: CellFormat::new().set_num_format("yyyy-mm-dd"),
        date_time: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
    };
    let chosen: Vec<&FieldDef> = fields.iter().filter_map(|id| table.field(*id)).collect();
    let numbers: Vec<CellFormat> = chosen.iter().map(|f| number_format(&f.kind)).collect();
    for (col, name) in column_names(&chosen).iter().enumerate() {
        let col = u16::try_from(col).map_err(|_| ApiError::Internal("too many columns".into()))?;
        sheet
            .write_string_with_format(0, col, name, &formats.header)
            .map_err(xlsx_failed)?;
    }
    let last = u16::try_from(chosen.len() + 1).unwrap_or(u16::MAX);
    let mut row: u32 = 0;
    while let Some(page) = pages.blocking_recv() {
        for record in &page {
            row += 1;
            if row >= XLSX_MAX_ROWS {
                return Err(ApiError::BadRequest {
                    code: "xlsx_limit",
                    detail: format!(
                        "more than {} records, the most an XLSX sheet holds; narrow the \
                         export with a filter or export as CSV",
                        XLSX_MAX_ROWS - 1
                    ),
                    field: Some("format".into()),
                });
            }
            sheet
                .write_number_with_format(row, 0, record.id.0 as f64, &formats.whole)
                .map_err(xlsx_failed)?;
            for (n, field) in chosen.iter().enumerate() {
                let cell = cell_of(record, field.id);
                let long = match cell {
                    Cell::Text(t) => t.chars().count() > XLSX_MAX_CHARS,
                    _ => false,
                };
                if long {
                    return Err(too_long(record, field));
                }
                let col = u16::try_from(n + 1).unwrap_or(u16::MAX);
                write_cell(sheet, (row, col), cell, &formats, &numbers[n]).map_err(xlsx_failed)?;
            }
            for (k, t) in [record.created_at, record.updated_at].iter().enumerate() {
                if let Some(at) = excel_time(t) {
                    let col = last.saturating_add(k as u16);
                    sheet
                        .write_datetime_with_format(row, col, &at, &formats.date_time)
                        .map_err(xlsx_failed)?;
                }
            }
        }
    }
    workbook.save(path).map_err(xlsx_failed)
}

/// An XLSX export: written whole to a temporary file in `dir`, then
/// streamed from it (the file is unlinked at once; the open handle keeps
/// it readable until the download ends).
pub async fn export_xlsx(
    db: TenantDb,
    access: TableAccess<ops::Export>,
    mut request: ListRequest,
    dir: PathBuf,
) -> Result<Body, ApiError> {
    let scratch = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        tempfile::Builder::new()
            .prefix("export-")
            .suffix(".xlsx")
            .tempfile_in(dir)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    let fields: Vec<FieldId> = chosen_fields(access.schema(), &request)
        .iter()
        .map(|f| f.id)
        .collect();
    let (send, pages) = mpsc::channel(2);
    let path = out.path().to_owned();
    let schema = access.schema().clone();
    let writer = tokio::task::spawn_blocking(move || {
        write_workbook(&schema, &fields, &path, &scratch, pages)
    });
    loop {
        let page = db.list_records(&access, &request).await?;
        let next = page.next.clone();
        if send.send(page.records).await.is_err() {
            break;
        }
        match next {
            Some(cursor) => request.after = Some(cursor),
            None => break,
        }
    }
    drop(send);
    writer
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let file = tokio::fs::File::open(out.path())
        .await
        .map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    drop(out);
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(Body::from_stream(stream))
}
