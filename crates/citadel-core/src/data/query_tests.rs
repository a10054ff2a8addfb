#![allow(clippy::unwrap_used)]

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::json;

use super::*;
use crate::data::names::SchemaName;
use crate::data::schema::FieldSpec;
use crate::filter::parse;
use crate::{AppId, TableId};

fn table() -> TableSchema {
    let specs = [
        json!({"name": "名称", "type": "text"}),
        json!({"name": "金额", "type": "currency"}),
        json!({"name": "状态", "type": "single_select", "choices": [{"name": "新"}, {"name": "完成"}]}),
        json!({"name": "标签", "type": "multi_select", "choices": [{"name": "vip"}]}),
        json!({"name": "到期", "type": "date"}),
        json!({"name": "签约时间", "type": "date_time"}),
        json!({"name": "负责人", "type": "user"}),
        json!({"name": "备注", "type": "long_text"}),
        json!({"name": "关联", "type": "link", "table": TableId::generate(), "multiple": true}),
        json!({"name": "done", "type": "boolean"}),
    ];
    let fields = specs
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let spec: FieldSpec = serde_json::from_value(spec.clone()).unwrap();
            FieldDef::new(FieldId::generate(), spec.check().unwrap(), n as i64)
        })
        .collect();
    TableSchema {
        id: TableId::generate(),
        app: AppId::generate(),
        name: SchemaName::parse("合同").unwrap(),
        description: None,
        fields,
        schema_version: 1,
    }
}

