//! The network file a client joins with (JSON from disk or a download).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = session_client::NetworkFile::parse(data) {
        // A file that parsed gives a configuration, and survives a round trip.
        assert!(file.client_config().is_ok());
        let again = session_client::NetworkFile::parse(file.to_json().as_bytes()).expect("re-parse");
        assert_eq!(again, file);
    }
});
