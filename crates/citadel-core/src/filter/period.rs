//! Relative dates (`today`, `this_week`, `last 30 days`, …) and the day
//! ranges they stand for on a given day.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate};

use super::Period;

/// The largest `N` in `last N days` / `next N days` (about ten years).
pub const MAX_PERIOD_DAYS: u32 = 3660;

/// The one-word periods, as written in a filter.
pub(super) const PERIOD_WORDS: [(&str, Period); 11] = [
    ("today", Period::Today),
    ("yesterday", Period::Yesterday),
    ("tomorrow", Period::Tomorrow),
    ("this_week", Period::ThisWeek),
    ("last_week", Period::LastWeek),
    ("next_week", Period::NextWeek),
    ("this_month", Period::ThisMonth),
    ("last_month", Period::LastMonth),
    ("next_month", Period::NextMonth),
    ("this_year", Period::ThisYear),
    ("last_year", Period::LastYear),
];

impl Period {
    /// The one-word period spelled `word`, in any case.
    pub(super) fn from_word(word: &str) -> Option<Self> {
        PERIOD_WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|&(_, p)| p)
    }

    /// The days this period covers when the current day is `today`, as a
    /// half-open range `[start, end)`: `start` is the first day in it and
    /// `end` the first day after it. Weeks start on Monday. `LastDays(n)` is
    /// the `n` days ending with today (today included); `NextDays(n)` the
    /// `n` days starting with today. At the ends of the calendar the range
    /// is clamped instead of overflowing.
    pub fn range(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let week = add_days(today, -i64::from(today.weekday().num_days_from_monday()));
        let month = month_start(today);
        let year = year_start(today.year());
        match *self {
            Period::Today => (today, add_days(today, 1)),
            Period::Yesterday => (add_days(today, -1), today),
            Period::Tomorrow => (add_days(today, 1), add_days(today, 2)),
            Period::ThisWeek => (week, add_days(week, 7)),
            Period::LastWeek => (add_days(week, -7), week),
            Period::NextWeek => (add_days(week, 7), add_days(week, 14)),
            Period::ThisMonth => (month, add_months(month, 1)),
            Period::LastMonth => (add_months(month, -1), month),
            Period::NextMonth => (add_months(month, 1), add_months(month, 2)),
            Period::ThisYear => (year, year_start(today.year().saturating_add(1))),
            Period::LastYear => (year_start(today.year().saturating_sub(1)), year),
            Period::LastDays(n) => {
                let end = add_days(today, 1);
                (add_days(end, -i64::from(n)), end)
            }
            Period::NextDays(n) => (today, add_days(today, i64::from(n))),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::LastDays(n) => write!(f, "last {n} days"),
            Period::NextDays(n) => write!(f, "next {n} days"),
            one_word => {
                let word = PERIOD_WORDS
                    .iter()
                    .find(|(_, p)| *p == one_word)
                    .map_or("today", |(w, _)| w);
                f.write_str(word)
            }
        }
    }
}

fn add_days(day: NaiveDate, n: i64) -> NaiveDate {
    let days = Days::new(n.unsigned_abs());
    if n >= 0 {
        day.checked_add_days(days).unwrap_or(NaiveDate::MAX)
    } else {
        day.checked_sub_days(days).unwrap_or(NaiveDate::MIN)
    }
}

