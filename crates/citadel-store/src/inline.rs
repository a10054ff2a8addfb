//! Reads of a tenant's SQLite database that run on the calling thread.
//!
//! A read through sqlx runs on the connection's own thread: the request's
//! task hands the statement over, that thread wakes, steps it, copies
//! every value of every row and hands them back, and the task wakes again.
//! For the point reads every request makes (its token or session, its
//! user, a record by id: a few pages each) those hand-offs cost more CPU
//! than the read itself. Here such a read runs where it is asked for,
//! on a connection of its own, and never waits: with no connection free,
//! or with SQLite busy, it says so and the caller reads the usual way.
//! A page of records is read here too; a read that outgrows a few
//! milliseconds (a filter no index serves, a count over a large table,
//! pages not yet in memory) is stopped and read the usual way, so it never
//! holds up the other requests on its thread for long.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::StoreError;

/// At most this many connections: reads run on the runtime's worker
/// threads, so no more than there are workers run at once.
const MOST: usize = 4;

/// Each connection's page cache, in KiB (SQLite reads a negative size so).
const INLINE_CACHE_KIB: i64 = -512;

/// SQLite calls a connection's progress handler after about this many
/// virtual-machine instructions (a page of 50 sorted records runs about
/// a thousand), and the handler looks at the clock.
const STEPS_PER_CHECK: i32 = 1_000;

/// How long a read may run inline. A page of 50 records from memory takes
/// a few hundred microseconds; a read that needs more is interrupted and
/// read the usual way, off the runtime's threads, so the requests sharing
/// this thread wait at most this long for it.
const INLINE_TIME: Duration = Duration::from_millis(3);

/// A tenant database's connections for reads on the calling thread. Cheap
/// to clone.
#[derive(Clone)]
pub(crate) struct InlineReaders(Arc<Inner>);

struct Inner {
    path: PathBuf,
    /// What the connections' deadlines are counted from.
    epoch: Instant,
    idle: Mutex<Vec<Budgeted>>,
    /// Connections open, idle or in use.
    open: AtomicUsize,
    /// Reads running now; [`InlineReaders::close`] waits for none.
    running: AtomicUsize,
    closed: AtomicBool,
}

impl fmt::Debug for InlineReaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineReaders")
            .field("open", &self.0.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A connection and when its current read must stop, in microseconds
/// after [`Inner::epoch`].
struct Budgeted {
    conn: Connection,
    deadline: Arc<AtomicU64>,
}

/// Why an inline read gave no value. Only `Failed` is an answer; after
/// the others the caller reads the usual way.
#[derive(Debug)]
pub(crate) enum InlineError {
    /// Every connection is in use, or the readers are closed.
    NoConnection,
    /// SQLite could not take its read lock at once.
    Busy,
    /// The read needed more work than a read on the calling thread may do.
    TooLong,
    /// The read ran and failed.
    Failed(StoreError),
}

/// Counts a read as running from its start to its end, however it ends.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl InlineReaders {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self(Arc::new(Inner {
            path,
            epoch: Instant::now(),
            idle: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }))
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Budgeted>> {
        // Each critical section is one push, pop or take: nothing to repair.
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An existing database file, read-write (a WAL reader writes its
    /// shared-memory index) but refusing to change the database, never
    /// created, the path never read as a URI, and no waiting on locks.
    fn connect(&self) -> Result<Budgeted, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.0.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        // Point reads: the b-trees' upper levels stay cached, leaves of a
        // large table mostly miss whatever the size. SQLite's default of
        // 2 MiB each is memory the reads do not need.
        conn.pragma_update(None, "cache_size", INLINE_CACHE_KIB)?;
        let deadline = Arc::new(AtomicU64::new(0));
        let (epoch, until) = (self.0.epoch, Arc::clone(&deadline));
        conn.progress_handler(
            STEPS_PER_CHECK,
            Some(move || micros(epoch.elapsed()) > until.load(Ordering::Relaxed)),
        )?;
        Ok(Budgeted { conn, deadline })
    }

    /// Runs `read` on this thread on an idle or a new connection.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, InlineError> {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        let _running = Running(&self.0.running);
        if self.0.closed.load(Ordering::SeqCst) {
            return Err(InlineError::NoConnection);
        }
        let idle = self.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                if self.0.open.fetch_add(1, Ordering::SeqCst) >= MOST {
                    self.0.open.fetch_sub(1, Ordering::SeqCst);
                    return Err(InlineError::NoConnection);
                }
                match self.connect() {
                    Ok(conn) => conn,
                    Err(e) => {
                        self.0.open.fetch_sub(1, Ordering::SeqCst);
                        return Err(if is_busy(&e) {
                            InlineError::Busy
                        } else {
                            InlineError::Failed(e.into())
                        });
                    }
                }
            }
        };
        let until = micros(self.0.epoch.elapsed() + INLINE_TIME);
        conn.deadline.store(until, Ordering::Relaxed);
        let out = read(&conn.conn);
        // Statements are reset when their rows are dropped, so the
        // connection holds no read lock and can be used again.
        if self.0.closed.load(Ordering::SeqCst) {
            drop(conn);
            self.0.open.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.idle().push(conn);
        }
        out.map_err(|e| match e {
            StoreError::Inline(e) if is_busy(&e) => InlineError::Busy,
            StoreError::Inline(e)
                if e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) =>
            {
                InlineError::TooLong
            }
            e => InlineError::Failed(e),
        })
    }

    /// Closes the idle connections, refuses later reads and waits for the
    /// running ones, so a destroy does not wipe files under a connection.
    pub(crate) async fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        let idle = std::mem::take(&mut *self.idle());
        self.0.open.fetch_sub(idle.len(), Ordering::SeqCst);
        drop(idle);
        while self.0.running.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // A read that ended while the idle ones were taken put its
        // connection back: close it too.
        let late = std::mem::take(&mut *self.idle());
        self.0.open.fetch_sub(late.len(), Ordering::SeqCst);
    }
}

