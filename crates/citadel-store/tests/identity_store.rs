//! The tenant identity store on SQLite and on the machine's PostgreSQL:
//! lockout, passwords, users, departments, and a reopened store that keeps
//! its tenants and upgrades one made before the identity migration.
//! Credentials, second factors and the sign-in log are in
//! `identity_signin_store.rs`.

use std::sync::Arc;

use citadel_core::{DepartmentId, Email, LoginName, SecurityPolicy, TenantId, UserId, UserStatus};
use citadel_crypto::token::token_hash;
use citadel_crypto::{LocalKms, SecretBytes};
use citadel_store::{DbPool, NewUser, Store, StoreConfig, TenantDb, UserChanges, now_millis};
use common::{
    assert_conflict, assert_not_found, client, fresh_tenant, name, postgres_config, scope,
    sqlite_config, tick, user,
};

mod common;

async fn tenant(store: &Store, name: &str) -> (TenantDb, UserId) {
    fresh_tenant(store, name).await
}

fn member(login: &str, department: Option<DepartmentId>) -> NewUser {
    let email = Email::parse(login).expect("email");
    NewUser {
        id: UserId::generate(),
        login: LoginName::from(&email),
        email,
        display_name: Some(name("Member")),
        department,
        password_hash: format!("$argon2id$first-of-{login}"),
        must_change_password: false,
        duties: citadel_core::Duties::NONE,
        protected: false,
    }
}

async fn lockout(store: &Store) {
    let (db, root) = tenant(store, "lockout").await;
    let auth = db.auth();
    let policy = SecurityPolicy::default();
    let now = now_millis();
    let until = now + policy.lockout_ms();
    for i in 1..policy.max_failed_logins {
        let locked = auth.note_failure(root, &policy, now).await.expect("fail");
        assert_eq!(locked, None, "failure {i} stays under the threshold");
        assert_eq!(user(&db, root).await.failed_logins, i64::from(i));
    }
    let locked = auth.note_failure(root, &policy, now).await.expect("fail");
    assert_eq!(locked, Some(until), "the threshold failure locks");
    let u = user(&db, root).await;
    assert_eq!((u.failed_logins, u.locked_until), (0, Some(until)));
    // The next failure counts afresh: it neither locks again nor reports
    // the lock in force as its own.
    let again = auth.note_failure(root, &policy, now).await.expect("fail");
    assert_eq!(again, None);
    let u = user(&db, root).await;
    assert_eq!((u.failed_logins, u.locked_until), (1, Some(until)));
    // A right password during the lock is not admitted, and the lock holds.
    assert!(auth.is_locked(root, now).await.expect("locked"));
    assert!(!auth.admit(root, now).await.expect("admit"));
    assert_eq!(user(&db, root).await.locked_until, Some(until));
    // Once the lock has run out, a success clears the lock and the count.
    assert!(!auth.is_locked(root, until).await.expect("expired"));
    assert!(auth.admit(root, until).await.expect("admit"));
    let u = user(&db, root).await;
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
    assert_eq!(
        auth.note_failure(UserId::generate(), &policy, now)
            .await
            .expect("unknown user"),
        None
    );

    // A stricter policy locks sooner, for its own duration.
    let strict = SecurityPolicy {
        max_failed_logins: 3,
        lockout_minutes: 1,
        ..SecurityPolicy::default()
    };
    let results = [
        auth.note_failure(root, &strict, now).await.expect("1"),
        auth.note_failure(root, &strict, now).await.expect("2"),
        auth.note_failure(root, &strict, now).await.expect("3"),
    ];
    assert_eq!(results, [None, None, Some(now + 60_000)]);
    assert!(auth.admit(root, now + 60_000).await.expect("admit"));

    // Ten failures at once against a threshold of five: each is counted
    // exactly once, so exactly two of them lock and the count never stays
    // at or above the threshold.
    let later = now + 1;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let auth = db.auth();
            tokio::spawn(async move { auth.note_failure(root, &policy, later).await })
        })
        .collect();
    let mut locks = Vec::new();
    for task in tasks {
        if let Some(until) = task.await.expect("join").expect("fail") {
            locks.push(until);
        }
    }
    assert_eq!(locks, [later + policy.lockout_ms(); 2], "{locks:?}");
    let u = user(&db, root).await;
    assert!(u.failed_logins < i64::from(policy.max_failed_logins));
    assert_eq!(u.failed_logins, 0, "ten is two full rounds of five");
    assert_eq!(u.locked_until, Some(later + policy.lockout_ms()));
}

