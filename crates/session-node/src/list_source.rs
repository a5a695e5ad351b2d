//! Where a node learns newer node lists. Today: seed nodes that serve the registry's signed list.
//! A staking-contract source would implement the same trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;
use session_swarm::{NodeListError, SignedNodeList};
use tokio::sync::watch;

use crate::config::SeedNode;
use crate::network::Network;
use crate::peer::Peers;
use crate::server::NODE_LIST_PATH;

/// A source of signed node lists. What it returns is verified by the caller.
pub trait NodeListSource: Send + Sync {
    /// Fetches the newest list the source has.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<SignedNodeList, String>> + Send + '_>>;
}

/// A seed node: any node that holds the list serves it at [`NODE_LIST_PATH`].
pub struct SeedNodeSource {
    seed: NodeAddress,
    peers: Arc<Peers>,
}

impl SeedNodeSource {
    /// Fetches from `seed` (whose TLS identity is checked) through `peers`.
    pub fn new(seed: NodeAddress, peers: Arc<Peers>) -> Self {
        Self { seed, peers }
    }
}

impl NodeListSource for SeedNodeSource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<SignedNodeList, String>> + Send + '_>> {
        Box::pin(async move {
            let response = self
                .peers
                .post(self.seed, NODE_LIST_PATH, b"{}".to_vec())
                .await
                .map_err(|e| e.to_string())?;
            if response.status != 200 {
                return Err(format!("seed answered HTTP {}", response.status));
            }
            serde_json::from_slice(&response.body).map_err(|e| e.to_string())
        })
    }
}

/// The sources a node polls; a reload replaces them.
pub type Sources = Arc<RwLock<Vec<Arc<dyn NodeListSource>>>>;

/// A source for each configured seed node other than `me` (whose keys `validate` checked).
pub fn seed_sources(
    seeds: &[SeedNode],
    me: Ed25519PublicKey,
    peers: &Arc<Peers>,
) -> Vec<Arc<dyn NodeListSource>> {
    seeds
        .iter()
        .filter_map(|seed| {
            let key = Ed25519PublicKey::from_hex(&seed.pubkey_ed25519).ok()?;
            (key != me).then(|| {
                Arc::new(SeedNodeSource::new(
                    NodeAddress {
                        addr: seed.https,
                        key,
                    },
                    peers.clone(),
                )) as Arc<dyn NodeListSource>
            })
        })
        .collect()
}

/// Asks every source for a newer list every `interval` (and at once on start).
pub async fn poll(
    sources: Sources,
    network: Arc<Network>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = crate::periodic(interval);
    while crate::next_tick(&mut ticker, &mut shutdown).await {
        let round: Vec<Arc<dyn NodeListSource>> =
            sources.read().map(|s| s.clone()).unwrap_or_default();
        for source in &round {
            match source.fetch().await {
                Ok(signed) => match network.accept(signed) {
                    Ok(_) | Err(NodeListError::Stale { .. }) => {}
                    Err(e) => tracing::warn!(error = %e, "refused a node list from a seed"),
                },
                Err(e) => tracing::debug!(error = %e, "seed node unavailable"),
            }
        }
    }
}
