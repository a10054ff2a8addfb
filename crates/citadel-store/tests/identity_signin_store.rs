//! The tenant identity store on SQLite and on the machine's PostgreSQL,
//! continued: sessions, access tokens and second factors (the TOTP seed
//! sealed at rest), then the sign-in log, usual networks, security events,
//! notifications, IP bans and the tenant's security policy.

use std::net::IpAddr;

use citadel_core::{
    Email, EntryId, IpPrefix, LoginName, SecurityPolicy, SessionId, TokenId, TotpRequirement,
    UserId,
};
use citadel_crypto::token::token_hash;
use citadel_crypto::{LocalKms, SecretBytes};
use citadel_store::{
    AccessTokenRecord, ClientInfo, IpBan, NewUser, Page, Store, StoreConfig, TenantDb, now_millis,
};
use common::{
    assert_conflict, assert_not_found, client, fresh_tenant, name, postgres_config, sqlite_config,
    tick, user,
};

mod common;

/// A fresh tenant `<name>` with its first admin `root@<name>.cn`, and a
/// second user `bob@<name>.cn`.
async fn tenant(store: &Store, name: &str) -> (TenantDb, UserId, UserId) {
    let (db, root) = fresh_tenant(store, name).await;
    let email = Email::parse(&format!("bob@{name}.cn")).expect("email");
    let bob = NewUser {
        id: UserId::generate(),
        login: LoginName::from(&email),
        email,
        display_name: None,
        department: None,
        password_hash: "$argon2id$bob".into(),
        must_change_password: false,
        duties: citadel_core::Duties::NONE,
        protected: false,
    };
    db.create_user(&bob).await.expect("bob");
    (db, root, bob.id)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// The newest `limit` entries.
fn newest(limit: u32) -> Page {
    Page {
        before: None,
        limit,
    }
}

async fn credentials(store: &Store) {
    let (db, root, bob) = tenant(store, "credentials").await;
    let auth = db.auth();
    let phone = ClientInfo {
        ip: ip("2001:db8::7"),
        user_agent: "ü".repeat(300),
    };
    let s1 = auth
        .create_session(&token_hash("root-1"), root, &client())
        .await
        .expect("s1");
    let s2 = auth
        .create_session(&token_hash("root-2"), root, &phone)
        .await
        .expect("s2");
    let sb = auth
        .create_session(&token_hash("bob-1"), bob, &client())
        .await
        .expect("sb");
    let listed = db.list_sessions(root).await.expect("list");
    assert_eq!(listed.len(), 2);
    let one = listed.iter().find(|s| s.id == s1).expect("s1 listed");
    assert_eq!(
        (one.ip.as_str(), one.user_agent.as_str()),
        ("127.0.0.1", "store-tests")
    );
    assert_eq!(one.token_hash, token_hash("root-1"));
    let two = listed.iter().find(|s| s.id == s2).expect("s2 listed");
    assert_eq!(two.ip, "2001:db8::7");
    assert_eq!(two.user_agent.chars().count(), 256, "long agents are cut");
    let later = one.last_seen_at + 5_000;
    auth.touch_session(&token_hash("root-1"), later)
        .await
        .expect("touch");
    let found = auth.find_session(&token_hash("root-1")).await.expect("q");
    assert_eq!(
        found.map(|s| (s.owner, s.last_seen_at)),
        Some((root, later))
    );
    assert_not_found(db.revoke_session(root, sb).await);
    assert_not_found(db.revoke_session(root, SessionId::generate()).await);
    let bobs_session = auth.find_session(&token_hash("bob-1")).await;
    assert!(bobs_session.expect("q").is_some(), "bob's session survives");
    db.revoke_session(root, s2).await.expect("revoke");
    assert_eq!(db.list_sessions(root).await.expect("list").len(), 1);

    let now = now_millis();
    let token = |user, label: &str| AccessTokenRecord {
        id: TokenId::generate(),
        user,
        name: name(label),
        created_at: now,
        expires_at: now + 86_400_000,
        last_used_at: None,
    };
    let ci = token(root, "CI");
    db.create_access_token(&ci, &token_hash("pat-ci"))
        .await
        .expect("ci");
    let clash = token(root, "Dup");
    assert_conflict(db.create_access_token(&clash, &token_hash("pat-ci")).await);
    let bobs = token(bob, "Bob");
    db.create_access_token(&bobs, &token_hash("pat-bob"))
        .await
        .expect("bob");
    let mine = db.list_access_tokens(root).await.expect("list");
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].id, mine[0].name.as_str()), (ci.id, "CI"));
    assert_eq!(
        (mine[0].expires_at, mine[0].last_used_at),
        (ci.expires_at, None)
    );
    let find = async |secret: &str| {
        let found = auth.find_access_token(&token_hash(secret)).await;
        found.expect("find token")
    };
    let found = find("pat-ci").await;
    assert_eq!(found.map(|t| (t.id, t.user)), Some((ci.id, root)));
    assert!(find("no").await.is_none());
    auth.touch_access_token(ci.id, now + 5)
        .await
        .expect("touch");
    let touched = find("pat-ci").await;
    assert_eq!(touched.and_then(|t| t.last_used_at), Some(now + 5));
    assert_not_found(db.revoke_access_token(root, bobs.id).await);
    assert!(find("pat-bob").await.is_some(), "bob's token survives");
    db.revoke_access_token(root, ci.id).await.expect("revoke");
    assert!(find("pat-ci").await.is_none());
    assert!(db.list_access_tokens(root).await.expect("list").is_empty());

    totp(&db, root, bob).await;
}

