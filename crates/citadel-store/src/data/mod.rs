//! The no-code data model in a tenant's database: the metadata of apps,
//! tables, fields and views, and the physical tables that hold records.
//!
//! Split by subject: `apps` (apps, tables, recycle bin), `fields` (online
//! schema changes), `records` (writes), `reads` (get and list), `views`,
//! and `sql`/`rows` (the SQL both backends share and how rows decode).

mod apps;
mod field_keys;
mod fields;
mod history;
mod new_records;
mod reads;
mod records;
mod retype;
mod rows;
pub(crate) mod schema_cache;
mod sealing;
mod sql;
mod views;

use chrono::{DateTime, Utc};
use citadel_core::data::{Cell, SchemaName};
use citadel_core::{AppId, FieldId, RecordId, TableId, UserId};

pub use fields::NewField;
pub use new_records::RecordIds;
pub use reads::ListRequest;
pub use records::{MAX_BATCH, RecordChange, RecordDeletion, RecordWrite};
pub use retype::TypeChangeReport;
pub use schema_cache::SchemaCache;
pub use views::{ViewDefinition, ViewRecord};

/// Items in the recycle bin are purged after this many days.
pub const RECYCLE_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRecord {
    pub id: AppId,
    pub name: SchemaName,
    pub description: Option<String>,
    pub position: i64,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRecord {
    pub id: TableId,
    pub app: AppId,
    pub name: SchemaName,
    pub description: Option<String>,
    pub position: i64,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

/// What is in the recycle bin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deleted {
    App(AppRecord),
    Table(TableRecord),
}

/// One record with its system fields and the cells asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRow {
    pub id: RecordId,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
    pub cells: Vec<(FieldId, Cell)>,
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct RecordPage {
    pub records: Vec<RecordRow>,
    /// Continues the listing after this page, when there is more.
    pub next: Option<citadel_core::data::Cursor>,
    pub total: Option<i64>,
}

/// One change to a record, as its history shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    pub version: i64,
    pub action: String,
    pub actor: Option<UserId>,
    pub at: i64,
    /// Field id → `[old, new]`, as the API writes values.
    pub changes: serde_json::Value,
}

/// Who is writing: recorded as created_by / updated_by and in history.
#[derive(Clone, Copy, Debug)]
pub struct Actor(pub Option<UserId>);

impl Actor {
    pub(crate) fn text(self) -> Option<String> {
        self.0.map(|u| u.to_string())
    }
}
