//! Citadel's domain model. Pure: no I/O, no async.
//!
//! Values that come from outside are parsed into newtypes here (`TenantSlug`,
//! `Email`, `LoginName`) so the rest of the code never handles an unchecked
//! string, and every operation is decided by [`authz::authorize`].

pub mod access;
pub mod alerts;
pub mod authz;
pub mod data;
pub mod department;
pub mod error;
pub mod filter;
pub mod identity;
pub mod ids;
pub mod network;
pub mod password;
pub mod security;
pub mod session;
pub mod tenant;
pub mod throttle;
pub mod user;

pub use authz::{
    Action, Allowed, Credential, Denied, Duties, OperatorAuthScope, Pending, PlatformScope,
    Principal, Resource, TenantAuthScope, TenantScope, authorize,
};
pub use error::CoreError;
pub use identity::{AccountState, DisplayName, UserStatus};
pub use ids::{
    AppId, DepartmentId, EntryId, FieldId, GroupId, OperatorId, RecordId, SessionId, TableId,
    TenantId, TokenId, UserId, ViewId,
};
pub use network::IpPrefix;
pub use security::{SecurityPolicy, TotpRequirement};
pub use tenant::{CryptoSuite, TenantSlug, TenantStatus};
pub use user::{Email, LoginName};
