//! `POST /onion_req/v2`: peel this node's layer of an onion request, then relay the rest to the
//! next node, or, when the layer is addressed to this node, run the RPC it carries and encrypt
//! the reply with that layer's key. Relays pass replies back unchanged and never put the inner
//! payload in an error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use session_crypto::{Ed25519PublicKey, HopKey, OsRng};
use session_net::{NetError, NodeAddress};
use session_wire::onion::{seal_reply, OnionReply, MAX_HOPS};
use session_wire::rpc::Request;
use session_wire::{encode_frame, parse_frame, LayerRoute};

use crate::error::RpcError;
use crate::executor::Executor;

/// Path of onion requests.
pub const ONION_PATH: &str = "/onion_req/v2";
/// Header with the number of hops a relayed request has taken (trusted from listed nodes only).
pub const HOPS_HEADER: &str = "x-session-onion-hops";

/// What a node could see of one onion request: recorded only when `observe_privacy` is on, for
/// the tests that check who learns what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The address the request came from.
    pub peer: SocketAddr,
    /// The node the request was relayed to, if it was relayed.
    pub next_hop: Option<Ed25519PublicKey>,
    /// Whether this node saw the plaintext RPC request.
    pub saw_request: bool,
    /// The account the request was about, if this node saw it.
    pub account: Option<String>,
}

/// Records observations when enabled.
#[derive(Default)]
pub struct Observer {
    enabled: bool,
    seen: Mutex<Vec<Observation>>,
}

impl Observer {
    /// An observer that records only when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, observation: Observation) {
        if self.enabled {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(observation);
            }
        }
    }

    /// Everything recorded so far.
    pub fn observations(&self) -> Vec<Observation> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Handles one onion request; returns the HTTP status and body.
pub async fn handle(
    executor: &Executor,
    observer: &Arc<Observer>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, RpcError> {
    // The hop count needs no authentication: a sender can only claim more hops than it made
    // (which shortens its own budget) or none (the same as starting a fresh onion, which
    // anyone may). So relays forward without signing, and no Ed25519 signature is made or
    // checked per relayed request.
    let hops: usize = headers
        .get(HOPS_HEADER)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MAX_HOPS)
        })
        .unwrap_or(0);
    if hops >= MAX_HOPS {
        return Err(RpcError::bad_request(format!(
            "onion request exceeded {MAX_HOPS} hops"
        )));
    }
    let frame = parse_frame(body)
        .map_err(|e| RpcError::bad_request(format!("invalid onion request: {e}")))?;
    let LayerRoute::Decrypt {
        ephemeral_key,
        cipher,
    } = LayerRoute::from_json(&frame.json)
        .map_err(|e| RpcError::bad_request(format!("invalid onion request: {e}")))?
    else {
        return Err(RpcError::bad_request(
            "invalid onion request: the outer layer must carry ephemeral_key",
        ));
    };
    let key = HopKey::for_node(
        cipher,
        executor.rpc.identity.x25519_secret(),
        &ephemeral_key,
    )
    .map_err(|_| RpcError::bad_request("invalid onion request: unusable ephemeral_key"))?;
    let layer = key
        .decrypt(frame.blob)
        .map_err(|_| RpcError::bad_request("could not decrypt the onion layer"))?;
    let inner = parse_frame(&layer)
        .map_err(|e| RpcError::bad_request(format!("invalid onion layer: {e}")))?;
    match LayerRoute::from_json(&inner.json)
        .map_err(|e| RpcError::bad_request(format!("invalid onion layer: {e}")))?
    {
        LayerRoute::Deliver => deliver(executor, observer, peer, &key, inner.blob).await,
        LayerRoute::Relay {
            destination,
            ephemeral_key,
            cipher,
        } => {
            observer.record(Observation {
                peer,
                next_hop: Some(destination),
                saw_request: false,
                account: None,
            });
            let next = executor
                .network
                .list()
                .and_then(|l| l.node(&destination).map(|n| n.https))
                .ok_or_else(|| RpcError::new(502, format!("unknown next node {destination}")))?;
            let relayed = encode_frame(
                inner.blob,
                &LayerRoute::Decrypt {
                    ephemeral_key,
                    cipher,
                }
                .to_json(),
            )
            .map_err(|_| RpcError::bad_request("onion layer too large"))?;
            let node = NodeAddress {
                addr: next,
                key: destination,
            };
            match executor
                .peers
                .relay(
                    node,
                    ONION_PATH,
                    &[(HOPS_HEADER, (hops + 1).to_string())],
                    relayed,
                )
                .await
            {
                Ok(response) if response.status == 200 => Ok(response.body.to_vec()),
                // The next hop's error, passed on (errors never carry payloads).
                Ok(response) => Err(RpcError::new(
                    response.status,
                    String::from_utf8_lossy(&response.body)
                        .chars()
                        .take(300)
                        .collect::<String>(),
                )),
                Err(NetError::Timeout) => Err(RpcError::new(
                    504,
                    format!("next node {destination} did not answer in time"),
                )),
                Err(_) => Err(RpcError::new(
                    502,
                    format!("next node {destination} is unreachable"),
                )),
            }
        }
        LayerRoute::Decrypt { .. } => Err(RpcError::bad_request(
            "invalid onion layer: neither a destination nor a request",
        )),
    }
}

/// Runs the RPC carried by the innermost layer and seals the reply with its key.
async fn deliver(
    executor: &Executor,
    observer: &Observer,
    peer: SocketAddr,
    key: &HopKey,
    payload: &[u8],
) -> Result<Vec<u8>, RpcError> {
    let outcome = match Request::from_json(payload) {
        Ok(request) => {
            let account = crate::rpc::account_of(&request).map(str::to_owned);
            observer.record(Observation {
                peer,
                next_hop: None,
                saw_request: true,
                account,
            });
            executor.execute(request, false).await
        }
        Err(e) => Err(RpcError::bad_request(e.to_string())),
    };
    let reply = match outcome {
        Ok(body) => OnionReply {
            status: 200,
            body: body.to_string(),
        },
        Err(e) => OnionReply {
            status: e.status,
            body: e.message,
        },
    };
    seal_reply(key, &reply, &mut OsRng).map_err(|_| RpcError::new(500, "could not seal the reply"))
}
