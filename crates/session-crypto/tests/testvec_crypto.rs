//! Test vectors published by libsession-util (tests/test_session_encrypt.cpp, test_ed25519.cpp,
//! test_curve25519.cpp, test_mnemonics.cpp, test_onionreq.cpp, test_hash.cpp). The values are
//! copied here; nothing is read from outside the crate at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_crypto::hash::blake2b;
use session_crypto::mnemonic;
use session_crypto::session_protocol::encrypt_for_recipient_deterministic;
use session_crypto::{
    decrypt_incoming, decrypt_ons_response, AccountId, CryptoError, Ed25519PublicKey, Ed25519Seed,
    HopCipher, HopKey, PhraseError, X25519PublicKey, X25519SecretKey,
};

fn h32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

struct KeyCase {
    seed: &'static str,
    ed_pk: &'static str,
    x_pk: &'static str,
    account_id: &'static str,
}

const KEY_CASES: [KeyCase; 2] = [
    KeyCase {
        seed: "0123456789abcdef0123456789abcdef00000000000000000000000000000000",
        ed_pk: "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7",
        x_pk: "d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
        account_id: "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
    },
    KeyCase {
        seed: "00112233445566778899aabbccddeeff00000000000000000000000000000000",
        ed_pk: "5ea34e72bb044654a6a23675690ef5ffaaf1656b02f93fb76655f9cbdbe89876",
        x_pk: "aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74",
        account_id: "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74",
    },
];

#[test]
fn keys_and_account_ids() {
    for case in &KEY_CASES {
        let pair = Ed25519Seed::from_bytes(h32(case.seed)).key_pair();
        assert_eq!(pair.ed25519_public().to_string(), case.ed_pk);
        assert_eq!(pair.x25519_public().to_string(), case.x_pk);
        assert_eq!(pair.account_id().to_string(), case.account_id);
        // The public conversion agrees with the secret one.
        let converted = Ed25519PublicKey::from_hex(case.ed_pk)
            .unwrap()
            .to_x25519()
            .unwrap();
        assert_eq!(converted.to_string(), case.x_pk);
        // The Account ID parses back to the same key.
        let parsed: AccountId = case.account_id.parse().unwrap();
        assert_eq!(parsed, pair.account_id());
        assert_eq!(
            parsed.x25519(),
            X25519PublicKey::from_hex(case.x_pk).unwrap()
        );
    }
}

#[test]
fn ed25519_signature() {
    let pair = Ed25519Seed::from_bytes(h32(
        "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7",
    ))
    .key_pair();
    assert_eq!(
        pair.ed25519_public().to_string(),
        "8862834829a87e0afadfed763fa8785e893dbde7f2c001ff1071aa55005c347f"
    );
    let signature = pair.sign(b"hello");
    assert_eq!(
        hex::encode(signature),
        "e03b6e87a53d83f202f2501e9b52193dbe4a64c6503f88244948dee5327185011574589aa7b59bc9757f9b9c31b7be9c9212b92ac7c81e029ee21c338ee12405"
    );
    pair.ed25519_public().verify(b"hello", &signature).unwrap();
    assert_eq!(
        pair.ed25519_public().verify(b"hellp", &signature),
        Err(CryptoError::BadSignature)
    );
}

#[test]
fn ed25519_to_x25519_secret() {
    for (seed, x_sk) in [
        (
            "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7",
            "207e5d97e761300f96c10adc11efdd6d5c15188a9a7682ec05b30ca017e9b447",
        ),
        (
            "5ea34e72bb044654a6a23675690ef5ffaaf1656b02f93fb76655f9cbdbe89876",
            "904943eff27142a8e5cd37c84e2437c9979a560b044bf9a65a8d644b325fe56a",
        ),
    ] {
        let pair = Ed25519Seed::from_bytes(h32(seed)).key_pair();
        assert_eq!(hex::encode(*pair.x25519_secret().to_bytes()), x_sk);
        assert_eq!(
            X25519SecretKey::from_bytes(h32(x_sk)).public_key(),
            pair.x25519_public()
        );
    }
}

const PHRASE_16: &str =
    "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed";

