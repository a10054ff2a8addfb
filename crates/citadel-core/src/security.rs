//! A tenant's security policy: password age and history, lockout, and who
//! must use a second factor. Stored per tenant, edited by its admins;
//! the defaults are the 等保三级 baseline.

use serde::{Deserialize, Serialize};

use crate::CoreError;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const MINUTE_MS: i64 = 60 * 1000;

/// Who must sign in with a TOTP code besides the password.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotpRequirement {
    /// Each user chooses.
    #[default]
    Optional,
    /// Tenant administrators must enrol.
    Admins,
    /// Every user must enrol.
    Everyone,
}

impl TotpRequirement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Admins => "admins",
            Self::Everyone => "everyone",
        }
    }

    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "optional" => Ok(Self::Optional),
            "admins" => Ok(Self::Admins),
            "everyone" => Ok(Self::Everyone),
            other => Err(CoreError::UnknownValue {
                what: "require_totp",
                value: other.chars().take(40).collect(),
            }),
        }
    }

    pub fn applies_to(self, is_admin: bool) -> bool {
        match self {
            Self::Optional => false,
            Self::Admins => is_admin,
            Self::Everyone => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityPolicy {
    /// A password older than this must be changed at the next sign-in;
    /// 0 turns ageing off.
    pub password_max_age_days: u32,
    /// A new password may not equal any of this many previous ones
    /// (the current one included).
    pub password_history: u32,
    /// Consecutive failed sign-ins that lock the account.
    pub max_failed_logins: u32,
    /// How long a locked account stays locked.
    pub lockout_minutes: u32,
    pub require_totp: TotpRequirement,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            password_max_age_days: 90,
            password_history: 5,
            max_failed_logins: 5,
            lockout_minutes: 15,
            require_totp: TotpRequirement::Optional,
        }
    }
}

impl SecurityPolicy {
    /// Refuses settings that would switch a protection off or make the
    /// tenant unusable.
    pub fn validate(&self) -> Result<(), CoreError> {
        let refuse = |rule| Err(CoreError::InvalidPolicy(rule));
        if self.password_max_age_days > 3650 {
            return refuse("password_max_age_days must be between 0 and 3650");
        }
        if !(1..=24).contains(&self.password_history) {
            return refuse("password_history must be between 1 and 24");
        }
        if !(3..=20).contains(&self.max_failed_logins) {
            return refuse("max_failed_logins must be between 3 and 20");
        }
        if !(1..=1440).contains(&self.lockout_minutes) {
            return refuse("lockout_minutes must be between 1 and 1440");
        }
        Ok(())
    }

    /// Whether a password set at `changed_at_ms` has expired at `now_ms`.
    pub fn password_expired(&self, changed_at_ms: i64, now_ms: i64) -> bool {
        self.password_max_age_days > 0
            && now_ms.saturating_sub(changed_at_ms)
                >= i64::from(self.password_max_age_days).saturating_mul(DAY_MS)
    }

    /// When a password set at `changed_at_ms` expires, if ageing is on.
    pub fn password_expires_at(&self, changed_at_ms: i64) -> Option<i64> {
        (self.password_max_age_days > 0)
            .then(|| changed_at_ms.saturating_add(i64::from(self.password_max_age_days) * DAY_MS))
    }

    pub fn lockout_ms(&self) -> i64 {
        i64::from(self.lockout_minutes) * MINUTE_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_baseline_and_valid() {
        let p = SecurityPolicy::default();
        assert!(p.validate().is_ok());
        assert_eq!((p.max_failed_logins, p.lockout_minutes), (5, 15));
        assert_eq!((p.password_history, p.password_max_age_days), (5, 90));
    }

    #[test]
    fn ageing() {
        let p = SecurityPolicy::default();
        assert!(!p.password_expired(0, 90 * DAY_MS - 1));
        assert!(p.password_expired(0, 90 * DAY_MS));
        assert_eq!(p.password_expires_at(5), Some(90 * DAY_MS + 5));
        let off = SecurityPolicy {
            password_max_age_days: 0,
            ..p
        };
        assert!(!off.password_expired(0, i64::MAX));
        assert_eq!(off.password_expires_at(0), None);
    }

    #[test]
    fn weakening_settings_are_refused() {
        let p = SecurityPolicy::default();
        for bad in [
            SecurityPolicy {
                max_failed_logins: 0,
                ..p
            },
            SecurityPolicy {
                max_failed_logins: 1000,
                ..p
            },
            SecurityPolicy {
                lockout_minutes: 0,
                ..p
            },
            SecurityPolicy {
                password_history: 0,
                ..p
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn who_needs_a_second_factor() {
        assert!(!TotpRequirement::Optional.applies_to(true));
        assert!(TotpRequirement::Admins.applies_to(true));
        assert!(!TotpRequirement::Admins.applies_to(false));
        assert!(TotpRequirement::Everyone.applies_to(false));
    }
}
