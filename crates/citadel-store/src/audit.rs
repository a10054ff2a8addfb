//! A log's whole audit trail as the server sees it: recording events
//! through the log's writer, searching them, its signed heads, proofs
//! against them, and the check of everything stored.
//!
//! Each tenant's trail is opened with its database (and closed with it);
//! the platform's own trail with the store.

use std::sync::Arc;

use citadel_audit::{AuditError, AuditEvent, Hash, SignedTreeHead, StoredEvent, Verified};
use citadel_crypto::Suite;
use citadel_crypto::suite::PublicKey;

use crate::StoreError;
use crate::audit_archive::Archived;
use crate::audit_heads::{AuditHeads, LogId};
use crate::audit_log::{AuditLog, EventQuery};
use crate::audit_writer::{AuditWriter, CheckpointPolicy, Checkpoints};

/// One log with its writer and its heads. Cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    id: LogId,
    suite: Suite,
    log: Arc<AuditLog>,
    writer: AuditWriter,
    heads: Arc<AuditHeads>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An inclusion proof: the event's leaf and the path to the root of the
/// signed head it is proved against.
#[derive(Clone, Debug)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf: Hash,
    pub head: SignedTreeHead,
    pub path: Vec<Hash>,
}

/// A consistency proof between two signed heads of one log.
#[derive(Clone, Debug)]
pub struct ConsistencyProof {
    pub first: SignedTreeHead,
    pub second: SignedTreeHead,
    pub path: Vec<Hash>,
}

impl AuditTrail {
    /// Starts the trail's writer (with its checkpoints) over `log`.
    pub(crate) fn start(
        id: LogId,
        suite: Suite,
        log: AuditLog,
        heads: Arc<AuditHeads>,
        policy: CheckpointPolicy,
    ) -> Result<Self, StoreError> {
        let log = Arc::new(log);
        let writer = AuditWriter::start_with(
            Arc::clone(&log),
            Some(Checkpoints {
                heads: Arc::clone(&heads),
                log: id,
                suite,
                policy,
            }),
        )?;
        Ok(Self {
            id,
            suite,
            log,
            writer,
            heads,
        })
    }

    pub fn id(&self) -> LogId {
        self.id
    }

    /// The audit key's suite for this log (Ed25519 or SM2).
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Records `event` (its `seq` is assigned) once it is durable; an
    /// error means it was not recorded.
    pub async fn record(&self, event: AuditEvent) -> Result<u64, StoreError> {
        self.writer.record(event).await
    }

    /// True for a few seconds after an event could not be recorded.
    pub fn recently_failed(&self) -> bool {
        self.writer.recently_failed()
    }

    pub async fn search(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        self.log.search(query).await
    }

    pub async fn size(&self) -> Result<u64, StoreError> {
        self.log.size().await
    }

    /// The newest signed tree head, if any was signed yet.
    pub async fn latest_head(&self) -> Result<Option<SignedTreeHead>, StoreError> {
        Ok(self.heads.latest(self.id).await?.map(|(head, _)| head))
    }

    /// The public half of the key that signs this log's heads.
    pub async fn public_key(&self) -> Result<PublicKey, StoreError> {
        self.heads.public_key(self.suite).await
    }

    async fn signed_head(&self, size: Option<u64>) -> Result<SignedTreeHead, StoreError> {
        match size {
            Some(size) => self.heads.head_at(self.id, size).await?,
            None => self.latest_head().await?,
        }
        .ok_or(StoreError::NotFound("signed tree head"))
    }

    /// Proves event `seq` is in the tree of the signed head at `size` (the
    /// newest head if `None`).
    pub async fn inclusion_proof(
        &self,
        seq: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, StoreError> {
        let head = self.signed_head(size).await?;
        if seq >= head.head.size {
            return Err(StoreError::Audit(AuditError::NoSuchLeaf {
                index: seq,
                size: head.head.size,
            }));
        }
        let leaves = self.log.leaves(0..head.head.size).await?;
        let hash = self.log.tree_hash();
        let path = hash.inclusion_proof(&leaves, seq)?;
        let leaf = usize::try_from(seq)
            .ok()
            .and_then(|at| leaves.get(at).copied())
            .ok_or(StoreError::NotFound("event"))?;
        Ok(InclusionProof {
            seq,
            leaf,
            head,
            path,
        })
    }

    /// Proves the signed head at `first` is a prefix of the one at
    /// `second` (the newest if `None`).
    pub async fn consistency_proof(
        &self,
        first: u64,
        second: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        let second = self.signed_head(second).await?;
        let first = self.signed_head(Some(first)).await?;
        let leaves = self.log.leaves(0..second.head.size).await?;
        let path = self
            .log
            .tree_hash()
            .consistency_proof(&leaves, first.head.size)?;
        Ok(ConsistencyProof {
            first,
            second,
            path,
        })
    }

    /// Checks every stored event against every signed head; the error
    /// names the first bad event.
    pub async fn verify(&self) -> Result<Verified, StoreError> {
        let key = self.public_key().await?;
        let heads = self.heads.heads(self.id, None).await?;
        self.log.check(self.id.bytes(), &key, &heads).await
    }

    /// Moves the events recorded before `cutoff_ms` into archive segments
    /// (see `audit_archive.rs`).
    pub async fn archive_before(&self, cutoff_ms: i64) -> Result<Archived, StoreError> {
        self.log.archive_before(cutoff_ms).await
    }

    /// The first event still in the live log (searchable); earlier ones
    /// are archived.
    pub async fn live_from(&self) -> Result<u64, StoreError> {
        self.log.live_from().await
    }

    /// Commits what is queued, signs a last head and closes the log.
    pub(crate) async fn close(&self) {
        self.writer.close().await;
    }
}
