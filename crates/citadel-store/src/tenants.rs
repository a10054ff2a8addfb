//! Tenant lifecycle: provisioning physically separate storage, opening a
//! tenant's own database for a request, and destroying it for good.

use citadel_core::{
    CryptoSuite, PlatformScope, TenantAuthScope, TenantId, TenantScope, TenantSlug, TenantStatus,
};
use citadel_crypto::token::generate_token;
use citadel_crypto::{SecretString, Suite};
use sqlx::Row;

use std::sync::Arc;

use citadel_audit::TreeHash;

use crate::audit::AuditTrail;
use crate::audit_heads::LogId;
use crate::audit_log::AuditLog;
use crate::audit_schema::postgres_table;
use crate::db::{DbPool, now_millis, on_pool};
use crate::pools::OpenTenant;
use crate::records::{NewUser, TenantRecord};
use crate::tenant_db::{TenantAuthDb, TenantDb};
use crate::{Backend, Store, StoreError, postgres, sqlite};

/// A tenant just created, with its first admin's login.
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant: TenantRecord,
    pub admin_login: String,
}

/// Binds a sealed database credential to its tenant, so it cannot be
/// swapped onto another tenant's registry row.
pub(crate) fn credential_aad(id: TenantId) -> Vec<u8> {
    format!("citadel/tenant-db-credential/v1/{id}").into_bytes()
}

fn slug_taken(slug: &TenantSlug) -> StoreError {
    StoreError::Conflict(format!("a tenant with slug {slug} exists already"))
}

