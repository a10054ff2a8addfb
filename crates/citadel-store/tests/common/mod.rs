//! Helpers shared by the store's integration tests.

#![allow(dead_code)]

use citadel_core::{
    Action, Email, LoginName, PlatformScope, Principal, Resource, TenantId, TenantScope,
    TenantSlug, TenantStatus, UserId, authorize,
};
use citadel_core::{CryptoSuite, DisplayName};
use citadel_store::{NewUser, Store, StoreConfig, StoreError, TenantDb, UserRecord};

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
        duties: citadel_core::Duties::ALL,
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
        duties: citadel_core::Duties::ALL,
        protected: true,
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

/// Runs `$body` with `$p` bound to the tenant's raw pool, whichever backend.
#[macro_export]
macro_rules! on_raw {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db.raw_pool_for_isolation_tests() {
            citadel_store::DbPool::Sqlite($p, _) => $body,
            citadel_store::DbPool::Postgres($p) => $body,
        }
    };
}

/// A fresh tenant `<name>` with its first admin `root@<name>.cn`.
pub async fn fresh_tenant(store: &Store, name: &str) -> (TenantDb, UserId) {
    let first = admin(&format!("root@{name}.cn"));
    let created = store
        .create_tenant(&platform(), &slug(name), CryptoSuite::Intl, &first)
        .await
        .expect("create tenant");
    let db = store
        .tenant(&scope(created.tenant.id))
        .await
        .expect("open tenant");
    (db, first.id)
}

pub fn name(s: &str) -> DisplayName {
    DisplayName::parse(s).expect("display name")
}

pub async fn user(db: &TenantDb, id: UserId) -> UserRecord {
    db.find_user(id).await.expect("find user").expect("user")
}

#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
}

/// Lets the millisecond clock move on, so stored times are distinct.
pub async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}

pub fn master_key() -> std::sync::Arc<citadel_crypto::LocalKms> {
    std::sync::Arc::new(citadel_crypto::LocalKms::generate())
}

/// A tenant administrator's decision on `Op` for `table`, against the
/// tenant's stored groups: every row and every field.
pub async fn full<Op: citadel_core::access::TableOperation>(
    db: &TenantDb,
    table: &citadel_core::data::TableSchema,
) -> citadel_core::access::TableAccess<Op> {
    let admin = Principal::TenantUser {
        tenant: db.tenant(),
        user: UserId::generate(),
        duties: citadel_core::Duties::ALL,
        pending: citadel_core::Pending::Nothing,
        via: citadel_core::Credential::Session,
    };
    let model = db.access_model().await.expect("access model");
    citadel_core::access::authorize_table::<Op>(
        &admin,
        citadel_core::access::TenantResource {
            id: db.tenant(),
            status: TenantStatus::Active,
        },
        &model,
        table.clone(),
        citadel_core::access::Now {
            at: chrono::Utc::now(),
            offset: chrono::FixedOffset::east_opt(8 * 3600).expect("offset"),
        },
    )
    .expect("administrators may do everything")
}

/// The same for reading.
pub async fn read(
    db: &TenantDb,
    table: &citadel_core::data::TableSchema,
) -> citadel_core::access::TableAccess<citadel_core::access::ops::Read> {
    full(db, table).await
}
