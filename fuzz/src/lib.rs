//! Fixtures shared by the fuzz targets: one fixed table with a field of
//! every kind, the filter contexts and sort keys the targets run against.
//!
//! Everything is deterministic (fixed ids, fixed clocks) so that a crashing
//! input found once crashes again when replayed, and built once per process.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, Utc};
use citadel_core::data::listing::SortKey;
use citadel_core::data::names::SchemaName;
use citadel_core::data::query::FilterContext;
use citadel_core::data::schema::{FieldDef, FieldSpec};
use citadel_core::data::table::{SystemField, TableSchema, Target};
use citadel_core::{AppId, DepartmentId, FieldId, TableId, UserId};
use serde_json::{Value as Json, json};

/// A fixed UUID (version 7 layout) numbered `n`, so ids are the same in
/// every run.
pub fn fixed_uuid(n: u64) -> String {
    format!("00000000-0000-7000-8000-{n:012x}")
}

/// The table the link fields point at.
pub fn linked_table() -> TableId {
    TableId::parse(&fixed_uuid(0xfeed)).expect("fixed uuid")
}

/// The field declarations of [`table`]: one field of every `FieldKind`
/// (the fields of `data/query_tests.rs` among them), several with options
/// and defaults so the constraint and default paths run too. Names are
/// mostly Chinese, plus an ASCII one to test case-insensitive lookup, a
/// keyword and one with a space, which a filter must backtick.
pub fn field_specs() -> Vec<Json> {
    vec![
        json!({"name": "名称", "type": "text", "required": true, "default": "未命名",
               "min_length": 1, "max_length": 20, "pattern": "^[^<>]*$"}),
        json!({"name": "备注", "type": "long_text", "max_length": 2000}),
        json!({"name": "数量", "type": "integer", "min": 0, "max": 1_000_000}),
        json!({"name": "单价", "type": "decimal", "precision": 10, "scale": 3, "min": "-1000"}),
        json!({"name": "金额", "type": "currency", "default": "0", "filterable": true}),
        json!({"name": "折扣", "type": "percent", "scale": 4, "max": 100}),
        json!({"name": "done", "type": "boolean", "default": false}),
        json!({"name": "到期", "type": "date"}),
        json!({"name": "签约时间", "type": "date_time"}),
        json!({"name": "状态", "type": "single_select", "default": "新",
               "choices": [{"name": "新"}, {"name": "跟进", "colour": "blue"}, {"name": "完成", "colour": "#00aa00"}]}),
        json!({"name": "标签", "type": "multi_select",
               "choices": [{"name": "vip"}, {"name": "重点", "colour": "red"}, {"name": "a`b"}]}),
        json!({"name": "邮箱", "type": "email", "unique": true}),
        json!({"name": "网址", "type": "url"}),
        json!({"name": "手机", "type": "mobile_phone"}),
        json!({"name": "座机", "type": "landline"}),
        json!({"name": "负责人", "type": "user"}),
        json!({"name": "部门", "type": "department"}),
        json!({"name": "客户", "type": "link", "table": linked_table()}),
        json!({"name": "关联", "type": "link", "table": linked_table(), "multiple": true}),
        json!({"name": "编号", "type": "auto_number"}),
        json!({"name": "身份证号", "type": "resident_id"}),
        json!({"name": "银行卡", "type": "bank_card"}),
        json!({"name": "统一社会信用代码", "type": "social_credit_code"}),
        json!({"name": "Amount", "type": "integer"}),
        json!({"name": "and", "type": "text"}),
        json!({"name": "客户 名称", "type": "text", "required": true}),
    ]
}

fn build_table() -> TableSchema {
    let fields = field_specs()
        .into_iter()
        .enumerate()
        .map(|(n, spec)| {
            let spec: FieldSpec = serde_json::from_value(spec).expect("fixture spec reads");
            FieldDef::new(
                FieldId::parse(&fixed_uuid(n as u64 + 1)).expect("fixed uuid"),
                spec.check().expect("fixture spec is valid"),
                n as i64,
            )
        })
        .collect();
    TableSchema {
        id: TableId::parse(&fixed_uuid(0xabc)).expect("fixed uuid"),
        app: AppId::parse(&fixed_uuid(0xa99)).expect("fixed uuid"),
        name: SchemaName::parse("合同").expect("name"),
        description: None,
        fields,
        schema_version: 1,
    }
}

