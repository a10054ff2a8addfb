//! Record values: reading a field's value from JSON input, checking the
//! field's constraints, and writing it back out.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use crate::data::checksum;
use crate::data::decimal::Decimal;
use crate::data::formats;
use crate::data::out::{date_text, utc_text};
use crate::data::schema::{FieldDef, FieldKind, MAX_TEXT_CHARS, compile_pattern};
use crate::{CoreError, DepartmentId, RecordId, UserId};

/// Most values a multi select or a many-to-many link may hold in one cell.
pub const MAX_CELL_ITEMS: usize = 500;
/// A single-line text is at most this long unless its field says less.
pub const SHORT_TEXT_CHARS: usize = 10_000;

/// One field's value in one record, typed by its field's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Null,
    Text(String),
    Integer(i64),
    Decimal(Decimal),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// The names of the chosen options of a multi select.
    Choices(Vec<String>),
    /// A user or department id.
    Ref(String),
    Link(RecordId),
    Links(Vec<RecordId>),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Null => true,
            Self::Text(s) => s.is_empty(),
            Self::Choices(v) => v.is_empty(),
            Self::Links(v) => v.is_empty(),
            _ => false,
        }
    }

    /// The value's one written form, which a blind index keys and a
    /// ciphertext holds: its API JSON, so reading it back is reading input.
    pub fn canonical(&self) -> String {
        // Through `Cell`'s own `Serialize` (the same form as `to_json`),
        // with no JSON value between: an allocation and a copy of the
        // plaintext fewer for each value sealed.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("a cell always serializes"))
    }

    /// The value as the API shows it. Decimals are strings so no reader
    /// turns them into floats; date-times are UTC with milliseconds.
    pub fn to_json(&self) -> Json {
        match self {
            Self::Null => Json::Null,
            Self::Text(s) | Self::Ref(s) => json!(s),
            Self::Integer(n) => json!(n),
            Self::Decimal(d) => json!(d.to_string()),
            Self::Bool(b) => json!(b),
            Self::Date(d) => json!(date_text(d)),
            Self::DateTime(t) => json!(utc_text(t)),
            Self::Choices(v) => json!(v),
            Self::Link(id) => json!(id.0),
            Self::Links(ids) => json!(ids.iter().map(|id| id.0).collect::<Vec<_>>()),
        }
    }
}

fn invalid(field: &FieldDef, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: field.name.to_string(),
        reason: reason.into(),
    }
}

impl FieldDef {
    /// Reads and checks this field's value from JSON input. `offset` is the
    /// tenant's time zone, for date-times given without one.
    pub fn accept(&self, input: &Json, offset: FixedOffset) -> Result<Cell, CoreError> {
        let cell = self
            .read(input, offset)
            .map_err(|reason| invalid(self, reason))?;
        self.check(&cell)?;
        Ok(cell)
    }

    /// Reads a value by the type's rules alone: a value as stored (the
    /// field's constraints may have changed since) or as a filter names it.
    pub fn read_value(&self, input: &Json, offset: FixedOffset) -> Result<Cell, CoreError> {
        self.read(input, offset)
            .map_err(|reason| invalid(self, reason))
    }

    /// Reads back a value this server wrote itself (opened from its own
    /// authenticated ciphertext): text kinds are taken as they are, since
    /// they were checked when written; other kinds are parsed by type.
    pub fn read_written(&self, input: Json, offset: FixedOffset) -> Result<Cell, CoreError> {
        match input {
            Json::String(text) if self.kind.is_textual() && !text.is_empty() => {
                Ok(Cell::Text(text))
            }
            other => self.read_value(&other, offset),
        }
    }

    /// The constraints beyond the type: required, lengths, range, pattern.
    pub fn check(&self, cell: &Cell) -> Result<(), CoreError> {
        let options = &self.options;
        if cell.is_empty() {
            return if options.required {
                Err(invalid(self, "is required"))
            } else {
                Ok(())
            };
        }
        if let Cell::Text(text) = cell {
            let chars = text.chars().count();
            let max = options.max_length.map_or(usize::MAX, |m| m as usize);
            if chars > max {
                return Err(invalid(self, format!("may have at most {max} characters")));
            }
            if let Some(min) = options.min_length
                && chars < min as usize
            {
                return Err(invalid(self, format!("needs at least {min} characters")));
            }
            if let Some(pattern) = &options.pattern {
                let regex = compile_pattern(pattern)?;
                if !regex.is_match(text) {
                    return Err(invalid(self, "does not match the field's pattern"));
                }
            }
        }
        let number = match cell {
            Cell::Integer(n) => Some(Decimal::from_scaled(*n, 0)),
            Cell::Decimal(d) => Some(*d),
            _ => None,
        };
        if let Some(number) = number {
            if let Some(min) = options.min
                && number < min
            {
                return Err(invalid(self, format!("must be at least {min}")));
            }
            if let Some(max) = options.max
                && number > max
            {
                return Err(invalid(self, format!("must be at most {max}")));
            }
        }
        Ok(())
    }