impl Store {
    /// Creates a tenant with its own storage and its first admin user. On
    /// any failure nothing of it remains.
    pub async fn create_tenant(
        &self,
        _scope: &PlatformScope,
        slug: &TenantSlug,
        suite: CryptoSuite,
        admin: &NewUser,
    ) -> Result<CreatedTenant, StoreError> {
        if self.find_tenant_by_slug(slug).await?.is_some() {
            return Err(slug_taken(slug));
        }
        let record = TenantRecord {
            id: TenantId::generate(),
            slug: slug.clone(),
            status: TenantStatus::Active,
            suite,
            created_at: now_millis(),
        };
        let result = match &self.backend {
            Backend::Sqlite { data_dir } => {
                let pool = sqlite::provision(data_dir, record.id, admin).await?;
                let registered = self.insert_tenant_row(&record, None, None).await;
                if registered.is_err() {
                    pool.close().await;
                    let _ = sqlite::wipe(data_dir, record.id);
                }
                registered
            }
            Backend::Postgres { .. } => self.create_postgres_tenant(&record, admin).await,
        };
        match result {
            Ok(()) => Ok(CreatedTenant {
                tenant: record,
                admin_login: admin.login.to_string(),
            }),
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                Err(slug_taken(slug))
            }
            Err(e) => Err(e),
        }
    }

    async fn create_postgres_tenant(
        &self,
        record: &TenantRecord,
        admin: &NewUser,
    ) -> Result<(), StoreError> {
        let DbPool::Postgres(platform) = &self.platform else {
            return Err(StoreError::Corrupt(
                "postgres backend without postgres pool".into(),
            ));
        };
        let credential = generate_token();
        let sealed = self.master_key.seal(
            Suite::Intl,
            &credential_aad(record.id),
            credential.expose().as_bytes(),
        )?;
        let mut tx = platform.begin().await?;
        postgres::provision(&mut tx, record.id, &credential, admin).await?;
        insert_tenant_row!(
            &mut *tx,
            record,
            Some(postgres::role_name(record.id)),
            Some(sealed)
        )?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_tenant_row(
        &self,
        record: &TenantRecord,
        role: Option<String>,
        credential: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.platform, |p| insert_tenant_row!(
            p, record, role, credential
        ))?;
        Ok(())
    }

    /// The tenant's own database, opened on first use.
    pub async fn tenant(&self, scope: &TenantScope) -> Result<TenantDb, StoreError> {
        let id = scope.tenant();
        Ok(TenantDb::new(id, self.tenant_pool(id).await?, self))
    }

    /// The accounts and sessions of a tenant, for signing in and session
    /// lookup; nothing else of its data.
    pub async fn tenant_auth(&self, scope: &TenantAuthScope) -> Result<TenantAuthDb, StoreError> {
        let id = scope.tenant();
        Ok(TenantAuthDb::new(TenantDb::new(
            id,
            self.tenant_pool(id).await?,
            self,
        )))
    }

    async fn tenant_pool(&self, id: TenantId) -> Result<OpenTenant, StoreError> {
        if let Some(pool) = self.tenant_pools.get(id) {
            return Ok(pool);
        }
        if self.tenant_pools.is_destroying(id) {
            return Err(StoreError::NotFound("tenant"));
        }
        let suite = self
            .find_tenant(id)
            .await?
            .ok_or(StoreError::NotFound("tenant"))?
            .suite;
        let suite = crate::keyring::key_suite(suite);
        let hash = TreeHash::of_suite(suite);
        let (pool, log) = match &self.backend {
            Backend::Sqlite { data_dir } => {
                let (pool, tenant) = sqlite::open_tenant(data_dir, id).await?;
                let log = AuditLog::open_file(&sqlite::audit_path(data_dir, id), hash).await;
                let pool = DbPool::Sqlite(pool, Some(tenant));
                match log {
                    Ok(log) => (pool, log),
                    Err(e) => {
                        pool.close().await;
                        return Err(e);
                    }
                }
            }
            Backend::Postgres { admin } => {
                let credential = self.tenant_credential(id).await?;
                let pool = postgres::open_tenant(admin, id, &credential).await?;
                let DbPool::Postgres(owner) = &self.platform else {
                    return Err(StoreError::Corrupt("backend and pool disagree".into()));
                };
                let log = AuditLog::on_postgres(
                    pool.clone(),
                    owner.clone(),
                    postgres_table(Some(id)),
                    hash,
                );
                (DbPool::Postgres(pool), log)
            }
        };
        let audit = AuditTrail::start(
            LogId::Tenant(id),
            suite,
            log,
            Arc::clone(&self.audit_heads),
            self.checkpoint_policy(),
        )?;
        let pool = OpenTenant { pool, audit };
        match self.tenant_pools.insert(id, pool.clone()) {
            Some(kept) => Ok(kept),
            None => {
                // A destroy began while this pool was opening.
                pool.close().await;
                Err(StoreError::NotFound("tenant"))
            }
        }
    }

    async fn tenant_credential(&self, id: TenantId) -> Result<SecretString, StoreError> {
        let sealed: Option<Vec<u8>> = on_pool!(&self.platform, |p| {
            sqlx::query("SELECT db_credential FROM tenants WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
                .map(|row| row.try_get::<Option<Vec<u8>>, _>("db_credential"))
                .transpose()?
                .flatten()
        });
        let sealed = sealed.ok_or(StoreError::NotFound("tenant"))?;
        let plain = self.master_key.open(&credential_aad(id), &sealed)?;
        String::from_utf8(plain.to_vec())
            .map(SecretString::new)
            .map_err(|_| StoreError::Corrupt("tenant credential is not text".into()))
    }

    /// Destroys a tenant irreversibly: it is suspended and marked so no
    /// request of this process can open it again, its open connections are
    /// closed, its storage is wiped (files zeroed and removed, or login
    /// revoked, sessions ended, schema and role dropped), and its registry
    /// row goes last, so an interrupted destroy can be run again.
    pub async fn destroy_tenant(
        &self,
        scope: &PlatformScope,
        slug: &TenantSlug,
    ) -> Result<TenantRecord, StoreError> {
        let record = self
            .find_tenant_by_slug(slug)
            .await?
            .ok_or(StoreError::NotFound("tenant"))?;
        let open = self.tenant_pools.begin_destroy(record.id).map_err(|()| {
            StoreError::Conflict(format!("tenant {slug} is being destroyed already"))
        })?;
        // Clears the mark however this future ends, also when the caller
        // drops it half-way (a timeout, a client gone).
        let mut mark = DestroyMark {
            pools: &self.tenant_pools,
            id: record.id,
            closing: open,
        };
        let suspended = self
            .set_tenant_status(scope, slug, TenantStatus::Suspended)
            .await?;
        if suspended.id != record.id {
            return Err(StoreError::Conflict(format!(
                "tenant {slug} changed during the destroy"
            )));
        }
        // Its keys go first: from here on, whatever of its files survives
        // (a copy, a snapshot, blocks the wipe cannot reach) is ciphertext
        // nobody can open.
        self.keyrings.shred(record.id).await?;
        // Every connection must be closed (SQLite checkpoints and removes
        // its WAL on close) before the files are overwritten.
        if let Some(pool) = mark.closing.clone() {
            pool.close().await;
        }
        mark.closing = None;
        self.destroy_storage(&suspended).await?;
        // The log went with the storage; its heads would only prove what
        // no longer exists.
        self.audit_heads.forget(LogId::Tenant(record.id)).await?;
        Ok(suspended)
    }

    async fn destroy_storage(&self, record: &TenantRecord) -> Result<(), StoreError> {
        self.tenant_rows.forget(&record.id);
        let destroyed = self.drop_storage(record).await;
        self.tenant_rows.forget(&record.id);
        destroyed
    }

    async fn drop_storage(&self, record: &TenantRecord) -> Result<(), StoreError> {
        match (&self.backend, &self.platform) {
            (Backend::Sqlite { data_dir }, DbPool::Sqlite(p, _)) => {
                // Overwriting files is blocking work: off the runtime.
                let (dir, id) = (data_dir.clone(), record.id);
                tokio::task::spawn_blocking(move || sqlite::wipe(&dir, id))
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("wipe task failed: {e}")))??;
                sqlx::query("DELETE FROM tenants WHERE id = $1")
                    .bind(record.id.to_string())
                    .execute(p)
                    .await?;
            }
            (Backend::Postgres { .. }, DbPool::Postgres(p)) => {
                // Committed on its own first: no new session of the role
                // can start while the old ones are being ended.
                postgres::revoke_login(p, record.id).await?;
                let dropped = async {
                    let mut tx = p.begin().await?;
                    postgres::destroy(&mut tx, record.id).await?;
                    sqlx::query("DELETE FROM tenants WHERE id = $1")
                        .bind(record.id.to_string())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(())
                }
                .await;
                if dropped.is_err() {
                    // The tenant stays (suspended); give its role back the
                    // login a later resume needs.
                    let _ = postgres::restore_login(p, record.id).await;
                }
                dropped?;
            }
            _ => return Err(StoreError::Corrupt("backend and pool disagree".into())),
        }
        Ok(())
    }
}

/// Ends a destroy's mark when dropped, handing a pool whose closing was
/// not seen through to the next destroy.
struct DestroyMark<'a> {
    pools: &'a crate::pools::TenantPools,
    id: TenantId,
    closing: Option<OpenTenant>,
}

impl Drop for DestroyMark<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.closing.take() {
            self.pools.still_closing(self.id, pool);
        }
        self.pools.end_destroy(self.id);
    }
}

macro_rules! insert_tenant_row {
    ($executor:expr, $record:expr, $role:expr, $credential:expr) => {{
        let record: &TenantRecord = $record;
        sqlx::query(
            "INSERT INTO tenants (id, slug, status, suite, created_at, db_role, db_credential) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(record.id.to_string())
        .bind(record.slug.as_str())
        .bind(record.status.as_str())
        .bind(record.suite.as_str())
        .bind(record.created_at)
        .bind($role)
        .bind($credential)
        .execute($executor)
        .await
        .map(|done| done.rows_affected())
    }};
}
use insert_tenant_row;
