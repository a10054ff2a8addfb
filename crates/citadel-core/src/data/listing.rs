//! How a list of records is asked for: sort keys, the fields to return,
//! page size and the cursor that continues a listing.

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value as Json, json};

use crate::data::query::SqlValue;
use crate::data::schema::FieldKind;
use crate::data::table::{SystemField, TableSchema, Target};
use crate::{CoreError, FieldId};

pub const MAX_SORT_KEYS: usize = 5;
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 1000;
/// Longest `sort` or `fields` parameter accepted.
pub const MAX_LIST_PARAM_CHARS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub target: Target,
    pub descending: bool,
}

fn bad(reason: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: "query".into(),
        reason: reason.into(),
    }
}

/// Splits `-金额,名称,`a,b`` into names with their `-` prefix. A name with
/// a comma or backtick is quoted in backticks, with `` for a backtick.
pub fn split_names(input: &str) -> Result<Vec<(bool, String)>, CoreError> {
    if input.chars().count() > MAX_LIST_PARAM_CHARS {
        return Err(bad("the list is too long"));
    }
    let mut names = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let descending = chars.next_if_eq(&'-').is_some();
        let mut name = String::new();
        if chars.next_if_eq(&'`').is_some() {
            loop {
                match chars.next() {
                    Some('`') if chars.next_if_eq(&'`').is_some() => name.push('`'),
                    Some('`') => break,
                    Some(c) => name.push(c),
                    None => return Err(bad("a quoted name is missing its closing `")),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_some_and(|c| *c != ',') {
                return Err(bad("expected `,` after a quoted name"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                name.push(c);
            }
            name = name.trim().to_owned();
        }
        if name.is_empty() {
            return Err(bad("the list has an empty name"));
        }
        names.push((descending, name));
        if chars.next().is_none() {
            return Ok(names);
        }
    }
}

/// `sort=-金额,名称`: at most five keys, each a sortable field.
pub fn resolve_sort(input: &str, table: &TableSchema) -> Result<Vec<SortKey>, CoreError> {
    let names = split_names(input)?;
    if names.len() > MAX_SORT_KEYS {
        return Err(bad(format!("sort by at most {MAX_SORT_KEYS} fields")));
    }
    names
        .into_iter()
        .map(|(descending, name)| {
            let target = table.target(&name).ok_or_else(|| unknown(&name))?;
            if let Target::Field(id) = target
                && let Some(field) = table.field(id)
                && matches!(
                    field.kind,
                    FieldKind::MultiSelect { .. }
                        | FieldKind::LongText
                        | FieldKind::Link { multiple: true, .. }
                )
            {
                return Err(CoreError::InvalidField {
                    field: name,
                    reason: "this field's type cannot be sorted".into(),
                });
            }
            if let Target::Field(id) = target
                && table.field(id).is_some_and(|f| f.options.encrypted)
            {
                return Err(CoreError::InvalidField {
                    field: name,
                    reason: "is encrypted and cannot be sorted: its stored form has no order"
                        .into(),
                });
            }
            Ok(SortKey { target, descending })
        })
        .collect()
}

/// `fields=名称,金额`: the user fields to return (system fields always are).
pub fn resolve_fields(input: &str, table: &TableSchema) -> Result<Vec<FieldId>, CoreError> {
    let mut ids = Vec::new();
    for (descending, name) in split_names(input)? {
        if descending {
            return Err(bad("`-` applies only to sort keys"));
        }
        if SystemField::parse(&name).is_some() {
            continue;
        }
        let field = table.field_by_key(&name).ok_or_else(|| unknown(&name))?;
        if !ids.contains(&field.id) {
            ids.push(field.id);
        }
    }
    Ok(ids)
}

fn unknown(name: &str) -> CoreError {
    CoreError::InvalidField {
        field: name.to_owned(),
        reason: "no such field in this table".into(),
    }
}

/// Where the previous page ended: the sort values of its last record and
/// its id. Tied to the sort it was made for by a fingerprint, so it cannot
/// continue a different listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub values: Vec<SqlValue>,
    pub id: i64,
}

fn fingerprint(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            let name = match k.target {
                Target::System(s) => s.name().to_owned(),
                Target::Field(id) => id.simple(),
            };
            format!("{}{name}", if k.descending { "-" } else { "+" })
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Cursor {
    pub fn encode(&self, sort: &[SortKey]) -> String {
        let values: Vec<Json> = self.values.iter().map(value_json).collect();
        let body = json!({"s": fingerprint(sort), "v": values, "id": self.id});
        Base64UrlUnpadded::encode_string(body.to_string().as_bytes())
    }

    pub fn decode(text: &str, sort: &[SortKey]) -> Result<Self, CoreError> {
        let invalid = || bad("the cursor is not valid for this listing");
        if text.len() > 16 * 1024 {
            return Err(invalid());
        }
        let bytes = Base64UrlUnpadded::decode_vec(text).map_err(|_| invalid())?;
        let body: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if body["s"].as_str() != Some(fingerprint(sort).as_str()) {
            return Err(invalid());
        }
        let id = body["id"].as_i64().ok_or_else(invalid)?;
        let values = body["v"]
            .as_array()
            .filter(|v| v.len() == sort.len())
            .ok_or_else(invalid)?
            .iter()
            .map(|v| json_value(v).ok_or_else(invalid))
            .collect::<Result<_, _>>()?;
        Ok(Self { values, id })
    }
}

fn value_json(value: &SqlValue) -> Json {
    match value {
        SqlValue::Null => json!(null),
        SqlValue::Int(n) => json!({"i": n}),
        SqlValue::Text(t) => json!({"t": t}),
        SqlValue::Bool(b) => json!({"b": b}),
        SqlValue::Date(d) => json!({"d": d.to_string()}),
        SqlValue::DateTime(t) => json!({"m": t.timestamp_millis()}),
    }
}

fn json_value(json: &Json) -> Option<SqlValue> {
    if json.is_null() {
        return Some(SqlValue::Null);
    }
    let (tag, value) = json.as_object()?.iter().next()?;
    Some(match tag.as_str() {
        "i" => SqlValue::Int(value.as_i64()?),
        "t" => SqlValue::Text(value.as_str()?.to_owned()),
        "b" => SqlValue::Bool(value.as_bool()?),
        "d" => SqlValue::Date(value.as_str()?.parse::<NaiveDate>().ok()?),
        "m" => SqlValue::DateTime(DateTime::<Utc>::from_timestamp_millis(value.as_i64()?)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_with_quotes_and_signs() {
        let names = split_names("-金额, 名称 ,`a,b`,`x``y`").expect("valid list");
        assert_eq!(
            names,
            vec![
                (true, "金额".to_owned()),
                (false, "名称".to_owned()),
                (false, "a,b".to_owned()),
                (false, "x`y".to_owned()),
            ]
        );
        for bad in ["", "a,,b", "`open", "`a`b", "a,"] {
            assert!(split_names(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_bind_to_their_sort() {
        let sort = vec![SortKey {
            target: Target::System(SystemField::CreatedAt),
            descending: true,
        }];
        let cursor = Cursor {
            values: vec![SqlValue::DateTime(
                DateTime::from_timestamp_millis(1_700_000_000_123).expect("valid"),
            )],
            id: 42,
        };
        let text = cursor.encode(&sort);
        assert_eq!(Cursor::decode(&text, &sort), Ok(cursor));
        assert!(Cursor::decode(&text, &[]).is_err());
        assert!(Cursor::decode("not base64!", &sort).is_err());
        assert!(Cursor::decode("e30", &sort).is_err());
    }
}
