//! The data model store on SQLite and on the machine's PostgreSQL: schema
//! changes with their physical tables, batch writes that land whole or not
//! at all, listing with filters, sorts and cursors, history, views and the
//! recycle bin.

use citadel_core::FieldId;
use citadel_core::data::input::read_changes;
use citadel_core::data::{Cell, Decimal};
use citadel_store::data::{
    Actor, Deleted, RecordChange, RecordDeletion, RecordWrite, ViewDefinition,
};
use citadel_store::{Store, StoreConfig, StoreError, now_millis};
use common::{
    assert_conflict, assert_not_found, fresh_tenant, full, postgres_config, read, sqlite_config,
};
use serde_json::{Value as Json, json};

mod common;
mod data_support;

use data_support::{beijing, cell, list, new_field, sn, write};

async fn story(config: StoreConfig) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open store");
    let (db, root) = fresh_tenant(&store, "data").await;
    let me = Actor(Some(root));

    let crm = db
        .create_app(&sn("客户管理"), Some("CRM"), me)
        .await
        .expect("app");
    assert_conflict(db.create_app(&sn("客户管理"), None, me).await);
    let customers = db
        .create_table(crm.id, &sn("客户"), None, me)
        .await
        .expect("table");
    let orders = db
        .create_table(crm.id, &sn("订单"), None, me)
        .await
        .expect("table");
    assert_conflict(db.create_table(crm.id, &sn("客户"), None, me).await);

    let mut customers = customers;
    for spec in [
        json!({"name": "名称", "type": "text", "required": true, "unique": true}),
        json!({"name": "等级", "type": "single_select", "default": "普通", "filterable": true,
               "choices": [{"name": "普通"}, {"name": "VIP", "colour": "red"}]}),
        json!({"name": "信用额度", "type": "currency", "min": 0}),
        json!({"name": "标签", "type": "multi_select", "choices": [{"name": "a"}, {"name": "b"}]}),
        json!({"name": "签约日", "type": "date", "filterable": true}),
        json!({"name": "负责人", "type": "user"}),
        json!({"name": "编号", "type": "auto_number"}),
    ] {
        customers = db
            .add_field(customers.id, new_field(spec))
            .await
            .expect("field");
    }
    let mut orders_schema = orders;
    for spec in [
        json!({"name": "单号", "type": "text"}),
        json!({"name": "客户", "type": "link", "table": customers.id}),
        json!({"name": "相关客户", "type": "link", "table": customers.id, "multiple": true}),
        json!({"name": "下单时间", "type": "date_time"}),
        json!({"name": "加急", "type": "boolean"}),
    ] {
        orders_schema = db
            .add_field(orders_schema.id, new_field(spec))
            .await
            .expect("field");
    }
    assert_eq!(customers.fields.len(), 7);

    // A batch of 120 customers lands in one go, numbered in order.
    let batch: Vec<RecordWrite> = (1..=120)
        .map(|n| {
            write(
                &customers,
                json!({
                    "名称": format!("客户{n:03}"),
                    "等级": if n % 3 == 0 { "VIP" } else { "普通" },
                    "信用额度": format!("{}.50", n * 100),
                    "标签": if n % 2 == 0 { json!(["a", "b"]) } else { json!([]) },
                    "签约日": format!("2026-{:02}-{:02}", n % 12 + 1, n % 28 + 1),
                    "负责人": if n % 10 == 0 { json!(root.to_string()) } else { json!(null) },
                }),
            )
        })
        .collect();
    let created = db
        .create_records(&full(&db, &customers).await, batch, me)
        .await
        .expect("batch");
    assert_eq!(created.len(), 120);
    assert_eq!(cell(&customers, &created[0], "编号"), &Cell::Integer(1));
    assert_eq!(cell(&customers, &created[119], "编号"), &Cell::Integer(120));
    let first = db
        .get_record(&read(&db, &customers).await, created[0].id)
        .await
        .expect("get");
    assert_eq!(first, created[0], "what create returns is what is stored");
    assert_eq!(
        cell(&customers, &first, "信用额度"),
        &Cell::Decimal(Decimal::from_scaled(10050, 2))
    );

    // All or nothing: a duplicate name in the batch's last record undoes it.
    let dup = vec![
        write(&customers, json!({"名称": "新客户"})),
        write(&customers, json!({"名称": "客户001"})),
    ];
    let refused = db
        .create_records(&full(&db, &customers).await, dup, me)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid(e)) if e.to_string().contains("名称: must be unique")),
        "{refused:?}"
    );
    assert_eq!(
        list(&db, root, &customers, "名称 = '新客户'", "", 50).await,
        Vec::<i64>::new()
    );
    let ghost_owner = write(
        &customers,
        json!({"名称": "x", "负责人": citadel_core::UserId::generate().to_string()}),
    );
    assert!(matches!(
        db.create_records(&full(&db, &customers).await, vec![ghost_owner], me).await,
        Err(StoreError::Invalid(e)) if e.to_string().contains("负责人: refers to a user")
    ));

    // Filters, sorts and keyset pages agree with a plain computation.
    let vip = list(&db, root, &customers, "等级 = 'VIP'", "", 7).await;
    assert_eq!(
        vip,
        (1..=120)
            .filter(|n| n % 3 == 0)
            .map(|n| created[n - 1].id.0)
            .collect::<Vec<_>>()
    );
    let rich_first = list(
        &db,
        root,
        &customers,
        "信用额度 >= 5000 and 标签 contains 'a'",
        "-信用额度",
        9,
    )
    .await;
    let mut expected: Vec<(i64, i64)> = (1..=120i64)
        .filter(|n| n * 100 >= 5000 && n % 2 == 0)
        .map(|n| (n * 100, created[n as usize - 1].id.0))
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.0));
    assert_eq!(rich_first, expected.iter().map(|e| e.1).collect::<Vec<_>>());
    let owned = list(
        &db,
        root,
        &customers,
        "负责人 = $me or 名称 starts with '客户11'",
        "",
        50,
    )
    .await;
    assert_eq!(owned.len(), 21, "12 owned, 10 named 客户11x, one both");
    let by_date = list(
        &db,
        root,
        &customers,
        "签约日 is not empty",
        "签约日,-名称",
        13,
    )
    .await;
    assert_eq!(by_date.len(), 120);
    let untagged = list(&db, root, &customers, "not 标签 contains 'a'", "", 50).await;
    assert_eq!(
        untagged.len(),
        60,
        "rows with no tags count as not containing one"
    );

    // Updates check versions and record history.
    let target = created[4].id;
    let change = |version, record: Json| RecordChange {
        id: target,
        expected_version: version,
        cells: read_changes(&customers, record.as_object().expect("object"), beijing())
            .expect("changes"),
    };
    let updated = db
        .update_records(
            &full(&db, &customers).await,
            vec![change(Some(1), json!({"等级": "VIP", "信用额度": 1}))],
            me,
        )
        .await
        .expect("update");
    assert_eq!(updated[0].version, 2);
    let stale = db
        .update_records(
            &full(&db, &customers).await,
            vec![change(Some(1), json!({"等级": "普通"}))],
            me,
        )
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionMismatch {
                current: 2,
                expected: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    assert_eq!(
        cell(
            &customers,
            &db.get_record(&read(&db, &customers).await, target)
                .await
                .expect("get"),
            "等级"
        ),
        &Cell::Text("VIP".into())
    );
    let history = db
        .record_history(&read(&db, &customers).await, target)
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, "update");
    let level = customers
        .field_by_key("等级")
        .expect("field")
        .id
        .to_string();
    assert_eq!(history[1].changes[&level], json!(["普通", "VIP"]));
    // Two changes of one record in a batch: the second is compared with
    // the first one's result, and the answer is what is stored.
    let twice = db
        .update_records(
            &full(&db, &customers).await,
            vec![
                change(Some(2), json!({"等级": "普通"})),
                change(None, json!({"等级": "VIP"})),
            ],
            me,
        )
        .await
        .expect("two changes");
    assert_eq!(twice[0].version, 4);
    assert_eq!(
        cell(&customers, &twice[0], "等级"),
        &Cell::Text("VIP".into())
    );
    let stored = db
        .get_record(&read(&db, &customers).await, target)
        .await
        .expect("get");
    assert_eq!(
        (stored.version, stored.updated_at, stored.cells.clone()),
        (
            twice[0].version,
            twice[0].updated_at,
            twice[0].cells.clone()
        )
    );
    let history = db
        .record_history(&read(&db, &customers).await, target)
        .await
        .expect("history");
    assert_eq!(history.len(), 4);
    assert_eq!(history[2].changes[&level], json!(["VIP", "普通"]));
    assert_eq!(history[3].changes[&level], json!(["普通", "VIP"]));

    // Links: to existing records only; deleting the target clears them.
    let order = write(
        &orders_schema,
        json!({
            "单号": "SO-1", "客户": target.0, "相关客户": [created[1].id.0, created[2].id.0],
            "下单时间": "2026-11-22 09:30", "加急": true,
        }),
    );
    let order = db
        .create_records(&full(&db, &orders_schema).await, vec![order], me)
        .await
        .expect("order")
        .remove(0);
    assert_eq!(
        cell(&orders_schema, &order, "相关客户"),
        &Cell::Links(vec![created[1].id, created[2].id])
    );
    let dangling = write(&orders_schema, json!({"客户": 999_999}));
    assert!(matches!(
        db.create_records(&full(&db, &orders_schema).await, vec![dangling], me)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let linked = list(
        &db,
        root,
        &orders_schema,
        &format!("相关客户 = {}", created[2].id.0),
        "",
        10,
    )
    .await;
    assert_eq!(linked, vec![order.id.0]);
    db.delete_records(
        &full(&db, &customers).await,
        vec![
            RecordDeletion {
                id: target,
                expected_version: Some(4),
            },
            RecordDeletion {
                id: created[1].id,
                expected_version: None,
            },
        ],
        me,
    )
    .await
    .expect("delete");
    assert_not_found(db.get_record(&read(&db, &customers).await, target).await);
    let order = db
        .get_record(&read(&db, &orders_schema).await, order.id)
        .await
        .expect("order");
    assert_eq!(cell(&orders_schema, &order, "客户"), &Cell::Null);
    assert_eq!(
        cell(&orders_schema, &order, "相关客户"),
        &Cell::Links(vec![created[2].id])
    );
    assert_eq!(
        db.record_history(&read(&db, &customers).await, target)
            .await
            .expect("history")
            .len(),
        5
    );

    // Views keep a filter, a sort and visible fields.
    let definition = ViewDefinition {
        filter: Some("等级 = 'VIP'".into()),
        sort: Some("-信用额度".into()),
        fields: Some(vec![customers.field_by_key("名称").expect("f").id]),
    };
    let shared = db
        .create_view(customers.id, &sn("VIP 客户"), None, &definition, me)
        .await
        .expect("view");
    let mine = db
        .create_view(
            customers.id,
            &sn("我的"),
            Some(root),
            &ViewDefinition::default(),
            me,
        )
        .await
        .expect("view");
    assert_eq!(
        db.list_views(customers.id, Some(root))
            .await
            .expect("views")
            .len(),
        2
    );
    assert_eq!(
        db.list_views(customers.id, None).await.expect("views"),
        vec![shared.clone()]
    );
    db.delete_view(mine.id).await.expect("delete view");

    // Schema changes: choices in use stay, names stay unique, order is total.
    let mut level_def = customers.field_by_key("等级").expect("f").clone();
    if let citadel_core::data::FieldKind::SingleSelect { choices } = &mut level_def.kind {
        choices.retain(|c| c.name != "VIP");
    }
    assert_conflict(db.update_field(customers.id, level_def).await);
    let mut renamed = customers.field_by_key("标签").expect("f").clone();
    renamed.name = sn("名称");
    assert_conflict(db.update_field(customers.id, renamed.clone()).await);
    renamed.name = sn("标记");
    renamed.options.filterable = true;
    customers = db
        .update_field(customers.id, renamed)
        .await
        .expect("rename");
    assert!(customers.field_by_key("标记").is_some());
    let mut order_ids: Vec<FieldId> = customers.fields.iter().map(|f| f.id).collect();
    order_ids.reverse();
    customers = db
        .reorder_fields(customers.id, &order_ids)
        .await
        .expect("reorder");
    assert_eq!(customers.fields[0].name.as_str(), "编号");
    assert!(
        db.reorder_fields(customers.id, &order_ids[1..])
            .await
            .is_err()
    );
    let unique_level = {
        let mut f = customers.field_by_key("等级").expect("f").clone();
        f.options.unique = true;
        f
    };
    assert!(matches!(
        db.update_field(customers.id, unique_level).await,
        Err(StoreError::Invalid(_))
    ));
    db.delete_field(
        customers.id,
        customers.field_by_key("签约日").expect("f").id,
    )
    .await
    .expect("drop field");
    customers = db.table_schema(customers.id).await.expect("schema");
    assert_eq!(customers.fields.len(), 6);
    assert_eq!(
        list(&db, root, &customers, "等级 = 'VIP'", "", 100)
            .await
            .len(),
        40
    );

    // A type change converts every value, or lists the ones that would not.
    let mut scores = db
        .create_table(crm.id, &sn("评分"), None, me)
        .await
        .expect("table");
    scores = db
        .add_field(
            scores.id,
            new_field(json!({"name": "分数", "type": "text", "filterable": true})),
        )
        .await
        .expect("field");
    let rows = db
        .create_records(
            &full(&db, &scores).await,
            ["12.5", "abc", "", "7"]
                .iter()
                .map(|v| write(&scores, json!({"分数": v})))
                .collect(),
            me,
        )
        .await
        .expect("rows");
    let mut target = new_field(json!({"name": "分数", "type": "currency", "filterable": true})).def;
    target.id = scores.fields[0].id;
    let (report, _) = db
        .change_field_type(scores.id, target.clone(), true, beijing())
        .await
        .expect("dry run");
    assert_eq!(
        (report.records, report.failed, report.applied),
        (4, 1, false)
    );
    assert_eq!(report.failures[0].0, rows[1].id);
    assert!(
        report.failures[0].1.contains("must be a number"),
        "{report:?}"
    );
    let (refused, _) = db
        .change_field_type(scores.id, target.clone(), false, beijing())
        .await
        .expect("refused change");
    assert!(!refused.applied);
    let fix = RecordChange {
        id: rows[1].id,
        expected_version: None,
        cells: read_changes(
            &scores,
            json!({"分数": "3"}).as_object().expect("o"),
            beijing(),
        )
        .expect("changes"),
    };
    db.update_records(&full(&db, &scores).await, vec![fix], me)
        .await
        .expect("fix");
    let (applied, scores) = db
        .change_field_type(scores.id, target, false, beijing())
        .await
        .expect("type change");
    assert!(applied.applied);
    assert_eq!(scores.fields[0].kind.type_name(), "currency");
    let converted = db
        .get_record(&read(&db, &scores).await, rows[0].id)
        .await
        .expect("get");
    assert_eq!(
        converted.cells[0].1,
        Cell::Decimal(Decimal::from_scaled(1250, 2))
    );
    assert_eq!(
        list(&db, root, &scores, "分数 > 5", "", 10).await,
        vec![rows[0].id.0, rows[3].id.0]
    );
    db.delete_table(scores.id, me).await.expect("drop scores");

    // The recycle bin: a linked table cannot go; an app can come back.
    assert_conflict(db.delete_table(customers.id, me).await);
    db.delete_table(orders_schema.id, me)
        .await
        .expect("delete orders");
    assert_not_found(db.table_schema(orders_schema.id).await);
    db.restore_table(orders_schema.id).await.expect("restore");
    db.table_schema(orders_schema.id).await.expect("back");
    db.delete_app(crm.id, me).await.expect("delete app");
    assert_not_found(db.table_schema(customers.id).await);
    assert!(matches!(
        db.recycle_bin().await.expect("bin")[..],
        [Deleted::App(_)]
    ));
    assert_eq!(
        db.purge_recycle_bin(now_millis()).await.expect("purge"),
        0,
        "not yet 30 days"
    );
    db.restore_app(crm.id).await.expect("restore app");
    assert_eq!(db.list_tables(crm.id).await.expect("tables").len(), 2);
    db.delete_table(orders_schema.id, me)
        .await
        .expect("delete orders");
    let month = 31 * 24 * 3600 * 1000;
    assert_eq!(
        db.purge_recycle_bin(now_millis() + month)
            .await
            .expect("purge"),
        2,
        "orders and scores"
    );
    assert_not_found(db.restore_table(orders_schema.id).await);
    // Purged for good, physically: the table and its junction are gone,
    // and the customers table that orders linked to is untouched.
    assert_eq!(list(&db, root, &customers, "", "", 200).await.len(), 118);
}

#[tokio::test]
async fn data_model_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

/// Power-loss durability cannot be shown by killing a process (the page
/// cache survives that), so the setting that gives it is checked itself:
/// tenant connections fsync the WAL at every commit.
#[tokio::test]
async fn sqlite_pool_commits_are_synchronous_full() {
    // Record writes go through the group-commit writer, whose answers wait
    // for an fsync of the WAL (group_commit.rs:
    // nothing_is_acknowledged_before_the_wal_is_synced); everything else
    // commits on the pool, fsynced by SQLite itself.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&sqlite_config(&dir), common::master_key())
        .await
        .expect("open store");
    let (db, _) = fresh_tenant(&store, "fsync").await;
    let level: i64 = match db.raw_pool_for_isolation_tests() {
        citadel_store::DbPool::Sqlite(pool, tenant) => {
            assert!(tenant.is_some(), "tenant writes go through group commit");
            sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .expect("pragma")
        }
        citadel_store::DbPool::Postgres(_) => unreachable!("a SQLite store"),
    };
    assert_eq!(level, 2, "2 is FULL");
}

#[tokio::test]
async fn data_model_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
