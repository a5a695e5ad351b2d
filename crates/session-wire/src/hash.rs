//! The storage message hash (session-storage-server `compute_hash`).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use session_crypto::hash::blake2b_32;

/// The hash a swarm files a message under: base64 (standard, unpadded) of
/// BLAKE2b-32(33-byte prefixed pubkey || namespace in decimal ASCII, empty for 0 || data).
pub fn message_hash(pubkey: &[u8; 33], namespace: i16, data: &[u8]) -> String {
    let namespace = if namespace == 0 {
        String::new()
    } else {
        namespace.to_string()
    };
    STANDARD_NO_PAD.encode(blake2b_32(&[pubkey, namespace.as_bytes(), data]))
}
