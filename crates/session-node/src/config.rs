//! Node configuration: a TOML file, overridden by command-line flags, validated at start-up.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use session_crypto::Ed25519PublicKey;

use crate::error::NodeError;
use crate::storage::{AccountQuota, Durability};

/// Everything a node needs to start. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory for the identity key, the database and the TLS certificate.
    pub data_dir: PathBuf,
    /// HTTPS listen address (port 0 picks a free port).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The address advertised to clients; defaults to the listen IP.
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// Prometheus metrics listen address (plain HTTP); none disables metrics.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Largest database size, in MiB; stores beyond it get HTTP 507.
    #[serde(default = "default_storage_cap_mb")]
    pub storage_cap_mb: u64,
    /// Largest total of blob (attachment chunk) bytes, in MiB; blob stores beyond it get 507.
    #[serde(default = "default_blob_cap_mb")]
    pub blob_cap_mb: u64,
    /// Commit durability: `normal` (survives a process crash) or `full` (also power loss).
    #[serde(default)]
    pub durability: Durability,
    /// Seconds between sweeps of expired messages.
    #[serde(default = "default_sweep_interval")]
    pub sweep_interval_secs: u64,
    /// Per-client-IP request rate limit.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Most simultaneous client connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// What others may deposit into one account's inboxes, and how fast.
    #[serde(default)]
    pub account_quota: AccountQuota,
    /// Most simultaneous connections from one IP address that have not proved a listed node
    /// key (clients, and connections still in their TLS handshake).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Connection slots kept for listed nodes (on top of `max_connections`), so that a flood
    /// of client connections cannot stop replication or onion relaying.
    #[serde(default = "default_node_connections")]
    pub node_connections: usize,
    /// Milliseconds a new connection has to finish its TLS handshake.
    #[serde(default = "default_tls_handshake_timeout")]
    pub tls_handshake_timeout_ms: u64,
    /// Request rate per previous hop for onion requests relayed by a listed node.
    #[serde(default = "default_node_rate_limit")]
    pub relay_rate_limit: RateLimitConfig,
    /// Request rate per listed node for replication (forward, pull, push) and its other calls.
    #[serde(default = "default_node_rate_limit")]
    pub sync_rate_limit: RateLimitConfig,
    /// Threads that run database work (requests, replication); more waiting work than
    /// `db_queue` gets HTTP 503 at once.
    #[serde(default = "default_db_threads")]
    pub db_threads: usize,
    /// Database jobs allowed to wait for a thread.
    #[serde(default = "default_db_queue")]
    pub db_queue: usize,
    /// Log filter (`tracing` syntax), e.g. `info` or `session_node=debug`.
    #[serde(default = "default_log")]
    pub log: String,
    /// Hex Ed25519 key of the registry that signs node lists; without it the node is a network
    /// of one.
    #[serde(default)]
    pub registry_key: Option<String>,
    /// Nodes to fetch the signed node list from.
    #[serde(default)]
    pub seed_nodes: Vec<SeedNode>,
    /// Seconds between polls of the seed nodes for a newer list.
    #[serde(default = "default_list_poll")]
    pub list_poll_secs: u64,
    /// Milliseconds between pulls of each swarm peer's changes.
    #[serde(default = "default_sync_interval")]
    pub sync_interval_ms: u64,
    /// Record what this node sees of each onion request (peer address, next hop, whether it saw
    /// the request), for privacy tests. Off by default; never enable it on a real node.
    #[serde(default)]
    pub observe_privacy: bool,
    /// Caps of waiting retrieves (`[waits]`: `max_wait_ms`, `max_total`, `max_per_source`).
    #[serde(default)]
    pub waits: crate::waits::WaitLimits,
    /// Log line format on stderr: `text` (for people) or `json` (one object a line).
    #[serde(default)]
    pub log_format: LogFormat,
}

/// A node that serves the signed node list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedNode {
    /// Its HTTPS address.
    pub https: SocketAddr,
    /// Its Ed25519 identity key, hex (the TLS connection must prove it).
    pub pubkey_ed25519: String,
}

/// Token-bucket rate limit per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second (the reference allows 300).
    pub requests_per_second: f64,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 300.0,
            burst: 600.0,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 22021))
}
fn default_storage_cap_mb() -> u64 {
    2048
}
fn default_blob_cap_mb() -> u64 {
    crate::blobs::DEFAULT_BLOB_CAP_MB
}
fn default_sweep_interval() -> u64 {
    10
}
fn default_max_connections() -> usize {
    4096
}
fn default_max_connections_per_ip() -> usize {
    128
}
fn default_node_connections() -> usize {
    1024
}
fn default_tls_handshake_timeout() -> u64 {
    3000
}
fn default_node_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        requests_per_second: 2000.0,
        burst: 4000.0,
    }
}
fn default_db_threads() -> usize {
    16
}
fn default_db_queue() -> usize {
    1024
}
fn default_log() -> String {
    "info".to_owned()
}
fn default_list_poll() -> u64 {
    30
}
fn default_sync_interval() -> u64 {
    5000
}

