//! A swarm member's answer to `retrieve`, as the client's messenger reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<session_wire::rpc::RetrieveResponse>(data);
});
