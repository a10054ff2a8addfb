//! The one authorization choke point.
//!
//! Every operation of the server and the CLI is an [`Action`] on a
//! [`Resource`] by a [`Principal`], decided by [`authorize`]. An allow
//! decision is the only way to obtain the scope values the store's methods
//! demand, so code that skips the decision does not compile. Scopes are
//! narrow: signing in yields only the right to look up accounts and
//! sessions ([`TenantAuthScope`], [`OperatorAuthScope`]), never the whole
//! tenant database ([`TenantScope`]) or the tenant registry
//! ([`PlatformScope`]).

use crate::{OperatorId, TenantId, TenantStatus, UserId};

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were presented (or they were not valid).
    Anonymous,
    /// A platform operator signed in to the platform console or API.
    Operator { id: OperatorId },
    /// Someone running the `citadel` command on the server itself, with read
    /// access to the data directory and the master key: they hold the keys to
    /// everything already, so they act as a platform operator.
    LocalAdministrator,
    /// A user of one tenant, authenticated by a session or a personal
    /// access token of that tenant.
    TenantUser {
        tenant: TenantId,
        user: UserId,
        duties: Duties,
        pending: Pending,
        via: Credential,
    },
    /// A platform operator acting under a live support grant the tenant
    /// gave them: reading that tenant's business data, nothing else.
    SupportOperator {
        operator: OperatorId,
        tenant: TenantId,
    },
}

/// The administrative duties a tenant user holds (三员分立): three separate
/// roles, so that no one role can administer users, security and audit
/// together; one person holds more than one only when the tenant assigns
/// them deliberately.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Duties {
    /// System administration: users, departments, permission groups,
    /// apps (and, through the built-in admin group, every table).
    pub system: bool,
    /// Security administration: the security policy and IP bans (and
    /// later keys and masking rules). No business data.
    pub security: bool,
    /// Audit administration: reading the sign-in log and security events
    /// (and later the audit log). No business data, no changes.
    pub audit: bool,
}

impl Duties {
    pub const NONE: Duties = Duties {
        system: false,
        security: false,
        audit: false,
    };
    pub const SYSTEM: Duties = Duties {
        system: true,
        security: false,
        audit: false,
    };
    pub const ALL: Duties = Duties {
        system: true,
        security: true,
        audit: true,
    };

    /// Whether these are all three duties in one hand.
    pub fn combined(self) -> bool {
        self.system && self.security && self.audit
    }

    pub fn any(self) -> bool {
        self.system || self.security || self.audit
    }
}

/// Something the user must do before anything else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pending {
    #[default]
    Nothing,
    /// A one-time or expired password must be replaced.
    PasswordChange,
    /// The tenant requires a second factor and the user has none yet.
    TotpEnrolment,
}

/// How a tenant user proved who they are on this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A browser session from a password (and TOTP) sign-in.
    Session,
    /// A personal access token (`Authorization: Bearer`): scripts may act
    /// as the user, but never manage the user's credentials.
    AccessToken,
}

/// What is being attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Exchange the one-time bootstrap token for the first operator account.
    BootstrapOperator,
    /// Sign in as a platform operator.
    OperatorLogin,
    /// Issue a fresh bootstrap token at start (the server process itself).
    IssueBootstrapToken,
    /// End one's own operator session, read one's operator account.
    OperatorSelf,
    /// Create, list, suspend, resume and destroy tenants.
    ManageTenants,
    /// Lists platform operators and adds new ones.
    ManageOperators,
    /// Read the platform's own audit events (operators, the tenant
    /// registry): operators and the local CLI; no tenant's events.
    ReadPlatformAudit,
    /// Check an audit log against its signed heads from the machine
    /// (`citadel audit verify`): the local CLI, on any tenant, suspended
    /// ones too, and on the platform's own log.
    VerifyAuditLog,
    /// Sign in to a tenant with a password.
    TenantLogin,
    /// Look up a presented session to find out who the caller is: in the
    /// tenant's database (only while the tenant is active) for a tenant
    /// resource, in the platform store for the platform.
    AuthenticateSession,
    /// Read one's own account and tenant, end one's own session.
    TenantSelf,
    /// Change one's own password.
    ChangeOwnPassword,
    /// List and revoke one's own sessions, personal access tokens, second
    /// factor and recovery codes.
    ManageOwnCredentials,
    /// Manage the tenant's users, departments and permission groups
    /// (system administrators).
    ManageIdentity,
    /// Manage the tenant's security policy and IP bans (security
    /// administrators).
    ManageSecurity,
    /// Read the tenant's sign-in history and security events (audit
    /// administrators).
    ReadAudit,
    /// Issue or change what lets someone in: create users (each gets a
    /// one-time password), grant or remove admin rights, enable or disable
    /// accounts, reset other users' passwords and second factors. Tenant
    /// admins, in a signed-in session: a leaked access token must not be
    /// able to mint a sign-in.
    AdministerCredentials,
    /// Read apps, tables, fields, records, their history and views; save
    /// personal views. Every member until permission groups narrow it.
    ReadData,
    /// Create, change and delete records. Every member until permission
    /// groups narrow it.
    WriteData,
    /// Create, change and delete apps, tables, fields and shared views;
    /// the recycle bin (tenant admins).
    ManageSchema,
    /// See the tenant's keys and what they protect, rotate its data key
    /// (security administrators; the server's operator on the machine).
    ManageKeys,
    /// Sign, verify and digest with the tenant's own keys, and read its
    /// public key: the signing service for apps. Every member.
    UseCryptoService,
    /// Housekeeping of a tenant's data that nobody asks for: purging the
    /// recycle bin after 30 days. Only the server process itself.
    MaintainTenantData,
}

