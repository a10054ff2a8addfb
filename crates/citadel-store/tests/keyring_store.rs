//! Tenant keyrings in the platform store, on SQLite and PostgreSQL: made
//! on first use in the tenant's suite, the same after the store is opened
//! again, sealed (no key material in the registry's file), separate per
//! tenant, and gone — also from the file's bytes — once the tenant is
//! destroyed.

mod common;

use std::sync::Arc;

use citadel_core::CryptoSuite;
use citadel_crypto::{CryptoError, Kms, LocalKms, Suite};
use citadel_store::{Store, StoreConfig, StoreError};
use common::{admin, platform, postgres_config, scope, slug, sqlite_config};

async fn story(config: StoreConfig, sqlite_file: Option<std::path::PathBuf>) {
    let kms: Arc<dyn Kms> = Arc::new(LocalKms::generate());
    let store = Store::open(&config, Arc::clone(&kms)).await.expect("open");
    let national = store
        .create_tenant(
            &platform(),
            &slug("guoban"),
            CryptoSuite::Sm,
            &admin("root@guoban.cn"),
        )
        .await
        .expect("sm tenant");
    let international = store
        .create_tenant(
            &platform(),
            &slug("acme"),
            CryptoSuite::Intl,
            &admin("root@acme.cn"),
        )
        .await
        .expect("intl tenant");
    let sm = store
        .keyring(&scope(national.tenant.id))
        .await
        .expect("keyring");
    let intl = store
        .keyring(&scope(international.tenant.id))
        .await
        .expect("keyring");
    assert_eq!(sm.suite(), Suite::Sm);
    assert_eq!(intl.suite(), Suite::Intl);
    assert_eq!(sm.public_key().to_bytes().len(), 65, "an SM2 public key");
    assert_eq!(
        intl.public_key().to_bytes().len(),
        32,
        "an Ed25519 public key"
    );

    let aad = b"tenant/table/field/record";
    let sealed = sm.encrypt(aad, b"110101199003077777").expect("seal");
    assert_eq!(
        sm.decrypt(aad, &sealed).expect("open").as_slice(),
        b"110101199003077777"
    );
    assert!(
        intl.decrypt(aad, &sealed).is_err(),
        "another tenant's keys open nothing"
    );
    let signature = sm.signing_key().sign(b"contract");
    let public = sm.public_key().to_bytes();
    let index_tag = sm.index_key().tag(&[b"110101199003077777"]);

    // Opened again from the registry: the same keys.
    drop((sm, intl));
    store.close().await;
    let store = Store::open(&config, Arc::clone(&kms))
        .await
        .expect("reopen");
    let sm = store
        .keyring(&scope(national.tenant.id))
        .await
        .expect("keyring");
    assert_eq!(
        sm.decrypt(aad, &sealed).expect("open").as_slice(),
        b"110101199003077777"
    );
    assert_eq!(sm.public_key().to_bytes(), public);
    sm.public_key()
        .verify(b"contract", &signature)
        .expect("same signing key");
    assert_eq!(sm.index_key().tag(&[b"110101199003077777"]), index_tag);

    if let Some(file) = &sqlite_file {
        let bytes = std::fs::read(file).expect("platform.db");
        let wal = std::fs::read(file.with_extension("db-wal")).unwrap_or_default();
        for haystack in [&bytes, &wal] {
            assert!(
                !haystack
                    .windows(public.len())
                    .any(|w| w == public.as_slice()),
                "the signing key's public half is derived, and no key is stored in the clear"
            );
        }
    }

    store
        .destroy_tenant(&platform(), &slug("guoban"))
        .await
        .expect("destroy");
    assert!(matches!(
        store.keyring(&scope(national.tenant.id)).await,
        Err(StoreError::NotFound(_))
    ));
    // The destroyed tenant's keys cannot come back: a new keyring would be
    // new keys, and the old ciphertext names a version nobody holds.
    let acme = store
        .keyring(&scope(international.tenant.id))
        .await
        .expect("the other tenant keeps its keys");
    assert!(matches!(
        acme.decrypt(aad, &sealed),
        Err(CryptoError::Decrypt | CryptoError::UnknownKeyVersion(_))
    ));
    store.close().await;
}

