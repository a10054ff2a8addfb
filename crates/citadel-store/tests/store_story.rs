//! One conformance story, run on SQLite and on the machine's PostgreSQL.

use std::sync::Arc;

use citadel_core::{
    Action, CryptoSuite, Email, LoginName, PlatformScope, Principal, Resource, TenantId,
    TenantScope, TenantSlug, TenantStatus, UserId, authorize,
};
use citadel_crypto::MasterKey;
use citadel_crypto::token::token_hash;
use citadel_store::{DbPool, NewUser, Store, StoreConfig, StoreError};

fn platform() -> PlatformScope {
    authorize(
        &Principal::LocalAdministrator,
        Action::ManageTenants,
        Resource::Platform,
    )
    .ok()
    .and_then(|a| a.into_platform())
    .expect("local administrator manages tenants")
}

fn scope(tenant: TenantId) -> TenantScope {
    let user = Principal::TenantUser {
        tenant,
        user: UserId::generate(),
        must_change_password: false,
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

fn admin(email: &str) -> NewUser {
    let email = Email::parse(email).expect("email");
    NewUser {
        id: UserId::generate(),
        login: LoginName::from(&email),
        email,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        must_change_password: true,
        is_admin: true,
    }
}

fn sqlite_config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: None,
        max_open_tenants: 8,
    }
}

fn postgres_config(dir: &tempfile::TempDir, db: &citadel_testkit::TestDatabase) -> StoreConfig {
    StoreConfig {
        data_dir: dir.path().to_owned(),
        database_url: Some(db.url.clone()),
        max_open_tenants: 8,
    }
}

fn slug(s: &str) -> TenantSlug {
    TenantSlug::parse(s).expect("slug")
}

async fn story(config: StoreConfig, pg: Option<&citadel_testkit::TestDatabase>) {
    let key = Arc::new(MasterKey::generate());
    let store = Store::open(&config, key.clone()).await.expect("open store");
    store.ping().await.expect("ping");

    // The store remembers its master key: another key is refused.
    let wrong = Store::open(&config, Arc::new(MasterKey::generate())).await;
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
        .find_user_by_login(&login_a)
        .await
        .expect("query")
        .expect("admin of a");
    assert!(user_a.is_admin && user_a.must_change_password);
    assert!(
        db_a.find_user_by_login(&login_b)
            .await
            .expect("query")
            .is_none()
    );
    assert_eq!(db_b.list_users().await.expect("list").len(), 1);
    assert_eq!(store.open_tenant_databases(), 2);

    // Sessions, and a password change ending the other sessions.
    let (s1, s2) = (token_hash("one"), token_hash("two"));
    db_a.create_session(&s1, user_a.id)
        .await
        .expect("session 1");
    db_a.create_session(&s2, user_a.id)
        .await
        .expect("session 2");
    assert_eq!(
        db_a.find_session(&s1).await.expect("find").map(|s| s.owner),
        Some(user_a.id)
    );
    assert!(
        db_b.find_session(&s1).await.expect("find").is_none(),
        "sessions are per tenant"
    );
    db_a.change_password(user_a.id, "$argon2id$new", &s1)
        .await
        .expect("change");
    assert!(db_a.find_session(&s2).await.expect("find").is_none());
    assert!(db_a.find_session(&s1).await.expect("find").is_some());
    let changed = db_a
        .find_user(user_a.id)
        .await
        .expect("find")
        .expect("user");
    assert!(!changed.must_change_password);
    db_a.delete_session(&s1).await.expect("logout");
    assert!(db_a.find_session(&s1).await.expect("find").is_none());

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
        DbPool::Sqlite(pool) => {
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

/// Only tenant roles are granted CONNECT: PUBLIC's default was revoked.
#[tokio::test]
async fn other_roles_cannot_connect_to_the_citadel_database() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = postgres_config(&dir, &db);
    let store = Store::open(&config, Arc::new(MasterKey::generate()))
        .await
        .expect("open");
    let admin = sqlx::PgPool::connect(&db.url).await.expect("admin");
    let probe = format!("citadel_probe_{}", uuid::Uuid::now_v7().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE \"{probe}\" LOGIN"
    )))
    .execute(&admin)
    .await
    .expect("role");
    let url = db.url.replacen("postgres@", &format!("{probe}@"), 1);
    let err = sqlx::PgPool::connect(&url)
        .await
        .expect_err("no CONNECT for PUBLIC");
    assert!(err.to_string().contains("permission denied"), "{err}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE \"{probe}\"")))
        .execute(&admin)
        .await
        .expect("drop");
    admin.close().await;
    store.close().await;
    db.drop_now().await;
}

