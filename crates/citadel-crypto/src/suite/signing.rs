//! Signatures: Ed25519 (RFC 8032) or SM2 (GB/T 32918.2) with SM3 and the
//! signer's distinguishing identifier. Signatures are 64 bytes (`r ‖ s`
//! for SM2); public keys are 32 bytes (Ed25519) or 65 (SM2, uncompressed
//! SEC 1 point).

use ed25519_dalek::{Signer as _, Verifier as _};
use zeroize::Zeroizing;

use super::{Suite, random_material};
use crate::CryptoError;

/// The identifier GM/T 0009-2012 §10 fixes for a signer who has no other,
/// and the one Citadel signs with.
pub const SM2_DEFAULT_ID: &str = "1234567812345678";

const SIGNATURE_LEN: usize = 64;

enum Secret {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
}

/// A private signing key. `Debug` shows only the suite.
pub struct SigningKey(Secret);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.suite())
    }
}

/// A public key, to verify signatures with.
#[derive(Clone)]
pub struct PublicKey(Public);

#[derive(Clone)]
enum Public {
    Ed25519(ed25519_dalek::VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({}, {})",
            self.suite(),
            hex::encode(self.to_bytes())
        )
    }
}

impl SigningKey {
    /// A new key and its 32 bytes of secret material, to be wrapped for storage.
    pub fn generate(suite: Suite) -> (Self, Zeroizing<Vec<u8>>) {
        loop {
            let material = random_material(32);
            // An SM2 scalar must lie in [1, n-2]: a random 256-bit value
            // misses that range with probability about 2^-32; draw again.
            if let Ok(key) = Self::from_material(suite, &material) {
                return (key, material);
            }
        }
    }

    pub fn from_material(suite: Suite, material: &[u8]) -> Result<Self, CryptoError> {
        let bytes: &[u8; 32] = material.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(match suite {
            Suite::Intl => Secret::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(bytes))),
            Suite::Sm => Secret::Sm2(Box::new(
                sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_ID, bytes)
                    .map_err(|_| CryptoError::Malformed)?,
            )),
        }))
    }

    pub fn suite(&self) -> Suite {
        match self.0 {
            Secret::Ed25519(_) => Suite::Intl,
            Secret::Sm2(_) => Suite::Sm,
        }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        match &self.0 {
            Secret::Ed25519(key) => key.sign(message).to_bytes(),
            Secret::Sm2(key) => {
                let signature: sm2::dsa::Signature =
                    sm2::dsa::signature::Signer::sign(&**key, message);
                signature.to_bytes().into()
            }
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(match &self.0 {
            Secret::Ed25519(key) => Public::Ed25519(key.verifying_key()),
            Secret::Sm2(key) => Public::Sm2(Box::new(key.verifying_key().clone())),
        })
    }
}

impl PublicKey {
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(match suite {
            Suite::Intl => {
                let bytes: &[u8; 32] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
                Public::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(bytes)
                        .map_err(|_| CryptoError::Malformed)?,
                )
            }
            Suite::Sm => Public::Sm2(Box::new(
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_ID, bytes)
                    .map_err(|_| CryptoError::Malformed)?,
            )),
        }))
    }

    pub fn suite(&self) -> Suite {
        match self.0 {
            Public::Ed25519(_) => Suite::Intl,
            Public::Sm2(_) => Suite::Sm,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.0 {
            Public::Ed25519(key) => key.to_bytes().to_vec(),
            Public::Sm2(key) => key.to_sec1_bytes().to_vec(),
        }
    }

    /// Checks `signature` over `message`. Ed25519 is verified strictly
    /// (no small-order keys, canonical `s`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let bytes: &[u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| CryptoError::BadSignature)?;
        match &self.0 {
            Public::Ed25519(key) => key
                .verify_strict(message, &ed25519_dalek::Signature::from_bytes(bytes))
                .map_err(|_| CryptoError::BadSignature),
            Public::Sm2(key) => {
                let signature = sm2::dsa::Signature::from_slice(bytes)
                    .map_err(|_| CryptoError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_changes_are_refused() {
        for suite in Suite::ALL {
            let (key, material) = SigningKey::generate(suite);
            let again = SigningKey::from_material(suite, &material).expect("key");
            let public = key.public_key();
            assert_eq!(public.to_bytes(), again.public_key().to_bytes());
            let signature = key.sign(b"contract 2026-001");
            public
                .verify(b"contract 2026-001", &signature)
                .expect("valid");
            assert!(public.verify(b"contract 2026-002", &signature).is_err());
            let mut changed = signature;
            changed[10] ^= 0x04;
            assert!(public.verify(b"contract 2026-001", &changed).is_err());
            assert!(
                public
                    .verify(b"contract 2026-001", &signature[..63])
                    .is_err()
            );
            let (other, _) = SigningKey::generate(suite);
            assert!(
                other
                    .public_key()
                    .verify(b"contract 2026-001", &signature)
                    .is_err()
            );
            let restored = PublicKey::from_bytes(suite, &public.to_bytes()).expect("public key");
            restored
                .verify(b"contract 2026-001", &signature)
                .expect("valid");
        }
    }

    #[test]
    fn malformed_public_keys_are_refused() {
        assert!(PublicKey::from_bytes(Suite::Intl, &[1u8; 31]).is_err());
        assert!(PublicKey::from_bytes(Suite::Sm, &[4u8; 65]).is_err());
        assert!(PublicKey::from_bytes(Suite::Sm, &[]).is_err());
    }
}
