//! The embedded backend: `platform.db` beside one directory per tenant
//! holding that tenant's own `data.db`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use citadel_core::TenantId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool};

use crate::StoreError;
use crate::db::{GroupWriter, TenantSqlite};
use crate::error::io_error;
use crate::identity::insert_user;
use crate::inline::InlineReaders;
use crate::migrate::{SQLITE_PLATFORM, SQLITE_TENANT, apply_sqlite};
use crate::readers::QuickReaders;
use crate::records::NewUser;
use crate::wal::DatabaseFile;

/// Connection options for a database file. The path is given as a file
/// name, never through a URL, so characters such as `?`, `#` or `%` in the
/// data directory cannot turn into URL options.
pub(crate) fn options(path: &Path, create: bool) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: the WAL is fsynced at every commit, so an acknowledged
        // write survives a power loss (group commit keeps this cheap).
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Statement and savepoint journals in memory: every batch write
        // runs in a savepoint, and a temporary file would take a second
        // copy of each page it changes.
        .pragma("temp_store", "memory")
        .busy_timeout(Duration::from_secs(5)))
}

/// The writer's page cache (KiB; SQLite takes a negative size as KiB): a
/// batch of a thousand records changes thousands of index pages, and a
/// smaller cache spills them to the WAL before the commit and reads them
/// back. Not larger: the writer's heap grows by about three quarters of
/// its cache again while a bulk load runs (16 MiB held 31 MiB, 8 MiB held
/// 16 MiB; docs/benchmarks.md, session 11).
const WRITER_CACHE_KIB: &str = "-8192";

/// Pool options for a database file. No test before a connection is
/// handed out: the database is a local file, not a server that can drop a
/// connection, and a ping is a round trip to the connection's thread on
/// every query.
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().test_before_acquire(false)
}

/// Most reader connections of one tenant's database, in its pool and
/// again among its quick readers (`readers.rs`): under load the hot reads
/// use the quick ones and the pool's close after two idle minutes.
const TENANT_READERS: u32 = 6;

/// Creates a directory readable only by the server's user.
pub(crate) fn private_dir(path: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_error(path))
}

pub(crate) async fn open_platform(data_dir: &Path) -> Result<SqlitePool, StoreError> {
    private_dir(data_dir)?;
    let path = data_dir.join("platform.db");
    // Deleted rows are overwritten with zeros, not left in free pages: a
    // destroyed tenant's sealed keys must not be recoverable from the file.
    let pool = pool_options()
        .max_connections(4)
        .connect_with(options(&path, true)?.pragma("secure_delete", "ON"))
        .await?;
    let mut tx = pool.begin().await?;
    apply_sqlite(&mut tx, SQLITE_PLATFORM).await?;
    tx.commit().await?;
    Ok(pool)
}

pub(crate) fn tenant_dir(data_dir: &Path, id: TenantId) -> PathBuf {
    data_dir.join("tenants").join(id.to_string())
}

/// The tenant's audit log: a file of its own beside its database, in the
/// directory a destroy wipes.
pub(crate) fn audit_path(data_dir: &Path, id: TenantId) -> PathBuf {
    tenant_dir(data_dir, id).join("audit.db")
}

/// Opens an existing tenant database; never creates one, so a stale id
/// cannot bring an empty database into being.
pub(crate) async fn open_tenant(
    data_dir: &Path,
    id: TenantId,
) -> Result<(SqlitePool, TenantSqlite), StoreError> {
    let path = tenant_dir(data_dir, id).join("data.db");
    // Readers: WAL lets them run beside the writer. A busy tenant gets up
    // to six (each is an OS thread); an idle one's close after two minutes,
    // so a thousand quiet tenants hold none.
    let reader_options = options(&path, false)?.pragma("secure_delete", "FAST");
    let pool = pool_options()
        .max_connections(TENANT_READERS)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(120))
        .connect_with(reader_options.clone())
        .await?;
    // A tenant made by an older version gets the newer migrations on its
    // first open. IMMEDIATE takes the write lock up front, so two openers
    // queue instead of failing to upgrade a read lock.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    apply_sqlite(&mut tx, SQLITE_TENANT).await?;
    tx.commit().await?;
    let writer_options = options(&path, false)?
        // Deleted and overwritten content (a value replaced by its
        // ciphertext, a deleted record) is zeroed where that costs no I/O.
        .pragma("secure_delete", "FAST")
        // The fsync and the checkpoints run beside the writer (see wal.rs):
        // nothing is acknowledged before the WAL is synced.
        .synchronous(SqliteSynchronous::Normal)
        .pragma("wal_autocheckpoint", "0")
        .pragma("cache_size", WRITER_CACHE_KIB)
        // After a burst the WAL is cut back to 64 MiB once it restarts.
        .pragma("journal_size_limit", "67108864");
    let file = DatabaseFile {
        readers: pool.clone(),
        wal: path.with_file_name("data.db-wal"),
    };
    let writer = GroupWriter::start(writer_options.connect().await?, Some(file))?;
    // Opened on first use; they last as long as the tenant's pool is
    // cached (dropped after five idle minutes, see `pools.rs`).
    let readers = QuickReaders::new(reader_options, TENANT_READERS);
    let inline = InlineReaders::new(path);
    Ok((
        pool,
        TenantSqlite {
            writer,
            readers,
            inline,
        },
    ))
}

/// Creates the tenant's directory and database with its schema and first
/// admin. On any failure the directory is removed again.
pub(crate) async fn provision(
    data_dir: &Path,
    id: TenantId,
    admin: &NewUser,
) -> Result<SqlitePool, StoreError> {
    let dir = tenant_dir(data_dir, id);
    private_dir(&dir)?;
    let result = async {
        let pool = pool_options()
            .max_connections(2)
            .connect_with(options(&dir.join("data.db"), true)?)
            .await?;
        let mut tx = pool.begin().await?;
        apply_sqlite(&mut tx, SQLITE_TENANT).await?;
        insert_user!(&mut *tx, admin)?;
        tx.commit().await?;
        Ok::<_, StoreError>(pool)
    }
    .await;
    if result.is_err() {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

/// Overwrites every file of the tenant's directory with zeros, syncs, and
/// removes the directory: no residual data stays on the file system layer
/// the server controls (等保 residual information).
pub(crate) fn wipe(data_dir: &Path, id: TenantId) -> Result<(), StoreError> {
    let dir = tenant_dir(data_dir, id);
    wipe_tree(&dir)?;
    // An earlier, abandoned destroy may still be wiping the same directory:
    // whichever removes it first, it is gone.
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&dir)(e)),
        _ => Ok(()),
    }
}

/// True for the error of a file or directory that is not there (any more).
fn gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

fn wipe_tree(dir: &Path) -> Result<(), StoreError> {
    // Whatever vanished between listing and opening needs no wiping.
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(io_error(dir)(e)),
        };
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(io_error(&path)(e)),
        };
        if meta.is_dir() {
            wipe_tree(&path)?;
        } else if meta.is_file() {
            let mut file = match fs::OpenOptions::new().write(true).open(&path) {
                Ok(file) => file,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(io_error(&path)(e)),
            };
            let zeros = vec![0u8; 64 * 1024];
            let mut left = meta.len();
            while left > 0 {
                let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
                file.write_all(&zeros[..n]).map_err(io_error(&path))?;
                left -= n as u64;
            }
            file.sync_all().map_err(io_error(&path))?;
        }
    }
    Ok(())
}
