//! A create's revision is stored without its values and shows them when
//! read (`data/history.rs`): the values the record was created with, not
//! its later ones, while it exists and once it is deleted; a field added
//! afterwards (its default written into the record) is not among them.

use citadel_core::RecordId;
use citadel_core::data::input::read_changes;
use citadel_store::data::{Actor, RecordChange, RecordDeletion};
use citadel_store::{Store, StoreConfig};
use common::{fresh_tenant, full, postgres_config, read, sqlite_config};
use serde_json::json;

mod common;
mod data_support;

use data_support::{beijing, new_field, sn, write};

async fn history_story(config: StoreConfig) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open store");
    let (db, root) = fresh_tenant(&store, "history").await;
    let me = Actor(Some(root));
    let app = db.create_app(&sn("合同"), None, me).await.expect("app");
    let mut table = db
        .create_table(app.id, &sn("合同"), None, me)
        .await
        .expect("table");
    for spec in [
        json!({"name": "名称", "type": "text"}),
        json!({"name": "金额", "type": "currency"}),
        json!({"name": "备注", "type": "long_text"}),
        json!({"name": "身份证", "type": "resident_id"}),
        json!({"name": "编号", "type": "auto_number"}),
        json!({"name": "标签", "type": "multi_select", "choices": [{"name": "a"}, {"name": "b"}]}),
    ] {
        table = db
            .add_field(table.id, new_field(spec))
            .await
            .expect("field");
    }
    let before = table.clone();
    let id = |name: &str| before.field_by_key(name).expect("field").id.to_string();
    let created = db
        .create_records(
            &full(&db, &table).await,
            vec![write(
                &table,
                json!({"名称": "甲", "金额": "10.00", "身份证": "11010519491231002X"}),
            )],
            me,
        )
        .await
        .expect("create");
    let record = created[0].id;

    // Two updates of 金额, one of 备注 and 标签 (empty at creation), one
    // clearing 名称.
    for (version, change) in [
        (1, json!({"金额": "20.00", "备注": "后加", "标签": ["a"]})),
        (2, json!({"金额": "30.00", "名称": null})),
    ] {
        let cells =
            read_changes(&table, change.as_object().expect("o"), beijing()).expect("change");
        db.update_records(
            &full(&db, &table).await,
            vec![RecordChange {
                id: record,
                expected_version: Some(version),
                cells,
            }],
            me,
        )
        .await
        .expect("update");
    }
    // A field added later, its default written into the record.
    table = db
        .add_field(
            table.id,
            new_field(json!({"name": "状态", "type": "text", "default": "有效"})),
        )
        .await
        .expect("field with a default");

    let expected_create = json!({
        id("名称"): [null, "甲"],
        id("金额"): [null, "10.00"],
        id("身份证"): [null, "11010519491231002X"],
        id("编号"): [null, 1],
    });
    let history = db
        .record_history(&read(&db, &table).await, record)
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].action, "create");
    assert_eq!(history[0].changes, expected_create);
    assert_eq!(history[1].changes[id("金额")], json!(["10.00", "20.00"]));
    assert_eq!(history[1].changes[id("备注")], json!([null, "后加"]));
    assert_eq!(history[1].changes[id("标签")][1], json!(["a"]));
    assert_eq!(
        history[2].changes,
        json!({id("金额"): ["20.00", "30.00"], id("名称"): ["甲", null]})
    );

    // Deleted, the record's last revision holds what it had; the create
    // still shows what it began with.
    db.delete_records(
        &full(&db, &table).await,
        vec![RecordDeletion {
            id: record,
            expected_version: Some(3),
        }],
        me,
    )
    .await
    .expect("delete");
    let history = db
        .record_history(&read(&db, &table).await, record)
        .await
        .expect("history after delete");
    assert_eq!(history.len(), 4);
    assert_eq!(history[3].action, "delete");
    assert_eq!(history[0].changes, expected_create);

    // A record never made has no history.
    let none = db
        .record_history(&read(&db, &table).await, RecordId(record.0 + 1000))
        .await
        .expect("no history");
    assert!(none.is_empty());
    store.close().await;
}

/// A batch delete is carried out 500 ids at a time. Records that link to
/// each other across that boundary are all going: none gets a revision
/// for losing its link before its own delete, and a record that stays gets
/// one per chunk it lost links in.
async fn linked_batch_delete_story(config: StoreConfig) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open store");
    let (db, root) = fresh_tenant(&store, "unlink").await;
    let me = Actor(Some(root));
    let app = db.create_app(&sn("组织"), None, me).await.expect("app");
    let mut table = db
        .create_table(app.id, &sn("节点"), None, me)
        .await
        .expect("table");
    for spec in [
        json!({"name": "名称", "type": "text"}),
        json!({"name": "上级", "type": "link", "table": table.id}),
        json!({"name": "相关", "type": "link", "table": table.id, "multiple": true}),
    ] {
        table = db
            .add_field(table.id, new_field(spec))
            .await
            .expect("field");
    }
    let access = full(&db, &table).await;
    let writes = (0..1000)
        .map(|n| write(&table, json!({"名称": format!("节点{n}")})))
        .collect();
    let ids: Vec<RecordId> = db
        .create_records(&access, writes, me)
        .await
        .expect("create")
        .iter()
        .map(|r| r.id)
        .collect();
    let stays = db
        .create_records(
            &access,
            vec![write(
                &table,
                json!({"名称": "留下", "相关": [ids[0].0, ids[999].0]}),
            )],
            me,
        )
        .await
        .expect("create the one that stays")[0]
        .id;
    // Each record of the second 500 links to one of the first 500.
    let changes = (500..1000)
        .map(|n| RecordChange {
            id: ids[n],
            expected_version: Some(1),
            cells: read_changes(
                &table,
                json!({"上级": ids[n - 500].0}).as_object().expect("o"),
                beijing(),
            )
            .expect("change"),
        })
        .collect();
    db.update_records(&full(&db, &table).await, changes, me)
        .await
        .expect("link");

    let deletions = ids
        .iter()
        .map(|id| RecordDeletion {
            id: *id,
            expected_version: None,
        })
        .collect();
    db.delete_records(&full(&db, &table).await, deletions, me)
        .await
        .expect("a batch of linked records deletes whole");

    let reader = read(&db, &table).await;
    let related = table.field_by_key("相关").expect("field").id.to_string();
    let left = db.get_record(&reader, stays).await.expect("stays");
    assert_eq!(left.version, 3, "one unlink per chunk");
    let history = db.record_history(&reader, stays).await.expect("history");
    let actions: Vec<&str> = history.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "update", "update"]);
    assert_eq!(
        history[1].changes[&related],
        json!([[ids[0].0, ids[999].0], [ids[999].0]])
    );
    assert_eq!(history[2].changes[&related], json!([[ids[999].0], []]));
    for n in [0, 499, 500, 999] {
        assert!(db.get_record(&reader, ids[n]).await.is_err(), "{n} is gone");
        let history = db.record_history(&reader, ids[n]).await.expect("history");
        let last = history.last().expect("revisions");
        assert_eq!(last.action, "delete");
        assert_eq!(last.version, if n < 500 { 2 } else { 3 });
    }
    store.close().await;
}

#[tokio::test]
async fn linked_batch_delete_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    linked_batch_delete_story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn linked_batch_delete_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    linked_batch_delete_story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}

#[tokio::test]
async fn history_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    history_story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn history_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    history_story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
