//! A tenant user's sign-in: the IP throttle and bans, the password, the
//! lockout, the second factor, the sign-in log and the unusual-network
//! alert, then a session.
//!
//! Every failure that could tell whether an account exists (unknown
//! tenant, unknown login, wrong password, locked account) gives the same
//! 401 after the same argon2 work.

use citadel_core::{
    Action, IpPrefix, LoginName, Principal, Resource, SecurityPolicy, TenantSlug, UserStatus,
    authorize,
};
use citadel_crypto::password::needs_rehash;
use citadel_crypto::token::{csrf_token, generate_token, token_hash};
use citadel_crypto::{SecretString, totp};
use citadel_store::{ClientInfo, TenantAuthDb, TenantRecord, UserRecord, now_millis};
use serde_json::json;

use crate::audit::AuditNote;
use crate::error::ApiError;
use crate::services::sessions::{ip_banned, pending_for};
use crate::state::AppState;

/// What a sign-in presents.
pub struct LoginInput {
    pub tenant: String,
    pub login: String,
    pub password: SecretString,
    pub totp_code: Option<String>,
    pub recovery_code: Option<SecretString>,
}

/// A signed-in tenant user, with the cookie value and the anti-CSRF token
/// to hand back once.
pub struct TenantSignIn {
    pub cookie_value: SecretString,
    pub csrf_token: String,
    pub user: UserRecord,
    pub tenant: TenantRecord,
    pub pending: citadel_core::Pending,
}

pub async fn tenant_login(
    state: &AppState,
    client: &ClientInfo,
    note: &AuditNote,
    input: LoginInput,
) -> Result<TenantSignIn, ApiError> {
    let now = now_millis();
    begin_attempt(state, "tenant", client.ip, now)?;
    let outcome = sign_in(state, client, note, input, now).await;
    // Wrong credentials, and attempts from a banned network, keep counting.
    let failed = match &outcome {
        Err(ApiError::InvalidCredentials | ApiError::InvalidSecondFactor) => true,
        Err(ApiError::Refused { code, .. }) => *code == "ip_banned",
        _ => false,
    };
    if !failed {
        state.forgive_login_failure(client.ip);
    }
    let label = match &outcome {
        Ok(_) => "success",
        Err(ApiError::Denied(citadel_core::Denied::TenantSuspended)) => "tenant_suspended",
        Err(ApiError::Refused { code, .. }) if *code == "ip_banned" => "ip_banned",
        Err(ApiError::Refused { .. }) => "disabled",
        Err(ApiError::InvalidCredentials) => "invalid_credentials",
        Err(ApiError::SecondFactorRequired) => "second_factor_required",
        Err(ApiError::InvalidSecondFactor) => "invalid_second_factor",
        Err(_) => "error",
    };
    state.metrics().record_login("tenant", label);
    // The reason class only: which check failed, never what was typed.
    note.detail("reason", label);
    outcome
}

/// Starts a sign-in attempt from `ip` (tenant and operator sign-ins share
/// the count): 429 if the address failed too often. The attempt counts as a
/// failure until the caller forgives it.
pub fn begin_attempt(
    state: &AppState,
    kind: &'static str,
    ip: std::net::IpAddr,
    now: i64,
) -> Result<(), ApiError> {
    state.begin_login_attempt(ip, now).map_err(|wait_ms| {
        state.metrics().record_login(kind, "throttled");
        ApiError::TooManyAttempts {
            retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
        }
    })
}

