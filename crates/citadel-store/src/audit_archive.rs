//! Retention: events older than the tenant's retention leave the live
//! log for compressed archive segments kept beside it, in the same file
//! or database (so backups hold them). They stay part of the tree: the
//! check reads the segments first, event by event, and proofs take
//! archived leaves from them. Only an intact run of events is archived:
//! each leaf is rebuilt from its columns first, so archiving cannot
//! launder a changed event.

use std::io::{Read, Write};
use std::ops::Range;

use citadel_audit::{AuditError, Hash, LogCheck, StoredEvent, Tamper};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use sqlx::AssertSqlSafe;

use crate::StoreError;
use crate::audit_log::{AuditLog, COLUMNS, EventRow, changed, from_seq, stored_event, to_seq};
use crate::db::{BeginWrite, DbPool, on_pool};

/// Events per segment: about a megabyte of rows before compression.
const SEGMENT_EVENTS: u64 = 5_000;

/// A segment row: first and end sequence numbers, its time span, data.
type SegmentRow = (i64, i64, i64, i64, Vec<u8>);

/// What one archiving pass moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Archived {
    pub segments: u64,
    pub events: u64,
}

impl AuditLog {
    /// The first sequence number still in the live table: where the
    /// archive ends.
    pub(crate) async fn live_from(&self) -> Result<u64, StoreError> {
        let sql = format!("SELECT COALESCE(MAX(end_seq), 0) FROM {}", self.archive);
        let end: i64 = on_pool!(&self.pool, |p| sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(p)
            .await?);
        to_seq(end)
    }

