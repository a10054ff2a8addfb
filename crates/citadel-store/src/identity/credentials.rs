//! What proves a user on a request: sessions, personal access tokens, the
//! TOTP seed with its replay guard, and recovery codes.

use citadel_core::{DisplayName, SessionId, TokenId, UserId};
use citadel_crypto::SecretBytes;
use citadel_crypto::suite::sealed_header;
use sqlx::Row;

use crate::StoreError;
use crate::db::{now_millis, on_pool, read_inline_first, write_on_pool};
use crate::identity::conflict_on_unique;
use crate::inline::{InlineRow, first_row};
use crate::records::{AccessTokenRecord, ClientInfo, SessionEntry, SessionRecord};
use crate::tenant_db::{TenantAuthDb, TenantDb};

/// User agents are kept for display; longer ones are cut.
const USER_AGENT_MAX: usize = 256;

pub(crate) fn clip_user_agent(ua: &str) -> String {
    ua.chars().take(USER_AGENT_MAX).collect()
}

fn totp_aad(db: &TenantDb, user: UserId) -> Vec<u8> {
    format!("citadel:totp:v1:{}:{user}", db.tenant).into_bytes()
}

macro_rules! token_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(AccessTokenRecord {
            id: TokenId::parse(&row.try_get::<String, _>("id")?)?,
            user: UserId::parse(&row.try_get::<String, _>("user_id")?)?,
            name: DisplayName::parse(&row.try_get::<String, _>("name")?)?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }};
}