async fn passwords(store: &Store) {
    let (db, root) = tenant(store, "passwords").await;
    let auth = db.auth();
    let first = user(&db, root).await.password_hash;
    let bob = member("bob@passwords.cn", None);
    db.create_user(&bob).await.expect("bob");
    let (keep, other, bobs) = (token_hash("keep"), token_hash("other"), token_hash("bob"));
    for (hash, owner) in [(&keep, root), (&other, root), (&bobs, bob.id)] {
        auth.create_session(hash, owner, &client())
            .await
            .expect("session");
    }
    tick().await;
    let before = now_millis();
    db.set_password(root, "$h1", false, Some(&keep))
        .await
        .expect("change");
    let u = user(&db, root).await;
    assert_eq!(u.password_hash, "$h1");
    assert!(
        !u.must_change_password,
        "the admin's first password is done"
    );
    assert!(u.password_changed_at >= before);
    assert_eq!(
        db.password_history(root, 10).await.expect("history"),
        ["$h1", first.as_str()],
        "newest first, the current one included"
    );
    assert!(auth.find_session(&keep).await.expect("q").is_some());
    assert!(auth.find_session(&other).await.expect("q").is_none());
    assert!(
        auth.find_session(&bobs).await.expect("q").is_some(),
        "other users keep their sessions"
    );

    // An admin reset: forced, it lifts a lock and ends every session.
    let policy = SecurityPolicy::default();
    for _ in 0..policy.max_failed_logins {
        auth.note_failure(root, &policy, now_millis())
            .await
            .expect("fail");
    }
    assert!(user(&db, root).await.locked_until.is_some());
    tick().await;
    db.set_password(root, "$h2", true, None)
        .await
        .expect("reset");
    let u = user(&db, root).await;
    assert!(u.must_change_password);
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
    assert!(db.list_sessions(root).await.expect("list").is_empty());

    // The history keeps the last 24.
    for i in 3..=30 {
        tick().await;
        db.set_password(root, &format!("$h{i}"), false, None)
            .await
            .expect("change");
    }
    let all = db.password_history(root, 100).await.expect("history");
    let expected: Vec<String> = (7..=30).rev().map(|i| format!("$h{i}")).collect();
    assert_eq!(all, expected);
    assert_eq!(
        db.password_history(root, 3).await.expect("history"),
        ["$h30", "$h29", "$h28"]
    );
    assert_eq!(db.password_history(bob.id, 5).await.expect("bob").len(), 1);

    // A rehash replaces the current hash only, and only if it still is.
    let changed_at = user(&db, root).await.password_changed_at;
    auth.upgrade_password_hash(root, "$stale", "$rehashed")
        .await
        .expect("upgrade");
    assert_eq!(user(&db, root).await.password_hash, "$h30");
    auth.upgrade_password_hash(root, "$h30", "$h30-rehashed")
        .await
        .expect("upgrade");
    let u = user(&db, root).await;
    assert_eq!(u.password_hash, "$h30-rehashed");
    assert_eq!(u.password_changed_at, changed_at, "the age is untouched");
    assert_eq!(db.password_history(root, 1).await.expect("h"), ["$h30"]);
    assert_not_found(db.set_password(UserId::generate(), "$x", false, None).await);
}

