//! Group commit for audit events, and the log's checkpoints.
//!
//! Recording an event is part of the action it records: the caller waits
//! for the event to be durable and fails if it is not (fail closed). One
//! task appends for each log, so the events' order is the order the task
//! took them in, and a commit's cost (a transaction and an fsync) is
//! shared by every event in its group. The task also keeps the tree's
//! right edge (`Frontier`) as it appends, and every so many events or so
//! many seconds signs a tree head with the platform's audit key and
//! stores it in the platform store.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use citadel_audit::{AuditEvent, Frontier, Hash};
use citadel_crypto::Suite;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::StoreError;
use crate::audit_heads::{AuditHeads, LogId};
use crate::audit_log::AuditLog;
use crate::db::now_millis;

/// At most this many events in one commit.
const MOST_PER_GROUP: usize = 2_000;

/// Events waiting for the task beyond the one being committed; a caller
/// past that waits for room, which is how a burst is slowed to the disk.
const QUEUE: usize = 8_192;

/// The WAL is copied into the file at most this often, beside the
/// appends (see `AuditLog::checkpoint`).
const CHECKPOINT_EVERY_MS: i64 = 1_000;

/// After a failed commit, actions are refused up front for this long
/// rather than done and then answered with an error.
const REFUSE_AFTER_FAILURE_MS: i64 = 5_000;

/// When a log's tree heads are signed.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    /// A head after this many new events…
    pub every_events: u64,
    /// …or this long after the last one, if anything was appended since.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            every_events: 1_000,
            every: Duration::from_secs(10),
        }
    }
}

/// Where a log's heads go and who signs them.
pub(crate) struct Checkpoints {
    pub heads: Arc<AuditHeads>,
    pub log: LogId,
    /// The audit key's suite (the tenant's).
    pub suite: Suite,
    pub policy: CheckpointPolicy,
}

struct Pending {
    event: AuditEvent,
    /// The sequence number given, or why the group was not committed.
    done: oneshot::Sender<Result<u64, String>>,
}

#[expect(
    clippy::large_enum_variant,
    reason = "almost every message is an event; boxing it would allocate once more per event"
)]
enum Message {
    Record(Pending),
    /// Commit what came before, sign a last head, close the log.
    Close(oneshot::Sender<()>),
}

/// Appends to one log with group commit. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Message>,
    /// When a commit last failed (Unix ms), 0 if never.
    failed_at: Arc<AtomicI64>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter").finish_non_exhaustive()
    }
}

impl AuditWriter {
    /// Starts the appending task for `log`, without checkpoints: for logs
    /// checked against heads made elsewhere (tests, benchmarks).
    pub fn start(log: Arc<AuditLog>) -> Self {
        Self::start_with(log, None)
    }

    /// Starts the appending task for `log`; it ends when the writer is
    /// closed or every handle is dropped.
    pub(crate) fn start_with(log: Arc<AuditLog>, checkpoints: Option<Checkpoints>) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let failed_at = Arc::new(AtomicI64::new(0));
        tokio::spawn(append_groups(
            log,
            checkpoints,
            waiting,
            Arc::clone(&failed_at),
        ));
        Self { queue, failed_at }
    }

    /// Records `event` and returns its sequence number once it is durable.
    /// An error means it was not recorded, and neither was anything
    /// committed with it.
    pub async fn record(&self, event: AuditEvent) -> Result<u64, StoreError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Message::Record(Pending { event, done }))
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::CommitFailed)
    }

    /// True for a few seconds after a commit failed: an action that must
    /// be recorded is better refused before it is done.
    pub fn recently_failed(&self) -> bool {
        let at = self.failed_at.load(Ordering::Relaxed);
        at != 0 && now_millis() - at < REFUSE_AFTER_FAILURE_MS
    }

    /// Commits what is queued, signs a last head and closes the log;
    /// later records fail.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

fn stopped() -> StoreError {
    StoreError::CommitFailed("the audit writer has stopped".into())
}

/// The tree's right edge as the task knows it, and the size last signed.
struct Tree {
    checkpoints: Checkpoints,
    /// `None` until loaded, or after a commit the task did not expect
    /// (another process appended): loaded again before the next head.
    frontier: Option<Frontier>,
    signed: u64,
}

