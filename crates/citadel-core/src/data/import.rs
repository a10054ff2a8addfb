//! Importing rows of a spreadsheet into a table: which column feeds which
//! field ([`ImportPlan::new`]), and each row read into the cells of a new
//! record or the reasons it cannot be ([`ImportPlan::read_row`]).
//!
//! What only stored data can tell (a unique value already taken, a link to
//! a record that does not exist) and duplicates between rows are judged by
//! the caller, which sees the whole file.

use chrono::FixedOffset;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::data::schema::{FieldDef, FieldKind};
use crate::data::table::{SystemField, TableSchema};
use crate::data::value::Cell;
use crate::{CoreError, FieldId};

/// Most columns a file may have: every field of the widest table, and as
/// many columns again to skip.
pub const MAX_COLUMNS: usize = 1000;

/// Why one row (or one cell of it) cannot be imported. Rows are numbered
/// as a spreadsheet shows them: the header is row 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: u64,
    /// The column's header in the file, when the error is about a cell.
    pub column: Option<String>,
    /// The field's name, when the error is about a field.
    pub field: Option<String>,
    pub reason: String,
}

impl RowError {
    /// `row 17, 金额`: the row and the column (or field) it is about.
    pub fn place(&self) -> String {
        match self.column.as_deref().or(self.field.as_deref()) {
            Some(name) => format!("row {}, {name}", self.row),
            None => format!("row {}", self.row),
        }
    }

    /// `row 17.金额`, in the style of `records[3].金额` for batches.
    pub fn path(&self) -> String {
        match self.column.as_deref().or(self.field.as_deref()) {
            Some(name) => format!("row {}.{name}", self.row),
            None => format!("row {}", self.row),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place(), self.reason)
    }
}

/// How a file's columns map onto a table's fields.
#[derive(Clone, Debug)]
pub struct ImportPlan {
    table: TableSchema,
    offset: FixedOffset,
    headers: Vec<String>,
    /// Per column: the index of its field in `table.fields`, or skipped.
    columns: Vec<Option<usize>>,
    /// The value an empty cell takes, per field index: its default.
    defaults: Vec<Option<Cell>>,
    /// Fields no column feeds, with the value every record gets.
    fill: Vec<(FieldId, Cell)>,
}

