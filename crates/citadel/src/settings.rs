//! Configuration layering: flags, then `CITADEL_*` environment variables
//! (both handled by clap), then an optional TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use citadel_core::session::SessionPolicy;
use citadel_core::throttle::ThrottlePolicy;
use citadel_crypto::SecretString;
use citadel_server::{ServerConfig, Transport};

/// The environment variable that may hold the master key passphrase.
const PASSPHRASE_VARIABLE: &str = "CITADEL_MASTER_KEY_PASSPHRASE";
use serde::Deserialize;

use crate::cli::{GlobalArgs, ServeArgs};

/// The TOML file's keys; every one optional.
/// No `Debug`: `database` may hold a password.
#[derive(Default, Deserialize)]
pub struct FileSettings {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub insecure_plain_http: Option<bool>,
    pub master_key_file: Option<PathBuf>,
    pub master_key_cmd: Option<String>,
    pub master_key_passphrase_file: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    pub session_idle_minutes: Option<u64>,
    pub session_absolute_hours: Option<u64>,
    pub login_throttle_failures: Option<u32>,
    pub login_throttle_minutes: Option<u32>,
    pub audit_checkpoint_events: Option<u64>,
    pub audit_checkpoint_seconds: Option<u64>,
    pub max_open_tenants: Option<usize>,
    pub log_format: Option<String>,
    /// Anything else: reported, not fatal, so an old file still starts.
    #[serde(flatten)]
    pub unknown: toml::Table,
}

pub fn load_file(path: Option<&Path>) -> Result<FileSettings, String> {
    let Some(path) = path else {
        return Ok(FileSettings::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    let settings: FileSettings =
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
    for key in settings.unknown.keys() {
        eprintln!(
            "warning: config file {}: unknown key {key:?} ignored",
            path.display()
        );
    }
    Ok(settings)
}

/// Reads a secret from a `*_FILE` path, trimming the trailing newline.
fn read_secret_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end().to_owned())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The resolved storage settings every subcommand needs.
pub fn base_config(global: &GlobalArgs, file: &FileSettings) -> Result<ServerConfig, String> {
    let data_dir = global
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./citadel-data"));
    let database_url = match (&global.database, &global.database_file) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(path)) => Some(read_secret_file(path)?),
        (None, None) => file.database.clone(),
    };
    let mut config = ServerConfig::embedded(data_dir);
    config.database_url = database_url.filter(|u| !u.is_empty() && u != "sqlite");
    config.master_key_file = global
        .master_key_file
        .clone()
        .or_else(|| file.master_key_file.clone());
    config.master_key_command = global
        .master_key_cmd
        .clone()
        .or_else(|| file.master_key_cmd.clone());
    config.master_key_passphrase = match global
        .master_key_passphrase_file
        .as_ref()
        .or(file.master_key_passphrase_file.as_ref())
    {
        Some(path) => Some(SecretString::new(read_secret_file(path)?)),
        // Never a flag: a passphrase on the command line is visible to
        // every user of the machine.
        None => std::env::var(PASSPHRASE_VARIABLE)
            .ok()
            .map(SecretString::new),
    };
    if let Some(n) = global.max_open_tenants.or(file.max_open_tenants) {
        config.max_open_tenants = n;
    }
    Ok(config)
}

/// The full server configuration for `citadel serve`.
pub fn serve_config(
    global: &GlobalArgs,
    serve: &ServeArgs,
    file: &FileSettings,
) -> Result<ServerConfig, String> {
    let mut config = base_config(global, file)?;
    if let Some(listen) = serve.listen.or(file.listen) {
        config.listen = listen;
    }
    let plain = serve.insecure_plain_http || file.insecure_plain_http.unwrap_or(false);
    config.transport = if plain {
        Transport::PlainHttp
    } else {
        Transport::Tls {
            cert: serve.tls_cert.clone().or_else(|| file.tls_cert.clone()),
            key: serve.tls_key.clone().or_else(|| file.tls_key.clone()),
        }
    };
    if let Some(n) = serve.max_body_bytes.or(file.max_body_bytes) {
        config.max_body_bytes = n;
    }
    let defaults = SessionPolicy::default();
    config.sessions = SessionPolicy {
        idle: serve
            .session_idle_minutes
            .or(file.session_idle_minutes)
            .map_or(defaults.idle, |m| Duration::from_secs(m.saturating_mul(60))),
        absolute: serve
            .session_absolute_hours
            .or(file.session_absolute_hours)
            .map_or(defaults.absolute, |h| {
                Duration::from_secs(h.saturating_mul(3600))
            }),
    };
    let throttle = ThrottlePolicy::default();
    config.login_throttle = ThrottlePolicy {
        max_failures: serve
            .login_throttle_failures
            .or(file.login_throttle_failures)
            .unwrap_or(throttle.max_failures),
        window_ms: serve
            .login_throttle_minutes
            .or(file.login_throttle_minutes)
            .map_or(throttle.window_ms, |m| i64::from(m) * 60_000),
    };
    let checkpoints = citadel_store::CheckpointPolicy::default();
    config.audit_checkpoints = citadel_store::CheckpointPolicy {
        every_events: serve
            .audit_checkpoint_events
            .or(file.audit_checkpoint_events)
            .unwrap_or(checkpoints.every_events),
        every: serve
            .audit_checkpoint_seconds
            .or(file.audit_checkpoint_seconds)
            .map_or(checkpoints.every, Duration::from_secs),
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).expect("parse")
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: FileSettings = toml::from_str(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/citadel\"\nmax_body_bytes = 4096\nsurprise = 1\n",
        )
        .expect("toml");
        assert!(file.unknown.contains_key("surprise"));
        let cli = parse(&["citadel", "serve", "--listen", "127.0.0.1:9100"]);
        let Command::Serve(serve) = &cli.command else {
            panic!("serve")
        };
        let config = serve_config(&cli.global, serve, &file).expect("config");
        assert_eq!(config.listen.port(), 9100, "flag wins");
        assert_eq!(
            config.data_dir,
            PathBuf::from("/srv/citadel"),
            "file beats default"
        );
        assert_eq!(config.max_body_bytes, 4096);
        assert!(matches!(
            config.transport,
            Transport::Tls {
                cert: None,
                key: None
            }
        ));
    }

    #[test]
    fn defaults_are_the_embedded_https_server() {
        let cli = parse(&["citadel", "serve"]);
        let Command::Serve(serve) = &cli.command else {
            panic!("serve")
        };
        let config = serve_config(&cli.global, serve, &FileSettings::default()).expect("config");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.data_dir, PathBuf::from("./citadel-data"));
        assert_eq!(config.database_url, None);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
    }
}
