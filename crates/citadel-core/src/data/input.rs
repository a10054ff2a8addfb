//! A record as a client sends it: a JSON object keyed by field name (or
//! id), read into typed cells for a new record or for changes.

use chrono::FixedOffset;
use serde_json::{Map, Value as Json};

use crate::data::schema::{FieldDef, FieldKind};
use crate::data::table::{SystemField, TableSchema};
use crate::data::value::Cell;
use crate::{CoreError, FieldId};

fn refused(field: &str, reason: &str) -> CoreError {
    CoreError::InvalidField {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Reads the given fields, each once, refusing unknown and system ones.
fn read_given(
    table: &TableSchema,
    input: &Map<String, Json>,
    offset: FixedOffset,
) -> Result<Vec<(FieldId, Cell)>, CoreError> {
    let mut cells: Vec<(FieldId, Cell)> = Vec::with_capacity(input.len());
    for (key, value) in input {
        if SystemField::parse(key).is_some() {
            return Err(refused(key, "is set by the server"));
        }
        let field = table
            .field_by_key(key)
            .ok_or_else(|| refused(key, "no such field in this table"))?;
        if cells.iter().any(|(id, _)| *id == field.id) {
            return Err(refused(key, "is given twice"));
        }
        cells.push((field.id, field.accept(value, offset)?));
    }
    Ok(cells)
}

/// A new record: the given fields, then defaults, then the required check
/// for what is still missing. Auto numbers are left to the store.
pub fn read_new_record(
    table: &TableSchema,
    input: &Map<String, Json>,
    offset: FixedOffset,
) -> Result<Vec<(FieldId, Cell)>, CoreError> {
    let mut cells = read_given(table, input, offset)?;
    for field in &table.fields {
        if cells.iter().any(|(id, _)| *id == field.id)
            || matches!(field.kind, FieldKind::AutoNumber)
        {
            continue;
        }
        cells.push((field.id, default_cell(field, offset)?));
    }
    Ok(cells)
}

fn default_cell(field: &FieldDef, offset: FixedOffset) -> Result<Cell, CoreError> {
    match &field.options.default {
        Some(default) => field.accept(default, offset),
        None => {
            let empty = if field.kind.has_column() {
                Cell::Null
            } else {
                Cell::Links(Vec::new())
            };
            field.check(&empty)?;
            Ok(empty)
        }
    }
}

/// Changes to an existing record: only the given fields.
pub fn read_changes(
    table: &TableSchema,
    input: &Map<String, Json>,
    offset: FixedOffset,
) -> Result<Vec<(FieldId, Cell)>, CoreError> {
    read_given(table, input, offset)
}

/// The JSON object of a record's cells, keyed by field name.
pub fn cells_json(table: &TableSchema, cells: &[(FieldId, Cell)]) -> Map<String, Json> {
    let mut out = Map::with_capacity(cells.len());
    for (id, cell) in cells {
        if let Some(field) = table.field(*id) {
            out.insert(field.name.to_string(), cell.to_json());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;
    use serde_json::json;

    use super::*;

    use crate::data::test_support::table;

    fn object(v: serde_json::Value) -> Map<String, Json> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn new_records_take_defaults_and_enforce_required() {
        let t = table(&[
            json!({"name": "名称", "type": "text", "required": true}),
            json!({"name": "状态", "type": "single_select", "default": "新",
                   "choices": [{"name": "新"}, {"name": "旧"}]}),
            json!({"name": "编号", "type": "auto_number"}),
        ]);
        let utc = FixedOffset::east_opt(0).expect("offset");
        let cells = read_new_record(&t, &object(json!({"名称": "甲"})), utc).expect("valid");
        assert_eq!(cells.len(), 2);
        assert_eq!(
            cells_json(&t, &cells),
            object(json!({"名称": "甲", "状态": "新"}))
        );
        let missing = read_new_record(&t, &object(json!({})), utc).expect_err("required");
        assert_eq!(missing.to_string(), "名称: is required");
        let unknown = read_new_record(&t, &object(json!({"名称": "甲", "x": 1})), utc);
        assert_eq!(
            unknown.expect_err("unknown").to_string(),
            "x: no such field in this table"
        );
        let system = read_changes(&t, &object(json!({"version": 3})), utc);
        assert!(
            system
                .expect_err("system")
                .to_string()
                .contains("set by the server")
        );
        let by_id = object(json!({ t.fields[0].id.to_string(): "乙", "名称": "丙" }));
        assert!(read_changes(&t, &by_id, utc).is_err_and(|e| e.to_string().contains("twice")));
    }
}
