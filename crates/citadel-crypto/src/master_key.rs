//! The master key (KEK): 256 bits kept in a file of mode 0600 in the data
//! directory, or supplied by the operator. Everything the platform must keep
//! secret at rest (tenant data keys, tenant database credentials, TOTP
//! seeds) is sealed under it, with AES-256-GCM or, for the `sm` suite,
//! SM4-GCM under a 128-bit key derived from it with HMAC-SM3.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

use crate::{CryptoError, Suite};

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Format byte of a sealed value: 1 = AES-256-GCM, 96-bit random nonce.
const SEALED_V1: u8 = 1;
/// 2 = SM4-GCM under the derived key, 96-bit random nonce.
const SEALED_SM4: u8 = 2;
const KEY_FILE_PREFIX: &str = "citadel-master-key-v1:";
/// What the SM4 key-encryption key is derived for (HMAC-SM3 of this label
/// under the master key, first 128 bits).
const SM4_KEK_LABEL: &[u8] = b"citadel/master-key/sm4-kek/v1";

/// The platform master key. Zeroized on drop; `Debug` is redacted.
pub struct MasterKey {
    cipher: Aes256Gcm,
    sm4: Sm4Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A fresh random key (for tests and first start).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(&mut bytes[..]);
        Self::from_bytes(&bytes)
    }

    pub(crate) fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        // The ciphers keep their own expanded copies; aes-gcm's `zeroize`
        // feature wipes them on drop.
        let cipher = Aes256Gcm::new(bytes.into());
        let mut derive = <Hmac<sm3::Sm3> as hmac::KeyInit>::new_from_slice(bytes)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        derive.update(SM4_KEK_LABEL);
        let derived = Zeroizing::new(<[u8; 32]>::from(derive.finalize().into_bytes()));
        let sm4 = Sm4Gcm::new_from_slice(&derived[..16])
            .unwrap_or_else(|_| unreachable!("16 bytes are an SM4 key"));
        Self { cipher, sm4 }
    }

    /// Loads the key file, creating it (mode 0600, never overwriting) if it
    /// does not exist. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        match fs::symlink_metadata(path) {
            Ok(_) => Ok((Self::load(path)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Self::create_new(path)?, true))
            }
            Err(e) => Err(file_error(path, &e.to_string())),
        }
    }

    /// Loads an existing key file, refusing one that group or others can
    /// read or write.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let meta = fs::metadata(path).map_err(|e| file_error(path, &e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CryptoError::MasterKeyPermissions {
                path: path.display().to_string(),
                mode,
            });
        }
        let text =
            Zeroizing::new(fs::read_to_string(path).map_err(|e| file_error(path, &e.to_string()))?);
        Self::parse(text.trim()).map_err(|reason| file_error(path, reason))
    }

    /// Parses the key file's text form: `citadel-master-key-v1:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let hex_part = text
            .strip_prefix(KEY_FILE_PREFIX)
            .ok_or("not a Citadel master key (expected citadel-master-key-v1:<hex>)")?;
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(hex_part, &mut bytes[..])
            .map_err(|_| "the key must be 64 hexadecimal digits")?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Makes a new key and its file at `path`, atomically: the key is
    /// written and synced to a temporary file of mode 0600 beside it, which
    /// is then hard-linked to `path` (failing if `path` exists) and removed.
    /// Nobody ever sees a partial key file under the real name.
    pub fn create_new(path: &Path) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(&mut bytes[..]);
        let text = Zeroizing::new(format!("{KEY_FILE_PREFIX}{}\n", hex::encode(&bytes[..])));
        write_new_private_file(path, text.as_bytes())?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Seals `plaintext` so that it opens only under this key and with the
    /// same `aad` (which binds the value to its purpose and owner).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.seal_with(Suite::Intl, aad, plaintext)
    }

    /// [`MasterKey::seal`] with the suite's cipher.
    pub fn seal_with(&self, suite: Suite, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let nonce_ga = Nonce::from(nonce);
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        // Encryption into a Vec with a correctly sized nonce cannot fail.
        let (format, ciphertext) = match suite {
            Suite::Intl => (SEALED_V1, self.cipher.encrypt(&nonce_ga, payload)),
            Suite::Sm => (SEALED_SM4, self.sm4.encrypt(&nonce_ga, payload)),
        };
        let ciphertext = ciphertext.unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(format);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value made by [`MasterKey::seal`] or [`MasterKey::seal_with`]
    /// with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (format, rest) = sealed.split_first().ok_or(CryptoError::Malformed)?;
        if rest.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let opened = match *format {
            SEALED_V1 => self.cipher.decrypt(&Nonce::from(nonce), payload),
            SEALED_SM4 => self.sm4.decrypt(&Nonce::from(nonce), payload),
            _ => return Err(CryptoError::Malformed),
        };
        opened.map(Zeroizing::new).map_err(|_| CryptoError::Decrypt)
    }
}

