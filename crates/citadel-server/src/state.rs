//! What every handler can reach: the store, the password workers, the
//! metrics and the settings. Passed as state, never global.

use std::sync::Arc;

use citadel_core::session::SessionPolicy;
use citadel_store::Store;

use crate::metrics::Metrics;
use crate::services::passwords::PasswordWork;

/// Settings the request pipeline reads at run time.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    pub max_body_bytes: usize,
    pub sessions: SessionPolicy,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<Store>,
    passwords: PasswordWork,
    metrics: Metrics,
    settings: RuntimeSettings,
}

impl AppState {
    pub fn new(store: Arc<Store>, settings: RuntimeSettings) -> Self {
        Self(Arc::new(Inner {
            store,
            passwords: PasswordWork::new(),
            metrics: Metrics::default(),
            settings,
        }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// A handle on the store for work that must outlive the request (a
    /// destroy must finish even if its client goes away).
    pub fn store_arc(&self) -> Arc<Store> {
        Arc::clone(&self.0.store)
    }

    pub fn passwords(&self) -> &PasswordWork {
        &self.0.passwords
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.0.settings
    }
}
