//! Reader connections of a tenant's SQLite database for the reads every
//! request makes (the token's lookup, a record, a page), kept beside sqlx's
//! pool rather than in it.
//!
//! sqlx tests each connection handed back to its pool with a ping, on a
//! task it spawns; on SQLite that is a round trip to the connection's
//! thread. A get makes two queries, so half of its thread hand-offs were
//! pings, there to catch a connection left mid-query by a cancelled
//! future. Here a connection goes back to the idle list only when the
//! read that used it ran to its end; a cancelled read's connection is
//! closed instead, and keeps its slot until its thread has stopped.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, SqlitePool, pool::PoolConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::StoreError;

/// A bounded set of reader connections. Cheap to clone.
#[derive(Clone)]
pub struct QuickReaders(Arc<Inner>);

struct Inner {
    options: SqliteConnectOptions,
    /// One permit per connection that may be open at once.
    permits: Arc<Semaphore>,
    max: u32,
    idle: Mutex<Vec<SqliteConnection>>,
}

impl fmt::Debug for QuickReaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuickReaders")
            .field("available", &self.0.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl QuickReaders {
    pub(crate) fn new(options: SqliteConnectOptions, max: u32) -> Self {
        let max = max.max(1);
        Self(Arc::new(Inner {
            options,
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            idle: Mutex::new(Vec::new()),
        }))
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        // Each critical section is one push or pop: nothing to repair.
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a connection: an idle one, or a new one while fewer than
    /// the most are open. Fails once [`Self::close`] has run.
    pub(crate) async fn take(&self) -> Result<QuickReader, StoreError> {
        let permit = Arc::clone(&self.0.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.0.options.connect().await?,
        };
        Ok(QuickReader {
            conn: Some(conn),
            permit: Some(permit),
            home: self.clone(),
        })
    }

    /// Waits for the reads in progress to end and their abandoned
    /// connections' threads to stop (as a pool's close does, so a destroy
    /// does not wipe files under a connection), closes the idle ones, and
    /// refuses every later [`Self::take`]. The closing runs on a task of
    /// its own holding every permit, so a caller that gives up waiting
    /// leaves it to finish, and a later call waits for it.
    pub(crate) async fn close(&self) {
        // The semaphore is fair: takes that come after this wait behind it.
        let Ok(all) = Arc::clone(&self.0.permits)
            .acquire_many_owned(self.0.max)
            .await
        else {
            return; // closed already, every connection with it
        };
        let readers = self.clone();
        let closing = tokio::spawn(async move {
            let idle = std::mem::take(&mut *readers.idle());
            for conn in idle {
                let _ = sqlx::Connection::close(conn).await;
            }
            readers.0.permits.close();
            drop(all);
        });
        let _ = closing.await;
    }
}

/// A connection taken from [`QuickReaders`]. Dropped without
/// [`Self::finished`] (its read was cancelled or failed midway), its
/// connection is closed, not reused; its permit is held until the
/// connection's thread has stopped, so the limit counts live threads and
/// [`QuickReaders::close`] waits for them.
pub(crate) struct QuickReader {
    /// Always present until `finished` or `drop` takes it.
    conn: Option<SqliteConnection>,
    permit: Option<OwnedSemaphorePermit>,
    home: QuickReaders,
}

impl QuickReader {
    fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.conn
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))
    }

    /// Hands the connection back for reuse: the read that used it ran to
    /// its end, so no statement of it is left half-stepped. The permit is
    /// released after the push, so a waiter finds the connection idle.
    pub(crate) fn finished(mut self) {
        if !self.home.0.permits.is_closed()
            && let Some(conn) = self.conn.take()
        {
            self.home.idle().push(conn);
        }
        // Drop closes a connection not handed back (the readers closed).
    }
}

impl Drop for QuickReader {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let permit = self.permit.take();
        // A running statement finishes on the connection's thread before
        // the close is taken: hold the permit until then.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = sqlx::Connection::close(conn).await;
                drop(permit);
            });
        }
    }
}

/// A reader for one read: a quick one on a tenant database, a pool
/// connection on the platform database (which has no quick readers).
pub(crate) enum SqliteReader {
    Quick(QuickReader),
    Pooled(PoolConnection<sqlx::Sqlite>),
}

