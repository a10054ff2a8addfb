//! Reading a spooled file row by row, on a blocking thread: CSV with the
//! `csv` crate, XLSX with calamine's streaming cell reader. Rows come out
//! as text cells, numbered as a spreadsheet shows them (header = row 1);
//! what cannot be read as text (bad UTF-8, a formula error, a value right
//! of the last header) is reported against its row, not fatal to the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek};

use calamine::{DataRef, Reader, Xlsx};
use citadel_core::data::import::{ImportPlan, MAX_COLUMNS, RowError};

use super::Format;
use crate::error::ApiError;

/// One row of the file as text.
pub struct RawRow {
    pub row: u64,
    pub cells: Vec<String>,
    /// Cells that could not be read as text.
    pub problems: Vec<RowError>,
}

/// The most an XLSX file may unpack to. Its parts are compressed, and the
/// shared strings are read whole: a small file must not become gigabytes.
const MAX_XLSX_UNPACKED: u64 = 1024 * 1024 * 1024;
const MAX_SHARED_STRINGS: u64 = 256 * 1024 * 1024;

fn unreadable(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("unreadable_file", detail)
}

/// Calls `each` for every row, header first, until it returns `false`.
pub fn each_row(
    file: File,
    format: Format,
    sheet: Option<&str>,
    each: impl FnMut(RawRow) -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    match format {
        Format::Csv => csv_rows(file, each),
        Format::Xlsx => xlsx_rows(file, sheet, each),
    }
}

fn csv_rows(
    file: File,
    mut each: impl FnMut(RawRow) -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    // Flexible: a short or long row is that row's error, not the file's.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(256 * 1024, file));
    let mut record = csv::ByteRecord::new();
    let mut row: u64 = 0;
    let mut headers: Vec<String> = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                return Err(unreadable(format!(
                    "row {}: the file could not be read: {e}",
                    row + 1
                )));
            }
        }
        row += 1;
        let mut cells = Vec::with_capacity(record.len());
        let mut problems = Vec::new();
        for (n, bytes) in record.iter().enumerate() {
            // The header's BOM is taken off by the plan.
            match std::str::from_utf8(bytes) {
                Ok(text) => cells.push(text.to_owned()),
                Err(_) if row == 1 => {
                    return Err(unreadable(
                        "the file is not UTF-8 text: save it as \"CSV UTF-8\"",
                    ));
                }
                Err(_) => {
                    cells.push(String::new());
                    problems.push(RowError {
                        row,
                        column: headers.get(n).cloned(),
                        field: None,
                        reason: format!("cell {} is not UTF-8 text", n + 1),
                    });
                }
            }
        }
        if row == 1 {
            if cells.len() > MAX_COLUMNS {
                return Err(unreadable(format!(
                    "the header row has {} columns; at most {MAX_COLUMNS} can be imported",
                    cells.len()
                )));
            }
            headers = cells.iter().map(|h| h.trim().to_owned()).collect();
        }
        if !each(RawRow {
            row,
            cells,
            problems,
        })? {
            return Ok(());
        }
    }
}

/// Refuses a workbook whose parts would unpack to more than the limits,
/// from the sizes its zip directory declares.
fn check_unpacked_size<R: Read + Seek>(reader: R) -> Result<(), ApiError> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|_| unreadable("the file is not an XLSX workbook"))?;
    let mut total: u64 = 0;
    for n in 0..archive.len() {
        let part = archive
            .by_index_raw(n)
            .map_err(|_| unreadable("the file is not an XLSX workbook"))?;
        total = total.saturating_add(part.size());
        if part.name().is_ok_and(|n| n.ends_with("sharedStrings.xml"))
            && part.size() > MAX_SHARED_STRINGS
        {
            return Err(unreadable("the workbook's text is too large to import"));
        }
    }
    if total > MAX_XLSX_UNPACKED {
        return Err(unreadable("the workbook unpacks to more than 1 GiB"));
    }
    Ok(())
}

/// The column letters of a zero-based column index: 0 → A, 27 → AB.
fn column_letters(mut col: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(char::from(b'A' + (col % 26) as u8));
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.iter().rev().collect()
}

