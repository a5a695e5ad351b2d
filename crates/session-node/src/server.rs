//! The HTTPS listener, request routing and protection (connection caps, rate limits, body
//! limit, timeouts), and the plain-HTTP metrics listener.
//!
//! Each connection is classed once its TLS handshake is done: one whose client certificate
//! proves the key of a listed node is node traffic, any other is client traffic. Clients are
//! rate-limited per IP address; onion requests relayed by a node are limited per previous hop;
//! a node's replication and other calls have a budget of their own. A batch costs one token
//! per sub-request. A client connection can never reach the node-only endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use session_crypto::Ed25519PublicKey;
use session_wire::rpc::{RawRequest, Request, MAX_SUBREQUESTS};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use session_swarm::{NodeListError, SignedNodeList};

use crate::blocking::BlockingPool;
use crate::connections::{ConnectionLimits, Refusal, Slot};
use crate::error::RpcError;
use crate::executor::{Executor, FORWARD_PATH};
use crate::metrics::Metrics;
use crate::network::Network;
use crate::onion::ONION_PATH;
use crate::peer::verify_sender;
use crate::ratelimit::RateLimiter;
use crate::sync::{serve_pull, serve_push, PULL_PATH, PUSH_PATH};

/// Largest request body; larger ones are refused before they are read whole.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Time a client has to send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared state of the HTTPS service.
pub struct Service {
    /// Request runner (routing, local handlers, replication).
    pub executor: Arc<Executor>,
    /// Per-IP rate limiter (clients).
    pub limiter: RateLimiter,
    /// Per-previous-hop rate limiter (onion requests relayed by listed nodes).
    pub relay_limiter: RateLimiter<Ed25519PublicKey>,
    /// Per-node rate limiter (replication and other calls of listed nodes).
    pub sync_limiter: RateLimiter<Ed25519PublicKey>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Connection caps: per IP, client slots, slots kept for nodes.
    pub connections: Arc<ConnectionLimits>,
    /// Time a new connection has to finish its TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// The bounded pool for database work.
    pub db: Arc<BlockingPool>,
    /// Privacy observations of onion requests (disabled unless configured).
    pub observer: Arc<crate::onion::Observer>,
}

/// The node's clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

type HttpResponse = hyper::Response<Full<Bytes>>;

