//! Citadel's storage.
//!
//! A [`Store`] is the platform registry (tenants, operators, settings) plus a
//! cache of physically separate tenant databases. The backend is chosen by
//! the database URL: none means SQLite files under the data directory,
//! `postgres://` means PostgreSQL with a schema and login role per tenant.
//! Tenant data is reached only through [`Store::tenant`], which demands the
//! [`TenantScope`] that an allow decision of the choke point returns.

pub mod access;
mod access_seal;
mod audit;
mod audit_append;
mod audit_archive;
mod audit_check;
mod audit_heads;
mod audit_log;
mod audit_schema;
mod audit_writer;
pub mod data;
mod db;
mod durability;
mod error;
mod fresh;
mod group_commit;
mod identity;
mod inline;
mod key_rotation;
mod keyring;
mod master_rotation;
mod migrate;
mod platform;
mod pools;
mod postgres;
mod readers;
mod records;
mod sqlite;
mod support;
mod tenant_db;
mod tenants;
mod wal;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use citadel_audit::TreeHash;
use citadel_crypto::{Kms, Suite};
use sqlx::postgres::PgConnectOptions;

pub use audit::{AuditTrail, ConsistencyProof, InclusionProof};
pub use audit_archive::Archived;
pub use audit_heads::LogId;
pub use audit_log::{AuditLog, EventQuery};
pub use audit_writer::{AuditWriter, CheckpointPolicy};
pub use db::{DbPool, TenantSqlite, now_millis};
pub use durability::{Pending, deferring_durability};
pub use error::StoreError;
pub use group_commit::GroupWriter;
pub use key_rotation::{KeyStatus, KeyVersionStatus, Reencryption};
pub use keyring::{KeyPurpose, KeyVersion, Keyring, key_suite};
pub use master_rotation::MasterRotation;
pub use platform::BootstrapOutcome;
pub use records::{
    AccessTokenRecord, ClientInfo, DepartmentRecord, IpBan, LoginAttempt, NewOperator, NewUser,
    Notification, OperatorRecord, OperatorSummary, Page, SecurityEvent, SessionEntry,
    SessionRecord, TenantRecord, UserChanges, UserRecord,
};
pub use support::SupportGrant;
pub use tenant_db::{TenantAuthDb, TenantDb};
pub use tenants::CreatedTenant;

use pools::TenantPools;

/// The platform's own log is built and signed with the international
/// suite (SHA-256, Ed25519); each tenant's with its own suite.
const PLATFORM_AUDIT_SUITE: Suite = Suite::Intl;

pub(crate) const MASTER_KEY_CHECK_SETTING: &str = "master_key_check";

/// Where and how to store.
#[derive(Clone)]
pub struct StoreConfig {
    /// Holds `platform.db` and `tenants/` on SQLite.
    pub data_dir: PathBuf,
    /// `None` for the embedded SQLite default, or a `postgres://` URL.
    pub database_url: Option<String>,
    /// At most this many tenant databases are open at once.
    pub max_open_tenants: usize,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("max_open_tenants", &self.max_open_tenants)
            .finish()
    }
}

pub(crate) enum Backend {
    Sqlite { data_dir: PathBuf },
    Postgres { admin: Box<PgConnectOptions> },
}

