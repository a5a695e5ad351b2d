//! Encryption of one or several messages for several X25519 recipients under one shared nonce
//! (libsession-util `encrypt_for_multiple`): what the groups-v2 keys message uses for its member
//! copies of the group key.
//!
//! Each recipient's key is `BLAKE2b-32(X25519(a, B) || A || B; key = domain)`, `a`/`A` the
//! sender's X25519 key pair and `B` the recipient's public key (the recipient computes
//! `X25519(b, A) || A || B`: sender first in both directions); each entry is
//! `XChaCha20-Poly1305(key, nonce, message)` with no associated data.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::hash::blake2b;
use crate::{CryptoError, X25519PublicKey, X25519SecretKey};

/// Poly1305 tag length: each entry is its message plus this.
pub const TAG_BYTES: usize = 16;

/// The per-recipient symmetric key: `BLAKE2b-32(shared || sender || recipient; key = domain)`,
/// `domain` truncated to 64 bytes as the reference does.
fn pair_key(
    shared: &[u8; 32],
    sender: &X25519PublicKey,
    recipient: &X25519PublicKey,
    domain: &[u8],
) -> Zeroizing<[u8; 32]> {
    let domain = &domain[..domain.len().min(64)];
    Zeroizing::new(
        blake2b::<32>(domain, &[shared, sender.as_bytes(), recipient.as_bytes()])
            .unwrap_or([0u8; 32]),
    )
}

/// The key the sender `sender` (secret) uses for `recipient`.
pub fn sender_key(
    sender: &X25519SecretKey,
    recipient: &X25519PublicKey,
    domain: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let shared = sender.diffie_hellman(recipient)?;
    Ok(pair_key(&shared, &sender.public_key(), recipient, domain))
}

/// The key `recipient` (secret) uses to open what `sender` encrypted for it.
pub fn recipient_key(
    recipient: &X25519SecretKey,
    sender: &X25519PublicKey,
    domain: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let shared = recipient.diffie_hellman(sender)?;
    Ok(pair_key(&shared, sender, &recipient.public_key(), domain))
}

/// XChaCha20-Poly1305 of `message` under `key` and `nonce`, no associated data.
pub fn seal(key: &[u8; 32], nonce: &[u8; 24], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(nonce), message)
        .map_err(|_| CryptoError::EncryptFailed)
}

/// Opens [`seal`].
pub fn open(key: &[u8; 32], nonce: &[u8; 24], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), ciphertext)
        .map_err(|_| CryptoError::DecryptFailed)
}

/// Encrypts `messages[i]` for `recipients[i]`, or the single message for every recipient when
/// one is given. Fails when there are several messages but not one per recipient.
pub fn encrypt_for_multiple(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    nonce: &[u8; 24],
    sender: &X25519SecretKey,
    domain: &[u8],
) -> Result<Vec<Vec<u8>>, CryptoError> {
    if messages.is_empty() || (messages.len() != 1 && messages.len() != recipients.len()) {
        return Err(CryptoError::WrongLength {
            what: "message list (one, or one per recipient)",
            expected: recipients.len(),
            got: messages.len(),
        });
    }
    recipients
        .iter()
        .enumerate()
        .map(|(i, recipient)| {
            let key = sender_key(sender, recipient, domain)?;
            let message = messages.get(i).unwrap_or(&messages[0]);
            seal(&key, nonce, message)
        })
        .collect()
}

/// Tries every entry with `recipient`'s key; returns the first that opens.
pub fn decrypt_for_multiple<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    nonce: &[u8; 24],
    recipient: &X25519SecretKey,
    sender: &X25519PublicKey,
    domain: &[u8],
) -> Option<Vec<u8>> {
    let key = recipient_key(recipient, sender, domain).ok()?;
    entries
        .into_iter()
        .find_map(|entry| open(&key, nonce, entry).ok())
}
