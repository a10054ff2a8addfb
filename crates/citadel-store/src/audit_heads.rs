//! The platform's side of every audit log: its audit keys (one per suite,
//! sealed under the master key) and the signed tree heads, both in the
//! platform store, where no tenant reaches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use citadel_audit::{Frontier, Hash, SignedTreeHead, TreeHash, TreeHead};
use citadel_core::TenantId;
use citadel_crypto::suite::{PublicKey, SigningKey};
use citadel_crypto::{Kms, Suite};

use crate::StoreError;
use crate::db::{BeginWrite, DbPool};
use crate::db::{now_millis, on_pool, write_on_pool};

/// Which log: a tenant's, or the platform's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogId {
    Tenant(TenantId),
    Platform,
}

impl LogId {
    /// The 16 bytes a tree head names its log by: the tenant's id, or
    /// zeros for the platform.
    pub fn bytes(self) -> [u8; 16] {
        match self {
            Self::Tenant(id) => *id.as_uuid().as_bytes(),
            Self::Platform => [0; 16],
        }
    }

    fn key(self) -> String {
        uuid::Uuid::from_bytes(self.bytes()).to_string()
    }
}

/// What an audit key's seal is bound to: its purpose and suite.
pub(crate) fn seal_context(suite: Suite) -> Vec<u8> {
    format!("citadel/audit-key/v1/{}", suite.as_str()).into_bytes()
}

/// The audit keys and tree heads; shared by the store and every writer.
pub(crate) struct AuditHeads {
    platform: DbPool,
    kms: Arc<dyn Kms>,
    keys: Mutex<HashMap<Suite, Arc<SigningKey>>>,
}

type HeadRow = (i64, i64, String, Vec<u8>, String, Vec<u8>, Vec<u8>);

impl AuditHeads {
    pub(crate) fn new(platform: DbPool, kms: Arc<dyn Kms>) -> Self {
        Self {
            platform,
            kms,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The audit key of `suite`, made on its first use. Two processes
    /// making it at once both insert only if absent and read back, so
    /// one key wins.
    pub(crate) async fn signing_key(&self, suite: Suite) -> Result<Arc<SigningKey>, StoreError> {
        if let Some(key) = self.cached(suite) {
            return Ok(key);
        }
        let context = seal_context(suite);
        if self.stored(suite).await?.is_none() {
            let (key, material) = SigningKey::generate(suite);
            let sealed = self.kms.seal(suite, &context, &material)?;
            let public = key.public_key().to_bytes();
            write_on_pool!(&self.platform, |p| {
                sqlx::query(
                    "INSERT INTO audit_keys (suite, sealed, public_key, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (suite) DO NOTHING",
                )
                .bind(suite.as_str())
                .bind(sealed)
                .bind(public)
                .bind(now_millis())
                .execute(p)
                .await?;
            });
        }
        let sealed = self
            .stored(suite)
            .await?
            .ok_or(StoreError::NotFound("audit key"))?;
        let material = self.kms.open(&context, &sealed)?;
        let key = Arc::new(SigningKey::from_material(suite, &material)?);
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(suite, Arc::clone(&key));
        Ok(key)
    }

    fn cached(&self, suite: Suite) -> Option<Arc<SigningKey>> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&suite)
            .cloned()
    }