async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    note: &AuditNote,
    input: LoginInput,
    now: i64,
) -> Result<TenantSignIn, ApiError> {
    let LoginInput {
        tenant,
        login,
        password,
        totp_code,
        recovery_code,
    } = input;
    let (Ok(slug), Ok(login_name)) = (TenantSlug::parse(&tenant), LoginName::parse(&login)) else {
        state.passwords().verify(password, None, None).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let Some(tenant) = state.store().find_tenant_by_slug(&slug).await? else {
        state.passwords().verify(password, None, None).await?;
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
    // An attempt on a known tenant goes to its trail, with the login
    // tried (an account name, not a secret).
    note.trail(db.audit());
    note.detail("login", login.as_str());
    if db.ban_covering(client.ip, now).await?.is_some() {
        db.record_attempt(client, &login, None, "ip_banned").await?;
        return Err(ip_banned());
    }
    let policy = db.security_policy().await?;
    let user = db.find_user_by_login(&login_name).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let keyring = db.keyring().await?;
    // Keep the password for re-hashing only when the stored hash is outdated
    // (older parameters, or made before the tenant's pepper).
    let rehash = stored
        .as_deref()
        .filter(|h| needs_rehash(h, Some(keyring.pepper_key())))
        .map(|_| SecretString::new(password.expose().to_owned()));
    let password_ok = state
        .passwords()
        .verify(password, stored, Some(std::sync::Arc::clone(&keyring)))
        .await?;
    let Some(user) = user else {
        db.record_attempt(client, &login, None, "unknown_login")
            .await?;
        return Err(ApiError::InvalidCredentials);
    };
    note.actor(db.audit(), user.id, Some(user.login.as_str()));
    // Read afresh, after the hashing: concurrent failures may have locked
    // the account meanwhile, and a guess checked after the lock must learn
    // nothing (not even "right, now the code"). Disabled accounts lock too.
    if db.is_locked(user.id, now_millis()).await? {
        db.record_attempt(client, &login, Some(user.id), "locked")
            .await?;
        return Err(ApiError::InvalidCredentials);
    }
    if !password_ok {
        db.record_attempt(client, &login, Some(user.id), "wrong_password")
            .await?;
        count_failure(&db, &user, &policy, client, now).await?;
        return Err(ApiError::InvalidCredentials);
    }
    if user.status == UserStatus::Disabled {
        db.record_attempt(client, &login, Some(user.id), "disabled")
            .await?;
        return Err(ApiError::Refused {
            code: "account_disabled",
            detail: "this account is disabled".into(),
        });
    }
    let factor = second_factor(&db, &user, totp_code, recovery_code, now).await?;
    match factor {
        SecondFactor::Missing => {
            db.record_attempt(client, &login, Some(user.id), "second_factor_required")
                .await?;
            return Err(ApiError::SecondFactorRequired);
        }
        SecondFactor::Wrong => {
            db.record_attempt(client, &login, Some(user.id), "wrong_second_factor")
                .await?;
            count_failure(&db, &user, &policy, client, now).await?;
            return Err(ApiError::InvalidSecondFactor);
        }
        SecondFactor::RecoveryCode => {
            db.security_event(
                "recovery_code_used",
                Some(user.id),
                Some(client.ip),
                &json!({ "login": user.login.as_str() }),
            )
            .await?;
            db.notify(
                user.id,
                "recovery_code_used",
                "A recovery code was used",
                &format!(
                    "Someone signed in to your account with a recovery code from {}. \
                     If it was not you, change your password and tell your administrator.",
                    client.ip
                ),
            )
            .await?;
        }
        SecondFactor::NotEnrolled | SecondFactor::Code => {}
    }
    // The lock read above may be older than this attempt's hashing: a
    // lock set by concurrent failures meanwhile still holds.
    if !db.admit(user.id, now).await? {
        db.record_attempt(client, &login, Some(user.id), "locked")
            .await?;
        return Err(ApiError::InvalidCredentials);
    }
    // Best effort: the sign-in has used up its code by now and must not
    // fail because the hashing queue is full.
    if let Some(password) = rehash {
        match state.passwords().hash(password, Some(keyring)).await {
            Ok(new_hash) => {
                db.upgrade_password_hash(user.id, &user.password_hash, &new_hash)
                    .await?;
            }
            Err(e) => tracing::warn!(error = %e, "password re-hash postponed"),
        }
    }
    alert_if_unusual(&db, &user, client).await?;
    let token = generate_token();
    db.create_session(&token_hash(token.expose()), user.id, client)
        .await?;
    let outcome = if factor == SecondFactor::RecoveryCode {
        "success_recovery_code"
    } else {
        "success"
    };
    db.record_attempt(client, &login, Some(user.id), outcome)
        .await?;
    Ok(TenantSignIn {
        cookie_value: SecretString::new(format!("{}.{}", tenant.id, token.expose())),
        csrf_token: csrf_token(token.expose()),
        pending: pending_for(&user, &policy, now),
        user,
        tenant,
    })
}

/// Counts a failed password or code; on reaching the threshold the account
/// locks, which is a security event the user is told about.
pub(crate) async fn count_failure(
    db: &TenantAuthDb,
    user: &UserRecord,
    policy: &SecurityPolicy,
    client: &ClientInfo,
    now: i64,
) -> Result<(), ApiError> {
    let Some(until) = db.note_failure(user.id, policy, now).await? else {
        return Ok(());
    };
    db.security_event(
        "account_locked",
        Some(user.id),
        Some(client.ip),
        &json!({ "login": user.login.as_str(), "locked_until": until,
                 "failures": policy.max_failed_logins }),
    )
    .await?;
    db.notify(
        user.id,
        "account_locked",
        "Your account was locked",
        &format!(
            "After {} failed sign-ins (the last from {}) your account is locked for {} minutes.",
            policy.max_failed_logins, client.ip, policy.lockout_minutes
        ),
    )
    .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecondFactor {
    NotEnrolled,
    Missing,
    Wrong,
    Code,
    RecoveryCode,
}

/// Checks the TOTP code (each time step once) or uses up a recovery code.
async fn second_factor(
    db: &TenantAuthDb,
    user: &UserRecord,
    code: Option<String>,
    recovery_code: Option<SecretString>,
    now: i64,
) -> Result<SecondFactor, ApiError> {
    if !user.totp_enabled {
        return Ok(SecondFactor::NotEnrolled);
    }
    if let Some(code) = code {
        let Some(secret) = db.totp_secret(user.id).await? else {
            return Ok(SecondFactor::Wrong);
        };
        let unix_seconds = u64::try_from(now / 1000).unwrap_or(0);
        let Some(step) = totp::verify(&secret, code.trim(), unix_seconds) else {
            return Ok(SecondFactor::Wrong);
        };
        return Ok(if db.accept_totp_step(user.id, step).await? {
            SecondFactor::Code
        } else {
            SecondFactor::Wrong
        });
    }
    if let Some(typed) = recovery_code {
        let Some(code) = totp::normalize_recovery_code(typed.expose()) else {
            return Ok(SecondFactor::Wrong);
        };
        return Ok(
            if db
                .use_recovery_code(user.id, &token_hash(code.expose()))
                .await?
            {
                SecondFactor::RecoveryCode
            } else {
                SecondFactor::Wrong
            },
        );
    }
    Ok(SecondFactor::Missing)
}

/// A sign-in from a network the user has not used before (when they have
/// used others) is a security event and a notification to the user.
async fn alert_if_unusual(
    db: &TenantAuthDb,
    user: &UserRecord,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let prefix = IpPrefix::usual_for(client.ip);
    if !db.observe_network(user.id, &prefix).await? {
        return Ok(());
    }
    db.security_event(
        "unusual_login",
        Some(user.id),
        Some(client.ip),
        &json!({ "login": user.login.as_str(), "network": prefix.to_string(),
                 "user_agent": client.user_agent.chars().take(256).collect::<String>() }),
    )
    .await?;
    db.notify(
        user.id,
        "unusual_login",
        "Sign-in from a new network",
        &format!(
            "Your account was signed in to from {} (network {}), which you have not used \
             before. If it was not you, change your password and revoke the session.",
            client.ip, prefix
        ),
    )
    .await?;
    Ok(())
}
