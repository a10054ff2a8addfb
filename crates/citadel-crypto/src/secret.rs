//! Secret holders: zeroized on drop, redacted in `Debug`, no `Display`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret text: a password, a token, a generated credential.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Deliberately named so every read of a secret is easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality, for comparing a presented secret.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Secret key material or other secret bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(value: Vec<u8>) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let s = SecretString::new("hunter2-Secret!".into());
        let b = SecretBytes::new(b"key-material".to_vec());
        let printed = format!("{s:?} {b:?} {:#?}", (&s, &b));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("key-material"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn constant_time_equality_is_equality() {
        let s = SecretString::new("abc".into());
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("abcd"));
    }
}
