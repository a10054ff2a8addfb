//! A record as a client sends it: a JSON object keyed by field name or id,
//! read by `data::input::read_new_record` and `read_changes` against the
//! fixed table of `citadel_fuzz::table()` (a field of every kind, some
//! with defaults and constraints), in three tenant time zones.
//!
//! Checks: neither panics; `cells_json` of what was accepted does not
//! panic, and what the API would show for the accepted cells is accepted
//! again as the very same cells (a client that sends back what it read
//! changes nothing).
#![no_main]

use citadel_core::FieldId;
use citadel_core::data::input::{cells_json, read_changes, read_new_record};
use citadel_core::data::value::Cell;
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

fuzz_target!(|data: &[u8]| {
    let Ok(Json::Object(input)) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let table = citadel_fuzz::table();
    for offset in citadel_fuzz::offsets() {
        for cells in [
            read_new_record(table, &input, offset),
            read_changes(table, &input, offset),
        ]
        .into_iter()
        .flatten()
        {
            let shown = cells_json(table, &cells);
            match read_changes(table, &shown, offset) {
                // The order of cells carries no meaning (it follows the
                // input's keys, then the table's), so compare them sorted.
                Ok(again) => assert_eq!(
                    sorted(again),
                    sorted(cells),
                    "{shown:?} (shown for accepted input) reads back differently"
                ),
                Err(e) => panic!("{shown:?} (shown for accepted input) is refused: {e}"),
            }
        }
    }
});

fn sorted(mut cells: Vec<(FieldId, Cell)>) -> Vec<(FieldId, Cell)> {
    cells.sort_by_key(|(id, _)| *id);
    cells
}
