//! A small HTTPS client for talking to nodes whose Ed25519 keys are known.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use session_crypto::Ed25519PublicKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::tls::{client_config_as, NodeIdentity, TLS_SERVER_NAME};
use crate::NetError;

/// Largest response body accepted (a full `retrieve` is 7.8 MB plus JSON and base64 overhead).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A node to talk to: where it listens and the identity it must prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeAddress {
    /// HTTPS address.
    pub addr: SocketAddr,
    /// The node's Ed25519 identity key.
    pub key: Ed25519PublicKey,
}

/// An HTTP status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: Bytes,
}

/// An open HTTPS connection to one verified node, reusable for many requests.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    node: NodeAddress,
}

impl Connection {
    /// Connects to `node`, refusing it unless it proves its Ed25519 key, within `timeout`.
    pub async fn open(node: NodeAddress, timeout: Duration) -> Result<Self, NetError> {
        tokio::time::timeout(timeout, Self::open_inner_from(node, None, None))
            .await
            .map_err(|_| NetError::Timeout)?
    }

    /// As [`Connection::open`], proving `identity` to the node with a client certificate (a
    /// node connecting to another node), from `local` when given.
    pub async fn open_as(
        node: NodeAddress,
        identity: &NodeIdentity,
        local: Option<std::net::IpAddr>,
        timeout: Duration,
    ) -> Result<Self, NetError> {
        tokio::time::timeout(timeout, Self::open_inner_from(node, local, Some(identity)))
            .await
            .map_err(|_| NetError::Timeout)?
    }

    /// As [`Connection::open`], from a given local address (a client on its own loopback
    /// address in tests, or a chosen interface).
    pub async fn open_from(
        node: NodeAddress,
        local: std::net::IpAddr,
        timeout: Duration,
    ) -> Result<Self, NetError> {
        tokio::time::timeout(timeout, Self::open_inner_from(node, Some(local), None))
            .await
            .map_err(|_| NetError::Timeout)?
    }

    async fn open_inner_from(
        node: NodeAddress,
        local: Option<std::net::IpAddr>,
        identity: Option<&NodeIdentity>,
    ) -> Result<Self, NetError> {
        let connect_error = |e: std::io::Error| NetError::Connect(e.to_string());
        let tcp = match local {
            None => TcpStream::connect(node.addr).await.map_err(connect_error)?,
            Some(ip) => {
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(connect_error)?;
                socket
                    .bind(std::net::SocketAddr::new(ip, 0))
                    .map_err(connect_error)?;
                socket.connect(node.addr).await.map_err(connect_error)?
            }
        };
        let _ = tcp.set_nodelay(true);
        let connector = TlsConnector::from(client_config_as(node.key, identity)?);
        let name = ServerName::try_from(TLS_SERVER_NAME)
            .map_err(|e| NetError::Certificate(e.to_string()))?;
        let tls = connector.connect(name, tcp).await.map_err(|e| {
            if e.to_string().contains("certificate") || e.to_string().contains("signature") {
                NetError::WrongIdentity {
                    expected: node.key,
                    detail: e.to_string(),
                }
            } else {
                NetError::Tls(e.to_string())
            }
        })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| NetError::Http(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "peer connection closed");
            }
        });
        Ok(Self { sender, node })
    }

    /// The node this connection is verified for.
    pub fn node(&self) -> NodeAddress {
        self.node
    }

    /// Sends `POST path` with `body` and reads the whole response, within `timeout`.
    pub async fn post(
        &mut self,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, NetError> {
        self.post_with_headers(path, &[], body, timeout).await
    }

    /// As [`Connection::post`], with extra request headers.
    pub async fn post_with_headers(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, NetError> {
        tokio::time::timeout(timeout, self.post_inner(path, headers, body))
            .await
            .map_err(|_| NetError::Timeout)?
    }

    async fn post_inner(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, NetError> {
        self.sender
            .ready()
            .await
            .map_err(|e| NetError::Http(e.to_string()))?;
        let mut request = http::Request::post(path)
            .header(http::header::HOST, TLS_SERVER_NAME)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| NetError::Http(e.to_string()))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| NetError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| NetError::Http(e.to_string()))?
            .to_bytes();
        Ok(Response { status, body })
    }
}

/// Opens a connection, sends one `POST`, and closes it.
pub async fn post_once(
    node: NodeAddress,
    path: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, NetError> {
    let mut connection = Connection::open(node, timeout).await?;
    connection.post(path, body, timeout).await
}

/// Open connections to nodes, reused across requests (one request at a time per connection).
#[derive(Default)]
pub struct ConnectionPool {
    idle: std::sync::Mutex<std::collections::HashMap<NodeAddress, Vec<Connection>>>,
    /// The local address new connections leave from (none: the system's choice).
    local: Option<std::net::IpAddr>,
    /// The node identity new connections prove (none: connect as a client).
    identity: Option<NodeIdentity>,
}

/// Idle connections kept per node.
/// Enough for the concurrency a relay sees towards one next hop, so that busy relays reuse
/// connections instead of paying a TLS handshake per request.
const MAX_IDLE_PER_NODE: usize = 32;

impl ConnectionPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pool whose connections leave from `local` (a chosen interface or, in tests, a
    /// loopback address of a client's own).
    pub fn from_local(local: Option<std::net::IpAddr>) -> Self {
        Self {
            local,
            ..Self::default()
        }
    }

    /// An empty pool whose connections prove `identity` with a client certificate (the pool of
    /// a node, so that other nodes tell its traffic from clients').
    pub fn as_node(identity: NodeIdentity) -> Self {
        Self {
            identity: Some(identity),
            ..Self::default()
        }
    }

    /// Sends `POST path` to `node` on a pooled connection (or a new one), within `timeout`.
    pub async fn post(
        &self,
        node: NodeAddress,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, NetError> {
        if let Some(mut connection) = self.take(node) {
            // A pooled connection may have been closed by the peer; then retry on a fresh one
            // (but not after a timeout: the node is slow, and a second wait would only double it).
            match connection
                .post_with_headers(path, headers, body.clone(), timeout)
                .await
            {
                Ok(response) => {
                    self.put(connection);
                    return Ok(response);
                }
                Err(NetError::Timeout) => return Err(NetError::Timeout),
                Err(_) => {}
            }
        }
        let mut connection = match (&self.identity, self.local) {
            (Some(identity), local) => Connection::open_as(node, identity, local, timeout).await?,
            (None, Some(ip)) => Connection::open_from(node, ip, timeout).await?,
            (None, None) => Connection::open(node, timeout).await?,
        };
        let response = connection
            .post_with_headers(path, headers, body, timeout)
            .await?;
        self.put(connection);
        Ok(response)
    }

    /// Forgets every idle connection to `node` (for example after it left the network).
    pub fn forget(&self, node: NodeAddress) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.remove(&node);
        }
    }

    fn take(&self, node: NodeAddress) -> Option<Connection> {
        self.idle.lock().ok()?.get_mut(&node)?.pop()
    }

    fn put(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(connection.node()).or_default();
            if list.len() < MAX_IDLE_PER_NODE {
                list.push(connection);
            }
        }
    }
}
