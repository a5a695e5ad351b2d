//! The account file on disk: damaged or forged bytes must give an error, never a panic or an
//! unbounded allocation (the passphrase-sealed kind is tried with a passphrase).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = session_client::AccountFile::new("fuzz-identity");
    let _ = file.open(data, None);
    // Sealed files run Argon2 with the file's own parameters: keep those small here (the
    // plausibility bound itself is tested in session-client), so that the fuzzer stays fast.
    if data.len() > 11 && u32::from_le_bytes([data[7], data[8], data[9], data[10]]) <= 256 {
        let _ = file.open(data, Some("passphrase"));
    }
});
