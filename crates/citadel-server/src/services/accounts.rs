//! What tenant admins do to accounts: create users with a one-time
//! password, change, disable, unlock, reset; departments; IP bans; the
//! security policy. Each change is a security event.

use std::net::IpAddr;

use citadel_core::{
    DepartmentId, DisplayName, Duties, Email, EntryId, IpPrefix, LoginName, SecurityPolicy,
    TenantScope, UserId, UserStatus,
};
use citadel_crypto::SecretString;
use citadel_crypto::password::generate_one_time_password;
use citadel_store::{IpBan, NewUser, TenantDb, UserChanges, UserRecord, now_millis};
use serde_json::json;

use crate::error::ApiError;
use crate::services::sessions::TenantSession;
use crate::state::AppState;

/// The admin's tenant database and the admin's own id.
pub struct AdminContext<'a> {
    pub db: TenantDb,
    pub admin: UserId,
    pub ip: IpAddr,
    pub session: &'a TenantSession,
}

impl<'a> AdminContext<'a> {
    pub async fn open(
        state: &AppState,
        scope: &TenantScope,
        session: &'a TenantSession,
        ip: IpAddr,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            db: state.store().tenant(scope).await?,
            admin: session.user,
            ip,
            session,
        })
    }

    async fn event(
        &self,
        kind: &str,
        target: Option<UserId>,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let mut detail = detail;
        if let Some(map) = detail.as_object_mut() {
            map.insert("by".into(), json!(self.admin.to_string()));
        }
        self.db
            .auth()
            .security_event(kind, target, Some(self.ip), &detail)
            .await?;
        Ok(())
    }
}

/// Admins reset other people's credentials; their own go through the
/// endpoints under `/api/v1/me` and `/api/v1/auth`, which ask for the
/// current password.
fn refuse_self(ctx: &AdminContext<'_>, id: UserId) -> Result<(), ApiError> {
    if id == ctx.admin {
        return Err(ApiError::Refused {
            code: "use_own_endpoint",
            detail: "to change your own password or authenticator use POST /api/v1/auth/password \
                     or /api/v1/me/totp, which ask for your current password"
                .into(),
        });
    }
    Ok(())
}

/// A new account and its one-time password, shown once.
pub struct CreatedUser {
    pub user: UserRecord,
    pub one_time_password: SecretString,
}

pub struct NewAccount {
    pub login: LoginName,
    pub email: Email,
    pub display_name: Option<DisplayName>,
    pub department: Option<DepartmentId>,
    pub duties: Duties,
    /// The caller confirmed that one person is to hold all three duties.
    pub combine_duties: bool,
}

pub async fn create_user(
    state: &AppState,
    ctx: &AdminContext<'_>,
    account: NewAccount,
) -> Result<CreatedUser, ApiError> {
    refuse_combined(account.duties, account.combine_duties)?;
    let one_time_password = generate_one_time_password();
    let password_hash = state
        .passwords()
        .hash(
            SecretString::new(one_time_password.expose().to_owned()),
            Some(ctx.db.keyring().await?),
        )
        .await?;
    let id = UserId::generate();
    ctx.db
        .create_user(&NewUser {
            id,
            login: account.login,
            email: account.email,
            display_name: account.display_name,
            department: account.department,
            password_hash,
            must_change_password: true,
            duties: account.duties,
            protected: false,
        })
        .await?;
    let user = ctx
        .db
        .find_user(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    ctx.event(
        "user_created",
        Some(id),
        json!({ "login": user.login.as_str(), "duties": duty_names(user.duties) }),
    )
    .await?;
    Ok(CreatedUser {
        user,
        one_time_password,
    })
}

/// Changes to a user's duties: `None` keeps one as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct DutyChanges {
    pub system: Option<bool>,
    pub security: Option<bool>,
    pub audit: Option<bool>,
    /// The caller confirmed that one person is to hold all three.
    pub combine: bool,
}

impl DutyChanges {
    fn is_empty(&self) -> bool {
        self.system.is_none() && self.security.is_none() && self.audit.is_none()
    }

    fn applied_to(&self, current: Duties) -> Duties {
        Duties {
            system: self.system.unwrap_or(current.system),
            security: self.security.unwrap_or(current.security),
            audit: self.audit.unwrap_or(current.audit),
        }
    }
}

/// The names of the duties held, for events and answers.
pub fn duty_names(duties: Duties) -> Vec<&'static str> {
    [
        (duties.system, "system_admin"),
        (duties.security, "security_admin"),
        (duties.audit, "audit_admin"),
    ]
    .into_iter()
    .filter_map(|(held, name)| held.then_some(name))
    .collect()
}

/// 三员分立: no one holds system, security and audit administration
/// together unless the tenant says so deliberately.
fn refuse_combined(duties: Duties, confirmed: bool) -> Result<(), ApiError> {
    if duties.combined() && !confirmed {
        return Err(ApiError::Refused {
            code: "duties_combined",
            detail: "system, security and audit administration are kept apart: give them \
                     to different people, or send \"combine_duties\": true to give one \
                     person all three on purpose"
                .into(),
        });
    }
    Ok(())
}

