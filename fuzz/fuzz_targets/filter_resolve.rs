//! Typing a parsed filter against a table (`data::query::resolve`).
//!
//! The input is filter text, as in `filter_parse` (the two corpora are
//! interchangeable). Every filter that parses is resolved against the fixed
//! table of `citadel_fuzz::table()` (a field of every kind) in each of the
//! fixed contexts (Beijing with `$me`/`$my_department`; UTC-12 on a leap
//! day and UTC+14 at new year, nobody signed in). Must not panic.
#![no_main]

use citadel_core::data::query::resolve;
use citadel_core::filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = filter::parse(text) else {
        return;
    };
    let table = citadel_fuzz::table();
    for context in citadel_fuzz::contexts() {
        let _ = resolve(&parsed, table, context);
    }
});
