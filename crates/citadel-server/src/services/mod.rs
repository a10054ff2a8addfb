//! The operations the API and the CLI share. Each takes the scope value an
//! allow decision produced; the rules themselves live in `citadel-core`.

pub mod access;
pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod credentials;
pub mod data;
pub mod groups;
pub mod login;
pub mod maintenance;
pub mod passwords;
pub mod sessions;
pub mod support;
pub mod tenants;
pub mod transfer;
