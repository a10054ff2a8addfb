//! Request and response bodies of the identity API: a user's own
//! credentials, and what tenant admins manage.

use citadel_core::{SecurityPolicy, TotpRequirement};
use citadel_store::{
    AccessTokenRecord, DepartmentRecord, IpBan, LoginAttempt, Notification, SecurityEvent,
    SessionEntry,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::routes::dto::{SecretInput, UserView, rfc3339};

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`),
/// for PATCH bodies where `null` clears a value.
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub ip: String,
    pub user_agent: String,
    /// The session this request came with.
    pub current: bool,
}

impl SessionView {
    pub fn new(entry: &SessionEntry, current: Option<&[u8; 32]>) -> Self {
        Self {
            id: entry.id.to_string(),
            created_at: rfc3339(entry.created_at),
            last_seen_at: rfc3339(entry.last_seen_at),
            ip: entry.ip.clone(),
            user_agent: entry.user_agent.clone(),
            current: current.is_some_and(|c| c[..] == entry.token_hash[..]),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. "nightly export".
    pub name: String,
    /// 1 to 365.
    pub expires_in_days: u32,
    /// The current password: a token outlives the session that made it.
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
}

impl From<&AccessTokenRecord> for TokenView {
    fn from(t: &AccessTokenRecord) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.to_string(),
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            last_used_at: t.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTokenView {
    pub token: TokenView,
    /// The token itself, shown this once: send it as
    /// `Authorization: Bearer <secret>`. Only its hash is stored.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentView {
    /// For a QR code: `otpauth://totp/...`.
    pub otpauth_uri: String,
    /// The seed in base32, for typing into an app by hand.
    pub secret: String,
    /// The URI as a QR code (an SVG document), for scanning.
    pub qr_svg: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The current six-digit code of the new authenticator.
    pub code: String,
    /// The current password.
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesView {
    /// Shown this once; each works once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    /// The current password, to confirm a sensitive change.
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub at: String,
    /// `unusual_login`, `account_locked`, `recovery_code_used`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub read: bool,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.to_string(),
            at: rfc3339(n.at),
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginAttemptView {
    pub id: String,
    pub at: String,
    pub ip: String,
    pub user_agent: String,
    /// The login name as typed.
    pub login: String,
    pub user_id: Option<String>,
    /// `success`, `success_recovery_code`, `wrong_password`,
    /// `unknown_login`, `locked`, `disabled`, `second_factor_required`,
    /// `wrong_second_factor`, `ip_banned`.
    pub outcome: String,
}

impl From<&LoginAttempt> for LoginAttemptView {
    fn from(a: &LoginAttempt) -> Self {
        Self {
            id: a.id.to_string(),
            at: rfc3339(a.at),
            ip: a.ip.clone(),
            user_agent: a.user_agent.clone(),
            login: a.login.clone(),
            user_id: a.user.map(|u| u.to_string()),
            outcome: a.outcome.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventView {
    pub id: String,
    pub at: String,
    /// E.g. `unusual_login`, `account_locked`, `user_disabled`, `ip_banned`.
    pub kind: String,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&SecurityEvent> for SecurityEventView {
    fn from(e: &SecurityEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: rfc3339(e.at),
            kind: e.kind.clone(),
            user_id: e.user.map(|u| u.to_string()),
            ip: e.ip.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Newest-first paging: entries older than `before` (an id from the
/// previous page), at most `limit` (1–500, default 50).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub before: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only this user's attempts.
    pub user_id: Option<String>,
    pub before: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub login: String,
    pub email: String,
    pub display_name: Option<String>,
    pub department_id: Option<String>,
    /// System administration (users, departments, groups, apps).
    #[serde(default)]
    pub is_admin: bool,
    /// Security administration (security policy, IP bans).
    #[serde(default)]
    pub security_admin: bool,
    /// Audit administration (sign-in log, security events).
    #[serde(default)]
    pub audit_admin: bool,
    /// Needed to give one person all three duties.
    #[serde(default)]
    pub combine_duties: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUserView {
    pub user: UserView,
    /// Shown once; must be changed at first sign-in.
    pub one_time_password: String,
}

/// Absent fields keep their value; `null` clears `display_name` and
/// `department_id`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub department_id: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub security_admin: Option<bool>,
    pub audit_admin: Option<bool>,
    /// Needed to give one person all three duties.
    #[serde(default)]
    pub combine_duties: bool,
    /// Protect or unprotect the account (alone in its request when it
    /// is to be disabled or lose a duty afterwards).
    pub protected: Option<bool>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OneTimePasswordView {
    /// Shown once; must be changed at the next sign-in.
    pub one_time_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub created_at: String,
}

impl From<&DepartmentRecord> for DepartmentView {
    fn from(d: &DepartmentRecord) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.to_string(),
            parent_id: d.parent.map(|p| p.to_string()),
            created_at: rfc3339(d.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartmentRequest {
    pub name: String,
    pub parent_id: Option<String>,
}

/// Absent fields keep their value; `"parent_id": null` makes it a root.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDepartmentRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct BanView {
    pub id: String,
    /// CIDR, e.g. `203.0.113.0/24`.
    pub prefix: String,
    pub reason: String,
    pub created_at: String,
    pub created_by: Option<String>,
    pub expires_at: Option<String>,
}

impl From<&IpBan> for BanView {
    fn from(b: &IpBan) -> Self {
        Self {
            id: b.id.to_string(),
            prefix: b.prefix.to_string(),
            reason: b.reason.clone(),
            created_at: rfc3339(b.created_at),
            created_by: b.created_by.map(|u| u.to_string()),
            expires_at: b.expires_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBanRequest {
    /// An address (`198.51.100.7`) or a CIDR range (`203.0.113.0/24`).
    pub prefix: String,
    #[serde(default)]
    pub reason: String,
    /// Lifts itself after this many minutes; absent means until deleted.
    pub expires_in_minutes: Option<u32>,
}

/// The tenant's security policy; a PUT replaces all of it.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityPolicyBody {
    /// 0 turns ageing off; at most 3650. Default 90.
    pub password_max_age_days: u32,
    /// 1–24; default 5 (the current password included).
    pub password_history: u32,
    /// 3–20; default 5.
    pub max_failed_logins: u32,
    /// 1–1440; default 15.
    pub lockout_minutes: u32,
    /// `optional`, `admins` or `everyone`. (A string rather than an enum
    /// so that a wrong type is reported as a field error.)
    pub require_totp: String,
}

impl From<SecurityPolicy> for SecurityPolicyBody {
    fn from(p: SecurityPolicy) -> Self {
        Self {
            password_max_age_days: p.password_max_age_days,
            password_history: p.password_history,
            max_failed_logins: p.max_failed_logins,
            lockout_minutes: p.lockout_minutes,
            require_totp: p.require_totp.as_str().to_owned(),
        }
    }
}

impl TryFrom<SecurityPolicyBody> for SecurityPolicy {
    type Error = citadel_core::CoreError;

    fn try_from(b: SecurityPolicyBody) -> Result<Self, Self::Error> {
        Ok(Self {
            password_max_age_days: b.password_max_age_days,
            password_history: b.password_history,
            max_failed_logins: b.max_failed_logins,
            lockout_minutes: b.lockout_minutes,
            require_totp: TotpRequirement::parse(&b.require_totp)?,
        })
    }
}
