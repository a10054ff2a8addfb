//! Group commit for a tenant's SQLite database.
//!
//! Every acknowledged write must be on disk (`synchronous=FULL`: the WAL is
//! fsynced at each commit), and an fsync costs about half a millisecond
//! here. One writer task owns a connection; writes queue for it, and it
//! runs everything queued in one transaction, each job inside its own
//! savepoint, then commits once. A job that fails is rolled back to its
//! savepoint alone and answered at once; the others are answered after
//! the commit has reached the disk. Under load many writes share an fsync;
//! alone, a write waits for nothing but its own.
//!
//! Copying the WAL back into the database (a checkpoint) is not the
//! writer's work either: SQLite would do it inside the commit that crosses
//! its threshold, so that commit (and every write queued behind it) would
//! wait for the copy and a second fsync. The writer's connection has
//! automatic checkpoints off; after commits, a task of its own runs a
//! passive checkpoint on a reader connection, at most every
//! [`CHECKPOINT_PAUSE`], beside the writer's next group. A page rewritten by
//! many commits in that pause is copied once. Under a steady stream of
//! commits such a checkpoint never catches up with the WAL's end, and the
//! WAL only starts over from its beginning once it has; so when the WAL
//! passes [`RESTART_FRAMES`], the writer checkpoints the little that is
//! left itself, between two groups, and its next commit starts it over.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use sqlx::{Connection, Executor, SqliteConnection, SqlitePool};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::StoreError;

/// Most jobs that share one transaction: bounds how long the first waits.
const MAX_GROUP: usize = 64;
/// Writes waiting beyond this are refused (the queue is a buffer, not a store).
const QUEUE: usize = 4096;
/// Least time between two checkpoints while writes go on.
/// (Measured: at 200 ms the DB file's fsyncs, contending with the WAL's,
/// doubled the p99 of single-record updates.)
const CHECKPOINT_PAUSE: Duration = Duration::from_secs(1);
/// A WAL longer than this (in pages, 4 KiB each) is caught up by the writer.
const RESTART_FRAMES: i64 = 8192;

type JobFuture<'c> =
    Pin<Box<dyn Future<Output = Result<Box<dyn Any + Send>, StoreError>> + Send + 'c>>;
type JobFn = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c> + Send>;

/// Where a job's outcome goes once it is known to be durable (or failed).
type Answer = oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>;

enum Message {
    Job { run: JobFn, done: Answer },
    Close(oneshot::Sender<()>),
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
    /// Starts the writer on its own connection. With `checkpoints`, the
    /// connection must have automatic checkpoints off: they run on that
    /// pool after commits instead.
    pub(crate) fn start(connection: SqliteConnection, checkpoints: Option<SqlitePool>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let checkpointer = checkpoints.map(|pool| {
            let signals = Arc::new(Checkpoints::default());
            let task = tokio::spawn(checkpoint_after_commits(pool, Arc::clone(&signals)));
            (signals, task)
        });
        tokio::spawn(run(connection, jobs, checkpointer));
        Self { queue }
    }

    /// Runs `job` in the next group and returns its value once the group's
    /// commit is durable.
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
        let run: JobFn = Box::new(move |conn| {
            let future = job(conn);
            Box::pin(async move { future.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Message::Job { run, done })
            .await
            .map_err(|_| stopped())?;
        let value = answer.await.map_err(|_| stopped())??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::Corrupt("group commit returned the wrong type".into()))
    }

    /// Finishes the queued writes and closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// Between the writer and its checkpointer.
#[derive(Default)]
struct Checkpoints {
    /// Commits happened since the last checkpoint.
    due: Notify,
    /// The WAL has grown past [`RESTART_FRAMES`].
    wal_long: AtomicBool,
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

async fn run(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Message>,
    checkpointer: Option<(Arc<Checkpoints>, tokio::task::JoinHandle<()>)>,
) {
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut group = Vec::with_capacity(MAX_GROUP);
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Job { run, done } => group.push((run, done)),
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
            commit_group(&mut conn, group).await;
            if let Some((signals, _)) = &checkpointer {
                if signals.wal_long.swap(false, Ordering::Relaxed)
                    && let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await
                {
                    tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
                }
                signals.due.notify_one();
            }
        }
    }
    if let Some((_, task)) = checkpointer {
        task.abort();
    }
    // Closing the last connection checkpoints what is left.
    let _ = conn.close().await;
    if let Some(ack) = closing {
        let _ = ack.send(());
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

async fn commit_group(conn: &mut SqliteConnection, group: Vec<(JobFn, Answer)>) {
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        let reason = e.to_string();
        for (_, done) in group {
            let _ = done.send(Err(StoreError::CommitFailed(reason.clone())));
        }
        return;
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
        Ok(_) => {
            for (value, done) in succeeded {
                let _ = done.send(Ok(value));
            }
        }
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            let reason = e.to_string();
            for (_, done) in succeeded {
                let _ = done.send(Err(StoreError::CommitFailed(reason.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

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
        let writer = GroupWriter::start(conn, None);
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
}
