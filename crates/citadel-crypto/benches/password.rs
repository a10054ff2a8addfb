//! The cost of one password hash and one verification with today's
//! argon2id parameters, and of a TOTP check: what a sign-in spends.

use citadel_crypto::password::{hash_password, verify_password};
use citadel_crypto::{SecretBytes, SecretString, totp};
use criterion::{Criterion, criterion_group, criterion_main};

fn password(c: &mut Criterion) {
    let pw = SecretString::new("Correct-Horse-7-battery".into());
    let phc = hash_password(&pw, None).expect("hash");
    let mut group = c.benchmark_group("argon2id m=19456 t=4 p=1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| hash_password(&pw, None).expect("hash"))
    });
    group.bench_function("verify", |b| b.iter(|| verify_password(&pw, &phc, None)));
    group.finish();
    let seed = totp::generate_secret();
    let code = totp::code_at(&seed, 1_800_000_000).expect("code");
    c.bench_function("totp verify (3 steps)", |b| {
        b.iter(|| {
            totp::verify(
                &SecretBytes::new(seed.expose().to_vec()),
                &code,
                1_800_000_000,
            )
        })
    });
}

criterion_group!(benches, password);
criterion_main!(benches);
