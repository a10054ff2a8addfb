//! The key-management interface: whatever holds the master key (KEK).
//!
//! Citadel stores no key in the clear. Tenant data keys, PostgreSQL role
//! passwords and TOTP seeds are sealed through a [`Kms`], which never hands
//! the master key out: it only seals and opens small values bound to a
//! context. That is the shape of a server cipher machine's interface
//! (GM/T 0018 SDF: `SDF_Encrypt`/`SDF_Decrypt` with an internal key index,
//! `SDF_GenerateKeyWithKEK`/`SDF_ImportKeyWithKEK`) and of a cloud KMS
//! (`Encrypt`/`Decrypt` with a key id and encryption context), so either
//! can implement it without changes elsewhere.
//!
//! [`LocalKms`] keeps the master key in this process, obtained one of three
//! ways: a key file (mode 0600), the output of an operator's command (an
//! HSM or KMS client), or a passphrase stretched with argon2id.

use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::master_key::MasterKey;
use crate::{CryptoError, SecretString, Suite};

/// Sealed under the key at first start and stored with the data, so a later
/// start with another key is refused before it touches anything.
const CHECK_PURPOSE: &[u8] = b"citadel/master-key-check/v1";
const CHECK_PLAINTEXT: &[u8] = b"citadel master key check";

/// Whatever holds the master key.
pub trait Kms: Send + Sync + fmt::Debug {
    /// Where the key comes from, for logs and `citadel keys status`; never
    /// the key itself.
    fn describe(&self) -> String;

    /// What kind of holder it is (`key file`, `command`, `passphrase`, a
    /// device's name), without paths or commands: what may be shown to a
    /// tenant's administrators.
    fn kind(&self) -> &'static str;

    /// Seals `plaintext` (key material or a small secret) with the suite's
    /// cipher so that it opens only here and with the same `context`.
    fn seal(&self, suite: Suite, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Opens a value made by [`Kms::seal`] with the same `context`; the
    /// sealed value names its cipher.
    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// A value to store beside the data at first start; see [`verify_check_value`].
pub fn check_value(kms: &dyn Kms) -> Result<Vec<u8>, CryptoError> {
    kms.seal(Suite::Intl, CHECK_PURPOSE, CHECK_PLAINTEXT)
}

/// True if `check` was made by [`check_value`] with this key.
pub fn verify_check_value(kms: &dyn Kms, check: &[u8]) -> bool {
    kms.open(CHECK_PURPOSE, check)
        .is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT)
}

/// The master key held in this process.
pub struct LocalKms {
    key: MasterKey,
    origin: String,
    kind: &'static str,
}

impl fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalKms({}, <redacted>)", self.origin)
    }
}

impl Kms for LocalKms {
    fn describe(&self) -> String {
        self.origin.clone()
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn seal(&self, suite: Suite, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(self.key.seal_with(suite, context, plaintext))
    }

    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.key.open(context, sealed)
    }
}

