//! Writes answered at their commit, with their durability awaited later.
//!
//! A request the audit layer records waits for two durable commits: its
//! writes' and its event's. In a row they were a fifth of a records API
//! write's time. Inside [`deferring_durability`] a write answers as soon
//! as it has committed and leaves the wait for its durability in the
//! returned [`Pending`]; the caller records the event meanwhile and must
//! see both durable before it answers anyone.
//!
//! - **SQLite**: a group-commit write answers at its group's commit; the
//!   fsync of the WAL that covers it is awaited through `Pending`.
//! - **PostgreSQL**: a record write commits with `synchronous_commit =
//!   off` (committed and visible, its WAL not yet flushed). PostgreSQL's
//!   WAL is one sequence, and a synchronous commit returns once it is
//!   flushed through its own commit record: every commit made before it
//!   is then durable too. The audit event's commit, made after the
//!   writes on the same server, is that synchronous commit; where no
//!   event follows, [`Pending::wait`] makes one (a transaction with an id
//!   and nothing else).
//!
//! An acknowledged write is still durable; what changes is that a power
//! cut between the two can leave a committed write without its event or
//! (on SQLite) an event without its write, where before it could only
//! leave the first.
//!
//! Outside that scope (the CLI, background jobs, tasks a handler spawns)
//! a write is durable before it answers, as always.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::PgPool;

use crate::StoreError;
use crate::group_commit::Durable;

tokio::task_local! {
    static DEFERRED: Pending;
}

/// What writes made inside a [`deferring_durability`] scope have left to
/// wait for.
#[derive(Clone, Default)]
#[must_use = "the writes are not known to be durable until `wait` returns Ok"]
pub struct Pending(Arc<Mutex<Deferred>>);

#[derive(Default)]
struct Deferred {
    /// SQLite commits waiting for their WAL's fsync.
    fsyncs: Vec<Durable>,
    /// A PostgreSQL server holding commits whose WAL is not yet flushed.
    unflushed: Option<PgPool>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl Pending {
    fn deferred(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every deferred write is durable; an error if one could
    /// not be made so.
    pub async fn wait(self) -> Result<(), StoreError> {
        self.wait_for_fsyncs().await?;
        let unflushed = self.deferred().unflushed.take();
        match unflushed {
            Some(pool) => flush_wal(&pool).await,
            None => Ok(()),
        }
    }

    /// Waits for the SQLite fsyncs only, leaving PostgreSQL's commits to
    /// the caller's next synchronous commit on the same server, made after
    /// this scope's writes (the audit event's), which flushes the WAL past
    /// them.
    pub async fn wait_for_fsyncs(&self) -> Result<(), StoreError> {
        let fsyncs = std::mem::take(&mut self.deferred().fsyncs);
        let mut outcome = Ok(());
        for durable in fsyncs {
            if let Err(e) = durable.wait().await {
                outcome = Err(e);
            }
        }
        outcome
    }

    pub(crate) fn push(&self, durable: Durable) {
        self.deferred().fsyncs.push(durable);
    }

    pub(crate) fn unflushed_on(&self, pool: &PgPool) {
        self.deferred().unflushed = Some(pool.clone());
    }

    /// True if nothing was deferred.
    pub fn is_empty(&self) -> bool {
        let deferred = self.deferred();
        deferred.fsyncs.is_empty() && deferred.unflushed.is_none()
    }
}

/// Runs `work` with its writes answered at their commit.
pub async fn deferring_durability<F: Future>(work: F) -> (F::Output, Pending) {
    let pending = Pending::default();
    let output = DEFERRED.scope(pending.clone(), work).await;
    (output, pending)
}

/// A synchronous commit that writes nothing but its own commit record
/// (the transaction is given an id): PostgreSQL returns once the WAL is
/// flushed through it, and so past every commit made before it.
async fn flush_wal(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A record write's transaction on PostgreSQL. Inside a
/// [`deferring_durability`] scope its commit returns before its WAL is
/// flushed, and the flush is left to the scope (see `Pending`). The
/// setting rides with the BEGIN, which sqlx queues in front of the first
/// statement: no round trip of its own.
pub(crate) async fn begin_record_write(
    pool: &PgPool,
) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, Option<Pending>), StoreError> {
    Ok(match deferred() {
        Some(pending) => (
            pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off")
                .await?,
            Some(pending),
        ),
        None => (pool.begin().await?, None),
    })
}

/// The scope's pending list, if the caller runs inside one.
pub(crate) fn deferred() -> Option<Pending> {
    DEFERRED.try_with(Pending::clone).ok()
}
