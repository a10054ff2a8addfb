//! New records' ids are handed out before the write reaches the tenant's
//! writer (`data/new_records.rs`): on SQLite by this process, on
//! PostgreSQL by the table's sequence. Racing batches never share an id,
//! a refused batch leaves nothing behind, and a deleted record's id is not
//! handed out again, neither by the process that deleted it nor after a
//! restart.

use std::collections::HashSet;

use citadel_core::access::{TableAccess, ops};
use citadel_core::data::Cell;
use citadel_store::data::{Actor, RecordDeletion, RecordWrite};
use citadel_store::{Store, StoreConfig, StoreError};
use common::{fresh_tenant, full, postgres_config, scope, sqlite_config};
use serde_json::json;

mod common;
mod data_support;

use data_support::{cell, new_field, sn, write};

const TASKS: usize = 8;
const BATCHES: usize = 5;
const PER_BATCH: usize = 25;

async fn ids_story(config: StoreConfig) {
    let key = common::master_key();
    let store = Store::open(&config, key.clone()).await.expect("open store");
    let (db, root) = fresh_tenant(&store, "ids").await;
    let me = Actor(Some(root));
    let app = db.create_app(&sn("编号"), None, me).await.expect("app");
    let mut table = db
        .create_table(app.id, &sn("工单"), None, me)
        .await
        .expect("table");
    for spec in [
        json!({"name": "标题", "type": "text", "unique": true}),
        json!({"name": "序号", "type": "auto_number"}),
    ] {
        table = db
            .add_field(table.id, new_field(spec))
            .await
            .expect("field");
    }

    // Racing batches from many tasks: every id and every number distinct.
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (db, table) = (db.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let access = full(&db, &table).await;
            let mut ids = Vec::new();
            for b in 0..BATCHES {
                let batch: Vec<RecordWrite> = (0..PER_BATCH)
                    .map(|n| write(&table, json!({"标题": format!("{t}-{b}-{n}")})))
                    .collect();
                let rows = db.create_records(&access, batch, me).await.expect("batch");
                ids.extend(
                    rows.iter()
                        .map(|r| (r.id.0, cell(&table, r, "序号").clone())),
                );
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    let mut numbers = HashSet::new();
    for task in tasks {
        for (id, number) in task.await.expect("task") {
            assert!(id > 0);
            assert!(ids.insert(id), "id {id} handed out twice");
            assert!(numbers.insert(format!("{number:?}")), "{number:?} twice");
        }
    }
    assert_eq!(ids.len(), TASKS * BATCHES * PER_BATCH);
    let highest = *ids.iter().max().expect("ids");

    // A batch refused in the writer (a taken unique value) writes nothing;
    // the next one gets ids of its own.
    let access = full(&db, &table).await;
    let refused = db
        .create_records(
            &access,
            vec![
                write(&table, json!({"标题": "新的"})),
                write(&table, json!({"标题": "0-0-0"})),
            ],
            me,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let next = db
        .create_records(&access, vec![write(&table, json!({"标题": "新的"}))], me)
        .await
        .expect("after a refusal");
    assert!(next[0].id.0 > highest);
    assert!(!ids.contains(&next[0].id.0));

    // A batch of 1,000 is inserted by several statements built before the
    // writer numbers it: each record stores the number it was answered with.
    let big: Vec<RecordWrite> = (0..1000)
        .map(|n| write(&table, json!({"标题": format!("大批-{n}")})))
        .collect();
    let big = db
        .create_records(&access, big, me)
        .await
        .expect("big batch");
    let reader: TableAccess<ops::Read> = full(&db, &table).await;
    for row in [0, 1, 499, 500, 501, 998, 999].map(|n| &big[n]) {
        let stored = db.get_record(&reader, row.id).await.expect("stored");
        assert_eq!(cell(&table, &stored, "序号"), cell(&table, row, "序号"));
        assert_eq!(cell(&table, &stored, "标题"), cell(&table, row, "标题"));
    }
    assert_eq!(
        cell(&table, &big[999], "序号"),
        &Cell::Integer(i64::try_from(ids.len()).expect("count") + 1001)
    );
    ids.extend(big.iter().map(|r| r.id.0));

    // The newest record deleted, its id is not handed out again...
    let deleted = next[0].id;
    db.delete_records(
        &full(&db, &table).await,
        vec![RecordDeletion {
            id: deleted,
            expected_version: None,
        }],
        me,
    )
    .await
    .expect("delete");
    let again = db
        .create_records(&access, vec![write(&table, json!({"标题": "再来"}))], me)
        .await
        .expect("create");
    assert!(again[0].id.0 > deleted.0);
    assert_eq!(
        cell(&table, &again[0], "序号"),
        &Cell::Integer(i64::try_from(ids.len()).expect("count") + 2)
    );

    // Two imports at once, each in one transaction with its ids from it
    // (on PostgreSQL a tenant pool has two connections, both held here).
    let import = |tag: &'static str| {
        let (db, table) = (db.clone(), table.clone());
        async move {
            let (send, chunks) = tokio::sync::mpsc::channel(4);
            let access = full(&db, &table).await;
            let running = tokio::spawn({
                let db = db.clone();
                async move { db.import_records(&access, chunks, me).await }
            });
            for chunk in 0..3 {
                let rows: Vec<RecordWrite> = (0..10)
                    .map(|n| write(&table, json!({"标题": format!("{tag}-{chunk}-{n}")})))
                    .collect();
                send.send(Some(rows)).await.expect("send");
            }
            send.send(None).await.expect("commit");
            running.await.expect("import task")
        }
    };
    let (first, second) = tokio::join!(import("甲"), import("乙"));
    assert_eq!(first.expect("first import"), 30);
    assert_eq!(second.expect("second import"), 30);

    // ...nor after a restart, once the newest is deleted too.
    let tenant = db.tenant();
    let newest = again[0].id;
    db.delete_records(
        &full(&db, &table).await,
        vec![RecordDeletion {
            id: newest,
            expected_version: None,
        }],
        me,
    )
    .await
    .expect("delete");
    drop((db, store));
    let store = Store::open(&config, key).await.expect("open again");
    let db = store.tenant(&scope(tenant)).await.expect("tenant");
    let access = full(&db, &table).await;
    let after = db
        .create_records(&access, vec![write(&table, json!({"标题": "重启后"}))], me)
        .await
        .expect("create after restart");
    assert!(after[0].id.0 > newest.0, "{} reused", after[0].id.0);
}

#[tokio::test]
async fn record_ids_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    ids_story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn record_ids_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    ids_story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
