//! One conformance story, run on SQLite and on the machine's PostgreSQL.

use std::sync::Arc;

use citadel_core::{CryptoSuite, LoginName, TenantId, TenantStatus};
use citadel_crypto::LocalKms;
use citadel_crypto::token::token_hash;
use citadel_store::{DbPool, Store, StoreConfig, StoreError};

use common::{admin, client, platform, postgres_config, scope, slug, sqlite_config};

mod common;

async fn story(config: StoreConfig, pg: Option<&citadel_testkit::TestDatabase>) {
    let key = Arc::new(LocalKms::generate());
    let store = Store::open(&config, key.clone()).await.expect("open store");
    store.ping().await.expect("ping");

    // The store remembers its master key: another key is refused.
    let wrong = Store::open(&config, Arc::new(LocalKms::generate())).await;
    assert!(
        matches!(wrong, Err(StoreError::WrongMasterKey)),
        "{wrong:?}"
    );

    let p = platform();
    let a = store
        .create_tenant(&p, &slug("acme"), CryptoSuite::Intl, &admin("root@acme.cn"))
        .await
        .expect("create a");
    let b = store
        .create_tenant(&p, &slug("bravo"), CryptoSuite::Sm, &admin("root@bravo.cn"))
        .await
        .expect("create b");
    assert_eq!(a.admin_login, "root@acme.cn");
    let dup = store
        .create_tenant(&p, &slug("acme"), CryptoSuite::Intl, &admin("x@acme.cn"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let slugs: Vec<String> = store
        .list_tenants(&p)
        .await
        .expect("list")
        .iter()
        .map(|t| t.slug.to_string())
        .collect();
    assert_eq!(slugs, ["acme", "bravo"]);
    assert_eq!(
        store
            .find_tenant(b.tenant.id)
            .await
            .expect("find")
            .map(|t| t.suite),
        Some(CryptoSuite::Sm)
    );

    // Each tenant sees its own users only.
    let db_a = store.tenant(&scope(a.tenant.id)).await.expect("open a");
    let db_b = store.tenant(&scope(b.tenant.id)).await.expect("open b");
    let login_a = LoginName::parse("root@acme.cn").expect("login");
    let login_b = LoginName::parse("root@bravo.cn").expect("login");
    let user_a = db_a
        .auth()
        .find_user_by_login(&login_a)
        .await
        .expect("query")
        .expect("admin of a");
    assert!(user_a.duties.combined() && user_a.protected && user_a.must_change_password);
    assert!(
        db_a.auth()
            .find_user_by_login(&login_b)
            .await
            .expect("query")
            .is_none()
    );
    assert_eq!(db_b.list_users().await.expect("list").len(), 1);
    assert_eq!(store.open_tenant_databases(), 2);

    // Sessions, and a password change ending the other sessions.
    let (s1, s2) = (token_hash("one"), token_hash("two"));
    db_a.auth()
        .create_session(&s1, user_a.id, &client())
        .await
        .expect("session 1");
    db_a.auth()
        .create_session(&s2, user_a.id, &client())
        .await
        .expect("session 2");
    assert_eq!(
        db_a.auth()
            .find_session(&s1)
            .await
            .expect("find")
            .map(|s| s.owner),
        Some(user_a.id)
    );
    assert!(
        db_b.auth().find_session(&s1).await.expect("find").is_none(),
        "sessions are per tenant"
    );
    db_a.set_password(user_a.id, "$argon2id$new", false, Some(&s1))
        .await
        .expect("change");
    assert_eq!(
        db_a.password_history(user_a.id, 5)
            .await
            .expect("history")
            .len(),
        2,
        "the first and the new password"
    );
    assert!(db_a.auth().find_session(&s2).await.expect("find").is_none());
    assert!(db_a.auth().find_session(&s1).await.expect("find").is_some());
    let changed = db_a
        .find_user(user_a.id)
        .await
        .expect("find")
        .expect("user");
    assert!(!changed.must_change_password);
    db_a.auth().delete_session(&s1).await.expect("logout");
    assert!(db_a.auth().find_session(&s1).await.expect("find").is_none());

    prove_sql_isolation(&store, &db_a, b.tenant.id).await;

    // Suspend and resume.
    let suspended = store
        .set_tenant_status(&p, &slug("bravo"), TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(suspended.status, TenantStatus::Suspended);
    store
        .set_tenant_status(&p, &slug("bravo"), TenantStatus::Active)
        .await
        .expect("resume");
    assert!(matches!(
        store
            .set_tenant_status(&p, &slug("nobody"), TenantStatus::Active)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Destroy leaves nothing readable.
    drop(db_b);
    store
        .destroy_tenant(&p, &slug("bravo"))
        .await
        .expect("destroy");
    assert!(
        store
            .find_tenant(b.tenant.id)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store.tenant(&scope(b.tenant.id)).await.is_err(),
        "a destroyed tenant cannot be opened"
    );
    prove_storage_gone(&store, pg, b.tenant.id).await;
    // The other tenant is untouched.
    assert!(db_a.find_user(user_a.id).await.expect("find").is_some());
    store
        .destroy_tenant(&p, &slug("acme"))
        .await
        .expect("destroy a");
    store.close().await;
}

async fn prove_sql_isolation(store: &Store, db_a: &citadel_store::TenantDb, b: TenantId) {
    match db_a.raw_pool_for_isolation_tests() {
        DbPool::Sqlite(pool, _) => {
            // A's connection has exactly one database attached: A's own file.
            let files: Vec<String> = sqlx::query_scalar("SELECT file FROM pragma_database_list")
                .fetch_all(pool)
                .await
                .expect("database list");
            assert_eq!(files.len(), 1, "{files:?}");
            assert!(
                files[0].ends_with(&format!("tenants/{}/data.db", db_a.tenant())),
                "{files:?}"
            );
            assert!(!files[0].contains(&b.to_string()));
            let _ = store;
        }
        DbPool::Postgres(pool) => {
            let role: String = sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(pool)
                .await
                .expect("whoami");
            assert_eq!(role, format!("citadel_t_{}", db_a.tenant().simple()));
            let other = format!("SELECT count(*) FROM \"t_{}\".users", b.simple());
            let err = sqlx::query(sqlx::AssertSqlSafe(other))
                .fetch_one(pool)
                .await
                .expect_err("must be denied");
            assert!(err.to_string().contains("permission denied"), "{err}");
            let err = sqlx::query("SELECT count(*) FROM citadel_platform.tenants")
                .fetch_one(pool)
                .await
                .expect_err("registry must be denied");
            assert!(err.to_string().contains("permission denied"), "{err}");
            let err = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET ROLE \"citadel_t_{}\"",
                b.simple()
            )))
            .execute(pool)
            .await
            .expect_err("cannot become another tenant");
            assert!(err.to_string().contains("permission denied"), "{err}");
            // Its audit log, outside its schema: read and append, nothing
            // else; another tenant's log not even that.
            let own = format!("citadel_audit.t_{}", db_a.tenant().simple());
            let _: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {own}")))
                    .fetch_one(pool)
                    .await
                    .expect("reads its own log");
            let _: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {own}_archive"
            )))
            .fetch_one(pool)
            .await
            .expect("reads its own archive");
            for statement in [
                format!("UPDATE {own} SET action = 'x'"),
                format!("DELETE FROM {own}"),
                format!("TRUNCATE {own}"),
                format!("DROP TABLE {own}"),
                format!("ALTER TABLE {own} ADD COLUMN x int"),
                // Its archive: only the platform moves events there.
                format!("DELETE FROM {own}_archive"),
                format!(
                    "INSERT INTO {own}_archive (first_seq, end_seq, first_at_ms, last_at_ms, data) \
                     VALUES (0, 1, 0, 0, '\\x00')"
                ),
                format!("SELECT count(*) FROM citadel_audit.t_{}", b.simple()),
                "SELECT count(*) FROM citadel_audit.platform".to_owned(),
            ] {
                let err = sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                    .execute(pool)
                    .await
                    .expect_err("must be denied");
                let text = err.to_string();
                assert!(
                    text.contains("permission denied") || text.contains("must be owner"),
                    "{statement}: {text}"
                );
            }
        }
    }
}

