//! Concurrency and PostgreSQL hardening of the store: racing creates and
//! destroys, abandoned destroys, and the database privileges it insists on.

use std::sync::Arc;

use citadel_core::CryptoSuite;
use citadel_crypto::LocalKms;
use citadel_store::{Store, StoreConfig, StoreError};
use common::{admin, platform, postgres_config, slug, sqlite_config};

mod common;

/// Only tenant roles are granted CONNECT: PUBLIC's default was revoked.
#[tokio::test]
async fn other_roles_cannot_connect_to_the_citadel_database() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = postgres_config(&dir, &db);
    let store = Store::open(&config, Arc::new(LocalKms::generate()))
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
        Store::open(&config, Arc::new(LocalKms::generate()))
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
            assert_eq!(
                pg.tenant_storage_left(&created[0].simple()).await,
                3,
                "schema, role and audit log"
            );
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

/// A destroy abandoned half-way (its caller's future dropped at some
/// point) leaves no mark behind: the next destroy is never refused as
/// "being destroyed already", and finishes the job.
#[tokio::test]
async fn an_abandoned_destroy_can_be_run_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&sqlite_config(&dir), Arc::new(LocalKms::generate()))
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
        let _abandoned = tokio::time::timeout(
            std::time::Duration::from_micros(micros),
            store.destroy_tenant(&platform(), &name),
        )
        .await;
        match store.destroy_tenant(&platform(), &name).await {
            // Not found: the abandoned destroy got as far as removing the
            // registry row (a statement already sent completes on the
            // database even when its future is dropped before it reports).
            Ok(_) | Err(StoreError::NotFound(_)) => {}
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
        Store::open(&postgres_config(&dir, &db), Arc::new(LocalKms::generate()))
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
    let err = Store::open(&postgres_config(&dir, &db), Arc::new(LocalKms::generate()))
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::UnsafeDatabase(_)), "{err:?}");
    assert!(err.to_string().contains("CREATE on schema public"), "{err}");
    db.drop_now().await;
}

/// Two admins moving A under B and B under A at the same moment: at most
/// one move wins, and the tree never holds a cycle.
async fn concurrent_moves_never_make_a_cycle(config: StoreConfig) {
    let store = Store::open(&config, Arc::new(LocalKms::generate()))
        .await
        .expect("open");
    let t = store
        .create_tenant(
            &platform(),
            &slug("movers"),
            CryptoSuite::Intl,
            &admin("a@movers.cn"),
        )
        .await
        .expect("create");
    let db = store
        .tenant(&common::scope(t.tenant.id))
        .await
        .expect("open tenant");
    for round in 0..5 {
        let name = |s: &str| citadel_core::DisplayName::parse(s).expect("name");
        let a = db
            .create_department(&name(&format!("a{round}")), None)
            .await
            .expect("a");
        let b = db
            .create_department(&name(&format!("b{round}")), None)
            .await
            .expect("b");
        let (first, second) = tokio::join!(
            db.update_department(a.id, None, Some(Some(b.id))),
            db.update_department(b.id, None, Some(Some(a.id))),
        );
        for result in [&first, &second] {
            assert!(
                matches!(result, Ok(()) | Err(StoreError::Conflict(_))),
                "{result:?}"
            );
        }
        assert!(first.is_err() || second.is_err(), "both moves won");
        let parents: Vec<_> = db
            .list_departments()
            .await
            .expect("list")
            .into_iter()
            .filter(|d| d.id == a.id || d.id == b.id)
            .map(|d| d.parent)
            .collect();
        assert!(parents.contains(&None), "one of them stays a root");
    }
}

#[tokio::test]
async fn concurrent_department_moves_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    concurrent_moves_never_make_a_cycle(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn concurrent_department_moves_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    concurrent_moves_never_make_a_cycle(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
