//! The no-code data model: apps, tables, typed fields, record values, and
//! the typing of filters, sorts and cursors against a table.

pub mod checksum;
pub mod convert;
pub mod decimal;
mod field_kind;
pub mod formats;
pub mod import;
pub mod input;
pub mod listing;
pub mod names;
pub mod out;
pub mod query;
pub mod schema;
pub mod table;
#[cfg(test)]
pub(crate) mod test_support;
pub mod text_input;
pub mod value;

pub use decimal::Decimal;
pub use listing::{Cursor, SortKey};
pub use names::{SYSTEM_FIELDS, SchemaName};
pub use query::{FilterContext, Predicate, SqlValue};
pub use schema::{FieldDef, FieldKind, FieldOptions, FieldSpec, SelectOption};
pub use table::{SystemField, TableSchema, Target};
pub use value::Cell;
