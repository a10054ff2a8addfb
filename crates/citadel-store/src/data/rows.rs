//! Converting between cells and what each backend stores.

use chrono::{DateTime, NaiveDate, Utc};
use citadel_core::RecordId;
use citadel_core::data::query::SqlValue;
use citadel_core::data::{Cell, Decimal, FieldKind};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::sql::{ColumnType, Param};
use crate::StoreError;

/// The value a cell is stored as. Empty text and empty lists are stored as
/// NULL, so "is empty" is one test.
pub(crate) fn cell_param(cell: &Cell, kind: &FieldKind) -> Param {
    match cell {
        Cell::Null => Param::null(ColumnType::of_kind(kind)),
        Cell::Text(t) | Cell::Ref(t) if t.is_empty() => Param::Text(None),
        Cell::Text(t) | Cell::Ref(t) => Param::Text(Some(t.clone())),
        Cell::Integer(n) => Param::Int(Some(*n)),
        Cell::Decimal(d) => Param::Int(Some(d.units())),
        Cell::Bool(b) => Param::Bool(Some(*b)),
        Cell::Date(d) => Param::Date(Some(*d)),
        Cell::DateTime(t) => Param::DateTime(Some(*t)),
        Cell::Choices(c) if c.is_empty() => Param::Text(None),
        Cell::Choices(c) => Param::Text(serde_json::to_string(c).ok()),
        Cell::Link(id) => Param::Int(Some(id.0)),
        // Many-to-many links live in their junction table.
        Cell::Links(_) => Param::Int(None),
    }
}

/// Reading typed values out of a row of either backend.
pub(crate) trait ReadRow {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError>;
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError>;
    fn date_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError>;

    fn cell(&self, i: usize, kind: &FieldKind) -> Result<Cell, StoreError> {
        let cell = match ColumnType::of_kind(kind) {
            ColumnType::Int => match (self.int(i)?, kind) {
                (None, _) => Cell::Null,
                (Some(n), FieldKind::Link { .. }) => Cell::Link(RecordId(n)),
                (Some(n), k) => match k.scale() {
                    Some(scale) => Cell::Decimal(Decimal::from_scaled(n, scale)),
                    None => Cell::Integer(n),
                },
            },
            ColumnType::Bool => self.boolean(i)?.map_or(Cell::Null, Cell::Bool),
            ColumnType::Date => self.date(i)?.map_or(Cell::Null, Cell::Date),
            ColumnType::DateTime => self.date_time(i)?.map_or(Cell::Null, Cell::DateTime),
            ColumnType::Text => match (self.text(i)?, kind) {
                (None, _) => Cell::Null,
                (Some(t), FieldKind::MultiSelect { .. }) => Cell::Choices(
                    serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
                (Some(t), FieldKind::User | FieldKind::Department) => Cell::Ref(t),
                (Some(t), _) => Cell::Text(t),
            },
        };
        Ok(cell)
    }

    /// A column's value as a filter or cursor would bind it.
    fn sql_value(&self, i: usize, ty: ColumnType) -> Result<SqlValue, StoreError> {
        Ok(match ty {
            ColumnType::Int => self.int(i)?.map_or(SqlValue::Null, SqlValue::Int),
            ColumnType::Text => self.text(i)?.map_or(SqlValue::Null, SqlValue::Text),
            ColumnType::Bool => self.boolean(i)?.map_or(SqlValue::Null, SqlValue::Bool),
            ColumnType::Date => self.date(i)?.map_or(SqlValue::Null, SqlValue::Date),
            ColumnType::DateTime => self
                .date_time(i)?
                .map_or(SqlValue::Null, SqlValue::DateTime),
        })
    }
}

macro_rules! read_row_impl {
    ($row:ty, |$r:ident, $i:ident| $date_time:expr) => {
        impl ReadRow for $row {
            fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn date_time(&self, $i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
                let $r = self;
                $date_time
            }
        }
    };
}

// SQLite keeps date-times as milliseconds since the epoch.
read_row_impl!(SqliteRow, |row, i| {
    let millis: Option<i64> = row.try_get(i)?;
    millis
        .map(|m| {
            DateTime::from_timestamp_millis(m)
                .ok_or_else(|| StoreError::Corrupt("date-time out of range".into()))
        })
        .transpose()
});
read_row_impl!(PgRow, |row, i| Ok(row.try_get(i)?));
