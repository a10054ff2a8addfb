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

#[test]
fn sensitive_kinds_are_encrypted_unless_told_otherwise() {
    for kind in ["resident_id", "bank_card", "social_credit_code"] {
        let (_, _, options) = spec(serde_json::json!({"name": "a", "type": kind})).expect("valid");
        assert!(options.encrypted, "{kind} is encrypted by default");
        let (_, _, options) =
            spec(serde_json::json!({"name": "a", "type": kind, "encrypted": false}))
                .expect("valid");
        assert!(!options.encrypted, "{kind} may be stored in plaintext");
    }
    let (_, _, options) = spec(serde_json::json!({"name": "a", "type": "text"})).expect("valid");
    assert!(!options.encrypted);
    let (_, _, options) =
        spec(serde_json::json!({"name": "a", "type": "decimal", "encrypted": true}))
            .expect("valid");
    assert!(options.encrypted);
}

#[test]
fn kinds_with_few_values_or_server_values_cannot_be_encrypted() {
    for spec_json in [
        serde_json::json!({"name": "a", "type": "boolean", "encrypted": true}),
        serde_json::json!({"name": "a", "type": "single_select", "choices": [{"name": "x"}], "encrypted": true}),
        serde_json::json!({"name": "a", "type": "user", "encrypted": true}),
        serde_json::json!({"name": "a", "type": "auto_number", "encrypted": true}),
    ] {
        let refused = spec(spec_json.clone()).expect_err("refused");
        assert!(
            refused.to_string().contains("cannot be encrypted"),
            "{spec_json}"
        );
    }
}

#[test]
fn stored_declarations_from_before_encryption_stay_plaintext() {
    let stored = serde_json::json!({"name": "身份证", "type": "resident_id"});
    let field =
        FieldDef::from_spec_json(FieldId::generate(), &stored, 1, "f_x".into()).expect("readable");
    assert!(!field.options.encrypted);
    let round_trip =
        FieldDef::from_spec_json(field.id, &field.spec_json(), 1, "f_x".into()).expect("readable");
    assert_eq!(round_trip, field);
}