/// The raw bytes of a sealed TOTP column, as the database holds them.
async fn raw_totp(db: &TenantDb, user: UserId, column: &str) -> Option<Vec<u8>> {
    let sql = format!("SELECT {column} FROM users WHERE id = $1");
    on_raw!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(user.to_string())
        .fetch_one(p)
        .await
        .expect("raw read"))
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn totp(db: &TenantDb, root: UserId, bob: UserId) {
    let auth = db.auth();
    let seed = b"twenty-byte-seed-abc".to_vec();
    assert!(auth.totp_secret(root).await.expect("q").is_none());
    assert_not_found(db.confirm_totp(root, b"none pending", 1, &[]).await);
    db.set_pending_totp(root, &SecretBytes::new(seed.clone()))
        .await
        .expect("pending");
    let (pending, sealed) = db.pending_totp(root).await.expect("q").expect("pending");
    assert_eq!(pending.expose(), seed.as_slice());
    assert!(auth.totp_secret(root).await.expect("q").is_none());
    assert!(!user(db, root).await.totp_enabled);
    let raw = raw_totp(db, root, "totp_pending").await.expect("sealed");
    assert!(!holds(&raw, &seed), "the pending seed is sealed");
    let nobody = SecretBytes::new(seed.clone());
    assert_not_found(db.set_pending_totp(UserId::generate(), &nobody).await);

    let codes = [
        token_hash("code-1"),
        token_hash("code-2"),
        token_hash("code-3"),
    ];
    // Confirmation names the pending seed it checked the code against: a
    // seed replaced meanwhile is not confirmed.
    assert_not_found(db.confirm_totp(root, b"another seal", 1_000, &codes).await);
    assert!(!user(db, root).await.totp_enabled);
    db.confirm_totp(root, &sealed, 1_000, &codes)
        .await
        .expect("confirm");
    let secret = auth.totp_secret(root).await.expect("q").expect("seed");
    assert_eq!(secret.expose(), seed.as_slice());
    assert!(db.pending_totp(root).await.expect("q").is_none());
    assert!(user(db, root).await.totp_enabled);
    let raw = raw_totp(db, root, "totp_secret").await.expect("sealed");
    assert!(
        raw.len() > seed.len() && !holds(&raw, &seed),
        "sealed at rest"
    );
    // The seal is bound to its user: copied onto another row, it won't open.
    on_raw!(db, |p| sqlx::query(
        "UPDATE users SET totp_secret = $1 WHERE id = $2"
    )
    .bind(&raw)
    .bind(bob.to_string())
    .execute(p)
    .await
    .expect("copy")
    .rows_affected());
    assert!(
        auth.totp_secret(bob).await.is_err(),
        "a moved seal is refused"
    );

    for (step, accepted) in [
        (1_000, false),
        (999, false),
        (1_001, true),
        (1_001, false),
        (1_005, true),
    ] {
        assert_eq!(
            auth.accept_totp_step(root, step).await.expect("step"),
            accepted,
            "{step}"
        );
    }
    assert_eq!(db.recovery_codes_left(root).await.expect("left"), 3);
    assert!(auth.use_recovery_code(root, &codes[0]).await.expect("use"));
    let used = auth.use_recovery_code(root, &codes[0]).await;
    assert!(!used.expect("reuse"), "a code works once");
    let bobs = auth.use_recovery_code(bob, &codes[1]).await;
    assert!(!bobs.expect("bob"), "root's codes are not bob's");
    assert_eq!(db.recovery_codes_left(root).await.expect("left"), 2);
    db.replace_recovery_codes(root, &[token_hash("fresh")])
        .await
        .expect("replace");
    assert!(!auth.use_recovery_code(root, &codes[1]).await.expect("old"));
    assert_eq!(db.recovery_codes_left(root).await.expect("left"), 1);

    // A new enrolment leaves the confirmed seed in force until confirmed.
    db.set_pending_totp(root, &SecretBytes::new(b"another-seed".to_vec()))
        .await
        .expect("pending");
    let still = auth.totp_secret(root).await.expect("q").expect("seed");
    assert_eq!(still.expose(), seed.as_slice());
    db.remove_totp(root).await.expect("remove");
    assert!(auth.totp_secret(root).await.expect("q").is_none());
    assert!(db.pending_totp(root).await.expect("q").is_none());
    assert!(!user(db, root).await.totp_enabled);
    assert_eq!(db.recovery_codes_left(root).await.expect("left"), 0);
    assert_not_found(db.remove_totp(UserId::generate()).await);
}