fn add_months(day: NaiveDate, n: i32) -> NaiveDate {
    let months = Months::new(n.unsigned_abs());
    if n >= 0 {
        day.checked_add_months(months).unwrap_or(NaiveDate::MAX)
    } else {
        day.checked_sub_months(months).unwrap_or(NaiveDate::MIN)
    }
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn year_start(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(if year > 0 {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
    }

    fn range(p: Period, today: &str) -> (String, String) {
        let (start, end) = p.range(d(today));
        (start.to_string(), end.to_string())
    }

    fn pair(start: &str, end: &str) -> (String, String) {
        (start.to_owned(), end.to_owned())
    }

    #[test]
    fn days() {
        let t = "2026-03-01";
        assert_eq!(range(Period::Today, t), pair("2026-03-01", "2026-03-02"));
        assert_eq!(
            range(Period::Yesterday, t),
            pair("2026-02-28", "2026-03-01")
        );
        assert_eq!(
            range(Period::Tomorrow, "2026-12-31"),
            pair("2027-01-01", "2027-01-02")
        );
        assert_eq!(
            range(Period::Yesterday, "2028-03-01"),
            pair("2028-02-29", "2028-03-01")
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-22 is a Sunday, 2026-11-16 a Monday.
        assert_eq!(d("2026-11-22").weekday(), chrono::Weekday::Sun);
        let sunday = "2026-11-22";
        assert_eq!(
            range(Period::ThisWeek, sunday),
            pair("2026-11-16", "2026-11-23")
        );
        assert_eq!(
            range(Period::LastWeek, sunday),
            pair("2026-11-09", "2026-11-16")
        );
        assert_eq!(
            range(Period::NextWeek, sunday),
            pair("2026-11-23", "2026-11-30")
        );
        let monday = "2026-11-16";
        assert_eq!(
            range(Period::ThisWeek, monday),
            pair("2026-11-16", "2026-11-23")
        );
        // A week across the new year (2026-01-01 is a Thursday).
        assert_eq!(
            range(Period::ThisWeek, "2026-01-01"),
            pair("2025-12-29", "2026-01-05")
        );
        assert_eq!(
            range(Period::LastWeek, "2026-01-01"),
            pair("2025-12-22", "2025-12-29")
        );
    }

    #[test]
    fn months_across_ends_of_month_and_year() {
        let t = "2026-01-31";
        assert_eq!(
            range(Period::ThisMonth, t),
            pair("2026-01-01", "2026-02-01")
        );
        assert_eq!(
            range(Period::LastMonth, t),
            pair("2025-12-01", "2026-01-01")
        );
        assert_eq!(
            range(Period::NextMonth, t),
            pair("2026-02-01", "2026-03-01")
        );
        let t = "2026-12-31";
        assert_eq!(
            range(Period::ThisMonth, t),
            pair("2026-12-01", "2027-01-01")
        );
        assert_eq!(
            range(Period::NextMonth, t),
            pair("2027-01-01", "2027-02-01")
        );
        assert_eq!(
            range(Period::LastMonth, "2028-03-31"),
            pair("2028-02-01", "2028-03-01")
        );
        assert_eq!(
            range(Period::ThisMonth, "2028-02-29"),
            pair("2028-02-01", "2028-03-01")
        );
    }

    #[test]
    fn years() {
        let t = "2026-12-31";
        assert_eq!(range(Period::ThisYear, t), pair("2026-01-01", "2027-01-01"));
        assert_eq!(range(Period::LastYear, t), pair("2025-01-01", "2026-01-01"));
        assert_eq!(
            range(Period::ThisYear, "2026-01-01"),
            pair("2026-01-01", "2027-01-01")
        );
    }

    #[test]
    fn last_and_next_n_days() {
        let t = "2026-03-02";
        assert_eq!(
            range(Period::LastDays(1), t),
            pair("2026-03-02", "2026-03-03")
        );
        assert_eq!(
            range(Period::LastDays(7), t),
            pair("2026-02-24", "2026-03-03")
        );
        assert_eq!(
            range(Period::LastDays(30), t),
            pair("2026-02-01", "2026-03-03")
        );
        assert_eq!(
            range(Period::NextDays(1), t),
            pair("2026-03-02", "2026-03-03")
        );
        assert_eq!(
            range(Period::NextDays(30), t),
            pair("2026-03-02", "2026-04-01")
        );
        assert_eq!(
            range(Period::LastDays(MAX_PERIOD_DAYS), t),
            pair("2016-02-24", "2026-03-03")
        );
        // Zero days (not parseable, but constructible) is an empty range.
        assert_eq!(
            range(Period::LastDays(0), t),
            pair("2026-03-03", "2026-03-03")
        );
        assert_eq!(
            range(Period::NextDays(0), t),
            pair("2026-03-02", "2026-03-02")
        );
    }

    #[test]
    fn every_range_is_ordered_and_the_calendar_ends_do_not_panic() {
        let all = PERIOD_WORDS
            .iter()
            .map(|&(_, p)| p)
            .chain([Period::LastDays(u32::MAX), Period::NextDays(u32::MAX)]);
        for p in all {
            for today in [NaiveDate::MIN, NaiveDate::MAX, d("2026-06-15")] {
                let (start, end) = p.range(today);
                assert!(start <= end, "{p:?} on {today}");
            }
            let (start, end) = p.range(d("2026-06-15"));
            assert!(start < end, "{p:?}");
        }
    }

    #[test]
    fn words_round_trip() {
        for (word, p) in PERIOD_WORDS {
            assert_eq!(p.to_string(), word);
            assert_eq!(Period::from_word(&word.to_uppercase()), Some(p));
        }
        assert_eq!(Period::LastDays(30).to_string(), "last 30 days");
        assert_eq!(Period::NextDays(7).to_string(), "next 7 days");
        assert_eq!(Period::from_word("last_7_days"), None);
    }
}
