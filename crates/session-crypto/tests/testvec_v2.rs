//! Session Protocol v2, ML-KEM-768 and X-Wing vectors: every value of the `v2_dm` and
//! `mlkem_xwing` sections of the round-2 vectors (libsession-util tests/test_session_encrypt.cpp,
//! tests/test_dm_receive.cpp, tests/test_hash.cpp, src/session_encrypt.cpp). libsession-util
//! publishes no v2 ciphertext (its tests use random ephemeral keys and ML-KEM coins), so the v2
//! test's inputs, sizes, key indicator and failure classes are checked here; the values are
//! copied into this file and nothing outside the crate is read at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};

use session_crypto::session_v2::{
    classify, decrypt_v2, decrypt_v2_prefix, decrypt_v2_with, encrypt_v2, encrypt_v2_deterministic,
    padded_size, WireVersion, AEAD_OVERHEAD, HEADER_LEN, MIN_SIZE, OUTER_OVERHEAD, VERSION_PREFIX,
};
use session_crypto::xwing::{
    sha3_256, shake256, MLKEM_CIPHERTEXT_LEN, MLKEM_PUBLIC_LEN, MLKEM_SEED_LEN, XWING_LABEL,
};
use session_crypto::{
    decrypt_incoming, AccountId, AccountKeyPair, CryptoError, Ed25519Seed, OsRng, V2Error,
    X25519SecretKey,
};

fn h32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

const SENDER_SEED: &str = "0123456789abcdef0123456789abcdef00000000000000000000000000000000";
const RECIPIENT_SEED: &str = "00112233445566778899aabbccddeeff00000000000000000000000000000000";
const RECIPIENT_ID: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const PFS_X25519_SEC: &str = "aabbccddeeff0011223344556677889900112233445566778899aabbccddeeff";
const PFS_X25519_PUB: &str = "c08db77c6581eef513bd52b403896fdcfbf11992d6835c65c25224a58a87295b";
const PFS_MLKEM_SEED: &str = "deadbeefcafebabe0123456789abcdef0123456789abcdef0123456789abcdef\
                              fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const PFS_MLKEM_PK_FIRST16: &str = "95a01c413ab036a307111c930b59c47c";
const PFS_MLKEM_PK_SHA256: &str =
    "9334bc384cdf0aed34d9eae93866cf173f3878592ff045f156c09bc1370f957c";

fn pfs_key() -> AccountKeyPair {
    let seed: [u8; MLKEM_SEED_LEN] = hex::decode(PFS_MLKEM_SEED).unwrap().try_into().unwrap();
    AccountKeyPair::from_parts(X25519SecretKey::from_bytes(h32(PFS_X25519_SEC)), &seed)
}

#[test]
fn sha3_256_known_answers() {
    for (message, digest) in [
        (
            "",
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
        ),
        (
            "abc",
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376",
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq\
             klmnopqrlmnopqrsmnopqrstnopqrstu",
            "916f6061fe879741ca6469b43971dfdb28b1a32dc36cb3254e812be27aad1d18",
        ),
    ] {
        assert_eq!(
            hex::encode(sha3_256(&[message.as_bytes()])),
            digest,
            "{message}"
        );
    }
    // Parts are concatenated.
    assert_eq!(sha3_256(&[b"a", b"", b"bc"]), sha3_256(&[b"abc"]));
}

#[test]
fn shake256_known_answers() {
    for (message, output) in [
        (
            "",
            "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f",
        ),
        (
            "abc",
            "483366601360a8771c6863080cc4114d8db44530f8f1e1ee4f94ea37e78b5739",
        ),
    ] {
        assert_eq!(hex::encode(*shake256::<32>(&[message.as_bytes()])), output);
    }
}

#[test]
fn sizes_and_constants() {
    assert_eq!(MLKEM_PUBLIC_LEN, 1184);
    assert_eq!(MLKEM_CIPHERTEXT_LEN, 1088);
    assert_eq!(MLKEM_SEED_LEN, 64);
    assert_eq!(VERSION_PREFIX, [0x00, 0x02]);
    assert_eq!(HEADER_LEN, 1124);
    assert_eq!(AEAD_OVERHEAD, 16);
    assert_eq!(OUTER_OVERHEAD, 1140);
    assert_eq!(MIN_SIZE, 1536);
    assert_eq!(hex::encode(XWING_LABEL), "5c2e2f2f5e5c");
}

#[test]
fn mlkem_deterministic_keygen_matches() {
    let key = pfs_key();
    let pk = key.public().mlkem();
    assert_eq!(hex::encode(&pk[..16]), PFS_MLKEM_PK_FIRST16);
    assert_eq!(
        hex::encode(Sha256::digest(pk.as_slice())),
        PFS_MLKEM_PK_SHA256
    );
    assert_eq!(key.public().x25519().to_string(), PFS_X25519_PUB);
    assert_eq!(key.public().indicator(), [0x95, 0xa0]);
}