async fn attempts(store: &Store) {
    let (db, root, bob) = tenant(store, "attempts").await;
    let auth = db.auth();
    for i in 0..5 {
        auth.record_attempt(
            &client(),
            "root@attempts.cn",
            Some(root),
            &format!("bad-{i}"),
        )
        .await
        .expect("record");
    }
    auth.record_attempt(&client(), "nobody@attempts.cn", None, "unknown_login")
        .await
        .expect("record");
    let phone = ClientInfo {
        ip: ip("2001:db8::1"),
        user_agent: "phone".into(),
    };
    auth.record_attempt(&phone, &"b".repeat(100), Some(bob), "success")
        .await
        .expect("record");

    // One user's attempts, two a page, newest first, by cursor.
    let (mut seen, mut before) = (Vec::new(), None);
    for _ in 0..5 {
        let page = db
            .login_attempts(Some(root), &Page { before, limit: 2 })
            .await
            .expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page);
    }
    let outcomes: Vec<&str> = seen.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["bad-4", "bad-3", "bad-2", "bad-1", "bad-0"]);
    assert!(
        seen.windows(2)
            .all(|w| w[0].id > w[1].id && w[0].at >= w[1].at)
    );
    assert!(seen.iter().all(|a| a.user == Some(root)
        && a.ip == "127.0.0.1"
        && a.user_agent == "store-tests"
        && a.login == "root@attempts.cn"));

    let everyone = db.login_attempts(None, &newest(100)).await.expect("all");
    assert_eq!(everyone.len(), 7);
    assert_eq!(
        (everyone[0].user, everyone[0].outcome.as_str()),
        (Some(bob), "success")
    );
    assert_eq!(everyone[0].ip, "2001:db8::1");
    assert_eq!(everyone[0].login.chars().count(), 64, "long logins are cut");
    assert_eq!(
        (everyone[1].user, everyone[1].login.as_str()),
        (None, "nobody@attempts.cn")
    );
    let bobs = db
        .login_attempts(Some(bob), &newest(100))
        .await
        .expect("bob's");
    assert_eq!(bobs.len(), 1);
    let one = db.login_attempts(None, &newest(0)).await.expect("clamped");
    assert_eq!(one.len(), 1, "a page holds at least one entry");

    // Usual networks: the first is not an anomaly, a new one is, once.
    let home = IpPrefix::usual_for(ip("203.0.113.7"));
    let travel = IpPrefix::usual_for(ip("198.51.100.1"));
    assert!(!auth.observe_network(root, &home).await.expect("first"));
    tick().await;
    let same = IpPrefix::usual_for(ip("203.0.113.200"));
    assert!(!auth.observe_network(root, &same).await.expect("same /24"));
    tick().await;
    assert!(auth.observe_network(root, &travel).await.expect("new"));
    assert!(!auth.observe_network(root, &travel).await.expect("known"));
    let bobs_first = auth.observe_network(bob, &travel).await;
    assert!(!bobs_first.expect("bob's first"), "per user");
    // Only the 20 most recent are remembered: after 20 new ones, home and
    // travel are forgotten and unusual again.
    for i in 0..20u8 {
        tick().await;
        let net = IpPrefix::usual_for(IpAddr::from([10, 0, i, 1]));
        assert!(auth.observe_network(root, &net).await.expect("new"), "{i}");
    }
    assert!(auth.observe_network(root, &home).await.expect("forgotten"));
    let bobs_again = auth.observe_network(bob, &travel).await;
    assert!(!bobs_again.expect("bob's"), "bob keeps his own");
}

