//! The config encryption vectors of libsession-util (tests/test_encrypt.cpp,
//! tests/test_config_userprofile.cpp), copied from the project's round-2 vectors file; nothing is
//! read from outside the crate at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use session_crypto::config_record::{decrypt, encrypt, nonce, open, padded_size, seal, OVERHEAD};

const KEY_BASE_1: &str = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
const KEY_BASE_2: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CIPHERTEXT_1: &str = "f14f242a26638f3305707d1035e734577f943cd7d28af58e32637e0966dcaf2f4860cb4d0f8ba7e09d29e31f5e4a18f65847287a54a0";
const NONCE_1: &str = "af2f4860cb4d0f8ba7e09d29e31f5e4a18f65847287a54a0";
const NONCE_2: &str = "277e639d36ba46470dfff509a68cb73d9a96386c51739bdd";

fn key(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

#[test]
fn config_message_encryption() {
    let message = b"some message 1";
    let sealed = encrypt(&key(KEY_BASE_1), "test-suite1", message).unwrap();
    assert_eq!(hex::encode(&sealed), CIPHERTEXT_1);
    assert_eq!(hex::encode(nonce(message, "test-suite1").unwrap()), NONCE_1);
    assert_eq!(
        hex::encode(&sealed[sealed.len() - 24..]),
        NONCE_1,
        "the nonce is appended"
    );
    let other_domain = encrypt(&key(KEY_BASE_1), "test-suite2", message).unwrap();
    assert_eq!(
        hex::encode(&other_domain[other_domain.len() - 24..]),
        NONCE_2
    );
    assert_ne!(other_domain, sealed);
    let other_key = encrypt(&key(KEY_BASE_2), "test-suite1", message).unwrap();
    assert_eq!(hex::encode(&other_key[other_key.len() - 24..]), NONCE_1);
    assert_ne!(other_key, sealed);
    assert_eq!(
        &decrypt(&key(KEY_BASE_1), "test-suite1", &sealed).unwrap()[..],
        message
    );
}

#[test]
fn config_message_decryption_must_fail() {
    let sealed = hex::decode(CIPHERTEXT_1).unwrap();
    assert!(decrypt(&key(KEY_BASE_1), "test-suite2", &sealed).is_err());
    assert!(decrypt(&key(KEY_BASE_2), "test-suite1", &sealed).is_err());
    let mut tampered = sealed.clone();
    tampered[3] = 0x42;
    assert!(decrypt(&key(KEY_BASE_1), "test-suite1", &tampered).is_err());
}

/// (size, overhead, padded size)
const PADDED_SIZES: &[(usize, usize, usize)] = &[
    (1, 0, 256),
    (1, 10, 246),
    (246, 10, 246),
    (247, 10, 502),
    (247, 256, 256),
    (3839, 96, 4000),
    (3744, 96, 3744),
    (3745, 96, 4000),
    (4864, 0, 4864),
    (4865, 0, 5120),
    (5121, 0, 6144),
    (9216, 0, 9216),
    (9217, 0, 10240),
    (10241, 0, 11264),
    (20480, 0, 20480),
    (20481, 0, 22528),
    (38912, 0, 38912),
    (38913, 0, 40960),
    (40961, 0, 46080),
    (46081, 0, 51200),
    (71680, 0, 71680),
    (71681, 0, 76800),
    (76800, 0, 76800),
    (76776, 24, 76776),
];

#[test]
fn config_message_padding() {
    for &(size, overhead, padded) in PADDED_SIZES {
        assert_eq!(
            padded_size(size, overhead),
            padded,
            "size {size} overhead {overhead}"
        );
    }
}

const PROFILE_SEED: &str = "0123456789abcdef0123456789abcdef00000000000000000000000000000000";
const PROFILE_PUSH1: &str = concat!(
    "9693a69686da3055f1ecdfb239c3bf8e746951a36d888c2fb7c02e856a5c2091b24e39a7e1af828f1fa09fe8bf7d274a",
    "fde0a0847ba143c43ffb8722301b5ae32e2f078b9a5e19097403336e50b18c84aade446cd2823b011f97d6ad2116a53f",
    "eb814efecc086bc172d31f4214b4d7c630b63bbe575b08682d146da44915063a07a78556ab5eff4f67f6aa26211e8d33",
    "0b53d28567a931028c393709a325425de7486ccde24416a7fd4a8ba5fa73899c65f4276dfaddd5b2100adcf0f793104f",
    "b235b31ce32ec656056009a9ebf58d45d7d696b74e0c7ff0499c4d23204976f19561dc0dba6dc53a2497d28ce03498ea",
    "49bf122762d7bc1d6d9c02f6d54f8384",
);
const PROFILE_PLAINTEXT: &str = concat!(
    "64313a23693165313a2664313a2b693965313a6e363a4b616c6c6965313a7033343a687474703a2f2f6578616d706c65",
    "2e6f72672f6f6d672d7069632d3132332e626d70313a7133323a73656372657437383930313233343536373839303132",
    "3334353637383930313265313a3c6c6c69306533323aea173b57beca8af18c3519a7bbf69c3e7a05d1c049fa9558341d",
    "8ebb48b0c96564656565313a3d64313a2b303a313a6e303a313a70303a313a71303a6565",
);

#[test]
fn user_profile_push_decrypts_and_reencrypts_byte_for_byte() {
    let sealed = hex::decode(PROFILE_PUSH1).unwrap();
    let plaintext = hex::decode(PROFILE_PLAINTEXT).unwrap();
    assert_eq!(plaintext.len(), 180);
    let padded = decrypt(&key(PROFILE_SEED), "UserProfile", &sealed).unwrap();
    assert_eq!(padded.len(), 216);
    assert!(padded[..36].iter().all(|&b| b == 0));
    assert_eq!(&padded[36..], plaintext.as_slice());
    assert_eq!(
        &open(&key(PROFILE_SEED), "UserProfile", &sealed).unwrap()[..],
        plaintext.as_slice()
    );
    assert_eq!(
        seal(&key(PROFILE_SEED), "UserProfile", &plaintext).unwrap(),
        sealed
    );
}

proptest! {
    #[test]
    fn sealed_records_round_trip_and_any_flipped_bit_fails(
        record in proptest::collection::vec(1u8..=255, 1..3000),
        key_base in any::<[u8; 32]>(),
        bit in any::<usize>(),
    ) {
        let sealed = seal(&key_base, "Contacts", &record).unwrap();
        prop_assert_eq!(sealed.len(), padded_size(record.len(), OVERHEAD) + OVERHEAD);
        prop_assert_eq!(&open(&key_base, "Contacts", &sealed).unwrap()[..], record.as_slice());
        let mut flipped = sealed.clone();
        let bit = bit % (flipped.len() * 8);
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(open(&key_base, "Contacts", &flipped).is_err());
    }
}