fn context() -> FilterContext {
    // 2026-11-22 10:00 in Beijing, a Sunday.
    let now = DateTime::parse_from_rfc3339("2026-11-22T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut context = FilterContext::at(now, FixedOffset::east_opt(8 * 3600).unwrap());
    context.me = Some(UserId::generate());
    context
}

fn resolved(t: &TableSchema, text: &str) -> Result<Predicate, String> {
    resolve(&parse(text).map_err(|e| e.to_string())?, t, &context()).map_err(|e| e.to_string())
}

fn field(t: &TableSchema, name: &str) -> Target {
    t.target(name).unwrap()
}

#[test]
fn values_are_typed_for_their_column() {
    let t = table();
    assert_eq!(
        resolved(&t, "金额 >= 12.5"),
        Ok(Predicate::Compare {
            target: field(&t, "金额"),
            op: Comparison::Ge,
            value: SqlValue::Int(1250),
        })
    );
    assert_eq!(
        resolved(&t, "状态 in ('新', '完成')"),
        Ok(Predicate::In {
            target: field(&t, "状态"),
            values: vec![SqlValue::Text("新".into()), SqlValue::Text("完成".into())],
        })
    );
    assert_eq!(
        resolved(&t, "标签 contains 'vip'"),
        Ok(Predicate::HasChoice {
            target: field(&t, "标签"),
            choice: "vip".into(),
        })
    );
    assert!(matches!(
        resolved(&t, "负责人 = $me"),
        Ok(Predicate::Compare {
            value: SqlValue::Text(_),
            ..
        })
    ));
    assert_eq!(
        resolved(&t, "id > 10 and not done = true"),
        Ok(Predicate::All(vec![
            Predicate::Compare {
                target: Target::System(SystemField::Id),
                op: Comparison::Gt,
                value: SqlValue::Int(10),
            },
            Predicate::Not(Box::new(Predicate::Compare {
                target: field(&t, "done"),
                op: Comparison::Eq,
                value: SqlValue::Bool(true),
            })),
        ]))
    );
}

#[test]
fn dates_compare_as_spans_in_the_tenant_time_zone() {
    let t = table();
    let day = |s: &str| SqlValue::Date(s.parse::<NaiveDate>().unwrap());
    let due = field(&t, "到期");
    assert_eq!(
        resolved(&t, "到期 = this_week"),
        Ok(Predicate::All(vec![
            Predicate::Compare {
                target: due,
                op: Comparison::Ge,
                value: day("2026-11-16")
            },
            Predicate::Compare {
                target: due,
                op: Comparison::Lt,
                value: day("2026-11-23")
            },
        ]))
    );
    assert_eq!(
        resolved(&t, "到期 < '2026-01-01'"),
        Ok(Predicate::Compare {
            target: due,
            op: Comparison::Lt,
            value: day("2026-01-01")
        })
    );
    // Today in Beijing starts at 16:00 UTC the day before.
    let at = |s: &str| SqlValue::DateTime(DateTime::parse_from_rfc3339(s).unwrap().into());
    let signed = field(&t, "签约时间");
    assert_eq!(
        resolved(&t, "签约时间 = today"),
        Ok(Predicate::All(vec![
            Predicate::Compare {
                target: signed,
                op: Comparison::Ge,
                value: at("2026-11-21T16:00:00Z")
            },
            Predicate::Compare {
                target: signed,
                op: Comparison::Lt,
                value: at("2026-11-22T16:00:00Z")
            },
        ]))
    );
    assert!(resolved(&t, "created_at = last 7 days").is_ok());
    assert!(resolved(&t, "到期 between '2026-01-01' and this_month").is_ok());
}

#[test]
fn mismatches_are_refused_with_the_field_named() {
    let t = table();
    for (filter, reason) in [
        ("nope = 1", "nope: no such field"),
        ("金额 = 'abc'", "金额: expects a number"),
        ("金额 = 1.234", "金额: has more than 2 decimal places"),
        (
            "状态 = '取消'",
            "状态: `取消` is not one of the field's choices",
        ),
        ("状态 > '新'", "状态: `<`, `>` and `between` does not apply"),
        ("标签 > 'vip'", "标签: ordering does not apply"),
        ("到期 = 5", "到期: expects a date"),
        ("到期 = '2026-02-30'", "到期: must be a date"),
        ("done = 'yes'", "done: expects true or false"),
        ("备注 < 'x'", "备注: `<`, `>` and `between` does not apply"),
        ("金额 contains '1'", "金额: `contains` does not apply"),
        ("负责人 = 'bob'", "负责人: expects a user id"),
        (
            "名称 = $my_department",
            "名称: `$my_department` cannot be used here",
        ),
        ("名称 = today", "名称: a period applies only to dates"),
    ] {
        let err = resolved(&t, filter).expect_err(filter);
        assert!(err.starts_with(reason), "{filter}: {err}");
    }
}

#[test]
fn links_and_emptiness() {
    let t = table();
    let Target::Field(link) = field(&t, "关联") else {
        panic!("a user field")
    };
    assert_eq!(
        resolved(&t, "关联 = 7"),
        Ok(Predicate::HasLink {
            field: link,
            record: crate::RecordId(7)
        })
    );
    assert_eq!(
        resolved(&t, "关联 is empty"),
        Ok(Predicate::NoLinks { field: link })
    );
    assert_eq!(
        resolved(&t, "名称 is not empty"),
        Ok(Predicate::Not(Box::new(Predicate::IsNull(field(
            &t, "名称"
        )))))
    );
}

fn sealed_table() -> TableSchema {
    let mut table = table();
    let spec: FieldSpec =
        serde_json::from_value(json!({"name": "身份证", "type": "resident_id"})).unwrap();
    table.fields.push(FieldDef::new(
        FieldId::generate(),
        spec.check().unwrap(),
        20,
    ));
    table
}

#[test]
fn encrypted_fields_match_whole_values_through_the_blind_index() {
    let table = sealed_table();
    let id = table.field_by_key("身份证").unwrap().id;
    let context = FilterContext::at(Utc::now(), FixedOffset::east_opt(8 * 3600).unwrap());
    let resolved = |text: &str| resolve(&parse(text).unwrap(), &table, &context);
    // The value is read as input is: a lower-case check letter is the same ID.
    assert_eq!(
        resolved("身份证 = '11010519491231002x'").unwrap(),
        Predicate::Blind {
            field: id,
            values: vec!["\"11010519491231002X\"".into()]
        }
    );
    assert!(matches!(
        resolved("身份证 in ('11010519491231002X', '110105199003071239')").unwrap(),
        Predicate::Blind { values, .. } if values.len() == 2
    ));
    assert!(matches!(
        resolved("身份证 != '11010519491231002X'").unwrap(),
        Predicate::Not(inner) if matches!(*inner, Predicate::Blind { .. })
    ));
    assert_eq!(
        resolved("身份证 is empty").unwrap(),
        Predicate::IsNull(Target::Field(id))
    );
    for refused in [
        "身份证 > '1'",
        "身份证 contains '1101'",
        "身份证 starts with '1101'",
        "身份证 between '1' and '2'",
    ] {
        let error = resolved(refused).expect_err(refused).to_string();
        assert!(error.contains("encrypted"), "{refused}: {error}");
    }
    // A value that is not an ID cannot match one, and says why.
    assert!(resolved("身份证 = '123'").is_err());
    let sort = crate::data::listing::resolve_sort("身份证", &table).expect_err("no sort");
    assert!(sort.to_string().contains("encrypted"));
}
