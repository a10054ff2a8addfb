//! Creating a tenant with its first admin, for the API and the CLI.

use citadel_core::{CryptoSuite, Email, LoginName, PlatformScope, TenantSlug, UserId};
use citadel_crypto::SecretString;
use citadel_crypto::password::generate_one_time_password;
use citadel_store::{CreatedTenant, NewUser, Store};

use crate::error::ApiError;
use crate::services::passwords::PasswordWork;

/// Creates the tenant and its first admin, whose login is their email and
/// whose one-time password (returned once, never stored in clear) must be
/// changed at first sign-in.
pub async fn create_tenant(
    store: &Store,
    passwords: &PasswordWork,
    scope: &PlatformScope,
    slug: &TenantSlug,
    suite: CryptoSuite,
    admin_email: Email,
) -> Result<(CreatedTenant, SecretString), ApiError> {
    let login = LoginName::parse(admin_email.as_str())
        .map_err(|e| ApiError::invalid_field("admin_email", e))?;
    let one_time = generate_one_time_password();
    // Not peppered: the tenant and its keys do not exist yet. The first
    // sign-in re-hashes it with the pepper, then it must be changed.
    let password_hash = passwords.hash(one_time.clone(), None).await?;
    let admin = NewUser {
        display_name: None,
        department: None,
        id: UserId::generate(),
        login,
        email: admin_email,
        password_hash,
        must_change_password: true,
        // The tenant's first account must be able to set everything up,
        // so it holds all three duties (and cannot be disabled or lose a
        // duty by mistake) until they are handed to separate people.
        duties: citadel_core::Duties::ALL,
        protected: true,
    };
    let created = store.create_tenant(scope, slug, suite, &admin).await?;
    Ok((created, one_time))
}
