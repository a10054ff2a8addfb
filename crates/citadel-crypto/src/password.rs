//! Password hashing with argon2id (the crate's defaults: m = 19 MiB, t = 2,
//! p = 1, the OWASP baseline). Hashing is deliberately slow: callers on an
//! async runtime run it on a blocking thread.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretString};

/// A hash of a random password that nobody knows, verified against when the
/// account does not exist so that an unknown login costs the same time as a
/// wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = Zeroizing::new([0u8; 24]);
    rand::fill(&mut random[..]);
    hash_password(&SecretString::new(hex::encode(&random[..]))).unwrap_or_default()
});

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &SecretString) -> Result<String, CryptoError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

/// True if `password` matches `phc`. A malformed stored hash never matches.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.expose().as_bytes(), phc)
        .is_ok()
}

/// Spends the time of one verification and returns false: for logins to
/// accounts that do not exist.
pub fn verify_against_dummy(password: &SecretString) -> bool {
    let _ = verify_password(password, &DUMMY_HASH);
    false
}

/// A one-time password for a new account: five groups of four characters
/// from an alphabet without look-alikes, with upper, lower and digit, about
/// 110 bits of entropy. It meets the password policy by construction.
pub fn generate_one_time_password() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    loop {
        let mut raw = Zeroizing::new([0u8; 20]);
        rand::fill(&mut raw[..]);
        let mut out = String::with_capacity(24);
        for (i, byte) in raw.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            // 256 % 56 != 0 leaves a slight bias, far below what matters at
            // 110 bits; rejection sampling would only add code.
            out.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
        let out = SecretString::new(out);
        let s = out.expose();
        if s.chars().any(|c| c.is_ascii_uppercase())
            && s.chars().any(|c| c.is_ascii_lowercase())
            && s.chars().any(|c| c.is_ascii_digit())
        {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let pw = SecretString::new("Correct-Horse-7".into());
        let phc = hash_password(&pw).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password(&pw, &phc));
        assert!(!verify_password(
            &SecretString::new("correct-horse-7".into()),
            &phc
        ));
        assert!(!verify_password(&pw, "not a hash"));
        assert!(!verify_against_dummy(&pw));
    }

    #[test]
    fn one_time_passwords_are_strong_and_distinct() {
        let a = generate_one_time_password();
        let b = generate_one_time_password();
        assert_eq!(a.expose().len(), 24);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().chars().any(|c| c == '-'));
    }
}
