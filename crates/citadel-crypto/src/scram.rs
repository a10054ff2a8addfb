//! PostgreSQL SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677), so a tenant
//! role's password is never sent to the server, nor written into any log
//! line, in clear: `CREATE ROLE … PASSWORD 'SCRAM-SHA-256$…'` stores the
//! verifier as it is.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::SecretString;

/// PostgreSQL's default iteration count.
pub const ITERATIONS: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The verifier PostgreSQL stores for `password` (which must be ASCII
/// without control characters, so SASLprep leaves it unchanged; the
/// generated credentials are hex).
pub fn verifier(password: &SecretString) -> String {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt[..]);
    verifier_with(password.expose().as_bytes(), &salt, ITERATIONS)
}

fn keys(password: &[u8], salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let mut salted = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted[..]);
    let client_key = Zeroizing::new(hmac(&salted[..], b"Client Key"));
    let stored_key: [u8; 32] = Sha256::digest(&client_key[..]).into();
    let server_key = hmac(&salted[..], b"Server Key");
    (stored_key, server_key)
}

fn verifier_with(password: &[u8], salt: &[u8], iterations: u32) -> String {
    let (stored_key, server_key) = keys(password, salt, iterations);
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        Base64::encode_string(salt),
        Base64::encode_string(&stored_key),
        Base64::encode_string(&server_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchange of RFC 7677 section 3 (user "user", password "pencil"):
    /// the keys our verifier holds must accept the client's proof and
    /// produce the server's signature given there.
    #[test]
    fn matches_the_rfc_7677_exchange() {
        let salt = Base64::decode_vec("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let (stored_key, server_key) = keys(b"pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        assert_eq!(
            Base64::encode_string(&server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let proof =
            Base64::decode_vec("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").expect("proof");
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&client_key)), stored_key);
    }

    #[test]
    fn verifier_format_and_fresh_salts() {
        let pw = SecretString::new("00ff".repeat(16));
        let v = verifier(&pw);
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert_eq!(v.matches('$').count(), 2);
        assert!(!v.contains("00ff00ff"));
        assert_ne!(v, verifier(&pw));
        assert!(!v.contains('\''));
    }
}
