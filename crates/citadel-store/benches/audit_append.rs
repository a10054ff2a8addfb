//! The sustained append rate of an audit file with group commit: 16 or
//! 256 tasks (requests in flight) record events at once, each waiting
//! for its event to be durable (WAL, `synchronous=FULL`) as a request
//! does before it answers. A commit groups at most one event per task.
//!
//! And the verify rate: a stored log of 100,000 events with a signed head
//! every 1,000, checked whole (read in pages, every event's leaf rebuilt
//! from its columns, every head's signature and root), as `citadel audit
//! verify` does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use citadel_audit::{AuditEvent, Frontier, Outcome, TreeHash, TreeHead};
use citadel_crypto::Suite;
use citadel_crypto::suite::SigningKey;
use citadel_store::{AuditLog, AuditWriter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The allocator the `citadel` binary runs with (its `main.rs`): a check
/// decodes a handful of strings per event, and under glibc's malloc a
/// profile of this bench spent a quarter of its time allocating.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per measured iteration, shared among the tasks.
const EVENTS: u64 = 4_000;

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        seq: 0,
        at_ms: 1_795_000_000_000 + n as i64,
        actor_id: Some("01a20a86-9f17-72fb-b8b4-9ab6ad3a7a77".into()),
        actor_name: Some("王小明".into()),
        actor_ip: Some("192.0.2.7".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0".into()),
        request_id: Some(format!("01a20a87-aa9b-715d-bac6-{n:012x}")),
        action: "record.update".into(),
        targets: vec!["01a20a86-a131-730e-a39d-73c7c2f27382".into(), n.to_string()],
        outcome: Outcome::Success,
        detail: r#"{"fields":["状态","数量"]}"#.into(),
    }
}

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    for hash in [TreeHash::Sha256, TreeHash::Sm3] {
        let path = dir.path().join(format!("{hash:?}.db"));
        let writer = runtime.block_on(async {
            let file = AuditLog::open_file(&path, hash).await.expect("open");
            AuditWriter::start(Arc::new(file)).expect("writer")
        });
        let mut group = c.benchmark_group(format!("audit append ({hash:?})"));
        group.throughput(Throughput::Elements(EVENTS));
        group.sample_size(20);
        for tasks in [16u64, 256] {
            let each = EVENTS / tasks;
            let name = format!("{tasks} tasks, each event durable");
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        spent += runtime.block_on(async {
                            let started = Instant::now();
                            let running: Vec<_> = (0..tasks)
                                .map(|t| {
                                    let writer = writer.clone();
                                    tokio::spawn(async move {
                                        for n in 0..each {
                                            let event = event(t * each + n);
                                            writer.record(event).await.expect("record");
                                        }
                                    })
                                })
                                .collect();
                            for task in running {
                                task.await.expect("task");
                            }
                            started.elapsed()
                        });
                    }
                    spent
                })
            });
        }
        group.finish();
    }
}

/// Events in the verified log, and how often a head was signed.
const VERIFIED: u64 = 100_000;
const HEAD_EVERY: u64 = 1_000;

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("audit verify");
    group.throughput(Throughput::Elements(VERIFIED));
    group.sample_size(10);
    for (hash, suite) in [(TreeHash::Sha256, Suite::Intl), (TreeHash::Sm3, Suite::Sm)] {
        let (key, _) = SigningKey::generate(suite);
        let tenant = [7; 16];
        let (log, heads) = runtime.block_on(async {
            let path = dir.path().join(format!("verify-{hash:?}.db"));
            let log = AuditLog::open_file(&path, hash).await.expect("open");
            let mut frontier = Frontier::new(hash);
            let mut heads = Vec::new();
            for first in (0..VERIFIED).step_by(HEAD_EVERY as usize) {
                let events = (first..first + HEAD_EVERY).map(event).collect();
                let (_, leaves) = log.append(events).await.expect("append");
                for leaf in leaves {
                    frontier.push(leaf);
                }
                let head = TreeHead {
                    tenant,
                    hash,
                    size: frontier.size(),
                    root: frontier.root(),
                    at_ms: 1_795_000_000_000,
                };
                heads.push(head.sign(&key));
            }
            (log, heads)
        });
        let public = key.public_key();
        group.bench_function(
            format!("{hash:?}, {VERIFIED} events, a head per {HEAD_EVERY}"),
            |b| {
                b.iter(|| {
                    runtime.block_on(async {
                        let done = log.check(tenant, &public, &heads).await.expect("intact");
                        assert_eq!(done.events, VERIFIED);
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
