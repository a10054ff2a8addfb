//! Accounts: lookup for sign-in, failure counting and lockout, passwords
//! with their history, and what tenant admins change.

use citadel_core::{
    DepartmentId, DisplayName, Email, LoginName, SecurityPolicy, TokenId, UserId, UserStatus,
};
use sqlx::Row;

use crate::StoreError;
use crate::access_seal::{SealCheck, StoredRoles, check_roles, reseal_user};
use crate::db::{now_millis, on_pool, read_inline_first, write_on_pool};
use crate::inline::{InlineRow, first_row};
use crate::records::{AccessTokenRecord, NewUser, UserChanges, UserRecord};
use crate::tenant_db::{TenantAuthDb, TenantDb};

const USER_COLUMNS: &str = "id, login, email, display_name, department_id, password_hash, \
     password_changed_at, must_change_password, is_admin, is_security_admin, is_audit_admin, \
     is_protected, status, failed_logins, locked_until, totp_secret, created_at, role_seal";

/// Keeps this many old hashes per user: the longest history a policy may ask.
const HISTORY_KEPT: i64 = 24;

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        UserRecord {
            id: UserId::parse(&row.try_get::<String, _>("id")?)?,
            login: LoginName::parse(&row.try_get::<String, _>("login")?)?,
            email: Email::parse(&row.try_get::<String, _>("email")?)?,
            display_name: row
                .try_get::<Option<String>, _>("display_name")?
                .map(|n| DisplayName::parse(&n))
                .transpose()?,
            department: row
                .try_get::<Option<String>, _>("department_id")?
                .map(|d| DepartmentId::parse(&d))
                .transpose()?,
            password_hash: row.try_get("password_hash")?,
            password_changed_at: row.try_get("password_changed_at")?,
            must_change_password: row.try_get("must_change_password")?,
            duties: citadel_core::Duties {
                system: row.try_get("is_admin")?,
                security: row.try_get("is_security_admin")?,
                audit: row.try_get("is_audit_admin")?,
            },
            protected: row.try_get("is_protected")?,
            status: UserStatus::parse(&row.try_get::<String, _>("status")?)?,
            failed_logins: row.try_get("failed_logins")?,
            locked_until: row.try_get("locked_until")?,
            totp_enabled: row.try_get::<Option<Vec<u8>>, _>("totp_secret")?.is_some(),
            created_at: row.try_get("created_at")?,
            role_seal: row.try_get("role_seal")?,
        }
    }};
}

