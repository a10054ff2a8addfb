use thiserror::Error;

/// Why a value from outside was refused. Messages are safe to show to the
/// client: they describe the rule, never echo a secret.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    #[error("invalid tenant slug: {0}")]
    InvalidSlug(&'static str),
    #[error("invalid email address: {0}")]
    InvalidEmail(&'static str),
    #[error("invalid login name: {0}")]
    InvalidLoginName(&'static str),
    #[error("invalid id: {0}")]
    InvalidId(&'static str),
    #[error("password does not meet the policy: {0}")]
    WeakPassword(&'static str),
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    #[error("invalid network: {0}")]
    InvalidNetwork(&'static str),
    #[error("invalid policy: {0}")]
    InvalidPolicy(&'static str),
    #[error("invalid lifetime: {0}")]
    InvalidLifetime(&'static str),
    #[error("unknown value {value:?} for {what}")]
    UnknownValue { what: &'static str, value: String },
    #[error("filter: {reason} (at character {at})")]
    Filter { at: usize, reason: String },
    #[error("{field}: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
}
