//! The decision for an operation on a table, and the proof it yields.
//!
//! [`authorize_table`] first asks [`authorize`](crate::authorize) whether
//! the principal may use the tenant's data at all (membership, suspension,
//! a pending password change), then unites the grants of the user's
//! groups. An allow is a [`TableAccess`] for one operation: the store's
//! record methods take it, so reading records without a decision, or
//! updating them with a read decision, does not compile. It carries what
//! the decision found: the rows the operation reaches (pushed into SQL)
//! and the fields the user may not see or write.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

use super::explain::{GroupVerdict, verdicts};
use super::policy::{FieldRule, Operation, RowScope};
use super::{AccessModel, Person};
use crate::authz::{Action, Denied, Principal, Resource, authorize};
use crate::data::TableSchema;
use crate::data::query::{FilterContext, Predicate, SqlValue, resolve};
use crate::data::table::{SystemField, Target};
use crate::filter::Comparison;
use crate::{DepartmentId, FieldId, TenantId, TenantStatus, UserId, filter};

/// The operations, as types, so a proof for one cannot stand in for another.
pub mod ops {
    #[derive(Debug)]
    pub struct Read;
    #[derive(Debug)]
    pub struct Create;
    #[derive(Debug)]
    pub struct Update;
    #[derive(Debug)]
    pub struct Delete;
    #[derive(Debug)]
    pub struct Export;
    #[derive(Debug)]
    pub struct Import;
    #[derive(Debug)]
    pub struct ManageSchema;
}

mod sealed {
    pub trait Sealed {}
}

/// An operation type: which [`Operation`] it is and which tenant-level
/// action it needs first.
pub trait TableOperation: sealed::Sealed {
    const OPERATION: Operation;
    const TENANT_ACTION: Action;
}

/// Operations that read existing rows (and so return records).
pub trait ReadsRows: TableOperation {}

macro_rules! table_operation {
    ($ty:ident, $op:ident, $action:ident) => {
        impl sealed::Sealed for ops::$ty {}
        impl TableOperation for ops::$ty {
            const OPERATION: Operation = Operation::$op;
            const TENANT_ACTION: Action = Action::$action;
        }
    };
}
table_operation!(Read, Read, ReadData);
table_operation!(Export, Export, ReadData);
table_operation!(Create, Create, WriteData);
table_operation!(Update, Update, WriteData);
table_operation!(Delete, Delete, WriteData);
table_operation!(Import, Import, WriteData);
table_operation!(ManageSchema, ManageSchema, WriteData);
impl ReadsRows for ops::Read {}
impl ReadsRows for ops::Export {}

/// Proof that `Op` on one table was allowed, with its limits.
#[derive(Debug)]
pub struct TableAccess<Op> {
    tenant: TenantId,
    /// The user decided for; `None` for support access.
    user: Option<UserId>,
    schema: TableSchema,
    /// The schema without hidden fields, when some are hidden.
    visible: Option<Arc<TableSchema>>,
    read_only: Vec<FieldId>,
    rows: Option<Predicate>,
    _op: PhantomData<Op>,
}

impl<Op: TableOperation> TableAccess<Op> {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn user(&self) -> Option<UserId> {
        self.user
    }

    /// The whole table, hidden fields included: for the store, which must
    /// fill defaults and render row conditions on any column.
    pub fn full_schema(&self) -> &TableSchema {
        &self.schema
    }

    /// The table as this user may see it: what is sent, and what filters,
    /// sorts and field lists are resolved against (a hidden field is then
    /// "no such field", which tells nothing about it).
    pub fn schema(&self) -> &TableSchema {
        self.visible.as_deref().unwrap_or(&self.schema)
    }

    pub fn is_hidden(&self, field: FieldId) -> bool {
        self.visible.is_some() && self.schema().field(field).is_none()
    }

    pub fn is_read_only(&self, field: FieldId) -> bool {
        self.read_only.contains(&field)
    }

