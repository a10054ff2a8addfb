//! Permission groups between HTTP and the store: definitions checked
//! against the tenant's users and departments, explanations of single
//! decisions, and previews of what a change to a group would change.

use std::collections::{BTreeSet, HashSet};

use citadel_core::access::{
    AccessModel, FieldRule, Group, Member, Now, Operation, TableAccess, TenantResource,
    authorize_table, explain, ops,
};
use citadel_core::data::{SchemaName, TableSchema};
use citadel_core::{Credential, GroupId, Pending, Principal, RecordId, UserId};
use citadel_store::access::GroupDefinition;
use citadel_store::{TenantDb, UserRecord};

use crate::error::ApiError;
use crate::routes::groups::{
    ExplainQuery, ExplanationView, FieldVerdictView, GroupInput, GroupVerdictView, PreviewChange,
    PreviewView,
};
use crate::services::access::{now, tenant_of};
use crate::services::sessions::TenantSession;

/// Most users × tables a preview compares: beyond it the admin is asked
/// to narrow the change (a preview counts rows, per user and table).
pub const MAX_PREVIEW_PAIRS: usize = 20_000;

fn bad(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_group",
        detail: detail.into(),
        field: Some(field.into()),
    }
}

/// A group definition from a request, with every member checked to exist.
pub async fn definition(db: &TenantDb, input: &GroupInput) -> Result<GroupDefinition, ApiError> {
    let name = SchemaName::parse(&input.name).map_err(|e| bad("name", format!("name: {e}")))?;
    let description = match input.description.as_deref().map(str::trim) {
        Some(d) if d.chars().count() > 1000 => {
            return Err(bad("description", "description: at most 1000 characters"));
        }
        Some("") | None => None,
        Some(d) => Some(d.to_owned()),
    };
    let members = input.members.clone();
    let policy = input.grants.clone();
    let users: HashSet<UserId> = db.list_users().await?.iter().map(|u| u.id).collect();
    let departments: HashSet<_> = db.list_departments().await?.iter().map(|d| d.id).collect();
    for (n, member) in members.iter().enumerate() {
        let known = match member {
            Member::User(id) => users.contains(id),
            Member::Department { id, .. } => departments.contains(id),
        };
        if !known {
            return Err(bad(
                &format!("members[{n}]"),
                format!("members[{n}]: no such user or department"),
            ));
        }
    }
    Ok(GroupDefinition {
        name,
        description,
        members,
        policy,
    })
}

/// How a stored user acts in the access model.
fn principal_of(db: &TenantDb, user: &UserRecord) -> Principal {
    Principal::TenantUser {
        tenant: db.tenant(),
        user: user.id,
        duties: user.duties,
        pending: Pending::Nothing,
        via: Credential::Session,
    }
}

/// Every table of the tenant (not those in the recycle bin).
async fn all_tables(db: &TenantDb) -> Result<Vec<TableSchema>, ApiError> {
    let mut tables = Vec::new();
    for app in db.list_apps().await? {
        for table in db.list_tables(app.id).await? {
            tables.push(db.table_schema(table.id).await?);
        }
    }
    Ok(tables)
}

fn rule_name(rule: FieldRule) -> &'static str {
    match rule {
        FieldRule::Hidden => "hidden",
        FieldRule::ReadOnly => "read_only",
        FieldRule::ReadWrite => "read_write",
    }
}

/// Answers why `query.user` may or may not do `query.operation` on a
/// table (and a field, and a record).
pub async fn explain_decision(
    db: &TenantDb,
    session: &TenantSession,
    query: &ExplainQuery,
) -> Result<ExplanationView, ApiError> {
    // Required, but checked only once the caller was authorized: callers
    // who may not ask learn nothing from the validation.
    let required = |value: &Option<String>, name: &'static str| {
        value.clone().ok_or_else(|| ApiError::BadRequest {
            code: "invalid_query",
            detail: format!("{name} is required"),
            field: Some(name.into()),
        })
    };
    let user_id = UserId::parse(&required(&query.user, "user")?)
        .map_err(|e| ApiError::invalid_field("user", e))?;
    let user = db
        .find_user(user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let operation = Operation::parse(&required(&query.operation, "operation")?)
        .map_err(|e| ApiError::invalid_field("operation", e))?;
    let table_id = citadel_core::TableId::parse(&required(&query.table, "table")?)
        .map_err(|e| ApiError::invalid_field("table", e))?;
    let table = db.table_schema(table_id).await?;
    let field = match query.field.as_deref() {
        Some(key) => Some(table.field_by_key(key).ok_or(ApiError::NotFound("field"))?),
        None => None,
    };
    let model = db.access_model().await?;
    let principal = principal_of(db, &user);
    let tenant = tenant_of(session);
    let at = now();
    let found = explain(
        &principal,
        tenant,
        &model,
        &table,
        operation,
        field.map(|f| f.id),
        at,
    );
    let field_name = |id| {
        table
            .field(id)
            .map_or_else(|| id.to_string(), |f| f.name.to_string())
    };
    let (reachable_rows, record_within) = if found.denied.is_none() {
        let record = query.record.map(RecordId);
        let (count, within) = reach(
            db,
            operation,
            &principal,
            tenant,
            &model,
            table.clone(),
            at,
            record,
        )
        .await?;
        (count, within)
    } else {
        (None, None)
    };
    Ok(ExplanationView {
        user: user.id.to_string(),
        table: table.id.to_string(),
        operation: operation.name(),
        allowed: found.denied.is_none(),
        denied_because: found.denied.map(|d| format!("{d:?}")),
        groups: found
            .groups
            .iter()
            .map(|v| GroupVerdictView {
                id: v.group.to_string(),
                name: v.name.to_owned(),
                builtin: v.builtin.map(|b| b.name()),
                membership: serde_json::to_value(v.membership).unwrap_or_default(),
                operations: v.operations.iter().map(Operation::name).collect(),
                grants_operation: v.grants,
                field_rules: v
                    .fields
                    .iter()
                    .map(|(id, rule)| (field_name(*id), rule_name(*rule)))
                    .collect(),
                rows: v
                    .rows
                    .as_ref()
                    .map(|r| serde_json::to_value(r).unwrap_or_default()),
            })
            .collect(),
        rows: found
            .rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
        field: found.field.map(|(id, rule)| FieldVerdictView {
            name: field_name(id),
            rule: rule_name(rule),
        }),
        reachable_rows,
        record_within_scope: record_within,
    })
}