async fn prove_storage_gone(
    store: &Store,
    pg: Option<&citadel_testkit::TestDatabase>,
    b: TenantId,
) {
    match (store.sqlite_data_dir(), pg) {
        (Some(dir), _) => assert!(!dir.join("tenants").join(b.to_string()).exists()),
        (None, Some(pg)) => assert_eq!(
            pg.tenant_storage_left(&b.simple()).await,
            0,
            "schema and role dropped"
        ),
        (None, None) => panic!("a PostgreSQL store needs its test database"),
    }
}

#[tokio::test]
async fn story_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir), None).await;
}

#[tokio::test]
async fn story_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    story(postgres_config(&dir, &db), Some(&db)).await;
    db.drop_now().await;
}

/// The same story with a platform user that is no superuser: it owns the
/// database and may create roles, nothing more.
#[tokio::test]
async fn story_on_postgres_as_an_unprivileged_owner() {
    let db = citadel_testkit::TestDatabase::create_owned_by_unprivileged_role().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = postgres_config(&dir, &db);
    story(config, Some(&db)).await;
    db.drop_now().await;
}

#[tokio::test]
async fn unknown_database_urls_are_refused_without_leaking_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: Some("mysql://root:hunter2@localhost/db".into()),
        max_open_tenants: 8,
    };
    let err = Store::open(&config, Arc::new(LocalKms::generate()))
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn lru_keeps_open_tenant_databases_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: None,
        max_open_tenants: 2,
    };
    let store = Store::open(&config, Arc::new(LocalKms::generate()))
        .await
        .expect("open");
    let p = platform();
    let mut ids = Vec::new();
    for name in ["t-one", "t-two", "t-three"] {
        let t = store
            .create_tenant(&p, &slug(name), CryptoSuite::Intl, &admin("a@b.cn"))
            .await
            .expect("create");
        ids.push(t.tenant.id);
    }
    for id in &ids {
        let db = store.tenant(&scope(*id)).await.expect("open");
        assert_eq!(db.list_users().await.expect("users").len(), 1);
    }
    assert_eq!(store.open_tenant_databases(), 2);
    assert_eq!(
        store.drop_idle_tenant_databases(std::time::Duration::ZERO),
        2
    );
    assert_eq!(store.open_tenant_databases(), 0);
}

