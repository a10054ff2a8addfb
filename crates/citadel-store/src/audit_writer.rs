//! Group commit for audit events: the events that arrive while a commit
//! is on its way to the disk go to the next commit together.
//!
//! Recording an event is part of the action it records: the caller waits
//! for the event to be durable and fails if it is not (fail closed). One
//! task appends for each audit file, so the events' order is the order
//! the task took them in, and a commit's cost (a transaction and an
//! fsync) is shared by every event in its group.

use std::sync::Arc;

use citadel_audit::AuditEvent;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::audit_log::AuditFile;

/// At most this many events in one commit.
const MOST_PER_GROUP: usize = 2_000;

/// Events waiting for the task beyond the one being committed; a caller
/// past that waits for room, which is how a burst is slowed to the disk.
const QUEUE: usize = 8_192;

struct Pending {
    event: AuditEvent,
    /// The sequence number given, or why the group was not committed.
    done: oneshot::Sender<Result<u64, String>>,
}

/// Appends to one audit file with group commit. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the appending task for `file`; it ends when every writer
    /// handle is dropped.
    pub fn start(file: Arc<AuditFile>) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(append_groups(file, waiting));
        Self { queue }
    }

    /// Records `event` and returns its sequence number once it is on
    /// disk. An error means it was not recorded, and neither was anything
    /// committed with it.
    pub async fn record(&self, event: AuditEvent) -> Result<u64, StoreError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Pending { event, done })
            .await
            .map_err(|_| StoreError::CommitFailed("the audit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::CommitFailed("the audit writer has stopped".into()))?
            .map_err(StoreError::CommitFailed)
    }
}

async fn append_groups(file: Arc<AuditFile>, mut waiting: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(MOST_PER_GROUP);
    while waiting.recv_many(&mut group, MOST_PER_GROUP).await > 0 {
        let (events, answers): (Vec<AuditEvent>, Vec<_>) =
            group.drain(..).map(|p| (p.event, p.done)).unzip();
        match file.append(events).await {
            Ok(seqs) => {
                for (seq, done) in seqs.zip(answers) {
                    // A caller that stopped waiting still has its event
                    // recorded: it was part of the commit.
                    let _ = done.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "an audit commit failed");
                let reason = e.to_string();
                for done in answers {
                    let _ = done.send(Err(reason.clone()));
                }
            }
        }
    }
}
