//! Support access: a tenant's system administrators let a named platform
//! operator read the tenant's records for a few hours. The operator's
//! requests are decided as `Principal::SupportOperator` (read only, every
//! row, no values of the sensitive types), only while a grant is live, and
//! each one is written to the tenant's security events.

use std::net::IpAddr;

use citadel_core::access::{TableAccess, TenantResource, ops};
use citadel_core::{
    Action, OperatorAuthScope, OperatorId, Principal, TableId, TenantSlug, authorize,
};
use citadel_store::{SupportGrant, TenantDb, now_millis};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::path_id;
use crate::services::access::decide_for;
use crate::state::AppState;

/// Shortest and longest grant, in hours.
pub const GRANT_HOURS: std::ops::RangeInclusive<u32> = 1..=72;

/// An operator's way into one tenant's data under a live grant.
pub struct SupportSession {
    pub db: TenantDb,
    pub principal: Principal,
    pub tenant: TenantResource,
    pub grant: SupportGrant,
}

fn no_grant() -> ApiError {
    ApiError::Refused {
        code: "no_support_grant",
        detail: "this tenant has not granted you support access, or the grant has ended".into(),
    }
}

/// Opens the tenant `slug` for `operator` if it has a live grant for them,
/// and records the use (`what`, such as the request's method and path) in
/// the tenant's security events.
pub async fn open(
    state: &AppState,
    scope: &OperatorAuthScope,
    operator: OperatorId,
    slug: &str,
    what: &str,
    ip: IpAddr,
) -> Result<SupportSession, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|e| ApiError::invalid_field("slug", e))?;
    let store = state.store();
    // An unknown tenant and a missing grant answer alike: an operator
    // learns nothing of tenants that did not ask for them.
    let record = store
        .find_tenant_by_slug(&slug)
        .await?
        .ok_or_else(no_grant)?;
    let grant = store
        .live_support_grant(scope, operator, record.id, now_millis())
        .await?
        .ok_or_else(no_grant)?;
    let principal = Principal::SupportOperator {
        operator,
        tenant: record.id,
    };
    let tenant = TenantResource {
        id: record.id,
        status: record.status,
    };
    let tenant_scope = authorize(&principal, Action::ReadData, tenant.resource())?
        .into_tenant()
        .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))?;
    let db = store.tenant(&tenant_scope).await?;
    db.auth()
        .security_event(
            "support_access",
            None,
            Some(ip),
            &json!({
                "operator": grant.operator_login,
                "grant": grant.id.to_string(),
                "request": what,
            }),
        )
        .await?;
    Ok(SupportSession {
        db,
        principal,
        tenant,
        grant,
    })
}

impl SupportSession {
    /// The read decision on the table whose id is `raw`.
    pub async fn read(&self, raw: &str) -> Result<TableAccess<ops::Read>, ApiError> {
        let schema = self
            .db
            .table_schema(path_id("table", raw, TableId::parse)?)
            .await?;
        decide_for(&self.db, &self.principal, self.tenant, schema).await
    }
}
