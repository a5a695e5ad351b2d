//! Names of content-addressed blobs (attachment chunks kept by the swarms).

use session_crypto::hash::blake2b_32;

/// A blob's name: BLAKE2b-256 of its bytes. Nodes store a blob only under this name, and a
/// client checks every fetched blob against it, so a node cannot substitute other bytes.
pub fn blob_name(data: &[u8]) -> [u8; 32] {
    blake2b_32(&[data])
}

/// The name in its text form (64 lower-case hex characters), as in `store_blob`/`fetch_blob`.
pub fn blob_name_hex(data: &[u8]) -> String {
    hex::encode(blob_name(data))
}

/// Parses a 64-hex-character blob name; `None` if it is not one.
pub fn parse_blob_name(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok()).then_some(out)
}

/// The text form of a blob name already computed.
pub fn blob_name_hex_of(name: &[u8; 32]) -> String {
    hex::encode(name)
}
