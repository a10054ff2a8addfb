use thiserror::Error;

use crate::verify::Tamper;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuditError {
    /// A proof was asked for a leaf or a tree size the log does not have.
    #[error("no leaf {index} in a tree of {size}")]
    NoSuchLeaf { index: u64, size: u64 },
    #[error("a tree of {old} cannot be a prefix of a tree of {new}")]
    NotAPrefix { old: u64, new: u64 },
    /// A proof did not lead to the root it was checked against.
    #[error("the proof does not verify")]
    ProofFailed,
    /// A tree head's signature is not the audit key's over that head.
    #[error("the tree head's signature does not verify")]
    BadSignature,
    /// A stored log is not what was signed; `seq` is its first bad event.
    #[error("the audit log is not what was signed, from event {seq}: {what:?}")]
    Tampered { seq: u64, what: Tamper },
}