impl Tree {
    /// The right edge from the newest head's peaks and the leaves since.
    async fn load(&mut self, log: &AuditLog) -> Result<(), StoreError> {
        let (mut frontier, signed) =
            match self.checkpoints.heads.latest(self.checkpoints.log).await? {
                Some((head, frontier)) => (frontier, head.head.size),
                None => (Frontier::new(log.tree_hash()), 0),
            };
        let size = log.size().await?;
        for leaf in log.leaves(frontier.size()..size).await? {
            frontier.push(leaf);
        }
        self.frontier = Some(frontier);
        self.signed = signed;
        Ok(())
    }

    fn appended(&mut self, first: u64, leaves: &[Hash]) {
        match &mut self.frontier {
            Some(frontier) if frontier.size() == first => {
                for leaf in leaves {
                    frontier.push(*leaf);
                }
            }
            _ => self.frontier = None,
        }
    }

    fn due(&self) -> bool {
        self.frontier.as_ref().is_some_and(|f| {
            f.size().saturating_sub(self.signed) >= self.checkpoints.policy.every_events
        })
    }

    /// Signs and stores a head if anything was appended since the last.
    async fn checkpoint(&mut self, log: &AuditLog) {
        if self.frontier.is_none()
            && let Err(e) = self.load(log).await
        {
            tracing::error!(error = %e, "the audit log's tree could not be loaded");
            return;
        }
        let Some(frontier) = &self.frontier else {
            return;
        };
        if frontier.size() <= self.signed {
            return;
        }
        let c = &self.checkpoints;
        match c.heads.checkpoint(c.log, c.suite, frontier).await {
            Ok(head) => self.signed = head.head.size,
            // The events are durable; the head is signed at the next tick.
            Err(e) => tracing::error!(error = %e, "an audit tree head could not be stored"),
        }
    }
}

async fn append_groups(
    log: Arc<AuditLog>,
    checkpoints: Option<Checkpoints>,
    mut waiting: mpsc::Receiver<Message>,
    failed_at: Arc<AtomicI64>,
) {
    let mut tree = checkpoints.map(|checkpoints| Tree {
        checkpoints,
        frontier: None,
        signed: 0,
    });
    let every = tree
        .as_ref()
        .map_or(Duration::from_secs(3600), |t| t.checkpoints.policy.every);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut group = Vec::with_capacity(MOST_PER_GROUP);
    let mut closing = Vec::new();
    let mut wal_copied_at = now_millis();
    let copying = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        tokio::select! {
            received = waiting.recv_many(&mut group, MOST_PER_GROUP) => {
                if received == 0 {
                    // Every handle is gone (the tenant's pool was dropped
                    // from the cache): sign what was appended.
                    if let Some(tree) = &mut tree {
                        tree.checkpoint(&log).await;
                    }
                    break;
                }
            }
            _ = ticks.tick() => {
                if let Some(tree) = &mut tree {
                    tree.checkpoint(&log).await;
                }
                continue;
            }
        }
        let mut events = Vec::with_capacity(group.len());
        let mut answers = Vec::with_capacity(group.len());
        for message in group.drain(..) {
            match message {
                Message::Record(p) => {
                    events.push(p.event);
                    answers.push(p.done);
                }
                Message::Close(done) => closing.push(done),
            }
        }
        if !events.is_empty() {
            match log.append(events).await {
                Ok((seqs, leaves)) => {
                    if let Some(tree) = &mut tree {
                        tree.appended(seqs.start, &leaves);
                    }
                    // On a task of its own, one at a time: the next group
                    // does not wait for it.
                    if now_millis() - wal_copied_at >= CHECKPOINT_EVERY_MS
                        && !copying.swap(true, Ordering::AcqRel)
                    {
                        wal_copied_at = now_millis();
                        let (log, copying) = (Arc::clone(&log), Arc::clone(&copying));
                        tokio::spawn(async move {
                            log.checkpoint().await;
                            copying.store(false, Ordering::Release);
                        });
                    }
                    for (seq, done) in seqs.zip(answers) {
                        // A caller that stopped waiting still has its
                        // event recorded: it was part of the commit.
                        let _ = done.send(Ok(seq));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "an audit commit failed");
                    failed_at.store(now_millis(), Ordering::Relaxed);
                    let reason = e.to_string();
                    for done in answers {
                        let _ = done.send(Err(reason.clone()));
                    }
                }
            }
        }
        if let Some(tree) = &mut tree
            && (tree.due() || !closing.is_empty())
        {
            tree.checkpoint(&log).await;
        }
        if !closing.is_empty() {
            break;
        }
    }
    // Whatever is still queued is refused: the log is closing.
    waiting.close();
    log.close().await;
    for done in closing {
        let _ = done.send(());
    }
}
