//! Converting a stored value when its field changes type. A conversion is
//! the value written the way a person would type it for the new type, read
//! by the new field's own rules: so an amount becomes text `"12.50"`, text
//! `"12.50"` becomes an amount, and a text that is not a number says why.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value as Json, json};

use crate::CoreError;
use crate::data::schema::{FieldDef, FieldKind};
use crate::data::value::Cell;

/// Whether values can move from `from` to `to` at all. References keep
/// their meaning only within their own kind; auto numbers are assigned,
/// never converted into; many-to-many links live in another table.
pub fn can_convert(from: &FieldKind, to: &FieldKind) -> Result<(), CoreError> {
    let refuse = |why: &str| {
        Err(CoreError::InvalidSchema(format!(
            "a {} field cannot become a {} field: {why}",
            from.type_name(),
            to.type_name()
        )))
    };
    match (from, to) {
        (
            FieldKind::Link {
                table: a,
                multiple: m,
            },
            FieldKind::Link {
                table: b,
                multiple: n,
            },
        ) => {
            if a != b || m != n {
                return refuse("links keep their table and cardinality");
            }
            Ok(())
        }
        (FieldKind::Link { .. }, _) | (_, FieldKind::Link { .. }) => {
            refuse("links convert only to links")
        }
        (FieldKind::User, FieldKind::User) | (FieldKind::Department, FieldKind::Department) => {
            Ok(())
        }
        (FieldKind::User | FieldKind::Department, _)
        | (_, FieldKind::User | FieldKind::Department) => {
            refuse("user and department references keep their kind")
        }
        (_, FieldKind::AutoNumber) => refuse("auto numbers are assigned by the server"),
        _ => Ok(()),
    }
}

/// The value a cell takes in the field `to`, or why it cannot.
pub fn convert(cell: &Cell, to: &FieldDef, offset: FixedOffset) -> Result<Cell, CoreError> {
    let input = match (cell, &to.kind) {
        (Cell::Null, _) => Json::Null,
        // Text-like targets take any value as it is written.
        (_, kind) if kind.is_textual() && !matches!(kind, FieldKind::SingleSelect { .. }) => {
            json!(as_text(cell, offset))
        }
        (Cell::Choices(choices), FieldKind::SingleSelect { .. }) => match choices.as_slice() {
            [] => Json::Null,
            [one] => json!(one),
            _ => {
                return Err(CoreError::InvalidField {
                    field: to.name.to_string(),
                    reason: "holds several choices; a single select takes one".into(),
                });
            }
        },
        (_, FieldKind::SingleSelect { .. }) => json!(as_text(cell, offset)),
        (Cell::Choices(_), FieldKind::MultiSelect { .. }) => cell.to_json(),
        (_, FieldKind::MultiSelect { .. }) => json!([as_text(cell, offset)]),
        (Cell::Decimal(d), FieldKind::Integer) => match d.rescale(0) {
            Some(whole) => json!(whole.units()),
            None => json!(d.to_string()),
        },
        (Cell::Text(t), FieldKind::Boolean) => match t.trim().to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "是" | "√" => json!(true),
            "false" | "no" | "n" | "0" | "否" | "×" => json!(false),
            _ => json!(t),
        },
        (Cell::DateTime(t), FieldKind::Date) => {
            json!(t.with_timezone(&offset).format("%Y-%m-%d").to_string())
        }
        (Cell::Date(d), FieldKind::DateTime) => json!(format!("{} 00:00", d.format("%Y-%m-%d"))),
        (
            Cell::Integer(n),
            FieldKind::Decimal { .. } | FieldKind::Currency { .. } | FieldKind::Percent { .. },
        ) => {
            json!(n.to_string())
        }
        (Cell::Bool(b), FieldKind::Integer) => json!(i64::from(*b)),
        _ => cell.to_json(),
    };
    to.accept(&input, offset)
}

/// A value as a person would type it.
fn as_text(cell: &Cell, offset: FixedOffset) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(t) | Cell::Ref(t) => t.clone(),
        Cell::Integer(n) => n.to_string(),
        Cell::Decimal(d) => d.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::DateTime(t) => local(t, offset),
        Cell::Choices(c) => c.join(";"),
        Cell::Link(id) => id.0.to_string(),
        Cell::Links(ids) => ids
            .iter()
            .map(|id| id.0.to_string())
            .collect::<Vec<_>>()
            .join(";"),
    }
}

