//! Start-up: the platform (data directory, master key, store), the
//! listener, and serving until shutdown.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

// Small TLS handshake flights and responses go out at once instead of
// waiting on Nagle's algorithm for the peer's delayed ACK (about 40 ms).
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use citadel_core::{Action, Allowed, Principal, Resource, authorize};
use citadel_crypto::kms::KEY_COMMAND_TIMEOUT;
use citadel_crypto::token::{generate_token, token_hash};
use citadel_crypto::{Kms, LocalKms, SecretString};
use citadel_store::{Store, StoreConfig, StoreError};

use crate::config::{ServerConfig, Transport};
use crate::state::{AppState, RuntimeSettings};
use crate::{ServerError, routes, tls};

/// An opened platform: the store, and whether this start made the master key.
pub struct OpenedPlatform {
    pub store: Arc<Store>,
    pub master_key_created: bool,
}

/// Opens the data directory, the master key and the store. A wrong or
/// missing key stops here, before anything is served or written.
pub async fn open_platform(config: &ServerConfig) -> Result<OpenedPlatform, ServerError> {
    private_data_dir(&config.data_dir)?;
    let (kms, made) = master_key(config)?;
    tracing::info!(master_key = %kms.describe(), "master key loaded");
    let store_config = StoreConfig {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url.clone(),
        max_open_tenants: config.max_open_tenants,
    };
    let store = match Store::open(&store_config, kms).await {
        Ok(store) => store,
        // The database was set up with another key (a PostgreSQL database
        // first used from another data directory): the key file or salt
        // just made is useless, and must not be left to look right.
        Err(StoreError::WrongMasterKey) => {
            if let Some(path) = &made {
                let _ = std::fs::remove_file(path);
            }
            return Err(ServerError::Config(
                "the master key does not match this data store (it was set up with another key); supply that key (--master-key-file or --master-key-cmd) or the passphrase it was derived from".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(OpenedPlatform {
        store: Arc::new(store),
        master_key_created: made.is_some() && config.master_key_passphrase.is_none(),
    })
}

/// The master key from the configured source, and the file this start
/// made for it (a new key file or passphrase salt), if any.
fn master_key(config: &ServerConfig) -> Result<(Arc<dyn Kms>, Option<PathBuf>), ServerError> {
    if let Some(command) = &config.master_key_command {
        let kms = LocalKms::from_command(command, KEY_COMMAND_TIMEOUT)?;
        return Ok((Arc::new(kms), None));
    }
    let fresh = !has_existing_data(config);
    if let Some(passphrase) = &config.master_key_passphrase {
        let salt = config.data_dir.join(PASSPHRASE_SALT_FILE);
        let made = (fresh && !salt.exists()).then(|| salt.clone());
        let kms = LocalKms::from_passphrase(passphrase, &salt, made.is_some())?;
        return Ok((Arc::new(kms), made));
    }
    let key_path = config.master_key_path();
    if config.master_key_file.is_some() || key_path.exists() || !fresh {
        Ok((Arc::new(LocalKms::from_file(&key_path)?), None))
    } else {
        let kms = LocalKms::create_file(&key_path)?;
        Ok((Arc::new(kms), Some(key_path)))
    }
}

/// Creates the data directory readable by the server's user only, and
/// tightens an existing one that others could read: it holds the master
/// key and every tenant's database.
fn private_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |source| ServerError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    let mode = std::fs::metadata(dir).map_err(fail)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory was open to other users; setting mode 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}

/// Where the passphrase's salt and argon2 parameters are kept.
pub const PASSPHRASE_SALT_FILE: &str = "master-key.salt";

/// An embedded store already in the directory must never get a new key.
fn has_existing_data(config: &ServerConfig) -> bool {
    config.database_url.is_none() && config.data_dir.join("platform.db").exists()
}

pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<RustlsConfig>,
    state: AppState,
    bootstrap_token: Option<SecretString>,
    master_key_created: bool,
}

impl Application {
    /// Opens the platform, binds the listener and prepares TLS.
    pub async fn build(config: ServerConfig) -> Result<Self, ServerError> {
        config.validate()?;
        let opened = open_platform(&config).await?;
        let store = opened.store;
        let bootstrap_token = if store.operator_count().await? == 0 {
            // The server process itself issues the token: it holds the keys.
            let scope = authorize(
                &Principal::LocalAdministrator,
                Action::IssueBootstrapToken,
                Resource::Platform,
            )
            .ok()
            .and_then(Allowed::into_platform)
            .ok_or_else(|| ServerError::Config("the bootstrap token may not be issued".into()))?;
            let token = generate_token();
            store
                .set_bootstrap_token_hash(&scope, &token_hash(token.expose()))
                .await?;
            Some(token)
        } else {
            None
        };
        let tls = match &config.transport {
            Transport::PlainHttp => None,
            Transport::Tls {
                cert: Some(cert),
                key: Some(key),
            } => Some(tls::server_config(cert, key)?),
            Transport::Tls { .. } => {
                let (cert, key) = tls::ensure_self_signed(&config.data_dir.join("tls"))?;
                Some(tls::server_config(&cert, &key)?)
            }
        }
        .map(RustlsConfig::from_config);
        let listener = TcpListener::bind(config.listen).map_err(ServerError::Listen)?;
        listener
            .set_nonblocking(true)
            .map_err(ServerError::Listen)?;
        let local_addr = listener.local_addr().map_err(ServerError::Listen)?;
        store.set_checkpoint_policy(config.audit_checkpoints);
        let settings = RuntimeSettings {
            max_body_bytes: config.max_body_bytes,
            sessions: config.sessions,
            login_throttle: config.login_throttle,
        };
        Ok(Self {
            listener,
            local_addr,
            tls,
            state: AppState::new(store, settings),
            bootstrap_token,
            master_key_created: opened.master_key_created,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The one-time token for creating the first operator, if none exists.
    pub fn bootstrap_token(&self) -> Option<&SecretString> {
        self.bootstrap_token.as_ref()
    }

    pub fn master_key_created(&self) -> bool {
        self.master_key_created
    }

    pub fn store(&self) -> &Store {
        self.state.store()
    }

    /// The store, for callers that outlive `run_until` taking the
    /// application (tests driving housekeeping directly).
    pub fn shared_store(&self) -> std::sync::Arc<Store> {
        self.state.store_arc()
    }

    /// Serves until `shutdown` completes, then drains for up to 10 s.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep_idle_tenants(self.state.clone()));
        let purger = tokio::spawn(purge_recycle_bins(self.state.clone()));
        let app = routes::app(self.state.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = match self.tls {
            Some(tls) => {
                let handle = axum_server::Handle::new();
                tokio::spawn(drain_on(shutdown, handle.clone()));
                axum_server::from_tcp_rustls(self.listener, tls)?
                    .map(|tls| tls.acceptor(NoDelayAcceptor))
                    .handle(handle)
                    .serve(app)
                    .await
            }
            None => {
                let handle = axum_server::Handle::new();
                tokio::spawn(drain_on(shutdown, handle.clone()));
                axum_server::from_tcp(self.listener)?
                    .acceptor(NoDelayAcceptor)
                    .handle(handle)
                    .serve(app)
                    .await
            }
        };
        sweeper.abort();
        purger.abort();
        self.state.store().close().await;
        result
    }
}

async fn drain_on<A: axum_server::Address>(
    shutdown: impl Future<Output = ()>,
    handle: axum_server::Handle<A>,
) {
    shutdown.await;
    handle.graceful_shutdown(Some(Duration::from_secs(10)));
}

/// Purges expired recycle bins and archives audit events past their
/// retention, a minute after start, then hourly.
async fn purge_recycle_bins(state: AppState) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        crate::services::maintenance::purge_recycle_bins(state.store()).await;
        crate::services::maintenance::archive_audit_logs(state.store()).await;
    }
}

/// Closes tenant pools nobody used for five minutes.
async fn sweep_idle_tenants(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let closed = state
            .store()
            .drop_idle_tenant_databases(Duration::from_secs(300));
        if closed > 0 {
            tracing::debug!(closed, "closed idle tenant databases");
        }
    }
}
