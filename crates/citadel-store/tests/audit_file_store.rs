//! A tenant's audit file: events numbered in order and kept as written,
//! UPDATE and DELETE refused by the file itself, and every kind of
//! change made to the file beside the server (a field, a deleted,
//! inserted or swapped event, a lost tail) found at its first event.

use citadel_audit::{
    AuditError, AuditEvent, Outcome, SignedTreeHead, Tamper, TreeHash, TreeHead, Verified,
};
use citadel_crypto::Suite;
use citadel_crypto::suite::SigningKey;
use citadel_store::{AuditLog, AuditWriter, StoreError};
use rusqlite::Connection;

const TENANT: [u8; 16] = [9; 16];

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        seq: 0,
        at_ms: 1_795_000_000_000 + n as i64,
        actor_id: Some(format!("user-{}", n % 5)),
        actor_name: Some("张三".into()),
        actor_ip: Some("192.0.2.7".into()),
        user_agent: Some("curl/8".into()),
        request_id: Some(format!("req-{n}")),
        action: if n.is_multiple_of(3) {
            "auth.login"
        } else {
            "record.update"
        }
        .into(),
        targets: vec![format!("t-{n}")],
        outcome: if n.is_multiple_of(10) {
            Outcome::Denied
        } else {
            Outcome::Success
        },
        detail: format!(r#"{{"n":{n}}}"#),
    }
}

/// The audit file in `dir`, created on first open.
async fn open(dir: &tempfile::TempDir) -> AuditLog {
    AuditLog::open_file(&dir.path().join("audit.db"), TreeHash::Sha256)
        .await
        .expect("open")
}

/// The head of the first `size` events of `file`, signed with `key`.
async fn sign_head(file: &AuditLog, size: u64, key: &SigningKey) -> SignedTreeHead {
    let leaves = file.leaves(0..size).await.expect("leaves");
    let head = TreeHead {
        tenant: TENANT,
        hash: TreeHash::Sha256,
        size,
        root: TreeHash::Sha256.root(&leaves),
        at_ms: 1_795_000_500_000,
    };
    head.sign(key)
}

/// A file of 1,200 events appended in batches, and heads signed at 600
/// and 1,000 events.
async fn log(dir: &tempfile::TempDir, key: &SigningKey) -> (AuditLog, Vec<SignedTreeHead>) {
    let file = open(dir).await;
    let mut heads = Vec::new();
    for batch in 0..6u64 {
        let events = (batch * 200..(batch + 1) * 200).map(event).collect();
        let (seqs, leaves) = file.append(events).await.expect("append");
        assert_eq!(seqs, batch * 200..(batch + 1) * 200);
        assert_eq!(leaves.len(), 200);
        let size = file.size().await.expect("size");
        if size == 600 || size == 1_000 {
            heads.push(sign_head(&file, size, key).await);
        }
    }
    (file, heads)
}

fn raw(dir: &tempfile::TempDir) -> Connection {
    Connection::open(dir.path().join("audit.db")).expect("raw open")
}

/// The file as an attacker with access to it would change it: the
/// triggers dropped first.
fn tamper(dir: &tempfile::TempDir, sql: &str) {
    raw(dir)
        .execute_batch(&format!(
            "DROP TRIGGER audit_events_not_updated; DROP TRIGGER audit_events_not_deleted; {sql}"
        ))
        .expect("tamper");
}

async fn checked(
    dir: &tempfile::TempDir,
    key: &SigningKey,
    heads: &[SignedTreeHead],
) -> Result<Verified, AuditError> {
    let file = open(dir).await;
    file.check(TENANT, &key.public_key(), heads)
        .await
        .map_err(|e| match e {
            StoreError::Audit(e) => e,
            other => panic!("not an audit finding: {other}"),
        })
}

async fn setup() -> (tempfile::TempDir, SigningKey, Vec<SignedTreeHead>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _) = SigningKey::generate(Suite::Intl);
    let (_, heads) = log(&dir, &key).await;
    (dir, key, heads)
}

fn found(seq: u64, what: Tamper) -> Result<Verified, AuditError> {
    Err(AuditError::Tampered { seq, what })
}

