//! Helpers of the data model store tests: names, field declarations,
//! records from JSON, and a listing that follows every cursor.

#![allow(dead_code)]

use chrono::FixedOffset;
use citadel_core::data::input::read_new_record;
use citadel_core::data::listing::{Cursor, resolve_sort};
use citadel_core::data::query::{FilterContext, resolve};
use citadel_core::data::{Cell, FieldDef, FieldSpec, SchemaName, TableSchema};
use citadel_core::{FieldId, filter};
use citadel_store::TenantDb;
use citadel_store::data::{ListRequest, NewField, RecordWrite};
use serde_json::Value as Json;

use crate::common::read;

pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("offset")
}

pub fn sn(s: &str) -> SchemaName {
    SchemaName::parse(s).expect("name")
}

pub fn new_field(spec: Json) -> NewField {
    let spec: FieldSpec = serde_json::from_value(spec).expect("spec");
    let def = FieldDef::new(FieldId::generate(), spec.check().expect("valid spec"), 0);
    let default = def
        .options
        .default
        .as_ref()
        .map(|d| def.accept(d, beijing()).expect("default"));
    NewField { def, default }
}

pub fn write(table: &TableSchema, record: Json) -> RecordWrite {
    let object = record.as_object().expect("object");
    RecordWrite {
        cells: read_new_record(table, object, beijing()).expect("valid record"),
    }
}

pub fn cell<'a>(
    table: &TableSchema,
    row: &'a citadel_store::data::RecordRow,
    name: &str,
) -> &'a Cell {
    let id = table.field_by_key(name).expect("field").id;
    &row.cells.iter().find(|(f, _)| *f == id).expect("cell").1
}

pub async fn list(
    db: &TenantDb,
    me: citadel_core::UserId,
    table: &TableSchema,
    text: &str,
    sort: &str,
    limit: u32,
) -> Vec<i64> {
    let mut request = ListRequest {
        filter: (!text.is_empty()).then(|| {
            let parsed = filter::parse(text).expect("filter");
            let mut context = FilterContext::at(chrono::Utc::now(), beijing());
            context.me = Some(me);
            resolve(&parsed, table, &context).expect("typed filter")
        }),
        sort: if sort.is_empty() {
            Vec::new()
        } else {
            resolve_sort(sort, table).expect("sort")
        },
        limit,
        count: true,
        ..ListRequest::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = db
            .list_records(&read(db, table).await, &request)
            .await
            .expect("list");
        assert!(page.total.is_some_and(|t| t >= page.records.len() as i64));
        ids.extend(page.records.iter().map(|r| r.id.0));
        match page.next {
            Some(next) => {
                // The cursor survives its text form, as clients carry it.
                let text = next.encode(&request.sort);
                request.after = Some(Cursor::decode(&text, &request.sort).expect("cursor"));
            }
            None => return ids,
        }
    }
}
