//! What an operator asks a running node, on its metrics address: `/healthz` (ready or not),
//! `/status` (a small JSON summary for `session-node status`) and the gauges below `/metrics`
//! that need a look at the swarm: peers reachable and replication lag, measured by a probe.
//!
//! Nothing here names a client address or an Account ID: only this node's own keys and
//! addresses, counts, sizes and times.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;
use tokio::sync::watch;

use crate::metrics::write_gauge;
use crate::network::Network;
use crate::peer::Peers;
use crate::server::{now_ms, Service};
use crate::storage::Storage;
use crate::sync::PULL_PATH;

/// How often the probe asks each swarm peer whether this node is behind it.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(15);

/// The node's own facts and what the probe last saw.
pub struct Admin {
    /// This node's Ed25519 key (what the registry lists).
    pub ed25519: Ed25519PublicKey,
    /// This node's X25519 key (what clients encrypt onion layers to).
    pub x25519: String,
    /// The storage cap, bytes.
    pub cap_bytes: u64,
    /// Whether a registry is configured (a node without one is a network of one).
    pub has_registry: bool,
    started_ms: u64,
    /// When the node adopted its current list (0: it started with it or has none).
    list_adopted_ms: AtomicU64,
    peers: Mutex<HashMap<Ed25519PublicKey, PeerHealth>>,
    last_probe_ms: AtomicU64,
}

/// What the probe last learnt about one swarm peer.
#[derive(Clone, Copy)]
struct PeerHealth {
    reachable: bool,
    /// The oldest change this node has not pulled yet: its journal id and since when (its
    /// timestamp, or when the probe first saw it pending).
    pending: Option<(i64, u64)>,
}

/// The `/status` answer (and what `session-node status` prints).
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    /// The node's version.
    pub version: String,
    /// Its Ed25519 key, hex.
    pub pubkey_ed25519: String,
    /// Its X25519 key, hex.
    pub pubkey_x25519: String,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// Whether the node is ready to serve its swarm.
    pub ready: bool,
    /// Why not, when it is not.
    pub not_ready: Option<String>,
    /// Its swarm in the current list.
    pub swarm_id: Option<u64>,
    /// The current node list's version (0: none).
    pub list_version: u64,
    /// When the registry issued it, Unix ms.
    pub list_issued_ms: Option<u64>,
    /// When this node adopted it, Unix ms (none: it has held it since it started).
    pub list_adopted_ms: Option<u64>,
    /// Other members of its swarm.
    pub swarm_peers: usize,
    /// Of those, how many answered the last probe.
    pub peers_reachable: usize,
    /// When the last probe ran, Unix ms (none: not yet).
    pub last_probe_ms: Option<u64>,
    /// Age of the oldest change a peer holds that this node has not pulled, seconds.
    pub replication_lag_secs: u64,
    /// Messages held.
    pub stored_messages: u64,
    /// Message bytes held.
    pub stored_bytes: u64,
    /// The storage cap, bytes.
    pub storage_cap_bytes: u64,
    /// The client rate limit in force (requests per second, burst).
    pub rate_limit: (f64, f64),
    /// Waiting retrieves held now (`[waits]` caps them).
    pub waits_held: usize,
}

impl Admin {
    /// Facts about this node, before any probe.
    pub fn new(
        ed25519: Ed25519PublicKey,
        x25519: String,
        cap_bytes: u64,
        has_registry: bool,
    ) -> Self {
        Self {
            ed25519,
            x25519,
            cap_bytes,
            has_registry,
            started_ms: now_ms(),
            list_adopted_ms: AtomicU64::new(0),
            peers: Mutex::new(HashMap::new()),
            last_probe_ms: AtomicU64::new(0),
        }
    }

    /// Why the node cannot serve its swarm yet, if it cannot: with a registry configured it
    /// needs a node list naming it.
    pub fn not_ready(&self, network: &Network) -> Option<String> {
        if !self.has_registry {
            return None;
        }
        match network.list() {
            None => Some("waiting for a node list from the seed nodes".into()),
            Some(_) if network.swarm_id_of(&self.ed25519).is_none() => {
                Some("the current node list does not name this node".into())
            }
            Some(_) => None,
        }
    }

