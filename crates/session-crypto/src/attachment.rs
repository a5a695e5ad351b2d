//! Attachment encryption: the deterministic streaming format of libsession-util's
//! `attachments.hpp` (DESIGN.md section 9), and decryption of the two legacy formats.
//!
//! Output = `'S'` || secretstream header (24) || pushes of 32,768 plaintext bytes (+17 each), the
//! last tagged FINAL. The plaintext stream is `padding || data` with padding = (p-1) zero bytes
//! then `0x01`, sized so the whole output is a multiple of a step that grows with the file
//! (`encrypted_size`). The header and key come from keyed BLAKE2b-56 over the file, keyed by the
//! uploader's seed: the same sender encrypting the same file gets the same bytes (a re-upload
//! deduplicates), another sender gets unrelated bytes.

mod legacy;
mod secretstream;

pub use legacy::{decrypt_legacy_cbc, decrypt_legacy_display_picture, legacy_digest_matches};

use secretstream::{StreamState, HEADER_LEN, OVERHEAD, TAG_FINAL, TAG_MESSAGE};
use zeroize::Zeroizing;

/// The first byte of every attachment in this format.
pub const PREFIX: u8 = b'S';
/// Bytes of plaintext per secretstream push.
pub const CHUNK_SIZE: usize = 32_768;
/// Bytes each push adds (encrypted tag + MAC).
pub const CHUNK_OVERHEAD: usize = OVERHEAD;
/// Bytes of an attachment key.
pub const KEY_LEN: usize = 32;
/// Session's largest regular attachment (plaintext bytes); `encrypt` refuses more unless asked.
pub const MAX_REGULAR_SIZE: usize = 10_218_286;
/// Bytes before the first push: the prefix and the header.
const LEAD: usize = 1 + HEADER_LEN;
/// Bytes of one full push on the wire.
const FULL_PUSH: usize = CHUNK_SIZE + CHUNK_OVERHEAD;

/// What an attachment is for; each domain keys the derivation differently, so the same file
/// encrypts differently as an attachment and as a profile picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A file sent in a message (personalisation `SessionAttachmnt`).
    Attachment,
    /// A profile picture (personalisation `Session_Prof_Pic`).
    ProfilePicture,
}

impl Domain {
    fn personal(self) -> &'static [u8; 16] {
        match self {
            Self::Attachment => b"SessionAttachmnt",
            Self::ProfilePicture => b"Session_Prof_Pic",
        }
    }
}

/// Why an attachment could not be encrypted or decrypted.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The file is larger than allowed.
    #[error("data to encrypt is too large: {size} bytes, at most {max}")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The data does not start with the format's prefix byte `S`.
    #[error("not an attachment in the streaming format (first byte is not 'S')")]
    NotStreamFormat,
    /// The data is too short or cut off mid-stream.
    #[error("attachment is truncated")]
    Truncated,
    /// A chunk did not authenticate, or the stream's tags are out of order.
    #[error("attachment decryption failed: invalid key or corrupted data")]
    DecryptFailed,
    /// The decrypted padding is malformed.
    #[error("attachment padding is malformed")]
    BadPadding,
    /// A legacy attachment's HMAC did not verify.
    #[error("legacy attachment MAC does not verify (wrong key or corrupted data)")]
    BadMac,
    /// A legacy attachment's length or block padding is malformed.
    #[error("legacy attachment is malformed: {0}")]
    Malformed(&'static str),
    /// The sender claimed more bytes than the attachment holds.
    #[error("claimed size {claimed} is larger than the {actual} bytes decrypted")]
    ClaimedSizeTooLarge {
        /// The size the sender claimed.
        claimed: u64,
        /// The bytes actually decrypted.
        actual: usize,
    },
}

/// An encrypted attachment and the key that opens it (goes in the message's pointer).
pub struct Encrypted {
    /// The stream-format ciphertext.
    pub data: Vec<u8>,
    /// The 32-byte key.
    pub key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encrypted")
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// The padding length `p` (>= 1: the `0x01` marker and `p - 1` zero bytes before it) for `n`
/// plaintext bytes.
pub fn encrypted_padding(n: usize) -> usize {
    let chunks = n.div_ceil(CHUNK_SIZE);
    let enc = n + LEAD + 1 + CHUNK_OVERHEAD * chunks;
    let step = bit_floor(enc.max(131_072)) >> 5;
    let padded = enc.div_ceil(step) * step;
    let mut p = padded - enc + 1;
    // Padding that spills into extra pushes costs 17 bytes per push: take them back out of it.
    p -= CHUNK_OVERHEAD * (p / FULL_PUSH);
    if p % FULL_PUSH > CHUNK_SIZE * chunks - n {
        p -= CHUNK_OVERHEAD;
    }
    p
}

/// The exact size `encrypt` produces for `n` plaintext bytes.
pub fn encrypted_size(n: usize) -> usize {
    let stream = n + encrypted_padding(n);
    LEAD + stream + CHUNK_OVERHEAD * stream.div_ceil(CHUNK_SIZE)
}

fn bit_floor(x: usize) -> usize {
    if x == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - x.leading_zeros())
    }
}

