//! The committing half of an audit writer: a thread of its own that takes
//! the queued events a group at a time and appends each group in one
//! transaction.
//!
//! On SQLite the thread owns a rusqlite connection to the log's file and
//! runs the transaction itself. Through sqlx every statement would be a
//! hand-off to the connection's thread and back, and each hand-off a pair
//! of context switches; with four statements to a group those switches
//! cost a records API write more than the event itself (profiled: a third
//! of the server's CPU time was spent switching). On PostgreSQL the
//! thread drives the log's pool with the runtime's handle.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use citadel_audit::{AuditEvent, Hash, TreeHash};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use tokio::runtime::Handle;

use crate::StoreError;
use crate::audit_log::{AuditLog, COLUMNS, from_seq, to_seq};

/// What appends a group of events to one log.
pub(crate) enum Appender {
    File(Box<FileAppender>),
    Pool { log: Arc<AuditLog>, runtime: Handle },
}

impl Appender {
    /// The appender for `log`: its own connection for a file, else the
    /// log's pool, driven through `runtime`.
    pub(crate) fn for_log(log: &Arc<AuditLog>, runtime: Handle) -> Result<Self, StoreError> {
        Ok(match &log.path {
            Some(path) => Self::File(Box::new(FileAppender::open(path, log)?)),
            None => Self::Pool {
                log: Arc::clone(log),
                runtime,
            },
        })
    }

    /// Appends `events` after the last one, all or none: the sequence
    /// numbers given and the events' leaf hashes.
    pub(crate) fn append(
        &mut self,
        events: Vec<AuditEvent>,
    ) -> Result<(Range<u64>, Vec<Hash>), StoreError> {
        match self {
            Self::File(file) => file.append(events),
            Self::Pool { log, runtime } => runtime.block_on(log.append(events)),
        }
    }
}

/// A log's SQLite file, written by one thread.
pub(crate) struct FileAppender {
    conn: Connection,
    hash: TreeHash,
    next_seq: String,
    insert: String,
}

impl FileAppender {
    fn open(path: &Path, log: &AuditLog) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // As the log's pool (`sqlite::options`): every commit fsynced
        // before its events are answered; checkpoints run beside the
        // writer (`AuditLog::checkpoint`), not inside a commit.
        conn.pragma_update(None, "journal_mode", "wal")?;
        conn.pragma_update(None, "synchronous", "full")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let placeholders = (1..=12)
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            conn,
            hash: log.hash,
            next_seq: log.next_seq_sql(),
            insert: format!(
                "INSERT INTO {} ({COLUMNS}) VALUES ({placeholders})",
                log.table
            ),
        })
    }

    fn append(&mut self, events: Vec<AuditEvent>) -> Result<(Range<u64>, Vec<Hash>), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let first = to_seq(tx.query_row(&self.next_seq, [], |row| row.get(0))?)?;
        let mut leaves = Vec::with_capacity(events.len());
        let mut seq = first;
        {
            let mut insert = tx.prepare_cached(&self.insert)?;
            for mut event in events {
                event.seq = seq;
                let leaf = event.leaf(self.hash);
                let targets = serde_json::to_string(&event.targets)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                insert.execute(params![
                    from_seq(seq)?,
                    event.at_ms,
                    event.actor_id,
                    event.actor_name,
                    event.actor_ip,
                    event.user_agent,
                    event.request_id,
                    event.action,
                    targets,
                    event.outcome.as_str(),
                    event.detail,
                    leaf.as_slice(),
                ])?;
                leaves.push(leaf);
                seq += 1;
            }
        }
        tx.commit()?;
        Ok((first..seq, leaves))
    }
}
