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
use citadel_core::data::table::{SystemField, TableSchema, Target, field_column};
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
            let (name, kind, options) = spec.check().expect("fixture spec is valid");
            let id = FieldId::parse(&fixed_uuid(n as u64 + 1)).expect("fixed uuid");
            FieldDef {
                id,
                name,
                kind,
                options,
                position: n as i64,
                column: field_column(id, 0),
            }
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
