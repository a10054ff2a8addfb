//! Field declarations and the listing parameters.
//!
//! The same bytes are tried as:
//! - a JSON `FieldSpec` → `check()`; a declaration that checks is stored
//!   the way the store does (`FieldDef::spec_json`) and must load back
//!   (`FieldDef::from_spec_json`) to an equal field, and its `default`,
//!   if any, is offered to the field (`accept`) — must not panic;
//! - text for `listing::split_names` and, against the fixed table,
//!   `resolve_sort` / `resolve_fields` (the `sort=` and `fields=` query
//!   parameters);
//! - a cursor: the text itself, and the raw bytes base64url-encoded (so the
//!   fuzzer reaches the JSON body), for `Cursor::decode` under each fixed
//!   sort; a cursor that decodes must encode and decode back to itself.
#![no_main]

use base64ct::{Base64UrlUnpadded, Encoding};
use citadel_core::FieldId;
use citadel_core::data::listing::{Cursor, resolve_fields, resolve_sort, split_names};
use citadel_core::data::schema::{FieldDef, FieldSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    declaration(data);
    let encoded = Base64UrlUnpadded::encode_string(data);
    cursor(&encoded);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(names) = split_names(text) {
            assert!(names.iter().all(|(_, name)| !name.is_empty()));
        }
        let table = citadel_fuzz::table();
        let _ = resolve_sort(text, table);
        let _ = resolve_fields(text, table);
        cursor(text);
    }
});

fn declaration(data: &[u8]) {
    let Ok(spec) = serde_json::from_slice::<FieldSpec>(data) else {
        return;
    };
    let Ok((name, kind, options)) = spec.check() else {
        return;
    };
    let id = FieldId::parse(&citadel_fuzz::fixed_uuid(0x5bec)).expect("fixed uuid");
    let field = FieldDef {
        id,
        name,
        kind,
        options,
        position: 3,
        column: "f_fuzz".into(),
    };
    let stored = field.spec_json();
    match FieldDef::from_spec_json(id, &stored, 3, "f_fuzz".into()) {
        Ok(loaded) => assert_eq!(loaded, field, "{stored} loads back differently"),
        Err(e) => panic!("the stored declaration {stored} does not load: {e}"),
    }
    let _ = field.to_json();
    if let Some(default) = &field.options.default {
        for offset in citadel_fuzz::offsets() {
            let _ = field.accept(default, offset);
        }
    }
}

fn cursor(text: &str) {
    for sort in citadel_fuzz::sorts() {
        if let Ok(cursor) = Cursor::decode(text, sort) {
            let again = Cursor::decode(&cursor.encode(sort), sort);
            assert_eq!(again.as_ref(), Ok(&cursor), "a decoded cursor does not round-trip");
        }
    }
}
