//! A tenant's audit events, append-only: on SQLite in a file of their
//! own, on PostgreSQL in a table outside the tenant's schema that the
//! tenant's role may read and insert into, nothing else.
//!
//! Events are numbered from 0 in the order they were appended, each
//! stored beside its leaf hash (`citadel-audit`). On SQLite, triggers
//! refuse every UPDATE and DELETE, so the server's own code cannot change
//! history by mistake; someone with the file can drop them, and on
//! PostgreSQL the table's owner can change it: that is what the signed
//! tree heads and `AuditLog::check` are for. Writes are durable before
//! they return (WAL with `synchronous=FULL`; PostgreSQL's commit).

use std::ops::Range;
use std::path::Path;

use citadel_audit::{AuditError, AuditEvent, Hash, Outcome, StoredEvent, Tamper, TreeHash};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

use crate::StoreError;
use crate::audit_schema::{SQLITE_SCHEMA, archive_table};
use crate::db::{BeginWrite, DbPool, on_pool};
use crate::sqlite::options;

/// First key of the advisory lock that queues appends to one log on
/// PostgreSQL (the second is the table's name hashed).
const APPEND_LOCK: i32 = 7_478_093;

/// Rows per INSERT: 12 parameters each, well within SQLite's 32,766 and
/// PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 500;

pub(crate) const COLUMNS: &str = "seq, at_ms, actor_id, actor_name, actor_ip, user_agent, request_id, \
     action, targets, outcome, detail, leaf";

/// A stored row, as both backends decode it.
pub(crate) type EventRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    Vec<u8>,
);

/// What an audit admin asks of the events: each part narrows, all are
/// optional. Newest first, `before` a sequence number for the next page.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub actor_id: Option<String>,
    /// An action (`record.update`) or an area ending in a dot (`auth.`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub target: Option<String>,
    pub before: Option<u64>,
    pub limit: u32,
}

/// One log: a tenant's, or the platform's own.
pub struct AuditLog {
    pub(crate) pool: DbPool,
    pub(crate) table: String,
    /// Where events past retention go, compressed (`audit_archive.rs`).
    pub(crate) archive: String,
    pub(crate) hash: TreeHash,
    /// On PostgreSQL, the platform's pool: the owner of the tables, which
    /// alone moves events to the archive.
    pub(crate) owner: Option<PgPool>,
    /// The SQLite file, which the check reads directly (`audit_check.rs`).
    pub(crate) path: Option<std::path::PathBuf>,
}

impl AuditLog {
    /// Opens the SQLite file at `path`, creating it and its table if need
    /// be; its tree is built with `hash` (the tenant's suite's).
    pub async fn open_file(path: &Path, hash: TreeHash) -> Result<Self, StoreError> {
        // No checkpoint inside a commit: the writer asks for one beside
        // its groups instead (`checkpoint`), so no append waits on it.
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options(path, true)?.pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::raw_sql(SQLITE_SCHEMA).execute(&pool).await?;
        Ok(Self {
            pool: DbPool::Sqlite(pool, None),
            table: "audit_events".into(),
            archive: "audit_archive".into(),
            hash,
            owner: None,
            path: Some(path.to_path_buf()),
        })
    }

    /// The log in `table` (made by `create_postgres_table`) through
    /// `pool`; `owner` (the platform's pool) moves events to the archive.
    pub(crate) fn on_postgres(pool: PgPool, owner: PgPool, table: String, hash: TreeHash) -> Self {
        Self {
            pool: DbPool::Postgres(pool),
            archive: archive_table(&table),
            table,
            hash,
            owner: Some(owner),
            path: None,
        }
    }

    /// The next sequence number: after the last live event, or after the
    /// last archived one if every event was archived.
    pub(crate) fn next_seq_sql(&self) -> String {
        let larger = match self.pool {
            DbPool::Sqlite(..) => "MAX",
            DbPool::Postgres(_) => "GREATEST",
        };
        format!(
            "SELECT {larger}(COALESCE((SELECT MAX(seq) + 1 FROM {}), 0), \
             COALESCE((SELECT MAX(end_seq) FROM {}), 0))",
            self.table, self.archive
        )
    }

    pub fn tree_hash(&self) -> TreeHash {
        self.hash
    }

    /// Copies what the WAL holds into the SQLite file, as far as readers
    /// allow (PASSIVE: it waits for nobody); PostgreSQL has nothing to do.
    pub(crate) async fn checkpoint(&self) {
        if let DbPool::Sqlite(pool, _) = &self.pool
            && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
        {
            tracing::warn!(error = %e, "an audit log checkpoint failed");
        }
    }

