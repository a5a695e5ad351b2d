//! The reference's protobuf messages (`SessionProtos.proto`, `WebSocketResources.proto`), written
//! as `prost` structs with the same field numbers, so no protobuf compiler is needed at build time.
//!
//! Only the fields session-rs reads or writes are declared; unknown fields are skipped on decode,
//! as protobuf requires.

/// `SessionProtos.Envelope`: the outer wrapper of a stored message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    /// The envelope kind ([`envelope::Type`]).
    #[prost(enumeration = "envelope::Type", required, tag = "1")]
    pub r#type: i32,
    /// The sender, for closed-group messages only.
    #[prost(string, optional, tag = "2")]
    pub source: Option<String>,
    /// The sender's device number; always 1 for Session.
    #[prost(uint32, optional, tag = "7")]
    pub source_device: Option<u32>,
    /// The sender's timestamp in milliseconds since the Unix epoch.
    #[prost(uint64, required, tag = "5")]
    pub timestamp: u64,
    /// The encrypted, padded `Content`.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub content: Option<Vec<u8>>,
    /// When the server received the message (set by some servers).
    #[prost(uint64, optional, tag = "10")]
    pub server_timestamp: Option<u64>,
}

/// Nested types of [`Envelope`].
pub mod envelope {
    /// Envelope kinds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// A 1:1 message encrypted with the Session Protocol.
        SessionMessage = 6,
        /// A legacy closed-group message.
        ClosedGroupMessage = 7,
    }
}

/// `WebSocketProtos.WebSocketRequestMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WebSocketRequestMessage {
    /// HTTP-like verb, `PUT` for stored messages.
    #[prost(string, optional, tag = "1")]
    pub verb: Option<String>,
    /// HTTP-like path, `/api/v1/message` for stored messages.
    #[prost(string, optional, tag = "2")]
    pub path: Option<String>,
    /// The serialized [`Envelope`].
    #[prost(bytes = "vec", optional, tag = "3")]
    pub body: Option<Vec<u8>>,
    /// Header lines (unused by Session).
    #[prost(string, repeated, tag = "5")]
    pub headers: Vec<String>,
    /// Request id; 0 for stored messages.
    #[prost(uint64, optional, tag = "4")]
    pub request_id: Option<u64>,
}

/// `WebSocketProtos.WebSocketResponseMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WebSocketResponseMessage {
    /// The id of the request answered.
    #[prost(uint64, optional, tag = "1")]
    pub request_id: Option<u64>,
    /// HTTP-like status.
    #[prost(uint32, optional, tag = "2")]
    pub status: Option<u32>,
    /// Status text.
    #[prost(string, optional, tag = "3")]
    pub message: Option<String>,
    /// Header lines.
    #[prost(string, repeated, tag = "5")]
    pub headers: Vec<String>,
    /// Response body.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub body: Option<Vec<u8>>,
}

/// `WebSocketProtos.WebSocketMessage`: what a 1:1 message is stored as in namespace 0.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WebSocketMessage {
    /// Request or response ([`web_socket_message::Type`]).
    #[prost(enumeration = "web_socket_message::Type", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// The request, for `REQUEST` messages.
    #[prost(message, optional, tag = "2")]
    pub request: Option<WebSocketRequestMessage>,
    /// The response, for `RESPONSE` messages.
    #[prost(message, optional, tag = "3")]
    pub response: Option<WebSocketResponseMessage>,
}

/// Nested types of [`WebSocketMessage`].
pub mod web_socket_message {
    /// WebSocket message kinds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// Unknown.
        Unknown = 0,
        /// A request (what stored messages are).
        Request = 1,
        /// A response.
        Response = 2,
    }
}

/// `SessionProtos.Content`: the plaintext of a message, before padding and encryption.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Content {
    /// A visible message.
    #[prost(message, optional, tag = "1")]
    pub data_message: Option<DataMessage>,
    /// A delivery or read receipt.
    #[prost(message, optional, tag = "5")]
    pub receipt_message: Option<ReceiptMessage>,
    /// A typing indicator.
    #[prost(message, optional, tag = "6")]
    pub typing_message: Option<TypingMessage>,
}

/// `SessionProtos.LokiProfile`: the sender's profile shown with a message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LokiProfile {
    /// The sender's display name.
    #[prost(string, optional, tag = "1")]
    pub display_name: Option<String>,
    /// URL of the sender's profile picture.
    #[prost(string, optional, tag = "2")]
    pub profile_picture: Option<String>,
}

/// `SessionProtos.DataMessage`: a visible message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataMessage {
    /// The text.
    #[prost(string, optional, tag = "1")]
    pub body: Option<String>,
    /// Flags (2 = expiration timer update).
    #[prost(uint32, optional, tag = "4")]
    pub flags: Option<u32>,
    /// Disappearing-message timer in seconds.
    #[prost(uint32, optional, tag = "5")]
    pub expire_timer: Option<u32>,
    /// Key of the sender's profile picture.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub profile_key: Option<Vec<u8>>,
    /// The sender's timestamp in milliseconds; matches the envelope's.
    #[prost(uint64, optional, tag = "7")]
    pub timestamp: Option<u64>,
    /// The sender's profile.
    #[prost(message, optional, tag = "101")]
    pub profile: Option<LokiProfile>,
    /// The account this message was sent to (set on copies synced to the sender's other devices).
    #[prost(string, optional, tag = "105")]
    pub sync_target: Option<String>,
}

/// `SessionProtos.ReceiptMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReceiptMessage {
    /// Delivery (0) or read (1).
    #[prost(enumeration = "receipt_message::Type", required, tag = "1")]
    pub r#type: i32,
    /// Timestamps of the messages acknowledged.
    #[prost(uint64, repeated, packed = "false", tag = "2")]
    pub timestamp: Vec<u64>,
}

/// Nested types of [`ReceiptMessage`].
pub mod receipt_message {
    /// Receipt kinds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// The message reached the device.
        Delivery = 0,
        /// The user read the message.
        Read = 1,
    }
}

/// `SessionProtos.TypingMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypingMessage {
    /// When the typing started or stopped.
    #[prost(uint64, required, tag = "1")]
    pub timestamp: u64,
    /// Started (0) or stopped (1).
    #[prost(enumeration = "typing_message::Action", required, tag = "2")]
    pub action: i32,
}

/// Nested types of [`TypingMessage`].
pub mod typing_message {
    /// Typing actions.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Action {
        /// The user started typing.
        Started = 0,
        /// The user stopped typing.
        Stopped = 1,
    }
}
