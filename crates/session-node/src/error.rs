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