    pub(crate) async fn close(&self) {
        if let DbPool::Sqlite(pool, _) = &self.pool {
            pool.close().await;
        }
    }

    /// Appends `events` in their order after the last one, all or none,
    /// and returns the sequence numbers they were given with their leaf
    /// hashes (each event's own `seq` is ignored).
    pub async fn append(
        &self,
        events: Vec<AuditEvent>,
    ) -> Result<(Range<u64>, Vec<Hash>), StoreError> {
        let postgres = matches!(self.pool, DbPool::Postgres(_));
        let next_seq = self.next_seq_sql();
        let insert_head = format!("INSERT INTO {} ({COLUMNS}) VALUES ", self.table);
        let mut leaves = Vec::with_capacity(events.len());
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let targets = serde_json::to_string(&event.targets)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            rows.push((event, targets));
        }
        let range = on_pool!(&self.pool, |p| {
            let mut tx = if postgres {
                // Two servers appending to one log queue here rather than
                // collide on a sequence number. (An advisory lock: a table
                // lock strong enough would need privileges the tenant's
                // role must not have.) Sent with the BEGIN, which sqlx
                // queues in front of the next statement: no round trip of
                // its own. The table's name is made of hex digits, dots
                // and underscores (`postgres_table`).
                p.begin_with(AssertSqlSafe(format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK}, hashtext('{}'))",
                    self.table
                )))
                .await?
            } else {
                p.begin_write().await?
            };
            let next: i64 = sqlx::query_scalar(AssertSqlSafe(next_seq.clone()))
                .fetch_one(&mut *tx)
                .await?;
            let first = to_seq(next)?;
            let mut seq = first;
            // Many rows to a statement: each statement is a round trip.
            for chunk in rows.chunks_mut(ROWS_PER_INSERT) {
                let sql = values_sql(&insert_head, chunk.len(), postgres);
                let mut insert = sqlx::query(AssertSqlSafe(sql));
                for (event, targets) in chunk.iter_mut() {
                    event.seq = seq;
                    let leaf = event.leaf(self.hash);
                    leaves.push(leaf);
                    insert = insert
                        .bind(from_seq(seq)?)
                        .bind(event.at_ms)
                        .bind(event.actor_id.take())
                        .bind(event.actor_name.take())
                        .bind(event.actor_ip.take())
                        .bind(event.user_agent.take())
                        .bind(event.request_id.take())
                        .bind(std::mem::take(&mut event.action))
                        .bind(std::mem::take(targets))
                        .bind(event.outcome.as_str())
                        .bind(std::mem::take(&mut event.detail))
                        .bind(leaf.to_vec());
                    seq += 1;
                }
                insert.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            first..seq
        });
        Ok((range, leaves))
    }

    /// How many events the log holds: the next sequence number.
    pub async fn size(&self) -> Result<u64, StoreError> {
        let sql = self.next_seq_sql();
        let next: i64 = on_pool!(&self.pool, |p| sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(p)
            .await?);
        to_seq(next)
    }

    /// Up to `limit` events from sequence number `from` on, in order.
    pub async fn events(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE seq >= $1 ORDER BY seq LIMIT $2",
            self.table
        );
        let rows: Vec<EventRow> = on_pool!(&self.pool, |p| sqlx::query_as(AssertSqlSafe(sql))
            .bind(from_seq(from)?)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        rows.into_iter().map(stored_event).collect()
    }

    /// The events `query` asks for, newest first.
    pub async fn search(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        // Each condition present adds its text with the next placeholder,
        // and its value is bound below in the same order.
        let action = query.action.as_deref().map(|a| match a.strip_suffix('.') {
            Some(area) => (
                " AND action LIKE # ESCAPE '!'",
                format!("{}.%", like_escaped(area)),
            ),
            None => (" AND action = #", a.to_owned()),
        });
        let target = query.target.as_deref().map(|t| {
            format!(
                "%{}%",
                like_escaped(&serde_json::Value::from(t).to_string())
            )
        });
        let conditions = [
            query.from_ms.map(|_| " AND at_ms >= #"),
            query.to_ms.map(|_| " AND at_ms < #"),
            query.actor_id.as_ref().map(|_| " AND actor_id = #"),
            action.as_ref().map(|(sql, _)| *sql),
            query.outcome.map(|_| " AND outcome = #"),
            target.as_ref().map(|_| " AND targets LIKE # ESCAPE '!'"),
            query.before.map(|_| " AND seq < #"),
            Some(" ORDER BY seq DESC LIMIT #"),
        ];
        let mut sql = format!("SELECT {COLUMNS} FROM {} WHERE 1 = 1", self.table);
        for (n, condition) in conditions.into_iter().flatten().enumerate() {
            sql.push_str(&condition.replace('#', &format!("${}", n + 1)));
        }
        let before = query.before.map(from_seq).transpose()?;
        let rows: Vec<EventRow> = on_pool!(&self.pool, |p| {
            let mut q = sqlx::query_as(AssertSqlSafe(sql));
            if let Some(v) = query.from_ms {
                q = q.bind(v);
            }
            if let Some(v) = query.to_ms {
                q = q.bind(v);
            }
            if let Some(v) = &query.actor_id {
                q = q.bind(v.clone());
            }
            if let Some((_, v)) = &action {
                q = q.bind(v.clone());
            }
            if let Some(v) = query.outcome {
                q = q.bind(v.as_str());
            }
            if let Some(v) = &target {
                q = q.bind(v.clone());
            }
            if let Some(v) = before {
                q = q.bind(v);
            }
            q.bind(i64::from(query.limit)).fetch_all(p).await?
        });
        rows.into_iter().map(stored_event).collect()
    }

    /// The leaf hashes of events `range`, in order, for proofs and for
    /// carrying a tree's right edge forward.
    pub async fn leaves(&self, range: Range<u64>) -> Result<Vec<Hash>, StoreError> {
        let live = self.live_from().await?;
        if range.start < live {
            let archived = range.start..range.end.min(live);
            let mut leaves = self.archived_leaves(archived).await?;
            if range.end > live {
                leaves.extend(Box::pin(self.leaves(live..range.end)).await?);
            }
            return Ok(leaves);
        }
        let sql = format!(
            "SELECT seq, leaf FROM {} WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            self.table
        );
        let rows: Vec<(i64, Vec<u8>)> =
            on_pool!(&self.pool, |p| sqlx::query_as(AssertSqlSafe(sql))
                .bind(from_seq(range.start)?)
                .bind(from_seq(range.end)?)
                .fetch_all(p)
                .await?);
        let mut leaves = Vec::with_capacity(rows.len());
        let mut expected = range.start;
        for (seq, leaf) in rows {
            let seq = to_seq(seq)?;
            if seq != expected {
                return Err(StoreError::Audit(AuditError::Tampered {
                    seq: expected,
                    what: Tamper::OutOfOrder { found: seq },
                }));
            }
            leaves.push(Hash::try_from(leaf.as_slice()).map_err(|_| changed(seq))?);
            expected += 1;
        }
        if expected != range.end {
            return Err(StoreError::Audit(AuditError::NoSuchLeaf {
                index: expected,
                size: range.end,
            }));
        }
        Ok(leaves)
    }
}