/// Rows `principal` reaches with `op` on `table`, and whether `record` is
/// among them; nothing for operations that do not reach existing rows.
#[allow(clippy::too_many_arguments)]
async fn reach(
    db: &TenantDb,
    op: Operation,
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    table: TableSchema,
    at: Now,
    record: Option<RecordId>,
) -> Result<(Option<i64>, Option<bool>), ApiError> {
    macro_rules! count {
        ($op:ty) => {{
            let access: TableAccess<$op> = authorize_table(principal, tenant, model, table, at)?;
            let (count, within) = db.reach(&access, record).await?;
            Ok((Some(count), within))
        }};
    }
    match op {
        Operation::Read => count!(ops::Read),
        Operation::Update => count!(ops::Update),
        Operation::Delete => count!(ops::Delete),
        Operation::Export => count!(ops::Export),
        Operation::Create | Operation::Import | Operation::ManageSchema => Ok((None, None)),
    }
}

/// What one user may do with one table, for comparing before and after.
#[derive(PartialEq, Eq)]
struct Standing {
    operations: BTreeSet<Operation>,
    hidden: BTreeSet<String>,
    read_only: BTreeSet<String>,
    readable_rows: Option<i64>,
}

async fn standing(
    db: &TenantDb,
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    table: &TableSchema,
    at: Now,
) -> Result<Standing, ApiError> {
    let mut operations = BTreeSet::new();
    for op in Operation::ALL {
        if explain(principal, tenant, model, table, op, None, at)
            .denied
            .is_none()
        {
            operations.insert(op);
        }
    }
    let mut hidden = BTreeSet::new();
    let mut read_only = BTreeSet::new();
    if !operations.is_empty() {
        for field in &table.fields {
            let e = explain(
                principal,
                tenant,
                model,
                table,
                Operation::Read,
                Some(field.id),
                at,
            );
            match e.field.map(|(_, rule)| rule) {
                Some(FieldRule::Hidden) => hidden.insert(field.name.to_string()),
                Some(FieldRule::ReadOnly) => read_only.insert(field.name.to_string()),
                _ => false,
            };
        }
    }
    let readable_rows = if operations.contains(&Operation::Read) {
        reach(
            db,
            Operation::Read,
            principal,
            tenant,
            model,
            table.clone(),
            at,
            None,
        )
        .await?
        .0
    } else {
        None
    };
    Ok(Standing {
        operations,
        hidden,
        read_only,
        readable_rows,
    })
}

/// What saving `proposed` as group `id` would change: per user and table,
/// the operations gained and lost, fields newly hidden or shown, made
/// read-only or writable, and readable rows before and after.
pub async fn preview(
    db: &TenantDb,
    session: &TenantSession,
    id: GroupId,
    proposed: GroupDefinition,
) -> Result<PreviewView, ApiError> {
    let current = db.group(id).await?;
    let before = db.access_model().await?;
    let replaced = Group {
        id,
        name: proposed.name.to_string(),
        builtin: current.group.builtin,
        members: if current.group.builtin.is_some() {
            current.group.members.clone()
        } else {
            proposed.members
        },
        policy: proposed.policy,
    };
    let after = before.with_group(replaced);
    let users = db.list_users().await?;
    let tables = all_tables(db).await?;
    if users.len() * tables.len() > MAX_PREVIEW_PAIRS {
        return Err(ApiError::Conflict(format!(
            "a preview compares at most {MAX_PREVIEW_PAIRS} user and table pairs; this tenant has {}",
            users.len() * tables.len()
        )));
    }
    let tenant = tenant_of(session);
    let at = now();
    let mut changes = Vec::new();
    for user in &users {
        let principal = principal_of(db, user);
        for table in &tables {
            let was = standing(db, &principal, tenant, &before, table, at).await?;
            let will = standing(db, &principal, tenant, &after, table, at).await?;
            if was == will {
                continue;
            }
            let names = |set: BTreeSet<Operation>| set.into_iter().map(Operation::name).collect();
            changes.push(PreviewChange {
                user: user.id.to_string(),
                login: user.login.as_str().to_owned(),
                table: table.id.to_string(),
                table_name: table.name.to_string(),
                gained: names(&will.operations - &was.operations),
                lost: names(&was.operations - &will.operations),
                fields_hidden: will.hidden.difference(&was.hidden).cloned().collect(),
                fields_shown: was.hidden.difference(&will.hidden).cloned().collect(),
                fields_read_only: will.read_only.difference(&was.read_only).cloned().collect(),
                fields_writable: was
                    .read_only
                    .difference(&will.read_only)
                    .filter(|f| !will.hidden.contains(*f))
                    .cloned()
                    .collect(),
                readable_rows_before: was.readable_rows,
                readable_rows_after: will.readable_rows,
            });
        }
    }
    Ok(PreviewView { changes })
}
