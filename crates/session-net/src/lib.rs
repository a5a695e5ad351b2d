#![doc = include_str!("../README.md")]

pub mod client;
pub mod tls;

pub use client::{post_once, Connection, ConnectionPool, NodeAddress, Response};
pub use tls::{
    certificate_key, client_config, client_config_as, identity_certificate, peer_identity,
    server_config, ExpectedKeyVerifier, NodeIdentity, OptionalNodeVerifier,
};

use session_crypto::Ed25519PublicKey;

/// Network errors, grouped by what the caller can do: try another node (connect, timeout), or
/// distrust this one (wrong identity).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The TCP connection failed.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The peer did not prove the expected Ed25519 identity.
    #[error("peer is not the node {expected}: {detail}")]
    WrongIdentity {
        /// The key the peer had to prove.
        expected: Ed25519PublicKey,
        /// What TLS reported.
        detail: String,
    },
    /// Another TLS failure.
    #[error("TLS failure: {0}")]
    Tls(String),
    /// An HTTP-level failure.
    #[error("HTTP failure: {0}")]
    Http(String),
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// A certificate or TLS configuration could not be built.
    #[error("certificate error: {0}")]
    Certificate(String),
}
