//! Encrypted fields on SQLite and PostgreSQL: values stored only as
//! ciphertext bound to their cell, found by equality through the blind
//! index, unique through it, sealed in history too; a ciphertext moved to
//! another record or cut short is refused and recorded; encryption turned
//! on and off migrates the data; a key rotation re-encrypts it all.

mod common;
mod data_support;

use citadel_core::data::input::read_changes;
use citadel_core::data::table::physical_table;
use citadel_core::data::{Cell, FieldDef, TableSchema};
use citadel_core::{RecordId, TenantScope};
use citadel_store::data::{Actor, RecordChange};
use citadel_store::{KeyPurpose, Page, Store, StoreConfig, StoreError, TenantDb};
use common::{fresh_tenant, full, postgres_config, read, scope, sqlite_config};
use data_support::{beijing, cell, list, new_field, sn, write};
use serde_json::json;

const ID_A: &str = "11010519491231002X";
const ID_B: &str = "110105199003071239";
const CARD_A: &str = "6222020200112233446";
const CARD_B: &str = "4111111111111111";

fn field<'a>(table: &'a TableSchema, name: &str) -> &'a FieldDef {
    table.field_by_key(name).expect("field")
}

/// The bytes stored in a field's column of a record, read beside the
/// server.
async fn stored(db: &TenantDb, table: &TableSchema, name: &str, record: i64) -> Option<Vec<u8>> {
    let sql = format!(
        "SELECT \"{}\" FROM \"{}\" WHERE id = $1",
        field(table, name).column,
        physical_table(table.id)
    );
    on_raw!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(record)
        .fetch_one(p)
        .await
        .expect("raw read"))
}

async fn overwrite(db: &TenantDb, table: &TableSchema, name: &str, record: i64, bytes: &[u8]) {
    let sql = format!(
        "UPDATE \"{}\" SET \"{}\" = $1 WHERE id = $2",
        physical_table(table.id),
        field(table, name).column
    );
    on_raw!(db, |p| sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(bytes.to_vec())
        .bind(record)
        .execute(p)
        .await
        .expect("raw write")
        .rows_affected());
}

async fn revisions_text(db: &TenantDb) -> String {
    let all: Vec<String> = on_raw!(db, |p| sqlx::query_scalar(
        "SELECT changes FROM record_revisions"
    )
    .fetch_all(p)
    .await
    .expect("revisions"));
    all.join("\n")
}

async fn data_key_values(store: &Store, tenant: &TenantScope) -> Vec<(u32, Option<u64>)> {
    store
        .key_status(tenant)
        .await
        .expect("status")
        .keys
        .iter()
        .filter(|k| k.key.purpose == KeyPurpose::Data)
        .map(|k| (k.key.version, k.values))
        .collect()
}

/// A table 员工 in a new app 人事 with the fields declared by `specs`.
async fn staff_table(db: &TenantDb, me: Actor, specs: &[serde_json::Value]) -> TableSchema {
    let app = db.create_app(&sn("人事"), None, me).await.expect("app");
    let mut staff = db
        .create_table(app.id, &sn("员工"), None, me)
        .await
        .expect("table");
    for spec in specs {
        staff = db
            .add_field(staff.id, new_field(spec.clone()))
            .await
            .expect("field");
    }
    staff
}