#[tokio::test]
async fn destroy_overwrites_the_tenant_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig {
        data_dir: dir.path().join("data"),
        database_url: None,
        max_open_tenants: 8,
    };
    let store = Store::open(&config, Arc::new(LocalKms::generate()))
        .await
        .expect("open");
    let p = platform();
    let t = store
        .create_tenant(
            &p,
            &slug("doomed"),
            CryptoSuite::Intl,
            &admin("secret-admin@doomed.cn"),
        )
        .await
        .expect("create");
    let db = store.tenant(&scope(t.tenant.id)).await.expect("open");
    for i in 0..50u8 {
        db.auth()
            .create_session(
                &token_hash(&format!("session-{i}")),
                db.auth()
                    .find_user_by_login(&LoginName::parse("secret-admin@doomed.cn").expect("login"))
                    .await
                    .expect("q")
                    .expect("user")
                    .id,
                &client(),
            )
            .await
            .expect("session");
    }
    // Move the WAL's frames into the database file, so it holds the data.
    if let DbPool::Sqlite(pool, _) = db.raw_pool_for_isolation_tests() {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .expect("checkpoint");
    }
    drop(db);
    // Another name for the same inode, as a process that kept the file
    // open (or a careless backup by hard link) would see it.
    let file = config
        .data_dir
        .join("tenants")
        .join(t.tenant.id.to_string())
        .join("data.db");
    let witness = dir.path().join("witness.db");
    std::fs::hard_link(&file, &witness).expect("hard link");
    assert!(
        std::fs::read(&witness)
            .expect("read")
            .windows(6)
            .any(|w| w == b"secret"),
        "the data is there before"
    );
    store
        .destroy_tenant(&p, &slug("doomed"))
        .await
        .expect("destroy");
    let left = std::fs::read(&witness).expect("read");
    assert!(!left.is_empty());
    assert!(
        left.iter().all(|b| *b == 0),
        "every byte of the database was overwritten"
    );
    assert!(!file.exists());
}
