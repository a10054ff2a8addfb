#![allow(clippy::unwrap_used)]

use chrono::FixedOffset;
use serde_json::json;

use super::*;
use crate::data::names::SchemaName;
use crate::data::schema::FieldOptions;
use crate::{FieldId, TableId};

use crate::data::test_support::field;

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

fn accept(f: &FieldDef, v: serde_json::Value) -> Result<Cell, String> {
    f.accept(&v, beijing()).map_err(|e| e.to_string())
}

#[test]
fn numbers_are_exact_and_bounded() {
    let amount = field(
        json!({"name": "金额", "type": "decimal", "precision": 6, "scale": 2,
        "min": "0", "max": 5000}),
    );
    assert_eq!(
        accept(&amount, json!("12.30")),
        Ok(Cell::Decimal(Decimal::from_scaled(1230, 2)))
    );
    assert_eq!(
        accept(&amount, json!(12)),
        Ok(Cell::Decimal(Decimal::from_scaled(1200, 2)))
    );
    let err = accept(&amount, json!("1.234")).unwrap_err();
    assert!(
        err.starts_with("金额:") && err.contains("2 decimal places"),
        "{err}"
    );
    assert!(
        accept(&amount, json!(-1))
            .unwrap_err()
            .contains("at least 0.00")
    );
    assert!(
        accept(&amount, json!(5000.01))
            .unwrap_err()
            .contains("at most 5000.00")
    );
    assert!(
        accept(&amount, json!("10000"))
            .unwrap_err()
            .contains("digits")
    );
    let count = field(json!({"name": "n", "type": "integer"}));
    assert_eq!(accept(&count, json!(7)), Ok(Cell::Integer(7)));
    assert!(accept(&count, json!(7.5)).is_err());
    assert!(accept(&count, json!(true)).is_err());
}

#[test]
fn text_rules_apply() {
    let code = field(json!({"name": "code", "type": "text", "required": true,
        "min_length": 2, "max_length": 4, "pattern": "^[A-Z]+$"}));
    assert_eq!(accept(&code, json!("ABC")), Ok(Cell::Text("ABC".into())));
    assert!(accept(&code, json!("")).unwrap_err().contains("required"));
    assert!(accept(&code, json!(null)).unwrap_err().contains("required"));
    assert!(
        accept(&code, json!("A"))
            .unwrap_err()
            .contains("at least 2")
    );
    assert!(
        accept(&code, json!("ABCDE"))
            .unwrap_err()
            .contains("at most 4")
    );
    assert!(accept(&code, json!("abc")).unwrap_err().contains("pattern"));
    assert!(
        accept(&code, json!("A\nB"))
            .unwrap_err()
            .contains("single line")
    );
    assert!(accept(&code, json!(12)).unwrap_err().contains("string"));
    let notes = field(json!({"name": "notes", "type": "long_text"}));
    assert_eq!(accept(&notes, json!("a\nb")), Ok(Cell::Text("a\nb".into())));
    assert!(accept(&notes, json!("a\u{7}b")).is_err());
}

#[test]
fn selects_take_only_their_choices() {
    let status = field(json!({"name": "状态", "type": "single_select",
        "choices": [{"name": "进行中", "colour": "blue"}, {"name": "完成"}]}));
    assert_eq!(
        accept(&status, json!("完成")),
        Ok(Cell::Text("完成".into()))
    );
    assert!(
        accept(&status, json!("取消"))
            .unwrap_err()
            .contains("not one of")
    );
    let tags = field(json!({"name": "tags", "type": "multi_select",
        "choices": [{"name": "a"}, {"name": "b"}]}));
    assert_eq!(
        accept(&tags, json!(["b", "a", "b"])),
        Ok(Cell::Choices(vec!["b".into(), "a".into()]))
    );
    assert!(accept(&tags, json!(["c"])).is_err());
    assert!(accept(&tags, json!("a")).is_err());
}

