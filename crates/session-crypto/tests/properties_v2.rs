//! Properties of Session Protocol v2: round trips of all sizes, any flipped bit, a wrong key or
//! a truncation is refused, arbitrary input never panics; the post-quantum property (X25519 or
//! ML-KEM secret alone does not decrypt); the namespace -21 key record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use session_crypto::session_v2::{
    decrypt_v2, decrypt_v2_nopfs, decrypt_v2_with, encrypt_v2, encrypt_v2_nopfs, padded_size,
    sign_account_key_record, verify_account_key_record, HEADER_LEN, MIN_SIZE, PAD_STEP,
};
use session_crypto::{
    AccountKeyPair, AccountKeySeed, Ed25519Seed, IdentityKeyPair, V2Error, X25519SecretKey,
};

fn pair(seed: u64) -> IdentityKeyPair {
    Ed25519Seed::generate(&mut ChaCha20Rng::seed_from_u64(seed)).key_pair()
}

fn account_key(seed: u64) -> AccountKeyPair {
    AccountKeyPair::from_seed(&AccountKeySeed::generate(&mut ChaCha20Rng::seed_from_u64(
        seed ^ 0x5eed,
    )))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn v2_round_trips(len in prop_oneof![0usize..2048, 0usize..=76 * 1024], seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (alice, bob, key) = (pair(seed), pair(seed.wrapping_add(1)), account_key(seed));
        let content: Vec<u8> = (0..len).map(|i| (i as u8) ^ (seed as u8)).collect();
        let ct = encrypt_v2(&alice, &bob.account_id(), key.public(), &content, &mut rng).unwrap();
        prop_assert_eq!(ct.len() % PAD_STEP, 0);
        prop_assert!(ct.len() >= MIN_SIZE);
        prop_assert!(ct.len() < padded_size(len + 200) + 1);
        let other = account_key(seed.wrapping_add(7));
        let message = decrypt_v2(&bob, [&other, &key], &ct).unwrap();
        prop_assert_eq!(&message.content, &content);
        prop_assert_eq!(message.sender, alice.account_id());
        prop_assert!(message.forward_secret);

        let ct = encrypt_v2_nopfs(&alice, &bob.account_id(), &content, &mut rng).unwrap();
        let message = decrypt_v2(&bob, [&key], &ct).unwrap();
        prop_assert_eq!(&message.content, &content);
        prop_assert!(!message.forward_secret);
    }

    #[test]
    fn any_flipped_bit_is_rejected(len in 0usize..600, bit in any::<prop::sample::Index>(), seed in any::<u64>(), pfs in any::<bool>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (alice, bob, key) = (pair(seed), pair(seed.wrapping_add(1)), account_key(seed));
        let content = vec![0x42u8; len];
        let mut ct = if pfs {
            encrypt_v2(&alice, &bob.account_id(), key.public(), &content, &mut rng).unwrap()
        } else {
            encrypt_v2_nopfs(&alice, &bob.account_id(), &content, &mut rng).unwrap()
        };
        // A no-PFS message's key indicator and ML-KEM slot are random filler that carries no
        // meaning and that the format (empty AEAD ad, as in libsession-util) leaves
        // unauthenticated: every other bit counts.
        let filler = 2 * 8..HEADER_LEN * 8;
        let bit = bit.index(ct.len() * 8);
        prop_assume!(pfs || !filler.contains(&bit));
        ct[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(decrypt_v2(&bob, [&key], &ct).is_err());
        // Told which key to use, the receiver ignores the indicator (bytes 2 and 3): every other
        // altered bit fails.
        if !(16..32).contains(&bit) {
            prop_assert!(decrypt_v2_with(&bob, &key, &ct).is_err());
        }
        prop_assert!(decrypt_v2_nopfs(&bob, &ct).is_err());
    }

    #[test]
    fn wrong_keys_and_truncations_are_rejected(len in 0usize..600, cut in 1usize..2000, seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (alice, bob, key) = (pair(seed), pair(seed.wrapping_add(1)), account_key(seed));
        let carol = pair(seed.wrapping_add(2));
        let ct = encrypt_v2(&alice, &bob.account_id(), key.public(), &vec![1u8; len], &mut rng).unwrap();
        // Another recipient, even holding the account key, fails (the signature names Bob).
        prop_assert!(decrypt_v2_with(&carol, &key, &ct).is_err());
        // Bob with another account key fails.
        prop_assert!(decrypt_v2_with(&bob, &account_key(seed.wrapping_add(3)), &ct).is_err());
        // Any truncation fails.
        let cut = cut.min(ct.len());
        prop_assert!(decrypt_v2(&bob, [&key], &ct[..ct.len() - cut]).is_err());
        prop_assert!(decrypt_v2_with(&bob, &key, &ct[..ct.len() - cut]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..1700), v2 in any::<bool>()) {
        let bob = pair(1);
        let key = account_key(1);
        if v2 && bytes.len() >= 2 {
            bytes[0] = 0;
            bytes[1] = 2;
        }
        prop_assert!(decrypt_v2(&bob, [&key], &bytes).is_err());
        let account = bob.account_id();
        prop_assert!(verify_account_key_record(&account, &bytes).is_err());
    }

    #[test]
    fn key_records_verify_only_for_their_account(seed in any::<u64>(), bit in any::<prop::sample::Index>()) {
        let (alice, bob, key) = (pair(seed), pair(seed.wrapping_add(1)), account_key(seed));
        let record = sign_account_key_record(&alice, key.public());
        prop_assert_eq!(&verify_account_key_record(&alice.account_id(), &record).unwrap(), key.public());
        prop_assert_eq!(
            verify_account_key_record(&bob.account_id(), &record).unwrap_err(),
            V2Error::Crypto(session_crypto::CryptoError::BadSignature)
        );
        let mut altered = record.clone();
        let bit = bit.index(altered.len() * 8);
        altered[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_account_key_record(&alice.account_id(), &altered).is_err());
    }
}

/// Post-quantum: an attacker with the X25519 account secret but not the ML-KEM secret (a
/// quantum computer breaks X25519, not ML-KEM) cannot decrypt; nor can one with the ML-KEM
/// secret but not the X25519 secret.
#[test]
fn either_half_of_the_account_key_alone_does_not_decrypt() {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let (alice, bob) = (pair(10), pair(11));
    let x_secret = [0x31u8; 32];
    let mlkem_seed = [0x47u8; 64];
    let key = AccountKeyPair::from_parts(X25519SecretKey::from_bytes(x_secret), &mlkem_seed);
    let ct = encrypt_v2(
        &alice,
        &bob.account_id(),
        key.public(),
        b"post-quantum",
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        decrypt_v2_with(&bob, &key, &ct).unwrap().content,
        b"post-quantum"
    );

    let mut other_mlkem = mlkem_seed;
    other_mlkem[5] ^= 0xff;
    let x25519_only =
        AccountKeyPair::from_parts(X25519SecretKey::from_bytes(x_secret), &other_mlkem);
    assert_eq!(x25519_only.public().x25519(), key.public().x25519());
    assert!(decrypt_v2_with(&bob, &x25519_only, &ct).is_err());

    let mut other_x = x_secret;
    other_x[3] ^= 0xff;
    let mlkem_only = AccountKeyPair::from_parts(X25519SecretKey::from_bytes(other_x), &mlkem_seed);
    assert_eq!(mlkem_only.public().mlkem(), key.public().mlkem());
    assert!(decrypt_v2_with(&bob, &mlkem_only, &ct).is_err());
    // The long-term key alone (no-PFS path) does not open a forward-secret message either.
    assert!(decrypt_v2_nopfs(&bob, &ct).is_err());
}