/// The text of a cell as a person would type it. Dates and times become
/// `2026-11-22` or `2026-11-22 09:30:00`, local as the sheet holds them.
fn cell_text(value: &DataRef<'_>) -> Result<String, String> {
    Ok(match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(n) => n.to_string(),
        // Whole floats as integers; others in the shortest form that reads
        // back as the same float, which is how the sheet shows it.
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{f:.0}"),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(t) => {
            // calamine's conversion overflows on absurd serials; Excel's
            // own range is 0 to 2,958,465 (9999-12-31).
            let serial = t.as_f64();
            let at = (0.0..2_958_466.0)
                .contains(&serial)
                .then(|| t.as_datetime())
                .flatten()
                .ok_or("holds a date outside the years 1900 to 9999")?;
            if at.time() == chrono::NaiveTime::MIN {
                at.format("%Y-%m-%d").to_string()
            } else if at.and_utc().timestamp_subsec_millis() == 0 {
                at.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
            }
        }
        DataRef::Error(e) => return Err(format!("holds the spreadsheet error {e}")),
    })
}

struct SheetRow {
    row: u32,
    cells: Vec<String>,
    problems: Vec<RowError>,
    beyond_header: Option<u32>,
}

fn xlsx_rows(
    mut file: File,
    sheet: Option<&str>,
    mut each: impl FnMut(RawRow) -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    check_unpacked_size(BufReader::new(&mut file))?;
    file.rewind()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut workbook: Xlsx<_> = Xlsx::new(BufReader::with_capacity(256 * 1024, file))
        .map_err(|_| unreadable("the file is not an XLSX workbook"))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|n| *n == wanted)
            .cloned()
            .ok_or_else(|| ApiError::BadRequest {
                code: "invalid_query",
                detail: format!("the workbook has no sheet named `{wanted}`"),
                field: Some("sheet".into()),
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| unreadable("the workbook has no sheet"))?,
    };
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(|_| unreadable("the sheet could not be read"))?;
    // The header is the first row with anything in it; its width bounds
    // every row after it.
    let mut headers: Option<Vec<String>> = None;
    let mut current: Option<SheetRow> = None;
    let mut flush = |done: SheetRow, headers: &mut Option<Vec<String>>| -> Result<bool, ApiError> {
        let mut raw = RawRow {
            row: u64::from(done.row) + 1,
            cells: done.cells,
            problems: done.problems,
        };
        match headers {
            None => {
                if ImportPlan::is_blank(&raw.cells) {
                    return Ok(true);
                }
                while raw.cells.last().is_some_and(|c| c.trim().is_empty()) {
                    raw.cells.pop();
                }
                *headers = Some(raw.cells.iter().map(|h| h.trim().to_owned()).collect());
                if !raw.problems.is_empty() {
                    return Err(unreadable(format!(
                        "the header row: {}",
                        raw.problems[0].reason
                    )));
                }
            }
            Some(header) => {
                raw.cells.resize(header.len(), String::new());
                if let Some(col) = done.beyond_header {
                    raw.problems.push(RowError {
                        row: raw.row,
                        column: None,
                        field: None,
                        reason: format!(
                            "has a value in column {}, right of the last header",
                            column_letters(col)
                        ),
                    });
                }
            }
        }
        each(raw)
    };
    loop {
        let next = cells
            .next_cell()
            .map_err(|_| unreadable("the sheet could not be read"))?;
        let Some(cell) = next else {
            break;
        };
        let (row, col) = cell.get_position();
        if current.as_ref().is_some_and(|r| r.row != row)
            && let Some(done) = current.take()
            && !flush(done, &mut headers)?
        {
            return Ok(());
        }
        let current = current.get_or_insert_with(|| SheetRow {
            row,
            cells: Vec::new(),
            problems: Vec::new(),
            beyond_header: None,
        });
        let value = cell.get_value();
        if matches!(value, DataRef::Empty) {
            continue;
        }
        let limit = headers.as_ref().map_or(MAX_COLUMNS, Vec::len);
        let index = col as usize;
        if index >= limit {
            if headers.is_none() {
                return Err(unreadable(format!(
                    "the header row has more than {MAX_COLUMNS} columns"
                )));
            }
            current.beyond_header.get_or_insert(col);
            continue;
        }
        if current.cells.len() <= index {
            current.cells.resize(index + 1, String::new());
        }
        match cell_text(value) {
            Ok(text) => current.cells[index] = text,
            Err(reason) => current.problems.push(RowError {
                row: u64::from(row) + 1,
                column: Some(
                    headers
                        .as_ref()
                        .and_then(|h| h.get(index))
                        .cloned()
                        .unwrap_or_else(|| column_letters(col)),
                ),
                field: None,
                reason,
            }),
        }
    }
    if let Some(done) = current.take() {
        flush(done, &mut headers)?;
    }
    Ok(())
}