#[tokio::test]
async fn keyrings_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("platform.db");
    story(sqlite_config(&dir), Some(file)).await;
}

#[tokio::test]
async fn keyrings_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = citadel_testkit::TestDatabase::create().await;
    story(postgres_config(&dir, &db), None).await;
    db.drop_now().await;
}

#[tokio::test]
async fn a_destroyed_tenants_sealed_keys_leave_no_bytes_in_the_registry_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sqlite_config(&dir);
    let kms: Arc<dyn Kms> = Arc::new(LocalKms::generate());
    let store = Store::open(&config, kms).await.expect("open");
    let created = store
        .create_tenant(
            &platform(),
            &slug("gone"),
            CryptoSuite::Sm,
            &admin("root@gone.cn"),
        )
        .await
        .expect("tenant");
    store
        .keyring(&scope(created.tenant.id))
        .await
        .expect("keys");
    let file = dir.path().join("platform.db");
    // Read beside the store, as someone with the file would.
    let beside = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true),
    )
    .await
    .expect("read the registry file");
    let sealed_keys: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed FROM tenant_keys WHERE tenant_id = $1")
            .bind(created.tenant.id.to_string())
            .fetch_all(&beside)
            .await
            .expect("sealed keys");
    beside.close().await;
    assert_eq!(sealed_keys.len(), 5);
    let present = |key: &[u8]| {
        let mut bytes = std::fs::read(&file).expect("platform.db");
        bytes.extend(std::fs::read(file.with_extension("db-wal")).unwrap_or_default());
        bytes.windows(key.len()).any(|w| w == key)
    };
    assert!(
        sealed_keys.iter().any(|k| present(k)),
        "the sealed keys are on disk"
    );
    store
        .destroy_tenant(&platform(), &slug("gone"))
        .await
        .expect("destroy");
    for key in &sealed_keys {
        assert!(!present(key), "a shredded key's bytes are overwritten");
    }
    store.close().await;
}

#[tokio::test]
async fn a_tenant_that_lost_a_key_is_refused_not_given_new_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sqlite_config(&dir);
    let kms: Arc<dyn Kms> = Arc::new(LocalKms::generate());
    let store = Store::open(&config, Arc::clone(&kms)).await.expect("open");
    let created = store
        .create_tenant(
            &platform(),
            &slug("acme"),
            CryptoSuite::Intl,
            &admin("root@acme.cn"),
        )
        .await
        .expect("tenant");
    let db = store.tenant(&scope(created.tenant.id)).await.expect("db");
    db.list_groups()
        .await
        .expect("access data sealed with the keys");
    store.close().await;
    // A key row removed beside the server.
    let beside = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("platform.db")),
    )
    .await
    .expect("registry file");
    sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'integrity'")
        .bind(created.tenant.id.to_string())
        .execute(&beside)
        .await
        .expect("delete");
    let store = Store::open(&config, Arc::clone(&kms))
        .await
        .expect("reopen");
    let refused = store.keyring(&scope(created.tenant.id)).await;
    assert!(
        matches!(refused, Err(StoreError::Tampered(_))),
        "{refused:?}"
    );
    store.close().await;
    // All of them gone, after the access data was sealed: still refused.
    sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1")
        .bind(created.tenant.id.to_string())
        .execute(&beside)
        .await
        .expect("delete all");
    beside.close().await;
    let store = Store::open(&config, kms).await.expect("reopen");
    assert!(matches!(
        store.keyring(&scope(created.tenant.id)).await,
        Err(StoreError::Tampered(_))
    ));
    store.close().await;
}