async fn users(store: &Store) {
    let (db, root) = tenant(store, "users").await;
    let ghost = member("ghost@users.cn", Some(DepartmentId::generate()));
    assert_not_found(db.create_user(&ghost).await);
    assert!(db.find_user(ghost.id).await.expect("q").is_none());
    let sales = db.create_department(&name("Sales"), None).await.expect("d");
    let support = db
        .create_department(&name("Support"), None)
        .await
        .expect("d");
    let alice = member("alice@users.cn", Some(sales.id));
    db.create_user(&alice).await.expect("alice");
    assert_conflict(db.create_user(&member("alice@users.cn", None)).await);
    let logins: Vec<String> = db
        .list_users()
        .await
        .expect("list")
        .iter()
        .map(|u| u.login.as_str().to_owned())
        .collect();
    assert_eq!(logins, ["alice@users.cn", "root@users.cn"]);
    let a = user(&db, alice.id).await;
    assert_eq!(a.department, Some(sales.id));
    assert_eq!(a.display_name, Some(name("Member")));
    assert!(!a.duties.any() && !a.must_change_password && !a.totp_enabled);
    assert_eq!(a.status, UserStatus::Active);

    let (alice_s, root_s) = (token_hash("alice"), token_hash("root"));
    let auth = db.auth();
    auth.create_session(&alice_s, alice.id, &client())
        .await
        .expect("s");
    auth.create_session(&root_s, root, &client())
        .await
        .expect("s");
    let new_email = Email::parse("alice@new.cn").expect("email");
    let changes = UserChanges {
        email: Some(new_email.clone()),
        display_name: Some(None),
        department: Some(Some(support.id)),
        duties: Some(citadel_core::Duties::SYSTEM),
        protected: None,
        status: None,
    };
    db.update_user(alice.id, &changes).await.expect("update");
    let a = user(&db, alice.id).await;
    assert_eq!(a.email, new_email);
    assert_eq!(a.login.as_str(), "alice@users.cn", "the login stays");
    assert_eq!((a.display_name, a.department), (None, Some(support.id)));
    assert!(a.duties == citadel_core::Duties::SYSTEM);
    assert!(auth.find_session(&alice_s).await.expect("q").is_some());
    let clear = UserChanges {
        department: Some(None),
        ..UserChanges::default()
    };
    db.update_user(alice.id, &clear).await.expect("update");
    let a = user(&db, alice.id).await;
    assert_eq!((a.department, a.email), (None, new_email), "None keeps");
    let nowhere = UserChanges {
        department: Some(Some(DepartmentId::generate())),
        ..UserChanges::default()
    };
    assert_not_found(db.update_user(alice.id, &nowhere).await);

    let disable = UserChanges {
        status: Some(UserStatus::Disabled),
        ..UserChanges::default()
    };
    db.update_user(alice.id, &disable).await.expect("disable");
    assert_eq!(user(&db, alice.id).await.status, UserStatus::Disabled);
    assert!(auth.find_session(&alice_s).await.expect("q").is_none());
    assert!(db.list_sessions(alice.id).await.expect("list").is_empty());
    assert!(auth.find_session(&root_s).await.expect("q").is_some());
    assert_not_found(db.update_user(UserId::generate(), &disable).await);

    let policy = SecurityPolicy::default();
    for _ in 0..policy.max_failed_logins {
        auth.note_failure(root, &policy, now_millis())
            .await
            .expect("fail");
    }
    auth.note_failure(root, &policy, now_millis())
        .await
        .expect("fail");
    let u = user(&db, root).await;
    assert!(u.locked_until.is_some() && u.failed_logins == 1);
    db.unlock_user(root).await.expect("unlock");
    let u = user(&db, root).await;
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
    assert_not_found(db.unlock_user(UserId::generate()).await);
}

