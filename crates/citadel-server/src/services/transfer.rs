//! Import and export of records as CSV and XLSX (docs/import-export.md).
//!
//! An import spools the request body to a temporary file (never more than
//! [`MAX_IMPORT_BYTES`]), reads it row by row on a blocking thread
//! (`read`), and checks each chunk of rows here: types and required
//! fields by the core's [`ImportPlan`], duplicates between rows, unique
//! values already stored and references to missing records against the
//! store. A dry run reports every failing row; a real import stops at the
//! first one, and only a file without any is read again into one
//! transaction, chunk by chunk.
//! Exports (`export`) page through the table with keyset cursors.

mod export;
mod read;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use citadel_core::FieldId;
use citadel_core::access::{TableAccess, ops};
use citadel_core::data::import::{ImportPlan, RowError};
use citadel_core::data::{Cell, FieldKind, TableSchema};
use citadel_store::TenantDb;
use citadel_store::data::{Actor, RecordWrite};
use futures_util::StreamExt;
use serde_json::{Map, Value as Json};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

pub(crate) use export::csv_bytes;
pub use export::{export_csv, export_request, export_xlsx};
// Public so the `import_xlsx` fuzz target reads files as an import does.
pub use read::{RawRow, each_row};

use crate::error::ApiError;
use crate::routes::transfer::{ImportColumn, ImportReport, ImportRowError};
use crate::services::access::{conceal_names, refuse_fields};
use crate::state::AppState;

/// The largest file an import takes.
pub const MAX_IMPORT_BYTES: u64 = 100 * 1024 * 1024;
/// Rows read, checked and written together.
pub const CHUNK_ROWS: usize = 1000;
/// A dry run lists at most this many errors (and counts them all).
pub const MAX_REPORTED_ERRORS: usize = 1000;

pub const CSV_TYPE: &str = "text/csv";
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The format asked for, or else the one the Content-Type names.
    pub fn choose(asked: Option<&str>, content_type: Option<&str>) -> Result<Self, ApiError> {
        let from_type = content_type.and_then(|t| {
            let essence = t.split(';').next().unwrap_or_default().trim();
            match essence {
                CSV_TYPE => Some(Self::Csv),
                XLSX_TYPE => Some(Self::Xlsx),
                _ => None,
            }
        });
        match asked.map(str::trim) {
            Some("csv") => Ok(Self::Csv),
            Some("xlsx") => Ok(Self::Xlsx),
            None if from_type.is_some() => from_type.ok_or(ApiError::UnsupportedMediaType),
            _ => Err(ApiError::BadRequest {
                code: "invalid_query",
                detail: "format must be csv or xlsx".into(),
                field: Some("format".into()),
            }),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// Where temporary files go: the private data directory when there is
/// one (tenant data stays where the operator put it), else the system's.
pub async fn temp_dir(state: &AppState) -> Result<PathBuf, ApiError> {
    let Some(data) = state.store().sqlite_data_dir() else {
        return Ok(std::env::temp_dir());
    };
    let dir = data.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(format!("temporary directory: {e}")))?;
    Ok(dir)
}

fn io(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("temporary file: {e}"))
}

/// Writes the request body to a temporary file, refusing it (413) past
/// [`MAX_IMPORT_BYTES`]. Axum's body limit does not guard a raw body
/// stream, so the count is kept here, and a declared length too large is
/// refused before anything is read.
pub async fn spool(
    body: Body,
    declared: Option<u64>,
    dir: PathBuf,
) -> Result<tempfile::NamedTempFile, ApiError> {
    let too_large = || ApiError::PayloadTooLarge {
        limit: MAX_IMPORT_BYTES as usize,
    };
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES) {
        return Err(too_large());
    }
    let spooled = tokio::task::spawn_blocking(move || {
        tempfile::Builder::new().prefix("import-").tempfile_in(dir)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(io)?;
    let mut out = tokio::fs::File::from_std(spooled.as_file().try_clone().map_err(io)?);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::bad_request("unreadable_body", "the upload was interrupted"))?;
        written += chunk.len() as u64;
        if written > MAX_IMPORT_BYTES {
            return Err(too_large());
        }
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    if written == 0 {
        return Err(ApiError::bad_request(
            "empty_file",
            "the file is empty: it needs a header row",
        ));
    }
    Ok(spooled)
}

