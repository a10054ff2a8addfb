//! The platform registry: settings, operators and their sessions, tenants.

use citadel_core::{
    CryptoSuite, LoginName, OperatorAuthScope, OperatorId, PlatformScope, TenantId, TenantSlug,
    TenantStatus,
};
use citadel_crypto::token::hashes_equal;
use sqlx::Row;

use crate::db::{now_millis, on_pool, write_on_pool};
use crate::records::{NewOperator, OperatorRecord, OperatorSummary, SessionRecord, TenantRecord};
use crate::{Store, StoreError};

/// Both ways an operator is made (bootstrap, and by another operator)
/// write the same row.
const INSERT_OPERATOR: &str =
    "INSERT INTO operators (id, login, password_hash, created_at) VALUES ($1, $2, $3, $4)";

const BOOTSTRAP_SETTING: &str = "bootstrap_token_sha256";

macro_rules! tenant_from_row {
    ($row:expr) => {{
        let row = $row;
        TenantRecord {
            id: TenantId::parse(&row.try_get::<String, _>("id")?)?,
            slug: TenantSlug::parse(&row.try_get::<String, _>("slug")?)?,
            status: TenantStatus::parse(&row.try_get::<String, _>("status")?)?,
            suite: CryptoSuite::parse(&row.try_get::<String, _>("suite")?)?,
            created_at: row.try_get("created_at")?,
        }
    }};
}

/// What became of a bootstrap attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum BootstrapOutcome {
    Created,
    /// The token is wrong, already used, or an operator exists already.
    Refused,
}