async fn departments(store: &Store) {
    let (db, _) = tenant(store, "departments").await;
    let a = db.create_department(&name("A"), None).await.expect("a");
    let b = db
        .create_department(&name("B"), Some(a.id))
        .await
        .expect("b");
    let c = db
        .create_department(&name("C"), Some(b.id))
        .await
        .expect("c");
    let tree: Vec<_> = db
        .list_departments()
        .await
        .expect("list")
        .iter()
        .map(|d| (d.id, d.name.as_str().to_owned(), d.parent))
        .collect();
    assert_eq!(
        tree,
        [
            (a.id, "A".to_owned(), None),
            (b.id, "B".to_owned(), Some(a.id)),
            (c.id, "C".to_owned(), Some(b.id)),
        ]
    );
    assert_not_found(
        db.create_department(&name("X"), Some(DepartmentId::generate()))
            .await,
    );
    for (moved, under) in [(a.id, c.id), (a.id, a.id), (b.id, c.id)] {
        assert_conflict(db.update_department(moved, None, Some(Some(under))).await);
    }
    assert_not_found(
        db.update_department(b.id, None, Some(Some(DepartmentId::generate())))
            .await,
    );
    assert_not_found(
        db.update_department(DepartmentId::generate(), Some(&name("Y")), None)
            .await,
    );
    assert_eq!(db.list_departments().await.expect("list").len(), 3);

    for parent in [a.id, b.id] {
        assert_conflict(db.delete_department(parent).await);
    }
    let carol = member("carol@departments.cn", Some(c.id));
    db.create_user(&carol).await.expect("carol");
    assert_conflict(db.delete_department(c.id).await);
    let out = UserChanges {
        department: Some(None),
        ..UserChanges::default()
    };
    db.update_user(carol.id, &out).await.expect("move out");
    db.delete_department(c.id)
        .await
        .expect("an empty leaf goes");
    assert_not_found(db.delete_department(c.id).await);

    // Rename and move to the top; the former parent is then a leaf.
    db.update_department(b.id, Some(&name("B2")), Some(None))
        .await
        .expect("move");
    db.delete_department(a.id).await.expect("a is empty now");
    let left: Vec<_> = db
        .list_departments()
        .await
        .expect("list")
        .iter()
        .map(|d| (d.id, d.name.as_str().to_owned(), d.parent))
        .collect();
    assert_eq!(left, [(b.id, "B2".to_owned(), None)]);
}

const LEGACY_LOGIN: &str = "old@legacy.cn";
const LEGACY_CREATED: i64 = 1_700_000_000_000;

/// Turns a fresh tenant's database back into what the first release
/// made (migration 1 only, one user with one session), so the next open
/// must apply the identity, data model and permission group migrations.
async fn legacy_tenant(store: &Store) -> (TenantId, UserId) {
    let (db, _) = tenant(store, "legacy").await;
    let user = UserId::generate();
    let drop = "DROP TABLE group_members; DROP TABLE permission_groups; DROP TABLE record_revisions; DROP TABLE data_views; DROP TABLE data_fields; \
        DROP TABLE data_tables; DROP TABLE apps; DROP TABLE sessions; DROP TABLE access_tokens; DROP TABLE recovery_codes; \
        DROP TABLE login_attempts; DROP TABLE usual_networks; DROP TABLE security_events; \
        DROP TABLE notifications; DROP TABLE ip_bans; DROP TABLE tenant_settings; \
        DROP TABLE password_history; DROP TABLE users; DROP TABLE departments; \
        DROP TABLE citadel_migrations;";
    let rows = format!(
        "CREATE TABLE citadel_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
           applied_at BIGINT NOT NULL); \
         INSERT INTO citadel_migrations VALUES (1, 'init', {LEGACY_CREATED}); \
         INSERT INTO users (id, login, email, password_hash, must_change_password, is_admin, \
           status, created_at, updated_at) VALUES ('{user}', '{LEGACY_LOGIN}', '{LEGACY_LOGIN}', \
           '$argon2id$old', FALSE, TRUE, 'active', {LEGACY_CREATED}, {LEGACY_CREATED}); \
         INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) \
           VALUES ({}, '{user}', {LEGACY_CREATED}, {LEGACY_CREATED});",
        match db.raw_pool_for_isolation_tests() {
            DbPool::Sqlite(_, _) => "X'00ff'",
            DbPool::Postgres(_) => "'\\x00ff'::bytea",
        }
    );
    on_raw!(db, |p| {
        let init = match db.raw_pool_for_isolation_tests() {
            DbPool::Sqlite(_, _) => include_str!("../migrations/sqlite/tenant_0001_init.sql"),
            DbPool::Postgres(_) => include_str!("../migrations/postgres/tenant_0001_init.sql"),
        };
        let mut tx = p.begin().await.expect("begin");
        for sql in [drop, init, rows.as_str()] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut *tx)
                .await
                .expect("rewrite to release 1");
        }
        tx.commit().await.expect("commit");
        p.close().await;
    });
    (db.tenant(), user)
}