#[test]
fn mnemonic_cases() {
    for (seed, words) in [
        ("000102030405060708090a0b0c0d0e0f", PHRASE_16),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed update vague zinger boxes ornament renting glass gained island nabbing afield calamity boxes",
        ),
        (
            "00000000000000000000000000000000",
            "abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey",
        ),
        (
            "0123456789abcdef0123456789abcdef",
            "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept",
        ),
    ] {
        let seed = hex::decode(seed).unwrap();
        assert_eq!(mnemonic::encode(&seed).unwrap().as_str(), words);
        assert_eq!(mnemonic::decode(words).unwrap().as_slice(), seed.as_slice());
        // Any case decodes.
        assert_eq!(
            mnemonic::decode(&words.to_uppercase()).unwrap().as_slice(),
            seed.as_slice()
        );
    }
}

#[test]
fn mnemonic_restores_legacy_accounts() {
    // A 13-word legacy phrase restores the account the reference gives for the padded seed.
    let seed = Ed25519Seed::from_phrase(
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept",
    )
    .unwrap();
    assert_eq!(
        seed.key_pair().account_id().to_string(),
        "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
    );
    let seed = Ed25519Seed::from_phrase(PHRASE_16).unwrap();
    let pair = seed.key_pair();
    assert_eq!(
        pair.ed25519_public().to_string(),
        "65adc5bfb14b5363f1b50e63a431f6fe08ff5d4e8d362c1e3d4c56c9d044bfb0"
    );
    assert_eq!(
        pair.account_id().to_string(),
        "05ca03b8e369aeeb69fd260c2957d37b232db17a60db7a39bca9f0c0a6be135c1a"
    );
    // Exporting a restored legacy seed gives back the 13-word phrase.
    assert_eq!(seed.to_phrase().as_str(), PHRASE_16);
}

#[test]
fn mnemonic_prefix_decoding() {
    assert_eq!(
        hex::encode(
            mnemonic::decode("ama buf cak ent sym tig lam maz nes pyt dus fax fax")
                .unwrap()
                .as_slice()
        ),
        "000102030405060708090a0b0c0d0e0f"
    );
    assert_eq!(
        hex::encode(
            mnemonic::decode("AMA Buf cAK ent sym tig lam maz nes pyt dus fax fax")
                .unwrap()
                .as_slice()
        ),
        "000102030405060708090a0b0c0d0e0f"
    );
}

#[test]
fn mnemonic_must_reject() {
    let cases = [
        (
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed amaze",
            PhraseError::BadChecksum,
        ),
        (
            "buffet amaze cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed",
            PhraseError::Transposed { first_word: 1 },
        ),
        (
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted gagged faxed",
            PhraseError::BadChecksum,
        ),
        (
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed",
            PhraseError::WrongWordCount(12),
        ),
        (
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted qqqqq faxed",
            PhraseError::UnknownWord(12),
        ),
    ];
    for (words, error) in cases {
        assert_eq!(mnemonic::decode(words).err(), Some(error), "{words}");
    }
    // "abbey abbey zoom" is the published overflowing triplet; padded to 13 words it must be
    // refused as an overflow, whatever the checksum word.
    let overflow = "abbey abbey zoom abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey";
    assert_eq!(
        mnemonic::decode(overflow).err(),
        Some(PhraseError::TripletOverflow { first_word: 1 })
    );
}

#[test]
fn mnemonic_raw_triplet() {
    // The published "raw_triplet" pairs bytes 01020304 with indices [1443, 180, 205]. Those
    // indices are the triplet of 0x03f99645, not of 01020304 read either way round
    // (little-endian 0x04030201 gives [967, 84, 109], as the published algorithm and the
    // "amaze buffet cake" vector above, which starts with bytes 00010203, both require).
    // Both facts are checked, so a change to the arithmetic fails here.
    assert_eq!(mnemonic::triplet(0x03f9_9645), [1443, 180, 205]);
    assert_eq!(mnemonic::untriplet([1443, 180, 205]), Some(0x03f9_9645));
    let v = u32::from_le_bytes([0x01, 0x02, 0x03, 0x04]);
    assert_eq!(mnemonic::triplet(v), [967, 84, 109]);
    assert_eq!(mnemonic::untriplet([967, 84, 109]), Some(v));
    // "abbey abbey zoom" overflows.
    assert_eq!(mnemonic::untriplet([0, 0, 1625]), None);
}