/// What an import was asked to do.
pub struct ImportRequest {
    pub format: Format,
    pub sheet: Option<String>,
    pub mapping: Option<Map<String, Json>>,
    pub dry_run: bool,
}

pub enum ImportOutcome {
    Report(ImportReport),
    Imported(u64),
}

/// One data row as read: its cells, or why it cannot be imported.
struct ParsedRow {
    row: u64,
    cells: Result<Vec<(FieldId, Cell)>, Vec<RowError>>,
}

enum Parsed {
    /// The columns, once the header row is read: always first.
    Plan(Arc<ImportPlan>),
    Rows(Vec<ParsedRow>),
}

/// Reads the file on a blocking thread, sending the plan and then chunks
/// of rows; stops early once the receiver is gone.
fn start_reading(
    file: std::fs::File,
    table: TableSchema,
    request: &ImportRequest,
) -> (
    mpsc::Receiver<Parsed>,
    tokio::task::JoinHandle<Result<(), ApiError>>,
) {
    let (send, receive) = mpsc::channel(2);
    let format = request.format;
    let sheet = request.sheet.clone();
    let mapping = request.mapping.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut plan: Option<Arc<ImportPlan>> = None;
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        read::each_row(file, format, sheet.as_deref(), |raw| {
            let Some(plan) = &plan else {
                let made = ImportPlan::new(
                    &table,
                    &raw.cells,
                    mapping.as_ref(),
                    super::data::tenant_offset(),
                )
                .map_err(ApiError::from_core)?;
                let made = Arc::new(made);
                plan = Some(Arc::clone(&made));
                return Ok(send.blocking_send(Parsed::Plan(made)).is_ok());
            };
            if ImportPlan::is_blank(&raw.cells) && raw.problems.is_empty() {
                return Ok(true);
            }
            let cells = if raw.problems.is_empty() {
                plan.read_row(raw.row, &raw.cells)
            } else {
                Err(raw.problems)
            };
            chunk.push(ParsedRow {
                row: raw.row,
                cells,
            });
            if chunk.len() == CHUNK_ROWS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                return Ok(send.blocking_send(Parsed::Rows(full)).is_ok());
            }
            Ok(true)
        })?;
        if plan.is_none() {
            return Err(ApiError::bad_request(
                "empty_file",
                "the file has no header row",
            ));
        }
        if !chunk.is_empty() {
            let _ = send.blocking_send(Parsed::Rows(chunk));
        }
        Ok(())
    });
    (receive, reader)
}

/// The checks that need the whole file or the stored data.
struct Checks<'a> {
    db: &'a TenantDb,
    access: &'a TableAccess<ops::Import>,
    plan: Arc<ImportPlan>,
    /// Per unique field: each value seen so far and the row it was on.
    unique: Vec<(FieldId, HashMap<String, u64>)>,
    references: Vec<FieldId>,
}

fn cell_of(cells: &[(FieldId, Cell)], field: FieldId) -> Option<&Cell> {
    cells.iter().find(|(id, _)| *id == field).map(|(_, c)| c)
}

fn key(cell: &Cell) -> String {
    cell.to_json().to_string()
}

/// The ids a reference cell names, as the store reports missing ones.
fn referenced(cell: &Cell) -> Vec<String> {
    match cell {
        Cell::Link(r) => vec![r.0.to_string()],
        Cell::Links(rs) => rs.iter().map(|r| r.0.to_string()).collect(),
        Cell::Ref(r) => vec![r.clone()],
        _ => Vec::new(),
    }
}

