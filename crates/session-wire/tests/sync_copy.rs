//! The copy of a sent message for the sender's other devices: encrypted to the sender itself,
//! with the Content's `syncTarget` naming the conversation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand_chacha::rand_core::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use session_crypto::Ed25519Seed;
use session_wire::{decode_text_message, encode_sync_copy, encode_text_message, OutgoingText};

#[test]
fn a_sync_copy_opens_only_for_the_sender_and_names_its_conversation() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let alice = Ed25519Seed::generate(&mut rng).key_pair();
    let bob = Ed25519Seed::generate(&mut rng).key_pair();
    let out = OutgoingText {
        text: "see you at eight",
        display_name: Some("Alice"),
        timestamp_ms: 1_700_000_000_123,
    };
    let copy = encode_sync_copy(&alice, &bob.account_id(), out, &mut rng).unwrap();
    let got = decode_text_message(&alice, &copy).unwrap();
    assert_eq!(got.sender, alice.account_id());
    assert_eq!(got.sync_target, Some(bob.account_id()));
    assert_eq!(got.text, "see you at eight");
    assert_eq!(got.timestamp_ms, 1_700_000_000_123);
    assert!(
        decode_text_message(&bob, &copy).is_err(),
        "Bob cannot open Alice's copy"
    );

    // The message Bob gets carries no sync target.
    let sent = encode_text_message(&alice, &bob.account_id(), out, &mut rng).unwrap();
    assert_eq!(decode_text_message(&bob, &sent).unwrap().sync_target, None);
}
