//! A field's value from spreadsheet text (a CSV or XLSX cell), as people
//! type it: `1,234.50`, `是`, `2026/11/22`, `vip；重点`. Each form is turned
//! into the JSON the API takes and goes through [`FieldDef::accept`], so a
//! value imported from a file obeys exactly the rules of one sent as JSON.
//!
//! Also the formula guard the CSV export writes and the import undoes.

use std::borrow::Cow;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use serde_json::Value as Json;

use crate::CoreError;
use crate::data::schema::{FieldDef, FieldKind};
use crate::data::value::{Cell, MAX_CELL_ITEMS};

/// Separators between the items of a multi select or a list of links:
/// what spreadsheets and Chinese input methods produce.
pub const LIST_SEPARATORS: [char; 6] = [';', '；', ',', '，', '、', '\n'];

const DATE_FORMATS: [&str; 4] = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d"];
const TIME_FORMATS: [&str; 2] = ["%H:%M:%S%.f", "%H:%M"];
const CURRENCY_SIGNS: [char; 5] = ['¥', '￥', '$', '€', '£'];

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn refused(field: &FieldDef, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidField {
        field: field.name.to_string(),
        reason: reason.into(),
    }
}

impl FieldDef {
    /// Reads and checks this field's value from the text of a spreadsheet
    /// cell. Blank text is no value (then `required` decides). `offset` is
    /// the tenant's time zone, for date-times typed without one.
    pub fn accept_text(&self, text: &str, offset: FixedOffset) -> Result<Cell, CoreError> {
        let json = self
            .text_json(text, offset)
            .map_err(|reason| refused(self, reason))?;
        let cell = self.accept(&json, offset)?;
        // A many-to-many link without targets is an empty list, as
        // everywhere else in the store.
        Ok(match (cell, &self.kind) {
            (Cell::Null, FieldKind::Link { multiple: true, .. }) => Cell::Links(Vec::new()),
            (cell, _) => cell,
        })
    }

    fn text_json(&self, text: &str, offset: FixedOffset) -> Result<Json, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Json::Null);
        }
        let string = |s: &str| Json::String(s.to_owned());
        Ok(match &self.kind {
            // Surrounding spaces in a sheet are slips of the hand, and would
            // make unique values differ; a long text keeps its layout.
            FieldKind::Text | FieldKind::SingleSelect { .. } => string(unguard(trimmed)),
            FieldKind::LongText => string(unguard(text)),
            FieldKind::Integer => {
                let plain = plain_number(trimmed, false, false)?;
                // `12.00` is a whole number, as a spreadsheet may write it.
                match crate::data::Decimal::parse(&plain, 0) {
                    Ok(whole) => Json::from(whole.units()),
                    Err(_) => Json::String(plain),
                }
            }
            FieldKind::Decimal { .. } => Json::String(plain_number(trimmed, false, false)?),
            FieldKind::Currency { .. } => Json::String(plain_number(trimmed, true, false)?),
            FieldKind::Percent { .. } => Json::String(plain_number(trimmed, false, true)?),
            FieldKind::Boolean => Json::Bool(boolean(trimmed)?),
            FieldKind::Date => string(&date(trimmed)?.format("%Y-%m-%d").to_string()),
            FieldKind::DateTime => match date_time(trimmed) {
                Some(local) => {
                    let at = offset
                        .from_local_datetime(&local)
                        .single()
                        .ok_or("is not a valid local time")?;
                    string(&at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
                }
                // RFC 3339 with an offset, and the API's own error.
                None => string(trimmed),
            },
            FieldKind::MultiSelect { choices } => {
                let text = unguard(trimmed);
                // A choice whose name holds a separator is taken whole.
                if choices.iter().any(|c| c.name == text) {
                    Json::Array(vec![string(text)])
                } else {
                    list(text)?
                }
            }
            FieldKind::Link { multiple: true, .. } => list(trimmed)?,
            FieldKind::AutoNumber => {
                return Err("is numbered by the server and cannot be imported".into());
            }
            FieldKind::Email
            | FieldKind::Url
            | FieldKind::MobilePhone
            | FieldKind::Landline
            | FieldKind::ResidentId
            | FieldKind::BankCard
            | FieldKind::SocialCreditCode
            | FieldKind::User
            | FieldKind::Department
            | FieldKind::Link { .. } => string(trimmed),
        })
    }
}

fn list(text: &str) -> Result<Json, String> {
    let items: Vec<Json> = text
        .split(LIST_SEPARATORS)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .take(MAX_CELL_ITEMS + 1)
        .map(|item| Json::String(item.to_owned()))
        .collect();
    if items.len() > MAX_CELL_ITEMS {
        return Err(format!("may hold at most {MAX_CELL_ITEMS} values"));
    }
    Ok(Json::Array(items))
}