const SENDER_SEED: &str = "0123456789abcdef0123456789abcdef00000000000000000000000000000000";
const RECIPIENT_SEED: &str = "00112233445566778899aabbccddeeff00000000000000000000000000000000";
const V1_CIPHERTEXT: &str = "208f96785db92319bc7a14afecc01e17bde912d17bbb32834c03ea63b1862c2a1b730e0725ef75b2f1a276db584c59a0ed9b5497bcb9f4effa893b5cb8b04dbe7a6ab457ebf972f03b006dd4572980a725399616d40184b86aa3b7b218bdc6dd7c1adccda8ef4897f0f458492240b39079c27a6c791067ab26a03067a7602b50f0434639906f93e548f909d5286edde365ebddc146";

#[test]
fn session_protocol_v1_encrypt_matches_reference() {
    let sender = Ed25519Seed::from_bytes(h32(SENDER_SEED)).key_pair();
    let recipient: AccountId = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74"
        .parse()
        .unwrap();
    let ct = encrypt_for_recipient_deterministic(&sender, &recipient.x25519(), b"hello").unwrap();
    assert_eq!(hex::encode(ct), V1_CIPHERTEXT);
}

#[test]
fn session_protocol_v1_decrypt_matches_reference() {
    let recipient = Ed25519Seed::from_bytes(h32(RECIPIENT_SEED)).key_pair();
    let (plaintext, sender) =
        decrypt_incoming(&recipient, &hex::decode(V1_CIPHERTEXT).unwrap()).unwrap();
    assert_eq!(plaintext, b"hello");
    assert_eq!(
        sender.to_string(),
        "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
    );
    // The sender cannot open what it sent to someone else.
    let sender_pair = Ed25519Seed::from_bytes(h32(SENDER_SEED)).key_pair();
    assert_eq!(
        decrypt_incoming(&sender_pair, &hex::decode(V1_CIPHERTEXT).unwrap()).err(),
        Some(CryptoError::DecryptFailed)
    );
}

const HOP_CLIENT_SK: &str = "ccc335912da8939e2b44816728a5a4773063efa82bf7ae2d42a0abfa2caa452d";
const HOP_CLIENT_PK: &str = "bbdfc83022d0aff084a6f0c529a93d1c4d728bf7e41199afed0e01ae70d20540";
const HOP_NODE_SK: &str = "8fcd8ad3a15c76f76f1c56dff0c529999f8c59b4acda79e05666e54d5727dca1";
const HOP_NODE_PK: &str = "caea52c5b0c316d85ffb53ea536826618b13dee40685f166f632653114526a78";
const HOP_AES_GCM: &str =
    "1eb6ae1cd72f60999486365749bd5dc15cc0b6a2a44d7d063daa5e93722f0c025fd00306403b61";
const HOP_XCHACHA: &str = "9e1a3abe60eff3ea5c23556cc7e225b6f94355315f7281f66ecf4dbb06e7899a52b863e03cde3b287d1638d765db75de02b032";

fn hop_keys(cipher: HopCipher) -> (HopKey, HopKey) {
    let client_sk = X25519SecretKey::from_bytes(h32(HOP_CLIENT_SK));
    let node_sk = X25519SecretKey::from_bytes(h32(HOP_NODE_SK));
    assert_eq!(client_sk.public_key().to_string(), HOP_CLIENT_PK);
    assert_eq!(node_sk.public_key().to_string(), HOP_NODE_PK);
    let client = HopKey::for_client(cipher, &client_sk, &node_sk.public_key()).unwrap();
    let node = HopKey::for_node(cipher, &node_sk, &client_sk.public_key()).unwrap();
    (client, node)
}

#[test]
fn onion_hop_decrypts_reference_ciphertexts_on_both_sides() {
    for (cipher, ct) in [
        (HopCipher::AesGcm, HOP_AES_GCM),
        (HopCipher::XChaCha20, HOP_XCHACHA),
    ] {
        let (client, node) = hop_keys(cipher);
        let ct = hex::decode(ct).unwrap();
        assert_eq!(node.decrypt(&ct).unwrap(), b"Hello world");
        assert_eq!(client.decrypt(&ct).unwrap(), b"Hello world");
    }
}

