//! Master-key rotation on SQLite and PostgreSQL: after it the store opens
//! only with the new key, every tenant's keys and TOTP seeds still open
//! (nothing of the tenant's data was rewritten), the PostgreSQL tenant
//! still logs in with its re-sealed role password, and the old key is
//! refused.

mod common;

use std::sync::Arc;

use citadel_core::CryptoSuite;
use citadel_crypto::{Kms, LocalKms, SecretBytes};
use citadel_store::{Store, StoreConfig, StoreError};
use common::{admin, platform, postgres_config, scope, slug, sqlite_config};

async fn story(config: StoreConfig) {
    let old: Arc<dyn Kms> = Arc::new(LocalKms::generate());
    let store = Store::open(&config, Arc::clone(&old)).await.expect("open");
    let mut tenants = Vec::new();
    for (name, suite) in [("guoban", CryptoSuite::Sm), ("acme", CryptoSuite::Intl)] {
        let created = store
            .create_tenant(
                &platform(),
                &slug(name),
                suite,
                &admin(&format!("root@{name}.cn")),
            )
            .await
            .expect("tenant");
        let db = store.tenant(&scope(created.tenant.id)).await.expect("db");
        let login = citadel_core::LoginName::parse(&created.admin_login).expect("login");
        let root = db.auth().find_user_by_login(&login).await;
        let root = root.expect("q").expect("root").id;
        db.set_pending_totp(root, &SecretBytes::new(name.as_bytes().to_vec()))
            .await
            .expect("seed");
        let signature = store
            .keyring(&scope(created.tenant.id))
            .await
            .expect("keys")
            .signing_key()
            .sign(b"before");
        tenants.push((created.tenant.id, root, name, signature));
    }
    let new: Arc<dyn Kms> = Arc::new(LocalKms::generate());
    let done = store
        .rotate_master_key(&platform(), Arc::clone(&new))
        .await
        .expect("rotate");
    assert_eq!(done.tenant_keys, 10, "five keys of each of two tenants");
    store.close().await;

    assert!(matches!(
        Store::open(&config, Arc::clone(&old)).await,
        Err(StoreError::WrongMasterKey)
    ));
    let store = Store::open(&config, new)
        .await
        .expect("the new key opens it");
    for (tenant, root, name, signature) in tenants {
        let db = store.tenant(&scope(tenant)).await.expect("tenant opens");
        let (seed, _) = db.pending_totp(root).await.expect("q").expect("seed");
        assert_eq!(seed.expose(), name.as_bytes());
        let keyring = store.keyring(&scope(tenant)).await.expect("keys open");
        keyring
            .public_key()
            .verify(b"before", &signature)
            .expect("the same signing key");
    }
    store.close().await;
}

#[tokio::test]
async fn master_key_rotation_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn master_key_rotation_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = citadel_testkit::TestDatabase::create().await;
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
