//! Support grants: a tenant lets a named platform operator read its data
//! for a limited time. Kept in the platform store, since an operator's
//! request must find its grant before it may open the tenant's database;
//! each side reaches them only through its own scope.

use citadel_core::{
    EntryId, LoginName, OperatorAuthScope, OperatorId, TenantId, TenantScope, UserId,
};
use sqlx::Row;

use crate::db::{on_pool, write_on_pool};
use crate::{Store, StoreError};

/// One grant, live or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportGrant {
    pub id: EntryId,
    pub tenant: TenantId,
    pub operator: OperatorId,
    pub operator_login: String,
    pub reason: String,
    pub granted_by: UserId,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl SupportGrant {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

const COLUMNS: &str = "id, tenant_id, operator_id, operator_login, reason, granted_by, \
     created_at, expires_at, revoked_at";

macro_rules! grant_from_row {
    ($row:expr) => {{
        let row = $row;
        SupportGrant {
            id: EntryId::parse(&row.try_get::<String, _>("id")?)?,
            tenant: TenantId::parse(&row.try_get::<String, _>("tenant_id")?)?,
            operator: OperatorId::parse(&row.try_get::<String, _>("operator_id")?)?,
            operator_login: row.try_get("operator_login")?,
            reason: row.try_get("reason")?,
            granted_by: UserId::parse(&row.try_get::<String, _>("granted_by")?)?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        }
    }};
}

/// Most grants listed for a tenant: the newest.
const LISTED: i64 = 200;

impl Store {
    /// Grants operator `login` read access to the scope's tenant until
    /// `expires_at`. Not found if no operator has that login.
    pub async fn grant_support(
        &self,
        scope: &TenantScope,
        login: &LoginName,
        reason: &str,
        granted_by: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<SupportGrant, StoreError> {
        let id = EntryId::generate();
        let inserted = write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "INSERT INTO support_grants (id, tenant_id, operator_id, operator_login, reason, \
                 granted_by, created_at, expires_at) \
                 SELECT $1, $2, o.id, o.login, $3, $4, $5, $6 FROM operators o WHERE o.login = $7",
            )
            .bind(id.to_string())
            .bind(scope.tenant().to_string())
            .bind(reason)
            .bind(granted_by.to_string())
            .bind(now)
            .bind(expires_at)
            .bind(login.as_str())
            .execute(p)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::NotFound("operator"));
        }
        self.support_grants(scope)
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or(StoreError::NotFound("support grant"))
    }

    /// The scope's tenant's grants, newest first.
    pub async fn support_grants(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<SupportGrant>, StoreError> {
        on_pool!(&self.platform, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM support_grants WHERE tenant_id = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT {LISTED}"
            )))
            .bind(scope.tenant().to_string())
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|row| Ok(grant_from_row!(row)))
                .collect::<Result<_, StoreError>>()
        })
    }

    /// Ends a grant of the scope's tenant now.
    pub async fn revoke_support(
        &self,
        scope: &TenantScope,
        id: EntryId,
        now: i64,
    ) -> Result<(), StoreError> {
        let changed = write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "UPDATE support_grants SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE id = $2 AND tenant_id = $3",
            )
            .bind(now)
            .bind(id.to_string())
            .bind(scope.tenant().to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound("support grant"));
        }
        Ok(())
    }

    /// The operator's live grant for `tenant`, if there is one: read on
    /// every request the operator makes under it, so a revocation or the
    /// end of the grant applies at once.
    pub async fn live_support_grant(
        &self,
        _scope: &OperatorAuthScope,
        operator: OperatorId,
        tenant: TenantId,
        now: i64,
    ) -> Result<Option<SupportGrant>, StoreError> {
        on_pool!(&self.platform, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM support_grants WHERE operator_id = $1 AND tenant_id = $2 \
                 AND revoked_at IS NULL AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1"
            )))
            .bind(operator.to_string())
            .bind(tenant.to_string())
            .bind(now)
            .fetch_optional(p)
            .await?;
            row.map(|row| Ok(grant_from_row!(&row))).transpose()
        })
    }
}
