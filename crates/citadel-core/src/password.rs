//! The password policy a new password must meet. The identity issue adds
//! history and age; this holds the rules that need nothing but the password.

use crate::CoreError;

pub const MIN_LENGTH: usize = 10;
/// Bounds the work of hashing an attacker-chosen input.
pub const MAX_LENGTH: usize = 256;

/// Checks a candidate password against the policy: at least 10 characters,
/// at least three of four classes (lowercase, uppercase, digit, other), and
/// not containing the login name.
pub fn check_policy(password: &str, login: &str) -> Result<(), CoreError> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(CoreError::WeakPassword(
            "must be at least 10 characters long",
        ));
    }
    if len > MAX_LENGTH {
        return Err(CoreError::WeakPassword(
            "must be at most 256 characters long",
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_numeric()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|present| **present).count() < 3 {
        return Err(CoreError::WeakPassword(
            "must mix at least three of: lowercase, uppercase, digits, other characters",
        ));
    }
    let login = login.to_lowercase();
    let local = login.split('@').next().unwrap_or_default();
    let lowered = password.to_lowercase();
    if (!login.is_empty() && lowered.contains(&login))
        || (local.len() >= 3 && lowered.contains(local))
    {
        return Err(CoreError::WeakPassword("must not contain the login name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("Correct-Horse-7", "zhangsan").is_ok());
        assert!(check_policy("Sh0rt!", "x").is_err());
        assert!(check_policy("alllowercase123", "x").is_err());
        assert!(check_policy("ZhangSan-2026!", "zhangsan@acme.cn").is_err());
        assert!(check_policy(&"Aa1!".repeat(70), "x").is_err());
    }
}
