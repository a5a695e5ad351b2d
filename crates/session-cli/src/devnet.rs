//! `session devnet`: a local network of service nodes in the foreground.

use std::path::Path;
use std::process::ExitCode;

use session_swarm::SwarmConfig;
use session_testnet::{Testnet, TestnetConfig};

use crate::commands::Result;

/// Starts the network (swarms sized by `swarm` when it is new), writes `dir/network.json`, and
/// runs until Ctrl-C.
pub async fn run(nodes: usize, swarm: SwarmConfig, dir: &Path) -> Result<ExitCode> {
    if nodes < 4 {
        return Err("a network needs at least 4 nodes (3 relays and a destination)".into());
    }
    let config = TestnetConfig {
        nodes,
        swarm,
        base_dir: Some(dir.to_path_buf()),
        ..TestnetConfig::default()
    };
    let resumed = dir.join(session_testnet::STATE_FILE).exists();
    let net = Testnet::start_or_resume(config).await?;
    if resumed {
        println!(
            "Restarted the network saved in {} (same keys, ports and messages).",
            dir.display()
        );
        if net.addresses().len() != nodes {
            println!(
                "(it has {} nodes; --nodes applies to a new network only)",
                net.addresses().len()
            );
        }
    }
    let file = session_client::onboarding::publish_network(dir, &net.network_file())?;
    println!(
        "{} nodes in {} swarms are running; clients join with --network {}",
        net.addresses().len(),
        net.assignment().len(),
        file.display()
    );
    for (i, address) in net.addresses().iter().enumerate() {
        println!("  node {i:2}: https://{} {}", address.addr, address.key);
    }
    println!("Press Ctrl-C to stop.");
    std::io::Write::flush(&mut std::io::stdout())?;
    stop_signal().await;
    net.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (`kill`, `kill %1` in a shell), so that either stops
/// the nodes cleanly.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
