//! Permission groups (权限组): who may do what to which tables, fields and
//! rows. [`policy`] is what a group grants; [`AccessModel`] is a tenant's
//! groups with what is needed to tell who is in them; [`decide`] turns
//! them into the proof values the store's data methods require.

pub mod decide;
pub mod explain;
pub mod policy;
pub mod visibility;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub use decide::{
    Now, ReadsRows, TableAccess, TableOperation, TenantResource, authorize_table, ops,
};
pub use explain::{Explanation, GroupVerdict, explain};
pub use policy::{
    BuiltinGroup, FieldRule, GroupPolicy, Member, Operation, Operations, RowScope, RowScopes,
    TableRules,
};
pub use visibility::{authorize_new_table, describe_table, table_operations};

use crate::data::TableSchema;
use crate::department::MAX_DEPTH;
use crate::{DepartmentId, FieldId, GroupId, TableId, UserId};

/// One permission group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub builtin: Option<BuiltinGroup>,
    pub members: Vec<Member>,
    pub policy: GroupPolicy,
}

/// A user as the access model sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub admin: bool,
    pub department: Option<DepartmentId>,
}

/// A tenant's groups, its department tree and its users' departments: all
/// that deciding an operation on a table needs besides the table.
#[derive(Debug, Default)]
pub struct AccessModel {
    pub groups: Vec<Group>,
    parents: HashMap<DepartmentId, Option<DepartmentId>>,
    departments_of: HashMap<UserId, DepartmentId>,
    members_of: HashMap<DepartmentId, Vec<UserId>>,
    /// Tables as users with some fields hidden see them, made once per
    /// table version and set of hidden fields for as long as the model
    /// lives (cloning a schema per request was most of what hiding cost).
    visible: Mutex<HashMap<VisibleKey, Arc<TableSchema>>>,
}

type VisibleKey = (TableId, i64, Vec<FieldId>);

/// Most visible schemas one model keeps.
const MAX_VISIBLE: usize = 1024;

impl Clone for AccessModel {
    fn clone(&self) -> Self {
        Self {
            groups: self.groups.clone(),
            parents: self.parents.clone(),
            departments_of: self.departments_of.clone(),
            members_of: self.members_of.clone(),
            visible: Mutex::default(),
        }
    }
}

/// Why a user belongs to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Everyone belongs to the built-in member group.
    Everyone,
    /// Tenant administrators belong to the built-in admin group.
    Administrator,
    /// Named as a user.
    Named,
    /// Through a department: the user's own, or one above it.
    Department(DepartmentId),
}

impl AccessModel {
    pub fn new(
        groups: Vec<Group>,
        departments: impl IntoIterator<Item = (DepartmentId, Option<DepartmentId>)>,
        users: impl IntoIterator<Item = (UserId, DepartmentId)>,
    ) -> Self {
        let departments_of: HashMap<UserId, DepartmentId> = users.into_iter().collect();
        let mut members_of: HashMap<DepartmentId, Vec<UserId>> = HashMap::new();
        for (user, department) in &departments_of {
            members_of.entry(*department).or_default().push(*user);
        }
        for members in members_of.values_mut() {
            members.sort();
        }
        Self {
            groups,
            parents: departments.into_iter().collect(),
            departments_of,
            members_of,
            visible: Mutex::default(),
        }
    }

