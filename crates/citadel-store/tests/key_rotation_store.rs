//! Rotating a tenant's data key, on SQLite and PostgreSQL: the new version
//! seals from then on, the re-encryption moves every value (including one
//! sealed under the master key before the tenant had keys) to it, the old
//! version is retired once it protects nothing, and every value still
//! opens.

mod common;

use citadel_crypto::SecretBytes;
use citadel_store::{KeyPurpose, StoreConfig};
use common::{fresh_tenant, postgres_config, scope, sqlite_config};

async fn story(config: StoreConfig) {
    let store = citadel_store::Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, admin) = fresh_tenant(&store, "acme").await;
    let tenant = scope(db.tenant());
    db.set_pending_totp(admin, &SecretBytes::new(b"first-seed".to_vec()))
        .await
        .expect("seed");
    let (_, pending) = db.pending_totp(admin).await.expect("q").expect("pending");
    db.confirm_totp(admin, &pending, 1, &[])
        .await
        .expect("confirm");
    let mut clerk = common::admin("clerk@acme.cn");
    clerk.protected = false;
    db.create_user(&clerk).await.expect("clerk");
    db.set_pending_totp(clerk.id, &SecretBytes::new(b"clerk-seed".to_vec()))
        .await
        .expect("pending seed");

    let data = |status: &citadel_store::KeyStatus| {
        status
            .keys
            .iter()
            .filter(|k| k.key.purpose == KeyPurpose::Data)
            .map(|k| (k.key.version, k.key.state.clone(), k.values))
            .collect::<Vec<_>>()
    };
    let status = store.key_status(&tenant).await.expect("status");
    assert_eq!(data(&status), vec![(1, "active".to_owned(), Some(2))]);
    assert_eq!(status.master_sealed_values, 0);
    assert_eq!(
        status.keys.len(),
        5,
        "data, index, integrity, signing, pepper"
    );

    assert_eq!(store.rotate_data_key(&tenant).await.expect("rotate"), 2);
    let status = store.key_status(&tenant).await.expect("status");
    assert_eq!(
        data(&status),
        vec![
            (1, "previous".to_owned(), Some(2)),
            (2, "active".to_owned(), Some(0))
        ]
    );
    // New values are sealed under the new version at once.
    db.set_pending_totp(admin, &SecretBytes::new(b"second-seed".to_vec()))
        .await
        .expect("seed under v2");
    let status = store.key_status(&tenant).await.expect("status");
    assert_eq!(data(&status)[1], (2, "active".to_owned(), Some(1)));

    // Within the grace after the rotation the old version is kept: another
    // process may still seal under it.
    let done = store.reencrypt(&tenant).await.expect("re-encrypt");
    assert_eq!(done.moved, 2);
    assert_eq!(
        (done.retired.clone(), done.waiting.clone()),
        (vec![], vec![1])
    );
    assert!(done.retire_after.is_some());
    store.set_key_retire_grace(std::time::Duration::ZERO);
    let done = store.reencrypt(&tenant).await.expect("re-encrypt");
    assert_eq!((done.moved, done.retired), (0, vec![1]));
    let status = store.key_status(&tenant).await.expect("status");
    assert_eq!(
        data(&status),
        vec![
            (1, "retired".to_owned(), Some(0)),
            (2, "active".to_owned(), Some(3))
        ]
    );
    let auth = db.auth();
    assert_eq!(
        auth.totp_secret(admin)
            .await
            .expect("q")
            .expect("seed")
            .expose(),
        b"first-seed"
    );
    let (clerk_seed, _) = db.pending_totp(clerk.id).await.expect("q").expect("seed");
    assert_eq!(clerk_seed.expose(), b"clerk-seed");
    assert_eq!(
        store.reencrypt(&tenant).await.expect("again"),
        citadel_store::Reencryption::default(),
        "nothing left to move"
    );
    store.close().await;
}

#[tokio::test]
async fn data_key_rotation_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn data_key_rotation_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = citadel_testkit::TestDatabase::create().await;
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