impl SqliteReader {
    pub(crate) async fn take(
        pool: &SqlitePool,
        quick: Option<&QuickReaders>,
    ) -> Result<Self, StoreError> {
        Ok(match quick {
            Some(quick) => Self::Quick(quick.take().await?),
            None => Self::Pooled(pool.acquire().await?),
        })
    }

    pub(crate) fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        match self {
            Self::Quick(reader) => reader.connection(),
            Self::Pooled(conn) => Ok(conn),
        }
    }

    pub(crate) fn finished(self) {
        match self {
            Self::Quick(reader) => reader.finished(),
            // The pool tests and keeps it as it always does.
            Self::Pooled(conn) => drop(conn),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn readers(dir: &tempfile::TempDir, max: u32) -> QuickReaders {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("data.db"))
            .create_if_missing(true);
        QuickReaders::new(options, max)
    }

    fn idle_count(readers: &QuickReaders) -> usize {
        readers.idle().len()
    }

    async fn one(reader: &mut QuickReader) -> i64 {
        sqlx::query_scalar("SELECT 1")
            .fetch_one(reader.connection().expect("connection"))
            .await
            .expect("select")
    }

    #[tokio::test]
    async fn a_finished_read_keeps_its_connection_and_an_abandoned_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(&dir, 2);
        let mut reader = readers.take().await.expect("take");
        assert_eq!(one(&mut reader).await, 1);
        reader.finished();
        assert_eq!(idle_count(&readers), 1, "kept for the next read");

        let mut reader = readers.take().await.expect("take again");
        assert_eq!(idle_count(&readers), 0, "the idle one was reused");
        assert_eq!(one(&mut reader).await, 1);
        drop(reader); // as when a request's future is cancelled mid-read
        assert_eq!(
            idle_count(&readers),
            0,
            "an abandoned connection is not reused"
        );
        tokio::time::timeout(Duration::from_secs(5), async {
            while readers.0.permits.available_permits() < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("its slot is free once its thread has stopped");
    }

    #[tokio::test]
    async fn an_abandoned_read_holds_its_slot_until_its_statement_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(&dir, 1);
        let read = {
            let readers = readers.clone();
            tokio::spawn(async move {
                let mut reader = readers.take().await.expect("take");
                // Seconds of work on the connection's thread.
                let _: i64 = sqlx::query_scalar(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                     WHERE x < 20000000) SELECT count(*) FROM c",
                )
                .fetch_one(reader.connection().expect("connection"))
                .await
                .expect("count");
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        read.abort(); // the request goes away mid-statement
        assert!(read.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(
            readers.0.permits.available_permits(),
            0,
            "the slot stays taken while the statement runs on"
        );
        tokio::time::timeout(Duration::from_secs(60), readers.close())
            .await
            .expect("close waits for the thread to stop, then ends");
        assert!(readers.0.permits.is_closed());
    }

    #[tokio::test]
    async fn takes_beyond_the_most_wait_for_a_finished_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(&dir, 1);
        let first = readers.take().await.expect("take");
        let waiting = tokio::time::timeout(Duration::from_millis(100), readers.take()).await;
        assert!(waiting.is_err(), "a second connection is not opened");
        let next = {
            let readers = readers.clone();
            tokio::spawn(async move { readers.take().await.map(|r| r.finished()) })
        };
        first.finished();
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("the waiter gets the finished connection")
            .expect("join")
            .expect("take");
        assert_eq!(idle_count(&readers), 1, "one connection served both");
    }

    #[tokio::test]
    async fn close_waits_for_reads_in_progress_then_refuses_takes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(&dir, 2);
        readers.take().await.expect("take").finished();
        let busy = readers.take().await.expect("take");
        let closing = {
            let readers = readers.clone();
            tokio::spawn(async move { readers.close().await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !closing.is_finished(),
            "close waits for the read in progress"
        );
        busy.finished();
        tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .expect("close ends once the read has")
            .expect("join");
        assert_eq!(idle_count(&readers), 0, "idle connections closed");
        assert!(matches!(
            readers.take().await,
            Err(StoreError::Database(sqlx::Error::PoolClosed))
        ));
    }
}
