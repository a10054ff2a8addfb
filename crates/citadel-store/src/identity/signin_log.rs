//! The sign-in log and what reacts to it: every attempt, each user's usual
//! networks, security events, in-app notifications, IP bans, and the
//! tenant's security policy.

use std::net::IpAddr;

use citadel_core::alerts::AuditPolicy;
use citadel_core::{EntryId, IpPrefix, SecurityPolicy, UserId};
use sqlx::Row;

use crate::StoreError;
use crate::db::{BeginWrite, now_millis, on_pool, write_on_pool};
use crate::identity::credentials::clip_user_agent;
use crate::identity::guards::Guards;
use crate::identity::{conflict_on_unique, page_bounds};
use crate::records::{ClientInfo, IpBan, LoginAttempt, Notification, Page, SecurityEvent};
use crate::tenant_db::{TenantAuthDb, TenantDb};

const POLICY_KEY: &str = "security_policy";
pub(crate) const AUDIT_POLICY_KEY: &str = "audit_policy";
/// A user's usual networks are the most recently seen this many.
const USUAL_NETWORKS_KEPT: i64 = 20;
/// Attempted login names are kept for the log, cut to this length.
const LOGIN_MAX: usize = 64;

macro_rules! attempt_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(LoginAttempt {
            id: EntryId::parse(&row.try_get::<String, _>("id")?)?,
            at: row.try_get("at")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            login: row.try_get("login")?,
            user: row
                .try_get::<Option<String>, _>("user_id")?
                .map(|u| UserId::parse(&u))
                .transpose()?,
            outcome: row.try_get("outcome")?,
        })
    }};
}

impl TenantAuthDb {
    /// The tenant's security policy, or the default if none was saved.
    /// The tenant's security policy (from the guard cache when it was read
    /// a moment ago).
    pub async fn security_policy(&self) -> Result<SecurityPolicy, StoreError> {
        Ok(self.guards().await?.policy)
    }

    /// The bans in force and the policy, as every request checks them.
    async fn guards(&self) -> Result<Guards, StoreError> {
        if let Some(guards) = self.0.guards.get(self.0.tenant) {
            return Ok(guards);
        }
        // Every ban, expired ones too, so the check at any moment is exact;
        // it is read at most once a second per tenant.
        let reading = self.0.guards.reading();
        let (policy, audit) = self.stored_policies().await?;
        let guards = Guards {
            policy,
            audit,
            bans: self.0.ip_bans(None).await?,
        };
        self.0.guards.put(self.0.tenant, guards.clone(), reading);
        Ok(guards)
    }