/// Writes a new file of mode 0600 at `path`, atomically: the contents are
/// written and synced to a temporary file beside it, which is then
/// hard-linked to `path` (failing if `path` exists) and removed. Nobody
/// ever sees a partial file under the real name.
pub(crate) fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    {
        let mut suffix = [0u8; 8];
        rand::fill(&mut suffix[..]);
        let temp = path.with_extension(format!("new-{}", hex::encode(suffix)));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut file| file.write_all(contents).and_then(|()| file.sync_all()))
            .and_then(|()| fs::hard_link(&temp, path));
        let _ = fs::remove_file(&temp);
        written.map_err(|e| file_error(path, &e.to_string()))?;
        // The new name must survive a crash as surely as the contents.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| file_error(path, &e.to_string()))?;
        }
    }
    Ok(())
}

fn file_error(path: &Path, reason: &str) -> CryptoError {
    CryptoError::MasterKeyFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_0600_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let (key, created) = MasterKey::load_or_create(&path).expect("create");
        assert!(created);
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = MasterKey::load_or_create(&path).expect("load");
        assert!(!created);
        let sealed = key.seal(b"aad", b"secret");
        assert_eq!(
            again.open(b"aad", &sealed).expect("open").as_slice(),
            b"secret"
        );
    }

    #[test]
    fn creation_never_overwrites_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        MasterKey::create_new(&path).expect("create");
        let before = fs::read(&path).expect("read");
        assert!(
            MasterKey::create_new(&path).is_err(),
            "an existing key is never replaced"
        );
        assert_eq!(fs::read(&path).expect("read"), before);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("master.key")],
            "no temporary file left"
        );
    }

    #[test]
    fn loose_permissions_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path).expect("create");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = MasterKey::load(&path).expect_err("must refuse");
        assert!(matches!(
            err,
            CryptoError::MasterKeyPermissions { mode: 0o644, .. }
        ));
    }

    #[test]
    fn sealed_values_are_bound_to_key_and_aad() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"tenant-a", b"credential");
        assert!(matches!(
            key.open(b"tenant-b", &sealed),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            MasterKey::generate().open(b"tenant-a", &sealed),
            Err(CryptoError::Decrypt)
        ));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            key.open(b"tenant-a", &flipped),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            key.open(b"tenant-a", &sealed[..10]),
            Err(CryptoError::Malformed)
        ));
        assert_ne!(
            key.seal(b"x", b"same"),
            key.seal(b"x", b"same"),
            "nonces must differ"
        );
    }

    #[test]
    fn sm4_sealed_values_are_bound_to_key_and_aad_too() {
        let key = MasterKey::generate();
        let sealed = key.seal_with(Suite::Sm, b"tenant-a", b"credential");
        assert_eq!(sealed[0], SEALED_SM4);
        assert_eq!(
            key.open(b"tenant-a", &sealed).expect("open").as_slice(),
            b"credential"
        );
        assert!(key.open(b"tenant-b", &sealed).is_err());
        assert!(MasterKey::generate().open(b"tenant-a", &sealed).is_err());
        let mut as_aes = sealed.clone();
        as_aes[0] = SEALED_V1;
        assert!(key.open(b"tenant-a", &as_aes).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let text = format!("citadel-master-key-v1:{}", "ab".repeat(32));
        let key = MasterKey::parse(&text).expect("key");
        let printed = format!("{key:?}");
        assert_eq!(printed, "MasterKey(<redacted>)");
        assert!(!printed.contains("abab"));
    }

    #[test]
    fn key_text_is_validated() {
        assert!(MasterKey::parse("citadel-master-key-v1:zz").is_err());
        assert!(MasterKey::parse(&"a".repeat(64)).is_err());
        assert!(MasterKey::parse(&format!("citadel-master-key-v1:{}", "ab".repeat(32))).is_ok());
    }

    /// NIST GCM test vector (gcmEncryptExtIV256, Count 0 of the 96-bit IV,
    /// 128-bit PT, 128-bit AAD set): checks that the AES-256-GCM we seal with
    /// is the standard one.
    #[test]
    fn aes_256_gcm_matches_nist_vector() {
        let key: [u8; 32] =
            hex::decode("92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b")
                .expect("hex")
                .try_into()
                .expect("32");
        let nonce: [u8; 12] = hex::decode("ac93a1a6145299bde902f21a")
            .expect("hex")
            .try_into()
            .expect("12");
        let pt = hex::decode("2d71bcfa914e4ac045b2aa60955fad24").expect("hex");
        let aad = hex::decode("1e0889016f67601c8ebea4943bc23ad6").expect("hex");
        let cipher = Aes256Gcm::new((&key).into());
        let out = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .expect("encrypt");
        assert_eq!(
            hex::encode(out),
            "8995ae2e6df3dbf96fac7b7137bae67feca5aa77d51d4a0a14d9c51e1da474ab"
        );
    }
}
