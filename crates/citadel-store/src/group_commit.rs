//! Group commit for a tenant's SQLite database.
//!
//! Every acknowledged write must be on disk, and an fsync costs about half
//! a millisecond here (more for a big batch). One writer task owns a
//! connection; writes queue for it, and it runs everything queued in one
//! transaction, each job inside its own savepoint, then commits once. A job
//! that fails is rolled back to its savepoint alone and answered at once;
//! the others are answered after the commit has reached the disk. Under
//! load many writes share an fsync; alone, a write waits for nothing but
//! its own. For a database file, the fsync and the checkpoints run beside
//! the writer (see [`crate::wal`]).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::wal::{Answer, Committed, DatabaseFile, Housekeeping};

/// Most jobs that share one transaction: bounds how long the first waits.
const MAX_GROUP: usize = 64;
/// Writes waiting beyond this are refused (the queue is a buffer, not a store).
const QUEUE: usize = 4096;
type JobFuture<'c> =
    Pin<Box<dyn Future<Output = Result<Box<dyn Any + Send>, StoreError>> + Send + 'c>>;
type JobFn = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c> + Send>;

enum Message {
    Job { run: JobFn, done: Answer },
    Pause(oneshot::Sender<WriterPause>),
    Close(oneshot::Sender<()>),
}

/// Held by a write made on a pool connection instead of through the
/// writer: until it is dropped the writer starts no group, so that write
/// gets SQLite's write lock. Without it, a writer kept busy by a stream of
/// record writes would take the lock again within microseconds of each
/// commit, and the other connection, retrying in sleeps of up to 100 ms,
/// would reach its busy timeout and fail.
#[must_use = "the writer resumes when the pause is dropped"]
pub(crate) struct WriterPause {
    _resume: oneshot::Sender<()>,
}

/// A job's value to be handed back at its group's commit, before the
/// fsync (a write inside `deferring_durability`).
struct Early {
    value: Box<dyn Any + Send>,
    to: oneshot::Sender<Box<dyn Any + Send>>,
}

/// The fsync a write answered at its commit has yet to see.
pub(crate) struct Durable(oneshot::Receiver<Result<Box<dyn Any + Send>, StoreError>>);

impl Durable {
    pub(crate) async fn wait(self) -> Result<(), StoreError> {
        self.0.await.map_err(|_| stopped())?.map(|_| ())
    }
}

/// Hands the early jobs of a committed group their values; their answers
/// proper (given after the fsync) carry nothing.
fn hand_back_early(committed: &mut Committed) {
    for (value, _) in committed.iter_mut() {
        if value.is::<Early>()
            && let Ok(early) = std::mem::replace(value, Box::new(())).downcast::<Early>()
        {
            let _ = early.to.send(early.value);
        }
    }
}

/// A handle on one database's writer task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GroupWriter {
    queue: mpsc::Sender<Message>,
}

fn stopped() -> StoreError {
    StoreError::Conflict("the database writer has stopped; try again".into())
}

