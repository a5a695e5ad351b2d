//! Key newtypes: the Ed25519 identity seed and key pair, X25519 keys, and the Account ID.
//!
//! Secrets are zeroized on drop, have no `Clone`, and print as `[redacted]` in `Debug`.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{AccountIdError, CryptoError};

/// The one-byte prefix of a standard Session Account ID.
pub const ACCOUNT_ID_PREFIX: u8 = 0x05;

/// A 32-byte Ed25519 seed: the single secret from which an account's keys derive.
///
/// New accounts draw 32 random bytes (full entropy). Legacy Session accounts have a 16-byte seed,
/// extended with 16 zero bytes (see [`Ed25519Seed::from_legacy`]).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Ed25519Seed([u8; 32]);

impl Ed25519Seed {
    /// Draws a new full-entropy seed from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps 32 seed bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Extends a legacy 16-byte Session seed with 16 zero bytes, as the reference does.
    pub fn from_legacy(seed16: [u8; 16]) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&seed16);
        Self(bytes)
    }

    /// Whether this seed came from a 16-byte legacy seed (its second half is all zero).
    pub fn is_legacy(&self) -> bool {
        self.0[16..].iter().all(|b| *b == 0)
    }

    /// The raw seed bytes. Handle with care: this is the account's master secret.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Derives the identity key pair.
    pub fn key_pair(&self) -> IdentityKeyPair {
        IdentityKeyPair::from_seed(self)
    }
}

impl fmt::Debug for Ed25519Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Seed([redacted])")
    }
}

/// An account's identity: the Ed25519 signing key and the X25519 key pair derived from it.
pub struct IdentityKeyPair {
    signing: SigningKey,
    ed_public: Ed25519PublicKey,
    x_secret: X25519SecretKey,
    x_public: X25519PublicKey,
}

impl IdentityKeyPair {
    /// Derives the key pair from a seed (libsodium `crypto_sign_seed_keypair` and
    /// `crypto_sign_ed25519_sk_to_curve25519`).
    pub fn from_seed(seed: &Ed25519Seed) -> Self {
        let signing = SigningKey::from_bytes(&seed.0);
        let ed_public = Ed25519PublicKey(signing.verifying_key().to_bytes());
        let x_secret = X25519SecretKey::from_ed25519_seed(&seed.0);
        let x_public = x_secret.public_key();
        Self {
            signing,
            ed_public,
            x_secret,
            x_public,
        }
    }

    /// The Ed25519 public key.
    pub fn ed25519_public(&self) -> Ed25519PublicKey {
        self.ed_public
    }

    /// The X25519 public key (the Account ID without its prefix).
    pub fn x25519_public(&self) -> X25519PublicKey {
        self.x_public
    }

    /// The X25519 secret key.
    pub fn x25519_secret(&self) -> &X25519SecretKey {
        &self.x_secret
    }

    /// The Account ID, `05` followed by the X25519 public key.
    pub fn account_id(&self) -> AccountId {
        AccountId(self.x_public)
    }

    /// The 32-byte Ed25519 seed, in a buffer that is wiped when dropped.
    pub fn seed_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// Signs `message` with the Ed25519 key (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("ed25519_public", &self.ed_public)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// An Ed25519 public key (32 bytes). Not validated as a curve point until used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ed25519PublicKey(pub [u8; 32]);

impl Ed25519PublicKey {
    /// Reads a key from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(array32(bytes, "Ed25519 public key")?))
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        Ok(Self(hex32(text, "Ed25519 public key")?))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Verifies an Ed25519 signature over `message`, rejecting small-order keys and
    /// non-canonical signatures (as libsodium does).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), CryptoError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::InvalidEd25519Key)?;
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        key.verify_strict(message, &signature)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Converts to the X25519 (Montgomery) public key (libsodium `ed25519_pk_to_curve25519`).
    pub fn to_x25519(&self) -> Result<X25519PublicKey, CryptoError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::InvalidEd25519Key)?;
        if key.is_weak() {
            return Err(CryptoError::InvalidEd25519Key);
        }
        Ok(X25519PublicKey(key.to_montgomery().to_bytes()))
    }
}

impl fmt::Display for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({self})")
    }
}

/// An X25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct X25519PublicKey(pub [u8; 32]);

impl X25519PublicKey {
    /// Reads a key from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(array32(bytes, "X25519 public key")?))
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        Ok(Self(hex32(text, "X25519 public key")?))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for X25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519PublicKey({self})")
    }
}

/// An X25519 secret key, stored clamped (as libsodium outputs it), wiped on drop. Its public
/// key is computed once, at construction (a node derives every onion layer key with it).
pub struct X25519SecretKey {
    secret: x25519_dalek::StaticSecret,
    public: X25519PublicKey,
}

