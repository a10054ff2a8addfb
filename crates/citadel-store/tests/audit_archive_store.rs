//! Retention on both backends: events past a cutoff move to compressed
//! archive segments, the log still verifies against its signed heads
//! (archived events checked one by one), proofs still reach archived
//! leaves, numbering goes on after them, a changed or deleted segment is
//! found at its first event, and a changed event is never archived.

mod common;

use std::time::Duration;

use citadel_audit::{AuditError, AuditEvent, Outcome, Tamper};
use citadel_core::CryptoSuite;
use citadel_store::{CheckpointPolicy, EventQuery, Store, StoreConfig, StoreError, TenantDb};
use common::{admin, platform, postgres_config, scope, slug, sqlite_config};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn event(at_ms: i64, n: u64) -> AuditEvent {
    AuditEvent {
        seq: 0,
        at_ms,
        actor_id: Some("u-1".into()),
        actor_name: Some("审计员".into()),
        actor_ip: Some("192.0.2.7".into()),
        user_agent: None,
        request_id: Some(format!("req-{n}")),
        action: "record.update".into(),
        targets: vec![format!("record:{n}")],
        outcome: Outcome::Success,
        detail: r#"{"fields":["状态"]}"#.into(),
    }
}

/// The tenant's log: 7,000 events 400 days old, then 500 of today.
async fn aged_log(store: &Store) -> (TenantDb, i64) {
    store.set_checkpoint_policy(CheckpointPolicy {
        every_events: 1_000,
        every: Duration::from_millis(100),
    });
    let created = store
        .create_tenant(
            &platform(),
            &slug("aged"),
            CryptoSuite::Sm,
            &admin("a@aged.cn"),
        )
        .await
        .expect("create");
    let db = store.tenant(&scope(created.tenant.id)).await.expect("open");
    let now = citadel_store::now_millis();
    let trail = db.audit().clone();
    let mut tasks = Vec::new();
    for n in 0..7_500u64 {
        let at = if n < 7_000 {
            now - 400 * DAY_MS + n as i64
        } else {
            now
        };
        let trail = trail.clone();
        tasks.push(tokio::spawn(
            async move { trail.record(event(at, n)).await },
        ));
        if tasks.len() == 500 {
            for task in tasks.drain(..) {
                task.await.expect("join").expect("record");
            }
        }
    }
    for task in tasks {
        task.await.expect("join").expect("record");
    }
    // Heads every 1,000 events and on the timer: wait for the last one.
    for _ in 0..100 {
        let head = db.audit().latest_head().await.expect("head");
        if head.is_some_and(|h| h.head.size == 7_500) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (db, now)
}

/// Runs `sql` on the tenant's archive table (`{archive}` in it) beside the
/// server: on the SQLite file, or as PostgreSQL's superuser.
async fn tamper(
    config: &StoreConfig,
    pg: Option<&citadel_testkit::TestDatabase>,
    tenant: citadel_core::TenantId,
    sql: String,
) {
    match pg {
        None => {
            let path = config
                .data_dir
                .join("tenants")
                .join(tenant.to_string())
                .join("audit.db");
            citadel_testkit::sqlite_exec(&path, &sql.replace("{archive}", "audit_archive")).await;
        }
        Some(pg) => {
            let archive = format!("citadel_audit.t_{}_archive", tenant.simple());
            pg.as_superuser(&sql.replace("{archive}", &archive)).await;
        }
    }
}

async fn retention(config: StoreConfig, pg: Option<&citadel_testkit::TestDatabase>) {
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, now) = aged_log(&store).await;
    let trail = db.audit();
    let before = trail.inclusion_proof(123, None).await.expect("proof");

    let done = trail
        .archive_before(now - 365 * DAY_MS)
        .await
        .expect("archive");
    assert_eq!((done.segments, done.events), (2, 7_000));
    assert_eq!(trail.live_from().await.expect("live"), 7_000);
    assert_eq!(trail.size().await.expect("size"), 7_500);
    // Nothing more is old enough.
    let again = trail
        .archive_before(now - 365 * DAY_MS)
        .await
        .expect("again");
    assert_eq!(again.events, 0);

    // The whole log still verifies; proofs reach archived leaves.
    let verified = trail.verify().await.expect("intact");
    assert_eq!(verified.events, 7_500);
    let after = trail
        .inclusion_proof(123, Some(before.head.head.size))
        .await
        .expect("proof");
    assert_eq!((after.leaf, after.path), (before.leaf, before.path));
    // Searching sees the live events only; numbering goes on.
    let page = trail
        .search(&EventQuery {
            limit: 500,
            ..EventQuery::default()
        })
        .await
        .expect("search");
    assert!(page.iter().all(|e| e.event.seq >= 7_000));
    let seq = trail.record(event(now, 9_999)).await.expect("record");
    assert_eq!(seq, 7_500);
    for _ in 0..100 {
        let head = trail.latest_head().await.expect("head");
        if head.is_some_and(|h| h.head.size == 7_501) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let proof = trail
        .consistency_proof(7_500, None)
        .await
        .expect("a consistency proof over archived leaves");
    assert_eq!(proof.second.head.size, 7_501);
    assert!(!proof.path.is_empty());

    // A segment changed or removed beside the server is found at its
    // first event: its bytes on SQLite, its row as the owner on PostgreSQL.
    let tenant = db.tenant();
    let drop_triggers = if pg.is_none() {
        "DROP TRIGGER audit_archive_not_updated; DROP TRIGGER audit_archive_not_deleted; "
    } else {
        ""
    };
    tamper(&config, pg, tenant, format!(
        "{drop_triggers}UPDATE {{archive}} SET data = substr(data, 1, length(data) - 3) WHERE first_seq = 5000"
    ))
    .await;
    match trail.verify().await {
        Err(StoreError::Audit(AuditError::Tampered {
            seq: 5_000,
            what: Tamper::LeafChanged,
        })) => {}
        other => panic!("a truncated segment must be found at 5000: {other:?}"),
    }
    tamper(
        &config,
        pg,
        tenant,
        "DELETE FROM {archive} WHERE first_seq = 5000".to_owned(),
    )
    .await;
    match trail.verify().await {
        Err(StoreError::Audit(AuditError::Tampered {
            seq: 5_000,
            what: Tamper::OutOfOrder { found: 7_000 },
        })) => {}
        other => panic!("a deleted segment must be found at 5000: {other:?}"),
    }
    store.close().await;
}

#[tokio::test]
async fn retention_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    retention(sqlite_config(&dir), None).await;
}