impl GroupWriter {
    /// Starts the writer on its own connection. With a database `file`,
    /// the connection must commit without an fsync (`synchronous=NORMAL`)
    /// and without automatic checkpoints: both run beside the writer.
    ///
    /// The group loop runs on a thread of its own. A job is several round
    /// trips to the connection's thread; on the shared runtime each answer
    /// woke the job behind up to sixteen requests' TLS and JSON work, and
    /// the writer, which every write waits for, spent most of its time
    /// queued rather than writing.
    pub(crate) fn start(
        connection: SqliteConnection,
        file: Option<DatabaseFile>,
    ) -> Result<Self, StoreError> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        // The fsync and checkpoint tasks stay on the caller's runtime.
        let housekeeping = file.map(Housekeeping::start);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                path: "the database writer's runtime".into(),
                source,
            })?;
        std::thread::Builder::new()
            .name("citadel-writer".into())
            .spawn(move || runtime.block_on(run(connection, jobs, housekeeping)))
            .map_err(|source| StoreError::Io {
                path: "the database writer's thread".into(),
                source,
            })?;
        Ok(Self { queue })
    }

    /// Runs `job` in the next group and returns its value once the group's
    /// commit is durable; inside `deferring_durability`, once it has
    /// committed, with the wait for its fsync left in the scope's
    /// `Pending`.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
            )
                -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
            + Send
            + 'static,
    {
        let deferred = crate::durability::deferred();
        let (to, early) = match deferred {
            Some(_) => {
                let (to, early) = oneshot::channel();
                (Some(to), Some(early))
            }
            None => (None, None),
        };
        let run: JobFn = Box::new(move |conn| {
            let future = job(conn);
            Box::pin(async move {
                let value: Box<dyn Any + Send> = Box::new(future.await?);
                Ok(match to {
                    Some(to) => Box::new(Early { value, to }),
                    None => value,
                })
            })
        });
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Message::Job { run, done })
            .await
            .map_err(|_| stopped())?;
        let value = match (early, deferred) {
            (Some(early), Some(pending)) => match early.await {
                Ok(value) => {
                    pending.push(Durable(answer));
                    value
                }
                // The job or its commit failed, and its answer says why.
                Err(_) => {
                    return Err(answer
                        .await
                        .map_err(|_| stopped())?
                        .err()
                        .unwrap_or_else(stopped));
                }
            },
            _ => answer.await.map_err(|_| stopped())??,
        };
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::Corrupt("group commit returned the wrong type".into()))
    }

    /// Waits for the writes queued before this call to commit, then holds
    /// the writer until the returned pause is dropped. A pause must not
    /// be held across a call that writes through the writer, or across a
    /// second pause: either would wait for itself.
    pub(crate) async fn pause(&self) -> Result<WriterPause, StoreError> {
        let (paused, granted) = oneshot::channel();
        self.queue
            .send(Message::Pause(paused))
            .await
            .map_err(|_| stopped())?;
        granted.await.map_err(|_| stopped())
    }

    /// Finishes the queued writes and closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Message>,
    housekeeping: Option<Housekeeping>,
) {
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut group = Vec::with_capacity(MAX_GROUP);
        let mut pause = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Job { run, done } => group.push((run, done)),
                Message::Pause(paused) => {
                    pause = Some(paused);
                    break;
                }
                Message::Close(ack) => {
                    closing = Some(ack);
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_and_hand_over(&mut conn, group, housekeeping.as_ref()).await;
        }
        if let Some(paused) = pause {
            let (resume, resumed) = oneshot::channel();
            // A requester that has gone away leaves nothing to wait for.
            if paused.send(WriterPause { _resume: resume }).is_ok() {
                let _ = resumed.await;
            }
        }
    }
    if let Some(house) = housekeeping {
        // Every commit answered before the connection (and with it,
        // perhaps, the WAL file) goes away.
        house.finish().await;
    }
    // Closing the last connection checkpoints what is left.
    let _ = conn.close().await;
    if let Some(ack) = closing {
        let _ = ack.send(());
    }
}

/// Commits a group and answers it: in memory at once, for a database file
/// once the housekeeping has synced the WAL.
async fn commit_and_hand_over(
    conn: &mut SqliteConnection,
    group: Vec<(JobFn, Answer)>,
    housekeeping: Option<&Housekeeping>,
) {
    let Some(house) = housekeeping else {
        // In memory: the commit is all there is.
        let mut committed = commit_group(conn, group).await;
        hand_back_early(&mut committed);
        answer(committed);
        return;
    };
    if house.failed() {
        refuse_group(group, "an earlier write could not be made durable".into());
        return;
    }
    let mut committed = commit_group(conn, group).await;
    hand_back_early(&mut committed);
    house.committed(committed);
    if house.after_commit()
        && let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await
    {
        tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
    }
}

/// A job whose panic becomes its own error: its savepoint is rolled back
/// like any failed job's, and the writer lives on for the tenant's other
/// writes instead of dying with the task.
struct Guarded<'c>(JobFuture<'c>);

impl Future for Guarded<'_> {
    type Output = Result<Box<dyn Any + Send>, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let job = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| job.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(Err(StoreError::Corrupt(
                "a write failed unexpectedly and was rolled back".into(),
            ))),
        }
    }
}

fn answer(committed: Committed) {
    for (value, done) in committed {
        let _ = done.send(Ok(value));
    }
}

