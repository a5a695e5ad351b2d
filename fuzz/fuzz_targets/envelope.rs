//! Stored message bytes: WebSocketMessage and Envelope protobufs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = session_wire::message::decode_envelope(data);
});
