//! Permission groups: their policies (JSON, checked by the core), their
//! members, and the tenant's [`AccessModel`] every table operation is
//! decided against, kept in memory for a moment.

use std::sync::Arc;
use std::time::Duration;

use citadel_core::access::{AccessModel, BuiltinGroup, Group, GroupPolicy, Member};
use citadel_core::data::SchemaName;
use citadel_core::{DepartmentId, GroupId, TenantId, UserId};
use sqlx::Row;

use crate::StoreError;
use crate::access_seal::{
    ROLE_COLUMNS, STORED_GROUP_COLUMNS, SealCheck, StoredGroup, StoredRoles, check_group,
    check_roles, group_seal, reseal_group, role_seal, roles_from_row, stored_group_from_row,
};
use crate::db::{BeginWrite, now_millis, on_pool, write_on_pool};
use crate::fresh::FreshMap;
use crate::tenant_db::TenantDb;

/// Member rows by group id, as stored.
type MembersByGroup = std::collections::HashMap<String, Vec<crate::access_seal::MemberRow>>;

/// Most groups a tenant may have: every decision walks them all.
pub const MAX_GROUPS: usize = 500;
/// Most member entries of one group (departments count as one).
pub const MAX_MEMBERS: usize = 10_000;

/// A group as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    pub group: Group,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new group or a group's new definition.
#[derive(Clone, Debug)]
pub struct GroupDefinition {
    pub name: SchemaName,
    pub description: Option<String>,
    pub members: Vec<Member>,
    pub policy: GroupPolicy,
}

/// Each tenant's access model. A change through this process forgets the
/// entry at once; another node's change is seen within [`FRESH_FOR`].
pub struct AccessCache(FreshMap<TenantId, Arc<AccessModel>>);

/// As short as the registry rows': a revoked grant must not linger.
const FRESH_FOR: Duration = Duration::from_secs(1);

impl Default for AccessCache {
    fn default() -> Self {
        Self(FreshMap::new(FRESH_FOR))
    }
}

impl std::fmt::Debug for AccessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessCache").finish_non_exhaustive()
    }
}

