//! Account ID strings.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<session_crypto::AccountId>() {
            assert_eq!(id.to_string(), text.to_ascii_lowercase());
        }
    }
});
