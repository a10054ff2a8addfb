//! Helpers shared by the store's integration tests.

#![allow(dead_code)]

use citadel_core::{
    Action, Email, LoginName, PlatformScope, Principal, Resource, TenantId, TenantScope,
    TenantSlug, TenantStatus, UserId, authorize,
};
use citadel_store::{NewUser, StoreConfig};

pub fn platform() -> PlatformScope {
    authorize(
        &Principal::LocalAdministrator,
        Action::ManageTenants,
        Resource::Platform,
    )
    .ok()
    .and_then(|a| a.into_platform())
    .expect("local administrator manages tenants")
}

pub fn scope(tenant: TenantId) -> TenantScope {
    let user = Principal::TenantUser {
        tenant,
        user: UserId::generate(),
        admin: true,
        pending: citadel_core::Pending::Nothing,
        via: citadel_core::Credential::Session,
    };
    authorize(
        &user,
        Action::TenantSelf,
        Resource::Tenant {
            id: tenant,
            status: TenantStatus::Active,
        },
    )
    .ok()
    .and_then(|a| a.into_tenant())
    .expect("a user reaches their own tenant")
}

pub fn admin(email: &str) -> NewUser {
    let email = Email::parse(email).expect("email");
    NewUser {
        id: UserId::generate(),
        login: LoginName::from(&email),
        email,
        display_name: None,
        department: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        must_change_password: true,
        is_admin: true,
    }
}

pub fn sqlite_config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: None,
        max_open_tenants: 8,
    }
}

pub fn postgres_config(dir: &tempfile::TempDir, db: &citadel_testkit::TestDatabase) -> StoreConfig {
    StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: Some(db.url.clone()),
        max_open_tenants: 8,
    }
}

pub fn slug(s: &str) -> TenantSlug {
    TenantSlug::parse(s).expect("slug")
}

pub fn client() -> citadel_store::ClientInfo {
    citadel_store::ClientInfo {
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
        user_agent: "store-tests".into(),
    }
}
