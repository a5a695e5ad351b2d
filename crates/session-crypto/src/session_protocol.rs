//! Session Protocol v1: signed, sealed-box encryption of one message for one recipient.
//!
//! Sender Ed25519 key pair `a/A`, recipient X25519 key `Y`, message `M`:
//! `SIG = Ed25519_sign(a, M || A || Y)`, `inner = M || A || SIG`, `ct = crypto_box_seal(inner, Y)`.
//! The sealed box uses a fresh X25519 key `(e, E)`, nonce `BLAKE2b-24(E || Y)` and
//! XSalsa20-Poly1305; its output is `E || tag || box`, 48 bytes of overhead.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::hash::fixed_key_hash;
use crate::keys::{AccountId, Ed25519PublicKey, IdentityKeyPair, X25519PublicKey, X25519SecretKey};

/// Bytes a sealed box adds: the ephemeral public key and the Poly1305 tag.
pub const SEAL_OVERHEAD: usize = 32 + 16;
/// Bytes Session Protocol v1 adds to a message: the sealed box, the sender key and the signature.
pub const V1_OVERHEAD: usize = SEAL_OVERHEAD + 32 + 64;

/// The key of the keyed hash that makes the deterministic variant's ephemeral seed.
const BOX_HASH_KEY: &[u8] = b"SessionBoxEphemeralHashKey";

/// Encrypts `message` for `recipient`, signed by `sender`, with a fresh ephemeral key from `rng`.
pub fn encrypt_for_recipient(
    sender: &IdentityKeyPair,
    recipient: &X25519PublicKey,
    message: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    let ephemeral = X25519SecretKey::generate(rng);
    seal(
        &ephemeral,
        recipient,
        &sign_for_recipient(sender, recipient, message),
    )
}

/// As [`encrypt_for_recipient`], but with the ephemeral key derived from the sender's seed, the
/// recipient and the message (libsession-util's `encrypt_for_recipient_deterministic`). The same
/// inputs always give the same bytes, which reveals repeated messages: use it only for test
/// vectors and interoperability checks.
pub fn encrypt_for_recipient_deterministic(
    sender: &IdentityKeyPair,
    recipient: &X25519PublicKey,
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let seed = sender.seed_bytes();
    let box_seed = Zeroizing::new(fixed_key_hash::<32>(
        BOX_HASH_KEY,
        &[seed.as_slice(), recipient.as_bytes(), message],
    ));
    let ephemeral = X25519SecretKey::from_box_seed(&box_seed);
    seal(
        &ephemeral,
        recipient,
        &sign_for_recipient(sender, recipient, message),
    )
}

/// Opens a message sent to `recipient`, checks the sender's signature, and returns the plaintext
/// and the sender's Account ID.
pub fn decrypt_incoming(
    recipient: &IdentityKeyPair,
    ciphertext: &[u8],
) -> Result<(Vec<u8>, AccountId), CryptoError> {
    if ciphertext.len() < V1_OVERHEAD {
        return Err(CryptoError::CiphertextTooShort {
            got: ciphertext.len(),
            min: V1_OVERHEAD,
        });
    }
    let own_public = recipient.x25519_public();
    let mut inner = open(recipient.x25519_secret(), &own_public, ciphertext)?;
    let body_len = inner.len() - 32 - 64;
    let (message, rest) = inner.split_at(body_len);
    let (sender_key, signature) = rest.split_at(32);
    let sender = Ed25519PublicKey::from_slice(sender_key)?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| CryptoError::DecryptFailed)?;

    let mut signed = Vec::with_capacity(body_len + 64);
    signed.extend_from_slice(message);
    signed.extend_from_slice(sender.as_bytes());
    signed.extend_from_slice(own_public.as_bytes());
    sender.verify(&signed, &signature)?;

    let sender_id = AccountId::from_x25519(sender.to_x25519()?);
    inner.truncate(body_len);
    Ok((inner, sender_id))
}

/// `M || A || Ed25519_sign(M || A || Y)`.
fn sign_for_recipient(
    sender: &IdentityKeyPair,
    recipient: &X25519PublicKey,
    message: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(message.len() + 32 + 64));
    buf.extend_from_slice(message);
    buf.extend_from_slice(sender.ed25519_public().as_bytes());
    buf.extend_from_slice(recipient.as_bytes());
    let signature = sender.sign(&buf);
    let signed_len = buf.len() - 32;
    buf.truncate(signed_len);
    buf.extend_from_slice(&signature);
    buf
}

/// libsodium `crypto_box_seal` with a given ephemeral key.
fn seal(
    ephemeral: &X25519SecretKey,
    recipient: &X25519PublicKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ephemeral_public = ephemeral.public_key();
    let cipher = box_cipher(ephemeral, recipient)?;
    let nonce = seal_nonce(&ephemeral_public, recipient);
    let sealed = cipher
        .encrypt(&nonce.into(), plaintext)
        .map_err(|_| CryptoError::EncryptFailed)?;
    let mut out = Vec::with_capacity(32 + sealed.len());
    out.extend_from_slice(ephemeral_public.as_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// libsodium `crypto_box_seal_open`.
fn open(
    own_secret: &X25519SecretKey,
    own_public: &X25519PublicKey,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (ephemeral, sealed) =
        ciphertext
            .split_at_checked(32)
            .ok_or(CryptoError::CiphertextTooShort {
                got: ciphertext.len(),
                min: SEAL_OVERHEAD,
            })?;
    let ephemeral = X25519PublicKey::from_slice(ephemeral)?;
    let cipher = box_cipher(own_secret, &ephemeral).map_err(|_| CryptoError::DecryptFailed)?;
    let nonce = seal_nonce(&ephemeral, own_public);
    cipher
        .decrypt(&nonce.into(), sealed)
        .map_err(|_| CryptoError::DecryptFailed)
}

/// `crypto_box_beforenm`: HSalsa20 of the X25519 shared secret, as an XSalsa20-Poly1305 cipher.
fn box_cipher(
    secret: &X25519SecretKey,
    peer: &X25519PublicKey,
) -> Result<XSalsa20Poly1305, CryptoError> {
    let shared = secret.diffie_hellman(peer)?;
    let key = Zeroizing::new(salsa20::hsalsa::<salsa20::cipher::consts::U10>(
        (&*shared).into(),
        &Default::default(),
    ));
    Ok(XSalsa20Poly1305::new(&key))
}

/// The sealed-box nonce: `BLAKE2b-24(ephemeral public || recipient public)`.
fn seal_nonce(ephemeral: &X25519PublicKey, recipient: &X25519PublicKey) -> [u8; 24] {
    fixed_key_hash(b"", &[ephemeral.as_bytes(), recipient.as_bytes()])
}
