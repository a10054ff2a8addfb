//! What every handler can reach: the store, the password workers, the
//! metrics and the settings. Passed as state, never global.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use citadel_core::session::SessionPolicy;
use citadel_core::throttle::{IpThrottle, ThrottlePolicy};
use citadel_store::Store;

use crate::metrics::Metrics;
use crate::services::alerts::Alerting;
use crate::services::passwords::PasswordWork;

/// Settings the request pipeline reads at run time.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    pub max_body_bytes: usize,
    pub sessions: SessionPolicy,
    /// Failed sign-ins allowed per client address, across accounts.
    pub login_throttle: ThrottlePolicy,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<Store>,
    passwords: PasswordWork,
    metrics: Metrics,
    settings: RuntimeSettings,
    /// Per-process: each node throttles what it sees (a multi-node
    /// deployment would move this to Redis).
    throttle: Mutex<IpThrottle>,
    /// Per-process, like the throttle.
    alerting: Alerting,
}

impl AppState {
    pub fn new(store: Arc<Store>, settings: RuntimeSettings) -> Self {
        Self(Arc::new(Inner {
            store,
            passwords: PasswordWork::new(),
            metrics: Metrics::default(),
            throttle: Mutex::new(IpThrottle::new(settings.login_throttle)),
            alerting: Alerting::default(),
            settings,
        }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The store, for work that outlives the request (a re-encryption).
    pub fn shared_store(&self) -> Arc<Store> {
        Arc::clone(&self.0.store)
    }

    /// A handle on the store for work that must outlive the request (a
    /// destroy must finish even if its client goes away).
    pub fn store_arc(&self) -> Arc<Store> {
        Arc::clone(&self.0.store)
    }

    pub fn passwords(&self) -> &PasswordWork {
        &self.0.passwords
    }

    pub fn alerting(&self) -> &Alerting {
        &self.0.alerting
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.0.settings
    }

    /// Starts a sign-in attempt from `ip`, counted as a failure until
    /// forgiven; `Err` holds the milliseconds to wait if `ip` failed too
    /// often.
    pub fn begin_login_attempt(&self, ip: IpAddr, now_ms: i64) -> Result<(), i64> {
        self.throttle().begin_attempt(ip, now_ms)
    }

    /// Takes the count back for an attempt that did not fail.
    pub fn forgive_login_failure(&self, ip: IpAddr) {
        self.throttle().forgive(ip);
    }

    /// The throttle's counts stay meaningful even if a holder panicked.
    fn throttle(&self) -> std::sync::MutexGuard<'_, IpThrottle> {
        self.0
            .throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
