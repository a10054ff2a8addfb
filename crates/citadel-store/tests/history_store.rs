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
