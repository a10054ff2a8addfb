//! Exact decimals for money and measures: an integer count of units of
//! 10^-scale. Both backends store the units in a 64-bit integer column, so
//! sums, comparisons and sorting are exact and fast, and no float ever
//! touches an amount.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value as Json;

/// An exact decimal number with a fixed number of places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    units: i64,
    scale: u8,
}

impl Decimal {
    pub fn from_scaled(units: i64, scale: u8) -> Self {
        Self { units, scale }
    }

    pub fn units(&self) -> i64 {
        self.units
    }

    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// Reads `-12.5` or `"-12.50"` at `scale` places. More places than the
    /// scale are refused, not rounded: silently rounding money loses it.
    pub fn from_json(value: &Json, scale: u8) -> Result<Self, String> {
        match value {
            Json::Number(n) => Self::parse(&n.to_string(), scale),
            Json::String(s) => Self::parse(s.trim(), scale),
            _ => Err("must be a number".into()),
        }
    }

    pub fn parse(text: &str, scale: u8) -> Result<Self, String> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let well_formed = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !(digits.contains('.') && fraction.is_empty());
        if !well_formed {
            return Err("must be a number such as 12 or -3.25".into());
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(scale) {
            return Err(format!("has more than {scale} decimal places"));
        }
        let too_large = || "is too large".to_string();
        let mut units: i64 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(b - b'0')))
                .ok_or_else(too_large)?;
        }
        let missing = u32::from(scale) - fraction.len() as u32;
        units = 10i64
            .checked_pow(missing)
            .and_then(|f| units.checked_mul(f))
            .ok_or_else(too_large)?;
        Ok(Self {
            units: if negative { -units } else { units },
            scale,
        })
    }

    /// The same value at another scale, if it fits without losing digits.
    pub fn rescale(&self, scale: u8) -> Option<Self> {
        let units = if scale >= self.scale {
            10i64
                .checked_pow(u32::from(scale - self.scale))?
                .checked_mul(self.units)?
        } else {
            let factor = 10i64.checked_pow(u32::from(self.scale - scale))?;
            if self.units % factor != 0 {
                return None;
            }
            self.units / factor
        };
        Some(Self { units, scale })
    }

    /// Digits in the whole part, as precision limits count them.
    pub fn whole_digits(&self) -> u32 {
        let whole = (self.units / 10i64.pow(u32::from(self.scale))).unsigned_abs();
        if whole == 0 { 0 } else { whole.ilog10() + 1 }
    }

    fn widened(&self) -> i128 {
        i128::from(self.units) * 10i128.pow(u32::from(18 - self.scale.min(18)))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        self.widened().cmp(&other.widened())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.units);
        }
        let factor = 10u64.pow(u32::from(self.scale));
        let magnitude = self.units.unsigned_abs();
        let sign = if self.units < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:0width$}",
            magnitude / factor,
            magnitude % factor,
            width = usize::from(self.scale)
        )
    }
}

/// Decimals travel as strings, so no JSON reader turns them into floats.
impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_at_scale() {
        assert_eq!(Decimal::parse("12.5", 2), Ok(Decimal::from_scaled(1250, 2)));
        assert_eq!(Decimal::parse("-0.01", 2), Ok(Decimal::from_scaled(-1, 2)));
        assert_eq!(Decimal::parse("7", 0), Ok(Decimal::from_scaled(7, 0)));
        assert_eq!(Decimal::parse("1.500", 1), Ok(Decimal::from_scaled(15, 1)));
        assert!(Decimal::parse("1.234", 2).is_err_and(|e| e.contains("2 decimal places")));
        for bad in ["", "-", "1.", ".5", "1e5", "12a", "1..2", "--1", " 1"] {
            assert!(Decimal::parse(bad, 2).is_err(), "{bad:?}");
        }
        assert!(Decimal::parse("99999999999999999999", 0).is_err_and(|e| e.contains("large")));
        assert!(Decimal::parse("92233720368547758.08", 2).is_err());
    }

    #[test]
    fn reads_json_numbers_and_strings() {
        let at2 = |v| Decimal::from_json(&v, 2);
        assert_eq!(
            at2(serde_json::json!(3.25)),
            Ok(Decimal::from_scaled(325, 2))
        );
        assert_eq!(
            at2(serde_json::json!("3.25")),
            Ok(Decimal::from_scaled(325, 2))
        );
        assert!(at2(serde_json::json!(true)).is_err());
    }

    #[test]
    fn displays_and_orders() {
        assert_eq!(Decimal::from_scaled(-105, 2).to_string(), "-1.05");
        assert_eq!(Decimal::from_scaled(5, 3).to_string(), "0.005");
        assert_eq!(Decimal::from_scaled(42, 0).to_string(), "42");
        assert!(Decimal::from_scaled(15, 1) > Decimal::from_scaled(149, 2));
        assert_eq!(
            Decimal::from_scaled(15, 1).rescale(2),
            Some(Decimal::from_scaled(150, 2))
        );
        assert_eq!(Decimal::from_scaled(155, 2).rescale(1), None);
        assert_eq!(Decimal::from_scaled(12345, 2).whole_digits(), 3);
    }
}
