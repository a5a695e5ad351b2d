//! Node-to-node requests: sent over mutual TLS (the receiver proves its key as the server, the
//! sender as the client certificate), and signed by the sender's identity key over the path, the
//! body and a timestamp, so that a captured request cannot be replayed later or elsewhere.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderMap;
use session_crypto::{Ed25519PublicKey, IdentityKeyPair};
use session_net::{ConnectionPool, NetError, NodeAddress, NodeIdentity, Response};

use crate::error::RpcError;
use crate::network::Network;

/// Header naming the sending node (hex Ed25519 key).
pub const NODE_HEADER: &str = "x-session-node";
/// Header with the sender's signature over the request (base64).
pub const SIGNATURE_HEADER: &str = "x-session-signature";
/// Header with the signing time, Unix milliseconds (part of what is signed).
pub const TIMESTAMP_HEADER: &str = "x-session-timestamp";
/// How far a signed request's timestamp may be from the receiver's clock.
pub const SIGNATURE_WINDOW_MS: u64 = 60_000;
/// How long a peer has to answer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a peer signs: a domain tag, the time, the path and the body, so a signature fits one
/// request and only for [`SIGNATURE_WINDOW_MS`].
fn signed_bytes(timestamp_ms: u64, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + path.len() + body.len());
    out.extend_from_slice(b"session-rs peer request v2\0");
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(path.as_bytes());
    out.push(0);
    out.extend_from_slice(body);
    out
}

/// The headers that sign a request to `path` with `body` as `identity` at `timestamp_ms`.
pub fn signed_headers(
    identity: &IdentityKeyPair,
    timestamp_ms: u64,
    path: &str,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let signature = STANDARD.encode(identity.sign(&signed_bytes(timestamp_ms, path, body)));
    [
        (NODE_HEADER, identity.ed25519_public().to_string()),
        (SIGNATURE_HEADER, signature),
        (TIMESTAMP_HEADER, timestamp_ms.to_string()),
    ]
}

/// Sends signed requests to other nodes over pooled, identity-checked connections.
pub struct Peers {
    identity: Arc<IdentityKeyPair>,
    pool: ConnectionPool,
}

impl Peers {
    /// Requests signed by `identity`, over connections that prove `tls` (the same key) as the
    /// client certificate.
    pub fn new(identity: Arc<IdentityKeyPair>, tls: NodeIdentity) -> Self {
        Self {
            identity,
            pool: ConnectionPool::as_node(tls),
        }
    }

    /// Posts `body` to `path` on `node`, signed.
    pub async fn post(
        &self,
        node: NodeAddress,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, NetError> {
        let headers = signed_headers(&self.identity, crate::server::now_ms(), path, &body);
        self.pool
            .post(node, path, &headers, body, PEER_TIMEOUT)
            .await
    }

    /// Posts without signing (onion relaying: the mutual-TLS connection already tells the
    /// next hop which node relays, at no cost per request), over the same pool, waiting up to
    /// `timeout` (longer than the next hop's own: it may hold a waiting retrieve).
    pub async fn relay(
        &self,
        node: NodeAddress,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, NetError> {
        self.pool.post(node, path, headers, body, timeout).await
    }
}

/// Checks that a request comes from a listed node: signed by the key the connection proved
/// (`proven`, from mutual TLS), within [`SIGNATURE_WINDOW_MS`] of `now_ms`; returns its key.
pub fn verify_sender(
    network: &Network,
    proven: Option<Ed25519PublicKey>,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    now_ms: u64,
) -> Result<Ed25519PublicKey, RpcError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RpcError::unauthorized(format!("missing {name} header")))
    };
    let sender = Ed25519PublicKey::from_hex(header(NODE_HEADER)?)
        .map_err(|_| RpcError::bad_request(format!("invalid {NODE_HEADER} header")))?;
    if proven != Some(sender) {
        return Err(RpcError::new(
            403,
            "node requests need a connection that proves the sender's key",
        ));
    }
    let signature: [u8; 64] = STANDARD
        .decode(header(SIGNATURE_HEADER)?)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| RpcError::bad_request(format!("invalid {SIGNATURE_HEADER} header")))?;
    let timestamp: u64 = header(TIMESTAMP_HEADER)?
        .parse()
        .map_err(|_| RpcError::bad_request(format!("invalid {TIMESTAMP_HEADER} header")))?;
    sender
        .verify(&signed_bytes(timestamp, path, body), &signature)
        .map_err(|_| RpcError::unauthorized("peer signature verification failed"))?;
    if timestamp.abs_diff(now_ms) > SIGNATURE_WINDOW_MS {
        return Err(RpcError::unauthorized(
            "peer request signed too long ago (or in the future)",
        ));
    }
    if !network.is_listed(&sender) {
        return Err(RpcError::new(403, "the sender is not a listed node"));
    }
    Ok(sender)
}