/// Replaces a user's recovery codes inside transaction `$tx`.
macro_rules! replace_codes {
    ($tx:expr, $user:expr, $hashes:expr) => {{
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind($user.to_string())
            .execute(&mut *$tx)
            .await?;
        for hash in $hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind($user.to_string())
                .bind(&hash[..])
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl TenantAuthDb {
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        client: &ClientInfo,
    ) -> Result<SessionId, StoreError> {
        let id = SessionId::generate();
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, ip, user_agent) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6)",
            )
            .bind(id.to_string())
            .bind(token_hash)
            .bind(user.to_string())
            .bind(now_millis())
            .bind(client.ip.to_string())
            .bind(clip_user_agent(&client.user_agent))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(id)
    }

    pub async fn find_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<SessionRecord<UserId>>, StoreError> {
        const SESSION: &str =
            "SELECT user_id, created_at, last_seen_at FROM sessions WHERE token_hash = $1";
        macro_rules! session {
            ($row:expr) => {{
                let row = $row;
                Ok(SessionRecord {
                    owner: UserId::parse(&row.try_get::<String, _>("user_id")?)?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                })
            }};
        }
        read_inline_first!(
            &self.0.pool,
            inline | conn | {
                first_row(conn, SESSION, [token_hash], |row| session!(InlineRow(row)))
            },
            pooled | conn | {
                sqlx::query(SESSION)
                    .bind(token_hash)
                    .fetch_optional(conn)
                    .await?
                    .map(|row| session!(row))
                    .transpose()
            }
        )
    }

    pub async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Ends a session (sign-out, or an expired one found during lookup).
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The token with this hash, if it exists (expired or not).
    pub async fn find_access_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "SELECT id, user_id, name, created_at, expires_at, last_used_at \
                 FROM access_tokens WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await?
            .map(|row| token_from_row!(row))
            .transpose()
        })
    }

    pub async fn touch_access_token(&self, id: TokenId, now: i64) -> Result<(), StoreError> {
        write_on_pool!(&self.0.pool, |p| {
            sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.to_string())
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The user's confirmed TOTP seed, opened, if they have one.
    pub async fn totp_secret(&self, user: UserId) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self
            .0
            .sealed_totp(user, "totp_secret")
            .await?
            .map(|(secret, _)| secret))
    }

    /// Accepts a verified TOTP time step once: true if `step` is later than
    /// every step accepted before for this user (RFC 6238 §5.2).
    pub async fn accept_totp_step(&self, user: UserId, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let changed = write_on_pool!(&self.0.pool, |p| {
            sqlx::query(
                "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
            )
            .bind(step)
            .bind(user.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Uses up a recovery code: true if it existed (it no longer does).
    pub async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let deleted = write_on_pool!(&self.0.pool, |p| {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user.to_string())
                .bind(code_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }
}

impl TenantDb {
    /// A TOTP seed column (`totp_secret` or `totp_pending`), opened, with
    /// its sealed form.
    async fn sealed_totp(
        &self,
        user: UserId,
        column: &'static str,
    ) -> Result<Option<(SecretBytes, Vec<u8>)>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT {column} FROM users WHERE id = $1"
            )))
            .bind(user.to_string())
            .fetch_optional(p)
            .await?
        });
        let Some(sealed) = sealed.flatten() else {
            return Ok(None);
        };
        let opened = self.open_totp(user, &sealed).await?;
        Ok(Some((SecretBytes::new(opened.to_vec()), sealed)))
    }

    /// Seals a TOTP seed under the tenant's active data key, bound to the
    /// tenant and user.
    pub(crate) async fn seal_totp(&self, user: UserId, seed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.keyring().await?.encrypt(&totp_aad(self, user), seed)
    }

    /// Opens a sealed TOTP seed: under the data key version it names, or,
    /// for a seed sealed before tenants had keys, under the master key.
    pub(crate) async fn open_totp(
        &self,
        user: UserId,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        let aad = totp_aad(self, user);
        if sealed_header(sealed).is_ok() {
            Ok(self.keyring().await?.decrypt(&aad, sealed)?)
        } else {
            Ok(self.key.open(&aad, sealed)?)
        }
    }

    /// The user's sessions, newest first.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<SessionEntry>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, token_hash, created_at, last_seen_at, ip, user_agent FROM sessions \
                 WHERE user_id = $1 ORDER BY created_at DESC",
            )
            .bind(user.to_string())
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| {
                Ok(SessionEntry {
                    id: SessionId::parse(&row.try_get::<String, _>("id")?)?,
                    token_hash: row.try_get("token_hash")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
        })
    }

    /// Ends one of the user's sessions; another user's session id is "not
    /// found", never ended.
    pub async fn revoke_session(&self, user: UserId, id: SessionId) -> Result<(), StoreError> {
        self.delete_owned("sessions", &id.to_string(), user, "session")
            .await
    }

    /// Deletes row `id` of `table` if it belongs to `user`: another user's
    /// id answers "not found" and deletes nothing. `table` is a name from
    /// this module, never from a request.
    async fn delete_owned(
        &self,
        table: &'static str,
        id: &str,
        user: UserId,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let deleted = write_on_pool!(&self.pool, |p| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE id = $1 AND user_id = $2"
            )))
            .bind(id)
            .bind(user.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound(what));
        }
        Ok(())
    }

    pub async fn create_access_token(
        &self,
        record: &AccessTokenRecord,
        token_hash: &[u8],
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO access_tokens (id, token_hash, user_id, name, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(record.id.to_string())
            .bind(token_hash)
            .bind(record.user.to_string())
            .bind(record.name.as_str())
            .bind(record.created_at)
            .bind(record.expires_at)
            .execute(p)
            .await
            .map_err(conflict_on_unique("token"))?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn list_access_tokens(
        &self,
        user: UserId,
    ) -> Result<Vec<AccessTokenRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "SELECT id, user_id, name, created_at, expires_at, last_used_at \
                 FROM access_tokens WHERE user_id = $1 ORDER BY created_at DESC",
            )
            .bind(user.to_string())
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|row| token_from_row!(row))
            .collect()
        })
    }

    pub async fn revoke_access_token(&self, user: UserId, id: TokenId) -> Result<(), StoreError> {
        self.delete_owned("access_tokens", &id.to_string(), user, "token")
            .await
    }

    /// Stores a TOTP seed awaiting confirmation (replacing an earlier one);
    /// a confirmed seed stays in force until the new one is confirmed.
    pub async fn set_pending_totp(
        &self,
        user: UserId,
        secret: &SecretBytes,
    ) -> Result<(), StoreError> {
        let sealed = self.seal_totp(user, secret.expose()).await?;
        let found = write_on_pool!(&self.pool, |p| {
            sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
                .bind(sealed)
                .bind(user.to_string())
                .execute(p)
                .await?
                .rows_affected()
        });
        if found == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    /// The seed awaiting confirmation, opened, with its sealed form (which
    /// confirmation names, so a newer enrolment is never confirmed by a
    /// code checked against this one).
    pub async fn pending_totp(
        &self,
        user: UserId,
    ) -> Result<Option<(SecretBytes, Vec<u8>)>, StoreError> {
        self.sealed_totp(user, "totp_pending").await
    }

    /// Makes the pending seed the user's second factor, accepting `step`
    /// (the code that confirmed it) and replacing the recovery codes, in
    /// one transaction.
    pub async fn confirm_totp(
        &self,
        user: UserId,
        pending_sealed: &[u8],
        step: u64,
        recovery_code_hashes: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let moved = sqlx::query(
                "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1 \
                 WHERE id = $2 AND totp_pending = $3",
            )
            .bind(step)
            .bind(user.to_string())
            .bind(pending_sealed)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Err(StoreError::NotFound("pending enrolment"));
            }
            replace_codes!(tx, user, recovery_code_hashes);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Replaces the user's recovery codes.
    pub async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            replace_codes!(tx, user, hashes);
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn recovery_codes_left(&self, user: UserId) -> Result<i64, StoreError> {
        on_pool!(&self.pool, |p| {
            Ok(
                sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
                    .bind(user.to_string())
                    .fetch_one(p)
                    .await?,
            )
        })
    }

    /// Removes the user's second factor and recovery codes.
    pub async fn remove_totp(&self, user: UserId) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let found = sqlx::query(
                "UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = $1",
            )
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if found == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