/// Racing creates of one slug: exactly one succeeds, the rest are
/// conflicts, and no storage is left behind by the losers.
async fn racing_creates(config: StoreConfig, pg: Option<&citadel_testkit::TestDatabase>) {
    let store = Arc::new(
        Store::open(&config, Arc::new(MasterKey::generate()))
            .await
            .expect("open"),
    );
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .create_tenant(
                    &platform(),
                    &slug("contested"),
                    CryptoSuite::Intl,
                    &admin(&format!("a{i}@c.cn")),
                )
                .await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        match task.await.expect("join") {
            Ok(t) => created.push(t.tenant.id),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create wins");
    match (store.sqlite_data_dir(), pg) {
        (Some(dir), _) => {
            let dirs: Vec<_> = std::fs::read_dir(dir.join("tenants"))
                .expect("tenants dir")
                .collect();
            assert_eq!(dirs.len(), 1, "losers left no directory");
        }
        (None, Some(pg)) => {
            let pool = sqlx::PgPool::connect(&pg.url).await.expect("connect");
            let schemas: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'")
                    .fetch_one(&pool)
                    .await
                    .expect("count");
            assert_eq!(schemas, 1, "losers left no schema");
            pool.close().await;
            assert_eq!(pg.tenant_storage_left(&created[0].simple()).await, 2);
        }
        (None, None) => panic!("a PostgreSQL store needs its test database"),
    }
    store
        .destroy_tenant(&platform(), &slug("contested"))
        .await
        .expect("destroy");
}

#[tokio::test]
async fn racing_creates_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    racing_creates(sqlite_config(&dir), None).await;
}

#[tokio::test]
async fn racing_creates_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    racing_creates(postgres_config(&dir, &db), Some(&db)).await;
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
    let err = Store::open(&config, Arc::new(MasterKey::generate()))
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
    let store = Store::open(&config, Arc::new(MasterKey::generate()))
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
    let store = Store::open(&config, Arc::new(MasterKey::generate()))
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
        db.create_session(
            &token_hash(&format!("session-{i}")),
            db.find_user_by_login(&LoginName::parse("secret-admin@doomed.cn").expect("login"))
                .await
                .expect("q")
                .expect("user")
                .id,
        )
        .await
        .expect("session");
    }
    // Move the WAL's frames into the database file, so it holds the data.
    if let DbPool::Sqlite(pool) = db.raw_pool_for_isolation_tests() {
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

/// A destroy abandoned half-way (its caller's future dropped at some
/// point) leaves no mark behind: the next destroy is never refused as
/// "being destroyed already", and finishes the job.
#[tokio::test]
async fn an_abandoned_destroy_can_be_run_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&sqlite_config(&dir), Arc::new(MasterKey::generate()))
        .await
        .expect("open");
    for (i, micros) in [5u64, 50, 200, 500, 1_000, 2_000, 5_000, 20_000]
        .into_iter()
        .enumerate()
    {
        let name = slug(&format!("halfway-{i}"));
        let t = store
            .create_tenant(&platform(), &name, CryptoSuite::Intl, &admin("a@h.cn"))
            .await
            .expect("create");
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_micros(micros),
            store.destroy_tenant(&platform(), &name),
        )
        .await;
        match store.destroy_tenant(&platform(), &name).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => assert!(
                abandoned.is_ok(),
                "only a finished destroy removes the tenant"
            ),
            Err(other) => panic!("after abandoning at {micros} µs: {other:?}"),
        }
        assert!(
            store
                .find_tenant(t.tenant.id)
                .await
                .expect("find")
                .is_none()
        );
    }
}

/// Creating and destroying tenants at the same time: every change to the
/// database's grants takes its turn, none fails.
#[tokio::test]
async fn concurrent_creates_and_destroys_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        Store::open(&postgres_config(&dir, &db), Arc::new(MasterKey::generate()))
            .await
            .expect("open"),
    );
    for i in 0..3 {
        store
            .create_tenant(
                &platform(),
                &slug(&format!("old-{i}")),
                CryptoSuite::Intl,
                &admin("a@o.cn"),
            )
            .await
            .expect("create");
    }
    let mut tasks = Vec::new();
    for i in 0..3 {
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.destroy_tenant(&platform(), &slug(&format!("old-{i}")))
                .await
                .map(|_| ())
        }));
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.create_tenant(
                &platform(),
                &slug(&format!("new-{i}")),
                CryptoSuite::Intl,
                &admin("a@n.cn"),
            )
            .await
            .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("no grant conflict");
    }
    let slugs: Vec<String> = store
        .list_tenants(&platform())
        .await
        .expect("list")
        .iter()
        .map(|t| t.slug.to_string())
        .collect();
    assert_eq!(slugs, ["new-0", "new-1", "new-2"]);
    store.close().await;
    db.drop_now().await;
}

/// A database where every role may still create objects in `public` (one
/// upgraded from PostgreSQL 14, say, with `public` owned by `postgres`) is
/// refused at start rather than used with a hole in the isolation.
#[tokio::test]
async fn a_database_with_an_open_public_schema_is_refused() {
    let db = citadel_testkit::TestDatabase::create_owned_by_unprivileged_role().await;
    db.as_superuser(
        "ALTER SCHEMA public OWNER TO postgres; GRANT CREATE ON SCHEMA public TO PUBLIC",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(&postgres_config(&dir, &db), Arc::new(MasterKey::generate()))
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::UnsafeDatabase(_)), "{err:?}");
    assert!(err.to_string().contains("CREATE on schema public"), "{err}");
    db.drop_now().await;
}