fn text(status: u16, message: impl Into<String>) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(Bytes::from(message.into())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json(body: &serde_json::Value) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = hyper::Response::new(Full::new(Bytes::from(bytes)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Accepts HTTPS connections until `shutdown` turns true, then lets open connections finish.
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    service: Arc<Service>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match service.connections.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                let reason = match refusal {
                    Refusal::PerIp => "per_ip",
                    Refusal::Full => "full",
                };
                service.metrics.record_connection_refused(reason);
                tracing::debug!(reason, "connection limit reached; dropping a connection");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = service.clone();
        let shutdown = shutdown.clone();
        let db = service.db.clone();
        tasks.spawn(db.scope(serve_connection(
            tcp, peer, slot, acceptor, service, shutdown,
        )));
        // Reap finished connection tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    // Stop accepting; give in-flight requests time to finish.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10 s of shutdown");
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: Slot,
    acceptor: TlsAcceptor,
    service: Arc<Service>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(service.tls_handshake_timeout, acceptor.accept(tcp));
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    // The key the client certificate proved (nodes only); whether it is a listed node is
    // asked again at every request, as the list changes.
    let proven = session_net::peer_identity(tls.get_ref().1);
    let listed = proven.is_some_and(|key| service.executor.network.is_listed(&key));
    let Some(_slot) = slot.settle(&service.connections, listed) else {
        tracing::debug!("a client connection held a slot kept for nodes; closing it");
        return;
    };
    let caller = Caller { peer, proven };
    let handler = hyper::service::service_fn(move |request| {
        let service = service.clone();
        async move { Ok::<_, Infallible>(handle(request, caller, &service).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(tls), handler);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Who sent a request: the connection's address and the key its TLS client certificate proved.
#[derive(Debug, Clone, Copy)]
struct Caller {
    peer: SocketAddr,
    proven: Option<Ed25519PublicKey>,
}

/// The rate budget a request is charged to.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// A client, by IP address.
    Client(std::net::IpAddr),
    /// An onion request relayed by this listed node (the previous hop).
    Relay(Ed25519PublicKey),
    /// Any other request of this listed node (replication, node list, its own RPCs).
    Node(Ed25519PublicKey),
}

impl Budget {
    fn of(caller: Caller, path: &str, network: &Network) -> Self {
        match caller.proven.filter(|key| network.is_listed(key)) {
            None => Self::Client(caller.peer.ip()),
            Some(key) if path == ONION_PATH => Self::Relay(key),
            Some(key) => Self::Node(key),
        }
    }

    /// The listed node behind the request, if any.
    fn node(self) -> Option<Ed25519PublicKey> {
        match self {
            Self::Client(_) => None,
            Self::Relay(key) | Self::Node(key) => Some(key),
        }
    }

    /// Whom a waiting retrieve of this request is counted against.
    fn wait_source(self) -> crate::waits::WaitSource {
        match self {
            Self::Client(ip) => crate::waits::WaitSource::Client(ip),
            Self::Relay(key) | Self::Node(key) => crate::waits::WaitSource::Relay(key),
        }
    }

    /// Takes `count` tokens; false (and counted) when the budget is spent.
    fn take(self, service: &Service, count: usize) -> bool {
        if count == 0 {
            return true;
        }
        let now = Instant::now();
        let allowed = match self {
            Self::Client(ip) => service.limiter.allow_n(ip, count, now),
            Self::Relay(key) => service.relay_limiter.allow_n(key, count, now),
            Self::Node(key) => service.sync_limiter.allow_n(key, count, now),
        };
        if !allowed {
            service.metrics.record_rate_limited();
        }
        allowed
    }

    fn refusal(self) -> HttpResponse {
        text(
            429,
            match self {
                Self::Client(_) => "rate limit exceeded: too many requests from this address",
                Self::Relay(_) | Self::Node(_) => {
                    "rate limit exceeded: too many requests from this node"
                }
            },
        )
    }
}

/// Sub-requests of `request` beyond the first: what a batch costs on top of one request.
/// Batches larger than the RPC allows are refused by the executor, so they are counted at the
/// limit.
pub fn extra_cost(request: &Request) -> usize {
    fn raw_cost(raw: &RawRequest) -> usize {
        match raw.method.as_str() {
            "batch" | "sequence" => raw
                .params
                .get("requests")
                .and_then(serde_json::Value::as_array)
                .map_or(1, |r| r.len().clamp(1, MAX_SUBREQUESTS)),
            _ => 1,
        }
    }
    let cost = match request {
        Request::Batch(p) | Request::Sequence(p) => p.requests.len().clamp(1, MAX_SUBREQUESTS),
        Request::IfElse(p) => p
            .then
            .iter()
            .chain(&p.otherwise)
            .map(raw_cost)
            .max()
            .unwrap_or(1),
        _ => 1,
    };
    cost - 1
}

async fn handle(
    request: hyper::Request<Incoming>,
    caller: Caller,
    service: &Service,
) -> HttpResponse {
    let started = Instant::now();
    let budget = Budget::of(caller, request.uri().path(), &service.executor.network);
    if !budget.take(service, 1) {
        return budget.refusal();
    }
    let (method, status, response) = route(request, caller, budget, service).await;
    service.metrics.record(method, status, started.elapsed());
    tracing::debug!(method, status, "request");
    response
}

/// Path of the storage RPC.
pub const STORAGE_RPC_PATH: &str = "/storage_rpc/v1";
/// Path serving the current signed node list.
pub const NODE_LIST_PATH: &str = "/swarm/v1/node_list";
/// Path accepting a newer signed node list.
pub const NODE_LIST_PUSH_PATH: &str = "/swarm/v1/node_list/push";
/// Path of the oxend-style JSON-RPC bootstrap call.
pub const JSON_RPC_PATH: &str = "/json_rpc";

/// Routes one request; returns the RPC method (for metrics), the status and the response.
async fn route(
    request: hyper::Request<Incoming>,
    caller: Caller,
    budget: Budget,
    service: &Service,
) -> (&'static str, u16, HttpResponse) {
    if request.method() != Method::POST {
        return ("none", 405, text(405, "only POST is supported"));
    }
    let path = request.uri().path().to_owned();
    let known = [
        STORAGE_RPC_PATH,
        FORWARD_PATH,
        PULL_PATH,
        PUSH_PATH,
        crate::blob_sync::BLOB_PULL_PATH,
        NODE_LIST_PATH,
        NODE_LIST_PUSH_PATH,
        JSON_RPC_PATH,
        ONION_PATH,
    ];
    if !known.contains(&path.as_str()) {
        return ("none", 404, text(404, "unknown endpoint"));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return ("none", 413, text(413, "request body larger than 10 MiB"));
    }
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES).collect();
    let body = match tokio::time::timeout(BODY_TIMEOUT, body).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return ("none", 413, text(413, "request body larger than 10 MiB"));
            }
            return ("none", 400, text(400, "could not read the request body"));
        }
        Err(_) => return ("none", 408, text(408, "request body not received in time")),
    };
    let executor = &service.executor;
    let network = &executor.network;
    if path == ONION_PATH {
        let origin = crate::onion::Origin {
            peer: caller.peer,
            previous: budget.node(),
        };
        let charge = |count: usize| budget.take(service, count);
        return match crate::onion::handle(
            executor,
            &service.observer,
            origin,
            &parts.headers,
            &body,
            &charge,
        )
        .await
        {
            Ok(sealed) => {
                let mut response = hyper::Response::new(Full::new(Bytes::from(sealed)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/octet-stream"),
                );
                ("onion", 200, response)
            }
            Err(e) => ("onion", e.status, text(e.status, e.message)),
        };
    }
    // The node-only endpoints: the signer must be the listed node the connection proved.
    let verify_node = || {
        verify_sender(
            network,
            caller.proven,
            &parts.headers,
            &path,
            &body,
            now_ms(),
        )
    };
    let outcome: (&'static str, Result<serde_json::Value, RpcError>) = match path.as_str() {
        STORAGE_RPC_PATH | FORWARD_PATH => {
            let forwarded_by = if path == FORWARD_PATH {
                let verified = verify_node();
                match verified {
                    Ok(sender) => Some(sender),
                    Err(e) => return ("forward", e.status, text(e.status, e.message)),
                }
            } else {
                None
            };
            match Request::from_json(&body) {
                Ok(parsed) if !budget.take(service, extra_cost(&parsed)) => {
                    return (parsed.method(), 429, budget.refusal());
                }
                Ok(parsed) => {
                    let method = parsed.method();
                    let result = match forwarded_by {
                        Some(sender) => executor.execute_forwarded(parsed, &sender).await,
                        None => executor.execute_from(parsed, budget.wait_source()).await,
                    };
                    (method, result)
                }
                Err(e) => ("invalid", Err(RpcError::bad_request(e.to_string()))),
            }
        }
        PULL_PATH | PUSH_PATH => {
            let verified = verify_node();
            let peer = match verified {
                Ok(peer) => peer,
                Err(e) => return ("sync", e.status, text(e.status, e.message)),
            };
            let (storage, network) = (executor.rpc.storage.clone(), network.clone());
            let pull = path == PULL_PATH;
            let result = service
                .db
                .run(move || {
                    if pull {
                        serve_pull(&storage, &network, &peer, &body)
                    } else {
                        serve_push(&storage, &network, &peer, &body)
                    }
                })
                .await
                .unwrap_or_else(Err);
            (if pull { "pull" } else { "push" }, result)
        }
        crate::blob_sync::BLOB_PULL_PATH => {
            let peer = match verify_node() {
                Ok(peer) => peer,
                Err(e) => return ("sync", e.status, text(e.status, e.message)),
            };
            let (storage, network) = (executor.rpc.storage.clone(), network.clone());
            let result = service
                .db
                .run(move || crate::blob_sync::serve_pull(&storage, &network, &peer, &body))
                .await
                .unwrap_or_else(Err);
            ("blob_pull", result)
        }
        NODE_LIST_PATH => (
            "node_list",
            network
                .signed()
                .and_then(|s| serde_json::to_value(s).ok())
                .ok_or_else(|| RpcError::not_found("this node holds no node list")),
        ),
        NODE_LIST_PUSH_PATH => {
            let result = serde_json::from_slice::<SignedNodeList>(&body)
                .map_err(|e| RpcError::bad_request(format!("invalid node list: {e}")))
                .and_then(|signed| {
                    network.accept(signed).map_err(|e| match e {
                        NodeListError::BadSignature => RpcError::unauthorized(e.to_string()),
                        NodeListError::Stale { .. } => RpcError::new(409, e.to_string()),
                        _ => RpcError::bad_request(e.to_string()),
                    })
                })
                .map(|version| serde_json::json!({"version": version}));
            ("node_list_push", result)
        }
        _ => ("json_rpc", json_rpc(network, &body)),
    };
    let (method, result) = outcome;
    match result {
        Ok(body) => (method, 200, json(&body)),
        Err(e) if e.status == 421 => {
            // The body of a 421 is the JSON of the right swarm.
            let mut response = text(421, e.message);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            (method, 421, response)
        }
        Err(e) => (method, e.status, text(e.status, e.message)),
    }
}

/// The oxend-style bootstrap call: `get_service_nodes` (alias `get_n_service_nodes`).
fn json_rpc(network: &Network, body: &[u8]) -> Result<serde_json::Value, RpcError> {
    let request: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| RpcError::bad_request(format!("invalid JSON: {e}")))?;
    match request.get("method").and_then(serde_json::Value::as_str) {
        Some("get_service_nodes" | "get_n_service_nodes") => Ok(serde_json::json!({
            "jsonrpc": "2.0",
            "id": request.get("id").cloned().unwrap_or(serde_json::Value::Null),
            "result": network.service_node_states(),
        })),
        Some(other) => Err(RpcError::bad_request(format!(
            "unknown JSON-RPC method {:?}",
            other.chars().take(64).collect::<String>()
        ))),
        None => Err(RpcError::bad_request("missing method")),
    }
}

/// Serves the operator's plain-HTTP endpoints until `shutdown` turns true: `GET /metrics`
/// (Prometheus text), `GET /healthz` (200 when ready, 503 and the reason when not) and
/// `GET /status` (the JSON of [`crate::admin::Status`]).
pub async fn serve_metrics(
    listener: TcpListener,
    service: Arc<Service>,
    admin: Arc<crate::admin::Admin>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let (service, admin) = (service.clone(), admin.clone());
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let (service, admin) = (service.clone(), admin.clone());
                async move {
                    let path = request.uri().path();
                    let response = match (request.method() == Method::GET, path) {
                        (true, "/metrics") => {
                            let mut body = service.metrics.render(&service.executor.rpc.storage);
                            body.push_str(&admin.render_metrics(&service));
                            let mut response = text(200, body);
                            response.headers_mut().insert(
                                header::CONTENT_TYPE,
                                header::HeaderValue::from_static("text/plain; version=0.0.4"),
                            );
                            response
                        }
                        (true, "/healthz") => match admin.not_ready(&service.executor.network) {
                            None => text(200, "ready\n"),
                            Some(why) => text(503, format!("not ready: {why}\n")),
                        },
                        (true, "/status") => match serde_json::to_value(admin.status(&service)) {
                            Ok(body) => json(&body),
                            Err(_) => text(500, "internal error"),
                        },
                        _ => text(404, "GET /metrics, /healthz or /status"),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), handler)
                .await;
        });
    }
}
