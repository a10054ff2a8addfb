//! Request and response bodies. Requests deny unknown fields; secrets are
//! wrapped at once and never derive `Debug`.

use chrono::{DateTime, SecondsFormat, Utc};
use citadel_core::AccountState;
use citadel_crypto::SecretString;
use citadel_store::{TenantRecord, UserRecord, now_millis};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A secret typed by a client (password, token), zeroized when dropped.
pub struct SecretInput(pub SecretString);

impl<'de> Deserialize<'de> for SecretInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > 1024 {
            return Err(serde::de::Error::custom("secret longer than 1024 bytes"));
        }
        Ok(Self(SecretString::new(s)))
    }
}

/// RFC 9457 problem details, as every error is returned.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_field`, `tenant_suspended`.
    pub code: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    /// `active` or `suspended`.
    pub status: String,
    /// `intl` or `sm`.
    pub suite: String,
    pub created_at: String,
}

impl From<&TenantRecord> for TenantView {
    fn from(t: &TenantRecord) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            status: t.status.as_str().to_owned(),
            suite: t.suite.as_str().to_owned(),
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub email: String,
    pub display_name: Option<String>,
    pub department_id: Option<String>,
    /// System administration: users, departments, groups, apps.
    pub is_admin: bool,
    /// Security administration: the security policy and IP bans.
    pub security_admin: bool,
    /// Audit administration: the sign-in log and security events.
    pub audit_admin: bool,
    /// A protected system account: cannot be disabled or lose a duty.
    pub protected: bool,
    /// `active`, `disabled`, or `locked` (after too many failed sign-ins).
    pub state: String,
    pub totp_enabled: bool,
    pub must_change_password: bool,
    pub password_changed_at: String,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        let state = AccountState::of(u.status, u.locked_until, now_millis());
        Self {
            id: u.id.to_string(),
            login: u.login.to_string(),
            email: u.email.to_string(),
            display_name: u.display_name.as_ref().map(ToString::to_string),
            department_id: u.department.map(|d| d.to_string()),
            is_admin: u.duties.system,
            security_admin: u.duties.security,
            audit_admin: u.duties.audit,
            protected: u.protected,
            state: match state {
                AccountState::Active => "active",
                AccountState::Disabled => "disabled",
                AccountState::Locked => "locked",
            }
            .to_owned(),
            totp_enabled: u.totp_enabled,
            must_change_password: u.must_change_password,
            password_changed_at: rfc3339(u.password_changed_at),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// The one-time token printed by the server at first start.
    #[schema(value_type = String)]
    pub token: SecretInput,
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorLoginRequest {
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 3–40 lowercase letters, digits and hyphens, starting with a letter.
    pub slug: String,
    /// The first admin's email; also their login name.
    pub admin_email: String,
    /// `intl` (default) or `sm`; fixed for the tenant's life.
    pub suite: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTenantView {
    pub tenant: TenantView,
    pub admin_login: String,
    /// Shown once; must be changed at first sign-in.
    pub one_time_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestroyTenantRequest {
    /// The tenant's slug typed again, to confirm an irreversible destroy.
    pub confirm: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub login: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
    /// The current code of the user's authenticator, when they enrolled one.
    pub totp_code: Option<String>,
    /// Instead of a code: one of the user's recovery codes (each works once).
    #[schema(value_type = Option<String>, format = Password)]
    pub recovery_code: Option<SecretInput>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantBrief {
    pub id: String,
    pub slug: String,
    pub suite: String,
}

impl From<&TenantRecord> for TenantBrief {
    fn from(t: &TenantRecord) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            suite: t.suite.as_str().to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    pub tenant: TenantBrief,
    /// Send it as `X-CSRF-Token` with every POST, PUT, PATCH and DELETE
    /// authenticated by the session cookie. Absent for access tokens.
    pub csrf_token: Option<String>,
    /// What the user must do before anything else: `password_change`,
    /// `totp_enrolment`, or absent.
    pub pending: Option<String>,
}

/// The wire name of a pending step.
pub fn pending_name(pending: citadel_core::Pending) -> Option<String> {
    match pending {
        citadel_core::Pending::Nothing => None,
        citadel_core::Pending::PasswordChange => Some("password_change".into()),
        citadel_core::Pending::TotpEnrolment => Some("totp_enrolment".into()),
    }
}

#[derive(Serialize, ToSchema)]
pub struct OperatorSignedIn {
    /// Send it as `X-CSRF-Token` with every unsafe request of this session.
    pub csrf_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretInput,
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretInput,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub storage: &'static str,
    /// `loaded`: the server does not start without its master key.
    pub keys: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub id: String,
}

/// A platform operator as the console lists them.
#[derive(Serialize, ToSchema)]
pub struct OperatorSummaryView {
    pub id: String,
    pub login: String,
    pub created_at: String,
}

impl From<&citadel_store::OperatorSummary> for OperatorSummaryView {
    fn from(o: &citadel_store::OperatorSummary) -> Self {
        Self {
            id: o.id.to_string(),
            login: o.login.to_string(),
            created_at: rfc3339(o.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorRequest {
    /// The acting operator's own password: a new operator is a lasting
    /// grant of power, so a session alone does not make one.
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretInput,
    pub login: String,
    /// The new operator's password (the password policy applies); they
    /// sign in with it at once.
    #[schema(value_type = String, format = Password)]
    pub password: SecretInput,
}
