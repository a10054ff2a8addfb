//! What the store hands back and takes in.

use citadel_core::{
    CryptoSuite, DepartmentId, DisplayName, Duties, Email, EntryId, IpPrefix, LoginName,
    OperatorId, SessionId, TenantId, TenantSlug, TenantStatus, TokenId, UserId, UserStatus,
};

/// A tenant as the platform registry knows it. Holds nothing of the
/// tenant's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub status: TenantStatus,
    pub suite: CryptoSuite,
    pub created_at: i64,
}

#[derive(Clone)]
pub struct OperatorRecord {
    pub id: OperatorId,
    pub login: LoginName,
    pub password_hash: String,
}

/// A platform operator as the console lists them (no credentials).
#[derive(Clone, Debug)]
pub struct OperatorSummary {
    pub id: OperatorId,
    pub login: LoginName,
    pub created_at: i64,
}

pub struct NewOperator {
    pub id: OperatorId,
    pub login: LoginName,
    pub password_hash: String,
}

#[derive(Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub login: LoginName,
    pub email: Email,
    pub display_name: Option<DisplayName>,
    pub department: Option<DepartmentId>,
    pub password_hash: String,
    pub password_changed_at: i64,
    pub must_change_password: bool,
    /// System, security and audit administration (三员分立).
    pub duties: Duties,
    /// A protected account cannot be disabled or lose a duty until it is
    /// unprotected, in a separate step.
    pub protected: bool,
    pub status: UserStatus,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub totp_enabled: bool,
    pub created_at: i64,
    /// The seal over duties, protection, status and department (see
    /// `access_seal.rs`); checked before the user becomes a principal.
    pub(crate) role_seal: Option<Vec<u8>>,
}

pub struct NewUser {
    pub id: UserId,
    pub login: LoginName,
    pub email: Email,
    pub display_name: Option<DisplayName>,
    pub department: Option<DepartmentId>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub duties: Duties,
    pub protected: bool,
}

/// What an admin may change on a user; `None` keeps the current value.
#[derive(Default)]
pub struct UserChanges {
    pub email: Option<Email>,
    pub display_name: Option<Option<DisplayName>>,
    pub department: Option<Option<DepartmentId>>,
    pub duties: Option<Duties>,
    pub protected: Option<bool>,
    pub status: Option<UserStatus>,
}

/// A server-side session, found by the SHA-256 of its cookie value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord<Owner> {
    pub owner: Owner,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// Where a request came from, as recorded with sessions and sign-ins.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: std::net::IpAddr,
    pub user_agent: String,
}

/// One of a user's sessions, as the user sees it in their list.
#[derive(Clone, Debug)]
pub struct SessionEntry {
    pub id: SessionId,
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Clone, Debug)]
pub struct DepartmentRecord {
    pub id: DepartmentId,
    pub name: DisplayName,
    pub parent: Option<DepartmentId>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct AccessTokenRecord {
    pub id: TokenId,
    pub user: UserId,
    pub name: DisplayName,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// One sign-in attempt, successful or not.
#[derive(Clone, Debug)]
pub struct LoginAttempt {
    pub id: EntryId,
    pub at: i64,
    pub ip: String,
    pub user_agent: String,
    pub login: String,
    pub user: Option<UserId>,
    pub outcome: String,
}

#[derive(Clone, Debug)]
pub struct SecurityEvent {
    pub id: EntryId,
    pub at: i64,
    pub kind: String,
    pub user: Option<UserId>,
    pub ip: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub id: EntryId,
    pub at: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub read_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct IpBan {
    pub id: EntryId,
    pub prefix: IpPrefix,
    pub reason: String,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    pub expires_at: Option<i64>,
}

/// A page of a newest-first list: entries older than `before`, at most
/// `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub before: Option<EntryId>,
    pub limit: u32,
}

/// Password hashes are not secrets in clear, but they are material for an
/// offline attack: they never appear in `Debug` output.
impl std::fmt::Debug for OperatorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorRecord")
            .field("id", &self.id)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("duties", &self.duties)
            .field("protected", &self.protected)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password_hashes() {
        let user = UserRecord {
            id: UserId::generate(),
            login: LoginName::parse("a@b.cn").expect("login"),
            email: Email::parse("a@b.cn").expect("email"),
            display_name: None,
            department: None,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            password_changed_at: 0,
            must_change_password: false,
            duties: Duties::ALL,
            protected: true,
            status: UserStatus::Active,
            failed_logins: 0,
            locked_until: None,
            totp_enabled: false,
            created_at: 0,
            role_seal: None,
        };
        let op = OperatorRecord {
            id: OperatorId::generate(),
            login: user.login.clone(),
            password_hash: user.password_hash.clone(),
        };
        let printed = format!("{user:?} {op:?}");
        assert!(!printed.contains("argon2"), "{printed}");
    }
}
