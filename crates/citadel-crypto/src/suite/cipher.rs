//! Data keys: the AEAD that encrypts field values, secrets and other data
//! at rest, AES-256-GCM or SM4-GCM.
//!
//! A sealed value is `format (1) ‖ key version (4, big-endian) ‖ nonce (12)
//! ‖ ciphertext ‖ tag (16)`. The format byte names the algorithm and the
//! version names the key of the tenant's keyring that sealed it, so a
//! keyring holding several versions can open it and a re-encryption job
//! can find what an old version still protects. Nonces are random: with
//! 96 bits, a key should seal fewer than 2^32 values (NIST SP 800-38D
//! §8.3), which key rotation keeps far off.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce, Tag};
use zeroize::Zeroizing;

use super::{Suite, random_material};
use crate::CryptoError;

/// SM4 in GCM with a 96-bit nonce, as RFC 8998 uses it.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const FORMAT_AES_256_GCM: u8 = 0x41;
const FORMAT_SM4_GCM: u8 = 0x53;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

enum Cipher {
    Aes(Box<Aes256Gcm>),
    Sm4(Box<Sm4Gcm>),
}

/// One version of a data key. The expanded key schedule is wiped on drop
/// (aes-gcm's `zeroize` feature); `Debug` shows only suite and version.
pub struct DataKey {
    version: u32,
    cipher: Cipher,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({} v{}, <redacted>)", self.suite(), self.version)
    }
}

/// The algorithm and key version a sealed value names, read without
/// opening it.
pub fn sealed_header(sealed: &[u8]) -> Result<(Suite, u32), CryptoError> {
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let suite = match sealed[0] {
        FORMAT_AES_256_GCM => Suite::Intl,
        FORMAT_SM4_GCM => Suite::Sm,
        _ => return Err(CryptoError::Malformed),
    };
    let version = u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]);
    Ok((suite, version))
}

impl DataKey {
    /// The key length of a suite's cipher: 32 bytes for AES-256, 16 for SM4.
    pub fn material_len(suite: Suite) -> usize {
        match suite {
            Suite::Intl => 32,
            Suite::Sm => 16,
        }
    }

    /// A new random key and its material, which the caller wraps under the
    /// master key to store it.
    pub fn generate(suite: Suite, version: u32) -> (Self, Zeroizing<Vec<u8>>) {
        let material = random_material(Self::material_len(suite));
        let key = Self::from_material(suite, version, &material)
            .unwrap_or_else(|_| unreachable!("generated material has the suite's length"));
        (key, material)
    }

    /// The key from its (unwrapped) material.
    pub fn from_material(suite: Suite, version: u32, material: &[u8]) -> Result<Self, CryptoError> {
        let cipher = match suite {
            Suite::Intl => Cipher::Aes(Box::new(
                Aes256Gcm::new_from_slice(material).map_err(|_| CryptoError::Malformed)?,
            )),
            Suite::Sm => Cipher::Sm4(Box::new(
                Sm4Gcm::new_from_slice(material).map_err(|_| CryptoError::Malformed)?,
            )),
        };
        Ok(Self { version, cipher })
    }

