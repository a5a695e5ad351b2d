//! What invite clients leave in a mailbox, and how it is sealed.
//!
//! Two layers. A frame is sealed under a key derived from the rendezvous number
//! (XChaCha20-Poly1305), so that nodes store opaque, random-looking blobs; anyone who knows the
//! number can open the frame, and finds only random values in it (invite and claim ids, SPAKE2
//! messages) and boxes sealed under the key the exchange derived. Account IDs and names travel
//! only in those boxes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use session_crypto::hash::{blake2b, blake2b_32};
use session_crypto::{AccountId, RngCore};
use zeroize::Zeroizing;

/// Domain of every derivation of invites.
pub(crate) const DOMAIN: &[u8] = b"session-rs invite v1";
const NONCE_LEN: usize = 24;

/// An invite's id, or a claim's: 16 random bytes, hex in frames.
pub(crate) type Id = String;

/// A random id.
pub(crate) fn random_id(rng: &mut impl RngCore) -> Id {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex_of(&bytes)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One message in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Frame {
    /// An inviter waits: its SPAKE2 message, and when it made the code (its clock).
    Open {
        invite: Id,
        spake: String,
        created_ms: u64,
    },
    /// An accepter answers: its SPAKE2 message and its contact, sealed.
    Claim {
        invite: Id,
        claim: Id,
        spake: String,
        sealed: String,
    },
    /// The inviter accepts the claim: its contact, sealed.
    Reply {
        invite: Id,
        claim: Id,
        sealed: String,
    },
    /// The inviter could not open the claim: a wrong code. The invite is dead.
    Refuse { invite: Id, claim: Id },
    /// The inviter withdrew the invite (expired, or another took the number first).
    Close { invite: Id },
}

impl Frame {
    /// The invite the frame is about.
    pub(crate) fn invite(&self) -> &str {
        match self {
            Self::Open { invite, .. }
            | Self::Claim { invite, .. }
            | Self::Reply { invite, .. }
            | Self::Refuse { invite, .. }
            | Self::Close { invite } => invite,
        }
    }
}

/// The key frames of mailbox `number` are sealed under.
pub(crate) fn frame_key(number: u16) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(blake2b_32(&[DOMAIN, b" frame", &number.to_be_bytes()]))
}

/// Seals `frame`: nonce, then ciphertext.
pub(crate) fn seal_frame(key: &[u8; 32], frame: &Frame, rng: &mut impl RngCore) -> Vec<u8> {
    let plain = Zeroizing::new(serde_json::to_vec(frame).unwrap_or_default());
    seal(key, &plain, b"frame", rng)
}

/// Opens a sealed frame; `None` for anything else (a frame of another version, noise).
pub(crate) fn open_frame(key: &[u8; 32], blob: &[u8]) -> Option<Frame> {
    let plain = open(key, blob, b"frame")?;
    serde_json::from_slice(&plain).ok()
}

/// Opens a sealed frame to its JSON text (what anyone who knows the number can read).
pub(crate) fn open_frame_bytes(key: &[u8; 32], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    open(key, blob, b"frame")
}

/// What each side sends the other under the exchanged key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Card {
    /// The sender's Account ID.
    pub account_id: String,
    /// The sender's display name (untrusted text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// Which side sealed a card (each side has a key of its own, so a box cannot be reflected).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Inviter,
    Accepter,
}

impl Side {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Inviter => b"inviter card",
            Self::Accepter => b"accepter card",
        }
    }
}

/// The key `side` seals its card under, from the SPAKE2 key `shared`.
fn card_key(shared: &[u8], side: Side) -> Option<Zeroizing<[u8; 32]>> {
    let key: [u8; 32] = blake2b(shared, &[DOMAIN, side.label()]).ok()?;
    Some(Zeroizing::new(key))
}

/// Seals the card of `me` (and `name`) for the other side, base64.
pub(crate) fn seal_card(
    shared: &[u8],
    side: Side,
    me: &AccountId,
    name: Option<&str>,
    rng: &mut impl RngCore,
) -> String {
    let card = Card {
        account_id: me.to_string(),
        display_name: name.map(str::to_owned),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&card).unwrap_or_default());
    match card_key(shared, side) {
        Some(key) => STANDARD.encode(seal(&key, &plain, side.label(), rng)),
        None => String::new(),
    }
}

/// Opens the other side's card; `None` if the keys differ (a wrong code) or it was tampered.
pub(crate) fn open_card(shared: &[u8], side: Side, sealed: &str) -> Option<Card> {
    let key = card_key(shared, side)?;
    let blob = STANDARD.decode(sealed).ok()?;
    let plain = open(&key, &blob, side.label())?;
    serde_json::from_slice(&plain).ok()
}

fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8], rng: &mut impl RngCore) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open(key: &[u8; 32], blob: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, sealed) = (blob.get(..NONCE_LEN)?, blob.get(NONCE_LEN..)?);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    #[test]
    fn frames_and_cards_open_only_with_their_keys() {
        let frame = Frame::Close {
            invite: random_id(&mut OsRng),
        };
        let blob = seal_frame(&frame_key(7), &frame, &mut OsRng);
        assert_eq!(open_frame(&frame_key(7), &blob), Some(frame));
        assert_eq!(open_frame(&frame_key(8), &blob), None);
        assert_eq!(open_frame(&frame_key(7), &blob[..10]), None);

        let me = Ed25519Seed::generate(&mut OsRng).key_pair().account_id();
        let sealed = seal_card(b"shared", Side::Accepter, &me, Some("Al"), &mut OsRng);
        let card = open_card(b"shared", Side::Accepter, &sealed).unwrap();
        assert_eq!(card.account_id, me.to_string());
        assert_eq!(card.display_name.as_deref(), Some("Al"));
        assert!(open_card(b"other", Side::Accepter, &sealed).is_none());
        assert!(
            open_card(b"shared", Side::Inviter, &sealed).is_none(),
            "no reflection"
        );
    }
}
