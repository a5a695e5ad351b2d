//! The two legacy attachment formats, decryption only (old messages and profile pictures still
//! point at them):
//! - attachments: `IV(16) || AES-256-CBC/PKCS#7 || HMAC-SHA256(mac_key, IV || ct)(32)` under a
//!   64-byte key (AES key || MAC key), with the sender's claimed plaintext size;
//! - display pictures: `nonce(12) || AES-256-GCM ciphertext || tag(16)`, no associated data.

use super::AttachmentError;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::cipher::BlockDecrypt;
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BLOCK: usize = 16;
const MAC_LEN: usize = 32;

/// Decrypts a legacy CBC + HMAC attachment. The MAC is checked first; then the PKCS#7 padding.
/// `claimed_size` (the pointer's `size`) truncates the plaintext; 0 keeps all of it; more than
/// the plaintext holds is refused.
pub fn decrypt_legacy_cbc(
    key64: &[u8; 64],
    blob: &[u8],
    claimed_size: u64,
) -> Result<Vec<u8>, AttachmentError> {
    if blob.len() < BLOCK + BLOCK + MAC_LEN {
        return Err(AttachmentError::Malformed(
            "shorter than IV, one block and MAC",
        ));
    }
    let (signed, mac) = blob.split_at(blob.len() - MAC_LEN);
    let mut hmac = <Hmac<Sha256> as Mac>::new_from_slice(&key64[32..])
        .map_err(|_| AttachmentError::Malformed("MAC key"))?;
    hmac.update(signed);
    if !bool::from(hmac.finalize().into_bytes().ct_eq(mac)) {
        return Err(AttachmentError::BadMac);
    }
    let (iv, ct) = signed.split_at(BLOCK);
    if ct.len() % BLOCK != 0 {
        return Err(AttachmentError::Malformed(
            "not a whole number of AES blocks",
        ));
    }
    let cipher =
        Aes256::new_from_slice(&key64[..32]).map_err(|_| AttachmentError::Malformed("AES key"))?;
    let mut plain = Vec::with_capacity(ct.len());
    let mut prev = [0u8; BLOCK];
    prev.copy_from_slice(iv);
    for block in ct.chunks_exact(BLOCK) {
        let mut b = aes_gcm::aes::Block::clone_from_slice(block);
        cipher.decrypt_block(&mut b);
        plain.extend(b.iter().zip(prev).map(|(x, p)| x ^ p));
        prev.copy_from_slice(block);
    }
    let pad = usize::from(plain.last().copied().unwrap_or(0));
    if pad == 0
        || pad > BLOCK
        || plain[plain.len() - pad..]
            .iter()
            .any(|&b| usize::from(b) != pad)
    {
        return Err(AttachmentError::Malformed("bad PKCS#7 padding"));
    }
    plain.truncate(plain.len() - pad);
    if claimed_size > plain.len() as u64 {
        return Err(AttachmentError::ClaimedSizeTooLarge {
            claimed: claimed_size,
            actual: plain.len(),
        });
    }
    if claimed_size > 0 {
        plain.truncate(claimed_size as usize);
    }
    Ok(plain)
}

/// Whether `digest` is the SHA-256 of the whole legacy blob (the pointer's `digest` field). The
/// reference's newest version no longer checks it; callers that want the older check use this.
pub fn legacy_digest_matches(blob: &[u8], digest: &[u8]) -> bool {
    bool::from(Sha256::digest(blob).as_slice().ct_eq(digest))
}

/// Decrypts a legacy AES-256-GCM display picture (`nonce12 || ct || tag16`).
pub fn decrypt_legacy_display_picture(
    key: &[u8; 32],
    blob: &[u8],
) -> Result<Vec<u8>, AttachmentError> {
    if blob.len() < 12 + 16 {
        return Err(AttachmentError::Truncated);
    }
    let (nonce, ct) = blob.split_at(12);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| AttachmentError::DecryptFailed)
}
