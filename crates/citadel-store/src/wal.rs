//! The WAL's housekeeping beside a tenant's group-commit writer: making
//! each commit durable, and copying the WAL back into the database.
//!
//! **Durability.** The writer's connection commits with `synchronous=NORMAL`:
//! SQLite writes the commit's pages to the WAL and returns without an
//! fsync (WAL mode stays consistent that way; only the last commits could
//! be lost at a power cut). The writer hands the commit's answers here and
//! goes on with its next group; this task fsyncs the WAL and only then
//! answers them. An acknowledged write is on disk as with
//! `synchronous=FULL`, but the writer no longer sits idle during each
//! fsync, and one fsync covers every commit made while the previous one
//! ran. A failed fsync leaves the state of the written pages unknown: the
//! writes it covers are refused and the writer takes no more.
//!
//! **Checkpoints.** SQLite would copy the WAL back inside the commit that
//! crosses its threshold, so that commit (and every write queued behind
//! it) would wait for the copy and a second fsync. The writer's connection
//! has automatic checkpoints off; after commits, [`checkpoint_after_commits`]
//! runs a passive checkpoint on a reader connection, at most every
//! [`CHECKPOINT_PAUSE`]. A page rewritten by many commits in that pause is
//! copied once. Under a steady stream of commits such a checkpoint never
//! catches up with the WAL's end, and the WAL only starts over from its
//! beginning once it has; so when the WAL passes [`RESTART_FRAMES`], the
//! writer checkpoints the little that is left itself, between two groups,
//! and its next commit starts it over.

use std::any::Any;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::StoreError;

/// Least time between two checkpoints while writes go on.
/// (Measured: at 200 ms the database file's fsyncs, contending with the
/// WAL's, doubled the p99 of single-record updates.)
const CHECKPOINT_PAUSE: Duration = Duration::from_secs(1);
/// A WAL longer than this (in pages, 4 KiB each) is caught up by the writer.
const RESTART_FRAMES: i64 = 8192;

/// Where a job's outcome goes once it is known to be durable (or failed).
pub(crate) type Answer = oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>;
/// A commit's answers, waiting for the fsync that makes it durable.
pub(crate) type Committed = Vec<(Box<dyn Any + Send>, Answer)>;

/// A tenant database file: its reader pool (for checkpoints) and WAL.
pub(crate) struct DatabaseFile {
    pub readers: SqlitePool,
    pub wal: PathBuf,
}

/// The writer's side of the housekeeping tasks.
pub(crate) struct Housekeeping {
    signals: Arc<Checkpoints>,
    checkpointer: tokio::task::JoinHandle<()>,
    committed: mpsc::UnboundedSender<Committed>,
    syncer: tokio::task::JoinHandle<()>,
    /// Set by a failed fsync: nothing more may be acknowledged.
    failed: Arc<AtomicBool>,
}

/// Between the writer and its checkpointer.
#[derive(Default)]
struct Checkpoints {
    /// Commits happened since the last checkpoint.
    due: Notify,
    /// The WAL has grown past [`RESTART_FRAMES`].
    wal_long: AtomicBool,
}

impl Housekeeping {
    pub(crate) fn start(file: DatabaseFile) -> Self {
        let signals = Arc::new(Checkpoints::default());
        let checkpointer =
            tokio::spawn(checkpoint_after_commits(file.readers, Arc::clone(&signals)));
        let failed = Arc::new(AtomicBool::new(false));
        let (committed, to_sync) = mpsc::unbounded_channel();
        let syncer = tokio::spawn(sync_then_answer(file.wal, to_sync, Arc::clone(&failed)));
        Self {
            signals,
            checkpointer,
            committed,
            syncer,
            failed,
        }
    }

    /// True once a commit could not be made durable.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Hands a commit's answers over to be given once it is durable.
    pub(crate) fn committed(&self, answers: Committed) {
        if let Err(mpsc::error::SendError(answers)) = self.committed.send(answers) {
            refuse(answers, "the database writer has stopped");
        }
    }

    /// Asks for a checkpoint soon; true if the WAL has grown so long that
    /// the writer should catch up itself now.
    pub(crate) fn after_commit(&self) -> bool {
        self.signals.due.notify_one();
        self.signals.wal_long.swap(false, Ordering::Relaxed)
    }

    /// Waits until every handed-over commit is answered, and stops.
    pub(crate) async fn finish(self) {
        self.checkpointer.abort();
        drop(self.committed);
        let _ = self.syncer.await;
    }
}

fn refuse(answers: Committed, reason: &str) {
    for (_, done) in answers {
        let _ = done.send(Err(StoreError::CommitFailed(reason.into())));
    }
}

/// Fsyncs the WAL after commits and answers them. Commits that arrive
/// while an fsync runs share the next one.
async fn sync_then_answer(
    wal: PathBuf,
    mut to_sync: mpsc::UnboundedReceiver<Committed>,
    failed: Arc<AtomicBool>,
) {
    // The WAL's directory entry too, once: the file was made by a
    // connection that may not have synced the directory yet.
    let mut directory_synced = false;
    while let Some(mut ready) = to_sync.recv().await {
        while let Ok(more) = to_sync.try_recv() {
            ready.extend(more);
        }
        if failed.load(Ordering::Acquire) {
            refuse(ready, "an earlier write could not be made durable");
            continue;
        }
        // Opened afresh each time: an fsync reaches the file the path names
        // now. fdatasync covers the WAL's growth too.
        let path = wal.clone();
        let sync_directory = !directory_synced;
        let synced = tokio::task::spawn_blocking(move || {
            File::open(&path)?.sync_data()?;
            match path.parent() {
                Some(directory) if sync_directory => File::open(directory)?.sync_all(),
                _ => Ok(()),
            }
        })
        .await;
        match synced {
            Ok(Ok(())) => {
                directory_synced = true;
                for (value, done) in ready {
                    let _ = done.send(Ok(value));
                }
            }
            Ok(Err(e)) => {
                failed.store(true, Ordering::Release);
                tracing::error!(error = %e, wal = %wal.display(), "fsync of the WAL failed; this database takes no more writes until the server restarts");
                refuse(ready, "the write could not be made durable");
            }
            Err(e) => {
                failed.store(true, Ordering::Release);
                tracing::error!(error = %e, "the fsync task failed");
                refuse(ready, "the write could not be made durable");
            }
        }
    }
}

/// Runs a passive checkpoint after each burst of commits. Passive: it
/// copies what no reader still needs and never waits for (or blocks) the
/// writer or readers; what it leaves is copied by a later round.
async fn checkpoint_after_commits(pool: SqlitePool, signals: Arc<Checkpoints>) {
    loop {
        signals.due.notified().await;
        tokio::time::sleep(CHECKPOINT_PAUSE).await;
        // (busy, pages in the WAL, pages copied)
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, pages, _)) => {
                if pages > RESTART_FRAMES {
                    signals.wal_long.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; the next commit retries it");
            }
        }
    }
}
