use super::*;

fn spec(json: serde_json::Value) -> Result<(SchemaName, FieldKind, FieldOptions), CoreError> {
    serde_json::from_value::<FieldSpec>(json)
        .map_err(|e| schema_error(e.to_string()))?
        .check()
}

#[test]
fn declarations_become_kinds() {
    let (name, kind, options) = spec(serde_json::json!({
        "name": "合同金额", "type": "currency", "required": true, "min": 0
    }))
    .expect("valid currency");
    assert_eq!(name.as_str(), "合同金额");
    assert_eq!(
        kind,
        FieldKind::Currency {
            currency: "CNY".into(),
            scale: 2
        }
    );
    assert!(options.required);
    assert_eq!(options.min, Some(Decimal::from_scaled(0, 2)));
}

#[test]
fn foreign_and_bad_knobs_are_refused() {
    for (bad, why) in [
        (
            serde_json::json!({"name": "a", "type": "text", "precision": 3}),
            "precision",
        ),
        (
            serde_json::json!({"name": "a", "type": "integer", "pattern": "x"}),
            "pattern",
        ),
        (
            serde_json::json!({"name": "a", "type": "decimal", "precision": 19}),
            "precision",
        ),
        (
            serde_json::json!({"name": "a", "type": "single_select"}),
            "choices",
        ),
        (serde_json::json!({"name": "a", "type": "link"}), "table"),
        (
            serde_json::json!({"name": "a", "type": "text", "pattern": "("}),
            "regular",
        ),
        (
            serde_json::json!({"name": "a", "type": "integer", "min": 5, "max": 1}),
            "greater",
        ),
        (
            serde_json::json!({"name": "a", "type": "auto_number", "required": true}),
            "auto",
        ),
        (
            serde_json::json!({"name": "a", "type": "spreadsheet"}),
            "unknown field type",
        ),
        (
            serde_json::json!({"name": "id", "type": "text"}),
            "reserved",
        ),
        (
            serde_json::json!({"name": "a", "type": "single_select",
                "choices": [{"name": "x"}, {"name": "x"}]}),
            "twice",
        ),
        (
            serde_json::json!({"name": "a", "type": "single_select",
                "choices": [{"name": "x", "colour": "javascript:"}]}),
            "colour",
        ),
    ] {
        let err = spec(bad.clone()).expect_err("must be refused").to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let parsed = serde_json::from_value::<FieldSpec>(
        serde_json::json!({"name": "a", "type": "text", "requird": true}),
    );
    assert!(parsed.is_err());
}
