//! The data model API's rules between HTTP and the store: reading field
//! declarations and record values through the core, assembling listings
//! (view, filter, sort, cursor) and shaping what goes back.

use chrono::{FixedOffset, Offset, Utc};
use citadel_core::access::{TableAccess, ops};
use citadel_core::data::input::{read_changes, read_new_record};
use citadel_core::data::listing::{Cursor, DEFAULT_PAGE, MAX_PAGE, resolve_fields, resolve_sort};
use citadel_core::data::out::{CellsOut, utc_text};
use citadel_core::data::query::{FilterContext, Predicate, resolve};
use citadel_core::data::{FieldDef, FieldSpec, TableSchema};
use citadel_core::{FieldId, RecordId, UserId, ViewId, filter};
use citadel_store::TenantDb;
use citadel_store::data::{
    ListRequest, MAX_BATCH, NewField, RecordChange, RecordDeletion, RecordPage, RecordRow,
    RecordWrite, Revision, ViewDefinition, ViewRecord,
};
use serde_json::{Map, Value as Json};

use crate::error::ApiError;
use crate::routes::data_dto::{
    BatchDeleteItem, BatchUpdateItem, ListRecordsQuery, RecordInput, RecordPageView, RecordView,
    RevisionView, ViewView,
};
use crate::services::access::conceal;

/// The tenant's time zone, for dates typed without an offset and for
/// "today" in filters. Fixed at China Standard Time until tenant settings
/// carry a zone of their own.
pub fn tenant_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

fn core(e: citadel_core::CoreError) -> ApiError {
    ApiError::from_core(e)
}

/// A problem with the query parameter `param` (`filter`, `sort`, `fields`,
/// `cursor`): named as the field at fault, whatever table field the
/// message is about.
fn in_param(param: &'static str) -> impl Fn(citadel_core::CoreError) -> ApiError {
    move |e| ApiError::BadRequest {
        code: "invalid_query",
        detail: format!("{param}: {e}"),
        field: Some(param.into()),
    }
}

/// A field declaration that does not deserialize: the body's shape is wrong.
fn spec_body(e: serde_json::Error) -> ApiError {
    ApiError::bad_request("invalid_body", e.to_string())
}

/// A field declaration from a request, checked, with a fresh id.
pub fn new_field(spec: &Json) -> Result<NewField, ApiError> {
    let spec: FieldSpec = serde_json::from_value(spec.clone()).map_err(spec_body)?;
    let def = FieldDef::new(FieldId::generate(), spec.check().map_err(core)?, 0);
    let default = match &def.options.default {
        Some(value) => Some(def.accept(value, tenant_offset()).map_err(core)?),
        None => None,
    };
    Ok(NewField { def, default })
}

/// A field's declaration with `patch` laid over it (`null` removes a key).
pub fn patched_field(field: &FieldDef, patch: &Map<String, Json>) -> Result<FieldDef, ApiError> {
    let mut spec = match field.spec_json() {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        // Removing the key would fall back to the type's default, which
        // for most types is plaintext: encryption is only ever switched
        // by saying which.
        if value.is_null() && key == "encrypted" {
            return Err(ApiError::BadRequest {
                code: "invalid_field",
                detail: "encrypted: give true or false".into(),
                field: Some("encrypted".into()),
            });
        }
        if value.is_null() {
            spec.remove(key);
        } else {
            spec.insert(key.clone(), value.clone());
        }
    }
    let spec: FieldSpec = serde_json::from_value(Json::Object(spec)).map_err(spec_body)?;
    let (name, kind, options) = spec.check().map_err(core)?;
    if let Some(default) = &options.default {
        let probe = FieldDef {
            name: name.clone(),
            kind: kind.clone(),
            options: options.clone(),
            ..field.clone()
        };
        probe.accept(default, tenant_offset()).map_err(core)?;
    }
    Ok(FieldDef {
        name,
        kind,
        options,
        ..field.clone()
    })
}

pub fn field_ids(table: &TableSchema, names: &[String]) -> Result<Vec<FieldId>, ApiError> {
    names
        .iter()
        .map(|name| {
            table
                .field_by_key(name)
                .map(|f| f.id)
                .ok_or_else(|| ApiError::BadRequest {
                    code: "invalid_field",
                    detail: format!("{name}: no such field in this table"),
                    field: Some(name.clone()),
                })
        })
        .collect()
}

