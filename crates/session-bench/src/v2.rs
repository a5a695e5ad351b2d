//! Session Protocol v2 rows: encryption and decryption of a 1 KiB message against v1 in the same
//! run, and the cost of one account key rotation on a real (SQLCipher) profile.

use std::time::Instant;

use session_client::Messenger;
use session_crypto::session_protocol::encrypt_for_recipient;
use session_crypto::session_v2::{decrypt_v2, encrypt_v2, sign_account_key_record};
use session_crypto::{
    decrypt_incoming, AccountKeyPair, AccountKeySeed, Ed25519Seed, IdentityKeyPair, OsRng,
};
use session_testnet::client::new_messenger;
use session_testnet::Testnet;

use crate::measure::{quantile, Row};
use crate::suite::Error;

/// The message size of the encrypt/decrypt rows.
const MESSAGE: usize = 1024;
/// Operations per timed batch.
const BATCH: usize = 50;

/// Median operations per second of `op` over `batches` batches.
fn rate(batches: usize, mut op: impl FnMut() -> Result<(), Error>) -> Result<f64, Error> {
    let mut rates = Vec::with_capacity(batches);
    for _ in 0..batches {
        let started = Instant::now();
        for _ in 0..BATCH {
            op()?;
        }
        rates.push(BATCH as f64 / started.elapsed().as_secs_f64());
    }
    Ok(quantile(&mut rates, 0.5))
}

fn pair() -> IdentityKeyPair {
    Ed25519Seed::generate(&mut OsRng).key_pair()
}

/// v2 against v1 encryption and decryption of 1 KiB, interleaved batch by batch.
fn crypto_rows(batches: usize) -> Result<Vec<Row>, Error> {
    let (alice, bob) = (pair(), pair());
    let bob_id = bob.account_id();
    let key = AccountKeyPair::from_seed(&AccountKeySeed::generate(&mut OsRng));
    // A recipient holds about 32 keys (16 days of 12-hour rotations): decryption finds the one
    // by its indicator, so the others cost nothing but the comparison.
    let mut held: Vec<AccountKeyPair> = (0..31)
        .map(|_| AccountKeyPair::from_seed(&AccountKeySeed::generate(&mut OsRng)))
        .collect();
    held.push(key);
    let key = &held[31];
    let message = vec![0x5a; MESSAGE];
    let v1 = encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut OsRng)?;
    let v2 = encrypt_v2(&alice, &bob_id, key.public(), &message, &mut OsRng)?;

    let v2_encrypt = rate(batches, || {
        encrypt_v2(&alice, &bob_id, key.public(), &message, &mut OsRng)?;
        Ok(())
    })?;
    let v1_encrypt = rate(batches, || {
        encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut OsRng)?;
        Ok(())
    })?;
    let v2_decrypt = rate(batches, || {
        decrypt_v2(&bob, &held, &v2)?;
        Ok(())
    })?;
    let v1_decrypt = rate(batches, || {
        decrypt_incoming(&bob, &v1)?;
        Ok(())
    })?;
    let row = |what: &str, held: &str, v2: f64, v1: f64| Row {
        name: format!("v2 {what} of a 1 KiB message{held} (X-Wing: X25519 + ML-KEM-768)"),
        median: v2,
        p99: None,
        unit: "ops/s".into(),
        reference_name: format!("v1 {what} of the same message (X25519 sealed box)"),
        reference: v1,
        reference_unit: "ops/s".into(),
        ratio: v2 / v1,
        target: "-".into(),
        meets_target: true,
    };
    Ok(vec![
        row("encrypt", "", v2_encrypt, v1_encrypt),
        row("decrypt", ", 32 keys held", v2_decrypt, v1_decrypt),
    ])
}

/// One rotation as a client does it, without the network store: a fresh seed, the key pair
/// derived, the -21 record signed, the key filed in the profile's encrypted database (the old
/// one retired). Against the key pair's derivation alone.
fn rotation_row(
    messenger: &Messenger,
    identity: &IdentityKeyPair,
    samples: usize,
) -> Result<Row, Error> {
    let mut rotations = Vec::with_capacity(samples);
    let mut derivations = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let seed = AccountKeySeed::generate(&mut OsRng);
        let pair = AccountKeyPair::from_seed(&seed);
        derivations.push(started.elapsed().as_secs_f64() * 1e3);
        let record = sign_account_key_record(identity, pair.public());
        messenger.install_account_key(&seed)?;
        std::hint::black_box(record);
        rotations.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let p99 = {
        let mut copy = rotations.clone();
        quantile(&mut copy, 0.99)
    };
    let median = quantile(&mut rotations, 0.5);
    let reference = quantile(&mut derivations, 0.5);
    Ok(Row {
        name: "account key rotation (derive X-Wing pair, sign -21 record, file in SQLCipher)"
            .into(),
        median,
        p99: Some(p99),
        unit: "ms".into(),
        reference_name: "deriving the key pair alone (SHAKE256 + ML-KEM-768 keygen)".into(),
        reference,
        reference_unit: "ms".into(),
        ratio: reference / median,
        target: "-".into(),
        meets_target: true,
    })
}

/// Every v2 row; `samples` sizes them like the suite's other rows.
pub async fn rows(net: &Testnet, samples: usize) -> Result<Vec<Row>, Error> {
    let mut rows = crypto_rows((samples / 10).max(10))?;
    let dir = tempfile::tempdir()?;
    let messenger = new_messenger(net, &dir.path().join("rotating"), |_| {}).await?;
    rows.push(rotation_row(&messenger, &pair(), (samples / 4).max(20))?);
    Ok(rows)
}
