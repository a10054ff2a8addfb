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

/// A MAC key, held as the HMAC state with the key already absorbed (RFC
/// 2104's inner and outer padded keys hashed once): each tag starts from
/// a copy and hashes only its message, two compressions fewer than keying
/// afresh, which a blind index pays for every encrypted value written.
/// The states stand in for the key; they and every copy are wiped on drop
/// (the `zeroize` features of `hmac`, `sha2` and `sm3`). `Debug` shows
/// only the suite.
pub struct MacKey {
    keyed: Keyed,
}

#[derive(Clone)]
enum Keyed {
    Intl(Hmac<Sha256>),
    Sm(Hmac<Sm3>),
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MacKey({}, <redacted>)", self.suite())
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
        (Self::keyed(suite, &material), material)
    }

    pub fn from_material(suite: Suite, material: &[u8]) -> Result<Self, CryptoError> {
        if material.len() != KEY_LEN {
            return Err(CryptoError::Malformed);
        }
        Ok(Self::keyed(suite, material))
    }

    fn keyed(suite: Suite, key: &[u8]) -> Self {
        // HMAC takes a key of any length.
        let keyed = match suite {
            Suite::Intl => Keyed::Intl(
                Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts every key length")),
            ),
            Suite::Sm => Keyed::Sm(
                Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts every key length")),
            ),
        };
        Self { keyed }
    }

    pub fn suite(&self) -> Suite {
        match self.keyed {
            Keyed::Intl(_) => Suite::Intl,
            Keyed::Sm(_) => Suite::Sm,
        }
    }

    /// The tag of `parts`, each length-prefixed.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        match self.keyed.clone() {
            Keyed::Intl(mut mac) => {
                feed(&mut mac, parts);
                mac.finalize().into_bytes().into()
            }
            Keyed::Sm(mut mac) => {
                feed(&mut mac, parts);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// True if `tag` is the tag of `parts`; compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        match self.keyed.clone() {
            Keyed::Intl(mut mac) => {
                feed(&mut mac, parts);
                mac.verify_slice(tag).is_ok()
            }
            Keyed::Sm(mut mac) => {
                feed(&mut mac, parts);
                mac.verify_slice(tag).is_ok()
            }
        }
    }

    /// Plain HMAC of one message, without length prefixes: what the
    /// published test vectors and other systems compute.
    pub fn hmac(&self, message: &[u8]) -> [u8; 32] {
        match self.keyed.clone() {
            Keyed::Intl(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().into()
            }
            Keyed::Sm(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().into()
            }
        }
    }

    #[cfg(test)]
    pub(super) fn with_any_key(suite: Suite, key: &[u8]) -> Self {
        Self::keyed(suite, key)
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
    fn keyed_states_are_wiped_on_drop() {
        // The keyed states stand in for the key: the hashes must be built
        // with their `zeroize` features, which wipe a state when dropped.
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<Sha256>();
        wiped::<Sm3>();
    }

    #[test]
    fn debug_shows_no_key() {
        let (key, material) = MacKey::generate(Suite::Intl);
        let printed = format!("{key:?}");
        assert_eq!(printed, "MacKey(intl, <redacted>)");
        assert!(!printed.contains(&hex::encode(&material[..])));
    }
}
