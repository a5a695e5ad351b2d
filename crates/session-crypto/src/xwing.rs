//! Account keys of Session Protocol v2: X-Wing key pairs (X25519 + ML-KEM-768, FIPS 203).
//!
//! An account key pair derives from a 32-byte [`AccountKeySeed`]:
//! `(x25519_secret 32, mlkem_seed 64) = SHAKE256("SessionAccountKeys" || seed)`, and the ML-KEM
//! pair is FIPS 203 `KeyGen_internal(d || z = mlkem_seed)`. Only the seed needs storing (or
//! sharing with the account's other devices).

use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, B32};
use rand_core::CryptoRngCore;
use sha3::digest::{Digest, ExtendableOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{X25519PublicKey, X25519SecretKey};
use crate::session_v2::V2Error;

/// Bytes of an ML-KEM-768 encapsulation (public) key.
pub const MLKEM_PUBLIC_LEN: usize = 1184;
/// Bytes of an ML-KEM-768 ciphertext.
pub const MLKEM_CIPHERTEXT_LEN: usize = 1088;
/// Bytes of the 64-byte `d || z` seed of ML-KEM-768 deterministic key generation.
pub const MLKEM_SEED_LEN: usize = 64;
/// The X-Wing combiner's label, ASCII `\.//^\`.
pub const XWING_LABEL: &[u8; 6] = b"\\.//^\\";

/// The domain of the SHAKE256 that expands an [`AccountKeySeed`].
const ACCOUNT_KEYS_DOMAIN: &[u8] = b"SessionAccountKeys";

type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;
type EncapsulationKey = <MlKem768 as KemCore>::EncapsulationKey;
type Ciphertext = ml_kem::Ciphertext<MlKem768>;

/// SHA3-256 over the concatenation of `parts`.
pub fn sha3_256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha3_256::new();
    for part in parts {
        Digest::update(&mut hasher, part);
    }
    hasher.finalize().into()
}

/// The first `N` bytes of SHAKE256 over the concatenation of `parts`.
pub fn shake256<const N: usize>(parts: &[&[u8]]) -> Zeroizing<[u8; N]> {
    let mut hasher = Shake256::default();
    for part in parts {
        hasher.update(part);
    }
    let mut out = Zeroizing::new([0u8; N]);
    hasher.finalize_xof().read(out.as_mut());
    out
}

/// The X-Wing combiner as Session uses it:
/// `SHA3-256(ss_mlkem || ss_x25519 || E || X || "\.//^\")`.
pub fn xwing_combine(
    ss_mlkem: &[u8; 32],
    ss_x25519: &[u8; 32],
    ephemeral: &X25519PublicKey,
    recipient: &X25519PublicKey,
) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(sha3_256(&[
        ss_mlkem,
        ss_x25519,
        ephemeral.as_bytes(),
        recipient.as_bytes(),
        XWING_LABEL,
    ]))
}

/// The 32-byte secret an account key pair derives from.
pub struct AccountKeySeed(Zeroizing<[u8; 32]>);

impl AccountKeySeed {
    /// Draws a fresh seed.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self(seed)
    }

    /// Wraps stored seed bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses stored seed bytes, refusing a wrong length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::WrongLength {
            what: "account key seed",
            expected: 32,
            got: bytes.len(),
        })?;
        Ok(Self::from_bytes(array))
    }

    /// The seed bytes (secret: store them encrypted, never log them).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for AccountKeySeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountKeySeed(..)")
    }
}

/// The public half of an account key pair: what is published in namespace -21.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountPublicKey {
    x25519: X25519PublicKey,
    mlkem: Box<[u8; MLKEM_PUBLIC_LEN]>,
}

impl AccountPublicKey {
    /// Builds from the two public keys, checking the ML-KEM key is a valid encoding (FIPS 203
    /// modulus check: it must re-encode to the same bytes).
    pub fn new(x25519: X25519PublicKey, mlkem: &[u8]) -> Result<Self, V2Error> {
        let mlkem: Box<[u8; MLKEM_PUBLIC_LEN]> =
            Box::new(mlkem.try_into().map_err(|_| CryptoError::WrongLength {
                what: "ML-KEM-768 public key",
                expected: MLKEM_PUBLIC_LEN,
                got: mlkem.len(),
            })?);
        let key = Self { x25519, mlkem };
        let decoded = key.encapsulation_key();
        if decoded.as_bytes().as_slice() != key.mlkem.as_slice() {
            return Err(V2Error::InvalidMlKemKey);
        }
        Ok(key)
    }

    /// The X25519 half.
    pub fn x25519(&self) -> &X25519PublicKey {
        &self.x25519
    }

    /// The ML-KEM-768 encapsulation key.
    pub fn mlkem(&self) -> &[u8; MLKEM_PUBLIC_LEN] {
        &self.mlkem
    }