impl X25519SecretKey {
    /// Draws a fresh key (for example an onion request's ephemeral key).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// Wraps 32 secret bytes (clamping happens inside every scalar multiplication).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = X25519PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// The key libsodium's `crypto_sign_ed25519_sk_to_curve25519` derives from an Ed25519 seed:
    /// the first half of SHA-512(seed), clamped.
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        let digest = Zeroizing::new(Sha512::digest(seed));
        let mut scalar = Zeroizing::new([0u8; 32]);
        scalar.copy_from_slice(&digest[..32]);
        scalar[0] &= 248;
        scalar[31] &= 127;
        scalar[31] |= 64;
        Self::from_bytes(*scalar)
    }

    /// The key libsodium's `crypto_box_seed_keypair` derives from a 32-byte seed: the first half of
    /// SHA-512(seed), used as the scalar.
    pub fn from_box_seed(seed: &[u8; 32]) -> Self {
        let digest = Zeroizing::new(Sha512::digest(seed));
        let mut scalar = Zeroizing::new([0u8; 32]);
        scalar.copy_from_slice(&digest[..32]);
        Self::from_bytes(*scalar)
    }

    /// The secret bytes, in a buffer that is wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> X25519PublicKey {
        self.public
    }

    /// X25519 key agreement. Fails on an all-zero result (a low-order peer key), as libsodium's
    /// `crypto_scalarmult` does.
    pub fn diffie_hellman(
        &self,
        peer: &X25519PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0));
        if !shared.was_contributory() {
            return Err(CryptoError::DegenerateSharedSecret);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl fmt::Debug for X25519SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519SecretKey([redacted])")
    }
}

/// A Session Account ID: `05` followed by the account's X25519 public key, shown as 66 lowercase
/// hex characters. Parse it once at the edge with [`FromStr`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(X25519PublicKey);

impl AccountId {
    /// The Account ID of an X25519 public key.
    pub fn from_x25519(key: X25519PublicKey) -> Self {
        Self(key)
    }

    /// Reads the 33-byte form (`0x05` prefix and key).
    pub fn from_bytes33(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes.split_first() {
            Some((&ACCOUNT_ID_PREFIX, key)) => Ok(Self(X25519PublicKey::from_slice(key)?)),
            Some((&other, _)) if bytes.len() == 33 => Err(CryptoError::AccountId(
                AccountIdError::WrongPrefix(format!("{other:02x}")),
            )),
            _ => Err(CryptoError::WrongLength {
                what: "Account ID",
                expected: 33,
                got: bytes.len(),
            }),
        }
    }

    /// The X25519 public key this ID names.
    pub fn x25519(&self) -> X25519PublicKey {
        self.0
    }

    /// The 33-byte form: `0x05` followed by the key.
    pub fn to_bytes33(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = ACCOUNT_ID_PREFIX;
        out[1..].copy_from_slice(&self.0 .0);
        out
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "05{}", self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

impl FromStr for AccountId {
    type Err = AccountIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let count = text.chars().count();
        if count != 66 {
            return Err(AccountIdError::WrongLength(count));
        }
        if let Some((position, character)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(AccountIdError::NotHex {
                position: position + 1,
                character,
            });
        }
        // All 66 characters are ASCII hex digits from here on, so byte slicing is safe.
        let (prefix, key) = text.split_at(2);
        if prefix != "05" {
            return Err(AccountIdError::WrongPrefix(prefix.to_owned()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(key, &mut bytes).map_err(|_| AccountIdError::WrongLength(count))?;
        Ok(Self(X25519PublicKey(bytes)))
    }
}

/// Copies a slice of exactly 32 bytes into an array.
pub(crate) fn array32(bytes: &[u8], what: &'static str) -> Result<[u8; 32], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::WrongLength {
        what,
        expected: 32,
        got: bytes.len(),
    })
}

/// Decodes 64 hex characters into 32 bytes.
fn hex32(text: &str, what: &'static str) -> Result<[u8; 32], CryptoError> {
    let bytes = hex::decode(text).map_err(|_| CryptoError::WrongLength {
        what,
        expected: 32,
        got: text.len() / 2,
    })?;
    array32(&bytes, what)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn account_id_errors_name_the_problem() {
        let good = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
        assert!(good.parse::<AccountId>().is_ok());
        assert_eq!(
            good[..65].parse::<AccountId>(),
            Err(AccountIdError::WrongLength(65))
        );
        let bad_prefix = format!("15{}", &good[2..]);
        assert_eq!(
            bad_prefix.parse::<AccountId>(),
            Err(AccountIdError::WrongPrefix("15".into()))
        );
        let bad_char = format!("{}g{}", &good[..10], &good[11..]);
        assert_eq!(
            bad_char.parse::<AccountId>(),
            Err(AccountIdError::NotHex {
                position: 11,
                character: 'g'
            })
        );
        // Multi-byte characters count as one character each and never panic.
        let unicode = format!("05{}é", &good[2..65]);
        assert!(matches!(
            unicode.parse::<AccountId>(),
            Err(AccountIdError::NotHex { position: 66, .. })
        ));
        // Upper case hex is accepted and displayed in lower case.
        let upper = good.to_uppercase();
        assert_eq!(upper.parse::<AccountId>().unwrap().to_string(), good);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let seed = Ed25519Seed::from_bytes([7u8; 32]);
        assert_eq!(format!("{seed:?}"), "Ed25519Seed([redacted])");
        let pair = seed.key_pair();
        let shown = format!("{pair:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode(seed.as_bytes())));
        assert_eq!(
            format!("{:?}", pair.x25519_secret()),
            "X25519SecretKey([redacted])"
        );
    }

    #[test]
    fn legacy_seed_is_padded_with_zeros() {
        let seed = Ed25519Seed::from_legacy([1u8; 16]);
        assert!(seed.is_legacy());
        assert_eq!(&seed.as_bytes()[16..], &[0u8; 16]);
        assert!(!Ed25519Seed::from_bytes([1u8; 32]).is_legacy());
    }
}
