//! Bearer secrets (session ids, bootstrap tokens): 256 random bits, given to
//! the holder once, stored only as their SHA-256.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::SecretString;

/// A new random token, 64 lowercase hex digits.
pub fn generate_token() -> SecretString {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::fill(&mut raw[..]);
    SecretString::new(hex::encode(&raw[..]))
}

/// The stored form of a token: its SHA-256. A 256-bit random token needs no
/// salt or slow hash; a database thief cannot invert it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The anti-CSRF token of a session: an HMAC of a fixed label under the
/// session's own secret. The server recomputes it from the cookie, so it
/// needs no storage, and a page on another site cannot learn it: it would
/// need the HttpOnly cookie's value.
pub fn csrf_token(session_token: &str) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(session_token.as_bytes()) else {
        return String::new();
    };
    mac.update(b"citadel-csrf-v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of two token hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let t = generate_token();
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t.expose(), generate_token().expose());
        assert_eq!(token_hash(t.expose()), token_hash(t.expose()));
        assert!(hashes_equal(&token_hash("a"), &token_hash("a")));
        assert!(!hashes_equal(&token_hash("a"), &token_hash("b")));
        let csrf = csrf_token(t.expose());
        assert_eq!(csrf.len(), 64);
        assert_eq!(csrf, csrf_token(t.expose()));
        assert_ne!(csrf, csrf_token("another session"));
        // FIPS 180-2 "abc" vector.
        assert_eq!(
            hex::encode(token_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