#[test]
fn v2_test_of_libsession_util() {
    let sender = Ed25519Seed::from_bytes(h32(SENDER_SEED)).key_pair();
    let recipient = Ed25519Seed::from_bytes(h32(RECIPIENT_SEED)).key_pair();
    assert_eq!(recipient.account_id().to_string(), RECIPIENT_ID);
    let recipient_id: AccountId = RECIPIENT_ID.parse().unwrap();
    let key = pfs_key();

    let ct = encrypt_v2(
        &sender,
        &recipient_id,
        key.public(),
        b"hello world",
        &mut OsRng,
    )
    .unwrap();
    // inner dict 127 bytes: max(1536, 1140 + 127) rounded up to 256.
    assert_eq!(padded_size(127), 1536);
    assert_eq!(ct.len(), 1536);
    assert_eq!(ct.len() % 256, 0);
    assert_eq!(ct[..2], [0x00, 0x02]);
    assert_eq!(classify(&ct).unwrap(), WireVersion::V2);
    // The recipient's long-term key unmasks the indicator: the ML-KEM key's first two bytes.
    assert_eq!(decrypt_v2_prefix(&recipient, &ct).unwrap(), [0x95, 0xa0]);

    let message = decrypt_v2(&recipient, [&key], &ct).unwrap();
    assert_eq!(message.content, b"hello world");
    assert_eq!(message.sender, sender.account_id());
    assert_eq!(message.sender_ed25519, sender.ed25519_public());
    assert!(message.forward_secret);
    assert_eq!(message.pro_signature, None);

    // A wrong PFS X25519 secret (same ML-KEM key) fails.
    let seed: [u8; 64] = hex::decode(PFS_MLKEM_SEED).unwrap().try_into().unwrap();
    let mut wrong = h32(PFS_X25519_SEC);
    wrong[1] ^= 1;
    let wrong_key = AccountKeyPair::from_parts(X25519SecretKey::from_bytes(wrong), &seed);
    assert_eq!(wrong_key.public().indicator(), key.public().indicator());
    assert_eq!(
        decrypt_v2(&recipient, [&wrong_key], &ct).unwrap_err(),
        V2Error::Crypto(CryptoError::DecryptFailed)
    );

    // Truncated by 100 bytes: refused before any key is tried.
    let truncated = &ct[..ct.len() - 100];
    assert!(decrypt_v2_with(&recipient, &key, truncated).is_err());
    assert!(decrypt_v2(&recipient, [&key], truncated).is_err());
}

#[test]
fn deterministic_variant_is_deterministic() {
    let sender = Ed25519Seed::from_bytes(h32(SENDER_SEED)).key_pair();
    let recipient_id: AccountId = RECIPIENT_ID.parse().unwrap();
    let key = pfs_key();
    let eph = X25519SecretKey::from_bytes([7u8; 32]);
    let a = encrypt_v2_deterministic(&sender, &recipient_id, key.public(), b"x", &eph, &[9u8; 32])
        .unwrap();
    let b = encrypt_v2_deterministic(&sender, &recipient_id, key.public(), b"x", &eph, &[9u8; 32])
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a[4..36], eph.public_key().0);
    let c = encrypt_v2_deterministic(&sender, &recipient_id, key.public(), b"x", &eph, &[8u8; 32])
        .unwrap();
    assert_ne!(a[36..HEADER_LEN], c[36..HEADER_LEN]);
}

#[test]
fn receive_classification_of_libsession_util() {
    let recipient = Ed25519Seed::from_bytes(h32(RECIPIENT_SEED)).key_pair();
    let key = pfs_key();
    // Empty: bad format.
    assert!(matches!(classify(b""), Err(V2Error::BadFormat(_))));
    // 00 03: a versioned envelope of an unknown version.
    let unknown = hex::decode("0003010203").unwrap();
    assert_eq!(classify(&unknown), Err(V2Error::UnknownVersion(3)));
    assert_eq!(
        decrypt_v2(&recipient, [&key], &unknown).unwrap_err(),
        V2Error::UnknownVersion(3)
    );
    // v2 but shorter than the 36-byte prefix: bad format.
    let short = hex::decode("00020102030405060708").unwrap();
    assert_eq!(classify(&short).unwrap(), WireVersion::V2);
    assert!(matches!(
        decrypt_v2(&recipient, [&key], &short),
        Err(V2Error::BadFormat(_))
    ));
    // First byte not 0: v1, whose sealed box fails.
    let v1 = hex::decode("0102030405060708").unwrap();
    assert_eq!(classify(&v1).unwrap(), WireVersion::V1);
    assert!(decrypt_incoming(&recipient, &v1).is_err());
}

#[test]
fn receive_classification_of_valid_messages() {
    let sender = Ed25519Seed::from_bytes(h32(SENDER_SEED)).key_pair();
    let recipient = Ed25519Seed::from_bytes(h32(RECIPIENT_SEED)).key_pair();
    let key = pfs_key();
    let ct = encrypt_v2(
        &sender,
        &recipient.account_id(),
        key.public(),
        &hex::decode("deadbeef").unwrap(),
        &mut OsRng,
    )
    .unwrap();
    // No held key matches the indicator: no_pfs_key.
    let other = AccountKeyPair::from_seed(&session_crypto::AccountKeySeed::from_bytes([1; 32]));
    assert_eq!(
        decrypt_v2(&recipient, [&other], &ct).unwrap_err(),
        V2Error::NoAccountKey
    );
    // Last byte (the tag) flipped: decrypt failed.
    let mut flipped = ct.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(
        decrypt_v2(&recipient, [&key], &flipped).unwrap_err(),
        V2Error::Crypto(CryptoError::DecryptFailed)
    );
    assert_eq!(
        decrypt_v2(&recipient, [&key], &ct).unwrap().content,
        hex::decode("deadbeef").unwrap()
    );
}
