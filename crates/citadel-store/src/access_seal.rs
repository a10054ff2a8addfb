//! Seals of access-control data (密评: integrity of access-control
//! information). Each permission group carries a MAC under the tenant's
//! integrity key over what decides access: its name, built-in role, policy
//! (grants, field rules, row scopes), version and member list. A row
//! changed beside the server — a group's grants widened, a member added
//! in `group_members` — no longer matches its seal: the load is refused
//! and a security event recorded.
//!
//! Groups written before seals existed (and a new tenant's built-in
//! groups, made by its schema before it has keys) are sealed on the first
//! load, once; the platform registry records that it happened, and after
//! that an unsealed group is a tampered one.

use citadel_core::TenantId;
use citadel_crypto::suite::MacKey;

/// A group as stored, with the raw values its seal covers.
pub(crate) struct StoredGroup {
    pub id: String,
    pub name: String,
    pub builtin: Option<String>,
    pub policy: String,
    pub version: i64,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub seal: Option<Vec<u8>>,
}

/// A member row: kind, member id, with sub-departments.
pub(crate) type MemberRow = (String, String, bool);

const PURPOSE: &[u8] = b"citadel/group-seal/v1";

fn parts_of(tenant: TenantId, group: &StoredGroup, members: &[MemberRow]) -> Vec<Vec<u8>> {
    let mut sorted: Vec<&MemberRow> = members.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut parts = vec![
        PURPOSE.to_vec(),
        tenant.to_string().into_bytes(),
        group.id.clone().into_bytes(),
        group.name.clone().into_bytes(),
        group.builtin.clone().unwrap_or_default().into_bytes(),
        group.policy.clone().into_bytes(),
        group.version.to_string().into_bytes(),
    ];
    for (kind, id, subtree) in sorted {
        parts.push(format!("{kind}/{id}/{subtree}").into_bytes());
    }
    parts
}

pub(crate) fn group_seal(
    key: &MacKey,
    tenant: TenantId,
    group: &StoredGroup,
    members: &[MemberRow],
) -> [u8; 32] {
    let parts = parts_of(tenant, group, members);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    key.tag(&parts)
}

/// How a stored group stands against its seal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SealCheck {
    Intact,
    Unsealed,
    Broken,
}

pub(crate) fn check_group(
    key: &MacKey,
    tenant: TenantId,
    group: &StoredGroup,
    members: &[MemberRow],
) -> SealCheck {
    let Some(seal) = &group.seal else {
        return SealCheck::Unsealed;
    };
    let parts = parts_of(tenant, group, members);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    if key.verify(&parts, seal) {
        SealCheck::Intact
    } else {
        SealCheck::Broken
    }
}

/// The `permission_groups` columns [`stored_group_from_row!`] reads.
pub(crate) const STORED_GROUP_COLUMNS: &str =
    "id, name, builtin, policy, version, description, created_at, updated_at, seal";

macro_rules! stored_group_from_row {
    ($row:expr) => {{
        let row = $row;
        crate::access_seal::StoredGroup {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            builtin: row.try_get("builtin")?,
            policy: row.try_get("policy")?,
            version: row.try_get("version")?,
            description: row.try_get("description")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            seal: row.try_get("seal")?,
        }
    }};
}
pub(crate) use stored_group_from_row;

