use citadel_crypto::Suite;
use citadel_crypto::suite::SigningKey;

use super::*;
use crate::{Outcome, TreeHead};

const TENANT: [u8; 16] = [3; 16];

fn event(seq: u64) -> AuditEvent {
    AuditEvent {
        seq,
        at_ms: 1_795_000_000_000 + seq as i64,
        actor_id: Some(format!("user-{}", seq % 7)),
        actor_name: Some("李雷".into()),
        actor_ip: Some("10.1.2.3".into()),
        user_agent: None,
        request_id: Some(format!("req-{seq}")),
        action: "record.update".into(),
        targets: vec!["t1".into(), seq.to_string()],
        outcome: Outcome::Success,
        detail: r#"{"fields":["状态"]}"#.into(),
    }
}

/// A log of `n` events and heads signed at `sizes`, as the server keeps
/// them.
struct Log {
    hash: TreeHash,
    key: SigningKey,
    events: Vec<StoredEvent>,
    heads: Vec<SignedTreeHead>,
}

impl Log {
    fn new(suite: Suite, hash: TreeHash, n: u64, sizes: &[u64]) -> Self {
        let (key, _) = SigningKey::generate(suite);
        let events: Vec<StoredEvent> = (0..n)
            .map(|seq| {
                let event = event(seq);
                StoredEvent {
                    leaf: event.leaf(hash),
                    event,
                }
            })
            .collect();
        let leaves: Vec<Hash> = events.iter().map(|e| e.leaf).collect();
        let heads = sizes
            .iter()
            .map(|&size| {
                TreeHead {
                    tenant: TENANT,
                    hash,
                    size,
                    root: hash.root(&leaves[..size as usize]),
                    at_ms: 1_795_000_100_000 + size as i64,
                }
                .sign(&key)
            })
            .collect();
        Self {
            hash,
            key,
            events,
            heads,
        }
    }

    fn check(&self) -> Result<Verified, AuditError> {
        let mut check = LogCheck::new(TENANT, self.hash, &self.key.public_key(), &self.heads)?;
        for stored in &self.events {
            check.push(stored)?;
        }
        check.finish()
    }
}

fn tampered(seq: u64, what: Tamper) -> Result<Verified, AuditError> {
    Err(AuditError::Tampered { seq, what })
}

#[test]
fn an_untouched_log_verifies() {
    for (suite, hash) in [(Suite::Intl, TreeHash::Sha256), (Suite::Sm, TreeHash::Sm3)] {
        let log = Log::new(suite, hash, 2_500, &[0, 1_000, 2_000, 2_400]);
        let verified = Verified {
            events: 2_500,
            signed_size: 2_400,
        };
        assert_eq!(log.check(), Ok(verified));
    }
}

/// Each kind of tampering done to the stored rows is found, and located.
#[test]
fn tampering_is_found_at_its_first_event() {
    let fresh = || Log::new(Suite::Intl, TreeHash::Sha256, 2_500, &[1_000, 2_000, 2_400]);

    let mut log = fresh();
    log.events[1_234].event.outcome = Outcome::Denied;
    assert_eq!(
        log.check(),
        tampered(1_234, Tamper::LeafChanged),
        "a changed field"
    );

    // The field and its stored leaf changed together: the next head's
    // root no longer matches, and the events since the last head are
    // where to look.
    let mut log = fresh();
    log.events[1_234].event.actor_name = Some("韩梅梅".into());
    log.events[1_234].leaf = log.events[1_234].event.leaf(TreeHash::Sha256);
    assert_eq!(
        log.check(),
        tampered(1_000, Tamper::RootChanged { head_size: 2_000 }),
        "a changed field and leaf"
    );

    let mut log = fresh();
    log.events.remove(700);
    assert_eq!(
        log.check(),
        tampered(700, Tamper::OutOfOrder { found: 701 }),
        "a deletion"
    );

    // An insertion renumbered to fit, with every later leaf rebuilt.
    let mut log = fresh();
    let mut forged = event(300);
    forged.action = "record.delete".into();
    log.events.insert(
        300,
        StoredEvent {
            leaf: forged.leaf(TreeHash::Sha256),
            event: forged,
        },
    );
    for (seq, stored) in log.events.iter_mut().enumerate().skip(301) {
        stored.event.seq = seq as u64;
        stored.leaf = stored.event.leaf(TreeHash::Sha256);
    }
    assert_eq!(
        log.check(),
        tampered(0, Tamper::RootChanged { head_size: 1_000 }),
        "an insertion"
    );

    let mut log = fresh();
    log.events.swap(10, 11);
    assert_eq!(
        log.check(),
        tampered(10, Tamper::OutOfOrder { found: 11 }),
        "a swap"
    );

    // A swap of the rows' contents that keeps the sequence numbers in place.
    let mut log = fresh();
    let (a, b) = (log.events[10].clone(), log.events[11].clone());
    log.events[10] = StoredEvent {
        event: AuditEvent { seq: 10, ..b.event },
        leaf: b.leaf,
    };
    log.events[11] = StoredEvent {
        event: AuditEvent { seq: 11, ..a.event },
        leaf: a.leaf,
    };
    assert_eq!(
        log.check(),
        tampered(10, Tamper::LeafChanged),
        "contents swapped"
    );

    let mut log = fresh();
    log.events.truncate(2_100);
    assert_eq!(
        log.check(),
        tampered(2_100, Tamper::Missing { head_size: 2_400 }),
        "a lost tail"
    );

    // Past the last head only order and leaves are checked: no signature
    // covers those events yet, so losing them is not a finding.
    let mut log = fresh();
    log.events.truncate(2_450);
    assert_eq!(
        log.check(),
        Ok(Verified {
            events: 2_450,
            signed_size: 2_400
        })
    );
}

#[test]
fn heads_that_are_not_the_keys_or_the_tenants_are_refused() {
    let log = Log::new(Suite::Intl, TreeHash::Sha256, 10, &[5]);
    let (other, _) = SigningKey::generate(Suite::Intl);
    let refused = LogCheck::new(TENANT, TreeHash::Sha256, &other.public_key(), &log.heads);
    assert!(matches!(refused, Err(AuditError::BadSignature)));
    let public = log.key.public_key();
    let another_tenant = LogCheck::new([4; 16], TreeHash::Sha256, &public, &log.heads);
    assert!(matches!(another_tenant, Err(AuditError::BadSignature)));
    let another_hash = LogCheck::new(TENANT, TreeHash::Sm3, &public, &log.heads);
    assert!(matches!(another_hash, Err(AuditError::BadSignature)));
    // A head of the empty log has the empty tree's root.
    let mut forged = log.heads[0].head;
    forged.size = 0;
    let forged = forged.sign(&log.key);
    let empty = LogCheck::new(TENANT, TreeHash::Sha256, &public, &[forged]);
    assert!(matches!(
        empty,
        Err(AuditError::Tampered {
            seq: 0,
            what: Tamper::RootChanged { head_size: 0 }
        })
    ));
}
