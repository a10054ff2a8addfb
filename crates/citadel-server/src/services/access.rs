//! Decisions on tables for the handlers: the tenant's access model from
//! the store, the choke point in the core, and its refusals as problems.

use chrono::Utc;
use citadel_core::access::{
    AccessModel, Now, TableAccess, TableOperation, TenantResource, authorize_new_table,
    authorize_table, describe_table, table_operations,
};
use citadel_core::data::TableSchema;
use citadel_core::{AppId, Principal, TableId};
use citadel_store::TenantDb;
use citadel_store::data::{Actor, TableRecord};

use crate::auth::TenantCaller;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::routes::apps::open;
use crate::services::data::tenant_offset;
use crate::services::sessions::TenantSession;
use crate::state::AppState;

/// The clock and zone row conditions are read in, now.
pub fn now() -> Now {
    Now {
        at: Utc::now(),
        offset: tenant_offset(),
    }
}

/// Decides `Op` on `schema` for the session's user.
pub async fn decide<Op: TableOperation>(
    db: &TenantDb,
    session: &TenantSession,
    schema: TableSchema,
) -> Result<TableAccess<Op>, ApiError> {
    decide_for(db, &session.principal, tenant_of(session), schema).await
}

/// Decides `Op` on `schema` for any principal of the tenant (support
/// access has no session of the tenant's).
pub async fn decide_for<Op: TableOperation>(
    db: &TenantDb,
    principal: &Principal,
    tenant: TenantResource,
    schema: TableSchema,
) -> Result<TableAccess<Op>, ApiError> {
    let model = db.access_model().await?;
    Ok(authorize_table::<Op>(
        principal,
        tenant,
        &model,
        schema,
        now(),
    )?)
}

/// The caller's tenant database and a decision on `Op` for the table
/// whose id is `raw` (from the path).
pub async fn table_access<Op: TableOperation>(
    state: &AppState,
    caller: &TenantCaller,
    raw: &str,
) -> Result<(TenantDb, Actor, TableAccess<Op>), ApiError> {
    let (db, actor) = open(state, caller, Op::TENANT_ACTION).await?;
    let session = caller.0.as_ref().ok_or(ApiError::Unauthenticated)?;
    let schema = db
        .table_schema(path_id("table", raw, TableId::parse)?)
        .await?;
    let access = decide(&db, session, schema).await?;
    Ok((db, actor, access))
}

/// Refuses a write naming fields the decision does not let its holder
/// write (hidden or read-only), with 403 naming them.
pub fn refuse_unwritable<'a, Op: TableOperation>(
    access: &TableAccess<Op>,
    keys: impl IntoIterator<Item = &'a String>,
) -> Result<(), ApiError> {
    let table = access.full_schema();
    refuse_fields(
        access,
        keys.into_iter()
            .filter_map(|key| table.field_by_key(key).map(|f| f.id)),
    )
}

/// The same refusal for fields named by id.
pub fn refuse_fields<Op: TableOperation>(
    access: &TableAccess<Op>,
    fields: impl IntoIterator<Item = citadel_core::FieldId>,
) -> Result<(), ApiError> {
    let names = access.unwritable(fields);
    if names.is_empty() {
        return Ok(());
    }
    Err(ApiError::Refused {
        code: "fields_not_writable",
        detail: format!("you may not write these fields: {}", names.join(", ")),
    })
}

/// The session's tenant as the choke point decides on it.
pub fn tenant_of(session: &TenantSession) -> TenantResource {
    TenantResource {
        id: session.tenant.id,
        status: session.tenant.status,
    }
}

/// Whether the session's user may do anything at all with `table` of `app`:
/// the tables they are shown.
pub fn may_see(model: &AccessModel, session: &TenantSession, app: AppId, table: TableId) -> bool {
    !table_operations(&session.principal, tenant_of(session), model, app, table).is_empty()
}

/// The operations the session's user may do on `table` of `app`, for
/// pages that show only what may be done.
pub async fn operations_on(
    db: &TenantDb,
    session: &TenantSession,
    app: AppId,
    table: TableId,
) -> Result<citadel_core::access::Operations, ApiError> {
    let model = db.access_model().await?;
    Ok(table_operations(
        &session.principal,
        tenant_of(session),
        &model,
        app,
        table,
    ))
}

/// A table's definition as the session's user may see it (hidden fields
/// left out), if they may do anything with it.
pub async fn describe(
    db: &TenantDb,
    session: &TenantSession,
    schema: TableSchema,
) -> Result<TableSchema, ApiError> {
    let model = db.access_model().await?;
    Ok(describe_table(
        &session.principal,
        tenant_of(session),
        &model,
        schema,
    )?)
}

/// Refuses adding a table to `app` unless the user may manage its schema.
pub async fn check_new_table(
    db: &TenantDb,
    session: &TenantSession,
    app: AppId,
) -> Result<(), ApiError> {
    let model = db.access_model().await?;
    Ok(authorize_new_table(
        &session.principal,
        tenant_of(session),
        &model,
        app,
    )?)
}

/// Whether the session's user is shown `app`: they may do something with
/// one of its `tables`, or add tables to it.
pub fn may_see_app(
    model: &AccessModel,
    session: &TenantSession,
    app: AppId,
    tables: &[TableRecord],
) -> bool {
    tables.iter().any(|t| may_see(model, session, app, t.id))
        || authorize_new_table(&session.principal, tenant_of(session), model, app).is_ok()
}

/// What a hidden field is called in errors about it: a record can fail
/// for one (a required field without a default), but its name must not
/// leave the server.
pub const HIDDEN_FIELD: &str = "(a field hidden from you)";

/// `text` with the names of the fields hidden by `access` replaced.
pub fn conceal_names<Op: TableOperation>(access: &TableAccess<Op>, text: &str) -> String {
    let mut text = text.to_owned();
    for field in &access.full_schema().fields {
        if access.is_hidden(field.id) && text.contains(field.name.as_str()) {
            text = text.replace(field.name.as_str(), HIDDEN_FIELD);
        }
    }
    text
}

/// An error of a write, with hidden fields' names concealed.
pub fn conceal<Op: TableOperation>(access: &TableAccess<Op>, error: ApiError) -> ApiError {
    match error {
        ApiError::BadRequest {
            code,
            detail,
            field,
        } => ApiError::BadRequest {
            code,
            detail: conceal_names(access, &detail),
            field: field.map(|f| conceal_names(access, &f)),
        },
        ApiError::Conflict(detail) => ApiError::Conflict(conceal_names(access, &detail)),
        other => other,
    }
}
