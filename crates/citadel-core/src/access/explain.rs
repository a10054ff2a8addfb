//! Why a user may or may not do something: each group they belong to, what
//! it grants on the table, and what the union of those grants decided.
//! The decision in [`decide`](super::decide) is made from the same
//! findings, so an explanation cannot disagree with what is enforced.

use std::collections::BTreeMap;

use serde::Serialize;

use super::decide::{Now, TenantResource, decide_for, field_rule, person_for};
use super::policy::{BuiltinGroup, FieldRule, Operation, Operations, RowScope};
use super::{AccessModel, Membership, Person, effective_policy};
use crate::authz::{Denied, Principal};
use crate::data::TableSchema;
use crate::{FieldId, GroupId};

/// What one group contributes to a decision on one table. Borrowed from
/// the access model: deciding allocates nothing per group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupVerdict<'a> {
    pub group: GroupId,
    pub name: &'a str,
    pub builtin: Option<BuiltinGroup>,
    pub membership: Membership,
    /// Everything the group grants on the table.
    pub operations: Operations,
    /// Whether it grants the operation asked about.
    pub grants: bool,
    /// Its rules for the table's fields (fields not named are read-write).
    pub fields: &'a BTreeMap<FieldId, FieldRule>,
    /// The rows it lets the operation reach, when it grants an operation
    /// on existing rows.
    pub rows: Option<&'a RowScope>,
}

static NO_RULES: BTreeMap<FieldId, FieldRule> = BTreeMap::new();
static ALL_ROWS: RowScope = RowScope::All;

/// The verdict of every group `person` belongs to on `table` for `op`.
pub(super) fn verdicts<'a>(
    model: &'a AccessModel,
    person: &Person,
    table: &TableSchema,
    op: Operation,
) -> Vec<GroupVerdict<'a>> {
    model
        .groups_of(person)
        .map(|(group, membership)| {
            let policy = effective_policy(group);
            let operations = policy.operations_on(table.app, table.id);
            let rules = policy.tables.get(&table.id);
            let grants = operations.contains(op);
            GroupVerdict {
                group: group.id,
                name: &group.name,
                builtin: group.builtin,
                membership,
                operations,
                grants,
                fields: rules.map_or(&NO_RULES, |r| &r.fields),
                rows: if grants {
                    rules.map_or(Some(&ALL_ROWS), |r| r.rows.of(op))
                } else {
                    None
                },
            }
        })
        .collect()
}

/// The answer to "may this user do `op` on this table (and field)?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation<'a> {
    pub operation: Operation,
    /// `None` when allowed; otherwise why not.
    pub denied: Option<Denied>,
    /// The groups the user belongs to, each with what it contributes.
    pub groups: Vec<GroupVerdict<'a>>,
    /// The rows the operation reaches, one scope per granting group; empty
    /// when denied or when the operation is not about existing rows.
    pub rows: Vec<RowScope>,
    /// The rule that applies to the field asked about, if one was.
    pub field: Option<(FieldId, FieldRule)>,
}

/// Explains `op` on `table` (and `field`) for `principal`, by making the
/// decision and keeping what it was made from.
pub fn explain<'a>(
    principal: &Principal,
    tenant: TenantResource,
    model: &'a AccessModel,
    table: &TableSchema,
    op: Operation,
    field: Option<FieldId>,
    now: Now,
) -> Explanation<'a> {
    let (tenant_id, person) = match person_for(principal, tenant, model, op) {
        Ok(found) => found,
        Err(denied) => {
            return Explanation {
                operation: op,
                denied: Some(denied),
                groups: Vec::new(),
                rows: Vec::new(),
                field: None,
            };
        }
    };
    let groups = verdicts(model, &person, table, op);
    let decided =
        decide_for::<()>(tenant_id, &person, model, &groups, table.clone(), op, now).err();
    let rows = if decided.is_none() {
        groups.iter().filter_map(|v| v.rows.cloned()).collect()
    } else {
        Vec::new()
    };
    Explanation {
        operation: op,
        denied: decided,
        field: field.map(|id| (id, field_rule(&groups, id))),
        groups,
        rows,
    }
}

/// The JSON name of a membership, for explanations.
impl Serialize for Membership {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Everyone => s.serialize_str("everyone"),
            Self::Administrator => s.serialize_str("administrator"),
            Self::Named => s.serialize_str("named"),
            Self::Department(id) => s.serialize_str(&format!("department:{id}")),
        }
    }
}
