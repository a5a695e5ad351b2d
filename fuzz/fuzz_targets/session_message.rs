//! Whole message decoding for a fixed recipient: protobufs, sealed box, signature, padding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bob = session_crypto::Ed25519Seed::from_bytes([9; 32]).key_pair();
    let _ = session_wire::decode_text_message(&bob, data);
    let _ = session_crypto::decrypt_incoming(&bob, data);
});
