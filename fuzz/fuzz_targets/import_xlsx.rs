//! An XLSX file as an import reads it: the bytes are spooled to a file and
//! handed to the server's own reader,
//! `citadel_server::services::transfer::each_row` with `Format::Xlsx` and no
//! sheet asked for (the zip size guard, calamine's streaming cell reader on
//! the first sheet, cells turned into text). The first row it yields is the
//! header; then, as in `import_csv`, `data::import::ImportPlan::new`
//! against the fixed table of `citadel_fuzz::table()`, once matching
//! headers to field names and once with a mapping that feeds the table's
//! fields from the columns in order, and `read_row` for each further row,
//! in three tenant time zones. As on the server, a row the reader found a
//! problem in (a spreadsheet error, a value right of the last header) is
//! reported, not read, and a blank one is skipped.
//!
//! Inputs come in two shapes. One starting with `PK` is the file itself;
//! its seeds are real workbooks, mostly stored uncompressed so that
//! mutations land in the XML. Anything else is XML parts separated by NUL
//! bytes (the sheet, then optionally the shared strings, then optionally
//! the styles), which the target packs into an otherwise fixed workbook
//! with correct sizes and checksums: mutated raw archives mostly fail the
//! zip checks, and this shape keeps the fuzzer in the sheet and cell
//! handling that a real upload reaches.
//!
//! Checks: nothing panics; every data row the reader yields is as wide as
//! the header; every row a plan accepts holds a value for each field but
//! auto numbers, and what the API would show for it is accepted by
//! `read_new_record` as the very same cells (order aside): an imported
//! record obeys exactly the rules of one sent as JSON.
#![no_main]

use std::fs::File;
use std::io::{Seek, Write};
use std::sync::LazyLock;

use citadel_core::data::import::{ImportPlan, MAX_COLUMNS};
use citadel_server::services::transfer::{Format, each_row};
use libfuzzer_sys::fuzz_target;

/// Rows read per input: enough for several, bounded so one input stays fast.
const MAX_ROWS: usize = 64;
/// Cells read per input, header included: a header can be 1,000 columns
/// wide, and every row after it is padded to that width.
const MAX_CELLS: usize = 4096;

/// One unnamed temporary file per process, rewritten for each input: the
/// reader takes a file, as the server spools an upload to one.
static SPOOL: LazyLock<File> =
    LazyLock::new(|| tempfile::tempfile().expect("a temporary file for the workbook"));

fuzz_target!(|data: &[u8]| {
    let packed;
    let file = if data.starts_with(b"PK") {
        data
    } else {
        packed = workbook(data);
        &packed
    };
    let Some((headers, body)) = read(file) else {
        return;
    };
    let table = citadel_fuzz::table();
    let mapping = citadel_fuzz::mapping_in_order(&headers);
    for offset in citadel_fuzz::offsets() {
        for mapping in [None, Some(&mapping)] {
            let Ok(plan) = ImportPlan::new(table, &headers, mapping, offset) else {
                continue;
            };
            let _ = plan.columns().count();
            for (row, cells) in &body {
                let Ok(read) = plan.read_row(*row, cells) else {
                    continue;
                };
                citadel_fuzz::check_imported_row(read, offset);
            }
        }
    }
});

/// The header and the data rows (with their spreadsheet row numbers) the
/// server would plan and read, or `None` when the reader yields no header.
/// Rows read before the reader fails still count: the server has already
/// checked them by then.
fn read(bytes: &[u8]) -> Option<(Vec<String>, Vec<(u64, Vec<String>)>)> {
    let mut spool: &File = &SPOOL;
    spool.set_len(0).expect("the workbook file truncates");
    spool.rewind().expect("the workbook file rewinds");
    spool.write_all(bytes).expect("the workbook is written");
    spool.rewind().expect("the workbook file rewinds");
    let file = spool.try_clone().expect("the workbook file opens again");
    let mut headers: Option<Vec<String>> = None;
    let mut body = Vec::new();
    let mut rows = 0;
    let mut cells = 0;
    let _ = each_row(file, Format::Xlsx, None, |raw| {
        rows += 1;
        cells += raw.cells.len();
        match &headers {
            None => {
                assert!(
                    raw.cells.len() <= MAX_COLUMNS,
                    "a header of {} columns",
                    raw.cells.len()
                );
                headers = Some(raw.cells);
            }
            Some(header) => {
                assert_eq!(
                    raw.cells.len(),
                    header.len(),
                    "row {} is not as wide as the header",
                    raw.row
                );
                if raw.problems.is_empty() && !ImportPlan::is_blank(&raw.cells) {
                    body.push((raw.row, raw.cells));
                }
            }
        }
        Ok(rows <= MAX_ROWS && cells < MAX_CELLS)
    });
    Some((headers?, body))
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;

const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;

const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

/// A one-sheet workbook from NUL-separated parts: the sheet, then the
/// shared strings and the styles when the input has them (a part left out
/// is missing from the archive, as in workbooks without any text).
fn workbook(data: &[u8]) -> Vec<u8> {
    let mut parts = data.splitn(3, |&b| b == 0);
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", PACKAGE_RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", parts.next().unwrap_or_default()),
    ];
    for name in ["xl/sharedStrings.xml", "xl/styles.xml"] {
        if let Some(part) = parts.next() {
            entries.push((name, part));
        }
    }
    stored_zip(&entries)
}

/// A zip archive holding `entries` uncompressed, dated 1980-01-01.
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    fn u16le(n: usize) -> [u8; 2] {
        u16::try_from(n).unwrap_or(u16::MAX).to_le_bytes()
    }
    fn u32le(n: usize) -> [u8; 4] {
        u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
    }
    // Version 2.0, no flags, stored, time 00:00, date 1980-01-01.
    const HEAD: [u8; 10] = [20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0];
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, body) in entries {
        let offset = out.len();
        let mut fixed = Vec::with_capacity(26);
        fixed.extend(HEAD);
        fixed.extend(crc32fast::hash(body).to_le_bytes());
        fixed.extend(u32le(body.len()));
        fixed.extend(u32le(body.len()));
        fixed.extend(u16le(name.len()));
        fixed.extend([0, 0]);
        out.extend(b"PK\x03\x04");
        out.extend(&fixed);
        out.extend(name.as_bytes());
        out.extend(*body);
        central.extend(b"PK\x01\x02");
        central.extend([20, 0]);
        central.extend(&fixed);
        // No comment, disk 0, no attributes.
        central.extend([0; 10]);
        central.extend(u32le(offset));
        central.extend(name.as_bytes());
    }
    let start = out.len();
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0; 4]);
    out.extend(u16le(entries.len()));
    out.extend(u16le(entries.len()));
    out.extend(u32le(central.len()));
    out.extend(u32le(start));
    out.extend([0, 0]);
    out
}
