//! Request authentication: account keys, signatures, subaccount tokens, timestamp windows.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use session_crypto::{Ed25519PublicKey, X25519PublicKey};
use session_wire::rpc::{Auth, SIGNATURE_WINDOW_MS};

use crate::error::{Refusal, RpcError};
use crate::storage::{Owner, Storage};

/// Subaccount permission: read.
pub const PERMISSION_READ: u8 = 0x01;
/// Subaccount permission: write.
pub const PERMISSION_WRITE: u8 = 0x02;
/// Subaccount permission: delete.
pub const PERMISSION_DELETE: u8 = 0x04;
/// Subaccount flag: valid for accounts of any prefix.
pub const PERMISSION_ANY_PREFIX: u8 = 0x08;

/// A parsed account key (`pubkey`): prefix byte and 32 key bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccountKey(pub Owner);

impl AccountKey {
    /// Parses the 66-hex-character `pubkey` parameter.
    pub fn parse(text: &str) -> Result<Self, RpcError> {
        let mut bytes = [0u8; 33];
        if text.len() != 66 || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(Refusal::InvalidPubkey.into());
        }
        Ok(Self(bytes))
    }

    /// The prefix byte (`0x05` for Session accounts, `0x03` for groups).
    pub fn prefix(&self) -> u8 {
        self.0[0]
    }

    /// The 32 key bytes after the prefix.
    pub fn key(&self) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(&self.0[1..]);
        key
    }

    /// Lower-case hex, as signed in node responses.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Decodes base64 (padded or not) or, for the given length, hex.
pub fn decode_b64_or_hex(text: &str, expected_len: usize) -> Option<Vec<u8>> {
    if text.len() == expected_len * 2 {
        if let Ok(bytes) = hex::decode(text) {
            return Some(bytes);
        }
    }
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .ok()
        .filter(|bytes| bytes.len() == expected_len)
}

/// Fails with 406 unless `timestamp` is within the signature window around `now`.
pub fn check_window(timestamp: u64, now: u64, what: &str) -> Result<(), RpcError> {
    if timestamp.abs_diff(now) > SIGNATURE_WINDOW_MS {
        return Err(RpcError::not_acceptable(format!(
            "{what} {timestamp} is more than 60 s from the node's time {now}"
        )));
    }
    Ok(())
}

/// When a request's signature is judged: a client's request now, or a change a swarm peer
/// passes on, as of when the owner signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A client's request: timestamps must be within the window of `now`, and a revoked
    /// subaccount signs nothing.
    Client,
    /// A client's request to a namespace a revoked delegate may still read (negative
    /// namespaces ending in 11, as in the reference): the revocation list is not consulted.
    IgnoreRevocation,
    /// A change from a peer, with the time the owner (or a delegate) signed it: the signature
    /// must be valid, and a subaccount must not have been revoked before that time.
    Replica {
        /// The signing time the request carries.
        signed_at: u64,
    },
}

/// Checks that `auth` carries a valid signature over `signed` for `account`, either by the owner
/// or by an unrevoked subaccount holding `permission`.
pub fn verify(
    storage: &Storage,
    account: &AccountKey,
    auth: &Auth,
    signed: &[u8],
    permission: u8,
) -> Result<(), RpcError> {
    verify_in(storage, account, auth, signed, permission, Mode::Client)
}

/// [`verify`], judged in `mode`.
pub fn verify_in(
    storage: &Storage,
    account: &AccountKey,
    auth: &Auth,
    signed: &[u8],
    permission: u8,
    mode: Mode,
) -> Result<(), RpcError> {
    let signature_text = auth
        .signature
        .as_deref()
        .ok_or(Refusal::RequiredField("signature"))?;
    let signature = decode_signature(signature_text).ok_or(Refusal::InvalidSignature)?;
    let owner_key = owner_signing_key(account, auth)?;
    let signer = match &auth.subaccount {
        None => owner_key,
        Some(token_text) => subaccount_key(
            storage, account, owner_key, token_text, auth, permission, mode,
        )?,
    };
    signer
        .verify(signed, &signature)
        .map_err(|_| RpcError::unauthorized("signature verification failed"))
}

