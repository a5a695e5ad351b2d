//! BLAKE2b helpers (libsodium `crypto_generichash`).

use crate::error::CryptoError;

/// BLAKE2b with an `N`-byte output (1 to 64) over the concatenation of `parts`, keyed with `key`
/// (up to 64 bytes; an empty key is the unkeyed hash).
pub fn blake2b<const N: usize>(key: &[u8], parts: &[&[u8]]) -> Result<[u8; N], CryptoError> {
    const { assert!(N >= 1 && N <= 64, "BLAKE2b output is 1 to 64 bytes") };
    if key.len() > blake2b_simd::KEYBYTES {
        return Err(CryptoError::WrongLength {
            what: "BLAKE2b key (at most)",
            expected: blake2b_simd::KEYBYTES,
            got: key.len(),
        });
    }
    let mut state = blake2b_simd::Params::new()
        .hash_length(N)
        .key(key)
        .to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(state.finalize().as_bytes());
    Ok(out)
}

/// Unkeyed 32-byte BLAKE2b over the concatenation of `parts`.
pub fn blake2b_32(parts: &[&[u8]]) -> [u8; 32] {
    fixed_key_hash(b"", parts)
}

/// Unkeyed 64-byte BLAKE2b over the concatenation of `parts`.
pub fn blake2b_64(parts: &[&[u8]]) -> [u8; 64] {
    fixed_key_hash(b"", parts)
}

/// BLAKE2b with a key known to be short enough (a constant of this crate, or another hash).
pub(crate) fn fixed_key_hash<const N: usize>(key: &[u8], parts: &[&[u8]]) -> [u8; N] {
    // Keys given here are at most 64 bytes, so `blake2b` cannot fail; the fallback is unreachable.
    blake2b(key, parts).unwrap_or([0u8; N])
}

/// Unkeyed BLAKE2b with an `N`-byte output (1 to 64) and a 16-byte personalisation string
/// (libsodium `crypto_generichash_blake2b_salt_personal` with no key and no salt).
pub fn blake2b_personal<const N: usize>(personal: &[u8; 16], parts: &[&[u8]]) -> [u8; N] {
    blake2b_keyed_personal(&[], personal, parts)
}

/// BLAKE2b with an `N`-byte output (1 to 64), a key (empty: none; callers give at most 64
/// bytes, the hash's limit; a longer one is cut to 64) and a 16-byte personalisation string.
pub fn blake2b_keyed_personal<const N: usize>(
    key: &[u8],
    personal: &[u8; 16],
    parts: &[&[u8]],
) -> [u8; N] {
    const { assert!(N >= 1 && N <= 64, "BLAKE2b output is 1 to 64 bytes") };
    let mut state = blake2b_simd::Params::new()
        .hash_length(N)
        .key(&key[..key.len().min(64)])
        .personal(personal)
        .to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}
