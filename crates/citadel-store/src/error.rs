use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be reached or refused a statement. Never
    /// reported to clients as "not found": it is an outage.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The same, from a read made on the calling thread (`inline.rs`).
    #[error("database error: {0}")]
    Inline(#[from] rusqlite::Error),
    /// A group commit could not reach the disk; none of its writes stand.
    #[error("the write could not be committed: {0}")]
    CommitFailed(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Input the store could only judge against stored data (a duplicate
    /// in a unique field, a link to a missing record); nothing was written.
    #[error(transparent)]
    Invalid(citadel_core::CoreError),
    /// The record changed since the version the caller last read.
    #[error("record {record} is at version {current}, not {expected}")]
    VersionMismatch {
        record: i64,
        expected: i64,
        current: i64,
    },
    #[error("the database URL {0:?} is not supported: use sqlite (the default) or postgres://")]
    UnsupportedUrl(String),
    #[error("storage file error at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Crypto(#[from] citadel_crypto::CryptoError),
    /// An audit log failed its check, or a proof was asked of it that it
    /// cannot give.
    #[error(transparent)]
    Audit(#[from] citadel_audit::AuditError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Access-control data failed its integrity check: it was changed
    /// beside the server. Nothing is decided on it.
    #[error("access-control data failed its integrity check: {0}")]
    Tampered(String),
    /// An encrypted value did not open: its ciphertext was changed, cut
    /// short or moved from another cell, or its key version is unknown.
    /// Nothing of it is shown.
    #[error(
        "the encrypted value of field {field} in record {record} of table {table} failed its integrity check: {reason}"
    )]
    SealBroken {
        table: citadel_core::TableId,
        field: citadel_core::FieldId,
        record: i64,
        reason: String,
    },
    #[error("the database is not safe for Citadel: {0}")]
    UnsafeDatabase(String),
    #[error(
        "the master key does not match this data store (it was initialised with another key); supply the original key"
    )]
    WrongMasterKey,
}

impl From<citadel_core::CoreError> for StoreError {
    fn from(e: citadel_core::CoreError) -> Self {
        Self::Corrupt(e.to_string())
    }
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}