    /// The rows the operation reaches: `None` for all of them.
    pub fn rows(&self) -> Option<&Predicate> {
        self.rows.as_ref()
    }

    /// The names of the fields in `written` this user may not write; the
    /// server answers 403 naming them.
    pub fn unwritable(&self, written: impl IntoIterator<Item = FieldId>) -> Vec<&str> {
        written
            .into_iter()
            .filter(|id| self.is_hidden(*id) || self.is_read_only(*id))
            .filter_map(|id| self.schema.field(id).map(|f| f.name.as_str()))
            .collect()
    }
}

/// The tenant resource a table belongs to.
#[derive(Clone, Copy, Debug)]
pub struct TenantResource {
    pub id: TenantId,
    pub status: TenantStatus,
}

impl TenantResource {
    /// The same tenant as the tenant-level choke point names it.
    pub fn resource(self) -> Resource {
        Resource::Tenant {
            id: self.id,
            status: self.status,
        }
    }
}

/// The clock and zone custom row conditions are read in.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: DateTime<Utc>,
    pub offset: FixedOffset,
}

/// Decides `Op` on `table` for `principal`: the one choke point for
/// operations on tables. Everything not granted by a group is denied.
pub fn authorize_table<Op: TableOperation>(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    table: TableSchema,
    now: Now,
) -> Result<TableAccess<Op>, Denied> {
    decide(principal, tenant, model, table, Op::OPERATION, now)
}

/// The tenant-level action an operation on a table needs first.
pub(super) fn tenant_action(op: Operation) -> Action {
    match op {
        Operation::Read | Operation::Export => Action::ReadData,
        _ => Action::WriteData,
    }
}

/// Who `principal` is in the access model, once the tenant-level choke
/// point let them use the tenant's data for `op`.
pub(super) fn person_for(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    op: Operation,
) -> Result<(TenantId, Person), Denied> {
    let scope = authorize(principal, tenant_action(op), tenant.resource())?
        .into_tenant()
        .ok_or(Denied::Forbidden)?;
    let Principal::TenantUser { user, duties, .. } = principal else {
        return Err(Denied::Forbidden);
    };
    Ok((
        scope.tenant(),
        Person {
            id: *user,
            admin: duties.system,
            department: model.department_of(*user),
        },
    ))
}

pub(super) fn decide<Op>(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    schema: TableSchema,
    op: Operation,
    now: Now,
) -> Result<TableAccess<Op>, Denied> {
    if let Principal::SupportOperator { .. } = principal {
        return support_read(principal, tenant, model, schema, op);
    }
    let (tenant, person) = person_for(principal, tenant, model, op)?;
    let found = verdicts(model, &person, &schema, op);
    decide_for(tenant, &person, model, &found, schema, op, now)
}

pub(super) fn decide_for<Op>(
    tenant: TenantId,
    person: &Person,
    model: &AccessModel,
    found: &[GroupVerdict],
    schema: TableSchema,
    op: Operation,
    now: Now,
) -> Result<TableAccess<Op>, Denied> {
    let granting: Vec<&GroupVerdict> = found.iter().filter(|v| v.grants).collect();
    if granting.is_empty() {
        return Err(Denied::Forbidden);
    }
    let rows = match op {
        Operation::Read | Operation::Update | Operation::Delete | Operation::Export => {
            let scopes: Vec<&RowScope> = granting.iter().filter_map(|v| v.rows).collect();
            if scopes.iter().any(|s| **s == RowScope::All) {
                None
            } else {
                let context = FilterContext {
                    me: Some(person.id),
                    my_department: person.department,
                    ..FilterContext::at(now.at, now.offset)
                };
                Some(Predicate::Any(
                    scopes
                        .into_iter()
                        .map(|s| scope_predicate(s, person, model, &schema, &context))
                        .collect(),
                ))
            }
        }
        Operation::Create | Operation::Import | Operation::ManageSchema => None,
    };
    let mut hidden = Vec::new();
    let mut read_only = Vec::new();
    for field in &schema.fields {
        match field_rule(found, field.id) {
            FieldRule::Hidden => hidden.push(field.id),
            FieldRule::ReadOnly => read_only.push(field.id),
            FieldRule::ReadWrite => {}
        }
    }
    let visible = (!hidden.is_empty()).then(|| model.visible_schema(&schema, &hidden));
    Ok(TableAccess {
        tenant,
        user: Some(person.id),
        schema,
        visible,
        read_only,
        rows,
        _op: PhantomData,
    })
}

