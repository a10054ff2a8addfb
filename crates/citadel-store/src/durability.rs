//! Writes answered at their commit, with their fsync awaited later.
//!
//! A request the audit layer records waits for two fsyncs: its writes'
//! (the tenant database's WAL) and its event's (the audit file's). In a
//! row they were a fifth of a records API write's time. Inside
//! [`deferring_durability`] a group-commit write answers as soon as its
//! group has committed, and leaves the wait for its fsync in the returned
//! [`Pending`]; the caller records the event meanwhile and must wait for
//! both before it answers anyone. An acknowledged write is still on disk;
//! what changes is that a power cut between the two fsyncs can leave a
//! committed write without its event or an event without its write, where
//! before it could only leave the first.
//!
//! Outside that scope (the CLI, background jobs, tasks a handler spawns)
//! a write waits for its fsync before it answers, as always.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::StoreError;
use crate::group_commit::Durable;

tokio::task_local! {
    static DEFERRED: Pending;
}

/// The fsyncs that writes made inside a [`deferring_durability`] scope
/// have left to wait for.
#[derive(Clone, Default)]
#[must_use = "the writes are not known to be durable until `wait` returns Ok"]
pub struct Pending(Arc<Mutex<Vec<Durable>>>);

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl Pending {
    /// Waits for every deferred fsync; an error if any write could not be
    /// made durable.
    pub async fn wait(self) -> Result<(), StoreError> {
        let durables = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        let mut outcome = Ok(());
        for durable in durables {
            if let Err(e) = durable.wait().await {
                outcome = Err(e);
            }
        }
        outcome
    }

    pub(crate) fn push(&self, durable: Durable) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(durable);
    }

    /// True if nothing was deferred.
    pub fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// Runs `work` with its group-commit writes answered at their commit.
pub async fn deferring_durability<F: Future>(work: F) -> (F::Output, Pending) {
    let pending = Pending::default();
    let output = DEFERRED.scope(pending.clone(), work).await;
    (output, pending)
}

/// The scope's pending list, if the caller runs inside one.
pub(crate) fn deferred() -> Option<Pending> {
    DEFERRED.try_with(Pending::clone).ok()
}
