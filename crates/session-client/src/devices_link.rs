//! Linking a new device without typing the recovery phrase.
//!
//! 1. The new device makes a one-time key pair and shows a link request (text and QR code):
//!    its one-time Account ID (a mailbox: a swarm of its own), its name and kind, and when it
//!    was made. It shows the request's short authentication string (SAS).
//! 2. An existing device reads the request, refuses it when older than ten minutes, and shows
//!    the SAS it computes from the same bytes; the user compares the two screens.
//! 3. Only when the user confirms does the existing device send the account seed, as a
//!    Session Protocol message encrypted to the one-time key, into the mailbox (kept there
//!    until the request expires). The new device polls its mailbox, checks that the seed opens
//!    the account that sent it, and saves it.
//!
//! The SAS is the reference's (`link_sas`): salt = BLAKE2b-16(request; personal
//! `SessionLinkEmoji`), seed = Argon2id v1.3(request, salt, 2 passes, 16 MiB, 16 bytes), and
//! 21 six-bit indices read from the seed as a little-endian 128-bit integer into the 64 emoji
//! of the Matrix SAS list. The first 7 are shown.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use session_crypto::{AccountId, Ed25519Seed, IdentityKeyPair, OsRng};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams, MIN_TTL_MS};
use session_wire::{decode_text_message, encode_text_message, OutgoingText};
use zeroize::Zeroizing;

use crate::messenger::swarm_acknowledgements;
use crate::{ClientError, Messenger, MessengerError, OnionClient, INBOX_NAMESPACE};

/// A link request expires ten minutes after it was made (DESIGN.md section 9).
pub const LINK_EXPIRY_MS: u64 = 10 * 60 * 1000;
/// The text a link request starts with.
pub const LINK_PREFIX: &str = "session-link:";
/// Emoji shown in the short display.
pub const SAS_SHORT: usize = 7;
const SAS_PERSONAL: &[u8; 16] = b"SessionLinkEmoji";
/// A link request older than this is refused even with a fast clock on the other side.
const FUTURE_TOLERANCE_MS: u64 = 60 * 1000;

/// The 64 emoji of the SAS, with their names (the Matrix client-server spec's list).
pub const SAS_EMOJI: [(&str, &str); 64] = [
    ("\u{1F436}", "dog"),
    ("\u{1F431}", "cat"),
    ("\u{1F981}", "lion"),
    ("\u{1F40E}", "horse"),
    ("\u{1F984}", "unicorn"),
    ("\u{1F437}", "pig"),
    ("\u{1F418}", "elephant"),
    ("\u{1F430}", "rabbit"),
    ("\u{1F43C}", "panda"),
    ("\u{1F413}", "rooster"),
    ("\u{1F427}", "penguin"),
    ("\u{1F422}", "turtle"),
    ("\u{1F41F}", "fish"),
    ("\u{1F419}", "octopus"),
    ("\u{1F98B}", "butterfly"),
    ("\u{1F337}", "flower"),
    ("\u{1F333}", "tree"),
    ("\u{1F335}", "cactus"),
    ("\u{1F344}", "mushroom"),
    ("\u{1F30F}", "globe"),
    ("\u{1F319}", "moon"),
    ("\u{2601}\u{FE0F}", "cloud"),
    ("\u{1F525}", "fire"),
    ("\u{1F34C}", "banana"),
    ("\u{1F34E}", "apple"),
    ("\u{1F353}", "strawberry"),
    ("\u{1F33D}", "corn"),
    ("\u{1F355}", "pizza"),
    ("\u{1F382}", "cake"),
    ("\u{2764}\u{FE0F}", "heart"),
    ("\u{1F600}", "smiley"),
    ("\u{1F916}", "robot"),
    ("\u{1F3A9}", "hat"),
    ("\u{1F453}", "glasses"),
    ("\u{1F527}", "spanner"),
    ("\u{1F385}", "santa"),
    ("\u{1F44D}", "thumbs up"),
    ("\u{2602}\u{FE0F}", "umbrella"),
    ("\u{231B}", "hourglass"),
    ("\u{23F0}", "clock"),
    ("\u{1F381}", "gift"),
    ("\u{1F4A1}", "light bulb"),
    ("\u{1F4D5}", "book"),
    ("\u{270F}\u{FE0F}", "pencil"),
    ("\u{1F4CE}", "paperclip"),
    ("\u{2702}\u{FE0F}", "scissors"),
    ("\u{1F512}", "lock"),
    ("\u{1F511}", "key"),
    ("\u{1F528}", "hammer"),
    ("\u{260E}\u{FE0F}", "telephone"),
    ("\u{1F3C1}", "flag"),
    ("\u{1F682}", "train"),
    ("\u{1F6B2}", "bicycle"),
    ("\u{2708}\u{FE0F}", "aeroplane"),
    ("\u{1F680}", "rocket"),
    ("\u{1F3C6}", "trophy"),
    ("\u{26BD}", "ball"),
    ("\u{1F3B8}", "guitar"),
    ("\u{1F3BA}", "trumpet"),
    ("\u{1F514}", "bell"),
    ("\u{2693}", "anchor"),
    ("\u{1F3A7}", "headphones"),
    ("\u{1F4C1}", "folder"),
    ("\u{1F4CC}", "pin"),
];

