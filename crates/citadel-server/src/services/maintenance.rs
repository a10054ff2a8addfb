//! Housekeeping the server does by itself: purging what has been in a
//! tenant's recycle bin for more than 30 days, and moving audit events
//! past their tenant's retention into archive segments.

use citadel_core::{Action, Principal, Resource, TenantStatus, authorize};
use citadel_store::{Store, StoreError, TenantDb, now_millis};

/// The platform's own log keeps its events live this long.
const PLATFORM_RETENTION_DAYS: i64 = 365;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Runs `job` on every active tenant's database, as the server itself;
/// returns the sum of what it reports. One tenant's failure is logged
/// (as `what`) and does not stop the rest.
async fn each_active_tenant<F, Job>(store: &Store, what: &str, job: F) -> u64
where
    F: Fn(TenantDb) -> Job,
    Job: Future<Output = Result<u64, StoreError>> + Send,
{
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
            tracing::warn!(error = %e, "{what}: cannot list tenants");
            return 0;
        }
    };
    let mut total = 0;
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
            Ok(db) => job(db).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(tenant = %tenant.id, count = n, "{what}");
                total += n;
            }
            Err(e) => tracing::warn!(tenant = %tenant.id, error = %e, "{what} failed"),
        }
    }
    total
}

/// Purges every active tenant's expired recycle bin; returns how many
/// tables went.
pub async fn purge_recycle_bins(store: &Store) -> usize {
    let now = now_millis();
    let purged = each_active_tenant(store, "purged the recycle bin", |db: TenantDb| async move {
        db.purge_recycle_bin(now).await.map(|n| n as u64)
    })
    .await;
    usize::try_from(purged).unwrap_or(usize::MAX)
}

/// Archives every active tenant's audit events older than its retention,
/// and the platform's older than a year; returns how many events moved.
pub async fn archive_audit_logs(store: &Store) -> u64 {
    let now = now_millis();
    let mut moved = each_active_tenant(store, "archived audit events", |db: TenantDb| async move {
        let days = i64::from(db.audit_policy().await?.retention_days);
        let done = db.audit().archive_before(now - days * DAY_MS).await?;
        Ok(done.events)
    })
    .await;
    match store
        .platform_audit()
        .archive_before(now - PLATFORM_RETENTION_DAYS * DAY_MS)
        .await
    {
        Ok(done) => moved += done.events,
        Err(e) => tracing::warn!(error = %e, "archiving the platform's audit events failed"),
    }
    moved
}
