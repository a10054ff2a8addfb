//! Rotating a tenant's data key and moving what the older versions sealed
//! to the new one.
//!
//! A rotation adds a version, which seals everything from then on; the
//! older versions stay (`previous`) to open what they sealed. The
//! re-encryption then opens each value sealed under an older version (or,
//! for values from before tenants had keys, under the master key itself)
//! and seals it again under the active version, in batches, each write
//! guarded by the value it replaces so a concurrent change wins. When an
//! older version protects nothing any more it is retired: its sealed
//! material is erased from the registry.
//!
//! The values are users' TOTP seeds (confirmed and pending), the values of
//! encrypted fields and the sealed values in record history
//! (`data::field_keys`).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use citadel_core::{TenantId, TenantScope, UserId};
use citadel_crypto::Suite;
use citadel_crypto::suite::sealed_header;
use sqlx::Row;

use crate::db::{now_millis, on_pool, write_on_pool};
use crate::keyring::{KeyPurpose, KeyVersion};
use crate::tenant_db::TenantDb;
use crate::{Store, StoreError};

/// The columns holding values sealed under the tenant's data keys.
const SEALED_COLUMNS: [&str; 2] = ["totp_secret", "totp_pending"];

/// A tenant's keys and what they protect.
#[derive(Clone, Debug)]
pub struct KeyStatus {
    pub suite: Suite,
    /// Where the master key comes from (with paths: for the operator).
    pub master_key: String,
    /// What kind of holder it is, without paths (for the API).
    pub master_key_kind: &'static str,
    pub keys: Vec<KeyVersionStatus>,
    /// Values still sealed under the master key directly (from before the
    /// tenant had keys); the next re-encryption moves them.
    pub master_sealed_values: u64,
}

#[derive(Clone, Debug)]
pub struct KeyVersionStatus {
    pub key: KeyVersion,
    /// For data keys: how many stored values this version protects.
    pub values: Option<u64>,
}

/// How long after a rotation the older data key versions may be retired:
/// another process (a running server, when the CLI rotates) keeps an
/// opened keyring for [`crate::keyring::KEYRING_FRESH_FOR`] and may seal
/// under the old version until then; a value sealed under a retired
/// version could never be opened again.
pub const RETIRE_GRACE: Duration = Duration::from_secs(120);

/// What a re-encryption did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reencryption {
    pub moved: u64,
    pub retired: Vec<u32>,
    /// Older versions that protect nothing but are inside the grace after
    /// the rotation; a re-encryption after `retire_after` retires them.
    pub waiting: Vec<u32>,
    /// When they may be retired (milliseconds since the epoch).
    pub retire_after: Option<i64>,
}

/// Tenants whose data key is being rotated or re-encrypted in this
/// process: one at a time per tenant.
#[derive(Default)]
pub(crate) struct Rotations(Mutex<HashSet<TenantId>>);

/// Held while a tenant's rotation or re-encryption runs.
pub(crate) struct RotationGuard<'a> {
    rotations: &'a Rotations,
    tenant: TenantId,
}

impl Rotations {
    pub(crate) fn begin(&self, tenant: TenantId) -> Result<RotationGuard<'_>, StoreError> {
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !running.insert(tenant) {
            return Err(StoreError::Conflict(
                "this tenant's data key is being rotated or re-encrypted; try again when it is done"
                    .into(),
            ));
        }
        Ok(RotationGuard {
            rotations: self,
            tenant,
        })
    }
}

impl Drop for RotationGuard<'_> {
    fn drop(&mut self) {
        self.rotations
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.tenant);
    }
}

/// Where a sealed value stands: under a data key version, or the master key.
fn sealed_under(sealed: &[u8]) -> Option<u32> {
    sealed_header(sealed).ok().map(|(_, version)| version)
}

/// A user's id and sealed seeds (confirmed, pending), as stored.
type UserSeeds = (String, Option<Vec<u8>>, Option<Vec<u8>>);

struct SealedValue {
    user: UserId,
    column: &'static str,
    sealed: Vec<u8>,
}