/// The 21 SAS indices of a 16-byte SAS seed.
pub fn sas_indices(seed16: &[u8; 16]) -> [u8; 21] {
    let v = u128::from_le_bytes(*seed16);
    let mut out = [0u8; 21];
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = ((v >> (6 * k)) & 63) as u8;
    }
    out
}

/// The 16-byte SAS seed of a link request's bytes (BLAKE2b salt, then Argon2id).
pub fn sas_seed(request: &[u8]) -> Result<[u8; 16], LinkError> {
    let salt: [u8; 16] = session_crypto::hash::blake2b_personal(SAS_PERSONAL, &[request]);
    let params = argon2::Params::new(16 * 1024, 2, 1, Some(16))
        .map_err(|e| LinkError::Bad(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 16];
    argon
        .hash_password_into(request, &salt, &mut out)
        .map_err(|e| LinkError::Bad(e.to_string()))?;
    Ok(out)
}

/// The SAS of a link request: the first [`SAS_SHORT`] emoji and their names.
pub fn sas(request: &[u8]) -> Result<Vec<(&'static str, &'static str)>, LinkError> {
    let indices = sas_indices(&sas_seed(request)?);
    Ok(indices[..SAS_SHORT]
        .iter()
        .map(|&i| SAS_EMOJI[usize::from(i)])
        .collect())
}

/// The SAS as one line: emoji, then their names in brackets.
pub fn sas_line(request: &[u8]) -> Result<String, LinkError> {
    let sas = sas(request)?;
    let emoji: Vec<&str> = sas.iter().map(|(e, _)| *e).collect();
    let names: Vec<&str> = sas.iter().map(|(_, n)| *n).collect();
    Ok(format!("{}  ({})", emoji.join(" "), names.join(", ")))
}

/// What can go wrong while linking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The text is not a link request.
    #[error("not a link request: {0}")]
    Bad(String),
    /// The request is older than ten minutes.
    #[error("the link request expired (they last ten minutes); make a new one on the new device")]
    Expired,
    /// No approval arrived before the request expired.
    #[error("no device approved the link request within ten minutes")]
    NotApproved,
    /// The approval did not hold a seed of the account that sent it.
    #[error(
        "the approval that arrived is not valid (its seed does not open the account that sent it)"
    )]
    BadApproval,
    /// The network failed.
    #[error(transparent)]
    Network(#[from] ClientError),
    /// Sending the approval failed.
    #[error(transparent)]
    Messenger(#[from] MessengerError),
}

/// A link request as the new device shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequest {
    /// Format version (1).
    pub v: u8,
    /// The one-time Account ID whose swarm is the new device's mailbox.
    pub mailbox: String,
    /// The new device's name.
    pub name: String,
    /// Its kind (`cli`, `desktop`).
    pub kind: String,
    /// When the request was made, Unix ms.
    pub created_ms: u64,
}

