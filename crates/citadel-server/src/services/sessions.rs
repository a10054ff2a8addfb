//! Signing in and out, for tenant users and platform operators, and turning
//! a presented session back into a principal.

use citadel_core::session::SessionPolicy;
use citadel_core::{
    Action, LoginName, OperatorId, Principal, Resource, TenantId, TenantScope, TenantSlug, UserId,
    authorize, password,
};
use citadel_crypto::SecretString;
use citadel_crypto::token::{generate_token, token_hash};
use citadel_store::{BootstrapOutcome, NewOperator, TenantRecord, UserRecord, now_millis};

use crate::error::ApiError;
use crate::state::AppState;

/// A tenant user's live session.
pub struct TenantSession {
    pub principal: Principal,
    pub tenant: TenantRecord,
    pub user: UserId,
    pub token_hash: [u8; 32],
}

/// A signed-in tenant user, with the cookie value to hand back once.
pub struct TenantSignIn {
    pub cookie_value: SecretString,
    pub user: UserRecord,
    pub tenant: TenantRecord,
}

/// Splits `<tenant id>.<token>` (the tenant session cookie).
fn split_tenant_cookie(value: &str) -> Option<(TenantId, &str)> {
    let (tenant, token) = value.split_once('.')?;
    Some((TenantId::parse(tenant).ok()?, token))
}

/// Checks a tenant user's password and opens a session. Unknown tenant,
/// unknown login and wrong password give the same answer in the same time.
pub async fn tenant_login(
    state: &AppState,
    slug: &str,
    login: &str,
    secret: SecretString,
) -> Result<TenantSignIn, ApiError> {
    let outcome = tenant_login_inner(state, slug, login, secret).await;
    let label = match &outcome {
        Ok(_) => "success",
        Err(ApiError::Denied(citadel_core::Denied::TenantSuspended)) => "tenant_suspended",
        Err(ApiError::Refused { .. }) => "disabled",
        Err(ApiError::InvalidCredentials) => "invalid_credentials",
        Err(_) => "error",
    };
    state.metrics().record_login("tenant", label);
    outcome
}

async fn tenant_login_inner(
    state: &AppState,
    slug: &str,
    login: &str,
    secret: SecretString,
) -> Result<TenantSignIn, ApiError> {
    let (Ok(slug), Ok(login)) = (TenantSlug::parse(slug), LoginName::parse(login)) else {
        state.passwords().verify(secret, None).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let Some(tenant) = state.store().find_tenant_by_slug(&slug).await? else {
        state.passwords().verify(secret, None).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let resource = Resource::Tenant {
        id: tenant.id,
        status: tenant.status,
    };
    let scope = authorize(&Principal::Anonymous, Action::TenantLogin, resource)?
        .into_tenant_auth()
        .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))?;
    let db = state.store().tenant_auth(&scope).await?;
    let user = db.find_user_by_login(&login).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !state.passwords().verify(secret, stored).await? {
        return Err(ApiError::InvalidCredentials);
    }
    let user = user.ok_or(ApiError::InvalidCredentials)?;
    if user.status != "active" {
        return Err(ApiError::Refused {
            code: "account_disabled",
            detail: "this account is disabled".into(),
        });
    }
    let token = generate_token();
    db.create_session(&token_hash(token.expose()), user.id)
        .await?;
    let cookie_value = SecretString::new(format!("{}.{}", tenant.id, token.expose()));
    Ok(TenantSignIn {
        cookie_value,
        user,
        tenant,
    })
}

/// The principal behind a tenant session cookie, or `None` if the cookie
/// is not a live session. A suspended tenant answers `TenantSuspended`.
pub async fn authenticate_tenant(
    state: &AppState,
    cookie: &str,
) -> Result<Option<TenantSession>, ApiError> {
    let Some((tenant_id, token)) = split_tenant_cookie(cookie) else {
        return Ok(None);
    };
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
    let db = match state.store().tenant_auth(&scope).await {
        Ok(db) => db,
        // Being destroyed (or just gone): the session no longer exists.
        Err(citadel_store::StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
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
    let Some(user) = db.find_user(session.owner).await? else {
        return Ok(None);
    };
    if user.status != "active" {
        return Ok(None);
    }
    if policy.needs_touch(session.last_seen_at, now) {
        db.touch_session(&hash, now).await?;
    }
    Ok(Some(TenantSession {
        principal: Principal::TenantUser {
            tenant: tenant.id,
            user: user.id,
            admin: user.is_admin,
            pending: if user.must_change_password {
                citadel_core::Pending::PasswordChange
            } else {
                citadel_core::Pending::Nothing
            },
            via: citadel_core::Credential::Session,
        },
        tenant,
        user: user.id,
        token_hash: hash,
    }))
}

/// Changes the signed-in user's password after checking the current one
/// and the policy; ends the user's other sessions.
pub async fn change_password(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
    current: SecretString,
    new: SecretString,
) -> Result<(), ApiError> {
    let db = state.store().tenant(scope).await?;
    let user = db
        .find_user(session.user)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    password::check_policy(new.expose(), user.login.as_str())
        .map_err(|e| ApiError::invalid_field("new_password", e))?;
    if current.expose() == new.expose() {
        return Err(ApiError::bad_request(
            "password_reused",
            "the new password must differ from the current one",
        ));
    }
    if !state
        .passwords()
        .verify(current, Some(user.password_hash))
        .await?
    {
        return Err(ApiError::InvalidCredentials);
    }
    let hash = state.passwords().hash(new).await?;
    db.change_password(user.id, &hash, &session.token_hash)
        .await?;
    Ok(())
}

/// Ends a tenant session.
pub async fn tenant_logout(
    state: &AppState,
    scope: &TenantScope,
    session: &TenantSession,
) -> Result<(), ApiError> {
    state
        .store()
        .tenant(scope)
        .await?
        .delete_session(&session.token_hash)
        .await?;
    Ok(())
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
    password::check_policy(secret.expose(), login.as_str())
        .map_err(|e| ApiError::invalid_field("password", e))?;
    let id = OperatorId::generate();
    let password_hash = state.passwords().hash(secret).await?;
    let operator = NewOperator {
        id,
        login,
        password_hash,
    };
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
    login: &str,
    secret: SecretString,
) -> Result<SecretString, ApiError> {
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
        if !state.passwords().verify(secret, stored).await? {
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