impl<'a> Checks<'a> {
    fn new(db: &'a TenantDb, access: &'a TableAccess<ops::Import>, plan: Arc<ImportPlan>) -> Self {
        let fed: Vec<_> = plan.columns().filter_map(|(_, f)| f.cloned()).collect();
        let unique = fed
            .iter()
            .filter(|f| f.options.unique)
            .map(|f| (f.id, HashMap::new()))
            .collect();
        let references = plan
            .table()
            .fields
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FieldKind::Link { .. } | FieldKind::User | FieldKind::Department
                )
            })
            .map(|f| f.id)
            .collect();
        Self {
            db,
            access,
            plan,
            unique,
            references,
        }
    }

    fn error(&self, row: u64, field: FieldId, reason: String) -> RowError {
        RowError {
            row,
            column: self.plan.column_of(field).map(str::to_owned),
            field: self.plan.table().field(field).map(|f| f.name.to_string()),
            reason,
        }
    }

    /// Checks a chunk: returns its good rows as writes and every error,
    /// in row order.
    async fn chunk(
        &mut self,
        rows: Vec<ParsedRow>,
    ) -> Result<(Vec<RecordWrite>, Vec<RowError>, u64), ApiError> {
        let mut errors: Vec<RowError> = Vec::new();
        let mut good: Vec<(u64, Vec<(FieldId, Cell)>)> = Vec::with_capacity(rows.len());
        let mut failed_rows: u64 = 0;
        for parsed in rows {
            let cells = match parsed.cells {
                Ok(cells) => cells,
                Err(mut found) => {
                    failed_rows += 1;
                    errors.append(&mut found);
                    continue;
                }
            };
            let mut twins = Vec::new();
            for (field, seen) in &self.unique {
                if let Some(cell) = cell_of(&cells, *field).filter(|c| !c.is_empty())
                    && let Some(first) = seen.get(&key(cell))
                {
                    twins.push(self.error(
                        parsed.row,
                        *field,
                        format!("must be unique: row {first} has the same value"),
                    ));
                }
            }
            if twins.is_empty() {
                for (field, seen) in &mut self.unique {
                    if let Some(cell) = cell_of(&cells, *field).filter(|c| !c.is_empty()) {
                        seen.insert(key(cell), parsed.row);
                    }
                }
                good.push((parsed.row, cells));
            } else {
                failed_rows += 1;
                errors.append(&mut twins);
            }
        }
        let mut refused: HashSet<u64> = HashSet::new();
        for (field, _) in &self.unique {
            let values: Vec<Cell> = good
                .iter()
                .filter_map(|(_, cells)| cell_of(cells, *field).cloned())
                .collect();
            let taken: HashSet<String> = self
                .db
                .existing_values(self.access, *field, &values)
                .await?
                .iter()
                .map(key)
                .collect();
            for (row, cells) in &good {
                if cell_of(cells, *field).is_some_and(|c| taken.contains(&key(c))) {
                    refused.insert(*row);
                    errors.push(self.error(
                        *row,
                        *field,
                        "must be unique: a stored record has this value".into(),
                    ));
                }
            }
        }
        for field_id in &self.references {
            let Some(field) = self.plan.table().field(*field_id) else {
                continue;
            };
            let cells: Vec<Cell> = good
                .iter()
                .filter_map(|(_, cells)| cell_of(cells, *field_id).cloned())
                .collect();
            let missing: HashSet<String> = self
                .db
                .missing_references(self.access, field, &cells)
                .await?
                .into_iter()
                .collect();
            if missing.is_empty() {
                continue;
            }
            let what = match field.kind {
                FieldKind::User => "a user",
                FieldKind::Department => "a department",
                _ => "a record",
            };
            for (row, cells) in &good {
                let gone: Vec<String> = cell_of(cells, *field_id)
                    .map(referenced)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|id| missing.contains(id))
                    .collect();
                if !gone.is_empty() {
                    refused.insert(*row);
                    errors.push(self.error(
                        *row,
                        *field_id,
                        format!("refers to {what} that does not exist: {}", gone.join(", ")),
                    ));
                }
            }
        }
        failed_rows += refused.len() as u64;
        errors.sort_by_key(|e| e.row);
        let writes = good
            .into_iter()
            .filter(|(row, _)| !refused.contains(row))
            .map(|(_, cells)| RecordWrite { cells })
            .collect();
        Ok((writes, errors, failed_rows))
    }
}

/// A row error as the 400 a real import answers with: `detail` is
/// `row 17, 金额: reason`, `field` is `row 17.金额`.
fn row_problem(error: &RowError) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_row",
        detail: error.to_string(),
        field: Some(error.path()),
    }
}