/// Inserts a user and the first entry of their password history; shared by
/// provisioning (inside its transaction) and account creation. `$conn` is
/// a connection or transaction, evaluated once per statement.
macro_rules! insert_user {
    ($conn:expr, $user:expr) => {{
        let user: &$crate::records::NewUser = $user;
        let now = $crate::db::now_millis();
        let inserted = sqlx::query(
            "INSERT INTO users (id, login, email, display_name, department_id, password_hash, \
             password_changed_at, must_change_password, is_admin, is_security_admin, \
             is_audit_admin, is_protected, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $7, $7)",
        )
        .bind(user.id.to_string())
        .bind(user.login.as_str())
        .bind(user.email.as_str())
        .bind(user.display_name.as_ref().map(|n| n.as_str().to_owned()))
        .bind(user.department.map(|d| d.to_string()))
        .bind(&user.password_hash)
        .bind(now)
        .bind(user.must_change_password)
        .bind(user.duties.system)
        .bind(user.duties.security)
        .bind(user.duties.audit)
        .bind(user.protected)
        .execute($conn)
        .await;
        match inserted {
            Ok(_) => sqlx::query(
                "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user.id.to_string())
            .bind(&user.password_hash)
            .bind(now)
            .execute($conn)
            .await
            .map(|_| ()),
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use insert_user;

/// A foreign-key violation on a user row means the department is unknown.
fn department_missing(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound("department")
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict("that login is taken".into())
        }
        other => other.into(),
    }
}

/// What of a user the role seal covers.
fn roles_of(user: &UserRecord) -> StoredRoles {
    StoredRoles {
        id: user.id.to_string(),
        system: user.duties.system,
        security: user.duties.security,
        audit: user.duties.audit,
        protected: user.protected,
        status: user.status.as_str().to_owned(),
        department: user.department.map(|d| d.to_string()),
    }
}

impl TenantAuthDb {
    /// Checks a user's duties, protection, status and department against
    /// their seal before they become a principal: changed beside the
    /// server, they are refused and a security event is recorded. Before
    /// the tenant's first sealing an unsealed user passes, and sealing is
    /// done now.
    pub async fn check_roles(&self, user: &UserRecord) -> Result<(), StoreError> {
        let keyring = self.keyring().await?;
        let key = keyring.integrity_key();
        let tenant = self.0.tenant;
        match check_roles(key, tenant, &roles_of(user), user.role_seal.as_deref()) {
            SealCheck::Intact => Ok(()),
            SealCheck::Unsealed if !self.0.keyrings.access_sealed(tenant).await? => {
                // Loading the groups seals the tenant's access data once.
                self.0.list_groups().await.map(|_| ())
            }
            SealCheck::Unsealed => {
                // A concurrent first sealing may have sealed this user and
                // set the mark since the row was read: read it once more.
                let again = self.find_user(user.id).await?;
                let intact = again.as_ref().is_some_and(|u| {
                    check_roles(key, tenant, &roles_of(u), u.role_seal.as_deref())
                        == SealCheck::Intact
                });
                if intact {
                    Ok(())
                } else {
                    Err(self.0.roles_tampered(vec![user.id.to_string()]).await)
                }
            }
            SealCheck::Broken => Err(self.0.roles_tampered(vec![user.id.to_string()]).await),
        }
    }

    /// An access token and its owner, in one query: every request made
    /// with a token needs both.
    pub async fn find_access_token_with_user(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(AccessTokenRecord, UserRecord)>, StoreError> {
        static USER_OF_TOKEN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let columns: Vec<String> = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect();
            format!(
                "SELECT {}, t.id AS token_id, t.name AS token_name, \
                 t.created_at AS token_created_at, t.expires_at AS token_expires_at, \
                 t.last_used_at AS token_last_used_at \
                 FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                columns.join(", ")
            )
        });
        macro_rules! token_with_user {
            ($row:expr) => {{
                let row = $row;
                let user = user_from_row!(row);
                let token = AccessTokenRecord {
                    id: TokenId::parse(&row.try_get::<String, _>("token_id")?)?,
                    user: user.id,
                    name: DisplayName::parse(&row.try_get::<String, _>("token_name")?)?,
                    created_at: row.try_get("token_created_at")?,
                    expires_at: row.try_get("token_expires_at")?,
                    last_used_at: row.try_get("token_last_used_at")?,
                };
                Ok((token, user))
            }};
        }
        read_inline_first!(
            &self.0.pool,
            inline | conn | {
                first_row(conn, &USER_OF_TOKEN, [token_hash], |row| {
                    token_with_user!(&InlineRow(row))
                })
            },
            pooled | conn | {
                sqlx::query(sqlx::AssertSqlSafe(USER_OF_TOKEN.as_str()))
                    .bind(token_hash)
                    .fetch_optional(conn)
                    .await?
                    .map(|row| token_with_user!(&row))
                    .transpose()
            }
        )
    }

    pub async fn find_user_by_login(
        &self,
        login: &LoginName,
    ) -> Result<Option<UserRecord>, StoreError> {
        on_pool!(&self.0.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE login = $1"
            )))
            .bind(login.as_str())
            .fetch_optional(p)
            .await?
            .map(|row| Ok(user_from_row!(row)))
            .transpose()
        })
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        static USER_BY_ID: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
        let id = id.to_string();
        read_inline_first!(
            &self.0.pool,
            inline | conn | {
                first_row(conn, &USER_BY_ID, [&id], |row| {
                    Ok(user_from_row!(&InlineRow(row)))
                })
            },
            pooled | conn | {
                sqlx::query(sqlx::AssertSqlSafe(USER_BY_ID.as_str()))
                    .bind(&id)
                    .fetch_optional(conn)
                    .await?
                    .map(|row| Ok(user_from_row!(row)))
                    .transpose()
            }
        )
    }

    /// Counts a failed sign-in. Returns the end of the lock if this failure
    /// reached the policy's threshold (the counter then starts afresh). One
    /// statement, so concurrent failures cannot both miss the threshold.
    pub async fn note_failure(
        &self,
        user: UserId,
        policy: &SecurityPolicy,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let until = now.saturating_add(policy.lockout_ms());
        let row: Option<(Option<i64>, i64)> = write_on_pool!(&self.0.pool, |p| {
            sqlx::query_as(
                "UPDATE users SET \
                   locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END, \
                   failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END \
                 WHERE id = $3 RETURNING locked_until, failed_logins",
            )
            .bind(i64::from(policy.max_failed_logins))
            .bind(until)
            .bind(user.to_string())
            .fetch_optional(p)
            .await?
        });
        // Only a failure that reached the threshold leaves the count at 0
        // (any other leaves it at 1 or more). Comparing `locked_until` with
        // `until` instead would also claim a lock set earlier with the same
        // end, e.g. by a concurrent failure in the same millisecond.
        Ok(row.and_then(|(locked, failed)| locked.filter(|_| failed == 0)))
    }

    /// Admits a sign-in whose credentials were right: clears the failure
    /// count, unless the account is locked at `now` — a lock set by
    /// concurrent failures while this attempt's password was being hashed
    /// still holds. Returns whether the sign-in may go on.
    pub async fn admit(&self, user: UserId, now: i64) -> Result<bool, StoreError> {
        let admitted = write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "UPDATE users SET failed_logins = 0, locked_until = NULL \
                 WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)",
            )
            .bind(user.to_string())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(admitted == 1)
    }

    /// Whether the account is locked at `now`, read afresh.
    pub async fn is_locked(&self, user: UserId, now: i64) -> Result<bool, StoreError> {
        let until: Option<Option<i64>> = on_pool!(&self.0.pool, |p| {
            sqlx::query_scalar("SELECT locked_until FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(p)
                .await?
        });
        Ok(until.flatten().is_some_and(|u| u > now))
    }

    /// Replaces a hash with one of today's parameters for the same
    /// password; history and age are untouched.
    pub async fn upgrade_password_hash(
        &self,
        user: UserId,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(new_hash)
                .bind(user.to_string())
                .bind(old_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}

impl TenantDb {
    pub async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        self.auth().find_user(id).await
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY login"
            )))
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| Ok(user_from_row!(row)))
            .collect()
        })
    }

    pub async fn create_user(&self, user: &NewUser) -> Result<(), StoreError> {
        let keyring = self.keyring().await?;
        let result = write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            insert_user!(&mut *tx, user).map_err(department_missing)?;
            reseal_user!(
                tx,
                user.id.to_string(),
                keyring.integrity_key(),
                self.tenant
            );
            tx.commit().await?;
            Ok(())
        });
        self.access_changed();
        result
    }

    /// Applies an admin's changes. Disabling a user ends their sessions in
    /// the same transaction.
    pub async fn update_user(&self, id: UserId, changes: &UserChanges) -> Result<(), StoreError> {
        // The change is sealed with whatever the row holds: a row changed
        // beside the server must not be made valid by the next edit.
        let current = self
            .find_user(id)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        self.auth().check_roles(&current).await?;
        let keyring = self.keyring().await?;
        let now = now_millis();
        let result = write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let found = sqlx::query(
                "UPDATE users SET \
                   email = COALESCE($1, email), \
                   display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
                   department_id = CASE WHEN $4 THEN $5 ELSE department_id END, \
                   is_admin = COALESCE($6, is_admin), \
                   is_security_admin = COALESCE($7, is_security_admin), \
                   is_audit_admin = COALESCE($8, is_audit_admin), \
                   is_protected = COALESCE($9, is_protected), \
                   status = COALESCE($10, status), \
                   updated_at = $11 \
                 WHERE id = $12",
            )
            .bind(changes.email.as_ref().map(|e| e.as_str().to_owned()))
            .bind(changes.display_name.is_some())
            .bind(
                changes
                    .display_name
                    .as_ref()
                    .and_then(|n| n.as_ref().map(|n| n.as_str().to_owned())),
            )
            .bind(changes.department.is_some())
            .bind(changes.department.flatten().map(|d| d.to_string()))
            .bind(changes.duties.map(|d| d.system))
            .bind(changes.duties.map(|d| d.security))
            .bind(changes.duties.map(|d| d.audit))
            .bind(changes.protected)
            .bind(changes.status.map(UserStatus::as_str))
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(department_missing)?
            .rows_affected();
            if found == 0 {
                return Err(StoreError::NotFound("user"));
            }
            if changes.status == Some(UserStatus::Disabled) {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            reseal_user!(tx, id.to_string(), keyring.integrity_key(), self.tenant);
            tx.commit().await?;
            Ok(())
        });
        self.access_changed();
        result
    }

    /// Lifts a lock and clears the failure count.
    pub async fn unlock_user(&self, id: UserId) -> Result<(), StoreError> {
        let found = write_on_pool!(&self.pool, |p| {
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(p)
                .await?
                .rows_affected()
        });
        if found == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    /// The user's last `n` password hashes, newest first, the current one
    /// included.
    pub async fn password_history(&self, id: UserId, n: u32) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.pool, |p| {
            Ok(sqlx::query_scalar(
                "SELECT password_hash FROM password_history WHERE user_id = $1 \
                 ORDER BY created_at DESC LIMIT $2",
            )
            .bind(id.to_string())
            .bind(i64::from(n))
            .fetch_all(p)
            .await?)
        })
    }

    /// Sets a new password: records it in the history (keeping the last
    /// 24), restarts its age and, in the same transaction, ends every
    /// session of the user but `keep_session`. `forced` marks a one-time
    /// password set by an admin, which must be changed at the next sign-in;
    /// an admin reset also clears a lock and revokes the user's access
    /// tokens.
    pub async fn set_password(
        &self,
        user: UserId,
        password_hash: &str,
        forced: bool,
        keep_session: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2, \
                   password_changed_at = $3, updated_at = $3, \
                   failed_logins = CASE WHEN $2 THEN 0 ELSE failed_logins END, \
                   locked_until = CASE WHEN $2 THEN NULL ELSE locked_until END \
                 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(forced)
            .bind(now)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query(
                "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user.to_string())
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM password_history WHERE user_id = $1 AND created_at < (\
                   SELECT MIN(created_at) FROM (SELECT created_at FROM password_history \
                   WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2) AS kept)",
            )
            .bind(user.to_string())
            .bind(HISTORY_KEPT)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user.to_string())
                .bind(keep_session.unwrap_or_default())
                .execute(&mut *tx)
                .await?;
            if forced {
                // An admin reset answers a compromise: the user's scripts
                // get new tokens once they have a new password.
                sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
                    .bind(user.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
