//! Onion request hop encryption: the symmetric layer between a client and one node.
//!
//! Each layer uses a fresh client X25519 key `(e, E)` and the node's X25519 key `B`. Both sides
//! derive the same key, so one [`HopKey`] encrypts the request and decrypts the reply (or the other
//! way round on the node).
//! - `xchacha20`: key = BLAKE2b-32(X25519(e, B) || E || B), output `nonce24 || ct || tag16`.
//! - `aes-gcm`: key = HMAC-SHA256(key = "LOKI", X25519(e, B)), output `iv12 || ct || tag16`.

use std::fmt;
use std::str::FromStr;

use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::hash::fixed_key_hash;
use crate::keys::{X25519PublicKey, X25519SecretKey};

/// The AEAD of one onion layer, named as in the `enc_type` JSON field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HopCipher {
    /// `"xchacha20"`: XChaCha20-Poly1305, our default.
    #[default]
    XChaCha20,
    /// `"aes-gcm"`: AES-256-GCM, the reference's default when `enc_type` is absent.
    AesGcm,
}

impl HopCipher {
    /// The `enc_type` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XChaCha20 => "xchacha20",
            Self::AesGcm => "aes-gcm",
        }
    }

    /// Nonce bytes at the front of a ciphertext.
    pub fn nonce_len(self) -> usize {
        match self {
            Self::XChaCha20 => 24,
            Self::AesGcm => 12,
        }
    }

    /// Bytes the cipher adds to a plaintext (nonce and tag).
    pub fn overhead(self) -> usize {
        self.nonce_len() + 16
    }
}

impl fmt::Display for HopCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `enc_type` that names no known cipher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown enc_type {0:?} (expected \"xchacha20\" or \"aes-gcm\")")]
pub struct UnknownCipher(pub String);

impl FromStr for HopCipher {
    type Err = UnknownCipher;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "xchacha20" | "xchacha20-poly1305" => Ok(Self::XChaCha20),
            "aes-gcm" | "gcm" => Ok(Self::AesGcm),
            other => Err(UnknownCipher(other.chars().take(32).collect())),
        }
    }
}

/// The symmetric key of one onion layer.
pub struct HopKey {
    cipher: HopCipher,
    key: Zeroizing<[u8; 32]>,
}

impl HopKey {
    /// The client's side: its ephemeral key pair for this layer and the node's public key.
    pub fn for_client(
        cipher: HopCipher,
        ephemeral: &X25519SecretKey,
        node: &X25519PublicKey,
    ) -> Result<Self, CryptoError> {
        let shared = ephemeral.diffie_hellman(node)?;
        Ok(Self::derive(cipher, &shared, &ephemeral.public_key(), node))
    }

    /// The node's side: its own key pair and the client's ephemeral public key from the request.
    pub fn for_node(
        cipher: HopCipher,
        node: &X25519SecretKey,
        ephemeral: &X25519PublicKey,
    ) -> Result<Self, CryptoError> {
        let shared = node.diffie_hellman(ephemeral)?;
        Ok(Self::derive(cipher, &shared, ephemeral, &node.public_key()))
    }

    fn derive(
        cipher: HopCipher,
        shared: &[u8; 32],
        client: &X25519PublicKey,
        node: &X25519PublicKey,
    ) -> Self {
        let key = match cipher {
            HopCipher::XChaCha20 => {
                fixed_key_hash::<32>(b"", &[shared, client.as_bytes(), node.as_bytes()])
            }
            HopCipher::AesGcm => {
                // HMAC accepts keys of any length, so this cannot fail.
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"LOKI")
                    .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
                mac.update(shared);
                mac.finalize().into_bytes().into()
            }
        };
        Self {
            cipher,
            key: Zeroizing::new(key),
        }
    }

    /// Which cipher this key is for.
    pub fn cipher(&self) -> HopCipher {
        self.cipher
    }

    /// Encrypts with a fresh random nonce: `nonce || ct || tag`.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 24];
        let nonce = &mut nonce[..self.cipher.nonce_len()];
        rng.fill_bytes(nonce);
        let sealed = match self.cipher {
            HopCipher::XChaCha20 => XChaCha20Poly1305::new((&*self.key).into())
                .encrypt(chacha20poly1305::XNonce::from_slice(nonce), plaintext),
            HopCipher::AesGcm => Aes256Gcm::new((&*self.key).into())
                .encrypt(aes_gcm::Nonce::from_slice(nonce), plaintext),
        }
        .map_err(|_| CryptoError::EncryptFailed)?;
        let mut out = Vec::with_capacity(nonce.len() + sealed.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts `nonce || ct || tag`.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let min = self.cipher.overhead();
        if ciphertext.len() < min {
            return Err(CryptoError::CiphertextTooShort {
                got: ciphertext.len(),
                min,
            });
        }
        let (nonce, sealed) = ciphertext.split_at(self.cipher.nonce_len());
        match self.cipher {
            HopCipher::XChaCha20 => XChaCha20Poly1305::new((&*self.key).into())
                .decrypt(chacha20poly1305::XNonce::from_slice(nonce), sealed),
            HopCipher::AesGcm => Aes256Gcm::new((&*self.key).into())
                .decrypt(aes_gcm::Nonce::from_slice(nonce), sealed),
        }
        .map_err(|_| CryptoError::DecryptFailed)
    }
}

impl fmt::Debug for HopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HopKey")
            .field("cipher", &self.cipher)
            .field("key", &"[redacted]")
            .finish()
    }
}
