//! Criterion benches of the primitives every message and onion hop pays for.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use session_crypto::{
    decrypt_incoming, encrypt_for_recipient, Ed25519Seed, HopCipher, HopKey, X25519SecretKey,
};

fn primitives(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let alice = Ed25519Seed::generate(&mut rng).key_pair();
    let bob = Ed25519Seed::generate(&mut rng).key_pair();

    c.bench_function("x25519 shared secret", |b| {
        b.iter(|| {
            alice
                .x25519_secret()
                .diffie_hellman(&bob.x25519_public())
                .unwrap()
        })
    });
    let message = [0x5au8; 1024];
    c.bench_function("ed25519 sign 1 KiB", |b| b.iter(|| alice.sign(&message)));
    let signature = alice.sign(&message);
    c.bench_function("ed25519 verify 1 KiB", |b| {
        b.iter(|| alice.ed25519_public().verify(&message, &signature).unwrap())
    });

    let mut group = c.benchmark_group("session protocol v1, 1 KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("encrypt", |b| {
        b.iter(|| encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng).unwrap())
    });
    let sealed = encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng).unwrap();
    group.bench_function("decrypt", |b| {
        b.iter(|| decrypt_incoming(&bob, &sealed).unwrap())
    });
    group.bench_function("encrypt+decrypt", |b| {
        b.iter(|| {
            let ct =
                encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng).unwrap();
            decrypt_incoming(&bob, &ct).unwrap()
        })
    });
    group.finish();
}

fn onion_hop(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let node = X25519SecretKey::generate(&mut rng);
    let payload = vec![0xa5u8; 2048];
    let mut group = c.benchmark_group("onion hop decrypt (X25519 + AEAD), 2 KiB");
    group.throughput(Throughput::Bytes(2048));
    for cipher in [HopCipher::XChaCha20, HopCipher::AesGcm] {
        group.bench_function(cipher.as_str(), |b| {
            b.iter_batched(
                || {
                    let ephemeral = X25519SecretKey::generate(&mut rng);
                    let key = HopKey::for_client(cipher, &ephemeral, &node.public_key()).unwrap();
                    (
                        ephemeral.public_key(),
                        key.encrypt(&payload, &mut rng).unwrap(),
                    )
                },
                |(ephemeral, ct)| {
                    HopKey::for_node(cipher, &node, &ephemeral)
                        .unwrap()
                        .decrypt(&ct)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, primitives, onion_hop);
criterion_main!(benches);