impl NodeConfig {
    /// A configuration with defaults and the given data directory.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: default_listen(),
            public_ip: None,
            metrics_listen: None,
            storage_cap_mb: default_storage_cap_mb(),
            blob_cap_mb: default_blob_cap_mb(),
            durability: Durability::default(),
            sweep_interval_secs: default_sweep_interval(),
            rate_limit: RateLimitConfig::default(),
            max_connections: default_max_connections(),
            account_quota: AccountQuota::default(),
            max_connections_per_ip: default_max_connections_per_ip(),
            node_connections: default_node_connections(),
            tls_handshake_timeout_ms: default_tls_handshake_timeout(),
            relay_rate_limit: default_node_rate_limit(),
            sync_rate_limit: default_node_rate_limit(),
            db_threads: default_db_threads(),
            db_queue: default_db_queue(),
            log: default_log(),
            registry_key: None,
            seed_nodes: Vec::new(),
            list_poll_secs: default_list_poll(),
            sync_interval_ms: default_sync_interval(),
            observe_privacy: false,
            waits: crate::waits::WaitLimits::default(),
            log_format: LogFormat::default(),
        }
    }

    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::io(format!("reading {}", path.display()), e))?;
        Self::parse(&text)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, NodeError> {
        let config: Self = toml::from_str(text).map_err(|e| NodeError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), NodeError> {
        let bad = |field: &str, why: &str| Err(NodeError::Config(format!("{field}: {why}")));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir", "must not be empty");
        }
        if self.storage_cap_mb == 0 {
            return bad("storage_cap_mb", "must be at least 1");
        }
        if self.sweep_interval_secs == 0 || self.sweep_interval_secs > 3600 {
            return bad("sweep_interval_secs", "must be 1 to 3600");
        }
        for (name, rate) in [
            ("rate_limit", self.rate_limit),
            ("relay_rate_limit", self.relay_rate_limit),
            ("sync_rate_limit", self.sync_rate_limit),
        ] {
            if !(rate.requests_per_second.is_finite() && rate.requests_per_second > 0.0) {
                return bad(
                    &format!("{name}.requests_per_second"),
                    "must be a positive number",
                );
            }
            if !(rate.burst.is_finite() && rate.burst >= 1.0) {
                return bad(&format!("{name}.burst"), "must be at least 1");
            }
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        let quota = &self.account_quota;
        if quota.max_messages == 0 || quota.max_bytes == 0 {
            return bad("account_quota.max_messages/max_bytes", "must be at least 1");
        }
        if !(quota.deposits_per_second.is_finite() && quota.deposits_per_second > 0.0) {
            return bad(
                "account_quota.deposits_per_second",
                "must be a positive number",
            );
        }
        if !(quota.deposit_burst.is_finite() && quota.deposit_burst >= 1.0) {
            return bad("account_quota.deposit_burst", "must be at least 1");
        }
        if self.max_connections_per_ip == 0 {
            return bad("max_connections_per_ip", "must be at least 1");
        }
        if self.node_connections == 0 {
            return bad("node_connections", "must be at least 1");
        }
        if !(100..=60_000).contains(&self.tls_handshake_timeout_ms) {
            return bad("tls_handshake_timeout_ms", "must be 100 to 60000");
        }
        if !(1..=1024).contains(&self.db_threads) {
            return bad("db_threads", "must be 1 to 1024");
        }
        if self
            .metrics_listen
            .is_some_and(|m| m == self.listen && m.port() != 0)
        {
            return bad("metrics_listen", "must differ from listen");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return bad("log", "is not a valid log filter");
        }
        if self.registry().is_err() {
            return bad("registry_key", "must be 64 hex characters (an Ed25519 key)");
        }
        for (i, seed) in self.seed_nodes.iter().enumerate() {
            if Ed25519PublicKey::from_hex(&seed.pubkey_ed25519).is_err() {
                return bad(
                    &format!("seed_nodes[{i}].pubkey_ed25519"),
                    "must be 64 hex characters",
                );
            }
        }
        if !self.seed_nodes.is_empty() && self.registry_key.is_none() {
            return bad(
                "seed_nodes",
                "need registry_key to verify the lists they serve",
            );
        }
        if !(1..=3600).contains(&self.list_poll_secs) {
            return bad("list_poll_secs", "must be 1 to 3600");
        }
        if !(50..=600_000).contains(&self.sync_interval_ms) {
            return bad("sync_interval_ms", "must be 50 to 600000");
        }
        if self.waits.max_wait_ms > session_wire::rpc::MAX_WAIT_MS {
            return bad(
                "waits.max_wait_ms",
                "must be at most 25000 (relays hold a request only that long)",
            );
        }
        if self.waits.max_total > self.node_connections {
            return bad(
                "waits.max_total",
                "must not exceed node_connections (a relayed wait holds a node connection)",
            );
        }
        Ok(())
    }

    /// The registry key, if configured.
    pub fn registry(&self) -> Result<Option<Ed25519PublicKey>, NodeError> {
        self.registry_key
            .as_deref()
            .map(Ed25519PublicKey::from_hex)
            .transpose()
            .map_err(|e| NodeError::Config(format!("registry_key: {e}")))
    }

    /// The storage cap in bytes.
    pub fn storage_cap_bytes(&self) -> u64 {
        self.storage_cap_mb.saturating_mul(1024 * 1024)
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line (tracing-subscriber's JSON formatter), for log collectors.
    Json,
}
