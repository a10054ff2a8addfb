//! Permission groups (权限组): who may do what to which tables, fields and
//! rows. [`policy`] is what a group grants; [`AccessModel`] is a tenant's
//! groups with what is needed to tell who is in them; [`decide`] turns
//! them into the proof values the store's data methods require.

pub mod decide;
pub mod explain;
pub mod policy;
pub mod visibility;

use std::collections::{HashMap, HashSet};

pub use decide::{
    Now, ReadsRows, TableAccess, TableOperation, TenantResource, authorize_table, ops,
};
pub use explain::{Explanation, GroupVerdict, explain};
pub use policy::{
    BuiltinGroup, FieldRule, GroupPolicy, Member, Operation, Operations, RowScope, RowScopes,
    TableRules,
};
pub use visibility::{authorize_new_table, describe_table, table_operations};

use crate::department::MAX_DEPTH;
use crate::{DepartmentId, GroupId, UserId};

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
#[derive(Clone, Debug, Default)]
pub struct AccessModel {
    pub groups: Vec<Group>,
    parents: HashMap<DepartmentId, Option<DepartmentId>>,
    departments_of: HashMap<UserId, DepartmentId>,
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
        Self {
            groups,
            parents: departments.into_iter().collect(),
            departments_of: users.into_iter().collect(),
        }
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

    /// Whether and why `person` belongs to `group`.
    pub fn membership(&self, group: &Group, person: &Person) -> Option<Membership> {
        match group.builtin {
            Some(BuiltinGroup::Member) => return Some(Membership::Everyone),
            Some(BuiltinGroup::TenantAdmin) => {
                return person.admin.then_some(Membership::Administrator);
            }
            None => {}
        }
        let chain = person.department.map(|d| self.chain(d)).unwrap_or_default();
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

    /// The groups `person` belongs to, with why.
    pub fn groups_of<'a>(
        &'a self,
        person: &'a Person,
    ) -> impl Iterator<Item = (&'a Group, Membership)> + 'a {
        self.groups
            .iter()
            .filter_map(move |g| self.membership(g, person).map(|m| (g, m)))
    }
}

/// What the built-in admin group grants: everything, on every table.
pub fn admin_policy() -> GroupPolicy {
    GroupPolicy {
        all_apps: Operations::EVERY,
        ..GroupPolicy::default()
    }
}

/// A group's effective policy: the built-in admin group's is fixed.
pub fn effective_policy(group: &Group) -> std::borrow::Cow<'_, GroupPolicy> {
    match group.builtin {
        Some(BuiltinGroup::TenantAdmin) => std::borrow::Cow::Owned(admin_policy()),
        _ => std::borrow::Cow::Borrowed(&group.policy),
    }
}

#[cfg(test)]
mod tests;
