//! Permission groups carry a seal under the tenant's integrity key, on
//! SQLite and PostgreSQL: groups written through the store load; a grant
//! widened, a member added or a seal removed in the database beside the
//! server is refused on load and recorded as a security event; undoing the
//! change makes the groups load again.

mod common;

use citadel_core::access::{GroupPolicy, Member, Operation, Operations};
use citadel_core::data::SchemaName;
use citadel_store::access::GroupDefinition;
use citadel_store::{Page, StoreConfig, StoreError, TenantDb};
use common::{fresh_tenant, postgres_config, sqlite_config};

async fn refused(db: &TenantDb, why: &str) {
    let result = db.list_groups().await;
    assert!(
        matches!(result, Err(StoreError::Tampered(_))),
        "{why}: {result:?}"
    );
}

async fn raw(db: &TenantDb, sql: &'static str, bind: &str) {
    on_raw!(db, |p| sqlx::query(sql)
        .bind(bind.to_owned())
        .execute(p)
        .await
        .expect("a change beside the server")
        .rows_affected());
}

async fn story(config: StoreConfig) {
    let store = citadel_store::Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, admin) = fresh_tenant(&store, "acme").await;
    // The built-in groups, made before the tenant had keys, are sealed on
    // the first load.
    assert_eq!(db.list_groups().await.expect("first load").len(), 2);

    let sales = db
        .create_group(&GroupDefinition {
            name: SchemaName::parse("销售组").expect("name"),
            description: None,
            members: vec![Member::User(admin)],
            policy: GroupPolicy {
                all_apps: Operations::of(&[Operation::Read]),
                ..GroupPolicy::default()
            },
        })
        .await
        .expect("group");
    let id = sales.group.id.to_string();
    assert_eq!(db.list_groups().await.expect("sealed on write").len(), 3);

    let (original,): (String,) = on_raw!(db, |p| sqlx::query_as(
        "SELECT policy FROM permission_groups WHERE id = $1"
    )
    .bind(id.clone())
    .fetch_one(p)
    .await
    .expect("policy"));
    raw(
        &db,
        "UPDATE permission_groups SET policy = '{\"all_apps\":[\"read\",\"delete\",\"export\"]}' WHERE id = $1",
        &id,
    )
    .await;
    refused(&db, "a widened grant").await;
    on_raw!(db, |p| sqlx::query(
        "UPDATE permission_groups SET policy = $1 WHERE id = $2"
    )
    .bind(original.clone())
    .bind(id.clone())
    .execute(p)
    .await
    .expect("undo")
    .rows_affected());
    assert_eq!(db.list_groups().await.expect("undone").len(), 3);

    raw(
        &db,
        "INSERT INTO group_members (group_id, kind, member_id, include_subdepartments) \
         VALUES ($1, 'user', '0190f1f0-0000-7000-8000-00000000beef', FALSE)",
        &id,
    )
    .await;
    refused(&db, "a member added").await;
    raw(
        &db,
        "DELETE FROM group_members WHERE group_id = $1 AND member_id = '0190f1f0-0000-7000-8000-00000000beef'",
        &id,
    )
    .await;
    assert_eq!(db.list_groups().await.expect("undone").len(), 3);

    raw(
        &db,
        "UPDATE permission_groups SET seal = NULL WHERE id = $1",
        &id,
    )
    .await;
    refused(&db, "a removed seal, after the first sealing").await;
    raw(
        &db,
        "UPDATE permission_groups SET seal = NULL WHERE builtin = 'member' AND id <> $1",
        &id,
    )
    .await;
    refused(&db, "still refused").await;

    let events = db
        .security_events(&Page {
            before: None,
            limit: 50,
        })
        .await
        .expect("events");
    let tampered = events
        .iter()
        .filter(|e| e.kind == "access_data_tampered")
        .count();
    assert_eq!(tampered, 4, "each refused load is recorded");
    assert!(
        events.iter().any(|e| e.detail.contains(&id)),
        "the event names the group"
    );
    // Users, in another tenant: a duty granted or a department set beside
    // the server.
    let (db, _) = fresh_tenant(&store, "beta").await;
    db.list_groups().await.expect("sealed once");
    let mut clerk = common::admin("clerk@beta.cn");
    clerk.duties = citadel_core::Duties::NONE;
    clerk.protected = false;
    db.create_user(&clerk).await.expect("clerk");
    let loaded = common::user(&db, clerk.id).await;
    db.auth()
        .check_roles(&loaded)
        .await
        .expect("sealed on create");
    let clerk_id = clerk.id.to_string();
    raw(
        &db,
        "UPDATE users SET is_audit_admin = TRUE WHERE id = $1",
        &clerk_id,
    )
    .await;
    let promoted = common::user(&db, clerk.id).await;
    assert!(promoted.duties.audit);
    assert!(matches!(
        db.auth().check_roles(&promoted).await,
        Err(StoreError::Tampered(_))
    ));
    // An admin's next routine edit does not make the change valid.
    let edit = citadel_store::UserChanges {
        display_name: Some(Some(common::name("职员"))),
        ..Default::default()
    };
    assert!(matches!(
        db.update_user(clerk.id, &edit).await,
        Err(StoreError::Tampered(_))
    ));
    raw(
        &db,
        "UPDATE users SET is_audit_admin = FALSE WHERE id = $1",
        &clerk_id,
    )
    .await;
    db.update_user(clerk.id, &edit)
        .await
        .expect("an edit of an intact user");
    db.auth()
        .check_roles(&common::user(&db, clerk.id).await)
        .await
        .expect("undone");
    let dept = db
        .create_department(&common::name("销售部"), None)
        .await
        .expect("department");
    db.access_model().await.expect("intact");
    on_raw!(db, |p| sqlx::query(
        "UPDATE users SET department_id = $1 WHERE id = $2"
    )
    .bind(dept.id.to_string())
    .bind(clerk_id.clone())
    .execute(p)
    .await
    .expect("moved beside the server")
    .rows_affected());
    // The access model is kept for a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(
        db.access_model().await,
        Err(StoreError::Tampered(_))
    ));
    let events = db
        .security_events(&Page {
            before: None,
            limit: 50,
        })
        .await
        .expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "access_data_tampered" && e.detail.contains(&clerk_id))
            .count(),
        3
    );
    store.close().await;
}

#[tokio::test]
async fn group_seals_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn group_seals_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = citadel_testkit::TestDatabase::create().await;
    story(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
