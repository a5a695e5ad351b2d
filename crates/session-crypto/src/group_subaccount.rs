//! Subaccount tokens for the group swarm (libsession-util `swarm_make_subaccount`,
//! `swarm_subaccount_token`, `swarm_subaccount_sign`): an admin lets a member read (and write)
//! the group's swarm without the group's key, and can revoke that right on the nodes.
//!
//! - The admin derives a blinding factor `k` for the member and signs the token
//!   `0x03 || flags || 0 || 0 || kT`, `T` the member's X25519 key as an Ed25519 point (positive
//!   sign): the member receives `auth_data = token[..4] || k || signature` (100 bytes).
//! - The member computes `kT` itself (`k` times its Ed25519 key with the sign bit cleared) and
//!   signs requests with the scalar `k * t` (its own scalar, negated when its key's sign bit is
//!   set), which the node checks as a plain Ed25519 signature under `kT`.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::group_keys::{GroupId, GroupIdentity, GROUP_ID_PREFIX};
use crate::hash::fixed_key_hash;
use crate::{CryptoError, IdentityKeyPair, X25519PublicKey};

/// Subaccount permission: read.
pub const SUBACCOUNT_READ: u8 = 0x01;
/// Subaccount permission: write.
pub const SUBACCOUNT_WRITE: u8 = 0x02;
/// Subaccount permission: delete.
pub const SUBACCOUNT_DELETE: u8 = 0x04;
/// Length of the member's authentication data.
pub const AUTH_DATA_BYTES: usize = 100;

const MASK_DOMAIN: &[u8] = b"SessionGroupSubaccountMask";

/// The blinding factor of `member` in `group`:
/// `reduce(BLAKE2b-64(0x05 || X || 0x03 || group key; key = seed_hash(mask domain)))`.
fn blind_factor(group: &GroupIdentity, member: &X25519PublicKey) -> Zeroizing<Scalar> {
    let mask = group.seed_hash(MASK_DOMAIN);
    let wide = Zeroizing::new(fixed_key_hash::<64>(
        mask.as_ref(),
        &[
            &[0x05],
            member.as_bytes(),
            &[GROUP_ID_PREFIX],
            group.id().ed25519().as_bytes(),
        ],
    ));
    Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide))
}

/// The 100-byte authentication data an admin gives `member`: flags `READ` plus
/// [`SUBACCOUNT_WRITE`]/[`SUBACCOUNT_DELETE`] as asked.
pub fn make_subaccount(
    group: &GroupIdentity,
    member: &X25519PublicKey,
    write: bool,
    delete: bool,
) -> Result<[u8; AUTH_DATA_BYTES], CryptoError> {
    let (token, k) = token_and_factor(group, member, write, delete)?;
    let signature = group.sign(&token);
    let mut out = [0u8; AUTH_DATA_BYTES];
    out[..4].copy_from_slice(&token[..4]);
    out[4..36].copy_from_slice(k.as_bytes());
    out[36..].copy_from_slice(&signature);
    Ok(out)
}

/// The 36-byte token of `member`'s subaccount, as the nodes see it (what an admin revokes).
pub fn subaccount_token(
    group: &GroupIdentity,
    member: &X25519PublicKey,
    write: bool,
    delete: bool,
) -> Result<[u8; 36], CryptoError> {
    token_and_factor(group, member, write, delete).map(|(token, _)| token)
}

fn token_and_factor(
    group: &GroupIdentity,
    member: &X25519PublicKey,
    write: bool,
    delete: bool,
) -> Result<([u8; 36], Zeroizing<Scalar>), CryptoError> {
    let mut flags = SUBACCOUNT_READ;
    if write {
        flags |= SUBACCOUNT_WRITE;
    }
    if delete {
        flags |= SUBACCOUNT_DELETE;
    }
    let k = blind_factor(group, member);
    let t = MontgomeryPoint(*member.as_bytes())
        .to_edwards(0)
        .ok_or(CryptoError::InvalidEd25519Key)?;
    let kt = (*k * t).compress();
    let mut token = [0u8; 36];
    token[0] = GROUP_ID_PREFIX;
    token[1] = flags;
    token[4..].copy_from_slice(kt.as_bytes());
    Ok((token, k))
}

