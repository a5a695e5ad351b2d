//! Config record encryption, as libsession-util encrypts config messages (DESIGN.md section 9).
//!
//! - key = BLAKE2b-32(key_base || u64 big-endian plaintext length || domain), unkeyed;
//! - nonce = BLAKE2b-24(plaintext; key = `"libsessionutil-config-encrypted-" || domain`), so the
//!   same content under the same domain encrypts to the same bytes (a swarm keeps one copy);
//! - output = XChaCha20-Poly1305(key, nonce, no associated data) || nonce (overhead 40).
//!
//! [`pad`] prepends zero bytes so that the encrypted result falls on fixed buckets (256-byte
//! steps to 5,120; 1,024 to 20,480; 2,048 to 40,960; then 5,120), and [`seal`] pads and
//! encrypts in one step. User configs use the account's Ed25519 seed as `key_base`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::hash::fixed_key_hash;

/// Bytes added by encryption: the 16-byte tag and the appended 24-byte nonce.
pub const OVERHEAD: usize = 40;
/// The longest domain accepted (the nonce key, prefix included, must fit BLAKE2b's 64 bytes).
pub const MAX_DOMAIN_BYTES: usize = 24;
const NONCE_KEY_PREFIX: &[u8] = b"libsessionutil-config-encrypted-";
const NONCE_BYTES: usize = 24;

fn check_domain(domain: &str) -> Result<(), CryptoError> {
    if domain.is_empty() || domain.len() > MAX_DOMAIN_BYTES {
        return Err(CryptoError::WrongLength {
            what: "config domain (1 to 24)",
            expected: MAX_DOMAIN_BYTES,
            got: domain.len(),
        });
    }
    Ok(())
}

fn record_key(key_base: &[u8; 32], plaintext_len: usize, domain: &str) -> Zeroizing<[u8; 32]> {
    let len = (plaintext_len as u64).to_be_bytes();
    Zeroizing::new(fixed_key_hash(
        b"",
        &[key_base.as_slice(), &len, domain.as_bytes()],
    ))
}

/// The deterministic nonce of `plaintext` under `domain`.
pub fn nonce(plaintext: &[u8], domain: &str) -> Result<[u8; 24], CryptoError> {
    check_domain(domain)?;
    let mut key = Vec::with_capacity(NONCE_KEY_PREFIX.len() + domain.len());
    key.extend_from_slice(NONCE_KEY_PREFIX);
    key.extend_from_slice(domain.as_bytes());
    Ok(fixed_key_hash(&key, &[plaintext]))
}

/// Encrypts `plaintext` (already padded, if it should be) under `key_base` and `domain`.
pub fn encrypt(
    key_base: &[u8; 32],
    domain: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let nonce = nonce(plaintext, domain)?;
    let key = record_key(key_base, plaintext.len(), domain);
    let cipher = XChaCha20Poly1305::new((&*key).into());
    let mut out = cipher
        .encrypt(XNonce::from_slice(&nonce), plaintext)
        .map_err(|_| CryptoError::EncryptFailed)?;
    out.extend_from_slice(&nonce);
    Ok(out)
}

/// Decrypts what [`encrypt`] made (padding, if any, is left in place: see [`unpad`]).
pub fn decrypt(
    key_base: &[u8; 32],
    domain: &str,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    check_domain(domain)?;
    if ciphertext.len() < OVERHEAD {
        return Err(CryptoError::CiphertextTooShort {
            got: ciphertext.len(),
            min: OVERHEAD,
        });
    }
    let (sealed, nonce) = ciphertext.split_at(ciphertext.len() - NONCE_BYTES);
    let key = record_key(key_base, ciphertext.len() - OVERHEAD, domain);
    let cipher = XChaCha20Poly1305::new((&*key).into());
    cipher
        .decrypt(XNonce::from_slice(nonce), sealed)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptFailed)
}

/// The size `size` bytes are padded to so that, with `overhead` bytes added, they end on a
/// bucket boundary (the reference's `padded_size`).
pub fn padded_size(size: usize, overhead: usize) -> usize {
    let total = size.saturating_add(overhead);
    let chunk = if total < 5_120 {
        256
    } else if total < 20_480 {
        1_024
    } else if total < 40_960 {
        2_048
    } else {
        5_120
    };
    total.div_ceil(chunk).saturating_mul(chunk) - overhead
}

/// `plaintext` with zero bytes prepended up to [`padded_size`] with the encryption overhead.
pub fn pad(plaintext: &[u8]) -> Zeroizing<Vec<u8>> {
    let size = padded_size(plaintext.len(), OVERHEAD);
    let mut out = Zeroizing::new(vec![0u8; size - plaintext.len()]);
    out.extend_from_slice(plaintext);
    out
}

/// `padded` without its leading zero bytes (records never start with a zero byte).
pub fn unpad(padded: &[u8]) -> &[u8] {
    let start = padded.iter().position(|&b| b != 0).unwrap_or(padded.len());
    &padded[start..]
}

/// Pads and encrypts a record: the output's length is a bucket size.
pub fn seal(key_base: &[u8; 32], domain: &str, record: &[u8]) -> Result<Vec<u8>, CryptoError> {
    encrypt(key_base, domain, &pad(record))
}

/// Decrypts and unpads what [`seal`] made.
pub fn open(
    key_base: &[u8; 32],
    domain: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let padded = decrypt(key_base, domain, sealed)?;
    Ok(Zeroizing::new(unpad(&padded).to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_fall_on_buckets_and_open_again() {
        let key = [7u8; 32];
        for len in [1usize, 100, 216, 217, 5_000, 30_000] {
            let record = vec![b'x'; len];
            let sealed = seal(&key, "Contacts", &record).unwrap_or_default();
            assert_eq!(sealed.len(), padded_size(len, OVERHEAD) + OVERHEAD);
            assert_eq!(
                open(&key, "Contacts", &sealed).map(|p| p.to_vec()).ok(),
                Some(record)
            );
        }
        assert!(encrypt(&key, "", b"x").is_err());
        assert!(encrypt(&key, "a-domain-longer-than-24-bytes", b"x").is_err());
        assert!(decrypt(&key, "Contacts", &[0u8; 39]).is_err());
    }
}
