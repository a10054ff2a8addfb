//! Argon2id off the async runtime, at most one hash per core at a time, so
//! a burst of logins queues instead of starving every other request.

use std::sync::Arc;

use citadel_crypto::{SecretString, password};
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct PasswordWork {
    permits: Arc<Semaphore>,
}

impl Default for PasswordWork {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordWork {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    pub async fn hash(&self, secret: SecretString) -> Result<String, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || password::hash_password(&secret))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Verifies against `stored`, or against a dummy hash when there is no
    /// account, so both cost the same time.
    pub async fn verify(
        &self,
        secret: SecretString,
        stored: Option<String>,
    ) -> Result<bool, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || match stored {
            Some(phc) => password::verify_password(&secret, &phc),
            None => password::verify_against_dummy(&secret),
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
    }
}