impl Store {
    pub(crate) async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(p)
                .await?
        });
        Ok(value)
    }

    pub(crate) async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn operator_count(&self) -> Result<i64, StoreError> {
        let n = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM operators")
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }

    /// Remembers the hash of a freshly issued bootstrap token, replacing any
    /// earlier one (each start without an operator issues a new token).
    pub async fn set_bootstrap_token_hash(
        &self,
        _scope: &PlatformScope,
        hash: &[u8],
    ) -> Result<(), StoreError> {
        self.put_setting(BOOTSTRAP_SETTING, hash).await
    }

    /// A cheap check, before any password is hashed, that a bootstrap with
    /// this token could succeed: the token matches and no operator exists.
    /// [`Store::bootstrap_operator`] decides again, atomically.
    pub async fn bootstrap_may_succeed(
        &self,
        _scope: &OperatorAuthScope,
        presented_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let stored = self.get_setting(BOOTSTRAP_SETTING).await?;
        let token_ok = stored.is_some_and(|s| hashes_equal(&s, presented_hash));
        Ok(token_ok && self.operator_count().await? == 0)
    }

    /// Creates the first operator if `presented_hash` matches the stored
    /// bootstrap token and no operator exists, consuming the token. The
    /// token row is deleted first (`DELETE … RETURNING` takes its row lock),
    /// so of two racing requests the second finds no token, on PostgreSQL
    /// under READ COMMITTED as on SQLite; a wrong token rolls back.
    pub async fn bootstrap_operator(
        &self,
        _scope: &OperatorAuthScope,
        presented_hash: &[u8],
        operator: NewOperator,
    ) -> Result<BootstrapOutcome, StoreError> {
        write_on_pool!(&self.platform, |p| {
            let mut tx = p.begin().await?;
            let stored: Option<Vec<u8>> =
                sqlx::query_scalar("DELETE FROM settings WHERE key = $1 RETURNING value")
                    .bind(BOOTSTRAP_SETTING)
                    .fetch_optional(&mut *tx)
                    .await?;
            let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operators")
                .fetch_one(&mut *tx)
                .await?;
            let token_ok = stored.is_some_and(|s| hashes_equal(&s, presented_hash));
            if !token_ok || existing > 0 {
                tx.rollback().await?;
                return Ok(BootstrapOutcome::Refused);
            }
            sqlx::query(INSERT_OPERATOR)
                .bind(operator.id.to_string())
                .bind(operator.login.as_str())
                .bind(&operator.password_hash)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(BootstrapOutcome::Created)
        })
    }

    /// Every platform operator, by login.
    pub async fn list_operators(
        &self,
        _scope: &PlatformScope,
    ) -> Result<Vec<OperatorSummary>, StoreError> {
        on_pool!(&self.platform, |p| {
            let rows = sqlx::query("SELECT id, login, created_at FROM operators ORDER BY login")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(OperatorSummary {
                        id: OperatorId::parse(&row.try_get::<String, _>("id")?)?,
                        login: LoginName::parse(&row.try_get::<String, _>("login")?)?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// The password hash of operator `id`, for an operator confirming a
    /// sensitive act with their password.
    pub async fn operator_password_hash(
        &self,
        _scope: &PlatformScope,
        id: OperatorId,
    ) -> Result<Option<String>, StoreError> {
        let hash = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT password_hash FROM operators WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
        });
        Ok(hash)
    }

    /// Adds an operator (a signed-in operator's act); a login taken is a
    /// conflict.
    pub async fn create_operator(
        &self,
        _scope: &PlatformScope,
        operator: NewOperator,
    ) -> Result<(), StoreError> {
        let taken = || {
            StoreError::Conflict(format!(
                "an operator with login `{}` exists already",
                operator.login
            ))
        };
        write_on_pool!(&self.platform, |p| {
            sqlx::query(INSERT_OPERATOR)
                .bind(operator.id.to_string())
                .bind(operator.login.as_str())
                .bind(&operator.password_hash)
                .bind(now_millis())
                .execute(p)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => taken(),
                    _ => StoreError::Database(e),
                })?;
        });
        Ok(())
    }

    pub async fn find_operator_by_login(
        &self,
        _scope: &OperatorAuthScope,
        login: &LoginName,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        on_pool!(&self.platform, |p| {
            let row =
                sqlx::query("SELECT id, login, password_hash FROM operators WHERE login = $1")
                    .bind(login.as_str())
                    .fetch_optional(p)
                    .await?;
            row.map(|row| {
                Ok(OperatorRecord {
                    id: OperatorId::parse(&row.try_get::<String, _>("id")?)?,
                    login: LoginName::parse(&row.try_get::<String, _>("login")?)?,
                    password_hash: row.try_get("password_hash")?,
                })
            })
            .transpose()
        })
    }

    pub async fn create_operator_session(
        &self,
        _scope: &OperatorAuthScope,
        token_hash: &[u8],
        operator: OperatorId,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        write_on_pool!(&self.platform, |p| {
            sqlx::query(
                "INSERT INTO operator_sessions (token_hash, operator_id, created_at, last_seen_at) \
                 VALUES ($1, $2, $3, $3)",
            )
            .bind(token_hash)
            .bind(operator.to_string())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn find_operator_session(
        &self,
        _scope: &OperatorAuthScope,
        token_hash: &[u8],
    ) -> Result<Option<SessionRecord<OperatorId>>, StoreError> {
        on_pool!(&self.platform, |p| {
            let row = sqlx::query(
                "SELECT operator_id, created_at, last_seen_at FROM operator_sessions WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await?;
            row.map(|row| {
                Ok(SessionRecord {
                    owner: OperatorId::parse(&row.try_get::<String, _>("operator_id")?)?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                })
            })
            .transpose()
        })
    }

    pub async fn touch_operator_session(
        &self,
        _scope: &OperatorAuthScope,
        token_hash: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query("UPDATE operator_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn delete_operator_session(
        &self,
        _scope: &OperatorAuthScope,
        token_hash: &[u8],
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.platform, |p| {
            sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The registry entry for a slug. Registry data (id, status) is what
    /// routing a login needs; it holds nothing of the tenant's own data.
    pub async fn find_tenant_by_slug(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<TenantRecord>, StoreError> {
        on_pool!(&self.platform, |p| {
            sqlx::query("SELECT id, slug, status, suite, created_at FROM tenants WHERE slug = $1")
                .bind(slug.as_str())
                .fetch_optional(p)
                .await?
                .map(|row| Ok(tenant_from_row!(row)))
                .transpose()
        })
    }

    /// The tenant's registry row, as every request's authentication reads
    /// it: kept for a second. A status change made through this process
    /// is seen at once; one made by the `citadel tenant` command within a
    /// second.
    pub async fn find_tenant(&self, id: TenantId) -> Result<Option<TenantRecord>, StoreError> {
        if let Some(record) = self.tenant_rows.get(&id) {
            return Ok(Some(record));
        }
        let reading = self.tenant_rows.reading();
        let found = self.read_tenant(id).await?;
        if let Some(record) = &found {
            self.tenant_rows.put(id, record.clone(), reading);
        }
        Ok(found)
    }

    async fn read_tenant(&self, id: TenantId) -> Result<Option<TenantRecord>, StoreError> {
        on_pool!(&self.platform, |p| {
            sqlx::query("SELECT id, slug, status, suite, created_at FROM tenants WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
                .map(|row| Ok(tenant_from_row!(row)))
                .transpose()
        })
    }

    pub async fn list_tenants(
        &self,
        _scope: &PlatformScope,
    ) -> Result<Vec<TenantRecord>, StoreError> {
        on_pool!(&self.platform, |p| {
            sqlx::query("SELECT id, slug, status, suite, created_at FROM tenants ORDER BY slug")
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|row| Ok(tenant_from_row!(row)))
                .collect()
        })
    }

    pub async fn tenant_count(&self) -> Result<i64, StoreError> {
        let n = on_pool!(&self.platform, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }

    /// Suspends or resumes a tenant. Returns the updated record.
    pub async fn set_tenant_status(
        &self,
        _scope: &PlatformScope,
        slug: &TenantSlug,
        status: TenantStatus,
    ) -> Result<TenantRecord, StoreError> {
        if status == TenantStatus::Active
            && let Some(t) = self.find_tenant_by_slug(slug).await?
            && self.tenant_pools.is_destroying(t.id)
        {
            return Err(StoreError::Conflict(format!(
                "tenant {slug} is being destroyed"
            )));
        }
        // Forgotten before and after: a request between the two reads the
        // registry itself.
        self.tenant_rows.forget_where(|_| true);
        let changed = write_on_pool!(&self.platform, |p| {
            sqlx::query("UPDATE tenants SET status = $1 WHERE slug = $2")
                .bind(status.as_str())
                .bind(slug.as_str())
                .execute(p)
                .await?
                .rows_affected()
        });
        self.tenant_rows.forget_where(|_| true);
        if changed == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        if status == TenantStatus::Active
            && let Some(t) = self.find_tenant_by_slug(slug).await?
            && self.tenant_pools.is_destroying(t.id)
        {
            // A destroy began between the check above and the update: it
            // wins, and the tenant stays suspended.
            write_on_pool!(&self.platform, |p| {
                sqlx::query("UPDATE tenants SET status = $1 WHERE id = $2")
                    .bind(TenantStatus::Suspended.as_str())
                    .bind(t.id.to_string())
                    .execute(p)
                    .await?
                    .rows_affected()
            });
            self.tenant_rows.forget(&t.id);
            return Err(StoreError::Conflict(format!(
                "tenant {slug} is being destroyed"
            )));
        }
        if status == TenantStatus::Suspended {
            // Nothing of a suspended tenant needs to stay open.
            if let Some(t) = self.find_tenant_by_slug(slug).await? {
                self.tenant_pools.evict(t.id).await;
            }
        }
        self.find_tenant_by_slug(slug)
            .await?
            .ok_or(StoreError::NotFound("tenant"))
    }
}
