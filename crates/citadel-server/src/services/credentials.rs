//! A user's own credentials: password changes (policy, history), sessions,
//! personal access tokens, the TOTP second factor and recovery codes.

use citadel_core::identity::check_token_lifetime;
use citadel_core::{
    DisplayName, SecurityPolicy, SessionId, TenantScope, TokenId, UserId, password,
};
use citadel_crypto::token::{generate_token, token_hash};
use citadel_crypto::{SecretString, totp};
use citadel_store::{
    AccessTokenRecord, ClientInfo, TenantDb, TenantRecord, UserRecord, now_millis,
};
use serde_json::json;

use crate::error::ApiError;
use crate::services::login::{begin_attempt, count_failure};
use crate::services::sessions::{ACCESS_TOKEN_PREFIX, TenantSession};
use crate::state::AppState;

/// A copy of a secret for a second use (each hashing job consumes one).
fn copy(secret: &SecretString) -> SecretString {
    SecretString::new(secret.expose().to_owned())
}

async fn own_user(db: &TenantDb, user: UserId) -> Result<UserRecord, ApiError> {
    db.find_user(user).await?.ok_or(ApiError::Unauthenticated)
}

/// Checks the current password of a signed-in user before a sensitive
/// change. It is a sign-in in all but name: throttled per address, refused
/// while the account is locked, counted towards the lockout when wrong,
/// and logged, so a stolen session cannot guess the password at leisure.
async fn reauthenticate(
    state: &AppState,
    db: &TenantDb,
    user: &UserRecord,
    current: SecretString,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let now = now_millis();
    begin_attempt(state, "reauthentication", client.ip, now)?;
    let auth = db.auth();
    let login = user.login.as_str();
    if auth.is_locked(user.id, now).await? {
        auth.record_attempt(client, login, Some(user.id), "reauth_locked")
            .await?;
        return Err(ApiError::InvalidCredentials);
    }
    let verified = match db.keyring().await {
        Ok(keyring) => {
            state
                .passwords()
                .verify(current, Some(user.password_hash.clone()), Some(keyring))
                .await
        }
        Err(e) => Err(e.into()),
    };
    let right = match verified {
        Ok(right) => right,
        Err(e) => {
            // The queue was full or the hashing failed: not a guess.
            state.forgive_login_failure(client.ip);
            return Err(e);
        }
    };
    if right {
        state.forgive_login_failure(client.ip);
        // A lock set by concurrent failures during the hashing holds.
        if !auth.admit(user.id, now).await? {
            auth.record_attempt(client, login, Some(user.id), "reauth_locked")
                .await?;
            return Err(ApiError::InvalidCredentials);
        }
        return Ok(());
    }
    auth.record_attempt(client, login, Some(user.id), "reauth_wrong_password")
        .await?;
    let policy = auth.security_policy().await?;
    count_failure(&auth, user, &policy, client, now).await?;
    Err(ApiError::InvalidCredentials)
}

/// Refuses a new password that breaks the policy or repeats one of the
/// last `policy.password_history` passwords (the current one included).
pub async fn check_new_password(
    state: &AppState,
    db: &TenantDb,
    user: &UserRecord,
    policy: &SecurityPolicy,
    new: &SecretString,
) -> Result<(), ApiError> {
    password::check_policy(new.expose(), user.login.as_str())
        .map_err(|e| ApiError::invalid_field("new_password", e))?;
    let keyring = db.keyring().await?;
    for old in db
        .password_history(user.id, policy.password_history)
        .await?
    {
        let reused = state
            .passwords()
            .verify(copy(new), Some(old), Some(keyring.clone()))
            .await?;
        if reused {
            return Err(ApiError::BadRequest {
                code: "password_reused",
                detail: format!(
                    "new_password: must differ from your last {} passwords",
                    policy.password_history
                ),
                field: Some("new_password".into()),
            });
        }
    }
    Ok(())
}

