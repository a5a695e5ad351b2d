//! `--devnet`: a local network to try the app with no setup. Joins the one running in the
//! folder (started by another window or by `session devnet`), else starts it (or restarts the
//! one saved there) with its nodes as child processes of this program, for as long as the
//! window is open.

use std::path::Path;
use std::time::Duration;

use session_client::onboarding::publish_network;
use session_client::{NetworkFile, OnionClient};
use session_testnet::{Testnet, TestnetConfig};

/// How long a running network has to answer before this window starts its own.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The network in `dir`, and the nodes this window runs (none when it joined).
pub async fn start_or_join(dir: &Path) -> Result<(NetworkFile, Option<Testnet>), String> {
    let file = dir.join("network.json");
    if file.exists() {
        if let Ok(network) = NetworkFile::read(&file) {
            if answers(&network).await {
                tracing::info!("joined the local network running in {}", dir.display());
                return Ok((network, None));
            }
        }
    }
    let config = TestnetConfig {
        base_dir: Some(dir.to_path_buf()),
        runner: session_testnet::program::self_runner()
            .map_err(|e| format!("cannot find this program to run nodes: {e}"))?,
        ..TestnetConfig::default()
    };
    let net = Testnet::start_or_resume(config)
        .await
        .map_err(|e| format!("cannot start the local network in {}: {e}", dir.display()))?;
    let network = net.network_file();
    publish_network(dir, &network)?;
    tracing::info!("started the local network in {}", dir.display());
    Ok((network, Some(net)))
}

/// Whether a node of `network` serves its list.
async fn answers(network: &NetworkFile) -> bool {
    let Ok(mut config) = network.client_config() else {
        return false;
    };
    config.timeout = JOIN_TIMEOUT;
    tokio::time::timeout(JOIN_TIMEOUT, OnionClient::connect(config))
        .await
        .is_ok_and(|connected| connected.is_ok())
}