pub fn record_view<'a>(table: &'a TableSchema, row: &'a RecordRow) -> RecordView<'a> {
    RecordView {
        id: row.id.0,
        version: row.version,
        created_at: utc_text(&row.created_at),
        created_by: row.created_by.as_deref(),
        updated_at: utc_text(&row.updated_at),
        updated_by: row.updated_by.as_deref(),
        fields: CellsOut {
            table,
            cells: &row.cells,
        },
    }
}

fn check_batch_size(n: usize) -> Result<(), ApiError> {
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::BadRequest {
            code: "invalid_batch",
            detail: format!("a batch holds 1 to {MAX_BATCH} records, not {n}"),
            field: Some("records".into()),
        });
    }
    Ok(())
}

pub fn new_records(
    table: &TableSchema,
    inputs: &[RecordInput],
) -> Result<Vec<RecordWrite>, ApiError> {
    check_batch_size(inputs.len())?;
    inputs
        .iter()
        .enumerate()
        .map(|(n, input)| {
            read_new_record(table, &input.fields, tenant_offset())
                .map(|cells| RecordWrite { cells })
                .map_err(|e| core(e).in_item(n))
        })
        .collect()
}

pub fn new_record(table: &TableSchema, input: &RecordInput) -> Result<RecordWrite, ApiError> {
    read_new_record(table, &input.fields, tenant_offset())
        .map(|cells| RecordWrite { cells })
        .map_err(core)
}

pub fn record_change(
    table: &TableSchema,
    id: RecordId,
    version: Option<i64>,
    fields: &Map<String, Json>,
) -> Result<RecordChange, ApiError> {
    Ok(RecordChange {
        id,
        expected_version: version,
        cells: read_changes(table, fields, tenant_offset()).map_err(core)?,
    })
}

fn record_id(raw: i64) -> Result<RecordId, ApiError> {
    RecordId::parse(&raw.to_string()).map_err(|e| ApiError::invalid_field("id", e))
}

pub fn record_changes(
    table: &TableSchema,
    items: &[BatchUpdateItem],
) -> Result<Vec<RecordChange>, ApiError> {
    check_batch_size(items.len())?;
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            record_id(item.id)
                .and_then(|id| record_change(table, id, item.version, &item.fields))
                .map_err(|e| e.in_item(n))
        })
        .collect()
}

pub fn record_deletions(items: &[BatchDeleteItem]) -> Result<Vec<RecordDeletion>, ApiError> {
    check_batch_size(items.len())?;
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            Ok(RecordDeletion {
                id: record_id(item.id).map_err(|e| e.in_item(n))?,
                expected_version: item.version,
            })
        })
        .collect()
}

/// A view the caller may use: shared, or their own (`None`: a caller who
/// is no user, such as support access, sees only shared views).
pub async fn visible_view(
    db: &TenantDb,
    table: &TableSchema,
    raw_id: &str,
    user: Option<UserId>,
) -> Result<ViewRecord, ApiError> {
    let id = ViewId::parse(raw_id).map_err(|e| ApiError::invalid_field("view", e))?;
    let view = db.view(id).await?;
    if view.table != table.id || view.owner.is_some_and(|owner| Some(owner) != user) {
        return Err(ApiError::NotFound("view"));
    }
    Ok(view)
}

/// A filter typed against the table, with `$me` and `$my_department` for
/// the caller.
pub async fn typed_filter(
    db: &TenantDb,
    table: &TableSchema,
    text: &str,
    user: Option<UserId>,
) -> Result<Predicate, ApiError> {
    let parsed = filter::parse(text).map_err(in_param("filter"))?;
    let mut context = FilterContext::at(Utc::now(), tenant_offset());
    context.me = user;
    if let Some(user) = user
        && text.contains("$my_department")
    {
        context.my_department = db.find_user(user).await?.and_then(|u| u.department);
    }
    resolve(&parsed, table, &context).map_err(in_param("filter"))
}