/// Ends a key command's whole process group (it was started as the
/// group's leader): whatever the shell started goes too.
fn kill_group(leader: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{leader}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Most time a key command may take before the start is abandoned.
pub const KEY_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Most output read from a key command.
const KEY_COMMAND_OUTPUT: u64 = 4096;

impl LocalKms {
    /// A random key, for tests and tools.
    pub fn generate() -> Self {
        Self {
            key: MasterKey::generate(),
            origin: "a generated key".into(),
            kind: "generated key",
        }
    }

    /// An existing key file; refused if group or others can read it.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        Ok(Self {
            key: MasterKey::load(path)?,
            origin: format!("key file {}", path.display()),
            kind: "key file",
        })
    }

    /// Makes a new key file (mode 0600), never replacing one.
    pub fn create_file(path: &Path) -> Result<Self, CryptoError> {
        Ok(Self {
            key: MasterKey::create_new(path)?,
            origin: format!("key file {}", path.display()),
            kind: "key file",
        })
    }

    /// Runs `command` with `sh -c` and takes the key from its standard
    /// output, in the key file's form (`citadel-master-key-v1:<64 hex>`).
    /// A command that fails, prints anything else or runs past `timeout`
    /// stops the start with a message that never quotes its output.
    pub fn from_command(command: &str, timeout: Duration) -> Result<Self, CryptoError> {
        let fail = |reason: String| CryptoError::MasterKeyCommand(reason);
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            // Its own process group, so that a timeout ends whatever the
            // shell started too.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| fail(format!("could not be started: {e}")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("gave no output stream".into()))?;
        // Read on a thread so that a command that never ends can be killed.
        let reader = std::thread::spawn(move || {
            let mut output = Zeroizing::new(Vec::new());
            let read = (&mut stdout)
                .take(KEY_COMMAND_OUTPUT)
                .read_to_end(&mut output);
            read.map(|_| output)
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    kill_group(child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "did not finish within {} s",
                        timeout.as_secs()
                    )));
                }
                Err(e) => return Err(fail(format!("could not be waited for: {e}"))),
            }
        };
        // A child the command left running may hold the output open.
        while !reader.is_finished() {
            if started.elapsed() >= timeout {
                kill_group(child.id());
                return Err(fail(format!(
                    "left its output open past {} s",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = reader
            .join()
            .map_err(|_| fail("output could not be read".into()))?
            .map_err(|e| fail(format!("output could not be read: {e}")))?;
        if !status.success() {
            return Err(fail(format!("failed ({status})")));
        }
        let text = std::str::from_utf8(&output)
            .map_err(|_| fail("printed something that is not a Citadel master key".into()))?;
        let key =
            MasterKey::parse(text.trim()).map_err(|reason| fail(format!("printed {reason}")))?;
        Ok(Self {
            key,
            origin: "the master key command".into(),
            kind: "command",
        })
    }

    /// Derives the key from a passphrase with argon2id and the salt kept in
    /// `salt_file` (made on first start, when `create` is true).
    pub fn from_passphrase(
        passphrase: &SecretString,
        salt_file: &Path,
        create: bool,
    ) -> Result<Self, CryptoError> {
        let key = crate::passphrase::derive_master_key(passphrase, salt_file, create)?;
        Ok(Self {
            key,
            origin: format!("a passphrase (argon2id, salt in {})", salt_file.display()),
            kind: "passphrase",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_text() -> String {
        format!("citadel-master-key-v1:{}", "5a".repeat(32))
    }

    #[test]
    fn check_values_tell_keys_apart() {
        let kms = LocalKms::generate();
        let check = check_value(&kms).expect("check");
        assert!(verify_check_value(&kms, &check));
        assert!(!verify_check_value(&LocalKms::generate(), &check));
    }

    #[test]
    fn values_sealed_under_either_suite_open_with_their_context() {
        let kms = LocalKms::generate();
        for suite in Suite::ALL {
            let sealed = kms
                .seal(suite, b"tenant 1 dek v1", b"material")
                .expect("seal");
            assert_eq!(
                kms.open(b"tenant 1 dek v1", &sealed)
                    .expect("open")
                    .as_slice(),
                b"material"
            );
            assert!(kms.open(b"tenant 2 dek v1", &sealed).is_err());
            assert!(
                LocalKms::generate()
                    .open(b"tenant 1 dek v1", &sealed)
                    .is_err()
            );
        }
    }

    #[test]
    fn a_command_supplies_the_key() {
        let kms = LocalKms::from_command(&format!("echo {}", key_text()), KEY_COMMAND_TIMEOUT)
            .expect("key from the command");
        let other =
            LocalKms::from_command(&format!("printf '%s' {}", key_text()), KEY_COMMAND_TIMEOUT)
                .expect("the same key without a newline");
        let sealed = kms.seal(Suite::Sm, b"c", b"v").expect("seal");
        assert_eq!(
            other.open(b"c", &sealed).expect("same key").as_slice(),
            b"v"
        );
        assert_eq!(kms.describe(), "the master key command");
        assert!(!format!("{kms:?}").contains("5a5a"));
    }

    #[test]
    fn a_failing_silent_garbled_or_hanging_command_is_refused_without_echoing_it() {
        for (command, expected) in [
            ("exit 3", "failed"),
            ("true", "not a Citadel master key"),
            ("echo hunter2-not-a-key", "not a Citadel master key"),
            ("echo citadel-master-key-v1:zz", "64 hexadecimal digits"),
            ("/nonexistent/hsm-client", "failed"),
        ] {
            let err = LocalKms::from_command(command, KEY_COMMAND_TIMEOUT)
                .expect_err(command)
                .to_string();
            assert!(err.contains(expected), "{command}: {err}");
            assert!(!err.contains("hunter2"), "output is never quoted: {err}");
        }
        let started = Instant::now();
        let err = LocalKms::from_command("sleep 30", Duration::from_millis(300))
            .expect_err("hangs")
            .to_string();
        assert!(err.contains("did not finish"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the command was killed"
        );
    }
}
