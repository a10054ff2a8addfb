//! One tenant's own database: reached only with a [`TenantScope`] from the
//! authorization decision, through that tenant's own pool (its own SQLite
//! file, or its own PostgreSQL role and schema).

use citadel_core::{Email, LoginName, TenantId, UserId};
use sqlx::Row;

use crate::StoreError;
use crate::db::{DbPool, now_millis, on_pool};
use crate::records::{NewUser, SessionRecord, UserRecord};

/// A handle on one tenant's database. Cheap to clone; holds no other
/// tenant's connection.
#[derive(Clone, Debug)]
pub struct TenantDb {
    tenant: TenantId,
    pool: DbPool,
}

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        UserRecord {
            id: UserId::parse(&row.try_get::<String, _>("id")?)?,
            login: LoginName::parse(&row.try_get::<String, _>("login")?)?,
            email: Email::parse(&row.try_get::<String, _>("email")?)?,
            password_hash: row.try_get("password_hash")?,
            must_change_password: row.try_get("must_change_password")?,
            is_admin: row.try_get("is_admin")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
        }
    }};
}

const USER_COLUMNS: &str =
    "id, login, email, password_hash, must_change_password, is_admin, status, created_at";

/// Inserts a user; shared by provisioning (inside its transaction) and the
/// handle below.
macro_rules! insert_user {
    ($executor:expr, $user:expr) => {{
        let user: &NewUser = $user;
        let now = crate::db::now_millis();
        sqlx::query(
            "INSERT INTO users (id, login, email, password_hash, must_change_password, is_admin, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7)",
        )
        .bind(user.id.to_string())
        .bind(user.login.as_str())
        .bind(user.email.as_str())
        .bind(&user.password_hash)
        .bind(user.must_change_password)
        .bind(user.is_admin)
        .bind(now)
        .execute($executor)
        .await
        .map(|done| done.rows_affected())
    }};
}
pub(crate) use insert_user;

impl TenantDb {
    pub(crate) fn new(tenant: TenantId, pool: DbPool) -> Self {
        Self { tenant, pool }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The raw pool, for the tests that prove isolation at the SQL level by
    /// attempting what the store itself never does.
    #[doc(hidden)]
    pub fn raw_pool_for_isolation_tests(&self) -> &DbPool {
        &self.pool
    }

    pub async fn find_user_by_login(
        &self,
        login: &LoginName,
    ) -> Result<Option<UserRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
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
        on_pool!(&self.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
            )))
            .bind(id.to_string())
            .fetch_optional(p)
            .await?
            .map(|row| Ok(user_from_row!(row)))
            .transpose()
        })
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
        let result = on_pool!(&self.pool, |p| insert_user!(p, user));
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("login {} is taken", user.login),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the password hash, clears the forced-change flag and ends
    /// every session of the user but `keep_session`, in one transaction.
    pub async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep_session: &[u8],
    ) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(false)
            .bind(now_millis())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user.to_string())
                .bind(keep_session)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn create_session(&self, token_hash: &[u8], user: UserId) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
            )
            .bind(token_hash)
            .bind(user.to_string())
            .bind(now_millis())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn find_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<SessionRecord<UserId>>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT user_id, created_at, last_seen_at FROM sessions WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await?
            .map(|row| {
                Ok(SessionRecord {
                    owner: UserId::parse(&row.try_get::<String, _>("user_id")?)?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                })
            })
            .transpose()
        })
    }

    pub async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}

/// The part of a tenant's database that signing in and session lookup
/// need: accounts by login or id, and sessions. Obtained with a
/// [`citadel_core::TenantAuthScope`], which anonymous callers can get; the
/// rest of the tenant's data needs a [`TenantDb`].
#[derive(Clone, Debug)]
pub struct TenantAuthDb(TenantDb);

impl TenantAuthDb {
    pub(crate) fn new(db: TenantDb) -> Self {
        Self(db)
    }

    pub fn tenant(&self) -> TenantId {
        self.0.tenant()
    }

    pub async fn find_user_by_login(
        &self,
        login: &LoginName,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.0.find_user_by_login(login).await
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        self.0.find_user(id).await
    }

    pub async fn create_session(&self, token_hash: &[u8], user: UserId) -> Result<(), StoreError> {
        self.0.create_session(token_hash, user).await
    }

    pub async fn find_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<SessionRecord<UserId>>, StoreError> {
        self.0.find_session(token_hash).await
    }

    pub async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
        self.0.touch_session(token_hash, now).await
    }

    /// Removes an expired session found during lookup.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.0.delete_session(token_hash).await
    }
}
