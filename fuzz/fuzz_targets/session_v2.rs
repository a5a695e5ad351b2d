//! Session Protocol v2 parsing for a fixed recipient and account key: classification, key
//! indicator, AEAD, inner bt-dict and signature; and the namespace -21 account key record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use session_crypto::session_v2;

fuzz_target!(|data: &[u8]| {
    let bob = session_crypto::Ed25519Seed::from_bytes([9; 32]).key_pair();
    let key = session_crypto::AccountKeyPair::from_seed(
        &session_crypto::AccountKeySeed::from_bytes([7; 32]),
    );
    let _ = session_v2::classify(data);
    let _ = session_v2::decrypt_v2(&bob, [&key], data);
    let _ = session_v2::decrypt_v2_with(&bob, &key, data);
    let _ = session_v2::verify_account_key_record(&bob.account_id(), data);
});
