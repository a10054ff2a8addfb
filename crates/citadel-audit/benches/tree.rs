//! What the tree costs per event: hashing an event of audit size into a
//! leaf and appending it to the log's right edge, as appending and
//! verifying a log both do for every event.

use citadel_audit::{Frontier, TreeHash};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// About the size of an audit event as stored: times, ids, names, an
/// address, a user agent, an action and a small detail.
const EVENT_BYTES: usize = 400;
const EVENTS: u64 = 10_000;

fn append(c: &mut Criterion) {
    let event = vec![0x42u8; EVENT_BYTES];
    for hash in [TreeHash::Sha256, TreeHash::Sm3] {
        let mut group = c.benchmark_group(format!("{hash:?} tree"));
        group.throughput(Throughput::Elements(EVENTS));
        group.bench_function("leaf hash + append, 10,000 events of 400 B", |b| {
            b.iter(|| {
                let mut frontier = Frontier::new(hash);
                for n in 0..EVENTS {
                    let mut leaf = hash.leaf(black_box(&event));
                    leaf[0] ^= n as u8;
                    frontier.push(leaf);
                }
                black_box(frontier.root())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, append);
criterion_main!(benches);
