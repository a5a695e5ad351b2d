//! Helpers shared by the node's integration tests: a node on a loopback port with a temporary
//! data directory, a verifying HTTPS client, and accounts that sign their requests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use session_crypto::{Ed25519Seed, IdentityKeyPair};
use session_net::{Connection, NodeAddress};
use session_node::{NodeConfig, RunningNode};
use session_wire::rpc::{RetrieveParams, StoreParams};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A test configuration: loopback, free ports, a generous rate limit.
pub fn test_config(dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    config.rate_limit.requests_per_second = 100_000.0;
    config.rate_limit.burst = 100_000.0;
    config.sweep_interval_secs = 1;
    config
}

pub struct TestNode {
    pub node: RunningNode,
    pub dir: tempfile::TempDir,
}

impl TestNode {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut NodeConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let node = RunningNode::start(config).await.unwrap();
        Self { node, dir }
    }

    pub fn address(&self) -> NodeAddress {
        NodeAddress {
            addr: self.node.https_addr,
            key: self.node.public_key,
        }
    }

    pub async fn client(&self) -> Client {
        Client(Connection::open(self.address(), TIMEOUT).await.unwrap())
    }
}

pub struct Client(pub Connection);

impl Client {
    /// Posts a raw body; returns status and body text.
    pub async fn raw(&mut self, body: impl Into<Vec<u8>>) -> (u16, String) {
        let response = self
            .0
            .post("/storage_rpc/v1", body.into(), TIMEOUT)
            .await
            .unwrap();
        (
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    }

    /// Posts `{"method", "params"}`; returns status and JSON (or the error text as a string).
    pub async fn call(&mut self, method: &str, params: Value) -> (u16, Value) {
        let body = serde_json::to_vec(&json!({"method": method, "params": params})).unwrap();
        let (status, text) = self.raw(body).await;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Calls and insists on 200.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params).await;
        assert_eq!(status, 200, "{method} failed: {body}");
        body
    }
}

/// A Session account that signs its requests.
pub struct Account {
    pub keys: IdentityKeyPair,
}

impl Account {
    pub fn new(seed: u8) -> Self {
        Self {
            keys: Ed25519Seed::from_bytes([seed; 32]).key_pair(),
        }
    }

    pub fn id(&self) -> String {
        self.keys.account_id().to_string()
    }

    pub fn sign(&self, text: &[u8]) -> String {
        STANDARD.encode(self.keys.sign(text))
    }

    /// Adds `signature` over `signed` and `pubkey_ed25519` to params.
    pub fn signed(&self, mut params: Value, signed: &str) -> Value {
        let object = params.as_object_mut().unwrap();
        object.insert("pubkey".into(), self.id().into());
        object.insert(
            "pubkey_ed25519".into(),
            self.keys.ed25519_public().to_string().into(),
        );
        object.insert("signature".into(), self.sign(signed.as_bytes()).into());
        params
    }

    pub fn store_params(&self, namespace: i16, data: &[u8], ttl: u64) -> Value {
        let params = StoreParams::deposit(&self.keys.account_id(), namespace, data, now_ms(), ttl);
        let params = if namespace % 10 != 0 {
            params.signed_by(&self.keys)
        } else {
            params
        };
        serde_json::to_value(params).unwrap()
    }

    pub fn retrieve_params(&self, namespace: i16, last_hash: Option<&str>) -> Value {
        let params = RetrieveParams::signed(
            &self.keys,
            namespace,
            now_ms(),
            last_hash.map(str::to_owned),
        );
        serde_json::to_value(params).unwrap()
    }
}

/// The hashes of a retrieve response, in order.
pub fn hashes(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hash"].as_str().unwrap().to_owned())
        .collect()
}

/// The single swarm member's result of a replicated-write response.
pub fn member(body: &Value) -> &Value {
    body["swarm"].as_object().unwrap().values().next().unwrap()
}
