//! A CSV file as an import reads it: the `csv` reader as the server sets it
//! up (no header handling, flexible rows), the first row as headers, then
//! `data::import::ImportPlan::new` against the fixed table of
//! `citadel_fuzz::table()` twice, once matching headers to field names and
//! once with a mapping that feeds the table's fields from the columns in
//! order, and `read_row` for each further row, in three tenant time zones.
//!
//! Checks: nothing panics; every row a plan accepts holds a value for each
//! field but auto numbers, and what the API would show for it is accepted
//! by `read_new_record` as the very same cells (order aside): an imported
//! record obeys exactly the rules of one sent as JSON.
#![no_main]

use citadel_core::FieldId;
use citadel_core::data::import::ImportPlan;
use citadel_core::data::input::{cells_json, read_new_record};
use citadel_core::data::schema::FieldKind;
use citadel_core::data::value::Cell;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value as Json};

/// Rows read per input: enough for several, bounded so one input stays fast.
const MAX_ROWS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in reader.byte_records().take(MAX_ROWS + 1) {
        let Ok(record) = record else {
            return;
        };
        // The server reports a cell that is not UTF-8 as that row's error;
        // here it is replaced, so the rest of the row is still read.
        rows.push(
            record
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect(),
        );
    }
    let Some((headers, body)) = rows.split_first() else {
        return;
    };
    let table = citadel_fuzz::table();
    let mapping = in_order(headers);
    for offset in citadel_fuzz::offsets() {
        for mapping in [None, Some(&mapping)] {
            let Ok(plan) = ImportPlan::new(table, headers, mapping, offset) else {
                continue;
            };
            let _ = plan.columns().count();
            for (n, cells) in body.iter().enumerate() {
                let _ = ImportPlan::is_blank(cells);
                let Ok(read) = plan.read_row(n as u64 + 2, cells) else {
                    continue;
                };
                let expected = table
                    .fields
                    .iter()
                    .filter(|f| !matches!(f.kind, FieldKind::AutoNumber))
                    .count();
                assert_eq!(read.len(), expected, "a field is missing from {read:?}");
                let shown = cells_json(table, &read);
                match read_new_record(table, &shown, offset) {
                    Ok(again) => assert_eq!(
                        sorted(again),
                        sorted(read),
                        "{shown:?} (an imported row) reads back differently"
                    ),
                    Err(e) => panic!("{shown:?} (an imported row) is refused: {e}"),
                }
            }
        }
    }
});

/// Headers mapped to the table's fields in order (required fields without
/// a default first, auto numbers left out), so rows reach every kind of
/// field whatever the headers say. Blank and repeated headers are skipped.
fn in_order(headers: &[String]) -> Map<String, Json> {
    let table = citadel_fuzz::table();
    let mut fields: Vec<_> = table
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::AutoNumber))
        .collect();
    fields.sort_by_key(|f| !(f.options.required && f.options.default.is_none()));
    let mut mapping = Map::new();
    let mut next = fields.iter();
    for header in headers {
        let header = header.trim_start_matches('\u{feff}').trim();
        if header.is_empty() || mapping.contains_key(header) {
            continue;
        }
        let target = next
            .next()
            .map_or(Json::Null, |f| Json::String(f.name.to_string()));
        mapping.insert(header.to_owned(), target);
    }
    mapping
}

fn sorted(mut cells: Vec<(FieldId, Cell)>) -> Vec<(FieldId, Cell)> {
    cells.sort_by_key(|(id, _)| *id);
    cells
}
