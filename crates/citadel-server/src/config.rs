//! The server's resolved configuration (layering flags, environment and
//! file is the binary's job; this is the result).

use std::net::SocketAddr;
use std::path::PathBuf;

use citadel_core::session::SessionPolicy;
use citadel_core::throttle::ThrottlePolicy;
use citadel_crypto::SecretString;

use crate::ServerError;

/// How clients connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with the given certificate and key, or with a self-signed
    /// certificate kept in `<data-dir>/tls/` when both are `None`.
    Tls {
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    },
    /// Plain HTTP: only on a loopback address, and only when asked for.
    PlainHttp,
}

#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` for embedded SQLite, or a `postgres://` URL.
    pub database_url: Option<String>,
    pub transport: Transport,
    /// Defaults to `<data-dir>/master.key`, created on first start.
    pub master_key_file: Option<PathBuf>,
    /// A command that prints the master key (an HSM or KMS client).
    pub master_key_command: Option<String>,
    /// A passphrase the master key is derived from (argon2id), with the
    /// salt in `<data-dir>/master-key.salt`.
    pub master_key_passphrase: Option<SecretString>,
    pub max_body_bytes: usize,
    pub sessions: SessionPolicy,
    pub login_throttle: ThrottlePolicy,
    pub max_open_tenants: usize,
    /// When the audit logs' tree heads are signed.
    pub audit_checkpoints: citadel_store::CheckpointPolicy,
}

/// The database URL may carry a password: `Debug` shows it redacted.
impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(citadel_store::redact_url),
            )
            .field("transport", &self.transport)
            .field("master_key_file", &self.master_key_file)
            // The command line may carry a KMS token: shown only as set.
            .field(
                "master_key_command",
                &self.master_key_command.as_ref().map(|_| "<set>"),
            )
            .field("master_key_passphrase", &self.master_key_passphrase)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("sessions", &self.sessions)
            .field("login_throttle", &self.login_throttle)
            .field("max_open_tenants", &self.max_open_tenants)
            .field("audit_checkpoints", &self.audit_checkpoints)
            .finish()
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_OPEN_TENANTS: usize = 256;

impl ServerConfig {
    /// The embedded default: HTTPS on 127.0.0.1:8443 with a self-signed
    /// certificate, SQLite in `data_dir`.
    pub fn embedded(data_dir: PathBuf) -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8443))),
            data_dir,
            database_url: None,
            transport: Transport::Tls {
                cert: None,
                key: None,
            },
            master_key_file: None,
            master_key_command: None,
            master_key_passphrase: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sessions: SessionPolicy::default(),
            login_throttle: ThrottlePolicy::default(),
            max_open_tenants: DEFAULT_MAX_OPEN_TENANTS,
            audit_checkpoints: citadel_store::CheckpointPolicy::default(),
        }
    }

    /// Refuses combinations that would weaken the deployment.
    pub fn validate(&self) -> Result<(), ServerError> {
        let key_sources = usize::from(self.master_key_file.is_some())
            + usize::from(self.master_key_command.is_some())
            + usize::from(self.master_key_passphrase.is_some());
        if key_sources > 1 {
            return Err(ServerError::Config(
                "give the master key one way: --master-key-file, --master-key-cmd or a passphrase, not several".into(),
            ));
        }
        match &self.transport {
            Transport::PlainHttp if !self.listen.ip().is_loopback() => {
                Err(ServerError::Config(format!(
                    "plain HTTP is allowed only on a loopback address, not {}; drop --insecure-plain-http to serve HTTPS",
                    self.listen
                )))
            }
            Transport::Tls {
                cert: Some(_),
                key: None,
            }
            | Transport::Tls {
                cert: None,
                key: Some(_),
            } => Err(ServerError::Config(
                "--tls-cert and --tls-key must be given together".into(),
            )),
            _ if self.login_throttle.max_failures == 0 || self.login_throttle.window_ms <= 0 => {
                Err(ServerError::Config(
                    "the sign-in throttle needs at least 1 failure and 1 minute".into(),
                ))
            }
            _ if self.audit_checkpoints.every_events == 0
                || self.audit_checkpoints.every.is_zero() =>
            {
                Err(ServerError::Config(
                    "audit checkpoints need at least 1 event and 1 second".into(),
                ))
            }
            _ if self.max_body_bytes < 1024 => Err(ServerError::Config(
                "the maximum body size must be at least 1024 bytes".into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        let mut c = ServerConfig::embedded("/tmp/x".into());
        c.transport = Transport::PlainHttp;
        assert!(c.validate().is_ok());
        c.listen = "0.0.0.0:8080".parse().expect("addr");
        assert!(c.validate().is_err());
        c.listen = "[::1]:8080".parse().expect("addr");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn debug_hides_the_database_password() {
        let mut c = ServerConfig::embedded("/tmp/x".into());
        c.database_url = Some("postgres://citadel:hunter2@db:5432/citadel".into());
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn cert_and_key_together() {
        let mut c = ServerConfig::embedded("/tmp/x".into());
        c.transport = Transport::Tls {
            cert: Some("/c".into()),
            key: None,
        };
        assert!(c.validate().is_err());
    }
}
