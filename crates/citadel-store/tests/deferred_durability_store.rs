//! Durability deferred to the audit layer on PostgreSQL: a record write
//! in a `deferring_durability` scope commits without its WAL flush and
//! leaves that flush to the scope.

use citadel_store::Store;
use citadel_store::data::Actor;
use common::{fresh_tenant, full, postgres_config};
use serde_json::json;

mod common;
mod data_support;

use data_support::{list, new_field, sn, write};

/// Inside `deferring_durability` a record write on PostgreSQL commits
/// without waiting for its WAL flush (`synchronous_commit = off`, for that
/// transaction only) and leaves the flush to the scope: `wait` makes a
/// synchronous commit, which PostgreSQL answers once the WAL is flushed
/// past every earlier commit. On SQLite the same scope defers the group
/// writer's fsync (`group_commit.rs`).
#[tokio::test]
async fn deferred_record_writes_on_postgres_leave_their_flush_to_the_scope() {
    let pg = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&postgres_config(&dir, &pg), common::master_key())
        .await
        .expect("open store");
    let (db, root) = fresh_tenant(&store, "deferred").await;
    let me = Actor(Some(root));
    let app = db.create_app(&sn("应用"), None, me).await.expect("app");
    let table = db
        .create_table(app.id, &sn("表"), None, me)
        .await
        .expect("table");
    let table = db
        .add_field(table.id, new_field(json!({"name": "名称", "type": "text"})))
        .await
        .expect("field");
    let access = full(&db, &table).await;

    let (created, pending) = citadel_store::deferring_durability(db.create_records(
        &access,
        vec![write(&table, json!({"名称": "甲"}))],
        me,
    ))
    .await;
    assert_eq!(created.expect("committed").len(), 1);
    assert!(!pending.is_empty(), "the flush is left to the scope");
    pending.wait().await.expect("flushed");

    // Outside the scope nothing is deferred, and the setting did not
    // outlive its transaction on the pool's connections.
    let (_, nothing) = citadel_store::deferring_durability(async {}).await;
    assert!(nothing.is_empty());
    db.create_records(&access, vec![write(&table, json!({"名称": "乙"}))], me)
        .await
        .expect("committed and flushed");
    let citadel_store::DbPool::Postgres(pool) = db.raw_pool_for_isolation_tests() else {
        unreachable!("a PostgreSQL store")
    };
    for _ in 0..4 {
        let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(pool)
            .await
            .expect("setting");
        assert_eq!(setting, "on");
    }
    assert_eq!(list(&db, root, &table, "", "", 10).await.len(), 2);
    store.close().await;
    pg.drop_now().await;
}