impl AccessCache {
    pub(crate) fn forget(&self, tenant: TenantId) {
        self.0.forget(&tenant);
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn member_row(member: &Member) -> (&'static str, String, bool) {
    match member {
        Member::User(id) => ("user", id.to_string(), false),
        Member::Department {
            id,
            include_subdepartments,
        } => ("department", id.to_string(), *include_subdepartments),
    }
}

fn member_from(kind: &str, id: &str, subtree: bool) -> Result<Member, StoreError> {
    match kind {
        "user" => Ok(Member::User(UserId::parse(id)?)),
        "department" => Ok(Member::Department {
            id: DepartmentId::parse(id)?,
            include_subdepartments: subtree,
        }),
        other => Err(corrupt(format!("group member kind {other:?}"))),
    }
}

/// Writes a group's members, replacing any it had.
macro_rules! write_members {
    ($tx:expr, $id:expr, $members:expr) => {{
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        for member in $members {
            let (kind, member_id, subtree) = member_row(member);
            sqlx::query(
                "INSERT INTO group_members (group_id, kind, member_id, include_subdepartments) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(kind)
            .bind(member_id)
            .bind(subtree)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

fn check_definition(definition: &GroupDefinition) -> Result<String, StoreError> {
    if definition.members.len() > MAX_MEMBERS {
        return Err(StoreError::Invalid(citadel_core::CoreError::InvalidPolicy(
            "a group may have at most 10,000 member entries",
        )));
    }
    definition.policy.check().map_err(StoreError::Invalid)?;
    serde_json::to_string(&definition.policy).map_err(corrupt)
}

fn name_taken(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict("a group of that name exists".into())
        }
        _ => StoreError::Database(e),
    }
}

impl TenantDb {
    /// Every group with its members, built-in groups first, each checked
    /// against its seal (see [`crate::access_seal`]).
    pub async fn list_groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let keyring = self.keyring().await?;
        let key = keyring.integrity_key();
        // A second read only when the first saw unsealed groups in a tenant
        // already sealed: a concurrent first sealing may have sealed them
        // and set the mark between that read and the check.
        let mut attempts = 0;
        let (stored, mut members, broken) = loop {
            attempts += 1;
            let (stored, members) = self.stored_groups().await?;
            let mut unsealed = Vec::new();
            let mut broken = Vec::new();
            for group in &stored {
                let rows = members.get(&group.id).map_or(&[][..], Vec::as_slice);
                match check_group(key, self.tenant, group, rows) {
                    SealCheck::Intact => {}
                    SealCheck::Unsealed => unsealed.push(group),
                    SealCheck::Broken => broken.push(group.id.clone()),
                }
            }
            if !unsealed.is_empty() && broken.is_empty() {
                if !self.keyrings.access_sealed(self.tenant).await? {
                    self.seal_first_time(key, &unsealed, &members).await?;
                } else if attempts < 2 {
                    continue;
                } else {
                    broken.extend(unsealed.iter().map(|g| g.id.clone()));
                }
            }
            break (stored, members, broken);
        };
        if !broken.is_empty() {
            self.auth()
                .security_event(
                    "access_data_tampered",
                    None,
                    None,
                    &serde_json::json!({"permission_groups": broken}),
                )
                .await?;
            return Err(StoreError::Tampered(format!(
                "permission group(s) {} changed outside Citadel",
                broken.join(", ")
            )));
        }
        stored
            .into_iter()
            .map(|g| {
                let rows = members.remove(&g.id).unwrap_or_default();
                let members = rows
                    .iter()
                    .map(|(kind, id, subtree)| member_from(kind, id, *subtree))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(GroupRecord {
                    group: Group {
                        id: GroupId::parse(&g.id)?,
                        name: g.name,
                        builtin: g.builtin.as_deref().and_then(BuiltinGroup::parse),
                        members,
                        policy: serde_json::from_str(&g.policy).map_err(corrupt)?,
                    },
                    description: g.description,
                    version: g.version,
                    created_at: g.created_at,
                    updated_at: g.updated_at,
                })
            })
            .collect()
    }

    /// The groups' rows and member rows as stored.
    async fn stored_groups(&self) -> Result<(Vec<StoredGroup>, MembersByGroup), StoreError> {
        on_pool!(&self.pool, |p| {
            let mut conn = p.acquire().await?;
            let member_rows = sqlx::query(
                "SELECT group_id, kind, member_id, include_subdepartments FROM group_members \
                 ORDER BY group_id, kind, member_id",
            )
            .fetch_all(&mut *conn)
            .await?;
            let mut members = MembersByGroup::new();
            for row in &member_rows {
                members
                    .entry(row.try_get::<String, _>(0)?)
                    .or_default()
                    .push((row.try_get(1)?, row.try_get(2)?, row.try_get(3)?));
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {STORED_GROUP_COLUMNS} FROM permission_groups \
                 ORDER BY CASE builtin WHEN 'tenant_admin' THEN 0 WHEN 'member' THEN 1 \
                 ELSE 2 END, name_key"
            )))
            .fetch_all(&mut *conn)
            .await?;
            let groups = rows
                .iter()
                .map(|row| Ok(stored_group_from_row!(row)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok((groups, members))
        })
    }

    /// Seals the groups written before seals existed, once per tenant, and
    /// records in the registry that it happened. Each seal is written only
    /// if the group is still at the version it was computed from.
    async fn seal_first_time(
        &self,
        key: &citadel_crypto::suite::MacKey,
        groups: &[&StoredGroup],
        members: &MembersByGroup,
    ) -> Result<(), StoreError> {
        for group in groups {
            let rows = members.get(&group.id).map_or(&[][..], Vec::as_slice);
            let seal = group_seal(key, self.tenant, group, rows);
            write_on_pool!(&self.pool, |p| {
                sqlx::query(
                    "UPDATE permission_groups SET seal = $1 \
                     WHERE id = $2 AND version = $3 AND seal IS NULL",
                )
                .bind(&seal[..])
                .bind(&group.id)
                .bind(group.version)
                .execute(p)
                .await?
                .rows_affected()
            });
        }
        let users: Vec<StoredRoles> = on_pool!(&self.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ROLE_COLUMNS} FROM users WHERE role_seal IS NULL"
            )))
            .fetch_all(p)
            .await?
            .iter()
            .map(|row| Ok::<_, sqlx::Error>(roles_from_row!(row)))
            .collect::<Result<_, _>>()?
        });
        for user in &users {
            let seal = role_seal(key, self.tenant, user);
            write_on_pool!(&self.pool, |p| {
                sqlx::query(
                    "UPDATE users SET role_seal = $1 WHERE id = $2 AND role_seal IS NULL \
                     AND is_admin = $3 AND is_security_admin = $4 AND is_audit_admin = $5 \
                     AND is_protected = $6 AND status = $7 \
                     AND COALESCE(department_id, '') = COALESCE($8, '')",
                )
                .bind(&seal[..])
                .bind(&user.id)
                .bind(user.system)
                .bind(user.security)
                .bind(user.audit)
                .bind(user.protected)
                .bind(&user.status)
                .bind(user.department.as_deref())
                .execute(p)
                .await?
                .rows_affected()
            });
        }
        self.keyrings.mark_access_sealed(self.tenant).await?;
        tracing::info!(
            tenant = %self.tenant,
            groups = groups.len(),
            users = users.len(),
            "access-control data sealed"
        );
        Ok(())
    }

    pub async fn group(&self, id: GroupId) -> Result<GroupRecord, StoreError> {
        self.list_groups()
            .await?
            .into_iter()
            .find(|g| g.group.id == id)
            .ok_or(StoreError::NotFound("group"))
    }

    pub async fn create_group(
        &self,
        definition: &GroupDefinition,
    ) -> Result<GroupRecord, StoreError> {
        let policy = check_definition(definition)?;
        let keyring = self.keyring().await?;
        let id = GroupId::generate();
        let now = now_millis();
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let count: i64 = sqlx::query("SELECT COUNT(*) FROM permission_groups")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if count as usize >= MAX_GROUPS {
                return Err(StoreError::Conflict(format!(
                    "a tenant may have at most {MAX_GROUPS} groups"
                )));
            }
            sqlx::query(
                "INSERT INTO permission_groups (id, name, name_key, description, builtin, policy, \
                 version, created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, $5, 1, $6, $6)",
            )
            .bind(id.to_string())
            .bind(definition.name.as_str())
            .bind(definition.name.as_str().to_lowercase())
            .bind(definition.description.as_deref())
            .bind(&policy)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(name_taken)?;
            write_members!(tx, id.to_string(), &definition.members);
            reseal_group!(tx, id.to_string(), keyring.integrity_key(), self.tenant);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.access.forget(self.tenant);
        self.group(id).await
    }

    /// Replaces a group's definition if it is still at `expected_version`.
    /// The built-in groups keep their names and memberships; the admin
    /// group's grants cannot change.
    pub async fn update_group(
        &self,
        id: GroupId,
        expected_version: Option<i64>,
        definition: &GroupDefinition,
    ) -> Result<GroupRecord, StoreError> {
        let policy = check_definition(definition)?;
        let current = self.group(id).await?;
        if let Some(builtin) = current.group.builtin {
            if !definition.members.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "the built-in group {} has no member list: its members are {}",
                    builtin.name(),
                    match builtin {
                        BuiltinGroup::TenantAdmin => "the users marked administrator",
                        BuiltinGroup::Member => "every user",
                    }
                )));
            }
            if builtin == BuiltinGroup::TenantAdmin && definition.policy != current.group.policy {
                return Err(StoreError::Conflict(
                    "the tenant admin group's grants cannot change".into(),
                ));
            }
        }
        let keyring = self.keyring().await?;
        let now = now_millis();
        let changed = write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE permission_groups SET name = $1, name_key = $2, description = $3, \
                 policy = $4, version = version + 1, updated_at = $5 \
                 WHERE id = $6 AND ($7 IS NULL OR version = $7)",
            )
            .bind(definition.name.as_str())
            .bind(definition.name.as_str().to_lowercase())
            .bind(definition.description.as_deref())
            .bind(&policy)
            .bind(now)
            .bind(id.to_string())
            .bind(expected_version)
            .execute(&mut *tx)
            .await
            .map_err(name_taken)?
            .rows_affected();
            if changed == 1 && current.group.builtin.is_none() {
                write_members!(tx, id.to_string(), &definition.members);
            }
            if changed == 1 {
                reseal_group!(tx, id.to_string(), keyring.integrity_key(), self.tenant);
            }
            tx.commit().await?;
            changed
        });
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "the group changed since version {}; read it again",
                expected_version.unwrap_or_default()
            )));
        }
        self.access.forget(self.tenant);
        self.group(id).await
    }

    pub async fn delete_group(&self, id: GroupId) -> Result<(), StoreError> {
        let current = self.group(id).await?;
        if let Some(builtin) = current.group.builtin {
            return Err(StoreError::Conflict(format!(
                "the built-in group {} cannot be deleted",
                builtin.name()
            )));
        }
        write_on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM permission_groups WHERE id = $1 AND builtin IS NULL")
                .bind(id.to_string())
                .execute(p)
                .await?;
            Ok::<_, StoreError>(())
        })?;
        self.access.forget(self.tenant);
        Ok(())
    }

    /// The tenant's access model: groups, department tree and users'
    /// departments, from memory when it is fresh.
    pub async fn access_model(&self) -> Result<Arc<AccessModel>, StoreError> {
        if let Some(model) = self.access.0.get(&self.tenant) {
            return Ok(model);
        }
        let reading = self.access.0.reading();
        let groups = self
            .list_groups()
            .await?
            .into_iter()
            .map(|g| g.group)
            .collect();
        let (departments, users) = on_pool!(&self.pool, |p| {
            let mut conn = p.acquire().await?;
            let departments = sqlx::query("SELECT id, parent_id FROM departments")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        DepartmentId::parse(&row.try_get::<String, _>(0)?)?,
                        row.try_get::<Option<String>, _>(1)?
                            .map(|p| DepartmentId::parse(&p))
                            .transpose()?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let users = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ROLE_COLUMNS}, role_seal FROM users WHERE department_id IS NOT NULL"
            )))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    roles_from_row!(row),
                    row.try_get::<Option<Vec<u8>>, _>("role_seal")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
            (departments, users)
        });
        // Department membership decides row scopes: each is checked
        // against the user's seal.
        let key = self.keyring().await?;
        let mut suspect = Vec::new();
        for (roles, seal) in &users {
            match check_roles(key.integrity_key(), self.tenant, roles, seal.as_deref()) {
                SealCheck::Intact => {}
                SealCheck::Unsealed => suspect.push((roles.id.clone(), false)),
                SealCheck::Broken => suspect.push((roles.id.clone(), true)),
            }
        }
        if !suspect.is_empty() {
            let sealed_once = self.keyrings.access_sealed(self.tenant).await?;
            let broken: Vec<String> = suspect
                .into_iter()
                .filter(|(_, broken)| *broken || sealed_once)
                .map(|(id, _)| id)
                .collect();
            if !broken.is_empty() {
                return Err(self.roles_tampered(broken).await);
            }
        }
        let users = users
            .iter()
            .filter_map(|(roles, _)| roles.department.as_deref().map(|d| (roles.id.as_str(), d)))
            .map(|(user, department)| Ok((UserId::parse(user)?, DepartmentId::parse(department)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let model = Arc::new(AccessModel::new(groups, departments, users));
        self.access.0.put(self.tenant, Arc::clone(&model), reading);
        Ok(model)
    }

    /// Records that users' role data failed its seal, and the error that
    /// refuses whatever was about to be decided on it.
    pub(crate) async fn roles_tampered(&self, users: Vec<String>) -> StoreError {
        let recorded = self
            .auth()
            .security_event(
                "access_data_tampered",
                None,
                None,
                &serde_json::json!({"users": users}),
            )
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record an access_data_tampered event");
        }
        StoreError::Tampered(format!(
            "the duties, status or department of user(s) {} changed outside Citadel",
            users.join(", ")
        ))
    }

    /// Forgets the cached access model: users and departments call this
    /// when a change moves someone between departments.
    pub(crate) fn access_changed(&self) {
        self.access.forget(self.tenant);
    }
}
