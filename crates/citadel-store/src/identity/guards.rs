//! What every authenticated request checks besides the credential itself:
//! the tenant's IP bans and its security policy. They change rarely and
//! are read on every request, so each tenant's are kept while fresh (see
//! [`crate::fresh`]). The credential, the account and its status are never
//! cached: revoking a token or disabling a user works at the next request.

use citadel_core::alerts::AuditPolicy;
use citadel_core::{SecurityPolicy, TenantId};

use crate::fresh::{FreshMap, Reading};
use crate::records::IpBan;

#[derive(Clone)]
pub(crate) struct Guards {
    pub policy: SecurityPolicy,
    /// Alert thresholds, consulted for every recorded event that may
    /// raise one.
    pub audit: AuditPolicy,
    /// Every ban; whether one is in force is decided at use.
    pub bans: Vec<IpBan>,
}

#[derive(Default)]
pub struct GuardCache(FreshMap<TenantId, Guards>);

impl std::fmt::Debug for GuardCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardCache").finish_non_exhaustive()
    }
}

impl GuardCache {
    pub(crate) fn get(&self, tenant: TenantId) -> Option<Guards> {
        self.0.get(&tenant)
    }

    pub(crate) fn reading(&self) -> Reading {
        self.0.reading()
    }

    pub(crate) fn put(&self, tenant: TenantId, guards: Guards, reading: Reading) {
        self.0.put(tenant, guards, reading);
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        self.0.forget(&tenant);
    }
}
