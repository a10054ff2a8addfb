use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The short name by which users address a tenant (at login, in the CLI).
/// Lowercase ASCII letters, digits and single hyphens, 3 to 40 characters,
/// starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

const RESERVED_SLUGS: &[&str] = &[
    "api", "admin", "platform", "static", "www", "system", "public",
];

impl TenantSlug {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let len = input.chars().count();
        if !(3..=40).contains(&len) {
            return Err(CoreError::InvalidSlug("must be 3 to 40 characters long"));
        }
        if !input.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(CoreError::InvalidSlug("must start with a lowercase letter"));
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(CoreError::InvalidSlug(
                "may contain only lowercase letters, digits and hyphens",
            ));
        }
        if input.ends_with('-') || input.contains("--") {
            return Err(CoreError::InvalidSlug(
                "hyphens must separate letters or digits",
            ));
        }
        if RESERVED_SLUGS.contains(&input) {
            return Err(CoreError::InvalidSlug("is reserved"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantSlug({})", self.0)
    }
}

/// Whether a tenant's users may work. A suspended tenant keeps its data but
/// nobody of it can log in or use a session or token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            other => Err(CoreError::UnknownValue {
                what: "tenant status",
                value: other.to_owned(),
            }),
        }
    }
}

/// The algorithm suite a tenant is created with and keeps for its life:
/// `intl` = AES-256-GCM / HMAC-SHA-256 / SHA-256 / Ed25519,
/// `sm` = SM4-GCM / HMAC-SM3 / SM3 / SM2 (GB/T 39786 national algorithms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CryptoSuite {
    #[default]
    Intl,
    Sm,
}

impl CryptoSuite {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intl => "intl",
            Self::Sm => "sm",
        }
    }

    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "intl" => Ok(Self::Intl),
            "sm" => Ok(Self::Sm),
            other => Err(CoreError::UnknownValue {
                what: "crypto suite",
                value: other.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slug_rules() {
        for good in ["acme", "acme-corp", "a1b2", "gov-sh-2026"] {
            assert!(TenantSlug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Acme",
            "1acme",
            "acme-",
            "ac--me",
            "acme corp",
            "acme_corp",
            "api",
            "测试租户",
            "acme;drop",
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
        assert!(TenantSlug::parse(&"a".repeat(41)).is_err());
    }

    #[test]
    fn status_and_suite_round_trip() {
        for s in [TenantStatus::Active, TenantStatus::Suspended] {
            assert_eq!(TenantStatus::parse(s.as_str()), Ok(s));
        }
        for s in [CryptoSuite::Intl, CryptoSuite::Sm] {
            assert_eq!(CryptoSuite::parse(s.as_str()), Ok(s));
        }
        assert!(TenantStatus::parse("deleted").is_err());
    }

    proptest! {
        #[test]
        fn accepted_slugs_are_identifier_safe(s in "\\PC{0,50}") {
            if let Ok(slug) = TenantSlug::parse(&s) {
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }
    }
}
