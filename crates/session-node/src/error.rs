//! Errors of the node: RPC errors carry the HTTP status and the text the client sees.

use crate::storage::StorageError;

/// An RPC failure: the HTTP status and a message naming the problem (never secret data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct RpcError {
    /// HTTP status code.
    pub status: u16,
    /// What went wrong, for the client.
    pub message: String,
}

impl RpcError {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 401: a signature is missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// 404: nothing matched (for `delete` with `required`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 406: a timestamp is outside the accepted window.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, message)
    }

    /// 413: data too large.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, message)
    }

    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// Maps a storage failure: 507 when full, 500 otherwise.
    pub fn storage(error: StorageError) -> Self {
        match error {
            StorageError::Full { .. } => {
                Self::new(507, "storage full: the node cannot accept more data")
            }
            inbox @ StorageError::InboxFull { .. } => Self::new(507, inbox.to_string()),
            rate @ StorageError::DepositRate { .. } => Self::new(429, rate.to_string()),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(500, "internal storage error")
            }
        }
    }
}

/// Errors starting or running the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O failure (data directory, sockets).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The database failed to open.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// TLS setup failed.
    #[error(transparent)]
    Net(#[from] session_net::NetError),
}

impl NodeError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// The client-visible refusals whose status and text are taken from the reference storage
/// server (`oxenss/rpc/request_handler.cpp` and `client_rpc_endpoints.cpp`), so that clients
/// written for it (and its network tests, which compare them exactly) see the same answers.
/// Parse errors (status 400) carry the reference's `"invalid request: "` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// 401: an unsigned store to a namespace that is not a public inbox.
    StoreSignatureRequired(i16),
    /// 406: a store's signature timestamp is outside the window.
    StoreSignatureTimestamp,
    /// 406: a store's timestamp is in the future, or its expiry in the past.
    StoreClock,
    /// 403: a store's TTL (or expiry) is outside the namespace's range.
    StoreTtl,
    /// 401: a retrieve outside the unauthenticated namespaces, with no timestamp or signature.
    RetrieveSignatureRequired,
    /// 406: `<method> timestamp too far from current time` (retrieve, delete_all,
    /// revoke_subaccount, unrevoke_subaccount, get_expiries).
    TimestampTooFar(&'static str),
    /// 401: `<method> signature verification failed`; `delete` is `delete_msgs` there, and
    /// `expire` says `expire: signature verification failed`.
    SignatureFailed(&'static str),
    /// 401: a `delete_before` time more than a minute ahead.
    DeleteBeforeFuture,
    /// 406: an `expire_all` expiry more than a minute in the past.
    ExpireAllPast,
    /// 401: an `expire` expiry more than a minute in the past.
    ExpirePast,
    /// 400: `shorten` by a subaccount token without delete permission.
    ExpireShortenWithoutDelete,
    /// 400: a required parameter is absent.
    RequiredField(&'static str),
    /// 400: `pubkey_ed25519` given for an account whose prefix is not 05.
    PubkeyEd25519Only05,
    /// 400: `pubkey_ed25519` of 64 characters that are not hex.
    PubkeyEd25519NotHex,
    /// 400: `pubkey_ed25519` of the wrong length.
    PubkeyEd25519Length,
    /// 400: `pubkey` of the wrong length or not hex.
    InvalidPubkey,
    /// 400: a `signature` that is not 64 bytes of base64.
    InvalidSignature,
    /// 400: a `subaccount` without `subaccount_sig`.
    SubaccountSigRequired,
    /// 400: a `subaccount` token that is not 36 bytes of base64 or hex.
    InvalidSubaccount,
    /// 400: a `subaccount_sig` that is not 64 bytes of base64.
    InvalidSubaccountSignature,
    /// 400: a `last_hash` of 43 characters outside the base64 alphabet.
    LastHashNotBase64,
    /// 400: a `last_hash` that is not 43 characters.
    LastHashLength,
    /// 400: an empty `messages` list.
    NoMessageHashes,
    /// 400: a message hash that is not 43 base64 characters.
    InvalidMessageHash(String),
    /// 400: `shorten` and `extend` together.
    ShortenAndExtend,
    /// 400: an empty `expiry` list.
    NoExpiries,
    /// 400: an `expiry` list of another length than `messages`.
    ExpiryCount,
    /// 400: `data` that is not base64.
    DataNotBase64,
    /// 400: an `ifelse` without any condition.
    IfElseNoCondition,
    /// 400: an `ifelse` with neither `then` nor `else`.
    IfElseNoBranch,
}

impl Refusal {
    /// The HTTP status the reference answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::StoreSignatureRequired(_)
            | Self::RetrieveSignatureRequired
            | Self::SignatureFailed(_)
            | Self::DeleteBeforeFuture
            | Self::ExpirePast => 401,
            Self::StoreTtl => 403,
            Self::StoreSignatureTimestamp
            | Self::StoreClock
            | Self::TimestampTooFar(_)
            | Self::ExpireAllPast => 406,
            _ => 400,
        }
    }

    /// The reference's text, byte for byte.
    pub fn text(&self) -> String {
        let parse = |reason: &str| format!("invalid request: {reason}");
        match self {
            Self::StoreSignatureRequired(ns) => {
                format!("store: signature required to store to namespace {ns}")
            }
            Self::StoreSignatureTimestamp => {
                "store signature timestamp too far from current time".into()
            }
            Self::StoreClock => "Timestamp error: check your clock".into(),
            Self::StoreTtl => "Provided expiry/TTL is not valid.".into(),
            Self::RetrieveSignatureRequired => "retrieve: request signature required".into(),
            Self::TimestampTooFar(method) => {
                format!("{method} timestamp too far from current time")
            }
            Self::SignatureFailed("expire") => "expire: signature verification failed".into(),
            Self::SignatureFailed("delete") => "delete_msgs signature verification failed".into(),
            Self::SignatureFailed(method) => format!("{method} signature verification failed"),
            Self::DeleteBeforeFuture => "delete_before timestamp too far in the future".into(),
            Self::ExpireAllPast => "expire_all timestamp should be >= current time".into(),
            Self::ExpirePast => "expire: timestamp should be >= current time".into(),
            Self::ExpireShortenWithoutDelete => "expire: shorten parameter cannot be used with \
                 this subaccount token (missing delete access)"
                .into(),
            Self::RequiredField(name) => parse(&format!("Required field '{name}' missing")),
            Self::PubkeyEd25519Only05 => {
                parse("pubkey_ed25519 is only permitted for 05[...] pubkeys")
            }
            Self::PubkeyEd25519NotHex => parse("invalid pubkey_ed25519: value is not hex"),
            Self::PubkeyEd25519Length => {
                parse("Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey")
            }
            Self::InvalidPubkey => parse("Pubkey must be 66 hex digits (33 bytes) long"),
            Self::InvalidSignature => {
                parse("invalid signature: expected base64 encoded Ed25519 signature")
            }
            Self::SubaccountSigRequired => {
                parse("invalid subaccount: subaccount_sig is required when using subaccount")
            }
            Self::InvalidSubaccount => {
                parse("invalid subaccount: expected base64 or hex-encoded subaccount token")
            }
            Self::InvalidSubaccountSignature => {
                parse("invalid subaccount signature: expected base64 encoded Ed25519 signature")
            }
            Self::LastHashNotBase64 => parse("Invalid last_hash: not base64"),
            Self::LastHashLength => parse("Invalid last_hash: expected base64 (43 chars)"),
            Self::NoMessageHashes => parse("messages does not contain any message hashes"),
            Self::InvalidMessageHash(hash) => {
                let shown: String = hash.chars().take(64).collect();
                parse(&format!("invalid message hash: {shown}"))
            }
            Self::ShortenAndExtend => parse("cannot specify both 'shorten' and 'extend'"),
            Self::NoExpiries => parse("'expiry' does not contain any expiration timestamps"),
            Self::ExpiryCount => {
                parse("'expiry' must be a single expiry, or the same length as 'messages'")
            }
            Self::DataNotBase64 => parse("Invalid 'data' value: not base64 encoded"),
            Self::IfElseNoCondition => {
                parse("Invalid ifelse request: must specify at least one \"if\" condition")
            }
            Self::IfElseNoBranch => {
                parse("Invalid ifelse request: at least one of \"then\"/\"else\" required")
            }
        }
    }
}

