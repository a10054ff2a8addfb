//! Signing in and out, for tenant users and platform operators, and turning
//! a presented session back into a principal.

use std::net::IpAddr;

use citadel_core::session::{SessionPolicy, TOUCH_INTERVAL_MS};
use citadel_core::{
    Action, Credential, LoginName, OperatorId, Pending, PlatformScope, Principal, Resource,
    SecurityPolicy, TenantId, TenantScope, TokenId, UserId, UserStatus, authorize, password,
};
use citadel_crypto::SecretString;
use citadel_crypto::token::{csrf_token, generate_token, token_hash};
use citadel_store::{
    BootstrapOutcome, NewOperator, TenantAuthDb, TenantRecord, UserRecord, now_millis,
};

use crate::error::ApiError;
use crate::state::AppState;

/// How a tenant user proved themselves on this request.
#[derive(Clone)]
pub enum Proof {
    /// The session cookie: its hash, and the anti-CSRF token derived from it.
    Session {
        token_hash: [u8; 32],
        csrf_token: String,
    },
    /// A personal access token.
    AccessToken { id: TokenId },
}

/// A tenant user recognised by a live session or a valid access token.
#[derive(Clone)]
pub struct TenantSession {
    pub principal: Principal,
    pub tenant: TenantRecord,
    pub user: UserId,
    /// The user's login when the request came, for its audit event.
    pub login: String,
    pub proof: Proof,
    /// The tenant's audit trail.
    pub audit: citadel_store::AuditTrail,
}

impl TenantSession {
    /// The session's cookie hash, if the caller came with one.
    pub fn session_hash(&self) -> Option<&[u8; 32]> {
        match &self.proof {
            Proof::Session { token_hash, .. } => Some(token_hash),
            Proof::AccessToken { .. } => None,
        }
    }
}

/// The answer to any request from a network the tenant banned.
pub fn ip_banned() -> ApiError {
    ApiError::Refused {
        code: "ip_banned",
        detail: "access from this network is blocked by the tenant's administrators".into(),
    }
}

/// Personal access tokens name their tenant: `citadel_pat_<tenant>_<secret>`.
pub const ACCESS_TOKEN_PREFIX: &str = "citadel_pat_";

/// Splits `<tenant id>.<token>` (the tenant session cookie).
fn split_tenant_cookie(value: &str) -> Option<(TenantId, &str)> {
    let (tenant, token) = value.split_once('.')?;
    Some((TenantId::parse(tenant).ok()?, token))
}

/// Splits `citadel_pat_<tenant id, 32 hex>_<token>`.
fn split_access_token(value: &str) -> Option<(TenantId, &str)> {
    let rest = value.strip_prefix(ACCESS_TOKEN_PREFIX)?;
    let (tenant, token) = rest.split_once('_')?;
    Some((TenantId::parse(tenant).ok()?, token))
}

/// What the user must do before anything else, by the tenant's policy.
pub fn pending_for(user: &UserRecord, policy: &SecurityPolicy, now: i64) -> Pending {
    if user.must_change_password || policy.password_expired(user.password_changed_at, now) {
        Pending::PasswordChange
    } else if policy.require_totp.applies_to(user.duties.any()) && !user.totp_enabled {
        Pending::TotpEnrolment
    } else {
        Pending::Nothing
    }
}