/// The listing a view, filter, sort and field list ask for (a view's
/// filter is narrowed by `filter`; `sort` and `fields` replace the view's),
/// not yet paged.
pub async fn list_request(
    db: &TenantDb,
    table: &TableSchema,
    view: Option<&str>,
    filter: Option<&str>,
    sort: Option<&str>,
    fields: Option<&str>,
    user: Option<UserId>,
) -> Result<ListRequest, ApiError> {
    let view = match view {
        Some(id) => Some(visible_view(db, table, id, user).await?.definition),
        None => None,
    };
    let mut filters = Vec::new();
    for text in [view.as_ref().and_then(|v| v.filter.as_deref()), filter]
        .into_iter()
        .flatten()
    {
        filters.push(typed_filter(db, table, text, user).await?);
    }
    let sort = match sort.or(view.as_ref().and_then(|v| v.sort.as_deref())) {
        Some(text) => resolve_sort(text, table).map_err(in_param("sort"))?,
        None => Vec::new(),
    };
    let fields = match (fields, view.as_ref().and_then(|v| v.fields.as_ref())) {
        (Some(text), _) => Some(resolve_fields(text, table).map_err(in_param("fields"))?),
        (None, Some(ids)) => Some(
            ids.iter()
                .copied()
                .filter(|id| table.field(*id).is_some())
                .collect(),
        ),
        (None, None) => None,
    };
    Ok(ListRequest {
        filter: match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Predicate::All(filters)),
        },
        sort,
        after: None,
        limit: MAX_PAGE,
        fields,
        count: false,
    })
}

/// Lists records as `query` (and the view it names) asks, of the rows
/// and fields `access` reaches.
pub async fn list_records(
    db: &TenantDb,
    access: &TableAccess<ops::Read>,
    query: &ListRecordsQuery,
    user: Option<UserId>,
) -> Result<Listed, ApiError> {
    let table = access.schema();
    // A shared view's stored filter may name a field hidden from this
    // reader: the refusal must not name it.
    let mut request = list_request(
        db,
        table,
        query.view.as_deref(),
        query.filter.as_deref(),
        query.sort.as_deref(),
        query.fields.as_deref(),
        user,
    )
    .await
    .map_err(|e| conceal(access, e))?;
    request.limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => text.trim().parse::<u32>().unwrap_or(0),
    };
    if !(1..=MAX_PAGE).contains(&request.limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: format!("limit must be between 1 and {MAX_PAGE}"),
            field: Some("limit".into()),
        });
    }
    request.after = match &query.cursor {
        Some(text) => Some(Cursor::decode(text, &request.sort).map_err(in_param("cursor"))?),
        None => None,
    };
    request.count = query.count;
    let page = db.list_records(access, &request).await?;
    Ok(Listed {
        next_cursor: page.next.as_ref().map(|c| c.encode(&request.sort)),
        page,
    })
}

/// A page of records as listed, before it is written out.
pub struct Listed {
    pub page: RecordPage,
    pub next_cursor: Option<String>,
}

impl Listed {
    pub fn view<'a>(&'a self, table: &'a TableSchema) -> RecordPageView<'a> {
        RecordPageView {
            records: self
                .page
                .records
                .iter()
                .map(|r| record_view(table, r))
                .collect(),
            next_cursor: self.next_cursor.clone(),
            total: self.page.total,
        }
    }
}

/// A saved view's definition from request parts, checked against the table.
pub fn view_definition(
    table: &TableSchema,
    filter_text: Option<&str>,
    sort: Option<&str>,
    fields: Option<&[String]>,
) -> Result<ViewDefinition, ApiError> {
    let filter = match filter_text {
        Some(text) => {
            let parsed = filter::parse(text).map_err(in_param("filter"))?;
            // Checked with a stand-in user: variables are bound when used.
            let mut context = FilterContext::at(Utc::now(), tenant_offset());
            context.me = Some(UserId::generate());
            resolve(&parsed, table, &context).map_err(in_param("filter"))?;
            // The canonical form, unless spacing it out took it past the
            // length limit (then it is kept as typed, which parses).
            let canonical = parsed.to_string();
            if filter::parse(&canonical).is_ok() {
                Some(canonical)
            } else {
                Some(text.trim().to_owned())
            }
        }
        None => None,
    };
    if let Some(sort) = sort {
        resolve_sort(sort, table).map_err(in_param("sort"))?;
    }
    Ok(ViewDefinition {
        filter,
        sort: sort.map(str::to_owned),
        fields: fields.map(|names| field_ids(table, names)).transpose()?,
    })
}