fn plan_error(reason: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: "mapping".into(),
        reason: reason.into(),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

fn quoted(names: &[&str]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(20)
        .map(|n| format!("`{}`", clip(n)))
        .collect();
    let more = names.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A field's value when the file gives none: its default, else empty.
fn default_cell(field: &FieldDef, offset: FixedOffset) -> Result<Option<Cell>, CoreError> {
    field
        .options
        .default
        .as_ref()
        .map(|default| field.accept(default, offset))
        .transpose()
}

fn empty_cell(field: &FieldDef) -> Cell {
    if field.kind.has_column() {
        Cell::Null
    } else {
        Cell::Links(Vec::new())
    }
}

impl ImportPlan {
    /// Maps `headers` (the file's first row) onto `table`. `mapping` maps
    /// a header to a field name or id, or to `null` to skip the column;
    /// headers it leaves out go to the field of the same name (ignoring
    /// case). Columns named like a system field (`id`, `created_at`, as an
    /// export writes them), blank headers and auto numbers are skipped.
    /// Refused: a mapping naming a column the file lacks or an unknown
    /// field, a column matching no field, a field fed by two columns, and a
    /// required field without a default that no column feeds.
    pub fn new(
        table: &TableSchema,
        headers: &[String],
        mapping: Option<&Map<String, Json>>,
        offset: FixedOffset,
    ) -> Result<Self, CoreError> {
        if headers.len() > MAX_COLUMNS {
            return Err(plan_error(format!(
                "the file has {} columns; at most {MAX_COLUMNS} can be imported",
                headers.len()
            )));
        }
        let headers: Vec<String> = headers
            .iter()
            .enumerate()
            .map(|(n, h)| {
                let h = if n == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                };
                h.trim().to_owned()
            })
            .collect();
        let empty = Map::new();
        let mapping = mapping.unwrap_or(&empty);
        let mut explicit: Vec<(&str, Option<usize>)> = Vec::with_capacity(mapping.len());
        for (column, target) in mapping {
            let column = column.trim();
            if !headers.iter().any(|h| h == column) {
                return Err(plan_error(format!(
                    "names the column `{}`, which the file does not have",
                    clip(column)
                )));
            }
            let target = match target {
                Json::Null => None,
                Json::String(key) => Some(Self::field_index(table, key, true)?),
                _ => {
                    return Err(plan_error(format!(
                        "`{}` must map to a field name or id, or to null to skip it",
                        clip(column)
                    )));
                }
            };
            explicit.push((column, target));
        }
        let mut columns = Vec::with_capacity(headers.len());
        let mut unknown: Vec<&str> = Vec::new();
        for header in &headers {
            let target = match explicit.iter().find(|(c, _)| c == header) {
                Some((_, target)) => *target,
                None if header.is_empty() || SystemField::parse(header).is_some() => None,
                None => match Self::field_index(table, header, false) {
                    Ok(n) if matches!(table.fields[n].kind, FieldKind::AutoNumber) => None,
                    Ok(n) => Some(n),
                    Err(_) => {
                        unknown.push(header);
                        None
                    }
                },
            };
            columns.push(target);
        }
        if !unknown.is_empty() {
            return Err(plan_error(format!(
                "the file has columns that match no field: {}; map each to a field, or to null \
                 to skip it",
                quoted(&unknown)
            )));
        }
        for (n, field) in table.fields.iter().enumerate() {
            let fed_by: Vec<&str> = columns
                .iter()
                .zip(&headers)
                .filter(|(target, _)| **target == Some(n))
                .map(|(_, h)| h.as_str())
                .collect();
            if fed_by.len() > 1 {
                return Err(plan_error(format!(
                    "the field `{}` is fed by more than one column: {}",
                    field.name,
                    quoted(&fed_by)
                )));
            }
        }
        let mut defaults = Vec::with_capacity(table.fields.len());
        let mut fill = Vec::new();
        for (n, field) in table.fields.iter().enumerate() {
            let default = default_cell(field, offset)?;
            let fed = columns.contains(&Some(n));
            if !fed && !matches!(field.kind, FieldKind::AutoNumber) {
                let cell = default.clone().unwrap_or_else(|| empty_cell(field));
                if field.check(&cell).is_err() {
                    return Err(plan_error(format!(
                        "the required field `{}` has no column in the file",
                        field.name
                    )));
                }
                fill.push((field.id, cell));
            }
            defaults.push(default);
        }
        Ok(Self {
            table: table.clone(),
            offset,
            headers,
            columns,
            defaults,
            fill,
        })
    }

    /// The field `key` names. An explicit mapping may not name a system
    /// field or an auto number: both are the server's to set.
    fn field_index(table: &TableSchema, key: &str, explicit: bool) -> Result<usize, CoreError> {
        let key = key.trim();
        if SystemField::parse(key).is_some() {
            return Err(plan_error(format!("`{key}` is set by the server")));
        }
        let n = table
            .fields
            .iter()
            .position(|f| f.name.same_as(key))
            .or_else(|| {
                let field = table.field_by_key(key)?;
                table.fields.iter().position(|f| f.id == field.id)
            })
            .ok_or_else(|| plan_error(format!("`{}` is no field of this table", clip(key))))?;
        if explicit && matches!(table.fields[n].kind, FieldKind::AutoNumber) {
            return Err(plan_error(format!(
                "`{}` is numbered by the server and cannot be imported",
                table.fields[n].name
            )));
        }
        Ok(n)
    }

    pub fn table(&self) -> &TableSchema {
        &self.table
    }

    /// The file's headers, trimmed.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Each column's header and the field it feeds, if any.
    pub fn columns(&self) -> impl Iterator<Item = (&str, Option<&FieldDef>)> {
        self.headers
            .iter()
            .zip(&self.columns)
            .map(|(h, target)| (h.as_str(), target.map(|n| &self.table.fields[n])))
    }

    /// The header of the column that feeds `field`.
    pub fn column_of(&self, field: FieldId) -> Option<&str> {
        self.columns()
            .find(|(_, f)| f.is_some_and(|f| f.id == field))
            .map(|(h, _)| h)
    }

    /// A row with nothing in it: spreadsheets leave such rows behind, and
    /// they are not records.
    pub fn is_blank(cells: &[String]) -> bool {
        cells.iter().all(|c| c.trim().is_empty())
    }

    /// The cells of a new record from one row (`row` as a spreadsheet
    /// numbers it), or every reason the row is refused. An empty cell takes
    /// the field's default; fields without a column take theirs.
    pub fn read_row(
        &self,
        row: u64,
        cells: &[String],
    ) -> Result<Vec<(FieldId, Cell)>, Vec<RowError>> {
        if cells.len() != self.headers.len() {
            return Err(vec![RowError {
                row,
                column: None,
                field: None,
                reason: format!(
                    "has {} cells, but the header row has {}",
                    cells.len(),
                    self.headers.len()
                ),
            }]);
        }
        let mut out = Vec::with_capacity(self.table.fields.len());
        let mut errors = Vec::new();
        for ((text, target), header) in cells.iter().zip(&self.columns).zip(&self.headers) {
            let Some(n) = *target else {
                continue;
            };
            let field = &self.table.fields[n];
            let read = match &self.defaults[n] {
                Some(default) if text.trim().is_empty() => Ok(default.clone()),
                _ => field.accept_text(text, self.offset),
            };
            match read {
                Ok(cell) => out.push((field.id, cell)),
                Err(e) => errors.push(RowError {
                    row,
                    column: Some(header.clone()),
                    field: Some(field.name.to_string()),
                    reason: match e {
                        CoreError::InvalidField { reason, .. } => reason,
                        other => other.to_string(),
                    },
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        out.extend(self.fill.iter().cloned());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn table() -> TableSchema {
        crate::data::test_support::table(&[
            json!({"name": "名称", "type": "text", "required": true, "unique": true}),
            json!({"name": "金额", "type": "currency"}),
            json!({"name": "状态", "type": "single_select", "default": "新",
                   "choices": [{"name": "新"}, {"name": "成交"}]}),
            json!({"name": "编号", "type": "auto_number"}),
            json!({"name": "Tags", "type": "multi_select", "choices": [{"name": "vip"}]}),
        ])
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    fn plan(headers: &[&str], mapping: Option<Json>) -> Result<ImportPlan, String> {
        let mapping = mapping.map(|m| m.as_object().cloned().unwrap());
        ImportPlan::new(&table(), &strings(headers), mapping.as_ref(), utc())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn headers_map_by_name_and_by_mapping() {
        let p = plan(&["\u{feff}名称", "tags", "id", "", "编号"], None).unwrap();
        let fed: Vec<Option<&str>> = p
            .columns()
            .map(|(_, f)| f.map(|f| f.name.as_str()))
            .collect();
        assert_eq!(fed, [Some("名称"), Some("Tags"), None, None, None]);
        let p = plan(
            &["Customer", "Amount", "Notes"],
            Some(json!({"Customer": "名称", "Amount": "金额", "Notes": null})),
        )
        .unwrap();
        assert_eq!(p.column_of(p.table().fields[1].id), Some("Amount"));
        let cells = p
            .read_row(2, &strings(&["甲", "1,200.5", "ignored"]))
            .unwrap();
        let amount = p.table().fields[1].id;
        assert!(cells.contains(&(
            amount,
            Cell::Decimal(crate::data::Decimal::from_scaled(120_050, 2))
        )));
        let status = p.table().fields[2].id;
        assert!(
            cells.contains(&(status, Cell::Text("新".into()))),
            "default fills"
        );
        assert!(
            !cells.iter().any(|(id, _)| *id == p.table().fields[3].id),
            "auto number left to the store"
        );
    }

    #[test]
    fn bad_plans_say_why() {
        for (headers, mapping, why) in [
            (vec!["名称", "Phone", "Fax"], None, "`Phone`, `Fax`"),
            (vec!["名称"], Some(json!({"Nope": "金额"})), "does not have"),
            (vec!["名称", "x"], Some(json!({"x": "不存在"})), "no field"),
            (
                vec!["名称", "x"],
                Some(json!({"x": "id"})),
                "set by the server",
            ),
            (
                vec!["名称", "x"],
                Some(json!({"x": "编号"})),
                "numbered by the server",
            ),
            (vec!["名称", "x"], Some(json!({"x": 3})), "null to skip"),
            (
                vec!["名称", "x"],
                Some(json!({"x": "名称"})),
                "more than one column",
            ),
            (vec!["金额"], None, "required field `名称`"),
        ] {
            let err = plan(&headers, mapping).unwrap_err();
            assert!(err.starts_with("mapping: ") && err.contains(why), "{err}");
        }
        let wide: Vec<&str> = vec![""; MAX_COLUMNS + 1];
        assert!(plan(&wide, None).unwrap_err().contains("columns"));
    }

    #[test]
    fn rows_report_every_bad_cell() {
        let p = plan(&["名称", "金额", "状态"], None).unwrap();
        let errors = p.read_row(7, &strings(&["", "1.234", "取消"])).unwrap_err();
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(reasons[0], "row 7, 名称: is required");
        assert!(
            reasons[1].starts_with("row 7, 金额: has more than 2"),
            "{reasons:?}"
        );
        assert!(reasons[2].contains("not one of"), "{reasons:?}");
        assert_eq!(errors[1].path(), "row 7.金额");
        let short = p.read_row(9, &strings(&["甲"])).unwrap_err();
        assert_eq!(
            short[0].to_string(),
            "row 9: has 1 cells, but the header row has 3"
        );
        let ok = p.read_row(3, &strings(&["乙", "", ""])).unwrap();
        assert!(ok.contains(&(p.table().fields[2].id, Cell::Text("新".into()))));
        assert!(ImportPlan::is_blank(&strings(&["", " ", ""])));
        assert!(!ImportPlan::is_blank(&strings(&["", "x"])));
        let json = serde_json::to_value(&errors[0]).unwrap();
        assert_eq!(
            json,
            json!({"row": 7, "column": "名称", "field": "名称", "reason": "is required"})
        );
    }
}