/// `-¥1,234.50` → `-1234.50`: a sign, a currency sign where money is
/// meant, a percent sign where a percentage is, and thousands separators
/// in their places. The digits themselves are judged by the decimal reader.
fn plain_number(text: &str, currency: bool, percent: bool) -> Result<String, String> {
    let mut rest = text;
    if percent {
        rest = rest.strip_suffix(['%', '％']).map_or(rest, str::trim_end);
    }
    let (sign, mut rest) = match rest.strip_prefix(['-', '+']) {
        Some(after) => (&rest[..1], after.trim_start()),
        None => ("", rest),
    };
    if currency {
        rest = rest
            .strip_prefix(CURRENCY_SIGNS)
            .map_or(rest, str::trim_start);
    }
    let (whole, fraction) = match rest.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (rest, None),
    };
    let mut digits = String::with_capacity(rest.len() + 1);
    digits.push_str(sign);
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or_default();
        let well_placed = (1..=3).contains(&first.len())
            && groups.clone().all(|g| g.len() == 3)
            && whole.bytes().all(|b| b.is_ascii_digit() || b == b',');
        if !well_placed {
            return Err("has misplaced thousands separators".into());
        }
        digits.push_str(first);
        groups.for_each(|g| digits.push_str(g));
    } else {
        digits.push_str(whole);
    }
    if let Some(fraction) = fraction {
        digits.push('.');
        digits.push_str(fraction);
    }
    Ok(digits)
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "是" | "√" | "✓" | "✔" => Ok(true),
        "false" | "no" | "n" | "0" | "否" | "×" | "✗" | "✘" => Ok(false),
        _ => Err("must be true or false (yes/no, 1/0, 是/否 and √/× are read too)".into()),
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    DATE_FORMATS
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
        .ok_or_else(|| "must be a date such as 2026-11-22, 2026/11/22 or 2026年11月22日".into())
}

/// A local date and time in any of the date forms, `T` or a space (or, after
/// 日, nothing) before the time, seconds and fractions optional. A date
/// alone is its midnight.
fn date_time(text: &str) -> Option<NaiveDateTime> {
    for day in DATE_FORMATS {
        if let Ok(d) = NaiveDate::parse_from_str(text, day) {
            return d.and_hms_opt(0, 0, 0);
        }
        for between in [" ", "T", ""] {
            for time in TIME_FORMATS {
                let format = format!("{day}{between}{time}");
                if let Ok(t) = NaiveDateTime::parse_from_str(text, &format) {
                    return Some(t);
                }
            }
        }
    }
    None
}