/// Decodes a 64-byte signature given as base64 (86 characters unpadded, 88 padded) or hex.
fn decode_signature(text: &str) -> Option<[u8; 64]> {
    decode_b64_or_hex(text, 64).and_then(|b| b.try_into().ok())
}

/// The Ed25519 key that signs for the account itself: for a `05` account, the
/// `pubkey_ed25519` it names (which must convert to the account's X25519 key) or, without
/// one, the account's own 32 key bytes read as an Ed25519 key, as the reference does; for
/// any other prefix, the key bytes (`pubkey_ed25519` is then refused).
fn owner_signing_key(account: &AccountKey, auth: &Auth) -> Result<Ed25519PublicKey, RpcError> {
    let Some(ed_text) = auth.pubkey_ed25519.as_deref() else {
        return Ok(Ed25519PublicKey(account.key()));
    };
    if account.prefix() != session_crypto::ACCOUNT_ID_PREFIX {
        return Err(Refusal::PubkeyEd25519Only05.into());
    }
    let ed = match ed_text.len() {
        64 => Ed25519PublicKey::from_hex(ed_text).map_err(|_| Refusal::PubkeyEd25519NotHex)?,
        _ => return Err(Refusal::PubkeyEd25519Length.into()),
    };
    let converted: X25519PublicKey = ed
        .to_x25519()
        .map_err(|_| RpcError::unauthorized("signature verification failed"))?;
    if converted.0 != account.key() {
        return Err(RpcError::unauthorized("signature verification failed"));
    }
    Ok(ed)
}

/// Checks a subaccount token and returns the key it delegates to.
fn subaccount_key(
    storage: &Storage,
    account: &AccountKey,
    owner_key: Ed25519PublicKey,
    token_text: &str,
    auth: &Auth,
    permission: u8,
    mode: Mode,
) -> Result<Ed25519PublicKey, RpcError> {
    let sig_text = auth
        .subaccount_sig
        .as_deref()
        .ok_or(Refusal::SubaccountSigRequired)?;
    let token: [u8; 36] = decode_b64_or_hex(token_text, 36)
        .and_then(|b| b.try_into().ok())
        .ok_or(Refusal::InvalidSubaccount)?;
    let token_sig = decode_signature(sig_text).ok_or(Refusal::InvalidSubaccountSignature)?;
    owner_key
        .verify(&token, &token_sig)
        .map_err(|_| RpcError::unauthorized("subaccount_sig verification failed"))?;
    let flags = token[1];
    if token[0] != account.prefix() && flags & PERMISSION_ANY_PREFIX == 0 {
        return Err(RpcError::unauthorized(
            "subaccount token is for another account type",
        ));
    }
    if flags & permission != permission {
        return Err(RpcError::unauthorized(
            "subaccount token lacks the required permission",
        ));
    }
    let revoked_at = storage
        .revoked_at(&account.0, &token)
        .map_err(RpcError::storage)?;
    let revoked = match (revoked_at, mode) {
        (None, _) => false,
        (Some(_), Mode::Client) => true,
        (Some(_), Mode::IgnoreRevocation) => false,
        // What a delegate signed before its revocation stays valid.
        (Some(at), Mode::Replica { signed_at }) => at <= signed_at,
    };
    if revoked {
        return Err(RpcError::unauthorized("subaccount token has been revoked"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&token[4..36]);
    Ok(Ed25519PublicKey(key))
}

/// Parses a 36-byte subaccount token given as base64 or hex.
pub fn parse_token(text: &str) -> Result<[u8; 36], RpcError> {
    decode_b64_or_hex(text, 36)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RpcError::bad_request("invalid subaccount token: expected 36 bytes"))
}