impl LinkRequest {
    /// The request's bytes (what the SAS is computed from).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The request as text to paste (and put in a QR code).
    pub fn to_text(&self) -> String {
        format!("{LINK_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }

    /// Parses pasted text; returns the request and its bytes.
    pub fn parse(text: &str) -> Result<(Self, Vec<u8>), LinkError> {
        let compact: String = text.split_whitespace().collect();
        let body = compact
            .strip_prefix(LINK_PREFIX)
            .ok_or_else(|| LinkError::Bad(format!("it does not start with {LINK_PREFIX}")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| LinkError::Bad(format!("damaged ({e})")))?;
        let request: Self =
            serde_json::from_slice(&bytes).map_err(|e| LinkError::Bad(format!("damaged ({e})")))?;
        if request.v != 1 {
            return Err(LinkError::Bad(format!("unknown version {}", request.v)));
        }
        request
            .mailbox
            .parse::<AccountId>()
            .map_err(|e| LinkError::Bad(format!("bad mailbox: {e}")))?;
        Ok((request, bytes))
    }

    /// Whether the request is still valid at `now_ms`.
    pub fn check_fresh(&self, now_ms: u64) -> Result<(), LinkError> {
        if self.created_ms > now_ms.saturating_add(FUTURE_TOLERANCE_MS)
            || now_ms.saturating_sub(self.created_ms) >= LINK_EXPIRY_MS
        {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn mailbox_id(&self) -> Result<AccountId, LinkError> {
        self.mailbox
            .parse()
            .map_err(|e| LinkError::Bad(format!("bad mailbox: {e}")))
    }
}

/// The new device's side: a one-time key and its request.
pub struct PendingLink {
    keys: IdentityKeyPair,
    /// The request shown.
    pub request: LinkRequest,
}

impl PendingLink {
    /// A new link request for a device called `name` of `kind`, made at `now_ms`.
    pub fn new(name: &str, kind: &str, now_ms: u64) -> Self {
        let keys = Ed25519Seed::generate(&mut OsRng).key_pair();
        let request = LinkRequest {
            v: 1,
            mailbox: keys.account_id().to_string(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            created_ms: now_ms,
        };
        Self { keys, request }
    }

    /// Polls the mailbox until an approval arrives (every `poll`) or the request expires;
    /// returns the account seed it carries, checked against the account that sent it.
    pub async fn wait_for_approval(
        &self,
        client: &OnionClient,
        poll: Duration,
    ) -> Result<Ed25519Seed, LinkError> {
        let mailbox = self.keys.account_id();
        loop {
            let now = client.now_ms();
            if self.request.check_fresh(now).is_err() {
                return Err(LinkError::NotApproved);
            }
            let routed = client
                .request_routed(&mailbox, |now, _| {
                    Request::Retrieve(RetrieveParams::signed(
                        &self.keys,
                        INBOX_NAMESPACE,
                        now,
                        None,
                    ))
                })
                .await;
            if let Ok(routed) = routed {
                if let Ok(page) = serde_json::from_value::<RetrieveResponse>(routed.body) {
                    for message in &page.messages {
                        match self.open_approval(&message.data) {
                            Ok(Some(seed)) => return Ok(seed),
                            Ok(None) => {}
                            // Anyone who saw the request can write to the mailbox: a message
                            // that is not a valid approval is skipped, not fatal.
                            Err(e) => tracing::debug!(error = %e, "skipping a mailbox message"),
                        }
                    }
                }
            }
            tokio::time::sleep(poll).await;
        }
    }

    fn open_approval(&self, data: &str) -> Result<Option<Ed25519Seed>, LinkError> {
        use base64::engine::general_purpose::STANDARD;
        let Ok(bytes) = STANDARD.decode(data) else {
            return Ok(None);
        };
        let Ok(message) = decode_text_message(&self.keys, &bytes) else {
            return Ok(None);
        };
        let text = Zeroizing::new(message.text);
        let mut seed = Zeroizing::new([0u8; 32]);
        if hex::decode_to_slice(text.trim(), &mut *seed).is_err() {
            return Err(LinkError::BadApproval);
        }
        let seed = Ed25519Seed::from_bytes(*seed);
        if seed.key_pair().account_id() != message.sender {
            return Err(LinkError::BadApproval);
        }
        Ok(Some(seed))
    }
}

impl Messenger {
    /// Approves a link request (after the user compared the SAS): sends the account seed,
    /// encrypted to the request's one-time key, into its mailbox until the request expires.
    pub async fn approve_link(&self, request: &LinkRequest) -> Result<(), LinkError> {
        let now = self.client().now_ms();
        request.check_fresh(now)?;
        let mailbox = request.mailbox_id()?;
        let keys = self.keys();
        let seed_hex = Zeroizing::new(hex::encode(*keys.seed_bytes()));
        let outgoing = OutgoingText {
            text: &seed_hex,
            display_name: None,
            timestamp_ms: now,
        };
        let payload = encode_text_message(keys, &mailbox, outgoing, &mut OsRng)
            .map_err(MessengerError::from)?;
        let ttl = (request.created_ms + LINK_EXPIRY_MS)
            .saturating_sub(now)
            .max(MIN_TTL_MS);
        let routed = self
            .client()
            .request_routed(&mailbox, |now, _| {
                Request::Store(StoreParams::deposit(
                    &mailbox,
                    INBOX_NAMESPACE,
                    &payload,
                    now,
                    ttl,
                ))
            })
            .await?;
        if swarm_acknowledgements(&routed.body).0 == 0 {
            return Err(LinkError::Network(ClientError::Network(
                "no member of the new device's swarm stored the approval".into(),
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_expire() {
        let link = PendingLink::new("laptop", "cli", 1_000_000);
        let (parsed, bytes) = LinkRequest::parse(&link.request.to_text()).unwrap_or_else(|e| {
            unreachable!("{e}");
        });
        assert_eq!(parsed, link.request);
        assert_eq!(bytes, link.request.to_bytes());
        assert!(parsed.check_fresh(1_000_000 + LINK_EXPIRY_MS - 1).is_ok());
        assert!(parsed.check_fresh(1_000_000 + LINK_EXPIRY_MS).is_err());
        assert!(LinkRequest::parse("session-link:AAAA").is_err());
        assert!(LinkRequest::parse("hello").is_err());
    }
}
