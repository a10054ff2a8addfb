//! Argon2id off the async runtime, on a small fixed set of threads (one
//! per core): a burst of logins queues instead of starving every other
//! request, and the 19 MiB each hash needs is reused by the same few
//! threads instead of being spread over the runtime's many blocking
//! threads, each of which would keep its own allocator arena.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use citadel_crypto::{SecretString, password};
use citadel_store::Keyring;
use tokio::sync::{Semaphore, oneshot};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// At most this many hashes may wait; beyond it callers get 503 at once
/// rather than queueing work nobody will wait for.
pub const MAX_QUEUED: usize = 64;

#[derive(Clone)]
pub struct PasswordWork {
    jobs: mpsc::Sender<Job>,
    admission: Arc<Semaphore>,
}

impl Default for PasswordWork {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordWork {
    /// Starts one worker thread per core. The threads end when the last
    /// clone of this handle is dropped.
    pub fn new() -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        for i in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("citadel-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            jobs,
            admission: Arc::new(Semaphore::new(MAX_QUEUED)),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _admitted = self.admission.try_acquire().map_err(|_| ApiError::Busy)?;
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The request may have timed out or been dropped while the
                // job queued: then the hash is not worth computing.
                if !tx.is_closed() {
                    let _ = tx.send(work());
                }
            }))
            .map_err(|_| ApiError::Internal("password hashing threads are gone".into()))?;
        rx.await
            .map_err(|_| ApiError::Internal("password hashing job was dropped".into()))
    }

    /// Hashes a password; a tenant user's with the tenant's pepper
    /// (`pepper`: its keyring), a platform operator's without.
    pub async fn hash(
        &self,
        secret: SecretString,
        pepper: Option<Arc<Keyring>>,
    ) -> Result<String, ApiError> {
        self.run(move || password::hash_password(&secret, pepper.as_ref().map(|k| k.pepper_key())))
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Verifies against `stored`, or against a dummy hash when there is no
    /// account, so both cost the same time.
    pub async fn verify(
        &self,
        secret: SecretString,
        stored: Option<String>,
        pepper: Option<Arc<Keyring>>,
    ) -> Result<bool, ApiError> {
        self.run(move || {
            let pepper = pepper.as_ref().map(|k| k.pepper_key());
            match stored {
                Some(phc) => password::verify_password(&secret, &phc, pepper),
                None => password::verify_against_dummy(&secret, pepper),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies_on_the_workers() {
        let work = PasswordWork::new();
        let phc = work
            .hash(SecretString::new("Correct-Horse-7".into()), None)
            .await
            .expect("hash");
        assert!(
            work.verify(
                SecretString::new("Correct-Horse-7".into()),
                Some(phc.clone()),
                None
            )
            .await
            .expect("verify")
        );
        assert!(
            !work
                .verify(SecretString::new("wrong".into()), Some(phc), None)
                .await
                .expect("verify")
        );
        assert!(
            !work
                .verify(SecretString::new("x".into()), None, None)
                .await
                .expect("dummy")
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let work = PasswordWork::new();
        let held: Vec<_> = (0..MAX_QUEUED)
            .map(|_| work.admission.try_acquire().expect("permit"))
            .collect();
        let refused = work.verify(SecretString::new("x".into()), None, None).await;
        assert!(matches!(refused, Err(ApiError::Busy)), "{refused:?}");
        drop(held);
        assert!(
            work.verify(SecretString::new("x".into()), None, None)
                .await
                .is_ok()
        );
    }
}
