use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// An email address, checked for shape (not deliverability); the domain is
/// lowercased so the same address always compares equal.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let input = input.trim();
        if input.len() > 254 {
            return Err(CoreError::InvalidEmail("longer than 254 characters"));
        }
        let (local, domain) = input
            .rsplit_once('@')
            .ok_or(CoreError::InvalidEmail("must contain @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(CoreError::InvalidEmail(
                "the part before @ must be 1 to 64 characters",
            ));
        }
        if local
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '@')
        {
            return Err(CoreError::InvalidEmail(
                "the part before @ has a forbidden character",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(CoreError::InvalidEmail(
                "the domain is not a valid host name",
            ));
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// The name a user or operator types to sign in. Case-insensitive, so it is
/// stored lowercased; letters of any script, digits and `. _ - @ +`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LoginName(String);

impl LoginName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        // The rules apply to the stored (lowercased) form: lowercasing can
        // lengthen a name or produce a combining mark (`İ` → `i̇`), and a
        // stored login must always parse again.
        let login = input.trim().to_lowercase();
        let len = login.chars().count();
        if !(1..=64).contains(&len) {
            return Err(CoreError::InvalidLoginName(
                "must be 1 to 64 characters long",
            ));
        }
        if !login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
        {
            return Err(CoreError::InvalidLoginName(
                "may contain only letters, digits and . _ - @ +",
            ));
        }
        Ok(Self(login))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Email> for LoginName {
    fn from(email: &Email) -> Self {
        // An email passes every LoginName rule except, possibly, characters
        // outside the login alphabet; lowercase keeps lookups case-insensitive.
        Self(email.as_str().to_lowercase())
    }
}

impl<'de> Deserialize<'de> for LoginName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoginName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Zhang.San@Example.COM ").map(|e| e.0),
            Ok("Zhang.San@example.com".into())
        );
        assert!(Email::parse("张三@政务.中国").is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@b.cn",
            "a b@c.cn",
            "a@-b.cn",
            "a@b..cn",
            "a\u{7}b@c.cn",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_names() {
        assert_eq!(
            LoginName::parse("Admin@Acme.cn").map(|l| l.0),
            Ok("admin@acme.cn".into())
        );
        assert!(LoginName::parse("张三").is_ok());
        for bad in [
            "",
            "a b",
            "a;b",
            "a'b",
            &"x".repeat(65),
            "İlker",
            &"İ".repeat(40),
        ] {
            assert!(LoginName::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// A stored login always parses again to itself.
        #[test]
        fn login_names_round_trip(input in "\\PC{0,70}") {
            if let Ok(login) = LoginName::parse(&input) {
                proptest::prop_assert_eq!(LoginName::parse(login.as_str()), Ok(login));
            }
        }
    }
}
