//! Group commit for audit events, and the log's checkpoints.
//!
//! Recording an event is part of the action it records: the caller waits
//! for the event to be durable and fails if it is not (fail closed). One
//! thread appends for each log (`audit_append.rs`), so the events' order
//! is the order it took them in, and a commit's cost (a transaction and an
//! fsync) is shared by every event in its group. Beside it, a task keeps
//! the tree's right edge (`Frontier`) from what the thread reports, every
//! so many events or so many seconds signs a tree head with the
//! platform's audit key and stores it in the platform store, and copies
//! the WAL back into the file: none of that holds up a commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use citadel_audit::{AuditEvent, Frontier, Hash};
use citadel_crypto::Suite;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::StoreError;
use crate::audit_append::Appender;
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

/// What the appending thread tells the task beside it.
enum Report {
    /// A group was committed: its first sequence number and its leaves.
    Appended { first: u64, leaves: Vec<Hash> },
    /// The thread has stopped (asked to close, or every handle dropped);
    /// these are answered once the last head is signed and the log closed.
    Stopped(Vec<oneshot::Sender<()>>),
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
    /// Starts the appending thread for `log`, without checkpoints: for
    /// logs checked against heads made elsewhere (tests, benchmarks).
    pub fn start(log: Arc<AuditLog>) -> Result<Self, StoreError> {
        Self::start_with(log, None)
    }

    /// Starts the appending thread for `log` and the task beside it; both
    /// end when the writer is closed or every handle is dropped.
    pub(crate) fn start_with(
        log: Arc<AuditLog>,
        checkpoints: Option<Checkpoints>,
    ) -> Result<Self, StoreError> {
        let appender = Appender::for_log(&log, Handle::current())?;
        let (queue, waiting) = mpsc::channel(QUEUE);
        let (reports, reported) = mpsc::unbounded_channel();
        let failed_at = Arc::new(AtomicI64::new(0));
        let failures = Arc::clone(&failed_at);
        std::thread::Builder::new()
            .name("audit-append".into())
            .spawn(move || append_groups(appender, waiting, reports, failures))
            .map_err(|source| StoreError::Io {
                path: "the audit writer's thread".into(),
                source,
            })?;
        tokio::spawn(keep_tree(log, checkpoints, reported));
        Ok(Self { queue, failed_at })
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

    /// Carries the edge over leaves `first..` as the thread reports them.
    /// A load reads what is committed, so it may already hold some or all
    /// of a group reported after it; a gap means events appended by
    /// someone else, and the edge is loaded again.
    fn appended(&mut self, first: u64, leaves: &[Hash]) {
        let Some(frontier) = &mut self.frontier else {
            return;
        };
        let size = frontier.size();
        let Some(known) = size.checked_sub(first) else {
            self.frontier = None;
            return;
        };
        let known = usize::try_from(known).unwrap_or(usize::MAX);
        for leaf in leaves.iter().skip(known) {
            frontier.push(*leaf);
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

/// The appending thread: a group is whatever is queued when the last
/// commit ends, so a burst shares one fsync.
fn append_groups(
    mut appender: Appender,
    mut waiting: mpsc::Receiver<Message>,
    reports: mpsc::UnboundedSender<Report>,
    failed_at: Arc<AtomicI64>,
) {
    let mut group = Vec::with_capacity(MOST_PER_GROUP);
    let mut closing = Vec::new();
    while closing.is_empty() {
        let Some(message) = waiting.blocking_recv() else {
            break;
        };
        group.push(message);
        while group.len() < MOST_PER_GROUP
            && let Ok(message) = waiting.try_recv()
        {
            group.push(message);
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
        if events.is_empty() {
            continue;
        }
        match appender.append(events) {
            Ok((seqs, leaves)) => {
                let _ = reports.send(Report::Appended {
                    first: seqs.start,
                    leaves,
                });
                for (seq, done) in seqs.zip(answers) {
                    // A caller that stopped waiting still has its event
                    // recorded: it was part of the commit.
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
    // Whatever is still queued is refused (its callers see the writer
    // stopped), and the file's connection is closed before the log is.
    waiting.close();
    drop(waiting);
    drop(appender);
    let _ = reports.send(Report::Stopped(closing));
}

/// The task beside the thread: the tree's edge and heads, and the WAL's
/// checkpoints. Then, once the thread stops, a last head and the close.
async fn keep_tree(
    log: Arc<AuditLog>,
    checkpoints: Option<Checkpoints>,
    mut reported: mpsc::UnboundedReceiver<Report>,
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
    let mut wal_copied_at = now_millis();
    let closing = loop {
        tokio::select! {
            report = reported.recv() => match report {
                Some(Report::Appended { first, leaves }) => {
                    if let Some(tree) = &mut tree {
                        tree.appended(first, &leaves);
                        if tree.due() {
                            tree.checkpoint(&log).await;
                        }
                    }
                    if now_millis() - wal_copied_at >= CHECKPOINT_EVERY_MS {
                        log.checkpoint().await;
                        wal_copied_at = now_millis();
                    }
                }
                Some(Report::Stopped(closing)) => break closing,
                // The thread is gone without a word (it panicked).
                None => break Vec::new(),
            },
            _ = ticks.tick() => {
                if let Some(tree) = &mut tree {
                    tree.checkpoint(&log).await;
                }
            }
        }
    };
    if let Some(tree) = &mut tree {
        tree.checkpoint(&log).await;
    }
    log.close().await;
    for done in closing {
        let _ = done.send(());
    }
}
