//! Time-based one-time passwords (RFC 6238) for the second sign-in factor,
//! with the `totp-rs` crate: HMAC-SHA-1, 6 digits, 30-second steps (what
//! every authenticator app supports), one step of clock skew either way.
//! Replays are the caller's to refuse: a verified code yields its time
//! step, and a step is accepted at most once per user.
//!
//! Recovery codes are the fallback: 80 random bits each, shown once,
//! stored as SHA-256 (like tokens, they are too random to guess offline).

use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes, SecretString};

pub const SECRET_LEN: usize = 20;
pub const STEP_SECONDS: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

fn build(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, CryptoError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| CryptoError::Totp(e.to_string()))
}

/// A new random TOTP secret (160 bits, as RFC 4226 recommends).
pub fn generate_secret() -> SecretBytes {
    let mut raw = vec![0u8; SECRET_LEN];
    rand::fill(&mut raw[..]);
    SecretBytes::new(raw)
}

/// What an authenticator app needs: the `otpauth://` URI (for a QR code)
/// and the secret in base32 for typing in by hand.
pub struct Enrolment {
    pub uri: SecretString,
    pub secret_base32: SecretString,
}

/// `issuer` and `account` must not contain `:` (the URI's label separator).
pub fn enrolment(
    secret: &SecretBytes,
    issuer: &str,
    account: &str,
) -> Result<Enrolment, CryptoError> {
    let totp = build(secret.expose(), issuer, account)?;
    let uri = totp
        .to_url()
        .map_err(|e| CryptoError::Totp(e.to_string()))?;
    Ok(Enrolment {
        uri: SecretString::new(uri),
        secret_base32: SecretString::new(totp.secret().to_base32()),
    })
}

/// The time step `code` is valid for at `unix_seconds`, allowing one step
/// of skew, or `None` if it is not a current code. Anything but six
/// digits is refused without computing.
pub fn verify(secret: &SecretBytes, code: &str, unix_seconds: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = build(secret.expose(), "x", "x").ok()?;
    totp.check(code, unix_seconds)
}

/// The code for `unix_seconds` (for tests and for the CLI's self-check).
pub fn code_at(secret: &SecretBytes, unix_seconds: u64) -> Result<String, CryptoError> {
    Ok(build(secret.expose(), "x", "x")?
        .generate(unix_seconds)
        .to_string())
}

const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// New recovery codes, `XXXX-XXXX-XXXX-XXXX` from an alphabet without the
/// easily confused 0/O and 1/I: 16 characters of 5 bits, 80 bits each.
pub fn generate_recovery_codes() -> Vec<SecretString> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut raw = Zeroizing::new([0u8; 16]);
            rand::fill(&mut raw[..]);
            let mut code = String::with_capacity(19);
            for (i, byte) in raw.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                code.push(char::from(CODE_ALPHABET[usize::from(byte & 31)]));
            }
            SecretString::new(code)
        })
        .collect()
}

/// The canonical form a recovery code is hashed in: upper case, without
/// separators or spaces, so `abcd efgh…` and `ABCD-EFGH-…` are one code.
pub fn normalize_recovery_code(input: &str) -> Option<SecretString> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 16 && code.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then(|| SecretString::new(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the 20-byte ASCII secret
    /// "12345678901234567890", 8 digits.
    #[test]
    fn rfc_6238_sha1_vectors() {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(8)
            .with_secret(b"12345678901234567890".to_vec())
            .build()
            .expect("totp");
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), expected, "t = {time}");
        }
    }

    #[test]
    fn six_digit_codes_verify_within_one_step() {
        let secret = SecretBytes::new(b"12345678901234567890".to_vec());
        // RFC 4226 appendix D: HOTP value 287082 for counter 1 (t = 30..59).
        assert_eq!(code_at(&secret, 59).expect("code"), "287082");
        assert_eq!(verify(&secret, "287082", 59), Some(1));
        assert_eq!(verify(&secret, "287082", 89), Some(1), "one step late");
        assert_eq!(verify(&secret, "287082", 29), Some(1), "one step early");
        assert_eq!(verify(&secret, "287082", 119), None, "two steps late");
        for bad in ["", "28708", "2870820", "28708a", " 87082"] {
            assert_eq!(verify(&secret, bad, 59), None, "{bad:?}");
        }
    }

    #[test]
    fn enrolment_uri_names_issuer_and_account() {
        let secret = generate_secret();
        let e = enrolment(&secret, "Citadel acme", "zhangsan").expect("enrolment");
        let uri = e.uri.expose();
        assert!(
            uri.starts_with("otpauth://totp/Citadel%20acme:zhangsan?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", e.secret_base32.expose())));
        assert!(uri.contains("issuer=Citadel%20acme"), "{uri}");
        assert_eq!(e.secret_base32.expose().len(), 32, "160 bits in base32");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut seen: Vec<&str> = codes.iter().map(SecretString::expose).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), RECOVERY_CODES);
        let first = codes[0].expose();
        assert_eq!(first.len(), 19);
        let typed = first.to_lowercase().replace('-', " ");
        assert_eq!(
            normalize_recovery_code(&typed).map(|c| c.expose().to_owned()),
            Some(first.replace('-', ""))
        );
        assert!(normalize_recovery_code("0000-0000-0000-0000").is_none());
        assert!(normalize_recovery_code("ABCD").is_none());
    }
}