async fn finish_reading(
    reader: tokio::task::JoinHandle<Result<(), ApiError>>,
) -> Result<(), ApiError> {
    reader
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Starts reading and waits for the plan the header row makes.
async fn open_file(
    file: &tempfile::NamedTempFile,
    table: &TableSchema,
    request: &ImportRequest,
) -> Result<
    (
        Arc<ImportPlan>,
        mpsc::Receiver<Parsed>,
        tokio::task::JoinHandle<Result<(), ApiError>>,
    ),
    ApiError,
> {
    let (mut parsed, reader) = start_reading(file.reopen().map_err(io)?, table.clone(), request);
    match parsed.recv().await {
        Some(Parsed::Plan(plan)) => Ok((plan, parsed, reader)),
        _ => {
            drop(parsed);
            finish_reading(reader).await?;
            Err(ApiError::Internal("the reader sent no header".into()))
        }
    }
}

/// Checks every row of the file, as a dry run reports them, and returns
/// the first error too; with `first_only`, stops at the first chunk with
/// an error.
async fn check_file(
    db: &TenantDb,
    access: &TableAccess<ops::Import>,
    file: &tempfile::NamedTempFile,
    request: &ImportRequest,
    first_only: bool,
) -> Result<(ImportReport, Option<RowError>), ApiError> {
    let (plan, mut parsed, reader) = open_file(file, access.full_schema(), request).await?;
    // Columns mapped to fields the importer may not write refuse the file.
    if let Err(refused) = refuse_fields(access, plan.columns().filter_map(|(_, f)| f.map(|f| f.id)))
    {
        drop(parsed);
        let _ = finish_reading(reader).await;
        return Err(refused);
    }
    let mut checks = Checks::new(db, access, Arc::clone(&plan));
    let mut report = ImportReport {
        rows: 0,
        valid_rows: 0,
        error_count: 0,
        errors: Vec::new(),
        columns: plan
            .columns()
            .map(|(column, field)| ImportColumn {
                column: column.to_owned(),
                field: field.map(|f| f.name.to_string()),
            })
            .collect(),
    };
    let mut first = None;
    while let Some(Parsed::Rows(rows)) = parsed.recv().await {
        let count = rows.len() as u64;
        let (_, errors, failed) = checks.chunk(rows).await?;
        let errors: Vec<RowError> = errors
            .into_iter()
            .map(|e| RowError {
                field: e.field.map(|f| conceal_names(access, &f)),
                reason: conceal_names(access, &e.reason),
                ..e
            })
            .collect();
        if first.is_none() {
            first = errors.first().cloned();
        }
        report.rows += count;
        report.valid_rows += count - failed;
        report.error_count += errors.len() as u64;
        let room = MAX_REPORTED_ERRORS.saturating_sub(report.errors.len());
        report
            .errors
            .extend(errors.into_iter().take(room).map(ImportRowError::from));
        if first_only && first.is_some() {
            return Ok((report, first));
        }
    }
    finish_reading(reader).await?;
    Ok((report, first))
}

/// Runs an import from a spooled file: a dry run's report, or the number
/// of records written (all of them, or none and the first bad row).
///
/// A real import checks the whole file first, with no transaction open,
/// then reads it again into one: the tenant's writer is held only while
/// rows are written, a bad last row costs no rolled-back work, and the
/// checks' look-ups never wait for a connection the import holds (a
/// PostgreSQL tenant pool has two). What changes in between (a unique
/// value taken, a linked record deleted) is still caught by the store's
/// own checks, without a row number, and nothing is written.
pub async fn import(
    db: &TenantDb,
    access: &TableAccess<ops::Import>,
    file: tempfile::NamedTempFile,
    request: ImportRequest,
    actor: Actor,
) -> Result<ImportOutcome, ApiError> {
    let table = access.full_schema();
    let (report, first) = check_file(db, access, &file, &request, !request.dry_run).await?;
    if request.dry_run {
        return Ok(ImportOutcome::Report(report));
    }
    if let Some(first) = first {
        return Err(row_problem(&first));
    }
    let (_, mut parsed, reader) = open_file(&file, table, &request).await?;
    let (sink, chunks) = mpsc::channel::<Option<Vec<RecordWrite>>>(1);
    let produce = async move {
        while let Some(Parsed::Rows(rows)) = parsed.recv().await {
            let mut writes = Vec::with_capacity(rows.len());
            for row in rows {
                match row.cells {
                    Ok(cells) => writes.push(RecordWrite { cells }),
                    // The file was checked; only a changed file gets here.
                    Err(errors) => {
                        return Err(errors.first().map_or_else(
                            || ApiError::Internal("a row failed without a reason".into()),
                            row_problem,
                        ));
                    }
                }
            }
            // A closed sink means the import itself failed; its error is
            // the one to report.
            if sink.send(Some(writes)).await.is_err() {
                return Ok(());
            }
        }
        drop(parsed);
        finish_reading(reader).await?;
        let _ = sink.send(None).await;
        Ok(())
    };
    let (imported, produced) = tokio::join!(db.import_records(access, chunks, actor), produce);
    produced?;
    Ok(ImportOutcome::Imported(imported?))
}