fn refuse_group(group: Vec<(JobFn, Answer)>, reason: String) {
    for (_, done) in group {
        let _ = done.send(Err(StoreError::CommitFailed(reason.clone())));
    }
}

/// Runs a group in one transaction and returns the answers of the jobs
/// that are in its commit (the others are answered already).
async fn commit_group(conn: &mut SqliteConnection, group: Vec<(JobFn, Answer)>) -> Committed {
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        refuse_group(group, e.to_string());
        return Vec::new();
    }
    let mut succeeded = Vec::with_capacity(group.len());
    for (run, done) in group {
        let outcome = match conn.execute("SAVEPOINT job").await {
            Ok(_) => Guarded(run(conn)).await,
            Err(e) => Err(StoreError::Database(e)),
        };
        match outcome {
            Ok(value) => match conn.execute("RELEASE job").await {
                Ok(_) => succeeded.push((value, done)),
                Err(e) => {
                    let _ = conn.execute("ROLLBACK TO job").await;
                    let _ = conn.execute("RELEASE job").await;
                    let _ = done.send(Err(StoreError::Database(e)));
                }
            },
            Err(e) => {
                // Only this job's statements are undone.
                let _ = conn.execute("ROLLBACK TO job").await;
                let _ = conn.execute("RELEASE job").await;
                let _ = done.send(Err(e));
            }
        }
    }
    match conn.execute("COMMIT").await {
        Ok(_) => succeeded,
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            let reason = e.to_string();
            for (_, done) in succeeded {
                let _ = done.send(Err(StoreError::CommitFailed(reason.clone())));
            }
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqlitePool};

    use super::*;
    use crate::wal::DatabaseFile;

    fn job<T: Send + 'static>(
        sql: &'static str,
        value: T,
    ) -> impl for<'c> FnOnce(
        &'c mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
    + Send
    + 'static {
        move |conn| {
            Box::pin(async move {
                conn.execute(sql).await?;
                Ok(value)
            })
        }
    }

    #[tokio::test]
    async fn a_failing_or_panicking_job_undoes_only_itself() {
        let conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        let writer = GroupWriter::start(conn, None).expect("writer");
        writer
            .write(job("CREATE TABLE t (n INTEGER PRIMARY KEY)", ()))
            .await
            .expect("create");
        let (first, failing, panicking, last) = tokio::join!(
            writer.write(job("INSERT INTO t VALUES (1)", 1)),
            writer.write(job("INSERT INTO t VALUES (1)", 2)),
            writer.write(|conn: &mut SqliteConnection| -> JobFuture<'_> {
                Box::pin(async move {
                    conn.execute("INSERT INTO t VALUES (3)").await?;
                    panic!("a bug in a job");
                })
            }),
            writer.write(job("INSERT INTO t VALUES (4)", 4)),
        );
        assert_eq!(first.expect("first"), 1);
        assert!(
            matches!(failing, Err(StoreError::Database(_))),
            "duplicate key"
        );
        assert!(matches!(panicking, Err(StoreError::Corrupt(_))));
        assert_eq!(last.expect("last"), 4);
        let rows: Vec<i64> = writer
            .write(|conn: &mut SqliteConnection| -> Pin<Box<dyn Future<Output = Result<Vec<i64>, StoreError>> + Send + '_>> {
                Box::pin(async move {
                    Ok(sqlx::query_scalar("SELECT n FROM t ORDER BY n")
                        .fetch_all(&mut *conn)
                        .await?)
                })
            })
            .await
            .expect("read");
        assert_eq!(
            rows,
            vec![1, 4],
            "the panicking job's insert was rolled back"
        );
        writer.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_writer_leaves_the_lock_to_another_connection() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        use sqlx::ConnectOptions;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

        let dir = tempfile::tempdir().expect("tempdir");
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("data.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let writer =
            GroupWriter::start(options.connect().await.expect("writer"), None).expect("writer");
        writer
            .write(job("CREATE TABLE t (n INTEGER)", ()))
            .await
            .expect("create");
        // A stream of writes that keeps the writer taking the lock.
        let stop = Arc::new(AtomicBool::new(false));
        let mut streams = Vec::new();
        for _ in 0..4 {
            let (writer, stop) = (writer.clone(), Arc::clone(&stop));
            streams.push(tokio::spawn(async move {
                let mut written = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    writer
                        .write(job("INSERT INTO t VALUES (1)", ()))
                        .await
                        .expect("stream write");
                    written += 1;
                }
                written
            }));
        }
        // No busy timeout: the insert fails at once if the lock is taken.
        let mut other = options
            .busy_timeout(std::time::Duration::ZERO)
            .connect()
            .await
            .expect("other connection");
        for _ in 0..20 {
            let pause = writer.pause().await.expect("pause");
            other
                .execute("INSERT INTO t VALUES (2)")
                .await
                .expect("the lock is free while the writer is paused");
            drop(pause);
            tokio::task::yield_now().await;
        }
        stop.store(true, Ordering::Relaxed);
        for stream in streams {
            assert!(stream.await.expect("stream") > 0, "the writer resumed");
        }
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t WHERE n = 2")
            .fetch_one(&mut other)
            .await
            .expect("count");
        assert_eq!(seen, 20);
        writer.close().await;
    }

    /// A writer on `dir/data.db` set up as a tenant's (WAL, commits without
    /// their own fsync, no automatic checkpoints). With `failing_disk` its
    /// WAL cannot be opened for the fsync, which stands for a failing disk.
    async fn file_writer(dir: &std::path::Path, failing_disk: bool) -> GroupWriter {
        use sqlx::ConnectOptions;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

        let options = SqliteConnectOptions::new()
            .filename(dir.join("data.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", "0");
        let readers = SqlitePool::connect_with(options.clone())
            .await
            .expect("readers");
        let wal = match failing_disk {
            true => dir.join("missing").join("data.db-wal"),
            false => dir.join("data.db-wal"),
        };
        GroupWriter::start(
            options.connect().await.expect("writer"),
            Some(DatabaseFile { readers, wal }),
        )
        .expect("writer")
    }

    #[tokio::test]
    async fn a_deferred_write_answers_at_its_commit_and_leaves_its_fsync_pending() {
        use crate::durability::deferring_durability;

        let dir = tempfile::tempdir().expect("tempdir");
        let writer = file_writer(dir.path(), false).await;
        writer
            .write(job("CREATE TABLE t (n INTEGER PRIMARY KEY)", ()))
            .await
            .expect("create");
        let ((written, refused), pending) = deferring_durability(async {
            (
                writer.write(job("INSERT INTO t VALUES (1)", 1)).await,
                writer.write(job("INSERT INTO t VALUES (1)", 2)).await,
            )
        })
        .await;
        assert_eq!(written.expect("committed"), 1);
        assert!(refused.is_err(), "a failed job is answered with its error");
        assert!(
            !pending.is_empty(),
            "the committed write's fsync is pending"
        );
        pending.wait().await.expect("then durable");
        writer.close().await;

        // On a failing disk the write is answered at its commit, and the
        // wait says it never became durable.
        let broken = file_writer(dir.path(), true).await;
        let (written, pending) =
            deferring_durability(broken.write(job("INSERT INTO t VALUES (2)", 2))).await;
        assert_eq!(written.expect("committed"), 2);
        let durable = pending.wait().await;
        assert!(
            matches!(durable, Err(StoreError::CommitFailed(_))),
            "{durable:?}"
        );
        broken.close().await;
    }

    #[tokio::test]
    async fn nothing_is_acknowledged_before_the_wal_is_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let broken = file_writer(dir.path(), true).await;
        let first = broken.write(job("CREATE TABLE t (n INTEGER)", ())).await;
        assert!(
            matches!(first, Err(StoreError::CommitFailed(_))),
            "{first:?}"
        );
        let later = broken.write(job("INSERT INTO t VALUES (1)", ())).await;
        assert!(
            matches!(later, Err(StoreError::CommitFailed(_))),
            "after a failed fsync nothing more is acknowledged: {later:?}"
        );
        broken.close().await;

        let writer = file_writer(dir.path(), false).await;
        writer
            .write(job("CREATE TABLE u (n INTEGER)", ()))
            .await
            .expect("synced, then acknowledged");
        writer.close().await;
    }
}
