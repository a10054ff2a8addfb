//! Checking a whole log against its signed heads (`citadel audit verify`,
//! `POST /api/v1/audit/verify`), at the speed of both cores: the events
//! are read on one thread while the leaves of the page before are rebuilt
//! from their columns on two, and the tree is carried along in order on
//! another, a page behind.
//!
//! On SQLite the file is read with rusqlite in one statement (no hand-off
//! per row to a connection thread, as sqlx would make); on PostgreSQL in
//! pages through the pool.

use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};

use citadel_audit::{Hash, LogCheck, SignedTreeHead, StoredEvent, TreeHash, Verified};
use citadel_crypto::suite::PublicKey;
use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use crate::audit_log::{AuditLog, COLUMNS, changed, from_seq, stored_event, to_seq};
use crate::db::DbPool;

/// Events read per query on PostgreSQL, and per page handed from the
/// reading thread on SQLite.
const CHECK_PAGE: u32 = 5_000;

impl AuditLog {
    /// Checks every event against the signed `heads` of `tenant`'s log
    /// (see `citadel_audit::verify`): the archive's segments, then the
    /// live events.
    pub async fn check(
        &self,
        tenant: [u8; 16],
        key: &PublicKey,
        heads: &[SignedTreeHead],
    ) -> Result<Verified, StoreError> {
        let mut check = LogCheck::new(tenant, self.hash, key, heads)?;
        let from = self.check_archive(&mut check).await?;
        let check = match (&self.pool, &self.path) {
            (DbPool::Sqlite(..), Some(path)) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || check_file(&path, from, check))
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("the audit check stopped: {e}")))??
            }
            _ => self.check_pages(from, check).await?,
        };
        Ok(check.finish()?)
    }

    /// The live events through the pool, a page at a time; each page's
    /// leaves are rebuilt off the runtime's threads.
    async fn check_pages(
        &self,
        mut from: u64,
        mut check: LogCheck,
    ) -> Result<LogCheck, StoreError> {
        let hash = check.tree_hash();
        loop {
            let page = self.events(from, CHECK_PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(check);
            };
            // Pages continue from the last sequence number read, so an
            // event missing from the middle is not skipped silently.
            from = last.event.seq + 1;
            let (page, leaves) = tokio::task::spawn_blocking(move || {
                let leaves = rebuilt_leaves(&page, hash);
                (page, leaves)
            })
            .await
            .map_err(|e| StoreError::Corrupt(format!("the audit check stopped: {e}")))?;
            push_page(&mut check, &page, &leaves)?;
        }
    }
}

/// Each event's leaf rebuilt from its columns, half of them on another
/// thread.
fn rebuilt_leaves(page: &[StoredEvent], hash: TreeHash) -> Vec<Hash> {
    let rebuild = |events: &[StoredEvent]| -> Vec<Hash> {
        events.iter().map(|e| e.event.leaf(hash)).collect()
    };
    let (first, second) = page.split_at(page.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| rebuild(first));
        let rest = rebuild(second);
        // A hash does not panic; if the thread died anyway, do its half here.
        let mut leaves = other.join().unwrap_or_else(|_| rebuild(first));
        leaves.extend(rest);
        leaves
    })
}

fn push_page(
    check: &mut LogCheck,
    page: &[StoredEvent],
    leaves: &[Hash],
) -> Result<(), StoreError> {
    for (stored, leaf) in page.iter().zip(leaves) {
        check.push_rebuilt(stored, leaf)?;
    }
    Ok(())
}

/// The live events of the SQLite log at `path` from `from` on: read by one
/// thread, their leaves rebuilt on this one and another, and the tree
/// carried along on a third, a page behind (carrying it is an SM3 or
/// SHA-256 per event too, and on this thread it left a core idle).
fn check_file(path: &Path, from: u64, check: LogCheck) -> Result<LogCheck, StoreError> {
    let hash = check.tree_hash();
    std::thread::scope(|s| {
        // Two pages in flight: the reader stays one page ahead.
        let (pages, received) = sync_channel(2);
        s.spawn(move || {
            if let Err(e) = read_file(path, from, &pages) {
                let _ = pages.send(Err(e));
            }
        });
        let (rebuilt, to_push) = sync_channel::<(Vec<StoredEvent>, Vec<Hash>)>(1);
        let tree = s.spawn(move || {
            let mut check = check;
            for (page, leaves) in to_push {
                push_page(&mut check, &page, &leaves)?;
            }
            Ok::<_, StoreError>(check)
        });
        let mut unreadable = None;
        for page in received {
            match page {
                Ok(page) => {
                    let leaves = rebuilt_leaves(&page, hash);
                    // Refused once the tree found a bad event; it says which.
                    if rebuilt.send((page, leaves)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    unreadable = Some(e);
                    break;
                }
            }
        }
        drop(rebuilt);
        // The tree's finding comes first: it is about earlier events than
        // a page that could not be read.
        let check = tree
            .join()
            .map_err(|_| StoreError::Corrupt("the audit check stopped".into()))??;
        match unreadable {
            Some(e) => Err(e),
            None => Ok(check),
        }
    })
}

type Page = Result<Vec<StoredEvent>, StoreError>;

/// Streams the file's events in order into `pages`; stops when the
/// checker has gone (a bad event found).
fn read_file(path: &Path, from: u64, pages: &SyncSender<Page>) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    let mut statement = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE seq >= ?1 ORDER BY seq"
    ))?;
    let mut rows = statement.query([from_seq(from)?])?;
    let page_size = CHECK_PAGE as usize;
    let mut page = Vec::with_capacity(page_size);
    while let Some(row) = rows.next()? {
        page.push(row_event(row)?);
        if page.len() == page_size {
            let full = std::mem::replace(&mut page, Vec::with_capacity(page_size));
            if pages.send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !page.is_empty() {
        let _ = pages.send(Ok(page));
    }
    Ok(())
}

/// A row as an event; one that cannot be read as one counts as changed.
fn row_event(row: &rusqlite::Row<'_>) -> Result<StoredEvent, StoreError> {
    let seq = to_seq(row.get(0)?)?;
    let columns = (|| {
        Ok::<_, rusqlite::Error>((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
            row.get(9)?,
            row.get(10)?,
            row.get(11)?,
        ))
    })()
    .map_err(|_| changed(seq))?;
    stored_event(columns)
}
