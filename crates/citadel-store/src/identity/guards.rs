//! What every authenticated request checks besides the credential itself:
//! the tenant's IP bans and its security policy. They change rarely and
//! are read on every request, so each tenant's are kept for [`FRESH_FOR`].
//! Changes made through this process (a new ban, a lifted one, a new
//! policy) forget the entry at once; another node's changes are seen within
//! [`FRESH_FOR`]. The credential, the account and its status are never
//! cached: revoking a token or disabling a user works at the next request.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use citadel_core::{SecurityPolicy, TenantId};

use crate::records::IpBan;

pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) struct Guards {
    pub policy: SecurityPolicy,
    /// Every ban; whether one is in force is decided at use.
    pub bans: Vec<IpBan>,
    read_at: Instant,
}

impl Guards {
    pub(crate) fn new(policy: SecurityPolicy, bans: Vec<IpBan>) -> Self {
        Self {
            policy,
            bans,
            read_at: Instant::now(),
        }
    }
}

#[derive(Default)]
pub struct GuardCache {
    tenants: Mutex<HashMap<TenantId, Guards>>,
}

impl std::fmt::Debug for GuardCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardCache").finish_non_exhaustive()
    }
}

impl GuardCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Guards>> {
        // One map operation per critical section: nothing is left
        // half-changed by a panic elsewhere.
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, tenant: TenantId) -> Option<Guards> {
        self.lock()
            .get(&tenant)
            .filter(|g| g.read_at.elapsed() < FRESH_FOR)
            .cloned()
    }

    pub(crate) fn put(&self, tenant: TenantId, guards: Guards) {
        let mut tenants = self.lock();
        if tenants.len() > 4096 {
            tenants.retain(|_, g| g.read_at.elapsed() < FRESH_FOR);
        }
        tenants.insert(tenant, guards);
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        self.lock().remove(&tenant);
    }
}
