//! A tenant's audit events in a SQLite file of their own, append-only.
//!
//! The file holds one table of events, numbered from 0 in the order they
//! were appended, each beside its leaf hash (`citadel-audit`). Triggers
//! refuse every UPDATE and DELETE, so the server's own code cannot change
//! history by mistake; someone with the file can drop them, and that is
//! what the signed tree heads and `AuditFile::check` are for. Writes are
//! fsynced before they return (WAL, `synchronous=FULL`).
//!
//! Not yet wired into the tenant's lifecycle or the server (issue 7):
//! the type is opened from a path and used by its tests.

use std::ops::Range;
use std::path::Path;

use citadel_audit::{
    AuditError, AuditEvent, Hash, LogCheck, Outcome, SignedTreeHead, StoredEvent, Tamper, TreeHash,
    Verified,
};
use citadel_crypto::suite::PublicKey;
use sqlx::sqlite::{SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use crate::StoreError;
use crate::db::BeginWrite;
use crate::sqlite::options;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    actor_ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    leaf BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_events_not_updated BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_not_deleted BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
";

/// The sequence number the next event gets: the file's size.
const NEXT_SEQ: &str = "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_events";

const INSERT_HEAD: &str = "INSERT INTO audit_events (seq, at_ms, actor_id, actor_name, actor_ip, \
     user_agent, request_id, action, targets, outcome, detail, leaf) VALUES ";

/// Rows per INSERT: 12 parameters each, well within SQLite's 32,766.
const ROWS_PER_INSERT: usize = 500;

/// Events read per query while a log is checked.
const CHECK_PAGE: u32 = 5_000;

/// One tenant's audit file.
pub struct AuditFile {
    pool: SqlitePool,
    hash: TreeHash,
}

impl AuditFile {
    /// Opens the file at `path`, creating it and its table if need be;
    /// its tree is built with `hash` (the tenant's suite's).
    pub async fn open(path: &Path, hash: TreeHash) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options(path, true)?)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool, hash })
    }

    pub fn tree_hash(&self) -> TreeHash {
        self.hash
    }

    /// Appends `events` in their order after the last one, all or none,
    /// and returns the sequence numbers they were given (each event's own
    /// `seq` is ignored).
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<Range<u64>, StoreError> {
        let mut tx = self.pool.begin_write().await?;
        let next: i64 = sqlx::query_scalar(NEXT_SEQ).fetch_one(&mut *tx).await?;
        let first = to_seq(next)?;
        let mut seq = first;
        // Many rows to a statement: each statement is a hand-off to the
        // connection's thread and back.
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<AuditEvent> = events.by_ref().take(ROWS_PER_INSERT).collect();
            let mut sql = String::with_capacity(INSERT_HEAD.len() + chunk.len() * 40);
            sql.push_str(INSERT_HEAD);
            for n in 0..chunk.len() {
                sql.push_str(if n == 0 { "" } else { ", " });
                sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            }
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for mut event in chunk {
                event.seq = seq;
                let leaf = event.leaf(self.hash).to_vec();
                let targets = serde_json::to_string(&event.targets)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                insert = insert
                    .bind(from_seq(seq)?)
                    .bind(event.at_ms)
                    .bind(event.actor_id)
                    .bind(event.actor_name)
                    .bind(event.actor_ip)
                    .bind(event.user_agent)
                    .bind(event.request_id)
                    .bind(event.action)
                    .bind(targets)
                    .bind(event.outcome.as_str())
                    .bind(event.detail)
                    .bind(leaf);
                seq += 1;
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(first..seq)
    }

    /// How many events the file holds: the next sequence number.
    pub async fn size(&self) -> Result<u64, StoreError> {
        let next: i64 = sqlx::query_scalar(NEXT_SEQ).fetch_one(&self.pool).await?;
        to_seq(next)
    }

    /// Up to `limit` events from sequence number `from` on, in order.
    pub async fn events(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor_id, actor_name, actor_ip, user_agent, request_id, action, \
             targets, outcome, detail, leaf FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?",
        )
        .bind(from_seq(from)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    /// The leaf hashes of the first `size` events, for proofs.
    pub async fn leaves(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        let rows = sqlx::query("SELECT seq, leaf FROM audit_events WHERE seq < ? ORDER BY seq")
            .bind(from_seq(size)?)
            .fetch_all(&self.pool)
            .await?;
        let mut leaves = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq = to_seq(row.try_get("seq")?)?;
            leaves.push(leaf_of(row, seq)?);
        }
        Ok(leaves)
    }

    /// Checks every event against the signed `heads` of `tenant`'s log
    /// (see `citadel_audit::verify`), reading the file in pages.
    pub async fn check(
        &self,
        tenant: [u8; 16],
        key: &PublicKey,
        heads: &[SignedTreeHead],
    ) -> Result<Verified, StoreError> {
        let mut check = LogCheck::new(tenant, self.hash, key, heads)?;
        let mut from = 0;
        loop {
            let page = self.events(from, CHECK_PAGE).await?;
            let Some(last) = page.last() else { break };
            // Pages continue from the last sequence number read, so an
            // event missing from the middle is not skipped silently.
            from = last.event.seq + 1;
            for stored in &page {
                check.push(stored)?;
            }
        }
        Ok(check.finish()?)
    }
}

fn to_seq(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt("a negative audit sequence number".into()))
}

fn from_seq(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt("an audit sequence number past i64".into()))
}

/// A row that cannot be read back as an event was changed beside the
/// server: it is reported as that event's leaf no longer matching.
fn changed(seq: u64) -> StoreError {
    StoreError::Audit(AuditError::Tampered {
        seq,
        what: Tamper::LeafChanged,
    })
}

fn leaf_of(row: &SqliteRow, seq: u64) -> Result<Hash, StoreError> {
    let leaf: Vec<u8> = row.try_get("leaf").map_err(|_| changed(seq))?;
    Hash::try_from(leaf.as_slice()).map_err(|_| changed(seq))
}

fn stored_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let seq = to_seq(row.try_get("seq")?)?;
    let targets: String = row.try_get("targets").map_err(|_| changed(seq))?;
    let outcome: String = row.try_get("outcome").map_err(|_| changed(seq))?;
    let event = AuditEvent {
        seq,
        at_ms: row.try_get("at_ms").map_err(|_| changed(seq))?,
        actor_id: row.try_get("actor_id").map_err(|_| changed(seq))?,
        actor_name: row.try_get("actor_name").map_err(|_| changed(seq))?,
        actor_ip: row.try_get("actor_ip").map_err(|_| changed(seq))?,
        user_agent: row.try_get("user_agent").map_err(|_| changed(seq))?,
        request_id: row.try_get("request_id").map_err(|_| changed(seq))?,
        action: row.try_get("action").map_err(|_| changed(seq))?,
        targets: serde_json::from_str(&targets).map_err(|_| changed(seq))?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| changed(seq))?,
        detail: row.try_get("detail").map_err(|_| changed(seq))?,
    };
    Ok(StoredEvent {
        leaf: leaf_of(row, seq)?,
        event,
    })
}