/// Text as a CSV export writes it: text that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first, even behind
/// apostrophes) gets one more leading `'`, as OWASP advises against CSV
/// injection. [`FieldDef::accept_text`] takes exactly that `'` off again,
/// so an exported file imports back to the same values.
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    if text.trim_start_matches('\'').starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn unguard(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').starts_with(FORMULA_STARTS) => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::data::Decimal;

    use crate::RecordId;

    use crate::data::test_support::field;

    fn read(f: &FieldDef, text: &str) -> Result<Cell, String> {
        let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
        f.accept_text(text, beijing).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_take_separators_signs_and_spaces() {
        let amount = field(json!({"name": "金额", "type": "currency"}));
        for (text, units) in [
            ("1,234.50", 123_450),
            (" 12 ", 1200),
            ("-¥1,000", -100_000),
            ("￥ 3.5", 350),
            ("+7", 700),
        ] {
            assert_eq!(
                read(&amount, text),
                Ok(Cell::Decimal(Decimal::from_scaled(units, 2))),
                "{text}"
            );
        }
        assert!(
            read(&amount, "1.234")
                .unwrap_err()
                .contains("2 decimal places")
        );
        assert!(read(&amount, "12,34").unwrap_err().contains("thousands"));
        assert!(read(&amount, "1,2345").unwrap_err().contains("thousands"));
        assert!(read(&amount, "abc").unwrap_err().starts_with("金额:"));
        let share = field(json!({"name": "占比", "type": "percent"}));
        assert_eq!(
            read(&share, "12.5%"),
            Ok(Cell::Decimal(Decimal::from_scaled(1250, 2)))
        );
        let count = field(json!({"name": "数量", "type": "integer", "max": 5000}));
        assert_eq!(read(&count, "1,000"), Ok(Cell::Integer(1000)));
        assert_eq!(read(&count, "12.00"), Ok(Cell::Integer(12)));
        assert!(read(&count, "12.5").unwrap_err().contains("whole number"));
        assert!(read(&count, "9,000").unwrap_err().contains("at most"));
        assert!(read(&count, "1e3").is_err());
        let money = field(json!({"name": "m", "type": "decimal", "scale": 2}));
        assert!(
            read(&money, "$5").is_err(),
            "currency signs only for currency"
        );
    }

    #[test]
    fn blanks_are_empty_and_required_still_holds() {
        let name = field(json!({"name": "名称", "type": "text", "required": true}));
        assert!(read(&name, "   ").unwrap_err().contains("required"));
        assert_eq!(read(&name, "  甲 "), Ok(Cell::Text("甲".into())));
        let notes = field(json!({"name": "备注", "type": "long_text"}));
        assert_eq!(read(&notes, ""), Ok(Cell::Null));
        assert_eq!(read(&notes, " a\nb "), Ok(Cell::Text(" a\nb ".into())));
    }

    #[test]
    fn booleans_in_many_spellings() {
        let done = field(json!({"name": "完成", "type": "boolean"}));
        for yes in ["true", "TRUE", "Yes", "1", "是", "√"] {
            assert_eq!(read(&done, yes), Ok(Cell::Bool(true)), "{yes}");
        }
        for no in ["false", "no", "0", "否", "×"] {
            assert_eq!(read(&done, no), Ok(Cell::Bool(false)), "{no}");
        }
        assert!(read(&done, "maybe").unwrap_err().contains("true or false"));
    }

    #[test]
    fn dates_and_times_as_people_type_them() {
        let day = field(json!({"name": "日期", "type": "date"}));
        let expected = Ok(Cell::Date(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()));
        for text in ["2026-11-22", "2026/11/22", "2026年11月22日", "2026/11/22 "] {
            assert_eq!(read(&day, text), expected, "{text}");
        }
        assert_eq!(
            read(&day, "2026/1/5"),
            Ok(Cell::Date(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()))
        );
        assert!(
            read(&day, "22.11.2026x")
                .unwrap_err()
                .contains("2026年11月22日")
        );
        assert!(read(&day, "2026-02-30").is_err());
        let at = field(json!({"name": "时间", "type": "date_time"}));
        let utc = |s: &str| Ok(Cell::DateTime(s.parse::<DateTime<Utc>>().unwrap()));
        for text in [
            "2026/11/22 09:30",
            "2026-11-22 09:30:00",
            "2026年11月22日 09:30",
            "2026-11-22T09:30",
            "2026-11-22T01:30:00Z",
            "2026-11-22T09:30:00+08:00",
        ] {
            assert_eq!(read(&at, text), utc("2026-11-22T01:30:00Z"), "{text}");
        }
        assert_eq!(read(&at, "2026/11/22"), utc("2026-11-21T16:00:00Z"));
        assert_eq!(
            read(&at, "2026-11-22 09:30:00.250"),
            utc("2026-11-22T01:30:00.250Z")
        );
        assert!(read(&at, "09:30").unwrap_err().contains("date and time"));
    }

    #[test]
    fn lists_split_on_every_separator() {
        let tags = field(json!({"name": "标签", "type": "multi_select",
            "choices": [{"name": "vip"}, {"name": "重点"}, {"name": "a,b"}]}));
        for text in [
            "vip;重点",
            "vip；重点",
            "vip, 重点",
            "vip，重点",
            "vip、重点",
        ] {
            assert_eq!(
                read(&tags, text),
                Ok(Cell::Choices(vec!["vip".into(), "重点".into()])),
                "{text}"
            );
        }
        assert_eq!(read(&tags, "a,b"), Ok(Cell::Choices(vec!["a,b".into()])));
        assert!(read(&tags, "vip;普通").unwrap_err().contains("not one of"));
        let links = field(json!({"name": "关联", "type": "link",
            "table": crate::TableId::generate(), "multiple": true}));
        assert_eq!(
            read(&links, "3; 1;3"),
            Ok(Cell::Links(vec![RecordId(3), RecordId(1)]))
        );
        assert_eq!(read(&links, ""), Ok(Cell::Links(Vec::new())));
        assert!(read(&links, "3;x").unwrap_err().contains("record id"));
        let many = vec!["1"; MAX_CELL_ITEMS + 1].join(";");
        assert!(read(&links, &many).unwrap_err().contains("at most"));
        let one =
            field(json!({"name": "客户", "type": "link", "table": crate::TableId::generate()}));
        assert_eq!(read(&one, " 42 "), Ok(Cell::Link(RecordId(42))));
    }

    #[test]
    fn identifiers_and_refusals() {
        let number = field(json!({"name": "编号", "type": "auto_number"}));
        assert!(
            read(&number, "7")
                .unwrap_err()
                .contains("numbered by the server")
        );
        assert_eq!(read(&number, ""), Ok(Cell::Null));
        let owner = field(json!({"name": "负责人", "type": "user"}));
        let id = crate::UserId::generate().to_string();
        assert_eq!(read(&owner, &format!(" {id} ")), Ok(Cell::Ref(id)));
        assert!(read(&owner, "张三").unwrap_err().contains("user id"));
        let status = field(json!({"name": "状态", "type": "single_select",
            "choices": [{"name": "新"}, {"name": "=旧"}]}));
        assert_eq!(read(&status, "'=旧"), Ok(Cell::Text("=旧".into())));
    }

    #[test]
    fn the_formula_guard_round_trips() {
        let text = field(json!({"name": "t", "type": "text"}));
        for value in [
            "=1+1", "-5", "@x", "'=x", "''+1", "'plain", "plain", "+86 138",
        ] {
            let guarded = guard_formula(value);
            let back = text.accept_text(&guarded, FixedOffset::east_opt(0).unwrap());
            assert_eq!(back, Ok(Cell::Text(value.into())), "{value} -> {guarded}");
            if value.trim_start_matches('\'').starts_with(FORMULA_STARTS) {
                assert!(guarded.starts_with('\''), "{value}");
            } else {
                assert_eq!(guarded, value);
            }
        }
    }
}
