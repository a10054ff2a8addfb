//! Converting between cells and what each backend stores.

use chrono::{DateTime, NaiveDate, Utc};
use citadel_core::RecordId;
use citadel_core::data::query::SqlValue;
use citadel_core::data::{Cell, Decimal, FieldDef, FieldKind};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::sealing::{Sealer, blind_column};
use super::sql::{ColumnType, Param, ident};
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

/// The columns a field's value is stored in: its column, and for an
/// encrypted field the blind index beside it. Quoted.
pub(crate) fn stored_columns(field: &FieldDef) -> Result<Vec<String>, StoreError> {
    let mut columns = vec![ident(&field.column)?];
    if field.options.encrypted {
        columns.push(ident(&blind_column(&field.column))?);
    }
    Ok(columns)
}

/// The values of [`stored_columns`] that store `cell` in `record`.
pub(crate) fn stored_params(
    field: &FieldDef,
    record: i64,
    cell: &Cell,
    sealer: Option<&Sealer>,
) -> Result<Vec<Param>, StoreError> {
    if !field.options.encrypted {
        return Ok(vec![cell_param(cell, &field.kind)]);
    }
    let sealer = sealer.ok_or_else(|| {
        StoreError::Corrupt("an encrypted field was written without its keys".into())
    })?;
    let (sealed, blind) = sealer.seal(field, record, cell)?;
    Ok(vec![sealed, blind])
}

/// Reading typed values out of a row of either backend.
pub(crate) trait ReadRow {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError>;
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError>;
    fn date_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Borrowed from the row: an encrypted value is opened straight from
    /// it, not copied first.
    fn bytes(&self, i: usize) -> Result<Option<&[u8]>, StoreError>;

    /// A field's value in `record`, opened when the field is encrypted.
    fn field_cell(
        &self,
        i: usize,
        field: &FieldDef,
        record: i64,
        sealer: Option<&Sealer>,
    ) -> Result<Cell, StoreError> {
        if !field.options.encrypted {
            return self.cell(i, &field.kind);
        }
        match (self.bytes(i)?, sealer) {
            (None, _) => Ok(Cell::Null),
            (Some(sealed), Some(sealer)) => sealer.open(field, record, sealed),
            (Some(_), None) => Err(StoreError::Corrupt(
                "an encrypted field was read without its keys".into(),
            )),
        }
    }

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
            ColumnType::Bytes => {
                return Err(StoreError::Corrupt(
                    "an encrypted value was read as plaintext".into(),
                ));
            }
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
            // Nothing sorts or pages on an encrypted field.
            ColumnType::Bytes => {
                return Err(StoreError::Corrupt(
                    "an encrypted value cannot be a cursor".into(),
                ));
            }
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
            fn bytes(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
                Ok(self.try_get(i)?)
            }
            fn date_time(&self, $i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
                let $r = self;
                $date_time
            }
        }
    };
}

/// SQLite keeps date-times as milliseconds since the epoch.
fn from_millis(millis: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    millis
        .map(|m| {
            DateTime::from_timestamp_millis(m)
                .ok_or_else(|| StoreError::Corrupt("date-time out of range".into()))
        })
        .transpose()
}

read_row_impl!(SqliteRow, |row, i| from_millis(row.try_get(i)?));
read_row_impl!(PgRow, |row, i| Ok(row.try_get(i)?));

/// A row read on the calling thread (`inline.rs`), stored as sqlx stores
/// it on SQLite: booleans as 0/1, dates as `YYYY-MM-DD` text, date-times
/// as milliseconds since the epoch.
impl ReadRow for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.get(i)?)
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        let text: Option<String> = self.get(i)?;
        text.map(|t| {
            NaiveDate::parse_from_str(&t, "%F")
                .map_err(|_| StoreError::Corrupt(format!("not a date: {t:?}")))
        })
        .transpose()
    }
    fn date_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        from_millis(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
        self.get_ref(i)?.as_blob_or_null().map_err(|e| {
            StoreError::Inline(rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Blob,
                Box::new(e),
            ))
        })
    }
}