/// Applies an admin's changes. An admin cannot disable themselves or give
/// up their own system duty (the tenant could be left without one); a
/// protected account cannot be disabled or lose a duty until it is
/// unprotected, in a request of its own.
pub async fn update_user(
    ctx: &AdminContext<'_>,
    id: UserId,
    mut changes: UserChanges,
    duties: DutyChanges,
) -> Result<UserRecord, ApiError> {
    let current = ctx
        .db
        .find_user(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let next = duties.applied_to(current.duties);
    let loses_duty = (current.duties.system && !next.system)
        || (current.duties.security && !next.security)
        || (current.duties.audit && !next.audit);
    let disables = changes.status == Some(UserStatus::Disabled);
    if id == ctx.admin && (disables || (current.duties.system && !next.system)) {
        return Err(ApiError::Refused {
            code: "cannot_lock_out_self",
            detail: "you cannot disable your own account or give up your own system \
                     administration; ask another administrator"
                .into(),
        });
    }
    if current.protected && changes.protected != Some(false) && (disables || loses_duty) {
        return Err(ApiError::Conflict(
            "this is a protected system account: it cannot be disabled or lose a duty; \
             unprotect it first (\"protected\": false) if that is really meant"
                .into(),
        ));
    }
    if current.protected && changes.protected == Some(false) && (disables || loses_duty) {
        return Err(ApiError::Conflict(
            "unprotect the account in a request of its own, then change it".into(),
        ));
    }
    if !duties.is_empty() {
        if next != current.duties {
            refuse_combined(next, duties.combine)?;
        }
        changes.duties = Some(next);
    }
    ctx.db.update_user(id, &changes).await?;
    let mut detail = serde_json::Map::new();
    if let Some(status) = changes.status {
        detail.insert("status".into(), json!(status.as_str()));
    }
    if next != current.duties {
        detail.insert("duties".into(), json!(duty_names(next)));
    }
    if let Some(protected) = changes.protected {
        detail.insert("protected".into(), json!(protected));
    }
    if changes.email.is_some() || changes.display_name.is_some() || changes.department.is_some() {
        detail.insert("profile".into(), json!(true));
    }
    let kind = match changes.status {
        Some(UserStatus::Disabled) => "user_disabled",
        Some(UserStatus::Active) => "user_enabled",
        None => "user_changed",
    };
    ctx.event(kind, Some(id), serde_json::Value::Object(detail))
        .await?;
    ctx.db
        .find_user(id)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

pub async fn unlock_user(ctx: &AdminContext<'_>, id: UserId) -> Result<(), ApiError> {
    ctx.db.unlock_user(id).await?;
    ctx.event("user_unlocked", Some(id), json!({})).await
}

/// Gives another user a new one-time password (shown once) that must be
/// changed at the next sign-in; ends all their sessions and revokes their
/// access tokens.
pub async fn reset_password(
    state: &AppState,
    ctx: &AdminContext<'_>,
    id: UserId,
) -> Result<SecretString, ApiError> {
    refuse_self(ctx, id)?;
    let one_time_password = generate_one_time_password();
    let hash = state
        .passwords()
        .hash(
            SecretString::new(one_time_password.expose().to_owned()),
            Some(ctx.db.keyring().await?),
        )
        .await?;
    ctx.db.set_password(id, &hash, true, None).await?;
    ctx.event("password_reset", Some(id), json!({})).await?;
    Ok(one_time_password)
}

/// Removes a user's second factor (a lost phone); they enrol again.
pub async fn reset_totp(ctx: &AdminContext<'_>, id: UserId) -> Result<(), ApiError> {
    refuse_self(ctx, id)?;
    ctx.db.remove_totp(id).await?;
    ctx.event("totp_removed", Some(id), json!({})).await
}

pub async fn set_policy(
    ctx: &AdminContext<'_>,
    policy: SecurityPolicy,
) -> Result<SecurityPolicy, ApiError> {
    policy
        .validate()
        .map_err(|e| ApiError::invalid_field("policy", e))?;
    ctx.db.set_security_policy(&policy).await?;
    ctx.event(
        "security_policy_changed",
        None,
        serde_json::to_value(policy).unwrap_or_default(),
    )
    .await?;
    Ok(policy)
}

/// Bans a network. A ban that would cover the admin's own address, or
/// every address, is refused: it would lock the tenant out.
pub async fn ban(
    ctx: &AdminContext<'_>,
    prefix: IpPrefix,
    reason: String,
    expires_in_minutes: Option<u32>,
) -> Result<IpBan, ApiError> {
    if prefix.is_everything() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "prefix: a ban of every address is refused",
        ));
    }
    if prefix.contains(ctx.ip) {
        return Err(ApiError::Refused {
            code: "ban_covers_self",
            detail: format!(
                "{prefix} covers your own address {}; you would lock yourself out",
                ctx.ip
            ),
        });
    }
    let now = now_millis();
    let ban = IpBan {
        id: EntryId::generate(),
        prefix,
        reason,
        created_at: now,
        created_by: Some(ctx.admin),
        expires_at: expires_in_minutes.map(|m| now.saturating_add(i64::from(m) * 60_000)),
    };
    ctx.db.create_ip_ban(&ban).await?;
    ctx.event(
        "ip_banned",
        None,
        json!({ "prefix": prefix.to_string(), "reason": ban.reason }),
    )
    .await?;
    Ok(ban)
}

pub async fn unban(ctx: &AdminContext<'_>, id: EntryId) -> Result<(), ApiError> {
    let prefix = ctx.db.delete_ip_ban(id).await?;
    ctx.event("ip_unbanned", None, json!({ "prefix": prefix.to_string() }))
        .await
}
