//! The filter language parser on arbitrary text.
//!
//! Checks: `parse` never panics; a parsed filter prints (its `Display`) to
//! canonical text that parses back to an equal filter and prints the same
//! again; `fields()` and `conditions()` do not panic and agree with the
//! documented limits.
#![no_main]

use citadel_core::filter::{self, MAX_CONDITIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = filter::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    let again = match filter::parse(&printed) {
        Ok(again) => again,
        Err(e) => panic!("the canonical text {printed:?} of {text:?} does not parse: {e}"),
    };
    assert_eq!(
        again, parsed,
        "the canonical text {printed:?} of {text:?} parses to a different filter"
    );
    assert_eq!(again.to_string(), printed, "printing is not canonical");

    let fields = parsed.fields();
    let conditions = parsed.conditions();
    assert!(conditions >= 1, "a parsed filter has a condition");
    assert!(
        conditions <= MAX_CONDITIONS,
        "{conditions} conditions exceed the limit"
    );
    assert!(!fields.is_empty() && fields.len() <= conditions);
});
