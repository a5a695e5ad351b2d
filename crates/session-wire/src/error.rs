//! The error type of this crate.

use session_crypto::CryptoError;

/// Everything that can go wrong decoding or encoding Session byte formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// An onion frame is shorter than its 4-byte length prefix.
    #[error("onion frame truncated: {0} bytes, need at least 4")]
    FrameTruncated(usize),
    /// An onion frame's length prefix points past its end.
    #[error("onion frame declares a {declared}-byte blob but only {available} bytes follow")]
    FrameLengthPastEnd {
        /// The length in the prefix.
        declared: u64,
        /// The bytes after the prefix.
        available: usize,
    },
    /// The JSON part of an onion frame is not UTF-8.
    #[error("onion frame JSON is not valid UTF-8")]
    FrameNotUtf8,
    /// The JSON part of an onion frame does not parse, or is not an object.
    #[error("onion frame JSON is invalid: {0}")]
    FrameBadJson(String),
    /// A field of an onion layer's JSON is missing or malformed.
    #[error("onion layer field {field:?}: {reason}")]
    BadLayerField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A protobuf did not decode.
    #[error("malformed {what} protobuf: {reason}")]
    Protobuf {
        /// Which message.
        what: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// A stored message is not a `WebSocketMessage` request with a body.
    #[error("stored message is not a WebSocket request with a body")]
    NotARequest,
    /// The envelope is not a 1:1 Session Protocol message.
    #[error("envelope type {0} is not SESSION_MESSAGE (6)")]
    WrongEnvelopeType(i32),
    /// The envelope carries no content.
    #[error("envelope has no content")]
    MissingContent,
    /// The decrypted content holds no text message.
    #[error("message carries no text")]
    NoText,
    /// A message would exceed the storage limit.
    #[error("message is {size} bytes, the limit is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Decryption or signature verification failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A request body is not valid JSON of the expected shape.
    #[error("invalid JSON: {0}")]
    BadJson(String),
    /// A request names a method the node does not have.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// A request's parameters do not fit the method.
    #[error("invalid parameters for {method}: {reason}")]
    BadParams {
        /// The method.
        method: String,
        /// What is wrong.
        reason: String,
    },
}