async fn events_and_notifications(store: &Store) {
    let (db, root, bob) = tenant(store, "events").await;
    let auth = db.auth();
    let detail = serde_json::json!({ "until": 42, "why": "five failures" });
    auth.security_event("account_locked", Some(root), Some(ip("127.0.0.1")), &detail)
        .await
        .expect("event");
    auth.security_event("policy_changed", None, None, &serde_json::json!({}))
        .await
        .expect("event");
    let events = db.security_events(&newest(10)).await.expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].kind.as_str(), events[0].user),
        ("policy_changed", None)
    );
    assert_eq!(
        (events[0].ip.as_deref(), events[0].detail.as_str()),
        (None, "{}")
    );
    assert_eq!(
        (events[1].kind.as_str(), events[1].user),
        ("account_locked", Some(root))
    );
    assert_eq!(events[1].ip.as_deref(), Some("127.0.0.1"));
    let stored: serde_json::Value = serde_json::from_str(&events[1].detail).expect("json");
    assert_eq!(stored, detail);
    let older = db
        .security_events(&Page {
            before: Some(events[0].id),
            limit: 10,
        })
        .await
        .expect("older");
    assert_eq!(
        older.iter().map(|e| e.id).collect::<Vec<_>>(),
        [events[1].id]
    );

    auth.notify(root, "new_network", "New sign-in", "From 198.51.100.1")
        .await
        .expect("notify");
    auth.notify(root, "locked", "Locked", "Five failures")
        .await
        .expect("notify");
    auth.notify(bob, "locked", "Bob's", "Not root's")
        .await
        .expect("notify");
    let mine = db.notifications(root, &newest(10)).await.expect("mine");
    let titles: Vec<&str> = mine.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["Locked", "New sign-in"]);
    assert_eq!(
        (mine[1].kind.as_str(), mine[1].body.as_str()),
        ("new_network", "From 198.51.100.1")
    );
    assert!(mine.iter().all(|n| n.read_at.is_none()));
    let page = Page {
        before: Some(mine[0].id),
        limit: 10,
    };
    let older = db.notifications(root, &page).await.expect("older");
    assert_eq!(older.iter().map(|n| n.id).collect::<Vec<_>>(), [mine[1].id]);
    let bobs = db.notifications(bob, &newest(10)).await.expect("bob's");
    assert_eq!(bobs.len(), 1);
    assert_not_found(db.mark_notification_read(root, bobs[0].id).await);
    assert_not_found(db.mark_notification_read(root, EntryId::generate()).await);
    db.mark_notification_read(root, mine[1].id)
        .await
        .expect("read");
    let read_at = async |id| {
        let list = db.notifications(root, &newest(10)).await.expect("list");
        list.into_iter()
            .find(|n| n.id == id)
            .and_then(|n| n.read_at)
    };
    let first = read_at(mine[1].id).await;
    assert!(first.is_some());
    assert_eq!(read_at(mine[0].id).await, None, "only the one marked");
    tick().await;
    db.mark_notification_read(root, mine[1].id)
        .await
        .expect("again");
    assert_eq!(read_at(mine[1].id).await, first, "the first time stays");
    let bobs = db.notifications(bob, &newest(10)).await.expect("bob's");
    assert_eq!(bobs[0].read_at, None, "bob's is untouched");
}

