//! 1:1 text messages, from text to the bytes stored in the recipient's namespace 0 and back.
//!
//! `Content{dataMessage{body, timestamp, profile}}` is padded, encrypted with Session Protocol v1,
//! put in `Envelope{type=SESSION_MESSAGE, sourceDevice=1, timestamp, content}`, and that in
//! `WebSocketMessage{type=REQUEST, request{verb="PUT", path="/api/v1/message", body, requestId=0}}`.

use prost::Message as _;
use session_crypto::{
    decrypt_incoming, encrypt_for_recipient, AccountId, CryptoRngCore, IdentityKeyPair,
};

use crate::error::WireError;
use crate::padding::{pad, unpad};
use crate::protos::{envelope, web_socket_message, Content, DataMessage, Envelope, LokiProfile};
use crate::protos::{WebSocketMessage, WebSocketRequestMessage};
use crate::rpc::MAX_MESSAGE_BYTES;

/// A text message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingText<'a> {
    /// The text.
    pub text: &'a str,
    /// The sender's display name, shown to the recipient.
    pub display_name: Option<&'a str>,
    /// The sender's timestamp, Unix milliseconds; it also identifies the message.
    pub timestamp_ms: u64,
}

/// A text message received and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedText {
    /// The verified sender.
    pub sender: AccountId,
    /// The sender's timestamp, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The text.
    pub text: String,
    /// The display name the sender gave, if any.
    pub display_name: Option<String>,
    /// The conversation of a copy the sender's own device synced to its other devices (only
    /// meaningful when the sender is the recipient's own account).
    pub sync_target: Option<AccountId>,
}

/// Encrypts `message` from `sender` to `recipient` and wraps it as the bytes stored in the
/// recipient's namespace 0. Fails with [`WireError::TooLarge`] past the 76,800-byte limit.
pub fn encode_text_message(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    message: OutgoingText<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    encode_data_message(sender, recipient, message, None, rng)
}

/// The copy of `message` (sent to `target`) that the sender stores in its own namespace 0, so
/// that its other devices file it as sent: encrypted to the sender's own account, with the
/// Content's `syncTarget` set to `target`, as Session does.
pub fn encode_sync_copy(
    sender: &IdentityKeyPair,
    target: &AccountId,
    message: OutgoingText<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    encode_data_message(sender, &sender.account_id(), message, Some(target), rng)
}

fn encode_data_message(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    message: OutgoingText<'_>,
    sync_target: Option<&AccountId>,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    let content = data_content(message, sync_target);
    seal_content(sender, recipient, &content, message.timestamp_ms, rng)
}

/// The `Content` protobuf of a text message, unpadded (Session Protocol v2 carries it as is;
/// v1 pads it first).
pub fn text_content(message: OutgoingText<'_>) -> Vec<u8> {
    data_content(message, None)
}

fn data_content(message: OutgoingText<'_>, sync_target: Option<&AccountId>) -> Vec<u8> {
    Content {
        data_message: Some(DataMessage {
            body: Some(message.text.to_owned()),
            timestamp: Some(message.timestamp_ms),
            profile: message.display_name.map(|name| LokiProfile {
                display_name: Some(name.to_owned()),
                profile_picture: None,
            }),
            sync_target: sync_target.map(ToString::to_string),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Pads and encrypts an encoded `Content` from `sender` to `recipient` and wraps it as the
/// bytes stored in the recipient's namespace 0 (what every 1:1 message, text or control, is).
pub fn seal_content(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    content: &[u8],
    timestamp_ms: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    let padded = pad(content);
    // Refuse early, before paying for encryption, when the result cannot fit.
    if padded.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge {
            size: padded.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let ciphertext = encrypt_for_recipient(sender, &recipient.x25519(), &padded, rng)?;
    let envelope = Envelope {
        r#type: envelope::Type::SessionMessage as i32,
        source: None,
        source_device: Some(1),
        timestamp: timestamp_ms,
        content: Some(ciphertext),
        server_timestamp: None,
    };
    let stored = WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some("PUT".into()),
            path: Some("/api/v1/message".into()),
            body: Some(envelope.encode_to_vec()),
            headers: Vec::new(),
            request_id: Some(0),
        }),
        response: None,
    }
    .encode_to_vec();
    if stored.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge {
            size: stored.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    Ok(stored)
}

/// Unwraps the envelope of stored bytes, without decrypting it.
pub fn decode_envelope(stored: &[u8]) -> Result<Envelope, WireError> {
    let message = WebSocketMessage::decode(stored).map_err(|e| WireError::Protobuf {
        what: "WebSocketMessage",
        reason: e.to_string(),
    })?;
    let body = match message {
        WebSocketMessage {
            r#type: Some(t),
            request:
                Some(WebSocketRequestMessage {
                    body: Some(body), ..
                }),
            ..
        } if t == web_socket_message::Type::Request as i32 => body,
        _ => return Err(WireError::NotARequest),
    };
    Envelope::decode(body.as_slice()).map_err(|e| WireError::Protobuf {
        what: "Envelope",
        reason: e.to_string(),
    })
}

/// Decrypts and verifies stored bytes addressed to `recipient`, returning the sender, the
/// timestamp and the text. Malformed, tampered or misaddressed input is an error.
pub fn decode_text_message(
    recipient: &IdentityKeyPair,
    stored: &[u8],
) -> Result<ReceivedText, WireError> {
    let (sender, timestamp_ms, padded) = open_content(recipient, stored)?;
    parse_text_content(unpad(&padded), sender, Some(timestamp_ms))
}

/// Reads a text message from a decrypted, unpadded `Content` protobuf sent by `sender`; the
/// timestamp is the envelope's when there is one (v1), else the data message's own (v2).
pub fn parse_text_content(
    content: &[u8],
    sender: AccountId,
    envelope_timestamp: Option<u64>,
) -> Result<ReceivedText, WireError> {
    let content = Content::decode(content).map_err(|e| WireError::Protobuf {
        what: "Content",
        reason: e.to_string(),
    })?;
    let data = content.data_message.ok_or(WireError::NoText)?;
    let text = data.body.ok_or(WireError::NoText)?;
    Ok(ReceivedText {
        sender,
        timestamp_ms: envelope_timestamp.or(data.timestamp).unwrap_or(0),
        text,
        display_name: data.profile.and_then(|p| p.display_name),
        sync_target: data.sync_target.and_then(|t| t.parse::<AccountId>().ok()),
    })
}

/// Decrypts and verifies stored bytes addressed to `recipient`: the sender, the envelope's
/// timestamp and the padded `Content` bytes (strip the padding with [`unpad`]).
pub fn open_content(
    recipient: &IdentityKeyPair,
    stored: &[u8],
) -> Result<(AccountId, u64, Vec<u8>), WireError> {
    let envelope = decode_envelope(stored)?;
    if envelope.r#type != envelope::Type::SessionMessage as i32 {
        return Err(WireError::WrongEnvelopeType(envelope.r#type));
    }
    let ciphertext = envelope.content.ok_or(WireError::MissingContent)?;
    let (padded, sender) = decrypt_incoming(recipient, &ciphertext)?;
    Ok((sender, envelope.timestamp, padded))
}
