//! The sustained append rate of an audit file with group commit: 16 or
//! 256 tasks (requests in flight) record events at once, each waiting
//! for its event to be durable (WAL, `synchronous=FULL`) as a request
//! does before it answers. A commit groups at most one event per task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use citadel_audit::{AuditEvent, Outcome, TreeHash};
use citadel_store::{AuditFile, AuditWriter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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
            let file = AuditFile::open(&path, hash).await.expect("open");
            AuditWriter::start(Arc::new(file))
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

criterion_group!(benches, append);
criterion_main!(benches);
