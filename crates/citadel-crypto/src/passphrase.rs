//! A master key derived from an operator's passphrase with argon2id, for
//! deployments that keep no key file on the server's disk. The salt and
//! the argon2 parameters are kept in a file beside the data (they are not
//! secret); the passphrase is given at each start.

use std::fs;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::master_key::{MasterKey, write_new_private_file};
use crate::{CryptoError, SecretString};

const SALT_FILE_PREFIX: &str = "citadel-passphrase-salt-v1";
const SALT_LEN: usize = 16;
/// Shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 16;
/// 64 MiB and three passes: about a fifth of a second here, paid once per
/// start, and far costlier to guess at than a sign-in hash.
const MEMORY_KIB: u32 = 65_536;
const PASSES: u32 = 3;
const LANES: u32 = 1;

fn salt_error(path: &Path, reason: &str) -> CryptoError {
    CryptoError::MasterKeyFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

/// The salt file's contents: `citadel-passphrase-salt-v1:<hex salt>:<m>,<t>,<p>`.
struct SaltFile {
    salt: [u8; SALT_LEN],
    params: Params,
}

impl SaltFile {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split(':');
        if parts.next()? != SALT_FILE_PREFIX {
            return None;
        }
        let mut salt = [0u8; SALT_LEN];
        hex::decode_to_slice(parts.next()?, &mut salt).ok()?;
        let mut numbers = parts.next()?.split(',').map(|n| n.parse::<u32>().ok());
        let (m, t, p) = (numbers.next()??, numbers.next()??, numbers.next()??);
        if parts.next().is_some() || numbers.next().is_some() {
            return None;
        }
        Some(Self {
            salt,
            params: Params::new(m, t, p, Some(32)).ok()?,
        })
    }

    fn render(&self) -> String {
        format!(
            "{SALT_FILE_PREFIX}:{}:{},{},{}\n",
            hex::encode(self.salt),
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

pub(crate) fn derive_master_key(
    passphrase: &SecretString,
    salt_file: &Path,
    create: bool,
) -> Result<MasterKey, CryptoError> {
    if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(CryptoError::MasterKeyPassphrase(format!(
            "the master key passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    let stored = match fs::read_to_string(salt_file) {
        Ok(text) => SaltFile::parse(&text)
            .ok_or_else(|| salt_error(salt_file, "not a Citadel passphrase salt file"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let mut salt = [0u8; SALT_LEN];
            rand::fill(&mut salt[..]);
            let params = Params::new(MEMORY_KIB, PASSES, LANES, Some(32))
                .map_err(|e| CryptoError::MasterKeyPassphrase(e.to_string()))?;
            let made = SaltFile { salt, params };
            write_new_private_file(salt_file, made.render().as_bytes())?;
            made
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(salt_error(
                salt_file,
                "missing: this data directory was not set up with a passphrase",
            ));
        }
        Err(e) => return Err(salt_error(salt_file, &e.to_string())),
    };
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, stored.params)
        .hash_password_into(passphrase.expose().as_bytes(), &stored.salt, &mut key[..])
        .map_err(|e| CryptoError::MasterKeyPassphrase(e.to_string()))?;
    Ok(MasterKey::from_bytes(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Suite;

    #[test]
    fn the_same_passphrase_and_salt_give_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let salt = dir.path().join("master-key.salt");
        let phrase = SecretString::new("correct horse battery staple 7".into());
        assert!(
            derive_master_key(&phrase, &salt, false).is_err(),
            "no salt file and no creating one"
        );
        let first = derive_master_key(&phrase, &salt, true).expect("first start");
        let sealed = first.seal_with(Suite::Sm, b"c", b"v");
        let again = derive_master_key(&phrase, &salt, false).expect("second start");
        assert_eq!(
            again.open(b"c", &sealed).expect("same key").as_slice(),
            b"v"
        );
        let wrong = SecretString::new("correct horse battery staple 8".into());
        let other = derive_master_key(&wrong, &salt, false).expect("derives");
        assert!(
            other.open(b"c", &sealed).is_err(),
            "another passphrase, another key"
        );
        let text = fs::read_to_string(&salt).expect("salt file");
        assert!(text.ends_with(":65536,3,1\n"), "{text}");
        assert!(!text.contains("horse"));
    }

    #[test]
    fn short_passphrases_and_broken_salt_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let salt = dir.path().join("master-key.salt");
        let short = SecretString::new("too short".into());
        let err = derive_master_key(&short, &salt, true).expect_err("short");
        assert!(err.to_string().contains("at least 16"), "{err}");
        fs::write(&salt, "citadel-passphrase-salt-v1:zz:1,1,1").expect("write");
        let phrase = SecretString::new("a long enough passphrase".into());
        let err = derive_master_key(&phrase, &salt, false).expect_err("garbled");
        assert!(
            err.to_string()
                .contains("not a Citadel passphrase salt file"),
            "{err}"
        );
    }
}
