//! Onion frames and the routing JSON inside them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = session_wire::parse_frame(data) {
        let _ = session_wire::LayerRoute::from_json(&frame.json);
        // What parsed must re-encode and parse to the same frame.
        let again = session_wire::encode_frame(frame.blob, &frame.json).expect("re-encode");
        let reparsed = session_wire::parse_frame(&again).expect("re-parse");
        assert_eq!(reparsed, frame);
    }
});
