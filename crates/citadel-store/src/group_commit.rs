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
    /// Starts the writer on its own connection. With a database `file`,
    /// the connection must commit without an fsync (`synchronous=NORMAL`)
    /// and without automatic checkpoints: both run beside the writer.
    pub(crate) fn start(connection: SqliteConnection, file: Option<DatabaseFile>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, jobs, file.map(Housekeeping::start)));
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
        if group.is_empty() {
            continue;
        }
        let Some(house) = &housekeeping else {
            // In memory: the commit is all there is.
            answer(commit_group(&mut conn, group).await);
            continue;
        };
        if house.failed() {
            refuse_group(group, "an earlier write could not be made durable".into());
            continue;
        }
        house.committed(commit_group(&mut conn, group).await);
        if house.after_commit()
            && let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await
        {
            tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
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

    #[tokio::test]
    async fn nothing_is_acknowledged_before_the_wal_is_synced() {
        use sqlx::ConnectOptions;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", "0");
        let readers = SqlitePool::connect_with(options.clone())
            .await
            .expect("readers");
        // A WAL that cannot be opened for its fsync stands for a failing disk.
        let broken = GroupWriter::start(
            options.connect().await.expect("writer"),
            Some(DatabaseFile {
                readers: readers.clone(),
                wal: dir.path().join("missing").join("data.db-wal"),
            }),
        );
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

        let writer = GroupWriter::start(
            options.connect().await.expect("writer"),
            Some(DatabaseFile {
                readers,
                wal: path.with_file_name("data.db-wal"),
            }),
        );
        writer
            .write(job("CREATE TABLE u (n INTEGER)", ()))
            .await
            .expect("synced, then acknowledged");
        writer.close().await;
    }
}