fn local(t: &DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::decimal::Decimal;

    use crate::TableId;

    use crate::data::test_support::field;

    fn beijing() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("offset")
    }

    fn to(spec: Json, cell: Cell) -> Result<Cell, String> {
        convert(&cell, &field(spec), beijing()).map_err(|e| e.to_string())
    }

    #[test]
    fn values_convert_the_way_people_would_retype_them() {
        let amount = Cell::Decimal(Decimal::from_scaled(1250, 2));
        assert_eq!(
            to(json!({"name": "t", "type": "text"}), amount.clone()),
            Ok(Cell::Text("12.50".into()))
        );
        assert_eq!(
            to(
                json!({"name": "d", "type": "currency"}),
                Cell::Text(" 12.5 ".into())
            ),
            Ok(Cell::Decimal(Decimal::from_scaled(1250, 2)))
        );
        assert!(
            to(json!({"name": "n", "type": "integer"}), amount)
                .is_err_and(|e| e.contains("whole number"))
        );
        assert_eq!(
            to(
                json!({"name": "n", "type": "integer"}),
                Cell::Decimal(Decimal::from_scaled(1200, 2))
            ),
            Ok(Cell::Integer(12))
        );
        assert_eq!(
            to(
                json!({"name": "d", "type": "decimal", "scale": 1}),
                Cell::Integer(3)
            ),
            Ok(Cell::Decimal(Decimal::from_scaled(30, 1)))
        );
        assert_eq!(
            to(
                json!({"name": "b", "type": "boolean"}),
                Cell::Text("是".into())
            ),
            Ok(Cell::Bool(true))
        );
        assert!(
            to(
                json!({"name": "b", "type": "boolean"}),
                Cell::Text("maybe".into())
            )
            .is_err()
        );
        let evening = DateTime::parse_from_rfc3339("2026-11-22T17:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            to(
                json!({"name": "d", "type": "date"}),
                Cell::DateTime(evening)
            )
            .map(|c| c.to_json()),
            Ok(json!("2026-11-23")),
            "the local date in the tenant's zone"
        );
        assert_eq!(
            to(
                json!({"name": "t", "type": "text"}),
                Cell::DateTime(evening)
            ),
            Ok(Cell::Text("2026-11-23 01:00:00".into()))
        );
        let choices = json!([{"name": "a"}, {"name": "b"}]);
        assert_eq!(
            to(
                json!({"name": "s", "type": "single_select", "choices": choices}),
                Cell::Text("b".into())
            ),
            Ok(Cell::Text("b".into()))
        );
        assert!(
            to(
                json!({"name": "s", "type": "single_select", "choices": choices}),
                Cell::Text("c".into())
            )
            .is_err()
        );
        assert_eq!(
            to(
                json!({"name": "m", "type": "multi_select", "choices": choices}),
                Cell::Text("a".into())
            ),
            Ok(Cell::Choices(vec!["a".into()]))
        );
        assert!(
            to(
                json!({"name": "s", "type": "single_select", "choices": choices}),
                Cell::Choices(vec!["a".into(), "b".into()])
            )
            .is_err_and(|e| e.contains("several"))
        );
        assert_eq!(
            to(
                json!({"name": "e", "type": "email"}),
                Cell::Text("A@Example.CN".into())
            ),
            Ok(Cell::Text("A@example.cn".into()))
        );
        assert_eq!(
            to(json!({"name": "x", "type": "integer"}), Cell::Null),
            Ok(Cell::Null)
        );
    }

    #[test]
    fn references_and_numbering_keep_their_kind() {
        let link = |multiple| FieldKind::Link {
            table: TableId::generate(),
            multiple,
        };
        assert!(can_convert(&FieldKind::Text, &FieldKind::Integer).is_ok());
        assert!(can_convert(&FieldKind::User, &FieldKind::Text).is_err());
        assert!(can_convert(&FieldKind::Text, &FieldKind::Department).is_err());
        assert!(can_convert(&link(false), &FieldKind::Integer).is_err());
        assert!(can_convert(&link(false), &link(true)).is_err());
        assert!(can_convert(&FieldKind::Integer, &FieldKind::AutoNumber).is_err());
        assert!(can_convert(&FieldKind::AutoNumber, &FieldKind::Integer).is_ok());
    }
}