impl TenantDb {
    async fn sealed_values(&self) -> Result<Vec<SealedValue>, StoreError> {
        let rows: Vec<UserSeeds> = on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, totp_secret, totp_pending FROM users \
                 WHERE totp_secret IS NOT NULL OR totp_pending IS NOT NULL",
            )
            .fetch_all(p)
            .await?
            .iter()
            .map(|row| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect::<Result<_, _>>()?
        });
        let mut values = Vec::new();
        for (id, secret, pending) in rows {
            let user = UserId::parse(&id)?;
            for (column, sealed) in SEALED_COLUMNS.into_iter().zip([secret, pending]) {
                if let Some(sealed) = sealed {
                    values.push(SealedValue {
                        user,
                        column,
                        sealed,
                    });
                }
            }
        }
        Ok(values)
    }

    /// Moves every value not under the active data key version to it.
    async fn reencrypt_values(&self) -> Result<u64, StoreError> {
        let active = self.keyring().await?.active_data_version();
        let mut moved = self.reencrypt_fields().await?;
        for value in self.sealed_values().await? {
            if sealed_under(&value.sealed) == Some(active) {
                continue;
            }
            let opened = self.open_totp(value.user, &value.sealed).await?;
            let resealed = self.seal_totp(value.user, &opened).await?;
            let column = value.column;
            moved += write_on_pool!(&self.pool, |p| {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET {column} = $1 WHERE id = $2 AND {column} = $3"
                )))
                .bind(&resealed)
                .bind(value.user.to_string())
                .bind(&value.sealed)
                .execute(p)
                .await?
                .rows_affected()
            });
        }
        Ok(moved)
    }
}

impl Store {
    /// The tenant's key versions and how many values each data key
    /// version protects.
    pub async fn key_status(&self, scope: &TenantScope) -> Result<KeyStatus, StoreError> {
        let db = self.tenant(scope).await?;
        let keyring = db.keyring().await?;
        let mut per_version: BTreeMap<u32, u64> = db.sealed_field_counts().await?;
        let mut master_sealed = 0;
        for value in db.sealed_values().await? {
            match sealed_under(&value.sealed) {
                Some(version) => *per_version.entry(version).or_default() += 1,
                None => master_sealed += 1,
            }
        }
        let keys = self
            .keyrings
            .versions(scope.tenant())
            .await?
            .into_iter()
            .map(|key| KeyVersionStatus {
                values: (key.purpose == KeyPurpose::Data)
                    .then(|| per_version.get(&key.version).copied().unwrap_or(0)),
                key,
            })
            .collect();
        Ok(KeyStatus {
            suite: keyring.suite(),
            master_key: self.master_key.describe(),
            master_key_kind: self.master_key.kind(),
            keys,
            master_sealed_values: master_sealed,
        })
    }

    /// Sets how long after a rotation the older versions may be retired
    /// ([`RETIRE_GRACE`] by default). Zero is for a data directory no
    /// running server uses (`citadel keys rotate --retire-now`) and tests.
    pub fn set_key_retire_grace(&self, grace: Duration) {
        self.key_retire_grace_ms.store(
            u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Adds a data key version; returns it. Run [`Store::reencrypt`] next.
    pub async fn rotate_data_key(&self, scope: &TenantScope) -> Result<u32, StoreError> {
        let _running = self.rotations.begin(scope.tenant())?;
        let version = self.keyrings.rotate_data(scope.tenant()).await?;
        tracing::info!(tenant = %scope.tenant(), version, "data key rotated");
        Ok(version)
    }

    /// Moves every value to the active data key version, then retires the
    /// older versions that protect nothing.
    pub async fn reencrypt(&self, scope: &TenantScope) -> Result<Reencryption, StoreError> {
        let _running = self.rotations.begin(scope.tenant())?;
        let db = self.tenant(scope).await?;
        let mut done = Reencryption {
            moved: db.reencrypt_values().await?,
            ..Reencryption::default()
        };
        let status = self.key_status(scope).await?;
        let grace = i64::try_from(
            self.key_retire_grace_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
        .unwrap_or(i64::MAX);
        let active_since = status
            .keys
            .iter()
            .filter(|k| k.key.purpose == KeyPurpose::Data && k.key.state == "active")
            .map(|k| k.key.created_at)
            .max()
            .unwrap_or(0);
        let retire_after = active_since.saturating_add(grace);
        for entry in status.keys {
            if entry.key.purpose == KeyPurpose::Data
                && entry.key.state == "previous"
                && entry.values == Some(0)
            {
                if now_millis() < retire_after {
                    done.waiting.push(entry.key.version);
                    done.retire_after = Some(retire_after);
                    continue;
                }
                self.keyrings
                    .retire_data(scope.tenant(), entry.key.version)
                    .await?;
                done.retired.push(entry.key.version);
            }
        }
        Ok(done)
    }
}
