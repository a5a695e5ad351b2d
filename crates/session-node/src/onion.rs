//! `POST /onion_req/v2`: peel this node's layer of an onion request, then relay the rest to the
//! next node, or, when the layer is addressed to this node, run the RPC it carries and encrypt
//! the reply with that layer's key. Relays pass replies back unchanged and never put the inner
//! payload in an error.
//!
//! Relaying is bounded: a node never relays to itself or back to the node that relayed to it,
//! the hop count is trusted only from listed nodes (proved by mutual TLS), and a large body
//! may take only a few relays (the bytes a request can make the network carry are bounded by
//! [`RELAY_BYTE_BUDGET`]). Relay errors are generic: they never name the next node.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use session_crypto::{Ed25519PublicKey, HopKey, OsRng};
use session_net::{NetError, NodeAddress};
use session_wire::onion::{relay_timeout_ms, seal_reply, OnionReply, MAX_HOPS};
use session_wire::rpc::Request;
use session_wire::{encode_frame, parse_frame, LayerRoute, ReplyFormat};

use crate::error::RpcError;
use crate::executor::Executor;
use crate::waits::WaitSource;

/// Path of onion requests.
pub const ONION_PATH: &str = "/onion_req/v2";
/// Header with the number of hops a relayed request has taken (trusted from listed nodes only).
pub const HOPS_HEADER: &str = "x-session-onion-hops";
/// Bytes one onion request may make the network relay in total (its size times its relays):
/// a full 10 MiB body still takes the 3 relays of a client path, while small requests keep
/// the whole [`MAX_HOPS`].
pub const RELAY_BYTE_BUDGET: usize = 32 * 1024 * 1024;
/// Relays any request may take, whatever its size (a client path needs 3).
const MIN_RELAYS: usize = 3;

/// The relays a request of `size` bytes may take in total.
pub fn relays_allowed(size: usize) -> usize {
    (RELAY_BYTE_BUDGET / size.max(1)).clamp(MIN_RELAYS, MAX_HOPS)
}

/// The generic error of a relay that could not pass a request on (it names no node: the
/// relay that sends it knows the client's address).
const RELAY_FAILED: &str = "the onion request could not be relayed";

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

/// Where an onion request came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The address of the connection.
    pub peer: SocketAddr,
    /// The listed node that relayed it (proved by mutual TLS); none for a client.
    pub previous: Option<Ed25519PublicKey>,
}

/// Handles one onion request; returns the HTTP status and body. `charge` takes rate tokens
/// for the sub-requests of a delivered batch beyond the one already charged.
pub async fn handle(
    executor: &Executor,
    observer: &Arc<Observer>,
    origin: Origin,
    headers: &HeaderMap,
    body: &[u8],
    charge: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<u8>, RpcError> {
    let peer = origin.peer;
    // The hop count is believed only from a listed node, over its mutual-TLS connection (no
    // signature per request); a client starts a fresh onion at 0. A node can only claim more
    // hops than were made, which shortens the request's own budget.
    let hops: usize = match origin.previous {
        None => 0,
        Some(_) => headers
            .get(HOPS_HEADER)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(MAX_HOPS)
            })
            .unwrap_or(0),
    };
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
        LayerRoute::Deliver(format) => {
            deliver(executor, observer, origin, &key, format, inner.blob, charge).await
        }
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
            if destination == executor.network.me() || Some(destination) == origin.previous {
                return Err(RpcError::bad_request(
                    "invalid onion request: a relay to this node or back to the previous one",
                ));
            }
            if hops + 1 > relays_allowed(body.len()) {
                return Err(RpcError::new(
                    413,
                    "onion request too large for this many hops",
                ));
            }
            let next = executor
                .network
                .list()
                .and_then(|l| l.node(&destination).map(|n| n.https))
                .ok_or_else(|| RpcError::new(502, RELAY_FAILED))?;
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
                    // Every relay holds on as long as a waiting retrieve may take (it cannot
                    // tell one from any other request), a step longer than the next hop.
                    std::time::Duration::from_millis(relay_timeout_ms(hops)),
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
                Err(NetError::Timeout) => Err(RpcError::new(504, RELAY_FAILED)),
                Err(_) => Err(RpcError::new(502, RELAY_FAILED)),
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
    origin: Origin,
    key: &HopKey,
    format: ReplyFormat,
    payload: &[u8],
    charge: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<u8>, RpcError> {
    let outcome = match Request::from_json(payload) {
        Ok(request) if !charge(crate::server::extra_cost(&request)) => Err(RpcError::new(
            429,
            "rate limit exceeded: a batch costs one request per sub-request",
        )),
        Ok(request) => {
            let account = crate::rpc::account_of(&request).map(str::to_owned);
            observer.record(Observation {
                peer: origin.peer,
                next_hop: None,
                saw_request: true,
                account,
            });
            let source = match origin.previous {
                Some(node) => WaitSource::Relay(node),
                None => WaitSource::Client(origin.peer.ip()),
            };
            executor.execute_from(request, source).await
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
    seal_reply(key, &reply, format, &mut OsRng)
        .map_err(|_| RpcError::new(500, "could not seal the reply"))
}
