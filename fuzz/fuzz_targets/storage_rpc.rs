//! Storage RPC request bodies.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = session_wire::rpc::Request::from_json(data) {
        // A request that parsed survives a round trip through its JSON.
        let again = session_wire::rpc::Request::from_json(&request.to_json()).expect("re-parse");
        assert_eq!(again, request);
    }
});
