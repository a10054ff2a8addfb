//! The server's one error type, mapped once to RFC 9457 problem details.
//! Internals (SQL, file paths, causes) are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citadel_core::{CoreError, Denied};
use citadel_store::StoreError;
use serde::Serialize;
use thiserror::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Error)]
pub enum ApiError {
    /// The request is malformed or a value breaks a rule; names the field.
    #[error("{detail}")]
    BadRequest {
        code: &'static str,
        detail: String,
        field: Option<String>,
    },
    /// The record changed since the version the caller names in If-Match.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("the login, tenant or password is wrong")]
    InvalidCredentials,
    #[error("{0:?}")]
    Denied(Denied),
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("storage is unavailable")]
    Unavailable(#[source] StoreError),
    /// Too many sign-ins are waiting for password hashing.
    #[error("the server is busy")]
    Busy,
    /// The password was right; the account has a second factor and no
    /// code (or a wrong one) was given.
    #[error("a TOTP code or a recovery code is required")]
    SecondFactorRequired,
    /// The TOTP code is wrong or was used already, or the recovery code is
    /// unknown or used.
    #[error("the TOTP code or recovery code is wrong or was used already")]
    InvalidSecondFactor,
    /// Too many failed sign-ins from the caller's address.
    #[error("too many failed sign-ins from this address")]
    TooManyAttempts { retry_after_secs: u64 },
    /// An unsafe method authenticated by cookie without the session's
    /// anti-CSRF token.
    #[error("missing or wrong X-CSRF-Token header")]
    CsrfRejected,
    /// Stored data failed its integrity check: an encrypted value that
    /// does not open, access-control data changed beside the server. The
    /// detail names what (ids, never values); a security event is recorded.
    #[error("stored data failed its integrity check: {0}")]
    IntegrityFailure(String),
    /// The audit trail could not record a recent action: changes are
    /// refused until it can (fail closed).
    #[error("the audit log cannot record actions now")]
    AuditUnavailable,
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// A domain rule broken by the value of `field`.
    pub fn invalid_field(field: &'static str, e: CoreError) -> Self {
        Self::BadRequest {
            code: "invalid_field",
            detail: format!("{field}: {e}"),
            field: Some(field.into()),
        }
    }

    /// A rule broken by input, naming the field when the rule is about one.
    pub fn from_core(e: CoreError) -> Self {
        match e {
            CoreError::InvalidField { field, reason } => Self::BadRequest {
                code: "invalid_field",
                detail: format!("{field}: {reason}"),
                field: Some(field),
            },
            other => Self::BadRequest {
                code: "invalid_input",
                detail: other.to_string(),
                field: None,
            },
        }
    }

    /// The same error about an item of a batch: `records[3].金额`.
    pub fn in_item(self, item: usize) -> Self {
        match self {
            Self::BadRequest {
                code,
                detail,
                field,
            } => Self::BadRequest {
                code,
                detail: format!("records[{item}].{detail}"),
                field: Some(format!(
                    "records[{item}]{}",
                    field.map(|f| format!(".{f}")).unwrap_or_default()
                )),
            },
            other => other,
        }
    }

    pub(crate) fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Option<String>,
    ) {
        use StatusCode as S;
        match self {
            Self::BadRequest {
                code,
                detail,
                field,
            } => (
                S::BAD_REQUEST,
                code,
                "Bad request",
                detail.clone(),
                field.clone(),
            ),
            Self::PreconditionFailed(detail) => (
                S::PRECONDITION_FAILED,
                "version_mismatch",
                "Precondition failed",
                detail.clone(),
                None,
            ),
            Self::Unauthenticated => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                self.to_string(),
                None,
            ),
            Self::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "Sign-in failed",
                self.to_string(),
                None,
            ),
            Self::Denied(Denied::Unauthenticated) => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "authentication required".into(),
                None,
            ),
            Self::Denied(Denied::Forbidden) => (
                S::FORBIDDEN,
                "forbidden",
                "Forbidden",
                "you are not allowed to do this".into(),
                None,
            ),
            Self::Denied(Denied::TenantSuspended) => (
                S::FORBIDDEN,
                "tenant_suspended",
                "Tenant suspended",
                "this tenant is suspended; contact the platform operator".into(),
                None,
            ),
            Self::Denied(Denied::PasswordChangeRequired) => (
                S::FORBIDDEN,
                "password_change_required",
                "Password change required",
                "change your password first (POST /api/v1/auth/password)".into(),
                None,
            ),
            Self::Denied(Denied::TotpEnrolmentRequired) => (
                S::FORBIDDEN,
                "totp_enrolment_required",
                "Second factor required",
                "this tenant requires two-factor sign-in: enrol an authenticator first \
                 (POST /api/v1/me/totp)"
                    .into(),
                None,
            ),
            Self::Denied(Denied::SessionRequired) => (
                S::FORBIDDEN,
                "session_required",
                "Session required",
                "a personal access token cannot manage credentials; sign in".into(),
                None,
            ),
            Self::SecondFactorRequired => (
                S::UNAUTHORIZED,
                "second_factor_required",
                "Second factor required",
                self.to_string(),
                None,
            ),
            Self::InvalidSecondFactor => (
                S::UNAUTHORIZED,
                "invalid_second_factor",
                "Sign-in failed",
                self.to_string(),
                None,
            ),
            Self::TooManyAttempts { .. } => (
                S::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many attempts",
                "too many failed sign-ins from this address; try again later".into(),
                None,
            ),
            Self::CsrfRejected => (
                S::FORBIDDEN,
                "csrf_rejected",
                "CSRF check failed",
                "send the session's csrf_token in the X-CSRF-Token header".into(),
                None,
            ),
            Self::Refused { code, detail } => (S::FORBIDDEN, code, "Refused", detail.clone(), None),
            Self::NotFound(what) => (
                S::NOT_FOUND,
                "not_found",
                "Not found",
                format!("{what} not found"),
                None,
            ),
            Self::Conflict(detail) => (S::CONFLICT, "conflict", "Conflict", detail.clone(), None),
            Self::PayloadTooLarge { .. } => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                self.to_string(),
                None,
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                self.to_string(),
                None,
            ),
            Self::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "Service unavailable",
                "storage is unavailable; try again later".into(),
                None,
            ),
            Self::AuditUnavailable => (
                S::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                "Service unavailable",
                "the audit log cannot record this action now; nothing is done without its record"
                    .into(),
                None,
            ),
            Self::Busy => (
                S::SERVICE_UNAVAILABLE,
                "busy",
                "Service busy",
                "too many sign-ins are in progress; try again shortly".into(),
                None,
            ),
            Self::IntegrityFailure(detail) => (
                S::INTERNAL_SERVER_ERROR,
                "integrity_failure",
                "Stored data failed its integrity check",
                detail.clone(),
                None,
            ),
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an internal error occurred".into(),
                None,
            ),
        }
    }
}