/// What a support grant reads: every record of every table, but not the
/// values of the sensitive types (resident ID, bank card, unified social
/// credit code), and nothing it could change.
fn support_read<Op>(
    principal: &Principal,
    tenant: TenantResource,
    model: &AccessModel,
    schema: TableSchema,
    op: Operation,
) -> Result<TableAccess<Op>, Denied> {
    if op != Operation::Read {
        return Err(Denied::Forbidden);
    }
    let scope = authorize(principal, Action::ReadData, tenant.resource())?
        .into_tenant()
        .ok_or(Denied::Forbidden)?;
    let hidden: Vec<FieldId> = schema
        .fields
        .iter()
        .filter(|f| f.kind.is_sensitive())
        .map(|f| f.id)
        .collect();
    let visible = (!hidden.is_empty()).then(|| model.visible_schema(&schema, &hidden));
    let read_only = schema.fields.iter().map(|f| f.id).collect();
    Ok(TableAccess {
        tenant: scope.tenant(),
        user: None,
        schema,
        visible,
        read_only,
        rows: None,
        _op: PhantomData,
    })
}

/// A field's rule for a user: the most open rule of the groups that grant
/// anything on the table (hidden if none does).
pub(super) fn field_rule(found: &[GroupVerdict], field: FieldId) -> FieldRule {
    found
        .iter()
        .filter(|v| !v.operations.is_empty())
        .map(|v| v.fields.get(&field).copied().unwrap_or_default())
        .max()
        .unwrap_or(FieldRule::Hidden)
}

/// Most creators a department scope names one by one; larger departments
/// are looked up by the database instead.
const MAX_LISTED_CREATORS: usize = 500;

/// Records created by members of `departments`: their ids as bound values
/// when there are few (one index look-up, no subquery per row), else a
/// look-up of the users table in the query.
fn created_in(model: &AccessModel, departments: Vec<DepartmentId>) -> Predicate {
    match model.members_of(&departments, MAX_LISTED_CREATORS) {
        Some(users) if users.is_empty() => Predicate::Any(Vec::new()),
        Some(users) => Predicate::In {
            target: Target::System(SystemField::CreatedBy),
            values: users
                .into_iter()
                .map(|u| SqlValue::Text(u.to_string()))
                .collect(),
        },
        None => Predicate::CreatorInDepartments(departments),
    }
}

/// The rows one scope reaches, as a condition. A condition that no longer
/// fits the table (a field it names was deleted) reaches no rows.
fn scope_predicate(
    scope: &RowScope,
    person: &Person,
    model: &AccessModel,
    table: &TableSchema,
    context: &FilterContext,
) -> Predicate {
    let nothing = || Predicate::Any(Vec::new());
    match scope {
        RowScope::All => Predicate::All(Vec::new()),
        RowScope::Mine => Predicate::Compare {
            target: Target::System(SystemField::CreatedBy),
            op: Comparison::Eq,
            value: SqlValue::Text(person.id.to_string()),
        },
        RowScope::MyDepartment => person
            .department
            .map_or_else(nothing, |d| created_in(model, vec![d])),
        RowScope::MyDepartmentTree => person
            .department
            .map_or_else(nothing, |d| created_in(model, model.subtree(d))),
        RowScope::Filter(text) => filter::parse(text)
            .ok()
            .and_then(|parsed| resolve(&parsed, table, context).ok())
            .unwrap_or_else(nothing),
    }
}