async fn bans_and_policy(store: &Store) {
    let (db, root, _) = tenant(store, "bans").await;
    let auth = db.auth();
    let now = now_millis();
    let ban = |prefix: &str, expires_at| IpBan {
        id: EntryId::generate(),
        prefix: prefix.parse().expect("prefix"),
        reason: format!("abuse from {prefix}"),
        created_at: now,
        created_by: Some(root),
        expires_at,
    };
    let office = ban("203.0.113.0/24", None);
    let old = ban("198.51.100.0/24", Some(now - 1));
    let v6 = ban("2001:db8::/32", Some(now + 60_000));
    for b in [&office, &old, &v6] {
        db.create_ip_ban(b).await.expect("ban");
    }
    // The same network written another way is the same ban.
    assert_conflict(db.create_ip_ban(&ban("203.0.113.9/24", None)).await);
    let listed = db.list_ip_bans().await.expect("list");
    assert_eq!(listed.len(), 3);
    let o = listed.iter().find(|b| b.id == office.id).expect("listed");
    assert_eq!(
        (o.prefix, o.created_by, o.expires_at),
        (office.prefix, Some(root), None)
    );
    assert_eq!(o.reason, "abuse from 203.0.113.0/24");

    let covering = async |addr: &str, at| {
        let found = auth.ban_covering(ip(addr), at).await;
        found.expect("ban covering").map(|b| b.id)
    };
    assert_eq!(covering("203.0.113.77", now).await, Some(office.id));
    assert_eq!(covering("::ffff:203.0.113.5", now).await, Some(office.id));
    assert_eq!(covering("198.51.100.5", now).await, None, "expired");
    assert_eq!(covering("198.51.100.5", now - 2).await, Some(old.id));
    assert_eq!(covering("2001:db8:1::1", now).await, Some(v6.id));
    assert_eq!(covering("2001:db8:1::1", now + 60_000).await, None);
    assert_eq!(covering("192.0.2.1", now).await, None);

    let lifted = db.delete_ip_ban(office.id).await.expect("delete");
    assert_eq!(
        lifted,
        "203.0.113.0/24".parse::<IpPrefix>().expect("prefix")
    );
    assert_not_found(db.delete_ip_ban(office.id).await);
    assert_eq!(covering("203.0.113.77", now).await, None);
    assert_eq!(db.list_ip_bans().await.expect("list").len(), 2);

    assert_eq!(
        auth.security_policy().await.expect("p"),
        SecurityPolicy::default()
    );
    let strict = SecurityPolicy {
        password_max_age_days: 30,
        password_history: 10,
        max_failed_logins: 3,
        lockout_minutes: 60,
        require_totp: TotpRequirement::Everyone,
    };
    db.set_security_policy(&strict).await.expect("save");
    assert_eq!(auth.security_policy().await.expect("p"), strict);
    let relaxed = SecurityPolicy {
        require_totp: TotpRequirement::Admins,
        ..strict
    };
    db.set_security_policy(&relaxed).await.expect("save again");
    assert_eq!(db.security_policy().await.expect("p"), relaxed);
}

async fn all(config: StoreConfig) {
    let store = Store::open(&config, std::sync::Arc::new(LocalKms::generate()))
        .await
        .expect("open");
    credentials(&store).await;
    attempts(&store).await;
    events_and_notifications(&store).await;
    bans_and_policy(&store).await;
    store.close().await;
}

#[tokio::test]
async fn credentials_and_signin_log_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    all(sqlite_config(&dir)).await;
}

#[tokio::test]
async fn credentials_and_signin_log_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    all(postgres_config(&dir, &db)).await;
    db.drop_now().await;
}
