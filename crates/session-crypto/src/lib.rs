#![doc = include_str!("../README.md")]

pub mod attachment;
mod error;
pub mod hash;
mod keys;
pub mod mnemonic;
pub mod onion;
mod ons;
pub mod session_protocol;

pub use error::{AccountIdError, CryptoError, PhraseError};
pub use keys::{
    AccountId, Ed25519PublicKey, Ed25519Seed, IdentityKeyPair, X25519PublicKey, X25519SecretKey,
    ACCOUNT_ID_PREFIX,
};
pub use onion::{HopCipher, HopKey};
pub use ons::decrypt_ons_response;
pub use session_protocol::{decrypt_incoming, encrypt_for_recipient};

/// Re-exported so callers can name the RNG bound without depending on `rand_core` themselves.
pub use rand_core::{CryptoRngCore, OsRng, RngCore};
