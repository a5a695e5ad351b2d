//! What a node does with an onion request's bytes before any I/O: parse the frame and its
//! routing JSON, derive the layer key from the claimed ephemeral key, decrypt, and parse the
//! inner frame; and what a client does with a reply.
#![no_main]
use libfuzzer_sys::fuzz_target;
use session_crypto::{HopKey, X25519PublicKey, X25519SecretKey};
use session_wire::{parse_frame, LayerRoute};

fuzz_target!(|data: &[u8]| {
    let node = X25519SecretKey::from_bytes([7u8; 32]);
    if let Ok(frame) = parse_frame(data) {
        if let Ok(LayerRoute::Decrypt { ephemeral_key, cipher }) = LayerRoute::from_json(&frame.json) {
            if let Ok(key) = HopKey::for_node(cipher, &node, &ephemeral_key) {
                if let Ok(inner) = key.decrypt(frame.blob) {
                    let _ = parse_frame(&inner).map(|f| LayerRoute::from_json(&f.json));
                }
            }
        }
    }
    let client = X25519SecretKey::from_bytes([9u8; 32]);
    if let Ok(key) = HopKey::for_client(
        session_crypto::HopCipher::XChaCha20,
        &client,
        &X25519PublicKey([9u8; 32]),
    ) {
        let _ = session_wire::onion::open_reply(&key, data);
    }
});
