//! Authentication extractors: a presented cookie becomes a principal here,
//! and handlers turn a principal into a scope only through
//! [`citadel_core::authorize`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use citadel_core::{
    Action, OperatorAuthScope, OperatorId, PlatformScope, Principal, Resource, TenantScope,
    authorize,
};

use citadel_crypto::token::{csrf_token, hashes_equal};

use crate::audit::AuditNote;
use crate::client::peer_ip;
use crate::error::ApiError;
use crate::services::sessions::{self, Proof, TenantSession};
use crate::state::AppState;

pub const TENANT_COOKIE: &str = "citadel_session";
pub const OPERATOR_COOKIE: &str = "citadel_operator";

/// The value of cookie `name`, if the request carries exactly one.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    // Two cookies of one name mean someone planted one: trust neither.
    found.next().is_none().then_some(first)
}

/// A `Set-Cookie` value for a session: never readable by scripts, never
/// sent over plain HTTP or from another site.
pub fn session_cookie(name: &str, value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict"
    ))
    .map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The anti-CSRF token of the operator session the request carries, for
/// pages whose scripts make changes in it.
pub fn operator_csrf(headers: &HeaderMap) -> Option<String> {
    cookie(headers, OPERATOR_COOKIE).map(csrf_token)
}

/// Safe methods read; every other method changes something and, when
/// authenticated by a cookie, must carry the session's anti-CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Refuses an unsafe request whose `X-CSRF-Token` is not `expected`.
fn check_csrf(parts: &Parts, expected: &str) -> Result<(), ApiError> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let presented = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !expected.is_empty() && hashes_equal(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::CsrfRejected)
    }
}

/// The token of an `Authorization: Bearer` header, if there is one. A
/// header of another scheme is refused rather than ignored.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Some(t.trim()))
        .ok_or(ApiError::Unauthenticated)
}

/// A tenant user with a live session or a valid personal access token;
/// extraction answers 401 otherwise (403 for a failed CSRF check), before
/// any body is read. Pages clone it to read through several API handlers.
#[derive(Clone)]
pub struct TenantCaller(pub Option<TenantSession>);

impl TenantCaller {
    pub fn principal(&self) -> Principal {
        self.0
            .as_ref()
            .map_or(Principal::Anonymous, |s| s.principal.clone())
    }

    /// The caller's session or token; 401 without one.
    pub fn session(&self) -> Result<&TenantSession, ApiError> {
        self.0.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// Decides `action` on the caller's own tenant at the choke point.
    pub fn authorize(&self, action: Action) -> Result<(TenantScope, &TenantSession), ApiError> {
        let session = self.0.as_ref().ok_or(ApiError::Unauthenticated)?;
        let resource = Resource::Tenant {
            id: session.tenant.id,
            status: session.tenant.status,
        };
        let scope = authorize(&session.principal, action, resource)?
            .into_tenant()
            .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))?;
        Ok((scope, session))
    }
}

impl FromRequestParts<AppState> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = peer_ip(parts);
        let session = if let Some(token) = bearer(parts)? {
            sessions::authenticate_access_token(state, token, ip).await?
        } else if let Some(value) = cookie(&parts.headers, TENANT_COOKIE) {
            let session = sessions::authenticate_tenant(state, value, ip).await?;
            if let Some(Proof::Session { csrf_token, .. }) = session.as_ref().map(|s| &s.proof) {
                check_csrf(parts, csrf_token)?;
            }
            session
        } else {
            None
        };
        let session = session.ok_or(ApiError::Unauthenticated)?;
        // Fail closed before acting: a change the trail could not record
        // is refused rather than made.
        if !parts.method.is_safe() && session.audit.recently_failed() {
            return Err(ApiError::AuditUnavailable);
        }
        AuditNote::of(parts).actor(&session.audit, session.user, Some(&session.login));
        let span = tracing::Span::current();
        span.record("tenant", tracing::field::display(session.tenant.id));
        span.record("user", tracing::field::display(session.user));
        Ok(Self(Some(session)))
    }
}

/// A platform operator with a live session; extraction answers 401
/// otherwise (403 for a failed CSRF check), before any body is read.
#[derive(Clone)]
pub struct OperatorCaller(pub Option<(OperatorId, [u8; 32])>);

impl OperatorCaller {
    pub fn principal(&self) -> Principal {
        self.0
            .map_or(Principal::Anonymous, |(id, _)| Principal::Operator { id })
    }

    /// Decides a tenant-registry action at the choke point.
    pub fn authorize(&self, action: Action) -> Result<PlatformScope, ApiError> {
        authorize(&self.principal(), action, Resource::Platform)?
            .into_platform()
            .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))
    }

    /// The operator, for support access: they must be signed in, and their
    /// grant is looked up with the scope this gives.
    pub fn support(&self) -> Result<(OperatorAuthScope, OperatorId), ApiError> {
        let scope = self.authorize_self(Action::OperatorSelf)?;
        let (id, _) = self.0.ok_or(ApiError::Unauthenticated)?;
        Ok((scope, id))
    }

    /// Decides an action on the operator's own account or session.
    pub fn authorize_self(&self, action: Action) -> Result<OperatorAuthScope, ApiError> {
        authorize(&self.principal(), action, Resource::Platform)?
            .into_operator_auth()
            .ok_or(ApiError::Denied(citadel_core::Denied::Forbidden))
    }
}

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = cookie(&parts.headers, OPERATOR_COOKIE).ok_or(ApiError::Unauthenticated)?;
        let session = sessions::authenticate_operator(state, value)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        check_csrf(parts, &csrf_token(value))?;
        let trail = state.store().platform_audit();
        if !parts.method.is_safe() && trail.recently_failed() {
            return Err(ApiError::AuditUnavailable);
        }
        AuditNote::of(parts).actor(trail, session.0, None);
        tracing::Span::current().record("operator", tracing::field::display(session.0));
        Ok(Self(Some(session)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_once_or_not_at_all() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; citadel_session=x.y; b=2"),
        );
        assert_eq!(cookie(&h, TENANT_COOKIE), Some("x.y"));
        assert_eq!(cookie(&h, OPERATOR_COOKIE), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("citadel_session=evil"),
        );
        assert_eq!(cookie(&h, TENANT_COOKIE), None, "duplicates are refused");
    }

    #[test]
    fn session_cookies_are_locked_down() {
        let c = session_cookie(TENANT_COOKIE, "v").expect("cookie");
        let c = c.to_str().expect("ascii");
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