#[tokio::test(flavor = "current_thread")]
async fn events_come_back_as_written_and_the_file_refuses_changes() {
    let (dir, key, heads) = setup().await;
    let file = open(&dir).await;
    let read = file.events(595, 10).await.expect("events");
    assert_eq!(read.len(), 10);
    for (n, stored) in read.iter().enumerate() {
        let want = AuditEvent {
            seq: 595 + n as u64,
            ..event(595 + n as u64)
        };
        assert_eq!(stored.event, want);
        assert_eq!(stored.leaf, want.leaf(TreeHash::Sha256));
    }
    let verified = Verified {
        events: 1_200,
        signed_size: 1_000,
    };
    assert_eq!(checked(&dir, &key, &heads).await, Ok(verified));
    let conn = raw(&dir);
    for sql in [
        "UPDATE audit_events SET outcome = 'success' WHERE seq = 10",
        "DELETE FROM audit_events WHERE seq = 1199",
    ] {
        let refused = conn.execute(sql, []).expect_err(sql);
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    assert_eq!(checked(&dir, &key, &heads).await, Ok(verified));
}

#[tokio::test(flavor = "current_thread")]
async fn changes_made_beside_the_server_are_found_at_their_first_event() {
    let cases: [(&str, Result<Verified, AuditError>); 6] = [
        (
            "UPDATE audit_events SET outcome = 'success' WHERE seq = 730",
            found(730, Tamper::LeafChanged),
        ),
        (
            "UPDATE audit_events SET targets = 'not json' WHERE seq = 20",
            found(20, Tamper::LeafChanged),
        ),
        (
            "DELETE FROM audit_events WHERE seq = 444",
            found(444, Tamper::OutOfOrder { found: 445 }),
        ),
        (
            // A copy of event 300 inserted before it, the later events
            // renumbered to make room.
            "UPDATE audit_events SET seq = seq + 100000 WHERE seq >= 300; \
             UPDATE audit_events SET seq = seq - 99999 WHERE seq >= 100000; \
             INSERT INTO audit_events SELECT 300, at_ms, actor_id, actor_name, actor_ip, \
             user_agent, request_id, action, targets, outcome, detail, leaf \
             FROM audit_events WHERE seq = 301;",
            found(301, Tamper::LeafChanged),
        ),
        (
            "UPDATE audit_events SET seq = -1 WHERE seq = 5; \
             UPDATE audit_events SET seq = 5 WHERE seq = 6; \
             UPDATE audit_events SET seq = 6 WHERE seq = -1;",
            found(5, Tamper::LeafChanged),
        ),
        (
            "DELETE FROM audit_events WHERE seq >= 800",
            found(800, Tamper::Missing { head_size: 1_000 }),
        ),
    ];
    for (sql, want) in cases {
        let (dir, key, heads) = setup().await;
        tamper(&dir, sql);
        assert_eq!(checked(&dir, &key, &heads).await, want, "{sql}");
    }
}

/// A changed field whose stored leaf was rebuilt to match: the signed
/// root at the next head no longer does.
#[tokio::test(flavor = "current_thread")]
async fn a_field_changed_with_its_leaf_is_found_by_the_signed_root() {
    let (dir, key, heads) = setup().await;
    let file = open(&dir).await;
    let mut forged = file.events(700, 1).await.expect("event").remove(0).event;
    drop(file);
    forged.outcome = Outcome::Error;
    let leaf = hex::encode(forged.leaf(TreeHash::Sha256));
    tamper(
        &dir,
        &format!("UPDATE audit_events SET outcome = 'error', leaf = x'{leaf}' WHERE seq = 700"),
    );
    assert_eq!(
        checked(&dir, &key, &heads).await,
        found(600, Tamper::RootChanged { head_size: 1_000 })
    );
}

/// Events recorded at once from many tasks are committed in groups: each
/// gets its own sequence number, none is lost, and the file checks out.
#[tokio::test]
async fn concurrent_events_are_grouped_numbered_once_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::sync::Arc::new(open(&dir).await);
    let writer = AuditWriter::start(file.clone()).expect("writer");
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..250 {
                    seqs.push(
                        writer
                            .record(event(task * 1_000 + n))
                            .await
                            .expect("record"),
                    );
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..4_000).collect::<Vec<u64>>());
    assert_eq!(file.size().await.expect("size"), 4_000);
    let (key, _) = SigningKey::generate(Suite::Intl);
    let head = sign_head(&file, 4_000, &key).await;
    let verified = file.check(TENANT, &key.public_key(), &[head]).await;
    assert_eq!(verified.expect("check").signed_size, 4_000);
}

/// A commit that fails fails every event in it: nothing is recorded and
/// each caller is told.
#[tokio::test]
async fn an_event_that_cannot_be_written_fails_its_caller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::sync::Arc::new(open(&dir).await);
    let writer = AuditWriter::start(file.clone()).expect("writer");
    assert_eq!(writer.record(event(1)).await.expect("record"), 0);
    raw(&dir)
        .execute_batch("CREATE TABLE kept AS SELECT * FROM audit_events; DROP TABLE audit_events;")
        .expect("break the file");
    let refused = writer.record(event(2)).await;
    assert!(
        matches!(refused, Err(StoreError::CommitFailed(_))),
        "{refused:?}"
    );
}