/// Reads a group and its members back inside a write transaction and
/// stores their seal: what is sealed is exactly what was written.
macro_rules! reseal_group {
    ($tx:expr, $id:expr, $key:expr, $tenant:expr) => {{
        let id: String = $id;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM permission_groups WHERE id = $1",
            crate::access_seal::STORED_GROUP_COLUMNS
        )))
        .bind(&id)
        .fetch_one(&mut *$tx)
        .await?;
        let group = crate::access_seal::stored_group_from_row!(&row);
        let members: Vec<crate::access_seal::MemberRow> = sqlx::query(
            "SELECT kind, member_id, include_subdepartments FROM group_members WHERE group_id = $1",
        )
        .bind(&id)
        .fetch_all(&mut *$tx)
        .await?
        .iter()
        .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, _>>()?;
        let seal = crate::access_seal::group_seal($key, $tenant, &group, &members);
        sqlx::query("UPDATE permission_groups SET seal = $1 WHERE id = $2")
            .bind(&seal[..])
            .bind(&id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use reseal_group;

const ROLE_PURPOSE: &[u8] = b"citadel/user-role-seal/v1";

/// What of a user decides access, as stored.
pub(crate) struct StoredRoles {
    pub id: String,
    pub system: bool,
    pub security: bool,
    pub audit: bool,
    pub protected: bool,
    pub status: String,
    pub department: Option<String>,
}

fn role_parts(tenant: TenantId, user: &StoredRoles) -> [Vec<u8>; 5] {
    [
        ROLE_PURPOSE.to_vec(),
        tenant.to_string().into_bytes(),
        user.id.clone().into_bytes(),
        format!(
            "{}/{}/{}/{}/{}",
            user.system, user.security, user.audit, user.protected, user.status
        )
        .into_bytes(),
        user.department.clone().unwrap_or_default().into_bytes(),
    ]
}

pub(crate) fn role_seal(key: &MacKey, tenant: TenantId, user: &StoredRoles) -> [u8; 32] {
    let parts = role_parts(tenant, user);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    key.tag(&parts)
}

pub(crate) fn check_roles(
    key: &MacKey,
    tenant: TenantId,
    user: &StoredRoles,
    seal: Option<&[u8]>,
) -> SealCheck {
    let Some(seal) = seal else {
        return SealCheck::Unsealed;
    };
    let parts = role_parts(tenant, user);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    if key.verify(&parts, seal) {
        SealCheck::Intact
    } else {
        SealCheck::Broken
    }
}

/// The role columns of the `users` table, in [`roles_from_row!`]'s order.
pub(crate) const ROLE_COLUMNS: &str =
    "id, is_admin, is_security_admin, is_audit_admin, is_protected, status, department_id";

macro_rules! roles_from_row {
    ($row:expr) => {{
        let row = $row;
        crate::access_seal::StoredRoles {
            id: row.try_get("id")?,
            system: row.try_get("is_admin")?,
            security: row.try_get("is_security_admin")?,
            audit: row.try_get("is_audit_admin")?,
            protected: row.try_get("is_protected")?,
            status: row.try_get("status")?,
            department: row.try_get("department_id")?,
        }
    }};
}
pub(crate) use roles_from_row;

/// Reads a user's role columns back inside a write transaction and stores
/// their seal.
macro_rules! reseal_user {
    ($tx:expr, $id:expr, $key:expr, $tenant:expr) => {{
        let id: String = $id;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM users WHERE id = $1",
            crate::access_seal::ROLE_COLUMNS
        )))
        .bind(&id)
        .fetch_one(&mut *$tx)
        .await?;
        let roles = crate::access_seal::roles_from_row!(&row);
        let seal = crate::access_seal::role_seal($key, $tenant, &roles);
        sqlx::query("UPDATE users SET role_seal = $1 WHERE id = $2")
            .bind(&seal[..])
            .bind(&id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use reseal_user;

#[cfg(test)]
mod tests {
    use citadel_crypto::Suite;

    use super::*;

    fn group() -> StoredGroup {
        StoredGroup {
            id: "g1".into(),
            name: "销售组".into(),
            builtin: None,
            policy: r#"{"all_apps":["read"]}"#.into(),
            version: 3,
            description: None,
            created_at: 0,
            updated_at: 0,
            seal: None,
        }
    }

    #[test]
    fn a_seal_covers_policy_version_and_members_but_not_their_order() {
        let (key, _) = MacKey::generate(Suite::Sm);
        let tenant = TenantId::generate();
        let members = vec![
            ("user".to_owned(), "u2".to_owned(), false),
            ("department".to_owned(), "d1".to_owned(), true),
        ];
        let mut sealed = group();
        sealed.seal = Some(group_seal(&key, tenant, &sealed, &members).to_vec());
        assert_eq!(
            check_group(&key, tenant, &sealed, &members),
            SealCheck::Intact
        );
        let reordered: Vec<MemberRow> = members.iter().rev().cloned().collect();
        assert_eq!(
            check_group(&key, tenant, &sealed, &reordered),
            SealCheck::Intact
        );

        let mut widened = members.clone();
        widened.push(("user".into(), "intruder".into(), false));
        assert_eq!(
            check_group(&key, tenant, &sealed, &widened),
            SealCheck::Broken
        );
        let mut subtree = members.clone();
        subtree[0].2 = true;
        assert_eq!(
            check_group(&key, tenant, &sealed, &subtree),
            SealCheck::Broken
        );
        for change in [
            |g: &mut StoredGroup| g.policy = r#"{"all_apps":["read","delete"]}"#.into(),
            |g: &mut StoredGroup| g.version = 4,
            |g: &mut StoredGroup| g.builtin = Some("tenant_admin".into()),
            |g: &mut StoredGroup| g.name = "管理员".into(),
            |g: &mut StoredGroup| g.id = "g2".into(),
        ] {
            let mut changed = group();
            changed.seal = sealed.seal.clone();
            change(&mut changed);
            assert_eq!(
                check_group(&key, tenant, &changed, &members),
                SealCheck::Broken
            );
        }
        assert_eq!(
            check_group(&key, TenantId::generate(), &sealed, &members),
            SealCheck::Broken,
            "another tenant's"
        );
        let (other, _) = MacKey::generate(Suite::Sm);
        assert_eq!(
            check_group(&other, tenant, &sealed, &members),
            SealCheck::Broken
        );
        assert_eq!(
            check_group(&key, tenant, &group(), &members),
            SealCheck::Unsealed
        );
    }
}