async fn story(config: StoreConfig) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, root) = fresh_tenant(&store, "sealed").await;
    let tenant = scope(db.tenant());
    let me = Actor(Some(root));
    let mut staff = staff_table(
        &db,
        me,
        &[
            json!({"name": "姓名", "type": "text", "required": true}),
            json!({"name": "身份证", "type": "resident_id", "filterable": true}),
            json!({"name": "银行卡", "type": "bank_card", "unique": true}),
            json!({"name": "工资", "type": "decimal", "scale": 2, "encrypted": true}),
        ],
    )
    .await;
    assert!(
        field(&staff, "身份证").options.encrypted,
        "sensitive: on by default"
    );
    assert!(!field(&staff, "姓名").options.encrypted);

    let created = db
        .create_records(
            &full(&db, &staff).await,
            vec![
                write(&staff, json!({"姓名": "张三", "身份证": ID_A.to_lowercase(), "银行卡": CARD_A, "工资": "12000.50"})),
                write(&staff, json!({"姓名": "李四", "身份证": ID_B, "银行卡": CARD_B, "工资": "9000"})),
                write(&staff, json!({"姓名": "王五"})),
            ],
            me,
        )
        .await
        .expect("create");
    let ids: Vec<i64> = created.iter().map(|r| r.id.0).collect();

    // Read back as written (the check letter upper-cased on input).
    let first = db
        .get_record(&read(&db, &staff).await, RecordId(ids[0]))
        .await
        .expect("get");
    assert_eq!(cell(&staff, &first, "身份证"), &Cell::Text(ID_A.into()));
    assert_eq!(cell(&staff, &first, "工资").to_json(), json!("12000.50"));

    // Stored as ciphertext only: format byte, key version 1, no plaintext.
    let sealed = stored(&db, &staff, "身份证", ids[0]).await.expect("sealed");
    assert!(matches!(sealed[0], 0x41 | 0x53));
    assert_eq!(&sealed[1..5], &1u32.to_be_bytes());
    assert!(!sealed.windows(ID_A.len()).any(|w| w == ID_A.as_bytes()));
    assert_eq!(
        stored(&db, &staff, "身份证", ids[2]).await,
        None,
        "empty stays NULL"
    );
    let history = revisions_text(&db).await;
    for secret in [ID_A, ID_B, CARD_A, "12000.50"] {
        assert!(!history.contains(secret), "history holds {secret} sealed");
    }
    // A create's revision is stored without values (they are derived when
    // read, from the row: see history.rs), so no copy of them either.
    assert!(!history.contains("张三"));

    // Equality and `in` through the blind index; emptiness; refusal is the
    // core's (tested there), the store renders what it is given.
    assert_eq!(
        list(
            &db,
            root,
            &staff,
            &format!("身份证 = '{}'", ID_A.to_lowercase()),
            "",
            50
        )
        .await,
        vec![ids[0]]
    );
    assert_eq!(
        list(
            &db,
            root,
            &staff,
            &format!("身份证 in ('{ID_A}', '{ID_B}')"),
            "",
            50
        )
        .await,
        vec![ids[0], ids[1]]
    );
    assert_eq!(
        list(&db, root, &staff, &format!("身份证 != '{ID_A}'"), "", 50).await,
        vec![ids[1], ids[2]]
    );
    assert_eq!(
        list(&db, root, &staff, "身份证 is empty", "", 50).await,
        vec![ids[2]]
    );
    assert_eq!(
        list(
            &db,
            root,
            &staff,
            &format!("银行卡 = '{CARD_B}' and 工资 = 9000"),
            "",
            50
        )
        .await,
        vec![ids[1]]
    );

    // Unique through the blind index.
    let taken = db
        .create_records(
            &full(&db, &staff).await,
            vec![write(&staff, json!({"姓名": "赵六", "银行卡": CARD_A}))],
            me,
        )
        .await;
    assert!(
        matches!(&taken, Err(StoreError::Invalid(e)) if e.to_string().contains("银行卡")),
        "{taken:?}"
    );
    let existing = db
        .existing_values(
            &full(&db, &staff).await,
            field(&staff, "银行卡").id,
            &[
                Cell::Text(CARD_A.into()),
                Cell::Text("6011000990139424".into()),
            ],
        )
        .await
        .expect("dry-run look-up");
    assert_eq!(existing, vec![Cell::Text(CARD_A.into())]);

    // An update; history shows the values opened, and stores them sealed.
    let change = read_changes(
        &staff,
        json!({"身份证": ID_B}).as_object().expect("o"),
        beijing(),
    )
    .expect("change");
    db.update_records(
        &full(&db, &staff).await,
        vec![RecordChange {
            id: RecordId(ids[2]),
            expected_version: Some(1),
            cells: change,
        }],
        me,
    )
    .await
    .expect("update");
    let revisions = db
        .record_history(&read(&db, &staff).await, RecordId(ids[2]))
        .await
        .expect("history");
    let id_field = field(&staff, "身份证").id.to_string();
    assert_eq!(revisions[1].changes[&id_field], json!([null, ID_B]));
    let revisions = db
        .record_history(&read(&db, &staff).await, RecordId(ids[0]))
        .await
        .expect("history");
    assert_eq!(revisions[0].changes[&id_field], json!([null, ID_A]));

    // A ciphertext moved to another record does not open there; nor does
    // one cut short. Each refusal is a security event, and nothing of the
    // value is shown.
    let second = stored(&db, &staff, "身份证", ids[1]).await.expect("sealed");
    overwrite(&db, &staff, "身份证", ids[0], &second).await;
    let moved = db
        .get_record(&read(&db, &staff).await, RecordId(ids[0]))
        .await;
    assert!(
        matches!(&moved, Err(StoreError::SealBroken { record, .. }) if *record == ids[0]),
        "{moved:?}"
    );
    overwrite(&db, &staff, "身份证", ids[0], &sealed[..20]).await;
    let cut = db
        .list_records(
            &read(&db, &staff).await,
            &citadel_store::data::ListRequest {
                limit: 10,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(cut, Err(StoreError::SealBroken { .. })), "{cut:?}");
    let events = db
        .security_events(&Page {
            before: None,
            limit: 20,
        })
        .await
        .expect("events");
    let unreadable: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "encrypted_value_unreadable")
        .collect();
    assert_eq!(unreadable.len(), 2);
    assert!(
        unreadable
            .iter()
            .all(|e| e.detail.contains(&id_field) && !e.detail.contains(ID_B))
    );
    overwrite(&db, &staff, "身份证", ids[0], &sealed).await;
    db.get_record(&read(&db, &staff).await, RecordId(ids[0]))
        .await
        .expect("the original ciphertext opens again");

    // Turning encryption off and on migrates the stored values; turning it
    // on seals the field's history too.
    let mut plain = field(&staff, "工资").clone();
    plain.options.encrypted = false;
    staff = db.update_field(staff.id, plain).await.expect("decrypt");
    assert!(!field(&staff, "工资").options.encrypted);
    assert_eq!(
        list(&db, root, &staff, "工资 > 10000", "", 50).await,
        vec![ids[0]],
        "a plaintext field compares again"
    );
    let mut sealed_again = field(&staff, "工资").clone();
    sealed_again.options.encrypted = true;
    staff = db
        .update_field(staff.id, sealed_again)
        .await
        .expect("encrypt");
    assert!(field(&staff, "工资").options.encrypted);
    let row = db
        .get_record(&read(&db, &staff).await, RecordId(ids[0]))
        .await
        .expect("get");
    assert_eq!(cell(&staff, &row, "工资").to_json(), json!("12000.50"));
    assert!(!revisions_text(&db).await.contains("12000.50"));
    assert_eq!(
        list(&db, root, &staff, "工资 = 9000", "", 50).await,
        vec![ids[1]]
    );

    // A new scale re-reads every value (the canonical form changes with
    // it): refused while a value would lose digits, made when none does.
    let mut whole = field(&staff, "工资").clone();
    whole.kind = citadel_core::data::FieldKind::Decimal {
        precision: 18,
        scale: 0,
    };
    let refused = db.update_field(staff.id, whole).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let mut finer = field(&staff, "工资").clone();
    finer.kind = citadel_core::data::FieldKind::Decimal {
        precision: 18,
        scale: 3,
    };
    staff = db.update_field(staff.id, finer).await.expect("scale 3");
    assert_eq!(
        list(&db, root, &staff, "工资 = 12000.5", "", 50).await,
        vec![ids[0]],
        "the blind index follows the new canonical form"
    );

    // Rotation: everything sealed moves to the new version, except a value
    // that does not open, which keeps its version from being retired.
    let before = data_key_values(&store, &tenant).await;
    // Seven field values and the update's revision (a create's revision
    // holds no values).
    assert_eq!(before, vec![(1, Some(8))], "values and revisions count");
    let card = stored(&db, &staff, "银行卡", ids[1]).await.expect("sealed");
    overwrite(&db, &staff, "银行卡", ids[1], &card[..card.len() - 1]).await;
    assert_eq!(store.rotate_data_key(&tenant).await.expect("rotate"), 2);
    store.set_key_retire_grace(std::time::Duration::ZERO);
    let done = store.reencrypt(&tenant).await.expect("re-encrypt");
    assert_eq!(done.moved, 7, "all but the broken value: {done:?}");
    assert!(done.retired.is_empty(), "{done:?}");
    overwrite(&db, &staff, "银行卡", ids[1], &card).await;
    let done = store.reencrypt(&tenant).await.expect("re-encrypt");
    assert_eq!((done.moved, done.retired), (1, vec![1]));
    let after = data_key_values(&store, &tenant).await;
    assert_eq!(after[0], (1, Some(0)), "version 1 protects nothing");
    assert_eq!(
        &stored(&db, &staff, "身份证", ids[0]).await.expect("sealed")[1..5],
        &2u32.to_be_bytes()
    );
    let row = db
        .get_record(&read(&db, &staff).await, RecordId(ids[1]))
        .await
        .expect("opens under v2");
    assert_eq!(cell(&staff, &row, "银行卡"), &Cell::Text(CARD_B.into()));
    let revisions = db
        .record_history(&read(&db, &staff).await, RecordId(ids[2]))
        .await
        .expect("history under v2");
    assert_eq!(revisions[1].changes[&id_field], json!([null, ID_B]));
    assert_eq!(
        list(&db, root, &staff, &format!("身份证 = '{ID_A}'"), "", 50).await,
        vec![ids[0]],
        "the blind index does not depend on the data key"
    );
    store.close().await;
}