/// What the action is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The platform itself (tenants registry, operators).
    Platform,
    /// One tenant, with its current status as read from the registry.
    Tenant { id: TenantId, status: TenantStatus },
}

/// Why an action was refused. The server maps each to a status and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Credentials are required and none valid were given (401).
    Unauthenticated,
    /// The principal may not do this (403).
    Forbidden,
    /// The tenant is suspended: its users can do nothing (403).
    TenantSuspended,
    /// The user must change their one-time or expired password first (403).
    PasswordChangeRequired,
    /// The tenant requires a second factor: the user must enrol first (403).
    TotpEnrolmentRequired,
    /// Only a signed-in session may do this, not an access token (403).
    SessionRequired,
}

/// Proof that access to one tenant's data was allowed. Only [`authorize`]
/// makes one; the store's tenant methods require it.
#[derive(Debug, PartialEq, Eq)]
pub struct TenantScope {
    tenant: TenantId,
}

impl TenantScope {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
}

/// Proof that signing in to one tenant, or looking up a session there, was
/// allowed: reaches that tenant's accounts and sessions only.
#[derive(Debug, PartialEq, Eq)]
pub struct TenantAuthScope {
    tenant: TenantId,
}

impl TenantAuthScope {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
}

/// Proof that managing the tenant registry was allowed. Only [`authorize`]
/// makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct PlatformScope {
    _private: (),
}

/// Proof that an operator sign-in, session lookup or bootstrap step was
/// allowed: reaches operator accounts and sessions only.
#[derive(Debug, PartialEq, Eq)]
pub struct OperatorAuthScope {
    _private: (),
}

/// An allow decision and the scope it grants.
#[derive(Debug, PartialEq, Eq)]
pub enum Allowed {
    Platform(PlatformScope),
    OperatorAuth(OperatorAuthScope),
    Tenant(TenantScope),
    TenantAuth(TenantAuthScope),
}

impl Allowed {
    pub fn into_platform(self) -> Option<PlatformScope> {
        match self {
            Self::Platform(scope) => Some(scope),
            _ => None,
        }
    }

    pub fn into_operator_auth(self) -> Option<OperatorAuthScope> {
        match self {
            Self::OperatorAuth(scope) => Some(scope),
            _ => None,
        }
    }

    pub fn into_tenant(self) -> Option<TenantScope> {
        match self {
            Self::Tenant(scope) => Some(scope),
            _ => None,
        }
    }

    pub fn into_tenant_auth(self) -> Option<TenantAuthScope> {
        match self {
            Self::TenantAuth(scope) => Some(scope),
            _ => None,
        }
    }
}

