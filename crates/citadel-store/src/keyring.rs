//! Each tenant's keyring: its data keys (versioned), the MAC keys for
//! blind indexes and for sealing access-control rows, and its signing key,
//! all in the tenant's algorithm suite.
//!
//! The keys are made on the tenant's first use and stored in the platform
//! registry (`tenant_keys`), each sealed through the KMS with a context
//! naming tenant, purpose and version, so a sealed key moved to another
//! row does not open. They are never stored in the tenant's own database:
//! destroying the registry rows leaves whatever the tenant's files still
//! hold unreadable. Opened keyrings are kept for [`KEYRING_FRESH_FOR`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use citadel_core::{CryptoSuite, TenantId, TenantScope};
use citadel_crypto::suite::{DataKey, MacKey, PublicKey, SigningKey, sealed_header};
use citadel_crypto::{CryptoError, Kms, Suite};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::db::{BeginWrite, DbPool, now_millis, on_pool, write_on_pool};
use crate::fresh::FreshMap;
use crate::{Store, StoreError};

/// How long an opened keyring is used before it is read again (a rotation
/// by another process is seen within this time).
pub(crate) const KEYRING_FRESH_FOR: Duration = Duration::from_secs(60);

/// What a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyPurpose {
    /// Encrypts field values and stored secrets.
    Data,
    /// Keys the blind indexes of encrypted fields.
    Index,
    /// Seals access-control rows against changes beside the server.
    Integrity,
    /// Signs documents for the tenant's apps.
    Signing,
    /// Keys the argon2id output of its users' password hashes.
    Pepper,
}

impl KeyPurpose {
    pub const ALL: [KeyPurpose; 5] = [
        KeyPurpose::Data,
        KeyPurpose::Index,
        KeyPurpose::Integrity,
        KeyPurpose::Signing,
        KeyPurpose::Pepper,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Data => "data",
            KeyPurpose::Index => "index",
            KeyPurpose::Integrity => "integrity",
            KeyPurpose::Signing => "signing",
            KeyPurpose::Pepper => "pepper",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The key suite of a tenant's crypto suite.
pub fn key_suite(suite: CryptoSuite) -> Suite {
    match suite {
        CryptoSuite::Intl => Suite::Intl,
        CryptoSuite::Sm => Suite::Sm,
    }
}

/// The seal's context: a sealed key opens only in its own row.
pub(crate) fn seal_context(tenant: TenantId, purpose: KeyPurpose, version: u32) -> Vec<u8> {
    format!(
        "citadel/tenant-key/v1/{tenant}/{}/{version}",
        purpose.as_str()
    )
    .into_bytes()
}

/// One version of one of a tenant's keys, as `citadel keys status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersion {
    pub purpose: KeyPurpose,
    pub version: u32,
    /// `active` (seals), `previous` (still opens what it sealed) or
    /// `retired` (erased).
    pub state: String,
    pub created_at: i64,
}

/// A tenant's opened keys. `Debug` names only tenant, suite and versions.
pub struct Keyring {
    tenant: TenantId,
    suite: Suite,
    data: BTreeMap<u32, DataKey>,
    active_data: u32,
    index: MacKey,
    integrity: MacKey,
    pepper: MacKey,
    signing: SigningKey,
    signing_version: u32,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("tenant", &self.tenant)
            .field("suite", &self.suite)
            .field("data_versions", &self.data.keys().collect::<Vec<_>>())
            .field("active_data", &self.active_data)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Seals `plaintext` under the active data key.
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let key = self
            .data
            .get(&self.active_data)
            .ok_or_else(|| StoreError::Corrupt("the active data key is missing".into()))?;
        Ok(key.encrypt(aad, plaintext))
    }