/// `text` for a LIKE pattern with `!` as its escape character.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// `INSERT … VALUES` with `rows` rows of twelve placeholders: `?` on
/// SQLite (sqlx looks numbered ones up one by one, quadratic in a large
/// statement), `$n` on PostgreSQL.
fn values_sql(head: &str, rows: usize, postgres: bool) -> String {
    let mut sql = String::with_capacity(head.len() + rows * 64);
    sql.push_str(head);
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..12 {
            if column > 0 {
                sql.push_str(", ");
            }
            if postgres {
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

pub(crate) fn to_seq(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt("a negative audit sequence number".into()))
}

pub(crate) fn from_seq(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt("an audit sequence number past i64".into()))
}

/// A row that cannot be read back as an event was changed beside the
/// server: it is reported as that event's leaf no longer matching.
pub(crate) fn changed(seq: u64) -> StoreError {
    StoreError::Audit(AuditError::Tampered {
        seq,
        what: Tamper::LeafChanged,
    })
}

pub(crate) fn stored_event(row: EventRow) -> Result<StoredEvent, StoreError> {
    let (seq, at_ms, actor_id, actor_name, actor_ip, user_agent, request_id, action) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    let seq = to_seq(seq)?;
    let event = AuditEvent {
        seq,
        at_ms,
        actor_id,
        actor_name,
        actor_ip,
        user_agent,
        request_id,
        action,
        targets: serde_json::from_str(&row.8).map_err(|_| changed(seq))?,
        outcome: Outcome::parse(&row.9).ok_or_else(|| changed(seq))?,
        detail: row.10,
    };
    Ok(StoredEvent {
        leaf: Hash::try_from(row.11.as_slice()).map_err(|_| changed(seq))?,
        event,
    })
}
