//! What a permission group (权限组) grants: operations per app and per
//! table, a rule per field, and the rows each operation reaches. Stored
//! as JSON and sent as JSON in the same shape, checked by [`GroupPolicy::check`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{AppId, CoreError, DepartmentId, FieldId, TableId, UserId, filter};

/// Something a user does to a table's records or schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Import,
    ManageSchema,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Self::Read,
        Self::Create,
        Self::Update,
        Self::Delete,
        Self::Export,
        Self::Import,
        Self::ManageSchema,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Export => "export",
            Self::Import => "import",
            Self::ManageSchema => "manage_schema",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|op| op.name() == text)
            .ok_or_else(|| CoreError::UnknownValue {
                what: "operation",
                value: text.chars().take(40).collect(),
            })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

/// A set of operations; written as a list of their names.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Operations(u8);

impl Operations {
    pub const NONE: Operations = Operations(0);
    pub const EVERY: Operations = Operations(0x7f);

    pub fn of(ops: &[Operation]) -> Self {
        Self(ops.iter().fold(0, |bits, op| bits | op.bit()))
    }

    pub fn contains(self, op: Operation) -> bool {
        self.0 & op.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Operation> {
        Operation::ALL
            .into_iter()
            .filter(move |op| self.contains(*op))
    }
}

impl fmt::Debug for Operations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Operations {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Operations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ops = Vec::<Operation>::deserialize(d)?;
        Ok(Self::of(&ops))
    }
}

/// What a group's members may do with one field. Across groups the most
/// open rule wins.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FieldRule {
    /// Never sent, never filterable or sortable, never writable.
    Hidden,
    /// Sent, but never writable.
    ReadOnly,
    #[default]
    ReadWrite,
}

/// Which rows an operation reaches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowScope {
    #[default]
    All,
    /// Rows the user created.
    Mine,
    /// Rows created by members of the user's department.
    MyDepartment,
    /// Rows created by members of the user's department or any below it.
    MyDepartmentTree,
    /// Rows matching a condition in the filter language, which may use
    /// `$me` and `$my_department`.
    Filter(String),
}

/// The rows each operation reaches. Create and import make new rows, and
/// schema changes are not about rows, so those have none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowScopes {
    #[serde(default, skip_serializing_if = "is_all")]
    pub read: RowScope,
    #[serde(default, skip_serializing_if = "is_all")]
    pub update: RowScope,
    #[serde(default, skip_serializing_if = "is_all")]
    pub delete: RowScope,
    #[serde(default, skip_serializing_if = "is_all")]
    pub export: RowScope,
}

fn is_all(scope: &RowScope) -> bool {
    *scope == RowScope::All
}

impl RowScopes {
    /// The scope of `op`, if it is an operation on existing rows.
    pub fn of(&self, op: Operation) -> Option<&RowScope> {
        match op {
            Operation::Read => Some(&self.read),
            Operation::Update => Some(&self.update),
            Operation::Delete => Some(&self.delete),
            Operation::Export => Some(&self.export),
            Operation::Create | Operation::Import | Operation::ManageSchema => None,
        }
    }
}

/// A group's rules for one table, on top of what its app grant gives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRules {
    #[serde(default)]
    pub operations: Operations,
    /// Fields not named here are read-write.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<FieldId, FieldRule>,
    #[serde(default)]
    pub rows: RowScopes,
}

/// Everything one group grants. Anything not granted is denied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPolicy {
    /// Operations on every table of every app, present and future.
    #[serde(default)]
    pub all_apps: Operations,
    /// Operations on every table of an app.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<AppId, Operations>,
    /// Operations, field rules and row scopes of single tables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<TableId, TableRules>,
}

/// Most apps or tables one group may name: a bound on the work of every
/// decision, far above what a real organisation writes by hand.
pub const MAX_POLICY_ENTRIES: usize = 2_000;
/// Most field rules one table entry may carry.
pub const MAX_FIELD_RULES: usize = 1_000;

impl GroupPolicy {
    /// The operations this group grants on `table` of `app`.
    pub fn operations_on(&self, app: AppId, table: TableId) -> Operations {
        let mut ops = self.all_apps;
        if let Some(app_ops) = self.apps.get(&app) {
            ops = ops.union(*app_ops);
        }
        if let Some(rules) = self.tables.get(&table) {
            ops = ops.union(rules.operations);
        }
        ops
    }

    /// Checks sizes and that every custom row condition parses. Names in
    /// the conditions are checked against the table when they are used:
    /// a field deleted later makes the condition reach no rows.
    pub fn check(&self) -> Result<(), CoreError> {
        if self.apps.len() + self.tables.len() > MAX_POLICY_ENTRIES {
            return Err(CoreError::InvalidPolicy(
                "a group names too many apps and tables",
            ));
        }
        for (table, rules) in &self.tables {
            if rules.fields.len() > MAX_FIELD_RULES {
                return Err(CoreError::InvalidPolicy("a table has too many field rules"));
            }
            for scope in [
                &rules.rows.read,
                &rules.rows.update,
                &rules.rows.delete,
                &rules.rows.export,
            ] {
                if let RowScope::Filter(text) = scope {
                    filter::parse(text).map_err(|e| CoreError::InvalidField {
                        field: format!("tables.{table}.rows"),
                        reason: e.to_string(),
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Who belongs to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Member {
    User(UserId),
    Department {
        id: DepartmentId,
        /// Members of departments below it belong too.
        #[serde(default)]
        include_subdepartments: bool,
    },
}

/// The two groups every tenant has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinGroup {
    /// The tenant's administrators: every operation on every table. Its
    /// members are the users marked administrator; its grants cannot change.
    TenantAdmin,
    /// Every user of the tenant; its grants are the tenant's baseline.
    Member,
}

impl BuiltinGroup {
    pub fn name(self) -> &'static str {
        match self {
            Self::TenantAdmin => "tenant_admin",
            Self::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::TenantAdmin, Self::Member]
            .into_iter()
            .find(|b| b.name() == text)
    }

    /// What a new tenant's members may do: work with the records of every
    /// app, as they could before permission groups existed; administrators
    /// narrow it.
    pub fn initial_member_policy() -> GroupPolicy {
        GroupPolicy {
            all_apps: Operations::of(&[
                Operation::Read,
                Operation::Create,
                Operation::Update,
                Operation::Delete,
                Operation::Export,
                Operation::Import,
            ]),
            ..GroupPolicy::default()
        }
    }
}
