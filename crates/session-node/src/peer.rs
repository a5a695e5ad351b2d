//! Node-to-node requests: sent over TLS that proves the receiver's identity, and signed by the
//! sender's identity key so that the receiver knows which listed node is asking.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderMap;
use session_crypto::{Ed25519PublicKey, IdentityKeyPair};
use session_net::{ConnectionPool, NetError, NodeAddress, Response};

use crate::error::RpcError;
use crate::network::Network;

/// Header naming the sending node (hex Ed25519 key).
pub const NODE_HEADER: &str = "x-session-node";
/// Header with the sender's signature over the request (base64).
pub const SIGNATURE_HEADER: &str = "x-session-signature";
/// How long a peer has to answer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a peer signs: a domain tag, the path and the body, so a signature fits one request only.
fn signed_bytes(path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + path.len() + body.len());
    out.extend_from_slice(b"session-rs peer request\0");
    out.extend_from_slice(path.as_bytes());
    out.push(0);
    out.extend_from_slice(body);
    out
}

/// Sends signed requests to other nodes over pooled, identity-checked connections.
pub struct Peers {
    identity: Arc<IdentityKeyPair>,
    pool: ConnectionPool,
}

impl Peers {
    /// Requests signed by `identity`.
    pub fn new(identity: Arc<IdentityKeyPair>) -> Self {
        Self {
            identity,
            pool: ConnectionPool::new(),
        }
    }

    /// Posts `body` to `path` on `node`, signed.
    pub async fn post(
        &self,
        node: NodeAddress,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, NetError> {
        let signature = STANDARD.encode(self.identity.sign(&signed_bytes(path, &body)));
        let headers = [
            (NODE_HEADER, self.identity.ed25519_public().to_string()),
            (SIGNATURE_HEADER, signature),
        ];
        self.pool
            .post(node, path, &headers, body, PEER_TIMEOUT)
            .await
    }

    /// Posts without signing (onion relaying, where the next hop needs no proof of who sent
    /// it), over the same pool of verified connections.
    pub async fn relay(
        &self,
        node: NodeAddress,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, NetError> {
        self.pool
            .post(node, path, headers, body, PEER_TIMEOUT)
            .await
    }
}

/// Checks that a request comes from a listed node; returns its key.
pub fn verify_sender(
    network: &Network,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<Ed25519PublicKey, RpcError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RpcError::unauthorized(format!("missing {name} header")))
    };
    let sender = Ed25519PublicKey::from_hex(header(NODE_HEADER)?)
        .map_err(|_| RpcError::bad_request(format!("invalid {NODE_HEADER} header")))?;
    let signature: [u8; 64] = STANDARD
        .decode(header(SIGNATURE_HEADER)?)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| RpcError::bad_request(format!("invalid {SIGNATURE_HEADER} header")))?;
    sender
        .verify(&signed_bytes(path, body), &signature)
        .map_err(|_| RpcError::unauthorized("peer signature verification failed"))?;
    if !network.is_listed(&sender) {
        return Err(RpcError::new(403, "the sender is not a listed node"));
    }
    Ok(sender)
}