/// A problem+json response for a status and code, for the places outside
/// handlers (fallbacks, panics, timeouts, bare framework errors).
pub fn problem_response(status: StatusCode, code: &str, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(status, code, title, detail.to_owned(), None)
}

fn render(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: String,
    field: Option<&str>,
) -> Response {
    let body = Problem {
        kind: format!("urn:citadel:problem:{code}"),
        title,
        status: status.as_u16(),
        detail,
        code,
        field,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title, detail, field) = self.parts();
        match &self {
            Self::Unavailable(e) => tracing::error!(error = %e, "storage unavailable"),
            Self::Internal(e) => tracing::error!(error = %e, "internal error"),
            Self::IntegrityFailure(e) => tracing::error!(error = %e, "integrity failure"),
            _ => tracing::debug!(code, "request refused"),
        }
        let mut response = render(status, code, title, detail, field.as_deref());
        if matches!(self, Self::IntegrityFailure(_)) {
            // For the audit layer: an integrity failure raises an alert.
            response
                .extensions_mut()
                .insert(crate::audit::IntegrityFailed);
        }
        let retry_after = match self {
            Self::Busy => Some(1),
            Self::TooManyAttempts { retry_after_secs } => Some(retry_after_secs.max(1)),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(detail) => Self::Conflict(detail),
            StoreError::Invalid(e) => Self::from_core(e),
            StoreError::VersionMismatch { .. } => Self::PreconditionFailed(e.to_string()),
            StoreError::Database(_) | StoreError::Inline(_) | StoreError::Io { .. } => {
                Self::Unavailable(e)
            }
            StoreError::SealBroken { .. } | StoreError::Tampered(_) => {
                Self::IntegrityFailure(e.to_string())
            }
            StoreError::Audit(
                ref a @ (citadel_audit::AuditError::NoSuchLeaf { .. }
                | citadel_audit::AuditError::NotAPrefix { .. }),
            ) => Self::bad_request("no_such_tree", a.to_string()),
            StoreError::Audit(a) => Self::IntegrityFailure(a.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        Self::Denied(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_says_when_to_retry() {
        let response = ApiError::Busy.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(PROBLEM_JSON)
        );
    }
}