#[tokio::test]
async fn encrypted_fields_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn encrypted_fields_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}

/// Crypto-shredding: a copy of a destroyed tenant's database file (a
/// backup, a disk recovered afterwards) holds only ciphertext, and the
/// keys that opened it are gone from the registry.
#[tokio::test]
async fn a_destroyed_tenants_recovered_database_opens_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sqlite_config(&dir);
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, root) = fresh_tenant(&store, "shredded").await;
    let tenant = db.tenant();
    let me = Actor(Some(root));
    let staff = staff_table(&db, me, &[json!({"name": "身份证", "type": "resident_id"})]).await;
    let record = db
        .create_records(
            &full(&db, &staff).await,
            vec![write(&staff, json!({"身份证": ID_A}))],
            me,
        )
        .await
        .expect("create")[0]
        .id;

    // The tenant's files as they are on disk, copied aside.
    let tenant_dir = dir.path().join("tenants").join(tenant.to_string());
    let recovered = tempfile::tempdir().expect("tempdir");
    for name in ["data.db", "data.db-wal"] {
        if let Ok(bytes) = std::fs::read(tenant_dir.join(name)) {
            std::fs::write(recovered.path().join(name), bytes).expect("copy");
        }
    }
    let ciphertext = stored(&db, &staff, "身份证", record.0)
        .await
        .expect("sealed");
    drop(db);
    store
        .destroy_tenant(&common::platform(), &common::slug("shredded"))
        .await
        .expect("destroy");

    let mut raw = std::fs::read(recovered.path().join("data.db")).expect("recovered file");
    raw.extend(std::fs::read(recovered.path().join("data.db-wal")).unwrap_or_default());
    assert!(
        raw.windows(ciphertext.len())
            .any(|w| w == ciphertext.as_slice()),
        "the recovered file holds the ciphertext"
    );
    assert!(
        !raw.windows(ID_A.len()).any(|w| w == ID_A.as_bytes()),
        "and never the plaintext"
    );
    // Nothing can open it: the tenant's keys are gone from the registry
    // (the registry's own bytes are checked in keyring_store.rs), and no
    // other tenant's keys, nor the master key, are its data key.
    assert!(matches!(
        store.keyring(&scope(tenant)).await,
        Err(StoreError::NotFound(_))
    ));
    let registry = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("platform.db"))
            .read_only(true),
    )
    .await
    .expect("registry");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenant_keys WHERE tenant_id = $1")
        .bind(tenant.to_string())
        .fetch_one(&registry)
        .await
        .expect("count");
    assert_eq!(keys, 0);
    registry.close().await;
    let (other, _) = fresh_tenant(&store, "survivor").await;
    let keys = other.keyring().await.expect("keys");
    assert!(keys.decrypt(b"", &ciphertext).is_err());
    store.close().await;
}