/// The platform registry and the tenant databases.
pub struct Store {
    platform: DbPool,
    backend: Backend,
    master_key: Arc<dyn Kms>,
    tenant_pools: TenantPools,
    schemas: Arc<data::SchemaCache>,
    guards: Arc<identity::GuardCache>,
    access: Arc<access::AccessCache>,
    /// Registry rows read by every request's authentication.
    tenant_rows: fresh::FreshMap<citadel_core::TenantId, TenantRecord>,
    /// Opened tenant keyrings.
    keyrings: Arc<keyring::Keyrings>,
    /// The record ids handed out in each SQLite table (see `data/new_records.rs`).
    record_ids: Arc<data::RecordIds>,
    /// How long after a rotation an older data key version may be retired
    /// (milliseconds); see [`Store::set_key_retire_grace`].
    key_retire_grace_ms: std::sync::atomic::AtomicU64,
    rotations: key_rotation::Rotations,
    /// The platform's audit keys and every log's signed heads.
    audit_heads: Arc<audit_heads::AuditHeads>,
    /// When the tenants' logs' heads are signed (see
    /// [`Store::set_checkpoint_policy`]).
    checkpoint_policy: std::sync::Mutex<CheckpointPolicy>,
    /// The platform's own audit trail (operators, tenant lifecycle).
    platform_audit: AuditTrail,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating on first use) the platform store, applies migrations
    /// and checks that `master_key` is the key this store was set up with.
    pub async fn open(config: &StoreConfig, master_key: Arc<dyn Kms>) -> Result<Self, StoreError> {
        let (platform, backend) = match config.database_url.as_deref() {
            None | Some("sqlite") => (
                DbPool::Sqlite(sqlite::open_platform(&config.data_dir).await?, None),
                Backend::Sqlite {
                    data_dir: config.data_dir.clone(),
                },
            ),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let admin = postgres::admin_options(url)?;
                (
                    DbPool::Postgres(postgres::open_platform(&admin).await?),
                    Backend::Postgres {
                        admin: Box::new(admin),
                    },
                )
            }
            Some(other) => return Err(StoreError::UnsupportedUrl(redact_url(other))),
        };
        let keyrings = Arc::new(keyring::Keyrings::new(
            platform.clone(),
            Arc::clone(&master_key),
        ));
        let audit_heads = Arc::new(audit_heads::AuditHeads::new(
            platform.clone(),
            Arc::clone(&master_key),
        ));
        let platform_log = match &platform {
            DbPool::Sqlite(..) => {
                AuditLog::open_file(
                    &config.data_dir.join("platform-audit.db"),
                    TreeHash::of_suite(PLATFORM_AUDIT_SUITE),
                )
                .await?
            }
            DbPool::Postgres(pool) => AuditLog::on_postgres(
                pool.clone(),
                pool.clone(),
                audit_schema::postgres_table(None),
                TreeHash::of_suite(PLATFORM_AUDIT_SUITE),
            ),
        };
        let platform_audit = AuditTrail::start(
            LogId::Platform,
            PLATFORM_AUDIT_SUITE,
            platform_log,
            Arc::clone(&audit_heads),
            CheckpointPolicy::default(),
        )?;
        let store = Self {
            platform,
            backend,
            master_key,
            tenant_pools: TenantPools::new(config.max_open_tenants),
            schemas: Arc::default(),
            guards: Arc::default(),
            access: Arc::default(),
            tenant_rows: fresh::FreshMap::default(),
            keyrings,
            record_ids: Arc::default(),
            key_retire_grace_ms: std::sync::atomic::AtomicU64::new(
                u64::try_from(key_rotation::RETIRE_GRACE.as_millis()).unwrap_or(u64::MAX),
            ),
            rotations: key_rotation::Rotations::default(),
            audit_heads,
            checkpoint_policy: std::sync::Mutex::default(),
            platform_audit,
        };
        store.check_master_key().await?;
        Ok(store)
    }

    /// Binds the store to its master key on first use and refuses any other
    /// key later. The check value is inserted only if none exists and then
    /// read back, so of two first starts racing with different keys only
    /// one key wins and the other start is refused.
    async fn check_master_key(&self) -> Result<(), StoreError> {
        let candidate = citadel_crypto::kms::check_value(&*self.master_key)?;
        let inserted = db::write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(MASTER_KEY_CHECK_SETTING)
            .bind(&candidate)
            .execute(p)
            .await?
            .rows_affected()
        });
        match self.get_setting(MASTER_KEY_CHECK_SETTING).await? {
            Some(check) if citadel_crypto::kms::verify_check_value(&*self.master_key, &check) => {
                if inserted == 1 {
                    tracing::info!("store bound to this master key");
                }
                Ok(())
            }
            _ => Err(StoreError::WrongMasterKey),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The SQLite data directory, if that is the backend.
    pub fn sqlite_data_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { data_dir } => Some(data_dir),
            Backend::Postgres { .. } => None,
        }
    }

    /// True if the platform store answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        db::on_pool!(&self.platform, |p| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// How many tenant databases are open now.
    pub fn open_tenant_databases(&self) -> usize {
        self.tenant_pools.open_count()
    }

    /// Drops tenant pools unused for `idle`; called periodically by the server.
    pub fn drop_idle_tenant_databases(&self, idle: Duration) -> usize {
        self.tenant_pools.drop_idle(idle)
    }

    /// When the heads of tenant logs opened from now on are signed.
    pub fn set_checkpoint_policy(&self, policy: CheckpointPolicy) {
        *self
            .checkpoint_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    pub(crate) fn checkpoint_policy(&self) -> CheckpointPolicy {
        *self
            .checkpoint_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The platform's own audit trail: operators and the tenant registry.
    pub fn platform_audit(&self) -> &AuditTrail {
        &self.platform_audit
    }

    /// Closes every open tenant (each trail signs its last head) and the
    /// platform store.
    pub async fn close(&self) {
        self.tenant_pools.close_all().await;
        self.platform_audit.close().await;
        self.platform.close().await;
    }
}

/// A database URL without its credentials, for messages and `Debug`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_debug_hides_the_database_password() {
        let config = super::StoreConfig {
            data_dir: "/d".into(),
            database_url: Some("postgres://citadel:s3cret@db/citadel".into()),
            max_open_tenants: 1,
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("db/citadel"));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact_url("mysql://u:secret@h/db"),
            "mysql://<redacted>@h/db"
        );
        assert!(!super::redact_url("x://a:pw@b").contains("pw"));
    }
}
