//! Where a node learns newer node lists. Today: seed nodes that serve the registry's signed list.
//! A staking-contract source would implement the same trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use session_net::NodeAddress;
use session_swarm::{NodeListError, SignedNodeList};
use tokio::sync::watch;

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

/// Asks every source for a newer list every `interval` (and at once on start).
pub async fn poll(
    sources: Vec<Box<dyn NodeListSource>>,
    network: Arc<Network>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = crate::periodic(interval);
    while crate::next_tick(&mut ticker, &mut shutdown).await {
        for source in &sources {
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
