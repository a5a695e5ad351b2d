#![doc = include_str!("../README.md")]

pub mod attachment;
pub mod bt;
pub mod config_record;
mod error;
pub mod group_keys;
pub mod group_message;
pub mod group_multi;
pub mod group_subaccount;
pub mod hash;
mod keys;
pub mod mnemonic;
pub mod onion;
mod ons;
pub mod session_protocol;
pub mod session_v2;
pub mod xwing;

pub use error::{AccountIdError, CryptoError, PhraseError};
pub use keys::{
    AccountId, Ed25519PublicKey, Ed25519Seed, IdentityKeyPair, X25519PublicKey, X25519SecretKey,
    ACCOUNT_ID_PREFIX,
};
pub use onion::{HopCipher, HopKey};
pub use ons::decrypt_ons_response;
pub use session_protocol::{decrypt_incoming, encrypt_for_recipient};
pub use session_v2::V2Error;
pub use xwing::{AccountKeyPair, AccountKeySeed, AccountPublicKey};

/// Re-exported so callers can name the RNG bound without depending on `rand_core` themselves.
pub use rand_core::{CryptoRngCore, OsRng, RngCore};