    /// The key indicator: the first two bytes of the ML-KEM key (sent masked).
    pub fn indicator(&self) -> [u8; 2] {
        [self.mlkem[0], self.mlkem[1]]
    }

    fn encapsulation_key(&self) -> EncapsulationKey {
        let encoded = ml_kem::Encoded::<EncapsulationKey>::from(*self.mlkem);
        EncapsulationKey::from_bytes(&encoded)
    }

    /// Encapsulates with the given 32 coins (FIPS 203 `Encaps_internal`): the ciphertext and the
    /// ML-KEM shared secret.
    pub(crate) fn encapsulate_with(
        &self,
        coins: &[u8; 32],
    ) -> ([u8; MLKEM_CIPHERTEXT_LEN], Zeroizing<[u8; 32]>) {
        let m = B32::from(*coins);
        // Deterministic encapsulation cannot fail (its error type is uninhabited in practice).
        match self.encapsulation_key().encapsulate_deterministic(&m) {
            Ok((ct, ss)) => (ct.into(), Zeroizing::new(ss.into())),
            Err(_) => ([0u8; MLKEM_CIPHERTEXT_LEN], Zeroizing::new([0u8; 32])),
        }
    }

    /// Encapsulates with fresh coins from `rng`.
    pub(crate) fn encapsulate(
        &self,
        rng: &mut impl CryptoRngCore,
    ) -> ([u8; MLKEM_CIPHERTEXT_LEN], Zeroizing<[u8; 32]>) {
        match self.encapsulation_key().encapsulate(rng) {
            Ok((ct, ss)) => (ct.into(), Zeroizing::new(ss.into())),
            Err(_) => ([0u8; MLKEM_CIPHERTEXT_LEN], Zeroizing::new([0u8; 32])),
        }
    }
}

impl std::fmt::Debug for AccountPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AccountPublicKey({}, mlkem {}..)",
            self.x25519,
            hex::encode(&self.mlkem[..4])
        )
    }
}

/// An account key pair: X25519 and ML-KEM-768 secrets with their public halves.
pub struct AccountKeyPair {
    x25519: X25519SecretKey,
    mlkem: Box<DecapsulationKey>,
    public: AccountPublicKey,
}

impl AccountKeyPair {
    /// Derives the pair from its seed (see the module documentation).
    pub fn from_seed(seed: &AccountKeySeed) -> Self {
        let expanded = shake256::<{ 32 + MLKEM_SEED_LEN }>(&[ACCOUNT_KEYS_DOMAIN, seed.as_bytes()]);
        let mut x = Zeroizing::new([0u8; 32]);
        x.copy_from_slice(&expanded[..32]);
        let mut mlkem_seed = Zeroizing::new([0u8; MLKEM_SEED_LEN]);
        mlkem_seed.copy_from_slice(&expanded[32..]);
        Self::from_parts(X25519SecretKey::from_bytes(*x), &mlkem_seed)
    }

    /// Builds the pair from an X25519 secret and the 64-byte ML-KEM `d || z` seed.
    pub fn from_parts(x25519: X25519SecretKey, mlkem_seed: &[u8; MLKEM_SEED_LEN]) -> Self {
        let mut d = B32::default();
        d.copy_from_slice(&mlkem_seed[..32]);
        let mut z = B32::default();
        z.copy_from_slice(&mlkem_seed[32..]);
        let (dk, ek) = MlKem768::generate_deterministic(&d, &z);
        zeroize::Zeroize::zeroize(d.as_mut_slice());
        zeroize::Zeroize::zeroize(z.as_mut_slice());
        let mut mlkem_public = Box::new([0u8; MLKEM_PUBLIC_LEN]);
        mlkem_public.copy_from_slice(ek.as_bytes().as_slice());
        let public = AccountPublicKey {
            x25519: x25519.public_key(),
            mlkem: mlkem_public,
        };
        Self {
            x25519,
            mlkem: Box::new(dk),
            public,
        }
    }

    /// The public half.
    pub fn public(&self) -> &AccountPublicKey {
        &self.public
    }

    /// The X25519 secret.
    pub fn x25519_secret(&self) -> &X25519SecretKey {
        &self.x25519
    }

    /// Decapsulates an ML-KEM ciphertext (implicit rejection: a forged one gives a random-looking
    /// secret, which then fails authentication).
    pub(crate) fn decapsulate(
        &self,
        ciphertext: &[u8; MLKEM_CIPHERTEXT_LEN],
    ) -> Zeroizing<[u8; 32]> {
        let ct = Ciphertext::from(*ciphertext);
        match self.mlkem.decapsulate(&ct) {
            Ok(ss) => Zeroizing::new(ss.into()),
            Err(()) => Zeroizing::new([0u8; 32]),
        }
    }
}

impl std::fmt::Debug for AccountKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKeyPair({:?})", self.public)
    }
}
