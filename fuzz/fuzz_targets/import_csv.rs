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

use citadel_core::data::import::ImportPlan;
use libfuzzer_sys::fuzz_target;

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
    let mapping = citadel_fuzz::mapping_in_order(headers);
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
                citadel_fuzz::check_imported_row(read, offset);
            }
        }
    }
});