/// The tenant's sign-in database, if the tenant exists and is active. A
/// network the tenant banned is refused here, for sessions and tokens
/// alike: a ban stops what a stolen credential could still do from there.
async fn auth_db(
    state: &AppState,
    tenant_id: TenantId,
    ip: IpAddr,
) -> Result<Option<(TenantRecord, TenantAuthDb)>, ApiError> {
    let Some(tenant) = state.store().find_tenant(tenant_id).await? else {
        return Ok(None);
    };
    let resource = Resource::Tenant {
        id: tenant.id,
        status: tenant.status,
    };
    let Some(scope) =
        authorize(&Principal::Anonymous, Action::AuthenticateSession, resource)?.into_tenant_auth()
    else {
        return Ok(None);
    };
    match state.store().tenant_auth(&scope).await {
        Ok(db) => {
            if db.ban_covering(ip, now_millis()).await?.is_some() {
                return Err(ip_banned());
            }
            Ok(Some((tenant, db)))
        }
        // Being destroyed (or just gone): the session no longer exists.
        Err(citadel_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The principal of an active user, by the tenant's current policy, and
/// the user's login.
async fn principal_of(
    db: &TenantAuthDb,
    user: UserId,
    via: Credential,
    now: i64,
) -> Result<Option<(Principal, String)>, ApiError> {
    let Some(user) = db.find_user(user).await? else {
        return Ok(None);
    };
    Ok(principal_for(db, &user, via, now)
        .await?
        .map(|principal| (principal, user.login.as_str().to_owned())))
}

/// The principal of an account already read.
async fn principal_for(
    db: &TenantAuthDb,
    user: &UserRecord,
    via: Credential,
    now: i64,
) -> Result<Option<Principal>, ApiError> {
    if user.status != UserStatus::Active {
        return Ok(None);
    }
    db.check_roles(user).await?;
    let policy = db.security_policy().await?;
    Ok(Some(Principal::TenantUser {
        tenant: db.tenant(),
        user: user.id,
        duties: user.duties,
        pending: pending_for(user, &policy, now),
        via,
    }))
}

/// The principal behind a tenant session cookie, or `None` if the cookie
/// is not a live session. A suspended tenant answers `TenantSuspended`.
pub async fn authenticate_tenant(
    state: &AppState,
    cookie: &str,
    ip: IpAddr,
) -> Result<Option<TenantSession>, ApiError> {
    let Some((tenant_id, token)) = split_tenant_cookie(cookie) else {
        return Ok(None);
    };
    let Some((tenant, db)) = auth_db(state, tenant_id, ip).await? else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let Some(session) = db.find_session(&hash).await? else {
        return Ok(None);
    };
    let policy: SessionPolicy = state.settings().sessions;
    let now = now_millis();
    if !policy.is_live(session.created_at, session.last_seen_at, now) {
        db.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some((principal, login)) =
        principal_of(&db, session.owner, Credential::Session, now).await?
    else {
        return Ok(None);
    };
    if policy.needs_touch(session.last_seen_at, now) {
        db.touch_session(&hash, now).await?;
    }
    Ok(Some(TenantSession {
        principal,
        tenant,
        user: session.owner,
        login,
        proof: Proof::Session {
            token_hash: hash,
            csrf_token: csrf_token(token),
        },
        audit: db.audit().clone(),
    }))
}

/// The principal behind a personal access token, or `None` if it is not a
/// valid, unexpired token of an active user.
pub async fn authenticate_access_token(
    state: &AppState,
    presented: &str,
    ip: IpAddr,
) -> Result<Option<TenantSession>, ApiError> {
    let Some((tenant_id, token)) = split_access_token(presented) else {
        return Ok(None);
    };
    let Some((tenant, db)) = auth_db(state, tenant_id, ip).await? else {
        return Ok(None);
    };
    let Some((record, user)) = db.find_access_token_with_user(&token_hash(token)).await? else {
        return Ok(None);
    };
    let now = now_millis();
    if record.expires_at <= now {
        return Ok(None);
    }
    let Some(principal) = principal_for(&db, &user, Credential::AccessToken, now).await? else {
        return Ok(None);
    };
    if record
        .last_used_at
        .is_none_or(|used| now.saturating_sub(used) >= TOUCH_INTERVAL_MS)
    {
        db.touch_access_token(record.id, now).await?;
    }
    Ok(Some(TenantSession {
        principal,
        tenant,
        user: record.user,
        login: user.login.as_str().to_owned(),
        proof: Proof::AccessToken { id: record.id },
        audit: db.audit().clone(),
    }))
}

/// Ends the caller's session. An access token has no session to end.
pub async fn tenant_logout(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
) -> Result<(), ApiError> {
    let hash = session
        .session_hash()
        .ok_or(ApiError::Denied(citadel_core::Denied::SessionRequired))?;
    state
        .store()
        .tenant(scope)
        .await?
        .auth()
        .delete_session(hash)
        .await?;
    Ok(())
}

/// What adding an operator takes: who acts, from where, with their own
/// password, and the new operator's login and password.
pub struct NewOperatorInput {
    pub acting: OperatorId,
    pub ip: IpAddr,
    pub current_password: SecretString,
    pub login: LoginName,
    pub password: SecretString,
}

/// Adds an operator on a signed-in operator's behalf, once their own
/// password is confirmed (throttled per address as a sign-in is, so a
/// stolen session cannot guess it at leisure): the password policy, then
/// an argon2id hash, then the registry.
pub async fn add_operator(
    state: &AppState,
    scope: &PlatformScope,
    input: NewOperatorInput,
) -> Result<OperatorId, ApiError> {
    let NewOperatorInput {
        acting,
        ip,
        current_password,
        login,
        password: secret,
    } = input;
    crate::services::login::begin_attempt(state, "reauthentication", ip, now_millis())?;
    let stored = state.store().operator_password_hash(scope, acting).await;
    let confirmed = match stored {
        Ok(stored) => {
            state
                .passwords()
                .verify(current_password, stored, None)
                .await
        }
        Err(e) => Err(e.into()),
    };
    match confirmed {
        Ok(true) => state.forgive_login_failure(ip),
        Ok(false) => return Err(ApiError::InvalidCredentials),
        Err(e) => {
            // Storage or the hashing queue failed: not a guess.
            state.forgive_login_failure(ip);
            return Err(e);
        }
    }
    let operator = operator_to_make(state, login, secret).await?;
    let id = operator.id;
    state.store().create_operator(scope, operator).await?;
    Ok(id)
}

/// A new operator's record: the password policy, then an argon2id hash
/// (at bootstrap and when an operator adds one alike).
async fn operator_to_make(
    state: &AppState,
    login: LoginName,
    secret: SecretString,
) -> Result<NewOperator, ApiError> {
    password::check_policy(secret.expose(), login.as_str())
        .map_err(|e| ApiError::invalid_field("password", e))?;
    let password_hash = state.passwords().hash(secret, None).await?;
    Ok(NewOperator {
        id: OperatorId::generate(),
        login,
        password_hash,
    })
}

/// Exchanges the bootstrap token for the first platform operator.
pub async fn bootstrap_operator(
    state: &AppState,
    token: &str,
    login: LoginName,
    secret: SecretString,
) -> Result<OperatorId, ApiError> {
    let scope = authorize(
        &Principal::Anonymous,
        Action::BootstrapOperator,
        Resource::Platform,
    )?
    .into_operator_auth()
    .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))?;
    let refused = || ApiError::Refused {
        code: "bootstrap_refused",
        detail: "the bootstrap token is wrong or was used already".into(),
    };
    // Decide on the token before spending a password hash on the request.
    let presented = token_hash(token);
    if !state
        .store()
        .bootstrap_may_succeed(&scope, &presented)
        .await?
    {
        return Err(refused());
    }
    let operator = operator_to_make(state, login, secret).await?;
    let id = operator.id;
    match state
        .store()
        .bootstrap_operator(&scope, &presented, operator)
        .await?
    {
        BootstrapOutcome::Created => Ok(id),
        BootstrapOutcome::Refused => Err(refused()),
    }
}

/// Checks an operator's password and opens an operator session; returns
/// the cookie value.
pub async fn operator_login(
    state: &AppState,
    ip: std::net::IpAddr,
    login: &str,
    secret: SecretString,
) -> Result<SecretString, ApiError> {
    let now = now_millis();
    crate::services::login::begin_attempt(state, "operator", ip, now)?;
    let result = async {
        let scope = authorize(
            &Principal::Anonymous,
            Action::OperatorLogin,
            Resource::Platform,
        )?
        .into_operator_auth()
        .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))?;
        let operator = match LoginName::parse(login) {
            Ok(login) => state.store().find_operator_by_login(&scope, &login).await?,
            Err(_) => None,
        };
        let stored = operator.as_ref().map(|o| o.password_hash.clone());
        if !state.passwords().verify(secret, stored, None).await? {
            return Err(ApiError::InvalidCredentials);
        }
        let operator = operator.ok_or(ApiError::InvalidCredentials)?;
        let token = generate_token();
        state
            .store()
            .create_operator_session(&scope, &token_hash(token.expose()), operator.id)
            .await?;
        Ok(token)
    }
    .await;
    if !matches!(result, Err(ApiError::InvalidCredentials)) {
        state.forgive_login_failure(ip);
    }
    state.metrics().record_login(
        "operator",
        if result.is_ok() {
            "success"
        } else {
            "invalid_credentials"
        },
    );
    result
}

