//! The figures issue 6 asks for, per suite: the AEADs on 1 MiB and on
//! 100-byte values (one core), SM4-GCM bulk on every core, the digests on
//! 1 MiB, and signatures and verifications per second.

use std::hint::black_box;

use citadel_crypto::Suite;
use citadel_crypto::suite::{DataKey, SigningKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const MIB: usize = 1 << 20;
const AAD: &[u8] = b"tenant/table/field/record";

fn ciphers(c: &mut Criterion) {
    let big = vec![0x5au8; MIB];
    let small = vec![0x5au8; 100];
    for suite in Suite::ALL {
        let (key, _) = DataKey::generate(suite, 1);
        let name = suite.algorithms().cipher;
        let mut group = c.benchmark_group(format!("{name} encrypt"));
        group.throughput(Throughput::Bytes(MIB as u64));
        group.bench_function("1 MiB", |b| b.iter(|| key.encrypt(AAD, black_box(&big))));
        group.throughput(Throughput::Bytes(100));
        group.bench_function("100 B", |b| b.iter(|| key.encrypt(AAD, black_box(&small))));
        group.finish();
        let sealed = key.encrypt(AAD, &big);
        let sealed_small = key.encrypt(AAD, &small);
        let mut group = c.benchmark_group(format!("{name} decrypt"));
        group.throughput(Throughput::Bytes(MIB as u64));
        group.bench_function("1 MiB", |b| {
            b.iter(|| key.decrypt(AAD, black_box(&sealed)).expect("open"))
        });
        group.throughput(Throughput::Bytes(100));
        group.bench_function("100 B", |b| {
            b.iter(|| key.decrypt(AAD, black_box(&sealed_small)).expect("open"))
        });
        group.finish();
    }
    // Bulk: 16 MiB as 256 values of 64 KiB, spread over every core.
    let (key, _) = DataKey::generate(Suite::Sm, 1);
    let segment = vec![0x5au8; 64 * 1024];
    let items: Vec<(&[u8], &[u8])> = (0..256).map(|_| (AAD, segment.as_slice())).collect();
    let mut group = c.benchmark_group("SM4-GCM bulk, all cores");
    group.throughput(Throughput::Bytes(16 * MIB as u64));
    group.sample_size(20);
    group.bench_function("16 MiB in 64 KiB values", |b| {
        b.iter(|| key.encrypt_all(black_box(&items)))
    });
    group.bench_function("16 MiB in 64 KiB values, one core", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|(aad, p)| key.encrypt(aad, p))
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

fn digests(c: &mut Criterion) {
    let big = vec![0x5au8; MIB];
    for suite in Suite::ALL {
        let mut group = c.benchmark_group(suite.algorithms().digest);
        group.throughput(Throughput::Bytes(MIB as u64));
        group.bench_function("1 MiB", |b| b.iter(|| suite.digest(black_box(&big))));
        group.finish();
    }
}

fn signatures(c: &mut Criterion) {
    let message = b"a contract's digest, or any document";
    for suite in Suite::ALL {
        let (key, _) = SigningKey::generate(suite);
        let public = key.public_key();
        let signature = key.sign(message);
        let mut group = c.benchmark_group(suite.algorithms().signature);
        group.throughput(Throughput::Elements(1));
        group.bench_function("sign", |b| b.iter(|| key.sign(black_box(message))));
        group.bench_function("verify", |b| {
            b.iter(|| {
                public
                    .verify(black_box(message), &signature)
                    .expect("valid")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, ciphers, digests, signatures);
criterion_main!(benches);
