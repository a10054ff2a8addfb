//! The names users give apps, tables, fields and views. Any script is
//! welcome; names are labels only and never reach SQL, whose identifiers
//! come from ids.

use std::fmt;

use serde::Serialize;

use crate::CoreError;

/// The system fields every table has; user fields may not take these names.
pub const SYSTEM_FIELDS: [&str; 6] = [
    "id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
];

pub const MAX_NAME_CHARS: usize = 64;

/// A trimmed name of 1 to 64 characters without control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(CoreError::InvalidName("a name may not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(CoreError::InvalidName(
                "a name may have at most 64 characters",
            ));
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        {
            return Err(CoreError::InvalidName(
                "a name may not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// A field name, which also may not shadow a system field.
    pub fn parse_field(input: &str) -> Result<Self, CoreError> {
        let name = Self::parse(input)?;
        if SYSTEM_FIELDS.contains(&name.0.to_lowercase().as_str()) {
            return Err(CoreError::InvalidName(
                "that name is reserved for a system field (id, created_at, created_by, \
                 updated_at, updated_by, version)",
            ));
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Names are unique per parent without regard to case, so `Amount` and
    /// `amount` cannot both exist and confuse a filter.
    pub fn same_as(&self, other: &str) -> bool {
        let other = other.trim();
        // Every record write looks up each of its keys this way: compare
        // char by char, without allocating two lowercased copies.
        self.0 == other
            || self
                .0
                .chars()
                .flat_map(char::to_lowercase)
                .eq(other.chars().flat_map(char::to_lowercase))
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_any_script_and_refuse_junk() {
        assert_eq!(
            SchemaName::parse("  客户 名称 ").map(|n| n.0),
            Ok("客户 名称".into())
        );
        assert!(SchemaName::parse("").is_err());
        assert!(SchemaName::parse("a\u{0}b").is_err());
        assert!(SchemaName::parse(&"名".repeat(65)).is_err());
        assert!(SchemaName::parse(&"名".repeat(64)).is_ok());
        assert!(SchemaName::parse_field("Created_At").is_err());
        assert!(SchemaName::parse("id").is_ok());
        assert!(SchemaName::parse("Amount").is_ok_and(|n| n.same_as("amount ")));
        assert!(
            SchemaName::parse("ÄRGER Straße")
                .is_ok_and(|n| !n.same_as("ärger STRASSE") && n.same_as(" ärger straße"))
        );
        assert!(SchemaName::parse("金额").is_ok_and(|n| n.same_as("金额") && !n.same_as("金")));
    }
}