/// The operator behind an operator session cookie, if it is live.
pub async fn authenticate_operator(
    state: &AppState,
    token: &str,
) -> Result<Option<(OperatorId, [u8; 32])>, ApiError> {
    let Some(scope) = authorize(
        &Principal::Anonymous,
        Action::AuthenticateSession,
        Resource::Platform,
    )?
    .into_operator_auth() else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let Some(session) = state.store().find_operator_session(&scope, &hash).await? else {
        return Ok(None);
    };
    let policy = state.settings().sessions;
    let now = now_millis();
    if !policy.is_live(session.created_at, session.last_seen_at, now) {
        state.store().delete_operator_session(&scope, &hash).await?;
        return Ok(None);
    }
    if policy.needs_touch(session.last_seen_at, now) {
        state
            .store()
            .touch_operator_session(&scope, &hash, now)
            .await?;
    }
    Ok(Some((session.owner, hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_parse_strictly() {
        let id = TenantId::generate();
        let value = format!("{ACCESS_TOKEN_PREFIX}{}_abc", id.simple());
        assert_eq!(
            split_access_token(&value).map(|(t, k)| (t, k.to_owned())),
            Some((id, "abc".into()))
        );
        assert!(split_access_token("citadel_pat_nounderscore").is_none());
        assert!(split_access_token(&format!("other_{}_abc", id.simple())).is_none());
    }

    #[test]
    fn tenant_cookies_parse_strictly() {
        let id = TenantId::generate();
        let value = format!("{id}.abc");
        assert_eq!(
            split_tenant_cookie(&value).map(|(t, k)| (t, k.to_owned())),
            Some((id, "abc".into()))
        );
        assert!(split_tenant_cookie("nodot").is_none());
        assert!(split_tenant_cookie("not-a-uuid.abc").is_none());
    }
}
