//! Keyed MACs: HMAC-SHA-256 or HMAC-SM3. They make blind indexes (an
//! equality-searchable token of an encrypted value), pepper password
//! hashes, and seal access-control rows against changes made beside the
//! server.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sm3::Sm3;
use zeroize::Zeroizing;

use super::{Suite, random_material};
use crate::CryptoError;

/// The MAC key length: the hash's output size, as RFC 2104 advises.
const KEY_LEN: usize = 32;

/// A MAC key. Its bytes are wiped on drop; `Debug` shows only the suite.
pub struct MacKey {
    suite: Suite,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MacKey({}, <redacted>)", self.suite)
    }
}

/// Feeds each part with its length first, so that ("ab", "c") and
/// ("a", "bc") never share a tag.
fn feed(mac: &mut impl Mac, parts: &[&[u8]]) {
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
}

impl MacKey {
    pub fn generate(suite: Suite) -> (Self, Zeroizing<Vec<u8>>) {
        let material = random_material(KEY_LEN);
        let key = Self {
            suite,
            key: material.clone(),
        };
        (key, material)
    }

    pub fn from_material(suite: Suite, material: &[u8]) -> Result<Self, CryptoError> {
        if material.len() != KEY_LEN {
            return Err(CryptoError::Malformed);
        }
        Ok(Self {
            suite,
            key: Zeroizing::new(material.to_vec()),
        })
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The tag of `parts`, each length-prefixed.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        match self.suite {
            Suite::Intl => {
                let mut mac = self.sha256();
                feed(&mut mac, parts);
                mac.finalize().into_bytes().into()
            }
            Suite::Sm => {
                let mut mac = self.sm3();
                feed(&mut mac, parts);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// True if `tag` is the tag of `parts`; compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        match self.suite {
            Suite::Intl => {
                let mut mac = self.sha256();
                feed(&mut mac, parts);
                mac.verify_slice(tag).is_ok()
            }
            Suite::Sm => {
                let mut mac = self.sm3();
                feed(&mut mac, parts);
                mac.verify_slice(tag).is_ok()
            }
        }
    }

    /// Plain HMAC of one message, without length prefixes: what the
    /// published test vectors and other systems compute.
    pub fn hmac(&self, message: &[u8]) -> [u8; 32] {
        match self.suite {
            Suite::Intl => {
                let mut mac = self.sha256();
                mac.update(message);
                mac.finalize().into_bytes().into()
            }
            Suite::Sm => {
                let mut mac = self.sm3();
                mac.update(message);
                mac.finalize().into_bytes().into()
            }
        }
    }

    fn sha256(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
    }

    fn sm3(&self) -> Hmac<Sm3> {
        Hmac::<Sm3>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
    }

    #[cfg(test)]
    pub(super) fn with_any_key(suite: Suite, key: &[u8]) -> Self {
        Self {
            suite,
            key: Zeroizing::new(key.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_verify_and_parts_do_not_run_together() {
        for suite in Suite::ALL {
            let (key, _) = MacKey::generate(suite);
            let tag = key.tag(&[b"ab", b"c"]);
            assert!(key.verify(&[b"ab", b"c"], &tag));
            assert!(!key.verify(&[b"a", b"bc"], &tag));
            assert_ne!(key.tag(&[b"a", b"bc"]), tag);
            let (other, _) = MacKey::generate(suite);
            assert!(!other.verify(&[b"ab", b"c"], &tag));
            assert!(!key.verify(&[b"ab", b"c"], &tag[..31]));
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let (key, material) = MacKey::generate(Suite::Intl);
        let printed = format!("{key:?}");
        assert_eq!(printed, "MacKey(intl, <redacted>)");
        assert!(!printed.contains(&hex::encode(&material[..])));
    }
}