#[test]
fn dates_and_times() {
    let due = field(json!({"name": "due", "type": "date"}));
    assert_eq!(
        accept(&due, json!("2026-02-28")).map(|c| c.to_json()),
        Ok(json!("2026-02-28"))
    );
    assert!(accept(&due, json!("2026-02-30")).is_err());
    let at = field(json!({"name": "at", "type": "date_time"}));
    let utc = |v| accept(&at, v).map(|c| c.to_json());
    assert_eq!(
        utc(json!("2026-11-22T09:30:00+08:00")),
        Ok(json!("2026-11-22T01:30:00.000Z"))
    );
    // Without an offset the tenant's time zone applies.
    assert_eq!(
        utc(json!("2026-11-22 09:30")),
        Ok(json!("2026-11-22T01:30:00.000Z"))
    );
    assert!(utc(json!("yesterday")).is_err());
}

#[test]
fn identifiers_are_checked_and_normalised() {
    let id = field(json!({"name": "身份证号", "type": "resident_id"}));
    assert_eq!(
        accept(&id, json!("11010519491231002x")),
        Ok(Cell::Text("11010519491231002X".into()))
    );
    assert!(accept(&id, json!("110105194912310021")).is_err());
    let card = field(json!({"name": "card", "type": "bank_card"}));
    assert_eq!(
        accept(&card, json!("4111 1111 1111 1111")),
        Ok(Cell::Text("4111111111111111".into()))
    );
    assert!(accept(&card, json!("4111111111111112")).is_err());
    let phone = field(json!({"name": "phone", "type": "mobile_phone"}));
    assert_eq!(
        accept(&phone, json!("+86 138-0013-8000")),
        Ok(Cell::Text("13800138000".into()))
    );
}

#[test]
fn references_and_links() {
    let owner = field(json!({"name": "owner", "type": "user"}));
    let id = UserId::generate();
    assert_eq!(
        accept(&owner, json!(id.to_string())),
        Ok(Cell::Ref(id.to_string()))
    );
    assert!(accept(&owner, json!("bob")).is_err());
    let table = TableId::generate();
    let one = field(json!({"name": "customer", "type": "link", "table": table}));
    assert_eq!(accept(&one, json!(5)), Ok(Cell::Link(RecordId(5))));
    assert!(accept(&one, json!(0)).is_err());
    let many = field(json!({"name": "items", "type": "link", "table": table, "multiple": true}));
    assert_eq!(
        accept(&many, json!([3, 1, 3])),
        Ok(Cell::Links(vec![RecordId(3), RecordId(1)]))
    );
    let auto = field(json!({"name": "no", "type": "auto_number"}));
    assert!(
        accept(&auto, json!(1))
            .unwrap_err()
            .contains("numbered by the server")
    );
}

#[test]
fn options_default_to_nothing() {
    let plain = FieldDef {
        id: FieldId::generate(),
        name: SchemaName::parse("x").unwrap(),
        kind: FieldKind::Boolean,
        options: FieldOptions::default(),
        position: 0,
        column: "f".into(),
    };
    assert_eq!(accept(&plain, json!(null)), Ok(Cell::Null));
    assert_eq!(accept(&plain, json!(false)), Ok(Cell::Bool(false)));
    assert!(accept(&plain, json!("yes")).is_err());
}

#[test]
fn canonical_form_is_the_api_json() {
    // Blind indexes key this form and ciphertexts hold it: `Cell`'s own
    // serialization must give the bytes the JSON value gives.
    let cells = [
        Cell::Text("客户 \"甲\"\\\n\u{1}\u{7f}".into()),
        Cell::Text(String::new()),
        Cell::Ref("01a20856-c9cc-75db-9c45-126948174638".into()),
        Cell::Integer(-42),
        Cell::Decimal(Decimal::from_scaled(1230, 2)),
        Cell::Bool(true),
        Cell::Choices(vec!["新建".into(), "a\"b".into()]),
        Cell::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
        Cell::DateTime(chrono::DateTime::from_timestamp_millis(1_795_442_672_175).unwrap()),
        Cell::Link(RecordId(7)),
        Cell::Links(vec![RecordId(1), RecordId(2)]),
        Cell::Null,
    ];
    for cell in cells {
        assert_eq!(cell.canonical(), cell.to_json().to_string(), "{cell:?}");
    }
    assert_eq!(Cell::Text("a\"b".into()).canonical(), r#""a\"b""#);
}
