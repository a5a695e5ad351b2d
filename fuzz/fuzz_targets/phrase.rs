//! Recovery phrases.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(seed) = session_crypto::mnemonic::decode(text) {
            // A phrase that decodes re-encodes to a phrase that decodes to the same seed.
            let again = session_crypto::mnemonic::encode(&seed).expect("re-encode");
            assert_eq!(session_crypto::mnemonic::decode(&again).expect("re-decode"), seed);
        }
    }
});