/// Decides whether `principal` may perform `action` on `resource`.
/// Everything not explicitly allowed here is denied.
pub fn authorize(
    principal: &Principal,
    action: Action,
    resource: Resource,
) -> Result<Allowed, Denied> {
    let platform = || Ok(Allowed::Platform(PlatformScope { _private: () }));
    let operator_auth = || Ok(Allowed::OperatorAuth(OperatorAuthScope { _private: () }));
    match (action, resource) {
        // Support access reads business data only; whether the grant is
        // live was checked when the principal was made from it.
        (action, resource) if matches!(principal, Principal::SupportOperator { .. }) => {
            support_access(principal, action, resource)
        }
        (Action::BootstrapOperator | Action::OperatorLogin, Resource::Platform) => {
            match principal {
                // Possession of the bootstrap token or the password is checked by
                // the service; the choke point only fixes who may try.
                Principal::Anonymous | Principal::LocalAdministrator => operator_auth(),
                _ => Err(Denied::Forbidden),
            }
        }
        (Action::AuthenticateSession, Resource::Platform) => match principal {
            Principal::Anonymous => operator_auth(),
            _ => Err(Denied::Forbidden),
        },
        (Action::IssueBootstrapToken, Resource::Platform) => match principal {
            Principal::LocalAdministrator => platform(),
            _ => Err(Denied::Forbidden),
        },
        (Action::OperatorSelf, Resource::Platform) => match principal {
            Principal::Operator { .. } => operator_auth(),
            Principal::Anonymous => Err(Denied::Unauthenticated),
            _ => Err(Denied::Forbidden),
        },
        (Action::MaintainTenantData, Resource::Tenant { id, status }) => match principal {
            Principal::LocalAdministrator if status == TenantStatus::Active => {
                Ok(Allowed::Tenant(TenantScope { tenant: id }))
            }
            Principal::LocalAdministrator => Err(Denied::TenantSuspended),
            _ => Err(Denied::Forbidden),
        },
        (Action::ReadPlatformAudit, Resource::Platform) => match principal {
            Principal::Operator { .. } | Principal::LocalAdministrator => platform(),
            Principal::Anonymous => Err(Denied::Unauthenticated),
            _ => Err(Denied::Forbidden),
        },
        (Action::VerifyAuditLog, Resource::Platform) => match principal {
            Principal::LocalAdministrator => platform(),
            _ => Err(Denied::Forbidden),
        },
        (Action::VerifyAuditLog, Resource::Tenant { id, .. }) => match principal {
            Principal::LocalAdministrator => Ok(Allowed::Tenant(TenantScope { tenant: id })),
            _ => Err(Denied::Forbidden),
        },
        (Action::ManageTenants | Action::ManageOperators, Resource::Platform) => match principal {
            Principal::Operator { .. } | Principal::LocalAdministrator => platform(),
            Principal::Anonymous => Err(Denied::Unauthenticated),
            Principal::TenantUser { .. } | Principal::SupportOperator { .. } => {
                Err(Denied::Forbidden)
            }
        },
        (Action::TenantLogin | Action::AuthenticateSession, Resource::Tenant { id, status }) => {
            match principal {
                Principal::Anonymous if status == TenantStatus::Active => {
                    Ok(Allowed::TenantAuth(TenantAuthScope { tenant: id }))
                }
                Principal::Anonymous => Err(Denied::TenantSuspended),
                _ => Err(Denied::Forbidden),
            }
        }
        (
            Action::TenantSelf
            | Action::ChangeOwnPassword
            | Action::ManageOwnCredentials
            | Action::ManageIdentity
            | Action::ManageSecurity
            | Action::ReadAudit
            | Action::AdministerCredentials
            | Action::ReadData
            | Action::WriteData
            | Action::ManageSchema
            | Action::UseCryptoService
            | Action::ManageKeys,
            Resource::Tenant { id, status },
        ) => match principal {
            Principal::LocalAdministrator if action == Action::ManageKeys => {
                if status == TenantStatus::Active {
                    Ok(Allowed::Tenant(TenantScope { tenant: id }))
                } else {
                    Err(Denied::TenantSuspended)
                }
            }
            Principal::TenantUser { tenant, .. } if *tenant != id => Err(Denied::Forbidden),
            Principal::TenantUser { .. } if status != TenantStatus::Active => {
                Err(Denied::TenantSuspended)
            }
            Principal::TenantUser { duties, via, .. } => match action {
                Action::ManageIdentity | Action::AdministerCredentials | Action::ManageSchema
                    if !duties.system =>
                {
                    Err(Denied::Forbidden)
                }
                Action::ManageSecurity | Action::ManageKeys if !duties.security => {
                    Err(Denied::Forbidden)
                }
                Action::ReadAudit if !duties.audit => Err(Denied::Forbidden),
                Action::ChangeOwnPassword
                | Action::ManageOwnCredentials
                | Action::AdministerCredentials
                | Action::ManageKeys
                    if *via == Credential::AccessToken =>
                {
                    Err(Denied::SessionRequired)
                }
                _ => Ok(Allowed::Tenant(TenantScope { tenant: id })),
            },
            Principal::Anonymous => Err(Denied::Unauthenticated),
            _ => Err(Denied::Forbidden),
        },
        _ => Err(Denied::Forbidden),
    }
    .and_then(|allowed| pending_gate(principal, action, allowed))
}

fn support_access(
    principal: &Principal,
    action: Action,
    resource: Resource,
) -> Result<Allowed, Denied> {
    match (principal, action, resource) {
        (
            Principal::SupportOperator { tenant, .. },
            Action::ReadData,
            Resource::Tenant { id, status },
        ) if *tenant == id => {
            if status == TenantStatus::Active {
                Ok(Allowed::Tenant(TenantScope { tenant: id }))
            } else {
                Err(Denied::TenantSuspended)
            }
        }
        _ => Err(Denied::Forbidden),
    }
}

/// A user who must change their password may only change it, see who they
/// are and sign out; one who must enrol a second factor may also manage
/// their credentials. Whatever else their rights are.
fn pending_gate(
    principal: &Principal,
    action: Action,
    allowed: Allowed,
) -> Result<Allowed, Denied> {
    let Principal::TenantUser { pending, .. } = principal else {
        return Ok(allowed);
    };
    match pending {
        Pending::PasswordChange
            if !matches!(action, Action::ChangeOwnPassword | Action::TenantSelf) =>
        {
            Err(Denied::PasswordChangeRequired)
        }
        Pending::TotpEnrolment
            if !matches!(
                action,
                Action::ChangeOwnPassword | Action::TenantSelf | Action::ManageOwnCredentials
            ) =>
        {
            Err(Denied::TotpEnrolmentRequired)
        }
        _ => Ok(allowed),
    }
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
