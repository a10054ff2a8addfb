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

#[derive(Clone, Debug)]
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

#[derive(Clone, Debug)]
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