    /// Opens a value sealed under any data key version this tenant keeps.
    pub fn decrypt(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (_, version) = sealed_header(sealed)?;
        let key = self
            .data
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion(version))?;
        key.decrypt(aad, sealed)
    }

    pub fn active_data_version(&self) -> u32 {
        self.active_data
    }

    pub fn index_key(&self) -> &MacKey {
        &self.index
    }

    pub fn integrity_key(&self) -> &MacKey {
        &self.integrity
    }

    /// The key password hashes are peppered with.
    pub fn pepper_key(&self) -> &MacKey {
        &self.pepper
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn signing_version(&self) -> u32 {
        self.signing_version
    }

    pub fn public_key(&self) -> PublicKey {
        self.signing.public_key()
    }
}

/// New key material for a purpose, in a suite.
fn generate(suite: Suite, purpose: KeyPurpose) -> Zeroizing<Vec<u8>> {
    match purpose {
        KeyPurpose::Data => DataKey::generate(suite, 1).1,
        KeyPurpose::Index | KeyPurpose::Integrity | KeyPurpose::Pepper => MacKey::generate(suite).1,
        KeyPurpose::Signing => SigningKey::generate(suite).1,
    }
}

struct StoredKey {
    purpose: KeyPurpose,
    version: u32,
    material: Zeroizing<Vec<u8>>,
}

/// Opens tenants' keyrings and keeps them for [`KEYRING_FRESH_FOR`]; shared
/// by the store and every tenant handle it gives out.
pub(crate) struct Keyrings {
    platform: DbPool,
    kms: Arc<dyn Kms>,
    cache: FreshMap<TenantId, Arc<Keyring>>,
}

impl Keyrings {
    pub(crate) fn new(platform: DbPool, kms: Arc<dyn Kms>) -> Self {
        Self {
            platform,
            kms,
            cache: FreshMap::new(KEYRING_FRESH_FOR),
        }
    }