    async fn stored(&self, suite: Suite) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(on_pool!(&self.platform, |p| sqlx::query_scalar(
            "SELECT sealed FROM audit_keys WHERE suite = $1"
        )
        .bind(suite.as_str())
        .fetch_optional(p)
        .await?))
    }

    /// The public half of the audit key of `suite`.
    pub(crate) async fn public_key(&self, suite: Suite) -> Result<PublicKey, StoreError> {
        Ok(self.signing_key(suite).await?.public_key())
    }

    /// Signs the head of `log` at `frontier`'s size and stores it with the
    /// frontier's peaks; a head already stored at that size is kept.
    pub(crate) async fn checkpoint(
        &self,
        log: LogId,
        suite: Suite,
        frontier: &Frontier,
    ) -> Result<SignedTreeHead, StoreError> {
        let key = self.signing_key(suite).await?;
        let head = TreeHead {
            tenant: log.bytes(),
            hash: frontier.tree_hash(),
            size: frontier.size(),
            root: frontier.root(),
            at_ms: now_millis(),
        };
        let signed = head.sign(&key);
        let peaks = frontier.peaks().concat();
        let size = i64::try_from(head.size)
            .map_err(|_| StoreError::Corrupt("an audit log past i64 events".into()))?;
        write_on_pool!(&self.platform, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query(
                "INSERT INTO audit_heads (log_id, size, at_ms, tree_hash, root, suite, signature, peaks) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (log_id, size) DO NOTHING",
            )
            .bind(log.key())
            .bind(size)
            .bind(head.at_ms)
            .bind(head.hash.as_str())
            .bind(head.root.to_vec())
            .bind(signed.suite.as_str())
            .bind(signed.signature.clone())
            .bind(peaks)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(signed)
    }

    /// The newest signed head of `log` and the tree's right edge at it.
    pub(crate) async fn latest(
        &self,
        log: LogId,
    ) -> Result<Option<(SignedTreeHead, Frontier)>, StoreError> {
        let row: Option<HeadRow> = on_pool!(&self.platform, |p| sqlx::query_as(
            "SELECT size, at_ms, tree_hash, root, suite, signature, peaks FROM audit_heads \
             WHERE log_id = $1 ORDER BY size DESC LIMIT 1"
        )
        .bind(log.key())
        .fetch_optional(p)
        .await?);
        row.map(|row| head_and_frontier(log, row)).transpose()
    }

    /// The signed heads of `log` up to `size` (every one, if `None`),
    /// oldest first.
    pub(crate) async fn heads(
        &self,
        log: LogId,
        up_to: Option<u64>,
    ) -> Result<Vec<SignedTreeHead>, StoreError> {
        let up_to = i64::try_from(up_to.unwrap_or(i64::MAX as u64)).unwrap_or(i64::MAX);
        let rows: Vec<HeadRow> = on_pool!(&self.platform, |p| sqlx::query_as(
            "SELECT size, at_ms, tree_hash, root, suite, signature, peaks FROM audit_heads \
             WHERE log_id = $1 AND size <= $2 ORDER BY size"
        )
        .bind(log.key())
        .bind(up_to)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|row| head_and_frontier(log, row).map(|(head, _)| head))
            .collect()
    }

    /// The signed head of `log` at exactly `size`.
    pub(crate) async fn head_at(
        &self,
        log: LogId,
        size: u64,
    ) -> Result<Option<SignedTreeHead>, StoreError> {
        let size = i64::try_from(size).map_err(|_| StoreError::NotFound("tree head"))?;
        let row: Option<HeadRow> = on_pool!(&self.platform, |p| sqlx::query_as(
            "SELECT size, at_ms, tree_hash, root, suite, signature, peaks FROM audit_heads \
             WHERE log_id = $1 AND size = $2"
        )
        .bind(log.key())
        .bind(size)
        .fetch_optional(p)
        .await?);
        row.map(|row| head_and_frontier(log, row).map(|(head, _)| head))
            .transpose()
    }

    /// Forgets every head of a destroyed tenant's log.
    pub(crate) async fn forget(&self, log: LogId) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query("DELETE FROM audit_heads WHERE log_id = $1")
                .bind(log.key())
                .execute(p)
                .await?;
        });
        Ok(())
    }
}

fn head_and_frontier(log: LogId, row: HeadRow) -> Result<(SignedTreeHead, Frontier), StoreError> {
    let (size, at_ms, tree_hash, root, suite, signature, peaks) = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("a stored tree head's {what}"));
    let size = u64::try_from(size).map_err(|_| corrupt("size"))?;
    let hash = TreeHash::parse(&tree_hash).ok_or_else(|| corrupt("tree hash"))?;
    let root = Hash::try_from(root.as_slice()).map_err(|_| corrupt("root"))?;
    let suite: Suite = suite.parse().map_err(|_| corrupt("suite"))?;
    let peaks: Vec<Hash> = peaks
        .chunks(32)
        .map(Hash::try_from)
        .collect::<Result<_, _>>()
        .map_err(|_| corrupt("peaks"))?;
    let frontier = Frontier::from_peaks(hash, size, peaks)
        .filter(|f| f.root() == root)
        .ok_or_else(|| corrupt("peaks"))?;
    let head = SignedTreeHead {
        head: TreeHead {
            tenant: log.bytes(),
            hash,
            size,
            root,
            at_ms,
        },
        suite,
        signature,
    };
    Ok((head, frontier))
}
