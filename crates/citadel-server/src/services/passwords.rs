//! Argon2id off the async runtime, on a small fixed set of threads (one
//! per core): a burst of logins queues instead of starving every other
//! request, and the 19 MiB each hash needs is reused by the same few
//! threads instead of being spread over the runtime's many blocking
//! threads, each of which would keep its own allocator arena.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use citadel_crypto::{SecretString, password};
use tokio::sync::oneshot;

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordWork {
    jobs: mpsc::Sender<Job>,
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
        Self { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| ApiError::Internal("password hashing threads are gone".into()))?;
        rx.await
            .map_err(|_| ApiError::Internal("password hashing job was dropped".into()))
    }

    pub async fn hash(&self, secret: SecretString) -> Result<String, ApiError> {
        self.run(move || password::hash_password(&secret))
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Verifies against `stored`, or against a dummy hash when there is no
    /// account, so both cost the same time.
    pub async fn verify(
        &self,
        secret: SecretString,
        stored: Option<String>,
    ) -> Result<bool, ApiError> {
        self.run(move || match stored {
            Some(phc) => password::verify_password(&secret, &phc),
            None => password::verify_against_dummy(&secret),
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
            .hash(SecretString::new("Correct-Horse-7".into()))
            .await
            .expect("hash");
        assert!(
            work.verify(
                SecretString::new("Correct-Horse-7".into()),
                Some(phc.clone())
            )
            .await
            .expect("verify")
        );
        assert!(
            !work
                .verify(SecretString::new("wrong".into()), Some(phc))
                .await
                .expect("verify")
        );
        assert!(
            !work
                .verify(SecretString::new("x".into()), None)
                .await
                .expect("dummy")
        );
    }
}