/// The first row of `sql` with `params`, decoded, if there is one.
pub(crate) fn first_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(decode).transpose()
}

fn micros(since_epoch: Duration) -> u64 {
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

/// Steps through the rows of `sql` with `params`, handing each to `take`
/// until it returns `false` or the rows end.
pub(crate) fn each_row(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut take: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    while let Some(row) = rows.next()? {
        if !take(row)? {
            break;
        }
    }
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A row read inline, answering `try_get::<T, _>("column")` as sqlx's rows
/// do, so one decoding serves both.
pub(crate) struct InlineRow<'a, 'b>(pub(crate) &'a rusqlite::Row<'b>);

impl InlineRow<'_, '_> {
    pub(crate) fn try_get<T: rusqlite::types::FromSql, I: rusqlite::RowIndex>(
        &self,
        index: I,
    ) -> Result<T, rusqlite::Error> {
        self.0.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join("data.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7);",
        )
        .expect("schema");
        path
    }

    fn value(readers: &InlineReaders) -> Result<i64, InlineError> {
        readers.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT v FROM t")?
                .query_row([], |row| row.get(0))?)
        })
    }

    #[tokio::test]
    async fn reads_reuse_their_connection_and_refuse_to_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = InlineReaders::new(database(&dir));
        assert_eq!(value(&readers).expect("read"), 7);
        assert_eq!(value(&readers).expect("read again"), 7);
        assert_eq!(readers.0.open.load(Ordering::Relaxed), 1, "one connection");
        let write = readers.read(|conn| Ok(conn.execute("DELETE FROM t", [])?));
        assert!(matches!(write, Err(InlineError::Failed(_))), "query_only");
        assert_eq!(value(&readers).expect("still there"), 7);
    }

    #[tokio::test]
    async fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = InlineReaders::new(dir.path().join("absent.db"));
        assert!(matches!(value(&readers), Err(InlineError::Failed(_))));
        assert!(!dir.path().join("absent.db").exists());
        assert_eq!(readers.0.open.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_locked_database_is_left_to_the_usual_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = database(&dir);
        let readers = InlineReaders::new(path.clone());
        // An exclusive lock (as WAL recovery takes) keeps readers out.
        let holder = Connection::open(&path).expect("open");
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .expect("lock");
        assert!(matches!(value(&readers), Err(InlineError::Busy)));
        holder
            .execute_batch("COMMIT; PRAGMA locking_mode = NORMAL; SELECT 1 FROM t;")
            .expect("unlock");
        drop(holder);
        assert_eq!(value(&readers).expect("read after"), 7);
    }

    #[tokio::test]
    async fn a_read_past_its_budget_is_left_to_the_usual_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = InlineReaders::new(database(&dir));
        // Ten million rows of a recursive CTE: far past the budget.
        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                    LIMIT 10000000) SELECT count(*) FROM c";
        let counted =
            readers.read(|conn| first_row(conn, long, [], |row| Ok(row.get::<_, i64>(0)?)));
        assert!(matches!(counted, Err(InlineError::TooLong)), "{counted:?}");
        // The budget is each read's own: the next read runs whole.
        let mut seen = Vec::new();
        let stepped = readers.read(|conn| {
            let few = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                       LIMIT 1000) SELECT x FROM c";
            each_row(conn, few, [], |row| {
                seen.push(row.get::<_, i64>(0)?);
                Ok(seen.len() < 3)
            })
        });
        assert!(stepped.is_ok(), "{stepped:?}");
        assert_eq!(seen, [1, 2, 3], "stopped when told");
        assert_eq!(value(&readers).expect("read after"), 7);
    }

    #[tokio::test]
    async fn closed_readers_read_nothing_and_hold_no_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = InlineReaders::new(database(&dir));
        assert_eq!(value(&readers).expect("read"), 7);
        readers.close().await;
        assert!(matches!(value(&readers), Err(InlineError::NoConnection)));
        assert_eq!(readers.0.open.load(Ordering::Relaxed), 0);
    }
}
