//! Property tests: round trips, and no panics on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value};
use session_crypto::Ed25519Seed;
use session_wire::padding::{pad, unpad};
use session_wire::rpc::Request;
use session_wire::{
    decode_text_message, encode_frame, encode_text_message, parse_frame, LayerRoute, OutgoingText,
};

proptest! {
    #[test]
    fn frames_round_trip(blob in proptest::collection::vec(any::<u8>(), 0..2048),
                         keys in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,40}", 0..5)) {
        let json: Map<String, Value> = keys.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let bytes = encode_frame(&blob, &json).unwrap();
        let frame = parse_frame(&bytes).unwrap();
        prop_assert_eq!(frame.blob, blob.as_slice());
        prop_assert_eq!(frame.json, json);
    }

    #[test]
    fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(frame) = parse_frame(&bytes) {
            let _ = LayerRoute::from_json(&frame.json);
        }
    }

    #[test]
    fn padding_round_trips(message in proptest::collection::vec(any::<u8>(), 0..1000)) {
        let padded = pad(&message);
        prop_assert_eq!(padded.len() % 160, 0);
        prop_assert_eq!(unpad(&padded), message.as_slice());
        prop_assert_eq!(unpad(&padded[..padded.len() - 1]), message.as_slice());
    }

    #[test]
    fn arbitrary_stored_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let bob = Ed25519Seed::from_bytes([9; 32]).key_pair();
        prop_assert!(decode_text_message(&bob, &bytes).is_err());
    }

    #[test]
    fn arbitrary_rpc_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Request::from_json(&bytes);
    }

    #[test]
    fn rpc_shaped_json_never_panics(method in "(store|retrieve|delete|delete_all|expire|batch|ifelse|info|get_swarm|x)",
                                    params in "\\{(\"[a-z_]{1,10}\":(-?[0-9]{1,20}|\"[a-zA-Z0-9+/=]{0,20}\"|\\[\\]|null|true),?){0,6}\\}") {
        let body = format!(r#"{{"method":"{method}","params":{params}}}"#);
        let _ = Request::from_json(body.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn text_messages_round_trip(text in ".{0,2000}", name in proptest::option::of("[^\\x00]{1,30}"), ts in any::<u64>(), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let alice = Ed25519Seed::generate(&mut rng).key_pair();
        let bob = Ed25519Seed::generate(&mut rng).key_pair();
        let out = OutgoingText { text: &text, display_name: name.as_deref(), timestamp_ms: ts };
        let stored = encode_text_message(&alice, &bob.account_id(), out, &mut rng).unwrap();
        let got = decode_text_message(&bob, &stored).unwrap();
        prop_assert_eq!(got.sender, alice.account_id());
        prop_assert_eq!(got.text, text);
        prop_assert_eq!(got.timestamp_ms, ts);
        prop_assert_eq!(got.display_name, name);
    }
}
