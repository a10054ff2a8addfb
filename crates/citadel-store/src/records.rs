//! What the store hands back and takes in.

use citadel_core::{
    CryptoSuite, Email, LoginName, OperatorId, TenantId, TenantSlug, TenantStatus, UserId,
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
    pub password_hash: String,
    pub must_change_password: bool,
    pub is_admin: bool,
    pub status: String,
    pub created_at: i64,
}

pub struct NewUser {
    pub id: UserId,
    pub login: LoginName,
    pub email: Email,
    pub password_hash: String,
    pub must_change_password: bool,
    pub is_admin: bool,
}

/// A server-side session, found by the SHA-256 of its cookie value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord<Owner> {
    pub owner: Owner,
    pub created_at: i64,
    pub last_seen_at: i64,
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
            .field("is_admin", &self.is_admin)
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
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            must_change_password: false,
            is_admin: true,
            status: "active".into(),
            created_at: 0,
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