    pub fn suite(&self) -> Suite {
        match self.cipher {
            Cipher::Aes(_) => Suite::Intl,
            Cipher::Sm4(_) => Suite::Sm,
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Seals `plaintext`; it opens only under this key and with the same
    /// `aad`, which binds it to where it belongs (tenant, table, field,
    /// record).
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        self.encrypt_with_nonce(nonce, aad, plaintext)
    }

    fn encrypt_with_nonce(&self, nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(match self.cipher {
            Cipher::Aes(_) => FORMAT_AES_256_GCM,
            Cipher::Sm4(_) => FORMAT_SM4_GCM,
        });
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let nonce = Nonce::<U12>::from(nonce);
        let body = &mut out[HEADER_LEN..];
        // Only a message past GCM's 64 GiB limit fails, which no caller
        // can hold in memory.
        let tag = match &self.cipher {
            Cipher::Aes(c) => c.encrypt_inout_detached(&nonce, aad, body.into()),
            Cipher::Sm4(c) => c.encrypt_inout_detached(&nonce, aad, body.into()),
        }
        .unwrap_or_else(|_| unreachable!("GCM message length limit"));
        out.extend_from_slice(&tag);
        out
    }

    /// Seals many values at once, spread over the machine's cores: for
    /// bulk work (re-encryption after a key rotation, backups, exports),
    /// where SM4's one-core speed would be the bottleneck. Each item is
    /// `(aad, plaintext)`; the results are in the same order.
    pub fn encrypt_all(&self, items: &[(&[u8], &[u8])]) -> Vec<Vec<u8>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || items.len() < 2 {
            return items.iter().map(|(aad, p)| self.encrypt(aad, p)).collect();
        }
        let share = items.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = items
                .chunks(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(aad, p)| self.encrypt(aad, p))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// Opens a value sealed by [`DataKey::encrypt`] with the same `aad`.
    /// Another key, another version, another `aad`, or any changed byte
    /// fails with [`CryptoError::Decrypt`]; no plaintext is returned then.
    pub fn decrypt(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (suite, version) = sealed_header(sealed)?;
        if suite != self.suite() || version != self.version {
            return Err(CryptoError::Decrypt);
        }
        let nonce: [u8; NONCE_LEN] = sealed[5..HEADER_LEN]
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        let nonce = Nonce::<U12>::from(nonce);
        let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);
        let tag =
            Tag::<aes_gcm::aead::consts::U16>::try_from(tag).map_err(|_| CryptoError::Malformed)?;
        let mut plaintext = Zeroizing::new(body.to_vec());
        let opened = match &self.cipher {
            Cipher::Aes(c) => {
                c.decrypt_inout_detached(&nonce, aad, plaintext.as_mut_slice().into(), &tag)
            }
            Cipher::Sm4(c) => {
                c.decrypt_inout_detached(&nonce, aad, plaintext.as_mut_slice().into(), &tag)
            }
        };
        // On failure the buffer holds unauthenticated output: it is wiped
        // by the drop, never returned.
        opened.map_err(|_| CryptoError::Decrypt)?;
        Ok(plaintext)
    }
}

#[cfg(test)]
pub(super) fn encrypt_with_nonce(
    key: &DataKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    key.encrypt_with_nonce(nonce, aad, plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_key_version_and_aad() {
        for suite in Suite::ALL {
            let (key, material) = DataKey::generate(suite, 3);
            let sealed = key.encrypt(b"tenant/table/field/record 1", b"110101199003077777");
            assert_eq!(sealed_header(&sealed).expect("header"), (suite, 3));
            let opened = key
                .decrypt(b"tenant/table/field/record 1", &sealed)
                .expect("open");
            assert_eq!(opened.as_slice(), b"110101199003077777");
            assert!(matches!(
                key.decrypt(b"tenant/table/field/record 2", &sealed),
                Err(CryptoError::Decrypt)
            ));
            let same_material_other_version =
                DataKey::from_material(suite, 4, &material).expect("key");
            assert!(
                same_material_other_version
                    .decrypt(b"tenant/table/field/record 1", &sealed)
                    .is_err()
            );
            let (other, _) = DataKey::generate(suite, 3);
            assert!(
                other
                    .decrypt(b"tenant/table/field/record 1", &sealed)
                    .is_err()
            );
            for at in 0..sealed.len() {
                let mut changed = sealed.clone();
                changed[at] ^= 0x01;
                assert!(
                    key.decrypt(b"tenant/table/field/record 1", &changed)
                        .is_err(),
                    "a change at byte {at} is detected"
                );
            }
            for len in 0..sealed.len() {
                assert!(
                    key.decrypt(b"tenant/table/field/record 1", &sealed[..len])
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn values_sealed_in_bulk_open_one_by_one_in_order() {
        for suite in Suite::ALL {
            let (key, _) = DataKey::generate(suite, 1);
            let values: Vec<(Vec<u8>, Vec<u8>)> = (0..9u8)
                .map(|n| (vec![n], vec![n; usize::from(n) * 100]))
                .collect();
            let items: Vec<(&[u8], &[u8])> = values
                .iter()
                .map(|(aad, p)| (aad.as_slice(), p.as_slice()))
                .collect();
            let sealed = key.encrypt_all(&items);
            assert_eq!(sealed.len(), values.len());
            for ((aad, plaintext), sealed) in values.iter().zip(&sealed) {
                assert_eq!(
                    key.decrypt(aad, sealed).expect("open").as_slice(),
                    plaintext
                );
            }
        }
    }

    #[test]
    fn wrong_material_lengths_are_refused() {
        assert!(DataKey::from_material(Suite::Intl, 1, &[0u8; 16]).is_err());
        assert!(DataKey::from_material(Suite::Sm, 1, &[0u8; 32]).is_err());
    }

    #[test]
    fn debug_shows_no_key() {
        let (key, material) = DataKey::generate(Suite::Sm, 7);
        let printed = format!("{key:?}");
        assert_eq!(printed, "DataKey(sm v7, <redacted>)");
        assert!(!printed.contains(&hex::encode(&material[..])));
    }
}