    /// The current summary.
    pub fn status(&self, service: &Service) -> Status {
        let network = &service.executor.network;
        let storage = &service.executor.rpc.storage;
        let list = network.list();
        let now = now_ms();
        let (swarm_peers, peers_reachable, lag) = self.peer_summary(network, now);
        let not_ready = self.not_ready(network);
        let rate = service.limiter.config();
        let adopted = self.list_adopted_ms.load(Ordering::Relaxed);
        let probed = self.last_probe_ms.load(Ordering::Relaxed);
        Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pubkey_ed25519: self.ed25519.to_string(),
            pubkey_x25519: self.x25519.clone(),
            uptime_secs: now.saturating_sub(self.started_ms) / 1000,
            ready: not_ready.is_none(),
            not_ready,
            swarm_id: network.swarm_id_of(&self.ed25519),
            list_version: list.as_ref().map_or(0, |l| l.version),
            list_issued_ms: list.as_ref().map(|l| l.issued_ms),
            list_adopted_ms: (adopted > 0).then_some(adopted),
            swarm_peers,
            peers_reachable,
            last_probe_ms: (probed > 0).then_some(probed),
            replication_lag_secs: lag,
            stored_messages: storage.message_count(),
            stored_bytes: storage.message_bytes(),
            storage_cap_bytes: self.cap_bytes,
            rate_limit: (rate.requests_per_second, rate.burst),
            waits_held: storage.waits().held(),
        }
    }

    /// (swarm peers, reachable at the last probe, replication lag in seconds), counting only
    /// the current swarm's peers.
    fn peer_summary(&self, network: &Network, now: u64) -> (usize, usize, u64) {
        let swarm = network.swarm_peers();
        let Ok(health) = self.peers.lock() else {
            return (swarm.len(), 0, 0);
        };
        let mut reachable = 0;
        let mut lag_ms = 0;
        for peer in &swarm {
            if let Some(h) = health.get(&peer.key) {
                reachable += usize::from(h.reachable);
                if let Some((_, since)) = h.pending {
                    lag_ms = lag_ms.max(now.saturating_sub(since));
                }
            }
        }
        (swarm.len(), reachable, lag_ms / 1000)
    }

    /// The gauges for `/metrics` that [`crate::metrics::Metrics`] does not keep.
    pub fn render_metrics(&self, service: &Service) -> String {
        let status = self.status(service);
        let mut out = String::new();
        let gauges: [(&str, &str, f64); 9] = [
            (
                "session_node_up_seconds",
                "Seconds since the node started.",
                status.uptime_secs as f64,
            ),
            (
                "session_node_ready",
                "1 when the node can serve its swarm (it holds a node list naming it).",
                f64::from(u8::from(status.ready)),
            ),
            (
                "session_node_storage_cap_bytes",
                "The configured storage cap.",
                status.storage_cap_bytes as f64,
            ),
            (
                "session_node_swarm_peers",
                "Other members of this node's swarm.",
                status.swarm_peers as f64,
            ),
            (
                "session_node_swarm_peers_unreachable",
                "Swarm peers that did not answer the last probe.",
                status.swarm_peers.saturating_sub(status.peers_reachable) as f64,
            ),
            (
                "session_node_replication_lag_seconds",
                "Age of the oldest change a swarm peer holds that this node has not pulled.",
                status.replication_lag_secs as f64,
            ),
            (
                "session_node_node_list_version",
                "Version of the node list in use (0: none).",
                status.list_version as f64,
            ),
            (
                "session_node_node_list_issued_timestamp_seconds",
                "When the registry issued the node list in use, Unix seconds (0: none).",
                status.list_issued_ms.unwrap_or(0) as f64 / 1000.0,
            ),
            (
                "session_node_waits_held",
                "Waiting retrieves held open now.",
                status.waits_held as f64,
            ),
        ];
        for (name, help, value) in gauges {
            write_gauge(&mut out, name, help, "", value);
        }
        write_gauge(
            &mut out,
            "session_node_build_info",
            "The node's version (the value is always 1).",
            &format!("{{version=\"{}\"}}", status.version),
            1,
        );
        out
    }

    /// Every [`PROBE_INTERVAL`], and at once when a new node list is adopted (whose time it
    /// notes), asks each swarm peer for the first change after this node's pull cursor (the
    /// pull endpoint, one change, nothing applied): an answer means reachable, an empty page
    /// means caught up.
    pub async fn probe(
        self: Arc<Self>,
        storage: Arc<Storage>,
        network: Arc<Network>,
        peers: Arc<Peers>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut changes = network.subscribe();
        let mut ticker = crate::periodic(PROBE_INTERVAL);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                changed = changes.changed() => {
                    if changed.is_err() { return; }
                    self.list_adopted_ms.store(now_ms(), Ordering::Relaxed);
                }
                _ = shutdown.changed() => return,
            }
            for peer in network.swarm_peers() {
                let health = self.probe_one(&storage, &network, &peers, peer).await;
                if let Ok(mut all) = self.peers.lock() {
                    all.insert(peer.key, health);
                }
            }
            self.last_probe_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    async fn probe_one(
        &self,
        storage: &Arc<Storage>,
        network: &Network,
        peers: &Peers,
        peer: NodeAddress,
    ) -> PeerHealth {
        let before = self
            .peers
            .lock()
            .ok()
            .and_then(|p| p.get(&peer.key).copied());
        let key = *peer.key.as_bytes();
        let storage = storage.clone();
        let cursor = match tokio::task::spawn_blocking(move || storage.cursor(&key)).await {
            Ok(Ok(cursor)) => cursor,
            _ => 0,
        };
        let version = network.list().map_or(0, |l| l.version);
        let body = json!({"after": cursor, "limit": 1, "version": version}).to_string();
        let unreachable = PeerHealth {
            reachable: false,
            pending: before.and_then(|b| b.pending),
        };
        let response = match peers.post(peer, PULL_PATH, body.into_bytes()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "probe: swarm peer unreachable");
                return unreachable;
            }
        };
        #[derive(Deserialize)]
        struct Page {
            changes: Vec<PageChange>,
            more: bool,
        }
        #[derive(Deserialize)]
        struct PageChange {
            id: i64,
            timestamp: Option<u64>,
        }
        let page = match serde_json::from_slice::<Page>(&response.body) {
            Ok(page) if response.status == 200 => page,
            // It answered (e.g. 409 while the two hold different lists): reachable, and
            // whatever was pending still is.
            _ => {
                return PeerHealth {
                    reachable: true,
                    ..unreachable
                }
            }
        };
        let now = now_ms();
        let pending = match page.changes.first() {
            Some(change) => {
                let seen = before
                    .and_then(|b| b.pending)
                    .filter(|(id, _)| *id == change.id)
                    .map_or(now, |(_, since)| since);
                Some((change.id, change.timestamp.map_or(seen, |t| t.min(seen))))
            }
            None if page.more => before.and_then(|b| b.pending).or(Some((cursor, now))),
            None => None,
        };
        PeerHealth {
            reachable: true,
            pending,
        }
    }
}