/// After reopening: the tenant made before is intact (its sealed seed
/// still opens), and the legacy one was upgraded on its first open.
async fn reopened(store: &Store, kept: TenantId, kept_user: UserId, legacy: (TenantId, UserId)) {
    let db = store.tenant(&scope(kept)).await.expect("open kept");
    let seed = db
        .auth()
        .totp_secret(kept_user)
        .await
        .expect("q")
        .expect("seed");
    assert_eq!(seed.expose(), b"kept-seed");
    assert_eq!(db.list_users().await.expect("users").len(), 1);

    let (id, user) = legacy;
    let db = store.tenant(&scope(id)).await.expect("open legacy");
    let version: i64 = on_raw!(db, |p| sqlx::query_scalar(
        "SELECT MAX(version) FROM citadel_migrations"
    )
    .fetch_one(p)
    .await
    .expect("version"));
    assert_eq!(
        version, 8,
        "the identity, data model, permission group, duty, seal, sealed-revision and schema-version migrations ran on open"
    );
    let login = LoginName::parse(LEGACY_LOGIN).expect("login");
    let old = db
        .auth()
        .find_user_by_login(&login)
        .await
        .expect("q")
        .expect("the old user is kept");
    assert_eq!(old.id, user);
    assert_eq!(old.password_changed_at, LEGACY_CREATED);
    assert_eq!((old.failed_logins, old.locked_until), (0, None));
    assert!(old.display_name.is_none() && old.department.is_none() && !old.totp_enabled);
    assert_eq!(
        db.password_history(user, 5).await.expect("h"),
        ["$argon2id$old"]
    );
    assert!(db.list_sessions(user).await.expect("list").is_empty());
    db.auth()
        .create_session(&token_hash("new"), user, &client())
        .await
        .expect("session");
    let d = db.create_department(&name("New"), None).await.expect("d");
    db.create_user(&member("new@legacy.cn", Some(d.id)))
        .await
        .expect("user");
    assert_eq!(db.list_users().await.expect("users").len(), 2);
}

async fn all(config: StoreConfig) {
    let key = Arc::new(LocalKms::generate());
    let store = Store::open(&config, key.clone()).await.expect("open");
    lockout(&store).await;
    passwords(&store).await;
    users(&store).await;
    departments(&store).await;

    let (kept, kept_user) = tenant(&store, "kept").await;
    kept.set_pending_totp(kept_user, &SecretBytes::new(b"kept-seed".to_vec()))
        .await
        .expect("pending");
    let (_, sealed) = kept
        .pending_totp(kept_user)
        .await
        .expect("q")
        .expect("pending");
    kept.confirm_totp(kept_user, &sealed, 1, &[])
        .await
        .expect("confirm");
    let legacy = legacy_tenant(&store).await;
    let kept = kept.tenant();
    store.close().await;
    drop(store);

    let store = Store::open(&config, key).await.expect("reopen");
    reopened(&store, kept, kept_user, legacy).await;
    store.close().await;
}

#[tokio::test]
async fn identity_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    all(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn identity_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    all(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