/// Changes the signed-in user's password after checking the current one,
/// the policy and the history; ends the user's other sessions.
pub async fn change_password(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    client: &ClientInfo,
    current: SecretString,
    new: SecretString,
) -> Result<(), ApiError> {
    let db = state.store().tenant(scope).await?;
    let user = own_user(&db, session.user).await?;
    reauthenticate(state, &db, &user, current, client).await?;
    let policy = db.security_policy().await?;
    check_new_password(state, &db, &user, &policy, &new).await?;
    let hash = state
        .passwords()
        .hash(new, Some(db.keyring().await?))
        .await?;
    db.set_password(
        user.id,
        &hash,
        false,
        session.session_hash().map(|h| &h[..]),
    )
    .await?;
    db.auth()
        .security_event(
            "password_changed",
            Some(user.id),
            Some(client.ip),
            &json!({}),
        )
        .await?;
    Ok(())
}

pub async fn revoke_session(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    id: SessionId,
) -> Result<(), ApiError> {
    let db = state.store().tenant(scope).await?;
    db.revoke_session(session.user, id).await?;
    Ok(())
}

/// A new personal access token, in full, shown once.
pub struct IssuedToken {
    pub record: AccessTokenRecord,
    pub token: SecretString,
}

/// A token is a credential that outlives the session: creating one needs
/// the current password and tells the user.
pub async fn create_access_token(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    client: &ClientInfo,
    name: DisplayName,
    expires_in_days: u32,
    password: SecretString,
) -> Result<IssuedToken, ApiError> {
    let lifetime = check_token_lifetime(expires_in_days)
        .map_err(|e| ApiError::invalid_field("expires_in_days", e))?;
    let db = state.store().tenant(scope).await?;
    let user = own_user(&db, session.user).await?;
    reauthenticate(state, &db, &user, password, client).await?;
    let now = now_millis();
    let record = AccessTokenRecord {
        id: TokenId::generate(),
        user: session.user,
        name,
        created_at: now,
        expires_at: now.saturating_add(lifetime),
        last_used_at: None,
    };
    let secret = generate_token();
    db.create_access_token(&record, &token_hash(secret.expose()))
        .await?;
    let token = SecretString::new(format!(
        "{ACCESS_TOKEN_PREFIX}{}_{}",
        session.tenant.id.simple(),
        secret.expose()
    ));
    tell(
        &db,
        &user,
        client,
        "access_token_created",
        json!({ "token": record.id.to_string(), "name": record.name.as_str(),
                "expires_at": record.expires_at }),
        "A personal access token was created",
    )
    .await;
    Ok(IssuedToken { record, token })
}

/// What an authenticator app needs to enrol.
pub struct TotpEnrolment {
    pub otpauth_uri: SecretString,
    pub secret_base32: SecretString,
}

/// Starts (or restarts) TOTP enrolment: a new seed, pending until a code
/// from it is confirmed. A confirmed factor stays in force meanwhile.
pub async fn begin_totp(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
) -> Result<TotpEnrolment, ApiError> {
    let db = state.store().tenant(scope).await?;
    let user = own_user(&db, session.user).await?;
    let secret = totp::generate_secret();
    db.set_pending_totp(user.id, &secret).await?;
    let enrolment = totp::enrolment(&secret, &issuer(&session.tenant), user.login.as_str())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TotpEnrolment {
        otpauth_uri: enrolment.uri,
        secret_base32: enrolment.secret_base32,
    })
}

/// The issuer label authenticator apps show: product and tenant.
fn issuer(tenant: &TenantRecord) -> String {
    format!("Citadel {}", tenant.slug)
}

/// Hashes of new recovery codes, and the codes to show once.
fn new_recovery_codes() -> (Vec<SecretString>, Vec<[u8; 32]>) {
    let codes = totp::generate_recovery_codes();
    let hashes = codes
        .iter()
        .filter_map(|c| totp::normalize_recovery_code(c.expose()))
        .map(|c| token_hash(c.expose()))
        .collect();
    (codes, hashes)
}