/// What a member holds to use the group swarm: the token, the admin's signature of it, and
/// the blinding factor (secret: with the member's key it signs requests).
pub struct Subaccount {
    /// The 36-byte token (`flags` and `kT`), sent with each request.
    pub token: [u8; 36],
    /// The group's signature of the token.
    pub token_signature: [u8; 64],
    k: Zeroizing<Scalar>,
}

impl std::fmt::Debug for Subaccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subaccount")
            .field("flags", &self.token[1])
            .field("k", &"[redacted]")
            .finish()
    }
}

impl Subaccount {
    /// Opens the authentication data `auth_data` the member `member` received for `group`,
    /// checking the group's signature of the token it makes.
    pub fn from_auth_data(
        group: &GroupId,
        member: &IdentityKeyPair,
        auth_data: &[u8],
    ) -> Result<Self, CryptoError> {
        let auth_data: &[u8; AUTH_DATA_BYTES] =
            auth_data.try_into().map_err(|_| CryptoError::WrongLength {
                what: "subaccount authentication data",
                expected: AUTH_DATA_BYTES,
                got: auth_data.len(),
            })?;
        if auth_data[0] != GROUP_ID_PREFIX {
            return Err(CryptoError::Malformed("subaccount authentication data"));
        }
        let mut k_bytes = Zeroizing::new([0u8; 32]);
        k_bytes.copy_from_slice(&auth_data[4..36]);
        let k = Zeroizing::new(
            Option::<Scalar>::from(Scalar::from_canonical_bytes(*k_bytes))
                .ok_or(CryptoError::Malformed("subaccount blinding factor"))?,
        );
        let mut positive = *member.ed25519_public().as_bytes();
        positive[31] &= 0x7f;
        let s = CompressedEdwardsY(positive)
            .decompress()
            .ok_or(CryptoError::InvalidEd25519Key)?;
        let kt = (*k * s).compress();
        let mut token = [0u8; 36];
        token[..4].copy_from_slice(&auth_data[..4]);
        token[4..].copy_from_slice(kt.as_bytes());
        let mut token_signature = [0u8; 64];
        token_signature.copy_from_slice(&auth_data[36..]);
        group.ed25519().verify(&token, &token_signature)?;
        Ok(Self {
            token,
            token_signature,
            k,
        })
    }

    /// The permission flags.
    pub fn flags(&self) -> u8 {
        self.token[1]
    }

    /// Signs `message` as the subaccount (an Ed25519 signature under `kT`, deterministic).
    pub fn sign(&self, member: &IdentityKeyPair, message: &[u8]) -> [u8; 64] {
        let seed = member.seed_bytes();
        let a = Zeroizing::new(Scalar::from_bytes_mod_order(
            *member.x25519_secret().to_bytes(),
        ));
        let negative = member.ed25519_public().as_bytes()[31] & 0x80 != 0;
        let t = Zeroizing::new(if negative { -*a } else { *a });
        let kt = Zeroizing::new(*self.k * *t);
        let kt_point = &self.token[4..];
        let hseed = Zeroizing::new(fixed_key_hash::<32>(b"SubaccountSeed", &[seed.as_ref()]));
        let r_wide = Zeroizing::new(fixed_key_hash::<64>(
            b"SubaccountSig",
            &[hseed.as_ref(), kt_point, message],
        ));
        let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&r_wide));
        let big_r = EdwardsPoint::mul_base(&r).compress();
        let mut hasher = Sha512::new();
        hasher.update(big_r.as_bytes());
        hasher.update(kt_point);
        hasher.update(message);
        let h = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
        let s = *r + h * *kt;
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(big_r.as_bytes());
        out[32..].copy_from_slice(s.as_bytes());
        out
    }
}
