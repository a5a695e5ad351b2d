//! Group messages (libsession-util `encrypt_for_group` / `decrypt_group_message`).
//!
//! The plaintext (optionally zstd-compressed, when that is strictly shorter) goes into a
//! bt-dict `{"": 1, a: sender Ed25519 key, d: data | z: compressed data, s: signature}` where
//! `s` signs `data || group Ed25519 key`; zero bytes are appended until
//! `24 + 16 + length` is a multiple of the padding; the output is
//! `nonce(24) || XChaCha20-Poly1305(group key, nonce, padded dict)`.

use crate::bt::{self, DictWriter};
use crate::group_keys::{GroupId, GroupKey};
use crate::group_multi::{open, seal, TAG_BYTES};
use crate::{AccountId, CryptoError, CryptoRngCore, Ed25519PublicKey, IdentityKeyPair};

/// Largest plaintext a group message may carry.
pub const MAX_PLAINTEXT_BYTES: usize = 1_000_000;
/// The padding step of group messages.
pub const GROUP_PADDING: usize = 256;
/// zstd level used to compress.
const ZSTD_LEVEL: i32 = 1;

/// A decrypted group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlaintext {
    /// The sender's Ed25519 key (what signed it).
    pub sender_ed25519: Ed25519PublicKey,
    /// The sender's Account ID (`05` + the key converted to X25519).
    pub sender: AccountId,
    /// The generation of the group key that opened it.
    pub generation: u64,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// Encrypts `plaintext` from `sender` for the group under `key`, with a random nonce.
pub fn encrypt_for_group(
    sender: &IdentityKeyPair,
    group: &GroupId,
    key: &GroupKey,
    plaintext: &[u8],
    compress: bool,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    encrypt_for_group_with_nonce(
        sender,
        group,
        key,
        plaintext,
        compress,
        GROUP_PADDING,
        &nonce,
    )
}

/// [`encrypt_for_group`] with the nonce and padding step given (for tests and vectors).
pub fn encrypt_for_group_with_nonce(
    sender: &IdentityKeyPair,
    group: &GroupId,
    key: &GroupKey,
    plaintext: &[u8],
    compress: bool,
    padding: usize,
    nonce: &[u8; 24],
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > MAX_PLAINTEXT_BYTES {
        return Err(CryptoError::WrongLength {
            what: "group message plaintext (at most)",
            expected: MAX_PLAINTEXT_BYTES,
            got: plaintext.len(),
        });
    }
    let compressed = if compress {
        zstd::bulk::compress(plaintext, ZSTD_LEVEL)
            .ok()
            .filter(|c| c.len() < plaintext.len())
    } else {
        None
    };
    let data = compressed.as_deref().unwrap_or(plaintext);
    let mut signed = Vec::with_capacity(data.len() + 32);
    signed.extend_from_slice(data);
    signed.extend_from_slice(group.ed25519().as_bytes());
    let signature = sender.sign(&signed);
    let mut dict = DictWriter::new();
    dict.int(b"", 1)
        .bytes(b"a", sender.ed25519_public().as_bytes());
    if compressed.is_some() {
        dict.bytes(b"s", &signature).bytes(b"z", data);
    } else {
        dict.bytes(b"d", data).bytes(b"s", &signature);
    }
    let mut inner = dict.finish();
    if padding > 1 {
        let overhead = 24 + TAG_BYTES;
        let remainder = (overhead + inner.len()) % padding;
        if remainder != 0 {
            inner.resize(inner.len() + padding - remainder, 0);
        }
    }
    let mut out = Vec::with_capacity(24 + inner.len() + TAG_BYTES);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&seal(key.bytes(), nonce, &inner)?);
    Ok(out)
}

/// Decrypts a group message with the first of `keys` that opens it, and checks its signature.
pub fn decrypt_group_message<'a>(
    keys: impl IntoIterator<Item = &'a GroupKey>,
    group: &GroupId,
    ciphertext: &[u8],
) -> Result<GroupPlaintext, CryptoError> {
    let min = 24 + TAG_BYTES;
    if ciphertext.len() < min {
        return Err(CryptoError::CiphertextTooShort {
            got: ciphertext.len(),
            min,
        });
    }
    let (nonce, body) = ciphertext.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::DecryptFailed)?;
    let (generation, mut inner) = keys
        .into_iter()
        .find_map(|key| {
            open(key.bytes(), &nonce, body)
                .ok()
                .map(|p| (key.generation, p))
        })
        .ok_or(CryptoError::DecryptFailed)?;
    let end = inner.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    inner.truncate(end);
    let bad = || CryptoError::Malformed("group message");
    let dict = bt::decode_dict(&inner)?;
    if dict.get(b"").and_then(bt::BtValue::as_int) != Some(1) {
        return Err(bad());
    }
    let sender_ed25519 = Ed25519PublicKey::from_slice(dict.bytes(b"a").ok_or_else(bad)?)?;
    let signature: [u8; 64] = dict
        .bytes(b"s")
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    let (data, compressed) = match (dict.bytes(b"d"), dict.bytes(b"z")) {
        (Some(d), None) if !d.is_empty() => (d, false),
        (None, Some(z)) if !z.is_empty() => (z, true),
        _ => return Err(bad()),
    };
    let mut signed = Vec::with_capacity(data.len() + 32);
    signed.extend_from_slice(data);
    signed.extend_from_slice(group.ed25519().as_bytes());
    sender_ed25519.verify(&signed, &signature)?;
    let plaintext = if compressed {
        zstd::bulk::decompress(data, MAX_PLAINTEXT_BYTES).map_err(|_| bad())?
    } else {
        data.to_vec()
    };
    let sender = AccountId::from_x25519(sender_ed25519.to_x25519()?);
    Ok(GroupPlaintext {
        sender_ed25519,
        sender,
        generation,
        plaintext,
    })
}