/// Confirms enrolment with a current code from the new seed; returns the
/// recovery codes, shown once. Like every credential change it needs the
/// current password: a session alone must not enrol (or swap in) someone
/// else's authenticator.
pub async fn confirm_totp(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    client: &ClientInfo,
    code: &str,
    password: SecretString,
) -> Result<Vec<SecretString>, ApiError> {
    let db = state.store().tenant(scope).await?;
    let (secret, sealed) = db
        .pending_totp(session.user)
        .await?
        .ok_or(ApiError::Conflict(
            "no enrolment is pending: start one with POST /api/v1/me/totp".into(),
        ))?;
    let user = own_user(&db, session.user).await?;
    reauthenticate(state, &db, &user, password, client).await?;
    let unix_seconds = u64::try_from(now_millis() / 1000).unwrap_or(0);
    let step = totp::verify(&secret, code.trim(), unix_seconds).ok_or(ApiError::BadRequest {
        code: "invalid_code",
        detail: "code: not the current code of the new authenticator".into(),
        field: Some("code".into()),
    })?;
    let (codes, hashes) = new_recovery_codes();
    db.confirm_totp(user.id, &sealed, step, &hashes)
        .await
        .map_err(|e| match e {
            citadel_store::StoreError::NotFound(_) => ApiError::Conflict(
                "the enrolment was restarted meanwhile: confirm the newest one".into(),
            ),
            other => other.into(),
        })?;
    tell(
        &db,
        &user,
        client,
        "totp_enrolled",
        json!({ "replaced": user.totp_enabled }),
        "A new authenticator was set up",
    )
    .await;
    Ok(codes)
}

/// A change to the user's second factor: a security event, and a
/// notification so that the owner learns of a change they did not make.
async fn tell(
    db: &TenantDb,
    user: &UserRecord,
    client: &ClientInfo,
    kind: &str,
    detail: serde_json::Value,
    title: &str,
) {
    let auth = db.auth();
    let body = format!(
        "{title} from {}. If it was not you, tell your administrator at once.",
        client.ip
    );
    // The change is committed already: failing the request now would
    // hide its result (the recovery codes) from the user.
    let told = async {
        auth.security_event(kind, Some(user.id), Some(client.ip), &detail)
            .await?;
        auth.notify(user.id, kind, title, &body).await
    }
    .await;
    if let Err(e) = told {
        tracing::error!(error = %e, kind, "security event not recorded");
    }
}

/// Removes the second factor, after the current password. Refused while
/// the tenant's policy requires one of this user.
pub async fn remove_totp(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    client: &ClientInfo,
    current: SecretString,
) -> Result<(), ApiError> {
    let db = state.store().tenant(scope).await?;
    let user = own_user(&db, session.user).await?;
    reauthenticate(state, &db, &user, current, client).await?;
    if db
        .security_policy()
        .await?
        .require_totp
        .applies_to(user.duties.any())
    {
        return Err(ApiError::Refused {
            code: "totp_required_by_policy",
            detail: "the tenant's policy requires a second factor for you; enrol a new \
                     authenticator instead (POST /api/v1/me/totp)"
                .into(),
        });
    }
    db.remove_totp(user.id).await?;
    tell(
        &db,
        &user,
        client,
        "totp_removed",
        json!({ "by": "self" }),
        "Two-factor sign-in was turned off",
    )
    .await;
    Ok(())
}

/// New recovery codes (the old ones stop working), after the current
/// password.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    client: &ClientInfo,
    current: SecretString,
) -> Result<Vec<SecretString>, ApiError> {
    let db = state.store().tenant(scope).await?;
    let user = own_user(&db, session.user).await?;
    reauthenticate(state, &db, &user, current, client).await?;
    if !user.totp_enabled {
        return Err(ApiError::Conflict(
            "recovery codes belong to a second factor: enrol one first".into(),
        ));
    }
    let (codes, hashes) = new_recovery_codes();
    db.replace_recovery_codes(user.id, &hashes).await?;
    Ok(codes)
}