    fn read(&self, input: &Json, offset: FixedOffset) -> Result<Cell, String> {
        if input.is_null() {
            return Ok(Cell::Null);
        }
        let text = || -> Result<&str, String> {
            input.as_str().ok_or_else(|| "must be a string".to_string())
        };
        // An empty string clears any text-like field, as in a spreadsheet.
        if input.as_str().is_some_and(|s| s.trim().is_empty()) && self.kind.is_textual() {
            return Ok(Cell::Null);
        }
        let checked = |check: fn(&str) -> Result<String, &'static str>| -> Result<Cell, String> {
            check(text()?).map(Cell::Text).map_err(str::to_owned)
        };
        match &self.kind {
            FieldKind::Text => {
                let t = text()?;
                if t.contains(['\n', '\r']) {
                    return Err("is a single line: use a long text field for line breaks".into());
                }
                bounded_text(t, SHORT_TEXT_CHARS)
            }
            FieldKind::LongText => bounded_text(text()?, MAX_TEXT_CHARS as usize),
            FieldKind::Integer => read_integer(input).map(Cell::Integer),
            FieldKind::Decimal { precision, scale } => {
                let d = Decimal::from_json(input, *scale)?;
                if d.whole_digits() + u32::from(*scale) > u32::from(*precision) {
                    return Err(format!(
                        "has more than {} digits before the decimal point",
                        precision - scale
                    ));
                }
                Ok(Cell::Decimal(d))
            }
            FieldKind::Currency { scale, .. } | FieldKind::Percent { scale } => {
                Decimal::from_json(input, *scale).map(Cell::Decimal)
            }
            FieldKind::Boolean => input
                .as_bool()
                .map(Cell::Bool)
                .ok_or_else(|| "must be true or false".into()),
            FieldKind::Date => read_date(text()?).map(Cell::Date),
            FieldKind::DateTime => read_date_time(text()?, offset).map(Cell::DateTime),
            FieldKind::SingleSelect { choices } => {
                let t = text()?;
                if choices.iter().any(|c| c.name == t) {
                    Ok(Cell::Text(t.to_owned()))
                } else {
                    Err(format!("`{}` is not one of the field's choices", clip(t)))
                }
            }
            FieldKind::MultiSelect { choices } => {
                let mut chosen: Vec<String> = Vec::new();
                for item in items(input)? {
                    let t = item.as_str().ok_or("must be a list of choice names")?;
                    if !choices.iter().any(|c| c.name == t) {
                        return Err(format!("`{}` is not one of the field's choices", clip(t)));
                    }
                    if !chosen.iter().any(|c| c == t) {
                        chosen.push(t.to_owned());
                    }
                }
                // No choice is stored, and read back, as no value.
                Ok(if chosen.is_empty() {
                    Cell::Null
                } else {
                    Cell::Choices(chosen)
                })
            }
            FieldKind::Email => checked(formats::email),
            FieldKind::Url => checked(formats::url),
            FieldKind::MobilePhone => checked(formats::mobile_phone),
            FieldKind::Landline => checked(formats::landline),
            FieldKind::ResidentId => checked(checksum::resident_id),
            FieldKind::BankCard => checked(checksum::bank_card),
            FieldKind::SocialCreditCode => checked(checksum::social_credit_code),
            FieldKind::User => UserId::parse(text()?)
                .map(|id| Cell::Ref(id.to_string()))
                .map_err(|_| "must be a user id".into()),
            FieldKind::Department => DepartmentId::parse(text()?)
                .map(|id| Cell::Ref(id.to_string()))
                .map_err(|_| "must be a department id".into()),
            FieldKind::Link {
                multiple: false, ..
            } => read_record_id(input).map(Cell::Link),
            FieldKind::Link { multiple: true, .. } => {
                let mut ids: Vec<RecordId> = Vec::new();
                for item in items(input)? {
                    let id = read_record_id(item)?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Ok(Cell::Links(ids))
            }
            FieldKind::AutoNumber => Err("is numbered by the server and cannot be written".into()),
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

fn bounded_text(text: &str, max: usize) -> Result<Cell, String> {
    if text.chars().count() > max {
        return Err(format!("may have at most {max} characters"));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("may not contain control characters".into());
    }
    Ok(Cell::Text(text.to_owned()))
}

fn items(input: &Json) -> Result<&Vec<Json>, String> {
    let list = input.as_array().ok_or("must be a list")?;
    if list.len() > MAX_CELL_ITEMS {
        return Err(format!("may hold at most {MAX_CELL_ITEMS} values"));
    }
    Ok(list)
}

fn read_integer(input: &Json) -> Result<i64, String> {
    let wrong = || "must be a whole number".to_string();
    match input {
        Json::Number(n) => n.as_i64().ok_or_else(wrong),
        Json::String(s) => s.trim().parse::<i64>().map_err(|_| wrong()),
        _ => Err(wrong()),
    }
}

fn read_record_id(input: &Json) -> Result<RecordId, String> {
    read_integer(input)
        .ok()
        .filter(|n| *n > 0)
        .map(RecordId)
        .ok_or_else(|| "must be a record id (a positive whole number)".into())
}

pub(crate) fn read_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| "must be a date such as 2026-11-22".into())
}

/// RFC 3339 with an offset, or a local time (`2026-11-22 09:30[:00]`) in
/// the tenant's time zone, as people type it.
pub(crate) fn read_date_time(text: &str, offset: FixedOffset) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let wrong = || "must be a date and time such as 2026-11-22T09:30:00+08:00".to_string();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return in_range(t.with_timezone(&Utc)).ok_or_else(wrong);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return offset
                .from_local_datetime(&local)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .and_then(in_range)
                .ok_or_else(wrong);
        }
    }
    Err(wrong())
}

/// Keeps to years 1–9999 and whole milliseconds: what both backends store
/// and sort the same way.
fn in_range(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let year = chrono::Datelike::year(&t);
    if !(1..=9999).contains(&year) {
        return None;
    }
    DateTime::from_timestamp_millis(t.timestamp_millis())
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
