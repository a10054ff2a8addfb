//! The command line. Every option can also come from a `CITADEL_*`
//! environment variable or the TOML file given with `--config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "citadel",
    version,
    about = "Citadel: a privately deployable, multi-tenant no-code business platform"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct GlobalArgs {
    /// TOML configuration file (flags and environment take precedence).
    #[arg(long, global = true, env = "CITADEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: platform.db, tenants/, master.key, tls/ [default: ./citadel-data]
    #[arg(long, global = true, env = "CITADEL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://user@host/db to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, global = true, env = "CITADEL_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// A file holding the database URL (keeps a password out of the environment).
    #[arg(long, global = true, env = "CITADEL_DATABASE_FILE")]
    pub database_file: Option<PathBuf>,
    /// An existing master key file (mode 0600) [default: <data-dir>/master.key, created on first start]
    #[arg(long, global = true, env = "CITADEL_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// A command that prints the master key (an HSM or cloud KMS client) instead of a key file
    #[arg(
        long,
        global = true,
        env = "CITADEL_MASTER_KEY_CMD",
        hide_env_values = true
    )]
    pub master_key_cmd: Option<String>,
    /// A file holding a passphrase to derive the master key from (argon2id); the variable CITADEL_MASTER_KEY_PASSPHRASE may hold it instead
    #[arg(long, global = true, env = "CITADEL_MASTER_KEY_PASSPHRASE_FILE")]
    pub master_key_passphrase_file: Option<PathBuf>,
    /// At most this many tenant databases open at once [default: 256]
    #[arg(long, global = true, env = "CITADEL_MAX_OPEN_TENANTS")]
    pub max_open_tenants: Option<usize>,
    /// Log format: text or json [default: text]
    #[arg(long, global = true, env = "CITADEL_LOG_FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage tenants (platform operator, on the server itself).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// A tenant's keys: status and data key rotation (on the server itself).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit logs: verify them on the server, check proofs anywhere.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check every event of a log against its signed tree heads and name
    /// the first bad one (exit status 1 if there is one).
    Verify {
        /// The tenant's slug; the platform's own log without it.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Check a proof from the API offline: the tree head's signature with
    /// the audit key, then the inclusion or consistency proof; with
    /// --event, that the event hashes to the proved leaf.
    CheckProof {
        /// The audit key as GET /api/v1/audit/public-key gives it (JSON).
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// An inclusion or consistency proof as the API gives it (JSON).
        #[arg(long, value_name = "FILE")]
        proof: PathBuf,
        /// An event as GET /api/v1/audit/events lists it (JSON).
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Show a tenant's key versions and how many values each data key
    /// version protects.
    Status {
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a data key version and move every value to it, reporting
    /// progress; the older versions are retired once they protect nothing.
    Rotate {
        #[arg(long)]
        tenant: String,
        /// Retire the older versions at once instead of after the grace
        /// (two minutes) a running server needs to see the new one: only
        /// when no server uses this data directory.
        #[arg(long)]
        retire_now: bool,
    },
    /// Move every value to the active data key version and retire the
    /// older versions whose grace has passed (finishes a rotation).
    Reencrypt {
        #[arg(long)]
        tenant: String,
    },
    /// Re-seal every tenant's keys and stored credentials under a new
    /// master key, made at PATH if no key is there. Stop the server first,
    /// and start it afterwards with --master-key-file PATH.
    RotateMaster {
        #[arg(long, value_name = "PATH")]
        new_key_file: std::path::PathBuf,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8443]
    #[arg(long, env = "CITADEL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain [default: a self-signed certificate in <data-dir>/tls/]
    #[arg(long, env = "CITADEL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CITADEL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS; only on a loopback address.
    #[arg(long, env = "CITADEL_INSECURE_PLAIN_HTTP", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub insecure_plain_http: bool,
    /// Largest accepted request body in bytes [default: 1048576]
    #[arg(long, env = "CITADEL_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Sessions end after this many idle minutes [default: 30]
    #[arg(long, env = "CITADEL_SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: Option<u64>,
    /// Sessions end this many hours after sign-in [default: 12]
    #[arg(long, env = "CITADEL_SESSION_ABSOLUTE_HOURS")]
    pub session_absolute_hours: Option<u64>,
    /// Failed sign-ins one client address may make per window, across
    /// accounts, before it gets 429 [default: 20]
    #[arg(long, env = "CITADEL_LOGIN_THROTTLE_FAILURES")]
    pub login_throttle_failures: Option<u32>,
    /// Length of the sign-in throttle window in minutes [default: 15]
    #[arg(long, env = "CITADEL_LOGIN_THROTTLE_MINUTES")]
    pub login_throttle_minutes: Option<u32>,
    /// Sign an audit log's tree head after this many new events [default: 1000]
    #[arg(long, env = "CITADEL_AUDIT_CHECKPOINT_EVENTS")]
    pub audit_checkpoint_events: Option<u64>,
    /// …or this many seconds after the last head, if anything was recorded [default: 10]
    #[arg(long, env = "CITADEL_AUDIT_CHECKPOINT_SECONDS")]
    pub audit_checkpoint_seconds: Option<u64>,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its own database and its first admin.
    Create {
        slug: String,
        /// The first admin's email (also their login name).
        #[arg(long)]
        admin: String,
        /// Algorithm suite: intl (AES-GCM/SHA-256/Ed25519) or sm (SM4/SM3/SM2).
        #[arg(long, default_value = "intl")]
        suite: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant: its users can no longer sign in or use sessions.
    Suspend { slug: String },
    /// Resume a suspended tenant.
    Resume { slug: String },
    /// Destroy a tenant and all its data. Irreversible.
    Destroy {
        slug: String,
        /// The slug again, instead of typing it at the prompt.
        #[arg(long)]
        confirm: Option<String>,
    },
}
