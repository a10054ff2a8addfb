//! The two backends behind one pool type. Queries are written once with
//! `$N` placeholders (numbered in order of first appearance, which SQLite
//! and PostgreSQL both accept) and expanded for each backend by [`on_pool!`].

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{PgPool, SqlitePool};

use crate::StoreError;
pub(crate) use crate::group_commit::{GroupWriter, WriterPause};
use crate::inline::InlineReaders;
use crate::readers::QuickReaders;
pub(crate) use crate::readers::SqliteReader;

/// A connection pool to either backend.
#[derive(Clone, Debug)]
pub enum DbPool {
    /// A tenant database also has its own writer and readers; the
    /// platform database reads and writes through the pool.
    Sqlite(SqlitePool, Option<TenantSqlite>),
    Postgres(PgPool),
}

/// What a tenant's SQLite database has beside its pool.
#[derive(Clone, Debug)]
pub struct TenantSqlite {
    /// Every record write goes through it (group commit).
    pub(crate) writer: GroupWriter,
    /// The reads every request makes (see [`read_on_pool!`]).
    pub(crate) readers: QuickReaders,
    /// The point reads every request makes (token or session, user, a
    /// record by id), on the calling thread (see `inline.rs`).
    pub(crate) inline: InlineReaders,
}

impl DbPool {
    /// Holds a tenant database's group writer for a write made on a pool
    /// connection; nothing to hold elsewhere.
    pub(crate) async fn pause_writer(&self) -> Result<Option<WriterPause>, StoreError> {
        match self {
            Self::Sqlite(_, Some(tenant)) => tenant.writer.pause().await.map(Some),
            _ => Ok(None),
        }
    }

    /// A tenant SQLite database's readers on the calling thread.
    pub(crate) fn inline(&self) -> Option<&InlineReaders> {
        match self {
            Self::Sqlite(_, Some(tenant)) => Some(&tenant.inline),
            _ => None,
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(p, tenant) => {
                if let Some(tenant) = tenant {
                    tenant.inline.close().await;
                    tenant.readers.close().await;
                    tenant.writer.close().await;
                }
                p.close().await
            }
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// Runs the same code against whichever pool is inside a [`DbPool`], with
/// the concrete pool bound to `$p`, so row types stay concrete.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::db::DbPool::Sqlite($p, _) => $body,
            $crate::db::DbPool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for a read on one connection, bound to `$c` (a `&mut`
/// connection of either backend). On a tenant's SQLite database the
/// connection is one of its quick readers, reused if the body ran to its
/// end without a database error; `?` in the body leaves the body, not the
/// caller.
macro_rules! read_on_pool {
    ($pool:expr, |$c:ident| $body:expr) => {
        match $pool {
            $crate::db::DbPool::Sqlite(pool, tenant) => {
                let mut reader =
                    $crate::db::SqliteReader::take(pool, tenant.as_ref().map(|t| &t.readers))
                        .await?;
                let $c = reader.connection()?;
                let out: Result<_, $crate::StoreError> = async { $body }.await;
                if !matches!(out, Err($crate::StoreError::Database(_))) {
                    reader.finished();
                }
                out
            }
            $crate::db::DbPool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let $c = &mut *conn;
                async { $body }.await
            }
        }
    };
}
pub(crate) use read_on_pool;

/// [`read_on_pool!`] for a point read every request makes: on a tenant's
/// SQLite database `$inline` first runs on the calling thread (a body over
/// a `rusqlite` connection bound to `$i`, see `inline.rs`); with no inline
/// connection free or SQLite busy, `$body` reads the usual way.
macro_rules! read_inline_first {
    ($pool:expr, inline |$i:ident| $inline:expr, pooled |$c:ident| $body:expr) => {
        $crate::db::read_inline_first!($pool, when true, inline |$i| $inline, pooled |$c| $body)
    };
    ($pool:expr, when $when:expr, inline |$i:ident| $inline:expr, pooled |$c:ident| $body:expr) => {{
        let pool: &$crate::db::DbPool = $pool;
        let inline = pool
            .inline()
            .filter(|_| $when)
            .map(|readers| readers.read(|$i| $inline));
        match inline {
            Some(Ok(found)) => Ok(found),
            Some(Err($crate::inline::InlineError::Failed(e))) => Err(e),
            _ => $crate::db::read_on_pool!(pool, |$c| $body),
        }
    }};
}
pub(crate) use read_inline_first;

/// [`on_pool!`] for a body that writes: on a tenant's SQLite database the
/// group writer is paused first (see [`crate::group_commit::WriterPause`]),
/// so the write is not starved of SQLite's lock by a stream of record
/// writes. The body must not write through the writer itself.
macro_rules! write_on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {{
        let pool: &$crate::db::DbPool = $pool;
        let _pause = pool.pause_writer().await?;
        $crate::db::on_pool!(pool, |$p| $body)
    }};
}
pub(crate) use write_on_pool;

/// A transaction that will write after reading. On SQLite it takes the
/// write lock at `BEGIN IMMEDIATE`: a deferred transaction that read first
/// cannot upgrade its lock once another connection has written, and fails
/// at once with `SQLITE_BUSY` instead of waiting. PostgreSQL needs nothing
/// special.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;

    /// A transaction whose decision rests on many rows it read (a tree):
    /// SQLite's single writer already serialises it; PostgreSQL runs it
    /// SERIALIZABLE, so a concurrent change to what it read fails it.
    async fn begin_serializable(&self)
    -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }

    async fn begin_serializable(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }

    async fn begin_serializable(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE").await
    }
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