pub fn view_view(table: &TableSchema, view: &ViewRecord) -> ViewView {
    ViewView {
        id: view.id.to_string(),
        table_id: view.table.to_string(),
        name: view.name.to_string(),
        shared: view.owner.is_none(),
        filter: view.definition.filter.clone(),
        sort: view.definition.sort.clone(),
        fields: view.definition.fields.as_ref().map(|ids| {
            ids.iter()
                .filter_map(|id| table.field(*id).map(|f| f.name.to_string()))
                .collect()
        }),
        position: view.position,
    }
}

pub fn revision_view(table: &TableSchema, revision: &Revision) -> RevisionView {
    let mut changes = Map::new();
    if let Json::Object(map) = &revision.changes {
        for (id, pair) in map {
            let name = FieldId::parse(id)
                .ok()
                .and_then(|id| table.field(id))
                .map_or_else(|| id.clone(), |f| f.name.to_string());
            changes.insert(name, pair.clone());
        }
    }
    RevisionView {
        version: revision.version,
        action: revision.action.clone(),
        actor: revision.actor.map(|a| a.to_string()),
        at: crate::routes::dto::rfc3339(revision.at),
        changes,
    }
}

/// Creates a table with its first fields. Every declaration is checked,
/// and every link target looked up, before the table is made, so bad
/// input leaves nothing behind.
pub async fn create_table(
    db: &TenantDb,
    app: citadel_core::AppId,
    name: &citadel_core::data::SchemaName,
    description: Option<&str>,
    specs: &[Json],
    actor: citadel_store::data::Actor,
) -> Result<TableSchema, ApiError> {
    let mut fields: Vec<NewField> = Vec::with_capacity(specs.len());
    for (n, spec) in specs.iter().enumerate() {
        let field = new_field(spec).map_err(|e| in_fields(e, n))?;
        if fields
            .iter()
            .any(|f| f.def.name.same_as(field.def.name.as_str()))
        {
            return Err(ApiError::Conflict(format!(
                "the field name `{}` is given twice",
                field.def.name
            )));
        }
        if let citadel_core::data::FieldKind::Link { table, .. } = field.def.kind {
            db.table_schema(table)
                .await
                .map_err(|_| ApiError::BadRequest {
                    code: "invalid_field",
                    detail: format!("fields[{n}]: links to a table that does not exist"),
                    field: Some(format!("fields[{n}].table")),
                })?;
        }
        fields.push(field);
    }
    db.app(app).await?;
    let mut table = db.create_table(app, name, description, actor).await?;
    for field in fields {
        table = db.add_field(table.id, field).await?;
    }
    Ok(table)
}

fn in_fields(e: ApiError, n: usize) -> ApiError {
    match e {
        ApiError::BadRequest {
            code,
            detail,
            field,
        } => ApiError::BadRequest {
            code,
            detail: format!("fields[{n}]: {detail}"),
            field: Some(format!(
                "fields[{n}]{}",
                field.map(|f| format!(".{f}")).unwrap_or_default()
            )),
        },
        other => other,
    }
}

/// The declaration a field takes under a new type: its name and the
/// options every type shares, with the new type and its knobs from `body`.
/// Knobs of the old type (a pattern, choices, a default) do not carry over
/// unless given again; encryption does.
pub fn retyped_field(field: &FieldDef, body: &Map<String, Json>) -> Result<FieldDef, ApiError> {
    let mut spec = Map::new();
    spec.insert("name".into(), Json::String(field.name.to_string()));
    for (key, value) in [
        ("required", Json::Bool(field.options.required)),
        ("unique", Json::Bool(field.options.unique)),
        ("filterable", Json::Bool(field.options.filterable)),
    ] {
        spec.insert(key.into(), value);
    }
    if let Some(description) = &field.options.description {
        spec.insert("description".into(), Json::String(description.clone()));
    }
    // An encrypted field stays encrypted under its new type unless the
    // body says otherwise: a type change never decrypts silently.
    if field.options.encrypted {
        spec.insert("encrypted".into(), Json::Bool(true));
    }
    for (key, value) in body {
        if key == "name" {
            return Err(ApiError::BadRequest {
                code: "invalid_field",
                detail: "name: rename a field with PATCH, not with a type change".into(),
                field: Some("name".into()),
            });
        }
        spec.insert(key.clone(), value.clone());
    }
    let spec: FieldSpec = serde_json::from_value(Json::Object(spec)).map_err(spec_body)?;
    let (name, kind, options) = spec.check().map_err(core)?;
    Ok(FieldDef {
        name,
        kind,
        options,
        ..field.clone()
    })
}
