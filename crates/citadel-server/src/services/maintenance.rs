//! Housekeeping the server does by itself: purging what has been in a
//! tenant's recycle bin for more than 30 days.

use citadel_core::{Action, Principal, Resource, TenantStatus, authorize};
use citadel_store::{Store, now_millis};

/// Purges every active tenant's expired recycle bin; returns how many
/// tables went. One tenant's failure is logged and does not stop the rest.
pub async fn purge_recycle_bins(store: &Store) -> usize {
    let me = Principal::LocalAdministrator;
    let Some(platform) = authorize(&me, Action::ManageTenants, Resource::Platform)
        .ok()
        .and_then(|a| a.into_platform())
    else {
        return 0;
    };
    let tenants = match store.list_tenants(&platform).await {
        Ok(tenants) => tenants,
        Err(e) => {
            tracing::warn!(error = %e, "recycle bin purge: cannot list tenants");
            return 0;
        }
    };
    let now = now_millis();
    let mut purged = 0;
    for tenant in tenants.iter().filter(|t| t.status == TenantStatus::Active) {
        let resource = Resource::Tenant {
            id: tenant.id,
            status: tenant.status,
        };
        let Some(scope) = authorize(&me, Action::MaintainTenantData, resource)
            .ok()
            .and_then(|a| a.into_tenant())
        else {
            continue;
        };
        let outcome = match store.tenant(&scope).await {
            Ok(db) => db.purge_recycle_bin(now).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(tenant = %tenant.id, tables = n, "purged the recycle bin");
                purged += n;
            }
            Err(e) => tracing::warn!(tenant = %tenant.id, error = %e, "recycle bin purge failed"),
        }
    }
    purged
}
