//! The app runtime's pages: a table's grid (paging, sorting, filtering,
//! inline edits), a record's form and history, and the import page. The
//! rows, fields and rights come from the same decisions as the API's.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use citadel_core::access::{Operation, Operations, TableAccess, TableOperation, ops};
use citadel_core::data::TableSchema;
use citadel_core::data::{FieldDef, FieldKind};
use citadel_core::{FieldId, RecordId};
use minijinja::{Value, context};
use serde::Deserialize;

use citadel_store::TenantDb;

use crate::error::ApiError;
use crate::extract::path_id;
use crate::routes::apps::actor_user;
use crate::routes::data_dto::ListRecordsQuery;
use crate::services::access::{decide, operations_on, table_access};
use crate::services::data;
use crate::services::sessions::TenantSession;
use crate::state::AppState;
use crate::ui::frame::TenantPage;
use crate::ui::render::{page, to_value};

/// Rows on a page of the grid.
const GRID_PAGE: &str = "50";

/// What the grid's address may say; anything else is ignored.
#[derive(Deserialize, Default)]
pub struct GridQuery {
    filter: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    view: Option<String>,
}

/// The table's fields as the page shows them (those of `only`, in its
/// order, when a saved view names them): each with whether this user may
/// change it, in the form and in the grid's cells, and whether the grid
/// may sort by it.
fn columns<Op: TableOperation, W: TableOperation>(
    access: &TableAccess<Op>,
    writable: Option<&TableAccess<W>>,
    only: Option<&[FieldId]>,
) -> Vec<Value> {
    let table = access.schema();
    let fields: Vec<&FieldDef> = match only {
        Some(ids) => ids.iter().filter_map(|id| table.field(*id)).collect(),
        None => table.fields.iter().collect(),
    };
    fields
        .into_iter()
        .map(|field| {
            let editable = writable.is_some_and(|w| w.unwritable([field.id]).is_empty())
                && !matches!(field.kind, FieldKind::AutoNumber);
            // Lists and long text need the form: a cell holds one line.
            let one_line = !matches!(
                field.kind,
                FieldKind::LongText
                    | FieldKind::MultiSelect { .. }
                    | FieldKind::Link { multiple: true, .. }
            );
            let sortable = one_line && !field.options.encrypted;
            to_value(serde_json::json!({
                "field": field.to_json(),
                "editable": editable,
                "inline": editable && one_line,
                "sortable": sortable,
                // Quoted for the sort list, whatever the name holds.
                "sort_key": format!("`{}`", field.name.as_str().replace('`', "``")),
            }))
        })
        .collect()
}

/// What the user may do with the table, and the decision on updating it
/// (for which fields are theirs to change), if they may.
async fn rights(
    db: &TenantDb,
    session: &TenantSession,
    access: &TableAccess<ops::Read>,
) -> Result<(Operations, Option<TableAccess<ops::Update>>), ApiError> {
    let table = access.schema();
    let allowed = operations_on(db, session, table.app, table.id).await?;
    let writable = if allowed.contains(Operation::Update) {
        decide::<ops::Update>(db, session, access.full_schema().clone())
            .await
            .ok()
    } else {
        None
    };
    Ok((allowed, writable))
}

fn operations(ops: Operations) -> Value {
    context! {
        create => ops.contains(Operation::Create),
        update => ops.contains(Operation::Update),
        delete => ops.contains(Operation::Delete),
        import => ops.contains(Operation::Import),
        export => ops.contains(Operation::Export),
        schema => ops.contains(Operation::ManageSchema),
    }
}

/// A table as the page heads and crumbs name it, with its app's name.
pub(super) async fn table_brief(db: &TenantDb, table: &TableSchema) -> Result<Value, ApiError> {
    let app = db.app(table.app).await?;
    Ok(context! {
        id => table.id.to_string(),
        app_id => table.app.to_string(),
        app_name => app.name.to_string(),
        name => table.name.to_string(),
        description => table.description.clone(),
    })
}

/// The grid: the first (or a later) page of the records the user may
/// read, filtered and sorted as the address says, with the saved views.
pub async fn grid(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
    query: Result<Query<GridQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match grid_context(&state, &me, &raw, query).await {
        Ok(context) => page(StatusCode::OK, "grid.html", context),
        Err(e) => me.error(e),
    }
}