#[tokio::test]
async fn retention_on_postgres() {
    let db = citadel_testkit::TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    retention(postgres_config(&dir, &db), Some(&db)).await;
    db.drop_now().await;
}

/// A changed event stays where it is: archiving stops before it.
#[tokio::test]
async fn a_changed_event_is_never_archived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sqlite_config(&dir);
    let store = Store::open(&config, common::master_key())
        .await
        .expect("open");
    let (db, now) = aged_log(&store).await;
    let path = config
        .data_dir
        .join("tenants")
        .join(db.tenant().to_string())
        .join("audit.db");
    citadel_testkit::sqlite_exec(
        &path,
        "DROP TRIGGER audit_events_not_updated; UPDATE audit_events SET action = 'x' WHERE seq = 6100",
    )
    .await;
    match db.audit().archive_before(now - 365 * DAY_MS).await {
        Err(StoreError::Audit(AuditError::Tampered {
            seq: 6_100,
            what: Tamper::LeafChanged,
        })) => {}
        other => panic!("archiving must stop at the changed event: {other:?}"),
    }
    // The intact segment before it was archived; the changed event is
    // still live, and the check still names it.
    assert_eq!(db.audit().live_from().await.expect("live"), 5_000);
    match db.audit().verify().await {
        Err(StoreError::Audit(AuditError::Tampered { seq: 6_100, .. })) => {}
        other => panic!("{other:?}"),
    }
    store.close().await;
}