    /// The tenant's keyring, made on its first use.
    pub(crate) async fn open(&self, tenant: TenantId) -> Result<Arc<Keyring>, StoreError> {
        if let Some(keyring) = self.cache.get(&tenant) {
            return Ok(keyring);
        }
        let reading = self.cache.reading();
        let suite: Option<String> = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT suite FROM tenants WHERE id = $1")
                .bind(tenant.to_string())
                .fetch_optional(p)
                .await?
        });
        let suite = key_suite(CryptoSuite::parse(
            &suite.ok_or(StoreError::NotFound("tenant"))?,
        )?);
        let mut stored = self.stored_keys(tenant).await?;
        let missing: Vec<KeyPurpose> = KeyPurpose::ALL
            .into_iter()
            .filter(|p| !stored.iter().any(|k| k.purpose == *p))
            .collect();
        if !missing.is_empty() {
            // Keys are made all at once, for a tenant that never had any.
            // A tenant missing some, or missing all after its access data
            // was sealed with them, lost them (a shred, a row removed
            // beside the server): new keys would silently lock everyone
            // out of what the old ones protected.
            let never_had_keys =
                missing.len() == KeyPurpose::ALL.len() && !self.access_sealed(tenant).await?;
            if !never_had_keys {
                let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
                return Err(StoreError::Tampered(format!(
                    "tenant {tenant} lacks its {} key(s): they were destroyed or removed",
                    names.join(", ")
                )));
            }
            self.make_first_keys(tenant, suite, &missing).await?;
            stored = self.stored_keys(tenant).await?;
        }
        let keyring = Arc::new(open_keyring(tenant, suite, stored)?);
        self.cache.put(tenant, Arc::clone(&keyring), reading);
        Ok(keyring)
    }

    /// Version 1 of every purpose, in one transaction: another process
    /// opening the keyring sees all of them or none. Two processes racing
    /// here both insert only if absent and then read back, so one set of
    /// keys wins.
    async fn make_first_keys(
        &self,
        tenant: TenantId,
        suite: Suite,
        purposes: &[KeyPurpose],
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut sealed = Vec::with_capacity(purposes.len());
        for purpose in purposes {
            let material = generate(suite, *purpose);
            sealed.push((
                *purpose,
                self.kms
                    .seal(suite, &seal_context(tenant, *purpose, 1), &material)?,
            ));
        }
        write_on_pool!(&self.platform, |p| {
            let mut tx = p.begin_write().await?;
            for (purpose, sealed) in &sealed {
                sqlx::query(
                    "INSERT INTO tenant_keys (tenant_id, purpose, version, sealed, state, created_at) \
                     VALUES ($1, $2, 1, $3, 'active', $4) \
                     ON CONFLICT (tenant_id, purpose, version) DO NOTHING",
                )
                .bind(tenant.to_string())
                .bind(purpose.as_str())
                .bind(sealed)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }

    /// The tenant's active keys, opened.
    async fn stored_keys(&self, tenant: TenantId) -> Result<Vec<StoredKey>, StoreError> {
        let rows: Vec<(String, i64, Vec<u8>)> = on_pool!(&self.platform, |p| {
            sqlx::query(
                "SELECT purpose, version, sealed FROM tenant_keys \
                 WHERE tenant_id = $1 AND state IN ('active', 'previous') \
                 ORDER BY purpose, version",
            )
            .bind(tenant.to_string())
            .fetch_all(p)
            .await?
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>((
                    row.try_get("purpose")?,
                    row.try_get("version")?,
                    row.try_get("sealed")?,
                ))
            })
            .collect::<Result<_, _>>()?
        });
        rows.into_iter()
            .map(|(purpose, version, sealed)| {
                let purpose = KeyPurpose::parse(&purpose)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown key purpose {purpose}")))?;
                let version = u32::try_from(version)
                    .map_err(|_| StoreError::Corrupt("key version out of range".into()))?;
                let material = self
                    .kms
                    .open(&seal_context(tenant, purpose, version), &sealed)?;
                Ok(StoredKey {
                    purpose,
                    version,
                    material,
                })
            })
            .collect()
    }

    /// Adds a new version of the tenant's data key, which seals from now on;
    /// the older versions still open what they sealed until the
    /// re-encryption moves it and they are retired.
    pub(crate) async fn rotate_data(&self, tenant: TenantId) -> Result<u32, StoreError> {
        let keyring = self.open(tenant).await?;
        let version = keyring.active_data_version() + 1;
        let suite = keyring.suite();
        let material = generate(suite, KeyPurpose::Data);
        let sealed = self.kms.seal(
            suite,
            &seal_context(tenant, KeyPurpose::Data, version),
            &material,
        )?;
        let inserted = write_on_pool!(&self.platform, |p| {
            let mut tx = p.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO tenant_keys (tenant_id, purpose, version, sealed, state, created_at) \
                 VALUES ($1, 'data', $2, $3, 'active', $4) \
                 ON CONFLICT (tenant_id, purpose, version) DO NOTHING",
            )
            .bind(tenant.to_string())
            .bind(i64::from(version))
            .bind(&sealed)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE tenant_keys SET state = 'previous' \
                 WHERE tenant_id = $1 AND purpose = 'data' AND state = 'active' AND version < $2",
            )
            .bind(tenant.to_string())
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            inserted
        });
        self.cache.forget(&tenant);
        if inserted == 0 {
            return Err(StoreError::Conflict(
                "the data key was rotated at the same moment; read the key status again".into(),
            ));
        }
        Ok(version)
    }

    /// Retires an older data key version that protects nothing any more:
    /// its sealed material is erased from the registry.
    pub(crate) async fn retire_data(
        &self,
        tenant: TenantId,
        version: u32,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "UPDATE tenant_keys SET state = 'retired', sealed = $1 \
                 WHERE tenant_id = $2 AND purpose = 'data' AND version = $3 AND state = 'previous'",
            )
            .bind(Vec::<u8>::new())
            .bind(tenant.to_string())
            .bind(i64::from(version))
            .execute(p)
            .await?
            .rows_affected()
        });
        self.cache.forget(&tenant);
        Ok(())
    }

    /// Every key version of the tenant, retired ones included.
    pub(crate) async fn versions(&self, tenant: TenantId) -> Result<Vec<KeyVersion>, StoreError> {
        on_pool!(&self.platform, |p| {
            sqlx::query(
                "SELECT purpose, version, state, created_at FROM tenant_keys \
                 WHERE tenant_id = $1 ORDER BY purpose, version",
            )
            .bind(tenant.to_string())
            .fetch_all(p)
            .await?
            .iter()
            .map(|row| {
                let purpose: String = row.try_get("purpose")?;
                Ok(KeyVersion {
                    purpose: KeyPurpose::parse(&purpose).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown key purpose {purpose}"))
                    })?,
                    version: u32::try_from(row.try_get::<i64, _>("version")?)
                        .map_err(|_| StoreError::Corrupt("key version out of range".into()))?,
                    state: row.try_get("state")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// Whether the tenant's access-control rows were sealed once already
    /// (see `access.rs`): from then on an unsealed row is a tampered one.
    pub(crate) async fn access_sealed(&self, tenant: TenantId) -> Result<bool, StoreError> {
        let at: Option<Option<i64>> = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT access_sealed_at FROM tenants WHERE id = $1")
                .bind(tenant.to_string())
                .fetch_optional(p)
                .await?
        });
        Ok(at.flatten().is_some())
    }

    pub(crate) async fn mark_access_sealed(&self, tenant: TenantId) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "UPDATE tenants SET access_sealed_at = $1 WHERE id = $2 AND access_sealed_at IS NULL",
            )
            .bind(now_millis())
            .bind(tenant.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Deletes the tenant's keys: after this nothing it stored encrypted
    /// can be read by anyone, whatever copies of its files remain.
    pub(crate) async fn shred(&self, tenant: TenantId) -> Result<(), StoreError> {
        self.cache.forget(&tenant);
        write_on_pool!(&self.platform, |p| {
            sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1")
                .bind(tenant.to_string())
                .execute(p)
                .await?
                .rows_affected()
        });
        self.cache.forget(&tenant);
        if let DbPool::Sqlite(pool, _) = &self.platform {
            // The deleted rows' earlier page images are in the WAL: copy the
            // zeroed pages back and empty it. A reader holding an old
            // snapshot can make this incomplete; the next one finishes it.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
            {
                tracing::warn!(error = %e, "checkpoint after shredding a tenant's keys failed");
            }
        }
        Ok(())
    }
}

impl Store {
    /// The tenant's keyring, made on its first use.
    pub async fn keyring(&self, scope: &TenantScope) -> Result<Arc<Keyring>, StoreError> {
        self.keyrings.open(scope.tenant()).await
    }
}

fn open_keyring(
    tenant: TenantId,
    suite: Suite,
    stored: Vec<StoredKey>,
) -> Result<Keyring, StoreError> {
    let mut data = BTreeMap::new();
    let mut index = None;
    let mut integrity = None;
    let mut pepper = None;
    let mut signing = None;
    for key in stored {
        match key.purpose {
            KeyPurpose::Data => {
                data.insert(
                    key.version,
                    DataKey::from_material(suite, key.version, &key.material)?,
                );
            }
            // Only one version of the others is active (rotating them is
            // the re-encryption job's, with the data keys).
            KeyPurpose::Index => index = Some(MacKey::from_material(suite, &key.material)?),
            KeyPurpose::Integrity => {
                integrity = Some(MacKey::from_material(suite, &key.material)?);
            }
            KeyPurpose::Pepper => pepper = Some(MacKey::from_material(suite, &key.material)?),
            KeyPurpose::Signing => {
                signing = Some((
                    SigningKey::from_material(suite, &key.material)?,
                    key.version,
                ));
            }
        }
    }
    let missing = |what: &str| StoreError::Corrupt(format!("the tenant's {what} key is missing"));
    let active_data = *data.keys().next_back().ok_or_else(|| missing("data"))?;
    let (signing, signing_version) = signing.ok_or_else(|| missing("signing"))?;
    Ok(Keyring {
        tenant,
        suite,
        data,
        active_data,
        index: index.ok_or_else(|| missing("index"))?,
        integrity: integrity.ok_or_else(|| missing("integrity"))?,
        pepper: pepper.ok_or_else(|| missing("pepper"))?,
        signing,
        signing_version,
    })
}