async fn grid_context(
    state: &AppState,
    me: &TenantPage,
    raw: &str,
    query: GridQuery,
) -> Result<Value, ApiError> {
    let (db, actor, access) = table_access::<ops::Read>(state, &me.caller, raw).await?;
    let session = me.caller.session()?;
    let table = access.schema();
    let (allowed, writable) = rights(&db, session, &access).await?;
    let listing = ListRecordsQuery {
        filter: query.filter.clone().filter(|f| !f.trim().is_empty()),
        sort: query.sort.clone().filter(|s| !s.trim().is_empty()),
        fields: None,
        limit: Some(GRID_PAGE.to_owned()),
        cursor: query.cursor.clone(),
        count: true,
        view: query.view.clone().filter(|v| !v.is_empty()),
    };
    let user = Some(actor_user(actor)?);
    // A filter that does not parse, or names no field, is shown next to
    // the filter box; the page stays usable.
    let (records, next_cursor, total, problem) =
        match data::list_records(&db, &access, &listing, user).await {
            Ok(listed) => {
                let view = listed.view(table);
                (to_value(&view.records), view.next_cursor, view.total, None)
            }
            Err(e @ ApiError::BadRequest { .. }) => {
                let (_, code, _, detail, field) = e.parts();
                (
                    Value::from(Vec::<Value>::new()),
                    None,
                    None,
                    Some(context! { code => code, detail => detail, field => field }),
                )
            }
            Err(e) => return Err(e),
        };
    // A saved view may show only some fields: the grid shows those.
    let view_fields = match &listing.view {
        Some(id) => data::visible_view(&db, table, id, user)
            .await
            .ok()
            .and_then(|v| v.definition.fields),
        None => None,
    };
    let views: Vec<_> = db
        .list_views(table.id, actor.0)
        .await?
        .iter()
        .map(|v| crate::routes::views::shown(&access, v))
        .collect();
    Ok(context! {
        ..me.frame("apps"),
        ..context! {
            table => table_brief(&db, table).await?,
            columns => columns(&access, writable.as_ref(), view_fields.as_deref()),
            records => records,
            next_cursor => next_cursor,
            total => total,
            problem => problem,
            query => context! {
                filter => query.filter,
                sort => query.sort,
                cursor => query.cursor,
                view => query.view,
            },
            views => to_value(&views),
            ops => operations(allowed),
        }
    })
}

/// The form for a new record.
pub async fn new_record(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
) -> Response {
    match new_record_context(&state, &me, &raw).await {
        Ok(context) => page(StatusCode::OK, "record.html", context),
        Err(e) => me.error(e),
    }
}

async fn new_record_context(
    state: &AppState,
    me: &TenantPage,
    raw: &str,
) -> Result<Value, ApiError> {
    let (db, _, access) = table_access::<ops::Create>(state, &me.caller, raw).await?;
    // Creating writes every field the user may see but not the read-only
    // ones: those take their defaults.
    let fields = columns(&access, Some(&access), None);
    Ok(context! {
        ..me.frame("apps"),
        ..context! {
            table => table_brief(&db, access.schema()).await?,
            columns => fields,
            record => Value::UNDEFINED,
            history => Vec::<Value>::new(),
            ops => context! { update => true, delete => false },
        }
    })
}

/// A record's form (read-only for whoever may not change it) and its
/// history.
pub async fn record(
    State(state): State<AppState>,
    me: TenantPage,
    Path((raw, record)): Path<(String, String)>,
) -> Response {
    match record_context(&state, &me, &raw, &record).await {
        Ok(context) => page(StatusCode::OK, "record.html", context),
        Err(e) => me.error(e),
    }
}

async fn record_context(
    state: &AppState,
    me: &TenantPage,
    raw: &str,
    record: &str,
) -> Result<Value, ApiError> {
    let (db, _, access) = table_access::<ops::Read>(state, &me.caller, raw).await?;
    let id = path_id("record", record, RecordId::parse)?;
    let session = me.caller.session()?;
    let table = access.schema();
    let (allowed, writable) = rights(&db, session, &access).await?;
    let row = db.get_record(&access, id).await?;
    let history: Vec<_> = db
        .record_history(&access, id)
        .await?
        .iter()
        .map(|r| data::revision_view(table, r))
        .collect();
    Ok(context! {
        ..me.frame("apps"),
        ..context! {
            table => table_brief(&db, table).await?,
            columns => columns(&access, writable.as_ref(), None),
            record => to_value(data::record_view(table, &row)),
            history => to_value(&history),
            ops => operations(allowed),
        }
    })
}

/// The import page: a CSV or XLSX file, checked in a dry run (preview
/// and per-row errors) before anything is written.
pub async fn import(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
) -> Response {
    let context = async {
        let (db, _, access) = table_access::<ops::Import>(&state, &me.caller, &raw).await?;
        Ok::<_, ApiError>(context! {
            ..me.frame("apps"),
            ..context! {
                table => table_brief(&db, access.schema()).await?,
                columns => columns(&access, None::<&TableAccess<ops::Update>>, None),
            }
        })
    };
    match context.await {
        Ok(context) => page(StatusCode::OK, "import.html", context),
        Err(e) => me.error(e),
    }
}