#[test]
fn onion_hop_round_trips_both_ways() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    for cipher in [HopCipher::AesGcm, HopCipher::XChaCha20] {
        let (client, node) = hop_keys(cipher);
        let request = client.encrypt(b"Hello world", &mut rng).unwrap();
        assert_eq!(request.len(), 11 + cipher.overhead());
        assert_eq!(node.decrypt(&request).unwrap(), b"Hello world");
        let reply = node.encrypt(b"reply", &mut rng).unwrap();
        assert_eq!(client.decrypt(&reply).unwrap(), b"reply");
    }
}

#[test]
fn onion_hop_must_fail() {
    let (_, aes_node) = hop_keys(HopCipher::AesGcm);
    let (_, xchacha_node) = hop_keys(HopCipher::XChaCha20);
    let aes_bad = "1eb6ae1cd72f60999486365759bd5dc15cc0b6a2a44d7d063daa5e93722f0c025fd00306403b61";
    let xchacha_bad = [
        "9e1a3abe60eff3ea5c23556ccfe225b6f94355315f7281f66ecf4dbb06e7899a52b863e03cde3b287d1638d765db75de02b032",
        "9e1a3abe60eff3ea5c23556cc7e225b6f94355315f7281f66ecf4dbb06e7899a52b863e03cde3b287d1638d765db75de02b033",
    ];
    assert_eq!(
        aes_node.decrypt(&hex::decode(aes_bad).unwrap()).err(),
        Some(CryptoError::DecryptFailed)
    );
    for bad in xchacha_bad {
        assert_eq!(
            xchacha_node.decrypt(&hex::decode(bad).unwrap()).err(),
            Some(CryptoError::DecryptFailed)
        );
    }
    // Each cipher refuses the other's output, and short input is an error, not a panic.
    assert!(aes_node
        .decrypt(&hex::decode(HOP_XCHACHA).unwrap())
        .is_err());
    assert!(xchacha_node
        .decrypt(&hex::decode(HOP_AES_GCM).unwrap())
        .is_err());
    assert!(matches!(
        xchacha_node.decrypt(&[0u8; 39]),
        Err(CryptoError::CiphertextTooShort { got: 39, min: 40 })
    ));
}

#[test]
fn blake2b_cases() {
    let m = b"TestMessage";
    assert_eq!(
        hex::encode(blake2b::<32>(b"", &[m]).unwrap()),
        "2a48a12262e4548afb97fe2b04a912a02297d451169ee7ef2d01a28ea20286ab"
    );
    assert_eq!(
        hex::encode(blake2b::<32>(b"TestKey", &[m]).unwrap()),
        "3d643e479b626bb2907476e32ccf7bdbd1ac3efa0da6e2c335255c48dcc216b6"
    );
    assert_eq!(
        hex::encode(blake2b::<64>(b"", &[m]).unwrap()),
        "9d9085ac026fe3542abbeb2ea2ec05f5c37aecd7695f6cc41e9ccf39014196a39c02db69c4416d5c45acc2e9469b7f274992b2858f3bb2746becb48c8b56ce4b"
    );
    assert_eq!(
        hex::encode(blake2b::<64>(b"TestKey", &[b"Test", b"Message"]).unwrap()),
        "6a2faad89cf9010a4270cba07cc96cfb36688106e080b15fef66bb03c68e877874c9059edf53d03c1330b2655efdad6e4aa259118b6ea88698ea038efb9d52ce"
    );
    assert!(blake2b::<32>(&[0u8; 65], &[m]).is_err());
}

#[test]
fn ons_lookup() {
    let nonce: [u8; 24] = hex::decode("00112233445566778899aabbccddeeff00ffeeddccbbaa99")
        .unwrap()
        .try_into()
        .unwrap();
    let ct = hex::decode("3575802dd9bfea72672a208840f37ca289ceade5d3ffacabe2d231f109d204329fc33e28c331580d9a8c9b8a64cacfec97").unwrap();
    let id = decrypt_ons_response("test", &ct, &nonce).unwrap();
    assert_eq!(
        id.to_string(),
        "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
    );
    assert_eq!(
        decrypt_ons_response("tesT", &ct, &nonce).err(),
        Some(CryptoError::DecryptFailed)
    );
}

use rand_core_import::SeedableRng;
mod rand_core_import {
    pub use rand_chacha::rand_core::SeedableRng;
}