static TABLE: LazyLock<TableSchema> = LazyLock::new(build_table);

/// The fixed table, built once.
pub fn table() -> &'static TableSchema {
    &TABLE
}

fn offset(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).expect("offset")
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("fixture time")
        .with_timezone(&Utc)
}

static CONTEXTS: LazyLock<Vec<FilterContext>> = LazyLock::new(|| {
    // As in data/query_tests.rs: 2026-11-22 10:00 in Beijing, a Sunday,
    // with a user and a department to stand for `$me`/`$my_department`.
    let mut beijing = FilterContext::at(at("2026-11-22T02:00:00Z"), offset(8 * 3600));
    beijing.me = Some(UserId::parse(&fixed_uuid(0x111)).expect("fixed uuid"));
    beijing.my_department = Some(DepartmentId::parse(&fixed_uuid(0x222)).expect("fixed uuid"));
    // A leap day at the far west edge of the time zones, nobody signed in.
    let west = FilterContext::at(at("2024-03-01T11:30:00Z"), offset(-12 * 3600));
    // New year at the far east edge.
    let east = FilterContext::at(at("2026-12-31T10:30:00Z"), offset(14 * 3600));
    vec![beijing, west, east]
});

/// The filter contexts a filter is resolved in.
pub fn contexts() -> &'static [FilterContext] {
    &CONTEXTS
}

/// The tenant offsets record input is read in (for local date-times).
pub fn offsets() -> [FixedOffset; 3] {
    [offset(8 * 3600), offset(-12 * 3600), offset(14 * 3600)]
}

static SORTS: LazyLock<Vec<Vec<SortKey>>> = LazyLock::new(|| {
    let field = |name: &str| table().target(name).expect("fixture field");
    vec![
        vec![],
        vec![SortKey {
            target: Target::System(SystemField::CreatedAt),
            descending: true,
        }],
        vec![
            SortKey {
                target: field("金额"),
                descending: true,
            },
            SortKey {
                target: field("到期"),
                descending: false,
            },
            SortKey {
                target: Target::System(SystemField::Id),
                descending: false,
            },
        ],
    ]
});

/// Sort key lists a cursor may be tied to: none, one system field, and
/// two user fields plus a system one.
pub fn sorts() -> &'static [Vec<SortKey>] {
    &SORTS
}

/// Import headers mapped to the table's fields in order (required fields
/// without a default first, auto numbers left out), so rows reach every
/// kind of field whatever the headers say. Blank and repeated headers are
/// skipped. Shared by the CSV and XLSX import targets.
pub fn mapping_in_order(headers: &[String]) -> serde_json::Map<String, Json> {
    use citadel_core::data::schema::FieldKind;
    let table = table();
    let mut fields: Vec<_> = table
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::AutoNumber))
        .collect();
    fields.sort_by_key(|f| !(f.options.required && f.options.default.is_none()));
    let mut mapping = serde_json::Map::new();
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

/// An imported row holds a value for each field but auto numbers, and what
/// the API would show for it is accepted by `read_new_record` as the very
/// same cells (order aside): an imported record obeys exactly the rules of
/// one sent as JSON.
pub fn check_imported_row(
    read: Vec<(FieldId, citadel_core::data::value::Cell)>,
    offset: FixedOffset,
) {
    use citadel_core::data::input::{cells_json, read_new_record};
    use citadel_core::data::schema::FieldKind;
    let table = table();
    let expected = table
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::AutoNumber))
        .count();
    assert_eq!(read.len(), expected, "a field is missing from {read:?}");
    let shown = cells_json(table, &read);
    match read_new_record(table, &shown, offset) {
        Ok(again) => assert_eq!(
            by_field(again),
            by_field(read),
            "{shown:?} (an imported row) reads back differently"
        ),
        Err(e) => panic!("{shown:?} (an imported row) is refused: {e}"),
    }
}

/// Cells in field-id order, to compare two reads of a record.
pub fn by_field(
    mut cells: Vec<(FieldId, citadel_core::data::value::Cell)>,
) -> Vec<(FieldId, citadel_core::data::value::Cell)> {
    cells.sort_by_key(|(id, _)| *id);
    cells
}
