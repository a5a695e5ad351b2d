//! Test vectors from session-storage-server (unit_test/service_node.cpp) and libsession-util
//! (tests/test_onionreq.cpp), plus end-to-end checks of the message format. Values are copied
//! here; nothing is read from outside the crate at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use session_crypto::{CryptoError, Ed25519Seed, HopKey, X25519SecretKey};
use session_wire::message::decode_envelope;
use session_wire::rpc::{NamespaceSelector, Request};
use session_wire::{
    decode_text_message, encode_text_message, message_hash, parse_frame, LayerRoute, OutgoingText,
    WireError,
};

const STORED_B64: &str = "CAES1gIKA1BVVBIPL2FwaS92MS9tZXNzYWdlGrsCCAYovfqZv4YvQq8CVwutUBbhRzZw80TvR6uTYMKg9DSagrtpeEpY31L7VxawfS8aSya0SiDa4J025SkjP13YX8g5pxgQ8Z6hgfNArMqr/tSijJ9miVKVDJ63YWE85O8kyWF8tdtZR5j0Vxb+JH5U8Rg1bp7ftKk3OSf7JJMcrUUrDnctQHe540zJ2OTDJ03DfubkX5NmKqEu5nhXGxeeDv3mTiL63fjtCvZYcikfjf6Nh1AX++HTgJ9SGoEIMastGUorFrmmXb2sbjHxNiJn0Radj/VzcA9VxYwBW5+AbGQ2d9+vvm7X+8vh+jIenJfjxf+8CWER+9adNfb4YUH07I+godNCV0O0J05gzqfKdT7J8MBZzFBtKrbk8oCagPpTsq/wZyYFKFKKD+q+zh704dYBILvs5yXUA96pIAA=";

#[test]
fn storage_message_hash() {
    let pubkey: [u8; 33] =
        hex::decode("05ffba630924aa1224bb930dde21c0d11bf004608f2812217f8ac812d6c7e3ad48")
            .unwrap()
            .try_into()
            .unwrap();
    let data = STANDARD.decode(STORED_B64).unwrap();
    assert_eq!(
        message_hash(&pubkey, 0, &data),
        "4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs"
    );
    // Another namespace gives another hash (the namespace is part of the input).
    assert_ne!(
        message_hash(&pubkey, 5, &data),
        "4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs"
    );
}

