//! Bodies of the data model API: apps, tables, fields, records, views.
//! Field declarations and record values are JSON objects whose keys are
//! the user's own field names, so they are typed as free-form objects here
//! and checked by the core against the table.

use citadel_core::data::out::CellsOut;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use utoipa::{IntoParams, ToSchema};

use crate::routes::identity_dto::nullable;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// Any script, 1–64 characters.
    pub name: String,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct AppView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub position: i64,
    pub created_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTableRequest {
    pub name: String,
    pub description: Option<String>,
    /// Fields to create with the table, as for POST …/fields.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<Json>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTableRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// A table with its fields in display order. Each field is its
/// declaration (`name`, `type`, type options, constraints) plus `id` and
/// `position`.
#[derive(Serialize, ToSchema)]
pub struct TableView {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<Json>,
    pub schema_version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TableSummaryView {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub description: Option<String>,
    pub position: i64,
    pub created_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldOrderRequest {
    /// Every field of the table, by name or id, in the new order.
    pub fields: Vec<String>,
}

/// Something in the recycle bin, purged for good at `purge_at`.
#[derive(Serialize, ToSchema)]
pub struct RecycledView {
    /// `app` or `table`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub app_id: Option<String>,
    pub deleted_at: String,
    pub purge_at: String,
}

/// A record: system fields, then `fields` keyed by field name.
/// Decimal, currency and percent values are strings (exact); date-times
/// are UTC (RFC 3339); links are record ids.
/// Borrows the record and its table: written straight into the response.
#[derive(Serialize, ToSchema)]
pub struct RecordView<'a> {
    pub id: i64,
    pub version: i64,
    pub created_at: String,
    pub created_by: Option<&'a str>,
    pub updated_at: String,
    pub updated_by: Option<&'a str>,
    #[schema(value_type = Object)]
    pub fields: CellsOut<'a>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// Values keyed by field name (or id).
    #[schema(value_type = Object)]
    pub fields: Map<String, Json>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCreateRequest {
    /// At most 1,000 records; all are created or none.
    pub records: Vec<RecordInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdateItem {
    pub id: i64,
    /// When given, the record must still be at this version.
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub fields: Map<String, Json>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdateRequest {
    /// At most 1,000 changes; all are made or none.
    pub records: Vec<BatchUpdateItem>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteItem {
    pub id: i64,
    pub version: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteRequest {
    /// At most 1,000 records; all are deleted or none.
    pub records: Vec<BatchDeleteItem>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordsView<'a> {
    pub records: Vec<RecordView<'a>>,
}

/// A record named by id, with its version (its ETag): what a batch
/// answers with `Prefer: return=minimal`.
#[derive(Serialize, ToSchema)]
pub struct RecordRef {
    pub id: i64,
    pub version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RecordRefsView {
    pub records: Vec<RecordRef>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordPageView<'a> {
    pub records: Vec<RecordView<'a>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// The number of matching records, when `count=true`.
    pub total: Option<i64>,
}

/// How to list records. `filter` is in the filter language
/// (docs/filter-language.md); `sort` and `fields` are comma-separated
/// field names, `-` before a sort key for descending.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRecordsQuery {
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub fields: Option<String>,
    /// 1–1000, default 50.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// Also count all matching records.
    #[serde(default)]
    pub count: bool,
    /// A saved view whose filter, sort and fields apply; `filter` narrows it further.
    pub view: Option<String>,
}

/// One change of a record: who, when, and each field's `[old, new]`.
#[derive(Serialize, ToSchema)]
pub struct RevisionView {
    pub version: i64,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub actor: Option<String>,
    pub at: String,
    /// Field name (or id, for a field deleted since) → `[old, new]`.
    #[schema(value_type = Object)]
    pub changes: Map<String, Json>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateViewRequest {
    pub name: String,
    /// Shared with everyone who can read the table (admins only), or
    /// personal (default).
    #[serde(default)]
    pub shared: bool,
    pub filter: Option<String>,
    pub sort: Option<String>,
    /// Visible fields in column order, by name or id.
    pub fields: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateViewRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub filter: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sort: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub fields: Option<Option<Vec<String>>>,
}

#[derive(Serialize, ToSchema)]
pub struct ViewView {
    pub id: String,
    pub table_id: String,
    pub name: String,
    pub shared: bool,
    pub filter: Option<String>,
    pub sort: Option<String>,
    /// Visible fields by name, in order; all fields when absent.
    pub fields: Option<Vec<String>>,
    pub position: i64,
}

/// One record whose value would not convert.
#[derive(Serialize, ToSchema)]
pub struct ConversionFailureView {
    pub record: i64,
    pub reason: String,
}

/// What a type change did or, in a dry run, would do.
#[derive(Serialize, ToSchema)]
pub struct TypeChangeView {
    pub records: u64,
    /// Records that would not convert (all of them are counted here).
    pub failed: u64,
    /// The first 1,000 of them, with why.
    pub failures: Vec<ConversionFailureView>,
    pub applied: bool,
    pub table: TableView,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TypeChangeQuery {
    /// Only report what would fail; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}
