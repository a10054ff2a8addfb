//! Citadel's domain model. Pure: no I/O, no async.
//!
//! Values that come from outside are parsed into newtypes here (`TenantSlug`,
//! `Email`, `LoginName`) so the rest of the code never handles an unchecked
//! string, and every operation is decided by [`authz::authorize`].

pub mod authz;
pub mod error;
pub mod ids;
pub mod password;
pub mod session;
pub mod tenant;
pub mod user;

pub use authz::{
    Action, Allowed, Denied, OperatorAuthScope, PlatformScope, Principal, Resource,
    TenantAuthScope, TenantScope, authorize,
};
pub use error::CoreError;
pub use ids::{OperatorId, TenantId, UserId};
pub use tenant::{CryptoSuite, TenantSlug, TenantStatus};
pub use user::{Email, LoginName};
