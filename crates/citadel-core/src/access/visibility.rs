//! What a user may see of the tenant's apps and tables before touching
//! records: which tables to list, and who may add tables to an app.

use super::decide::{TenantResource, field_rule, person_for};
use super::explain::verdicts;
use super::policy::{FieldRule, Operation, Operations};
use super::{AccessModel, effective_policy};
use crate::authz::{Denied, Principal};
use crate::data::TableSchema;
use crate::{AppId, TableId};

/// Everything `principal` may do on `table` of `app`: the union of their
/// groups' grants; nothing when the tenant-level choke point refuses them
/// its data.
pub fn table_operations(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    app: AppId,
    table: TableId,
) -> Operations {
    let Ok((_, person)) = person_for(principal, tenant, model, Operation::Read) else {
        return Operations::NONE;
    };
    model
        .groups_of(&person)
        .map(|(group, _)| effective_policy(group).operations_on(app, table))
        .fold(Operations::NONE, Operations::union)
}

/// Whether `principal` may add tables to `app`: a grant to manage the
/// schema of every table of the app (or of every app).
pub fn authorize_new_table(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    app: AppId,
) -> Result<(), Denied> {
    let (_, person) = person_for(principal, tenant, model, Operation::ManageSchema)?;
    let allowed = model.groups_of(&person).any(|(group, _)| {
        let policy = effective_policy(group);
        policy
            .all_apps
            .union(policy.apps.get(&app).copied().unwrap_or_default())
            .contains(Operation::ManageSchema)
    });
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

/// `table` as `principal` may see its definition: without the fields hidden
/// from them, if they may do anything with it at all.
pub fn describe_table(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    mut table: TableSchema,
) -> Result<TableSchema, Denied> {
    let (_, person) = person_for(principal, tenant, model, Operation::Read)?;
    let found = verdicts(model, &person, &table, Operation::Read);
    if found.iter().all(|v| v.operations.is_empty()) {
        return Err(Denied::Forbidden);
    }
    table
        .fields
        .retain(|f| field_rule(&found, f.id) != FieldRule::Hidden);
    Ok(table)
}
