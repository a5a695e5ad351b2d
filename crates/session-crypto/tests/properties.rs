//! Property tests: round trips, tamper detection, and no panics on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use session_crypto::{
    decrypt_incoming, encrypt_for_recipient, mnemonic, AccountId, Ed25519Seed, HopCipher, HopKey,
    IdentityKeyPair, X25519SecretKey,
};

fn pair(seed: u64) -> IdentityKeyPair {
    Ed25519Seed::generate(&mut ChaCha20Rng::seed_from_u64(seed)).key_pair()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn session_protocol_round_trips(len in 0usize..=76 * 1024, seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let message: Vec<u8> = (0..len).map(|i| (i as u8) ^ (seed as u8)).collect();
        let (alice, bob) = (pair(seed), pair(seed ^ 1));
        let ct = encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng).unwrap();
        prop_assert_eq!(ct.len(), len + session_crypto::session_protocol::V1_OVERHEAD);
        let (plain, sender) = decrypt_incoming(&bob, &ct).unwrap();
        prop_assert_eq!(plain, message);
        prop_assert_eq!(sender, alice.account_id());
    }

    #[test]
    fn any_flipped_bit_is_rejected(len in 0usize..2048, bit in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (alice, bob) = (pair(seed), pair(seed ^ 1));
        let mut ct = encrypt_for_recipient(&alice, &bob.x25519_public(), &vec![7u8; len], &mut rng).unwrap();
        let bit = bit.index(ct.len() * 8);
        ct[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(decrypt_incoming(&bob, &ct).is_err());
    }

    #[test]
    fn hop_layers_detect_any_flipped_bit(len in 0usize..4096, bit in any::<prop::sample::Index>(), seed in any::<u64>(), aes in any::<bool>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let cipher = if aes { HopCipher::AesGcm } else { HopCipher::XChaCha20 };
        let node = X25519SecretKey::generate(&mut rng);
        let eph = X25519SecretKey::generate(&mut rng);
        let client = HopKey::for_client(cipher, &eph, &node.public_key()).unwrap();
        let server = HopKey::for_node(cipher, &node, &eph.public_key()).unwrap();
        let plain = vec![9u8; len];
        let mut ct = client.encrypt(&plain, &mut rng).unwrap();
        prop_assert_eq!(server.decrypt(&ct).unwrap(), plain);
        let bit = bit.index(ct.len() * 8);
        ct[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(server.decrypt(&ct).is_err());
    }
}

proptest! {
    #[test]
    fn phrases_round_trip(seed16 in any::<[u8; 16]>(), seed32 in any::<[u8; 32]>()) {
        let legacy = mnemonic::encode(&seed16).unwrap();
        prop_assert_eq!(legacy.split(' ').count(), 13);
        prop_assert_eq!(mnemonic::decode(&legacy).unwrap().to_vec(), seed16.to_vec());
        let full = mnemonic::encode(&seed32).unwrap();
        prop_assert_eq!(full.split(' ').count(), 25);
        prop_assert_eq!(mnemonic::decode(&full).unwrap().to_vec(), seed32.to_vec());
        // Through the seed type, including the legacy detection.
        let seed = Ed25519Seed::from_phrase(&full).unwrap();
        prop_assert_eq!(seed.as_bytes(), &seed32);
    }

    #[test]
    fn arbitrary_phrases_never_panic(words in proptest::collection::vec("[a-zA-Z]{0,9}", 0..30)) {
        let _ = mnemonic::decode(&words.join(" "));
    }

    #[test]
    fn arbitrary_text_never_panics_as_phrase_or_account_id(text in any::<String>()) {
        let _ = mnemonic::decode(&text);
        let _ = text.parse::<AccountId>();
    }

    #[test]
    fn near_miss_account_ids_never_panic(body in "[0-9a-fA-Fg-z]{60,70}", prefix in "[0-9a-f]{2}") {
        let text = format!("{prefix}{body}");
        if let Ok(id) = text.parse::<AccountId>() {
            prop_assert_eq!(id.to_string(), text.to_lowercase());
        }
    }

    #[test]
    fn arbitrary_ciphertexts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let bob = pair(5);
        prop_assert!(decrypt_incoming(&bob, &bytes).is_err());
    }
}
