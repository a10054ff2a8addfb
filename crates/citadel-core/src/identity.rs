//! Account states and the names people give to users and departments.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// What an admin set. Locking is separate and temporary: an active account
/// is locked while its `locked_until` lies in the future.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            other => Err(CoreError::UnknownValue {
                what: "user status",
                value: other.into(),
            }),
        }
    }
}

/// What an account looks like from outside at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Active,
    Disabled,
    Locked,
}

impl AccountState {
    pub fn of(status: UserStatus, locked_until_ms: Option<i64>, now_ms: i64) -> Self {
        match status {
            UserStatus::Disabled => Self::Disabled,
            UserStatus::Active if locked_until_ms.is_some_and(|until| until > now_ms) => {
                Self::Locked
            }
            UserStatus::Active => Self::Active,
        }
    }
}

/// A human-readable name (a person's display name, a department): any
/// script, 1 to 100 characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let input = input.trim();
        let len = input.chars().count();
        if !(1..=100).contains(&len) {
            return Err(CoreError::InvalidName("must be 1 to 100 characters long"));
        }
        if input.chars().any(char::is_control) {
            return Err(CoreError::InvalidName(
                "must not contain control characters",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({})", self.0)
    }
}

/// Personal access tokens live at least a day and at most a year: a token
/// without expiry is a password that is never changed.
pub const TOKEN_MAX_DAYS: u32 = 365;

pub fn check_token_lifetime(days: u32) -> Result<i64, CoreError> {
    if (1..=TOKEN_MAX_DAYS).contains(&days) {
        Ok(i64::from(days) * 24 * 60 * 60 * 1000)
    } else {
        Err(CoreError::InvalidLifetime(
            "expires_in_days must be between 1 and 365",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(
            AccountState::of(UserStatus::Active, None, 5),
            AccountState::Active
        );
        assert_eq!(
            AccountState::of(UserStatus::Active, Some(6), 5),
            AccountState::Locked
        );
        assert_eq!(
            AccountState::of(UserStatus::Active, Some(5), 5),
            AccountState::Active
        );
        assert_eq!(
            AccountState::of(UserStatus::Disabled, None, 5),
            AccountState::Disabled
        );
        assert!(UserStatus::parse("locked").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            DisplayName::parse("  研发部 ").map(|n| n.0),
            Ok("研发部".into())
        );
        for bad in ["", "   ", "a\u{0}b", &"长".repeat(101)] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_lifetimes() {
        assert!(check_token_lifetime(0).is_err());
        assert!(check_token_lifetime(366).is_err());
        assert_eq!(check_token_lifetime(1), Ok(86_400_000));
    }
}
