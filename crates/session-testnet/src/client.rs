//! Plain storage-RPC calls for tests and benches: a signed account and one-shot requests.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use session_crypto::{Ed25519Seed, IdentityKeyPair};
use session_net::{ConnectionPool, NetError, NodeAddress};
use session_wire::rpc::{Request, RetrieveParams, StoreParams};

use crate::now_ms;

/// Requests time out after this long.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// An account that signs its requests.
pub struct TestAccount {
    /// Its keys.
    pub keys: IdentityKeyPair,
}

impl TestAccount {
    /// An account from a fixed seed byte (tests want the same accounts every run).
    pub fn from_byte(byte: u8) -> Self {
        Self {
            keys: Ed25519Seed::from_bytes([byte; 32]).key_pair(),
        }
    }

    /// An account from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            keys: Ed25519Seed::from_bytes(seed).key_pair(),
        }
    }

    /// The 32-byte key that places the account in a swarm.
    pub fn swarm_key(&self) -> [u8; 32] {
        self.keys.x25519_public().0
    }

    /// A store of `data` in the account's inbox (namespace 0).
    pub fn store(&self, data: &[u8]) -> Request {
        Request::Store(StoreParams::deposit(
            &self.keys.account_id(),
            0,
            data,
            now_ms(),
            3_600_000,
        ))
    }

    /// A signed retrieve of the inbox after `last_hash`.
    pub fn retrieve(&self, last_hash: Option<String>) -> Request {
        let mut params = RetrieveParams::signed(&self.keys, 0, now_ms(), last_hash);
        params.max_count = Some(100_000);
        params.max_size = Some(i64::MAX);
        Request::Retrieve(params)
    }
}

/// Sends a request to a node over the pool; returns the status and the JSON body (or the error
/// text as a JSON string).
pub async fn call(
    pool: &ConnectionPool,
    node: NodeAddress,
    request: &Request,
) -> Result<(u16, Value), NetError> {
    let response = pool
        .post(node, "/storage_rpc/v1", &[], request.to_json(), TIMEOUT)
        .await?;
    let body = serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&response.body).into_owned()));
    Ok((response.status, body))
}

/// The hashes a retrieve returned, in order.
pub fn hashes(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["hash"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The data of each message a retrieve returned.
pub fn data(body: &Value) -> Vec<Vec<u8>> {
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| STANDARD.decode(m["data"].as_str()?).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A new account in its own profile at `dir`, online on `net` as a [`Messenger`]: no passphrase
/// (so no key derivation runs), paths of any distinct nodes (every node shares 127.0.0.1);
/// `tune` adjusts the client's configuration (timeout, clock) before it connects.
pub async fn new_messenger(
    net: &crate::Testnet,
    dir: &std::path::Path,
    tune: impl FnOnce(&mut session_client::ClientConfig),
) -> Result<session_client::Messenger, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let profile = session_client::Profile::open(dir).map_err(|e| text(&e))?;
    let seed = Ed25519Seed::generate(&mut session_crypto::OsRng);
    profile
        .account()
        .create(&seed, None, session_client::KdfParams::DEFAULT)
        .map_err(|e| text(&e))?;
    let mut config = profile
        .client_config(&net.network_file())
        .map_err(|e| text(&e))?;
    config.path_policy = session_client::PathPolicy::DistinctNodes;
    tune(&mut config);
    let client = session_client::OnionClient::connect(config)
        .await
        .map_err(|e| text(&e))?;
    let store = profile.message_store().map_err(|e| text(&e))?;
    Ok(session_client::Messenger::new(
        seed.key_pair(),
        store,
        client,
    ))
}

/// Waits until `check` holds, checking every 250 ms, at most `limit`; whether it held.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    false
}