    /// `table` without the `hidden` fields (sorted), shared.
    pub(crate) fn visible_schema(
        &self,
        table: &TableSchema,
        hidden: &[FieldId],
    ) -> Arc<TableSchema> {
        let key = (table.id, table.schema_version, hidden.to_vec());
        let mut cache = self.visible.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.get(&key) {
            return Arc::clone(found);
        }
        let made = Arc::new(TableSchema {
            id: table.id,
            app: table.app,
            name: table.name.clone(),
            description: table.description.clone(),
            fields: table
                .fields
                .iter()
                .filter(|f| !hidden.contains(&f.id))
                .cloned()
                .collect(),
            schema_version: table.schema_version,
        });
        if cache.len() >= MAX_VISIBLE {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&made));
        made
    }

    /// The users of these departments, if there are at most `limit`.
    pub fn members_of(&self, departments: &[DepartmentId], limit: usize) -> Option<Vec<UserId>> {
        let mut users = Vec::new();
        for department in departments {
            users.extend(
                self.members_of
                    .get(department)
                    .into_iter()
                    .flatten()
                    .copied(),
            );
            if users.len() > limit {
                return None;
            }
        }
        Some(users)
    }

    /// The same model with `group` in place of the group of its id (or
    /// added): what a change to a group would make of the tenant.
    pub fn with_group(&self, group: Group) -> Self {
        let mut next = self.clone();
        match next.groups.iter_mut().find(|g| g.id == group.id) {
            Some(slot) => *slot = group,
            None => next.groups.push(group),
        }
        next
    }

    /// The department a user belongs to, if any.
    pub fn department_of(&self, user: UserId) -> Option<DepartmentId> {
        self.departments_of.get(&user).copied()
    }

    /// `department` and the departments above it, nearest first.
    fn chain(&self, department: DepartmentId) -> Vec<DepartmentId> {
        let mut chain = vec![department];
        let mut current = department;
        // Bounded: the tree is at most MAX_DEPTH deep, and a loop in bad
        // data must not hang a request.
        while chain.len() <= MAX_DEPTH {
            match self.parents.get(&current).copied().flatten() {
                Some(up) if !chain.contains(&up) => {
                    chain.push(up);
                    current = up;
                }
                _ => break,
            }
        }
        chain
    }

    /// `department` and every department below it.
    pub fn subtree(&self, department: DepartmentId) -> Vec<DepartmentId> {
        let mut children: HashMap<DepartmentId, Vec<DepartmentId>> = HashMap::new();
        for (child, parent) in &self.parents {
            if let Some(parent) = parent {
                children.entry(*parent).or_default().push(*child);
            }
        }
        let mut seen: HashSet<DepartmentId> = HashSet::from([department]);
        let mut found = vec![department];
        let mut level = vec![department];
        for _ in 0..MAX_DEPTH {
            level = level
                .iter()
                .flat_map(|d| children.get(d).into_iter().flatten().copied())
                .filter(|d| seen.insert(*d))
                .collect();
            if level.is_empty() {
                break;
            }
            found.extend(&level);
        }
        found.sort();
        found
    }

    /// The groups `person` belongs to, with why.
    pub fn groups_of(&self, person: &Person) -> impl Iterator<Item = (&Group, Membership)> + '_ {
        let person = *person;
        // Walked up once for all the groups.
        let chain = person.department.map(|d| self.chain(d)).unwrap_or_default();
        self.groups
            .iter()
            .filter_map(move |g| member_through(g, &person, &chain).map(|m| (g, m)))
    }
}

/// Whether and why `person`, whose department and those above it are
/// `chain` (nearest first), belongs to `group`.
fn member_through(group: &Group, person: &Person, chain: &[DepartmentId]) -> Option<Membership> {
    match group.builtin {
        Some(BuiltinGroup::Member) => return Some(Membership::Everyone),
        Some(BuiltinGroup::TenantAdmin) => {
            return person.admin.then_some(Membership::Administrator);
        }
        None => {}
    }
    group.members.iter().find_map(|member| match *member {
        Member::User(id) if id == person.id => Some(Membership::Named),
        Member::Department {
            id,
            include_subdepartments,
        } => {
            let position = chain.iter().position(|d| *d == id)?;
            (position == 0 || include_subdepartments).then_some(Membership::Department(id))
        }
        Member::User(_) => None,
    })
}

/// What the built-in admin group grants: everything, on every table.
static ADMIN_POLICY: std::sync::LazyLock<GroupPolicy> = std::sync::LazyLock::new(|| GroupPolicy {
    all_apps: Operations::EVERY,
    ..GroupPolicy::default()
});

/// A group's effective policy: the built-in admin group's is fixed,
/// whatever is stored.
pub fn effective_policy(group: &Group) -> &GroupPolicy {
    match group.builtin {
        Some(BuiltinGroup::TenantAdmin) => &ADMIN_POLICY,
        _ => &group.policy,
    }
}

#[cfg(test)]
mod tests;
