//! Master-key rotation: every value sealed under the master key is opened
//! with the old key and sealed again under the new one, in one registry
//! transaction, so the store is bound to exactly one of them at any
//! moment. What is re-sealed: the tenants' keys (`tenant_keys`), the
//! platform's audit keys (`audit_keys`), the PostgreSQL role passwords
//! and the check value. The tenants' data is not
//! touched: it is sealed under their data keys, which only the wrapping
//! changes for. A tenant still holding values sealed under the master key
//! itself (from before tenants had keys) must be re-encrypted first
//! (`citadel keys rotate`), and the rotation refuses until it is.

use std::sync::Arc;

use citadel_core::{CryptoSuite, PlatformScope, TenantId};
use citadel_crypto::{Kms, Suite};
use sqlx::Row;

use crate::db::{BeginWrite, DbPool};
use crate::keyring::{KeyPurpose, key_suite, seal_context};
use crate::tenants::credential_aad;
use crate::{MASTER_KEY_CHECK_SETTING, Store, StoreError};

/// What a master-key rotation re-sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MasterRotation {
    pub tenant_keys: u64,
    pub credentials: u64,
    /// The platform's audit keys (one per suite used).
    pub audit_keys: u64,
}

/// A sealed value of the registry and where it lives.
struct Resealed {
    table: &'static str,
    key: Vec<String>,
    sealed: Vec<u8>,
}

macro_rules! reseal_registry {
    ($tx:expr, $old:expr, $new:expr) => {{
        let mut done = MasterRotation::default();
        let mut updates: Vec<Resealed> = Vec::new();
        for row in sqlx::query(
            "SELECT k.tenant_id, k.purpose, k.version, k.sealed, t.suite FROM tenant_keys k \
             JOIN tenants t ON t.id = k.tenant_id WHERE k.state <> 'retired'",
        )
        .fetch_all(&mut *$tx)
        .await?
        {
            let tenant: String = row.try_get("tenant_id")?;
            let purpose: String = row.try_get("purpose")?;
            let version: i64 = row.try_get("version")?;
            let sealed: Vec<u8> = row.try_get("sealed")?;
            // A tenant's keys stay sealed with its suite's cipher.
            let suite = key_suite(CryptoSuite::parse(&row.try_get::<String, _>("suite")?)?);
            let context = seal_context(
                TenantId::parse(&tenant)?,
                KeyPurpose::parse(&purpose)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown key purpose {purpose}")))?,
                u32::try_from(version)
                    .map_err(|_| StoreError::Corrupt("key version out of range".into()))?,
            );
            let material = $old.open(&context, &sealed)?;
            updates.push(Resealed {
                table: "tenant_keys",
                key: vec![tenant, purpose, version.to_string()],
                sealed: $new.seal(suite, &context, &material)?,
            });
            done.tenant_keys += 1;
        }
        for row in
            sqlx::query("SELECT id, db_credential FROM tenants WHERE db_credential IS NOT NULL")
                .fetch_all(&mut *$tx)
                .await?
        {
            let id: String = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("db_credential")?;
            let aad = credential_aad(TenantId::parse(&id)?);
            let plain = $old.open(&aad, &sealed)?;
            updates.push(Resealed {
                table: "tenants",
                key: vec![id],
                sealed: $new.seal(Suite::Intl, &aad, &plain)?,
            });
            done.credentials += 1;
        }
        for row in sqlx::query("SELECT suite, sealed FROM audit_keys")
            .fetch_all(&mut *$tx)
            .await?
        {
            let suite: String = row.try_get("suite")?;
            let sealed: Vec<u8> = row.try_get("sealed")?;
            let suite: Suite = suite
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("audit key suite {suite}")))?;
            let context = crate::audit_heads::seal_context(suite);
            let material = $old.open(&context, &sealed)?;
            updates.push(Resealed {
                table: "audit_keys",
                key: vec![suite.as_str().to_owned()],
                sealed: $new.seal(suite, &context, &material)?,
            });
            done.audit_keys += 1;
        }
        for update in &updates {
            match update.table {
                "tenant_keys" => {
                    sqlx::query(
                        "UPDATE tenant_keys SET sealed = $1 \
                         WHERE tenant_id = $2 AND purpose = $3 AND version = $4",
                    )
                    .bind(&update.sealed)
                    .bind(&update.key[0])
                    .bind(&update.key[1])
                    .bind(
                        update.key[2]
                            .parse::<i64>()
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    )
                    .execute(&mut *$tx)
                    .await?;
                }
                "audit_keys" => {
                    sqlx::query("UPDATE audit_keys SET sealed = $1 WHERE suite = $2")
                        .bind(&update.sealed)
                        .bind(&update.key[0])
                        .execute(&mut *$tx)
                        .await?;
                }
                _ => {
                    sqlx::query("UPDATE tenants SET db_credential = $1 WHERE id = $2")
                        .bind(&update.sealed)
                        .bind(&update.key[0])
                        .execute(&mut *$tx)
                        .await?;
                }
            }
        }
        sqlx::query("UPDATE settings SET value = $1 WHERE key = $2")
            .bind(citadel_crypto::kms::check_value(&*$new)?)
            .bind(MASTER_KEY_CHECK_SETTING)
            .execute(&mut *$tx)
            .await?;
        done
    }};
}

impl Store {
    /// Re-seals everything sealed under this store's master key under
    /// `new`. Run it with the server stopped: a running server keeps the
    /// old key and can no longer open keys it has not cached.
    pub async fn rotate_master_key(
        &self,
        _scope: &PlatformScope,
        new: Arc<dyn Kms>,
    ) -> Result<MasterRotation, StoreError> {
        let old = Arc::clone(&self.master_key);
        match &self.platform {
            DbPool::Sqlite(pool, _) => {
                let mut tx = pool.begin_write().await?;
                let done = reseal_registry!(tx, old, new);
                tx.commit().await?;
                Ok(done)
            }
            DbPool::Postgres(pool) => {
                let mut tx = pool.begin_serializable().await?;
                let done = reseal_registry!(tx, old, new);
                tx.commit().await?;
                Ok(done)
            }
        }
    }
}