/// The 56 bytes of key material: `BLAKE2b-56(data; key = seed[0..32], personal = domain)`;
/// bytes 0..24 are the stream header, 24..56 the attachment key.
fn nonce_key(seed: &[u8; 32], data: &[u8], domain: Domain) -> Zeroizing<[u8; 56]> {
    let hash = blake2b_simd::Params::new()
        .hash_length(56)
        .key(seed)
        .personal(domain.personal())
        .hash(data);
    let mut out = Zeroizing::new([0u8; 56]);
    out.copy_from_slice(hash.as_bytes());
    out
}

/// Encrypts `data` deterministically under the uploader's 32-byte `seed` (the Ed25519 seed).
/// Files over `MAX_REGULAR_SIZE` are refused unless `max_size` raises the limit.
pub fn encrypt(
    seed: &[u8; 32],
    data: &[u8],
    domain: Domain,
    max_size: Option<usize>,
) -> Result<Encrypted, AttachmentError> {
    let max = max_size.unwrap_or(MAX_REGULAR_SIZE);
    if data.len() > max {
        return Err(AttachmentError::TooLarge {
            size: data.len(),
            max,
        });
    }
    let material = nonce_key(seed, data, domain);
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&material[..HEADER_LEN]);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&material[HEADER_LEN..]);
    let mut state = StreamState::new(&key, &header);

    let padding = encrypted_padding(data.len());
    let mut out = Vec::with_capacity(encrypted_size(data.len()));
    out.push(PREFIX);
    out.extend_from_slice(&header);
    // The plaintext stream is `padding || data`, pushed in CHUNK_SIZE pieces.
    let total = padding + data.len();
    let mut chunk = Zeroizing::new(Vec::with_capacity(CHUNK_SIZE));
    let mut pos = 0;
    while pos < total {
        let end = (pos + CHUNK_SIZE).min(total);
        chunk.clear();
        for i in pos..end.min(padding) {
            chunk.push(u8::from(i + 1 == padding));
        }
        if end > padding {
            chunk.extend_from_slice(&data[pos.max(padding) - padding..end - padding]);
        }
        let tag = if end == total { TAG_FINAL } else { TAG_MESSAGE };
        state.push(&chunk, tag, &mut out);
        pos = end;
    }
    Ok(Encrypted { data: out, key })
}

/// Decrypts a stream-format attachment with its key. Fails on a wrong key, any altered byte,
/// truncation, misplaced FINAL tag, or malformed padding.
pub fn decrypt(key: &[u8; KEY_LEN], data: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    match data.first() {
        None => return Err(AttachmentError::Truncated),
        Some(&PREFIX) => {}
        Some(_) => return Err(AttachmentError::NotStreamFormat),
    }
    if data.len() < LEAD + CHUNK_OVERHEAD {
        return Err(AttachmentError::Truncated);
    }
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&data[1..LEAD]);
    let mut state = StreamState::new(key, &header);
    let body = &data[LEAD..];
    let mut plain = Vec::with_capacity(body.len());
    let mut pushes = body.chunks(FULL_PUSH).peekable();
    while let Some(push) = pushes.next() {
        let last = pushes.peek().is_none();
        let tag = state
            .pull(push, &mut plain)
            .ok_or(AttachmentError::DecryptFailed)?;
        match (tag, last) {
            (TAG_FINAL, true) | (TAG_MESSAGE, false) => {}
            (TAG_MESSAGE, true) => return Err(AttachmentError::Truncated),
            _ => return Err(AttachmentError::DecryptFailed),
        }
    }
    let marker = plain
        .iter()
        .position(|&b| b != 0)
        .ok_or(AttachmentError::BadPadding)?;
    if plain[marker] != 1 {
        return Err(AttachmentError::BadPadding);
    }
    plain.drain(..=marker);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn padding_fills_the_stream_to_its_size() {
        for n in [0, 1, 4053, 4054, 32768, 32769, 99_999, 1_000_000] {
            let e = encrypt(&[9; 32], &vec![7u8; n], Domain::Attachment, None).unwrap();
            assert_eq!(e.data.len(), encrypted_size(n), "n = {n}");
            assert_eq!(decrypt(&e.key, &e.data).unwrap().len(), n);
        }
    }
}
