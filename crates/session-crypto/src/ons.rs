//! Session name service (ONS) lookups: decrypting the Account ID a name resolves to.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::hash::fixed_key_hash;
use crate::keys::AccountId;

/// Decrypts a name-service record: `name_hash = BLAKE2b-32(name)`,
/// `key = BLAKE2b-32(name, key = name_hash)`, XChaCha20-Poly1305 with `nonce`; the plaintext is a
/// 33-byte Account ID. `name` must already be lower-cased, as the reference requires.
pub fn decrypt_ons_response(
    name: &str,
    ciphertext: &[u8],
    nonce: &[u8; 24],
) -> Result<AccountId, CryptoError> {
    let name_hash = fixed_key_hash::<32>(b"", &[name.as_bytes()]);
    let key = Zeroizing::new(fixed_key_hash::<32>(&name_hash, &[name.as_bytes()]));
    let plaintext = XChaCha20Poly1305::new((&*key).into())
        .decrypt(nonce.into(), ciphertext)
        .map_err(|_| CryptoError::DecryptFailed)?;
    AccountId::from_bytes33(&plaintext)
}