/// Turning encryption on for a field with values leaves no copy of them in
/// the SQLite files: the rewritten pages are zeroed where the values were
/// (`secure_delete`), history is sealed, and the WAL is checkpointed and
/// truncated.
#[tokio::test]
async fn turning_encryption_on_leaves_no_plaintext_in_the_sqlite_files() {
    const SECRET: &str = "机密备注-Q7ZK-unique";
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&sqlite_config(&dir), common::master_key())
        .await
        .expect("open");
    let (db, root) = fresh_tenant(&store, "scrubbed").await;
    let me = Actor(Some(root));
    let mut staff = staff_table(&db, me, &[json!({"name": "备注", "type": "text"})]).await;
    let batch = (0..200)
        .map(|n| write(&staff, json!({"备注": format!("{SECRET}-{n:03}")})))
        .collect();
    db.create_records(&full(&db, &staff).await, batch, me)
        .await
        .expect("create");
    let files = || {
        let base = dir.path().join("tenants").join(db.tenant().to_string());
        let mut bytes = std::fs::read(base.join("data.db")).expect("data.db");
        bytes.extend(std::fs::read(base.join("data.db-wal")).unwrap_or_default());
        bytes
    };
    let present = |bytes: &[u8]| bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    assert!(present(&files()), "the plaintext is on disk before");

    let mut sealed = field(&staff, "备注").clone();
    sealed.options.encrypted = true;
    staff = db.update_field(staff.id, sealed).await.expect("encrypt");
    let row = db
        .get_record(&read(&db, &staff).await, RecordId(7))
        .await
        .expect("get");
    assert_eq!(
        cell(&staff, &row, "备注"),
        &Cell::Text(format!("{SECRET}-006"))
    );
    assert!(!present(&files()), "no plaintext left in the files after");
    store.close().await;
}
