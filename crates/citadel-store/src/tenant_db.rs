//! One tenant's own database: reached only with a [`TenantScope`] from the
//! authorization decision, through that tenant's own pool (its own SQLite
//! file, or its own PostgreSQL role and schema).
//!
//! [`TenantAuthDb`] is the narrow part that signing in and recognising a
//! session or token need; a [`TenantDb`] (the whole tenant) can hand one
//! out with [`TenantDb::auth`]. The queries live in `identity/`, by subject.

use std::sync::Arc;

use citadel_core::TenantId;
use citadel_crypto::Kms;

use crate::StoreError;
use crate::access::AccessCache;
use crate::audit::AuditTrail;
use crate::data::{RecordIds, SchemaCache};
use crate::db::DbPool;
use crate::identity::GuardCache;
use crate::keyring::{Keyring, Keyrings};
use crate::pools::OpenTenant;

/// A handle on one tenant's database. Cheap to clone; holds no other
/// tenant's connection.
#[derive(Clone)]
pub struct TenantDb {
    pub(crate) tenant: TenantId,
    pub(crate) pool: DbPool,
    /// The tenant's audit trail, opened with its database.
    pub(crate) audit: AuditTrail,
    /// Seals the few secrets a tenant database must be able to read back
    /// (TOTP seeds), bound to tenant and user by the AAD.
    pub(crate) key: Arc<dyn Kms>,
    /// Table schemas of every tenant, shared by the whole store.
    pub(crate) schemas: Arc<SchemaCache>,
    /// Bans and security policy of every tenant, shared likewise.
    pub(crate) guards: Arc<GuardCache>,
    /// Access models of every tenant, likewise.
    pub(crate) access: Arc<AccessCache>,
    /// Every tenant's keyrings, likewise.
    pub(crate) keyrings: Arc<Keyrings>,
    /// The record ids handed out in every SQLite table, likewise.
    pub(crate) record_ids: Arc<RecordIds>,
}

impl std::fmt::Debug for TenantDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantDb")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl TenantDb {
    /// A handle on `tenant`'s database `pool`, sharing `store`'s caches.
    pub(crate) fn new(tenant: TenantId, open: OpenTenant, store: &crate::Store) -> Self {
        Self {
            tenant,
            pool: open.pool,
            audit: open.audit,
            key: Arc::clone(&store.master_key),
            schemas: Arc::clone(&store.schemas),
            guards: Arc::clone(&store.guards),
            access: Arc::clone(&store.access),
            keyrings: Arc::clone(&store.keyrings),
            record_ids: Arc::clone(&store.record_ids),
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The tenant's audit trail: every security-relevant action of the
    /// tenant is recorded through it.
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
    }

    /// This tenant's keyring, made on its first use.
    pub async fn keyring(&self) -> Result<Arc<Keyring>, StoreError> {
        self.keyrings.open(self.tenant).await
    }

    /// The sign-in part of this tenant, for a caller already allowed the
    /// whole of it.
    pub fn auth(&self) -> TenantAuthDb {
        TenantAuthDb(self.clone())
    }

    /// The raw pool, for the tests that prove isolation at the SQL level by
    /// attempting what the store itself never does.
    #[doc(hidden)]
    pub fn raw_pool_for_isolation_tests(&self) -> &DbPool {
        &self.pool
    }
}

/// The part of a tenant's database that signing in and session lookup
/// need: accounts by login or id, sessions, tokens, second factors, the
/// sign-in log and the tenant's security policy. Obtained with a
/// [`citadel_core::TenantAuthScope`], which anonymous callers can get; the
/// rest of the tenant's data needs a [`TenantDb`].
#[derive(Clone, Debug)]
pub struct TenantAuthDb(pub(crate) TenantDb);

impl TenantAuthDb {
    pub(crate) fn new(db: TenantDb) -> Self {
        Self(db)
    }

    pub fn tenant(&self) -> TenantId {
        self.0.tenant
    }

    /// The tenant's audit trail (sign-in events are recorded through it).
    pub fn audit(&self) -> &AuditTrail {
        &self.0.audit
    }

    /// This tenant's keyring: its pepper keys the password hashes.
    pub async fn keyring(&self) -> Result<Arc<Keyring>, StoreError> {
        self.0.keyring().await
    }
}
