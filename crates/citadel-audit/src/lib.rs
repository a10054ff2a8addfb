//! The tamper-evident audit log.
//!
//! Each tenant's events are the leaves of a verifiable log in the style of
//! Certificate Transparency (RFC 9162): a Merkle tree over the events'
//! hashes, whose signed heads let anyone holding the platform's public key
//! prove that no event was changed, removed, inserted or reordered. This
//! crate holds the tree: its hashes (SHA-256 or SM3 by the tenant's suite),
//! its root, the running right edge a log appends to, the inclusion and
//! consistency proofs with their verifiers, the tree heads the
//! platform's audit key signs, the events and the bytes their leaves hash,
//! and the check of a stored log against its signed heads.

mod error;
pub mod event;
pub mod head;
pub mod merkle;
pub mod verify;

pub use error::AuditError;
pub use event::{AuditEvent, Outcome};
pub use head::{SignedTreeHead, TreeHead};
pub use merkle::{Frontier, TreeHash};
pub use verify::{LogCheck, StoredEvent, Tamper, Verified};

/// A tree hash: SHA-256 and SM3 both give 32 bytes.
pub type Hash = [u8; 32];