    /// The stored security and audit policies (defaults for those never
    /// saved), in one query.
    async fn stored_policies(&self) -> Result<(SecurityPolicy, AuditPolicy), StoreError> {
        let stored: Vec<(String, String)> = on_pool!(&self.0.pool, |p| {
            sqlx::query_as("SELECT key, value FROM tenant_settings WHERE key IN ($1, $2)")
                .bind(POLICY_KEY)
                .bind(AUDIT_POLICY_KEY)
                .fetch_all(p)
                .await?
        });
        let mut policies = (SecurityPolicy::default(), AuditPolicy::default());
        for (key, json) in stored {
            let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("{key}: {e}"));
            if key == POLICY_KEY {
                policies.0 = serde_json::from_str(&json).map_err(corrupt)?;
            } else {
                policies.1 = serde_json::from_str(&json).map_err(corrupt)?;
            }
        }
        Ok(policies)
    }

    /// The tenant's audit policy: alert thresholds, working hours, the
    /// webhook and retention (from the guard cache when fresh).
    pub async fn audit_policy(&self) -> Result<AuditPolicy, StoreError> {
        Ok(self.guards().await?.audit)
    }

    /// The ban in force that covers `ip`, if any.
    pub async fn ban_covering(&self, ip: IpAddr, now: i64) -> Result<Option<IpBan>, StoreError> {
        Ok(self
            .guards()
            .await?
            .bans
            .into_iter()
            .filter(|ban| ban.expires_at.is_none_or(|until| until > now))
            .find(|ban| ban.prefix.contains(ip)))
    }

    pub async fn record_attempt(
        &self,
        client: &ClientInfo,
        login: &str,
        user: Option<UserId>,
        outcome: &str,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "INSERT INTO login_attempts (id, at, ip, user_agent, login, user_id, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(EntryId::generate().to_string())
            .bind(now_millis())
            .bind(client.ip.to_string())
            .bind(clip_user_agent(&client.user_agent))
            .bind(login.chars().take(LOGIN_MAX).collect::<String>())
            .bind(user.map(|u| u.to_string()))
            .bind(outcome)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Remembers that `user` signed in from `prefix`. Returns true if the
    /// prefix is unusual: the user has signed in before, never from there.
    /// A user's first network is their first usual one, not an anomaly.
    pub async fn observe_network(
        &self,
        user: UserId,
        prefix: &IpPrefix,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let prefix = prefix.to_string();
        write_on_pool!(&self.0.pool, |p| {
            let mut tx = p.begin_write().await?;
            let known: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM usual_networks WHERE user_id = $1")
                    .bind(user.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
            let updated = sqlx::query(
                "UPDATE usual_networks SET last_seen_at = $1 WHERE user_id = $2 AND prefix = $3",
            )
            .bind(now)
            .bind(user.to_string())
            .bind(&prefix)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                sqlx::query(
                    "INSERT INTO usual_networks (user_id, prefix, first_seen_at, last_seen_at) \
                     VALUES ($1, $2, $3, $3) ON CONFLICT (user_id, prefix) DO NOTHING",
                )
                .bind(user.to_string())
                .bind(&prefix)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM usual_networks WHERE user_id = $1 AND prefix NOT IN (\
                       SELECT prefix FROM usual_networks WHERE user_id = $1 \
                       ORDER BY last_seen_at DESC LIMIT $2)",
                )
                .bind(user.to_string())
                .bind(USUAL_NETWORKS_KEPT)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(updated == 0 && known > 0)
        })
    }

    pub async fn security_event(
        &self,
        kind: &str,
        user: Option<UserId>,
        ip: Option<IpAddr>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "INSERT INTO security_events (id, at, kind, user_id, ip, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(EntryId::generate().to_string())
            .bind(now_millis())
            .bind(kind)
            .bind(user.map(|u| u.to_string()))
            .bind(ip.map(|ip| ip.to_string()))
            .bind(detail.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        // Security events are audit events too; if the audit log cannot
        // take this one, the action that raised it fails.
        self.0
            .audit
            .record(citadel_audit::AuditEvent {
                seq: 0,
                at_ms: now_millis(),
                actor_id: user.map(|u| u.to_string()),
                actor_name: None,
                actor_ip: ip.map(|ip| ip.to_string()),
                user_agent: None,
                request_id: None,
                action: format!("security.{kind}"),
                targets: user.map(|u| vec![format!("user:{u}")]).unwrap_or_default(),
                outcome: citadel_audit::Outcome::Success,
                detail: detail.to_string(),
            })
            .await?;
        Ok(())
    }

    /// An in-app notification for `user`.
    pub async fn notify(
        &self,
        user: UserId,
        kind: &str,
        title: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "INSERT INTO notifications (id, user_id, at, kind, title, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(EntryId::generate().to_string())
            .bind(user.to_string())
            .bind(now_millis())
            .bind(kind)
            .bind(title)
            .bind(body)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}

impl TenantDb {
    /// The active security administrators, who receive alerts.
    pub async fn security_admins(&self) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<String> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "SELECT id FROM users WHERE is_security_admin = TRUE AND status = $1 ORDER BY id",
            )
            .bind(citadel_core::UserStatus::Active.as_str())
            .fetch_all(p)
            .await?
        });
        Ok(ids
            .iter()
            .map(|id| UserId::parse(id))
            .collect::<Result<_, _>>()?)
    }

    pub async fn audit_policy(&self) -> Result<AuditPolicy, StoreError> {
        self.auth().audit_policy().await
    }

    pub async fn security_policy(&self) -> Result<SecurityPolicy, StoreError> {
        self.auth().security_policy().await
    }

    pub async fn set_security_policy(&self, policy: &SecurityPolicy) -> Result<(), StoreError> {
        self.put_policy(POLICY_KEY, policy).await
    }

    pub async fn set_audit_policy(&self, policy: &AuditPolicy) -> Result<(), StoreError> {
        self.put_policy(AUDIT_POLICY_KEY, policy).await
    }

    /// Saves a policy as a tenant setting; the guard cache forgets it.
    async fn put_policy(
        &self,
        key: &str,
        policy: &impl serde::Serialize,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(policy)
            .map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
        write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO tenant_settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(json)
            .bind(now_millis())
            .execute(p)
            .await?
            .rows_affected()
        });
        self.guards.forget(self.tenant);
        Ok(())
    }

    /// Sign-in attempts, newest first; one user's, or everyone's.
    pub async fn login_attempts(
        &self,
        user: Option<UserId>,
        page: &Page,
    ) -> Result<Vec<LoginAttempt>, StoreError> {
        let (before, limit) = page_bounds(page);
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, at, ip, user_agent, login, user_id, outcome FROM login_attempts \
                 WHERE id < $1 AND ($2 IS NULL OR user_id = $2) ORDER BY id DESC LIMIT $3",
            )
            .bind(before)
            .bind(user.map(|u| u.to_string()))
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| attempt_from_row!(row))
            .collect()
        })
    }

    pub async fn security_events(&self, page: &Page) -> Result<Vec<SecurityEvent>, StoreError> {
        let (before, limit) = page_bounds(page);
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, at, kind, user_id, ip, detail FROM security_events \
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| {
                Ok(SecurityEvent {
                    id: EntryId::parse(&row.try_get::<String, _>("id")?)?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    user: row
                        .try_get::<Option<String>, _>("user_id")?
                        .map(|u| UserId::parse(&u))
                        .transpose()?,
                    ip: row.try_get("ip")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
        })
    }

    pub async fn notifications(
        &self,
        user: UserId,
        page: &Page,
    ) -> Result<Vec<Notification>, StoreError> {
        let (before, limit) = page_bounds(page);
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, at, kind, title, body, read_at FROM notifications \
                 WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(user.to_string())
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| {
                Ok(Notification {
                    id: EntryId::parse(&row.try_get::<String, _>("id")?)?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    read_at: row.try_get("read_at")?,
                })
            })
            .collect()
        })
    }

    /// Marks one of the user's notifications read; another user's is "not
    /// found".
    pub async fn mark_notification_read(
        &self,
        user: UserId,
        id: EntryId,
    ) -> Result<(), StoreError> {
        let found = write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
            )
            .bind(now_millis())
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        if found == 0 {
            return Err(StoreError::NotFound("notification"));
        }
        Ok(())
    }

    /// Every ban, expired ones included.
    pub async fn list_ip_bans(&self) -> Result<Vec<IpBan>, StoreError> {
        self.ip_bans(None).await
    }

    /// The bans, or only those in force at `active_at`: the check that runs
    /// on every request does not read bans that have run out.
    async fn ip_bans(&self, active_at: Option<i64>) -> Result<Vec<IpBan>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, prefix, reason, created_at, created_by, expires_at FROM ip_bans \
                 WHERE $1 IS NULL OR expires_at IS NULL OR expires_at > $1 ORDER BY id",
            )
            .bind(active_at)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| {
                Ok(IpBan {
                    id: EntryId::parse(&row.try_get::<String, _>("id")?)?,
                    prefix: row
                        .try_get::<String, _>("prefix")?
                        .parse()
                        .map_err(|e: citadel_core::CoreError| StoreError::Corrupt(e.to_string()))?,
                    reason: row.try_get("reason")?,
                    created_at: row.try_get("created_at")?,
                    created_by: row
                        .try_get::<Option<String>, _>("created_by")?
                        .map(|u| UserId::parse(&u))
                        .transpose()?,
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .collect()
        })
    }

    pub async fn create_ip_ban(&self, ban: &IpBan) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO ip_bans (id, prefix, reason, created_at, created_by, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ban.id.to_string())
            .bind(ban.prefix.to_string())
            .bind(&ban.reason)
            .bind(ban.created_at)
            .bind(ban.created_by.map(|u| u.to_string()))
            .bind(ban.expires_at)
            .execute(p)
            .await
            .map_err(conflict_on_unique("that network is banned already"))?
            .rows_affected()
        });
        self.guards.forget(self.tenant);
        Ok(())
    }

    pub async fn delete_ip_ban(&self, id: EntryId) -> Result<IpPrefix, StoreError> {
        let prefix: Option<String> = write_on_pool!(&self.pool, |p| {
            sqlx::query_scalar("DELETE FROM ip_bans WHERE id = $1 RETURNING prefix")
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
        });
        self.guards.forget(self.tenant);
        prefix
            .ok_or(StoreError::NotFound("ban"))?
            .parse()
            .map_err(|e: citadel_core::CoreError| StoreError::Corrupt(e.to_string()))
    }
}
