//! Writing record values out as the API shows them, straight into the
//! response: no intermediate JSON tree per record, and times formatted by
//! hand instead of through chrono's format-string machinery. A page of
//! fifty records or a batch of a thousand is mostly this.

use std::fmt::Write;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::FieldId;
use crate::data::TableSchema;
use crate::data::value::Cell;

/// `2026-11-22T08:30:00.125Z`, as `to_rfc3339_opts(Millis, true)` writes it.
pub fn utc_text(t: &DateTime<Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos();
    if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
        // Years of more than four digits and leap seconds: chrono's rules.
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut out = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        nanos / 1_000_000
    );
    out
}

/// `2026-11-22`, as `format("%Y-%m-%d")` writes it.
pub fn date_text(d: &NaiveDate) -> String {
    if !(0..=9999).contains(&d.year()) {
        return d.format("%Y-%m-%d").to_string();
    }
    let mut out = String::with_capacity(10);
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    out
}

/// The value as the API shows it. Decimals are strings so no reader turns
/// them into floats; date-times are UTC with milliseconds.
impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Text(t) | Self::Ref(t) => s.serialize_str(t),
            Self::Integer(n) => s.serialize_i64(*n),
            Self::Decimal(d) => s.collect_str(d),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Date(d) => s.serialize_str(&date_text(d)),
            Self::DateTime(t) => s.serialize_str(&utc_text(t)),
            Self::Choices(v) => v.serialize(s),
            Self::Link(id) => s.serialize_i64(id.0),
            Self::Links(ids) => s.collect_seq(ids.iter().map(|id| id.0)),
        }
    }
}

/// A record's cells as a JSON object keyed by field name, in field order.
/// Cells of fields the table no longer has are left out.
#[derive(Clone, Copy)]
pub struct CellsOut<'a> {
    pub table: &'a TableSchema,
    pub cells: &'a [(FieldId, Cell)],
}

impl Serialize for CellsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (id, cell) in self.cells {
            if let Some(field) = self.table.field(*id) {
                map.serialize_entry(field.name.as_str(), cell)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::RecordId;
    use crate::data::decimal::Decimal;

    #[test]
    fn times_read_as_chrono_writes_them() {
        for (secs, nanos) in [
            (0, 0),
            (1_795_000_000, 125_000_000),
            (1_795_000_000, 999_999_999),
            (-62_135_596_800, 0),
            (253_402_300_799, 1_000_000),
            (253_402_300_800, 0),
        ] {
            let t = Utc.timestamp_opt(secs, nanos).single().expect("time");
            assert_eq!(utc_text(&t), t.to_rfc3339_opts(SecondsFormat::Millis, true));
            let d = t.date_naive();
            assert_eq!(date_text(&d), d.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn cells_serialize_as_their_json() {
        let t = Utc
            .timestamp_opt(1_795_000_000, 5_000_000)
            .single()
            .expect("time");
        for cell in [
            Cell::Null,
            Cell::Text("客户 \"甲\"".into()),
            Cell::Integer(-7),
            Cell::Decimal(Decimal::parse("12.50", 2).expect("decimal")),
            Cell::Bool(true),
            Cell::Date(t.date_naive()),
            Cell::DateTime(t),
            Cell::Choices(vec!["新建".into(), "跟进".into()]),
            Cell::Ref("u1".into()),
            Cell::Link(RecordId(4)),
            Cell::Links(vec![RecordId(1), RecordId(2)]),
        ] {
            assert_eq!(
                serde_json::to_value(&cell).expect("serializes"),
                cell.to_json(),
                "{cell:?}"
            );
        }
    }
}