    /// The segment starting at or after `from`, if any.
    async fn segment_from(&self, from: u64) -> Result<Option<SegmentRow>, StoreError> {
        let sql = format!(
            "SELECT first_seq, end_seq, first_at_ms, last_at_ms, data FROM {} \
             WHERE end_seq > $1 ORDER BY first_seq LIMIT 1",
            self.archive
        );
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(AssertSqlSafe(sql))
            .bind(from_seq(from)?)
            .fetch_optional(p)
            .await?))
    }

    /// The leaf hashes of archived events `range`, in order.
    pub(crate) async fn archived_leaves(&self, range: Range<u64>) -> Result<Vec<Hash>, StoreError> {
        let mut leaves = Vec::new();
        let mut next = range.start;
        while next < range.end {
            let Some(segment) = self.segment_from(next).await? else {
                break;
            };
            let before = next;
            for stored in decode(&segment)? {
                let seq = stored.event.seq;
                if seq < next {
                    continue;
                }
                if seq >= range.end {
                    break;
                }
                if seq != next {
                    return Err(StoreError::Audit(AuditError::Tampered {
                        seq: next,
                        what: Tamper::OutOfOrder { found: seq },
                    }));
                }
                leaves.push(stored.leaf);
                next += 1;
            }
            if next == before {
                // The segment found starts past `next`: a gap.
                break;
            }
        }
        if next != range.end {
            return Err(StoreError::Audit(AuditError::NoSuchLeaf {
                index: next,
                size: range.end,
            }));
        }
        Ok(leaves)
    }

    /// Pushes every archived event through `check`, one segment at a time;
    /// returns where the archive ends.
    pub(crate) async fn check_archive(&self, check: &mut LogCheck) -> Result<u64, StoreError> {
        let mut next = 0;
        while let Some(segment) = self.segment_from(next).await? {
            for stored in decode(&segment)? {
                check.push(&stored)?;
            }
            next = to_seq(segment.1)?;
        }
        Ok(next)
    }

    /// Moves every event recorded before `cutoff_ms` (Unix ms) into
    /// archive segments, in order, each in one transaction with the
    /// deletion of its rows. A run of events that is not intact is not
    /// archived: the error names its first bad event.
    pub async fn archive_before(&self, cutoff_ms: i64) -> Result<Archived, StoreError> {
        let mut done = Archived::default();
        loop {
            let first = self.live_from().await?;
            let boundary_sql = format!("SELECT MIN(seq) FROM {} WHERE at_ms >= $1", self.table);
            let boundary: Option<i64> = on_pool!(&self.pool, |p| sqlx::query_scalar(
                AssertSqlSafe(boundary_sql)
            )
            .bind(cutoff_ms)
            .fetch_one(p)
            .await?);
            let boundary = match boundary {
                Some(seq) => to_seq(seq)?,
                None => self.size().await?,
            };
            let end = boundary.min(first + SEGMENT_EVENTS);
            if end <= first {
                return Ok(done);
            }
            let rows_sql = format!(
                "SELECT {COLUMNS} FROM {} WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                self.table
            );
            let rows: Vec<EventRow> =
                on_pool!(&self.pool, |p| sqlx::query_as(AssertSqlSafe(rows_sql))
                    .bind(from_seq(first)?)
                    .bind(from_seq(end)?)
                    .fetch_all(p)
                    .await?);
            let segment = self.encode(first, end, rows)?;
            self.write_segment(first, end, segment).await?;
            done.segments += 1;
            done.events += end - first;
        }
    }

    /// The rows `first..end`, checked (every sequence number there, every
    /// leaf rebuilt), as a segment: first and last time, deflated JSON.
    fn encode(
        &self,
        first: u64,
        end: u64,
        rows: Vec<EventRow>,
    ) -> Result<(i64, i64, Vec<u8>), StoreError> {
        let mut expected = first;
        let (mut first_at, mut last_at) = (i64::MAX, i64::MIN);
        for row in &rows {
            let stored = stored_event(row.clone())?;
            if stored.event.seq != expected {
                return Err(StoreError::Audit(AuditError::Tampered {
                    seq: expected,
                    what: Tamper::OutOfOrder {
                        found: stored.event.seq,
                    },
                }));
            }
            if stored.event.leaf(self.hash) != stored.leaf {
                return Err(changed(expected));
            }
            first_at = first_at.min(row.1);
            last_at = last_at.max(row.1);
            expected += 1;
        }
        if expected != end {
            return Err(StoreError::Audit(AuditError::Tampered {
                seq: expected,
                what: Tamper::Missing { head_size: end },
            }));
        }
        let json = serde_json::to_vec(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
        deflate
            .write_all(&json)
            .and_then(|()| deflate.finish())
            .map(|data| (first_at, last_at, data))
            .map_err(|e| StoreError::Corrupt(format!("archive compression: {e}")))
    }

    /// Inserts a segment and deletes its rows from the live table, in one
    /// transaction: on SQLite through the log's own pool (the trigger lets
    /// archived rows go), on PostgreSQL as the tables' owner.
    async fn write_segment(
        &self,
        first: u64,
        end: u64,
        (first_at, last_at, data): (i64, i64, Vec<u8>),
    ) -> Result<(), StoreError> {
        let insert = format!(
            "INSERT INTO {} (first_seq, end_seq, first_at_ms, last_at_ms, data) \
             VALUES ($1, $2, $3, $4, $5)",
            self.archive
        );
        let delete = format!("DELETE FROM {} WHERE seq >= $1 AND seq < $2", self.table);
        let owner = match (&self.pool, &self.owner) {
            (DbPool::Sqlite(..), _) => self.pool.clone(),
            (DbPool::Postgres(_), Some(owner)) => DbPool::Postgres(owner.clone()),
            (DbPool::Postgres(_), None) => {
                return Err(StoreError::Corrupt("no owner to archive with".into()));
            }
        };
        on_pool!(&owner, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query(AssertSqlSafe(insert))
                .bind(from_seq(first)?)
                .bind(from_seq(end)?)
                .bind(first_at)
                .bind(last_at)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            sqlx::query(AssertSqlSafe(delete))
                .bind(from_seq(first)?)
                .bind(from_seq(end)?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// A segment's events. A segment that does not inflate or parse counts as
/// its first event changed.
fn decode(segment: &SegmentRow) -> Result<Vec<StoredEvent>, StoreError> {
    let first = to_seq(segment.0)?;
    let mut json = Vec::new();
    DeflateDecoder::new(segment.4.as_slice())
        .read_to_end(&mut json)
        .map_err(|_| changed(first))?;
    let rows: Vec<EventRow> = serde_json::from_slice(&json).map_err(|_| changed(first))?;
    rows.into_iter().map(stored_event).collect()
}