#[test]
fn real_stored_message_decodes_to_its_envelope() {
    // The hash vector's data is what a real client stored: check our protobufs read it.
    let data = STANDARD.decode(STORED_B64).unwrap();
    let envelope = decode_envelope(&data).unwrap();
    assert_eq!(envelope.r#type, 6);
    assert_eq!(envelope.timestamp, 1_616_650_861_885);
    assert_eq!(envelope.content.as_ref().map(Vec::len), Some(303));
}

const FIRST_HOP_NODE_SK: &str = "2f4d1c0d28e137777ec0a316e9f4f763e3e66662a6c51994c6315c9ef34b6deb";
const FIRST_HOP_AES_GCM: &str = "270000009525d587d188c92a966eef0e7162bef99a6171a124575b998072a8ee7eb265e0b6f0930ed965047b22656e635f74797065223a20226165732d67636d222c2022657068656d6572616c5f6b6579223a202238313637653937363732303035633636396134383835386336393839356633393563613233353231396163336637613432313030323262316639313065363532227d";
const FIRST_HOP_XCHACHA: &str = "33000000e440bc244ddcafd947b86fc5a964aa58de54a6d75cc0f0f3840db14b6c1176a8e2e0a04d5fbdf98f23adee1edc8362ab99b10b7b22656e635f74797065223a2022786368616368613230222c2022657068656d6572616c5f6b6579223a202238313637653937363732303035633636396134383835386336393839356633393563613233353231396163336637613432313030323262316639313065363532227d";

#[test]
fn onion_request_first_hop() {
    let node_sk =
        X25519SecretKey::from_bytes(hex::decode(FIRST_HOP_NODE_SK).unwrap().try_into().unwrap());
    assert_eq!(
        node_sk.public_key().to_string(),
        "8388de69bc0d4b6196133233ad9a46ba0473474bc67718aad96a3a33c257f726"
    );
    for (request, cipher_name) in [
        (FIRST_HOP_AES_GCM, "aes-gcm"),
        (FIRST_HOP_XCHACHA, "xchacha20"),
    ] {
        let bytes = hex::decode(request).unwrap();
        let frame = parse_frame(&bytes).unwrap();
        let LayerRoute::Decrypt {
            ephemeral_key,
            cipher,
        } = LayerRoute::from_json(&frame.json).unwrap()
        else {
            panic!("the first hop's JSON asks it to decrypt");
        };
        assert_eq!(cipher.as_str(), cipher_name);
        assert_eq!(
            ephemeral_key.to_string(),
            "8167e97672005c669a48858c69895f395ca235219ac3f7a4210022b1f910e652"
        );
        let key = HopKey::for_node(cipher, &node_sk, &ephemeral_key).unwrap();
        assert_eq!(key.decrypt(frame.blob).unwrap(), b"Hello world");
        // The client (with the ephemeral secret) derives the same key.
        let client_sk = X25519SecretKey::from_bytes(
            hex::decode("d2ee09e1a557a077d385fcb69a11ffb6909ecdcc8348def3e0e4172c8a1431c1")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let client = HopKey::for_client(cipher, &client_sk, &node_sk.public_key()).unwrap();
        assert_eq!(client.decrypt(frame.blob).unwrap(), b"Hello world");
    }
}

#[test]
fn text_message_round_trip_and_rejections() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let alice = Ed25519Seed::generate(&mut rng).key_pair();
    let bob = Ed25519Seed::generate(&mut rng).key_pair();
    let carol = Ed25519Seed::generate(&mut rng).key_pair();
    let outgoing = OutgoingText {
        text: "hello bob",
        display_name: Some("Alice"),
        timestamp_ms: 1_700_000_000_123,
    };
    let stored = encode_text_message(&alice, &bob.account_id(), outgoing, &mut rng).unwrap();
    let received = decode_text_message(&bob, &stored).unwrap();
    assert_eq!(received.sender, alice.account_id());
    assert_eq!(received.timestamp_ms, outgoing.timestamp_ms);
    assert_eq!(received.text, "hello bob");
    assert_eq!(received.display_name.as_deref(), Some("Alice"));

    // Someone else cannot read it.
    assert_eq!(
        decode_text_message(&carol, &stored),
        Err(WireError::Crypto(CryptoError::DecryptFailed))
    );
    // Garbage and empty input are errors.
    assert!(decode_text_message(&bob, b"").is_err());
    assert!(decode_text_message(&bob, b"\xff\xff\xff").is_err());
    // Too large a text is refused before encryption.
    let big = "x".repeat(80_000);
    let too_big = OutgoingText {
        text: &big,
        ..outgoing
    };
    assert!(matches!(
        encode_text_message(&alice, &bob.account_id(), too_big, &mut rng),
        Err(WireError::TooLarge { .. })
    ));
}

#[test]
fn rpc_requests_parse_with_reference_names() {
    let store = br#"{"method":"store","params":{"pubKey":"05aa","ttl":"86400000","timestamp":1700000000000,"data":"aGk=","namespace":-10}}"#;
    let Request::Store(params) = Request::from_json(store).unwrap() else {
        panic!("store parses as store");
    };
    assert_eq!(params.pubkey, "05aa");
    assert_eq!(params.ttl, Some(86_400_000));
    assert_eq!(params.namespace, Some(-10));
    // A request survives a round trip through its JSON.
    assert_eq!(
        Request::from_json(&Request::Store(params.clone()).to_json()).unwrap(),
        Request::Store(params)
    );

    let delete_all = br#"{"method":"delete_all","params":{"pubkey":"05aa","namespace":"all","timestamp":5,"signature":"c2ln"}}"#;
    let Request::DeleteAll(params) = Request::from_json(delete_all).unwrap() else {
        panic!("delete_all parses as delete_all");
    };
    assert_eq!(params.namespace, Some(NamespaceSelector::All));
    assert_eq!(params.auth.signature.as_deref(), Some("c2ln"));

    assert_eq!(
        Request::from_json(br#"{"method":"info"}"#).unwrap(),
        Request::Info
    );
    assert!(matches!(
        Request::from_json(br#"{"method":"nope","params":{}}"#),
        Err(WireError::UnknownMethod(m)) if m == "nope"
    ));
    assert!(matches!(
        Request::from_json(br#"{"method":"store","params":{"pubkey":"05"}}"#),
        Err(WireError::BadParams { reason, .. }) if reason.contains("data")
    ));
    assert!(matches!(
        Request::from_json(br#"{"method":"retrieve","params":{"pubkey":"05","namespace":40000}}"#),
        Err(WireError::BadParams { .. })
    ));
    assert!(matches!(
        Request::from_json(b"{"),
        Err(WireError::BadJson(_))
    ));
}