impl From<Refusal> for RpcError {
    fn from(refusal: Refusal) -> Self {
        Self::new(refusal.status(), refusal.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal's status and text, as the reference's source has them.
    #[test]
    fn refusals_match_the_reference() {
        let table: Vec<(Refusal, u16, &str)> = vec![
            (Refusal::StoreSignatureRequired(2), 401, "store: signature required to store to namespace 2"),
            (Refusal::StoreSignatureRequired(-11), 401, "store: signature required to store to namespace -11"),
            (Refusal::StoreSignatureTimestamp, 406, "store signature timestamp too far from current time"),
            (Refusal::StoreClock, 406, "Timestamp error: check your clock"),
            (Refusal::StoreTtl, 403, "Provided expiry/TTL is not valid."),
            (Refusal::RetrieveSignatureRequired, 401, "retrieve: request signature required"),
            (Refusal::TimestampTooFar("retrieve"), 406, "retrieve timestamp too far from current time"),
            (Refusal::TimestampTooFar("delete_all"), 406, "delete_all timestamp too far from current time"),
            (Refusal::TimestampTooFar("revoke_subaccount"), 406, "revoke_subaccount timestamp too far from current time"),
            (Refusal::TimestampTooFar("unrevoke_subaccount"), 406, "unrevoke_subaccount timestamp too far from current time"),
            (Refusal::TimestampTooFar("get_expiries"), 406, "get_expiries timestamp too far from current time"),
            (Refusal::SignatureFailed("store"), 401, "store signature verification failed"),
            (Refusal::SignatureFailed("retrieve"), 401, "retrieve signature verification failed"),
            (Refusal::SignatureFailed("delete"), 401, "delete_msgs signature verification failed"),
            (Refusal::SignatureFailed("delete_all"), 401, "delete_all signature verification failed"),
            (Refusal::SignatureFailed("delete_before"), 401, "delete_before signature verification failed"),
            (Refusal::SignatureFailed("expire"), 401, "expire: signature verification failed"),
            (Refusal::SignatureFailed("expire_all"), 401, "expire_all signature verification failed"),
            (Refusal::SignatureFailed("get_expiries"), 401, "get_expiries signature verification failed"),
            (Refusal::SignatureFailed("revoke_subaccount"), 401, "revoke_subaccount signature verification failed"),
            (Refusal::SignatureFailed("unrevoke_subaccount"), 401, "unrevoke_subaccount signature verification failed"),
            (Refusal::DeleteBeforeFuture, 401, "delete_before timestamp too far in the future"),
            (Refusal::ExpireAllPast, 406, "expire_all timestamp should be >= current time"),
            (Refusal::ExpirePast, 401, "expire: timestamp should be >= current time"),
            (Refusal::ExpireShortenWithoutDelete, 400, "expire: shorten parameter cannot be used with this subaccount token (missing delete access)"),
            (Refusal::RequiredField("signature"), 400, "invalid request: Required field 'signature' missing"),
            (Refusal::PubkeyEd25519Only05, 400, "invalid request: pubkey_ed25519 is only permitted for 05[...] pubkeys"),
            (Refusal::PubkeyEd25519NotHex, 400, "invalid request: invalid pubkey_ed25519: value is not hex"),
            (Refusal::PubkeyEd25519Length, 400, "invalid request: Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey"),
            (Refusal::InvalidPubkey, 400, "invalid request: Pubkey must be 66 hex digits (33 bytes) long"),
            (Refusal::InvalidSignature, 400, "invalid request: invalid signature: expected base64 encoded Ed25519 signature"),
            (Refusal::SubaccountSigRequired, 400, "invalid request: invalid subaccount: subaccount_sig is required when using subaccount"),
            (Refusal::InvalidSubaccount, 400, "invalid request: invalid subaccount: expected base64 or hex-encoded subaccount token"),
            (Refusal::InvalidSubaccountSignature, 400, "invalid request: invalid subaccount signature: expected base64 encoded Ed25519 signature"),
            (Refusal::LastHashNotBase64, 400, "invalid request: Invalid last_hash: not base64"),
            (Refusal::LastHashLength, 400, "invalid request: Invalid last_hash: expected base64 (43 chars)"),
            (Refusal::NoMessageHashes, 400, "invalid request: messages does not contain any message hashes"),
            (Refusal::InvalidMessageHash("@@".into()), 400, "invalid request: invalid message hash: @@"),
            (Refusal::ShortenAndExtend, 400, "invalid request: cannot specify both 'shorten' and 'extend'"),
            (Refusal::NoExpiries, 400, "invalid request: 'expiry' does not contain any expiration timestamps"),
            (Refusal::ExpiryCount, 400, "invalid request: 'expiry' must be a single expiry, or the same length as 'messages'"),
            (Refusal::DataNotBase64, 400, "invalid request: Invalid 'data' value: not base64 encoded"),
            (Refusal::IfElseNoCondition, 400, "invalid request: Invalid ifelse request: must specify at least one \"if\" condition"),
            (Refusal::IfElseNoBranch, 400, "invalid request: Invalid ifelse request: at least one of \"then\"/\"else\" required"),
        ];
        for (refusal, status, text) in table {
            let error = RpcError::from(refusal.clone());
            assert_eq!(error.status, status, "{refusal:?}");
            assert_eq!(error.message, text, "{refusal:?}");
        }
    }
}
