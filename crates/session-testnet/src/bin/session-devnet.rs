//! `session-devnet`: a local network of service nodes in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use session_testnet::{Testnet, TestnetConfig};

/// Starts a local session-rs network on loopback and writes the file clients join it with.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Number of service nodes.
    #[arg(long, default_value_t = 12)]
    nodes: usize,
    /// Directory for the nodes' data and the network file.
    #[arg(long, default_value = "devnet")]
    dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = TestnetConfig {
        nodes: args.nodes,
        base_dir: Some(args.dir.clone()),
        ..TestnetConfig::default()
    };
    let net = match Testnet::start(config).await {
        Ok(net) => net,
        Err(e) => {
            eprintln!("session-devnet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let file = args.dir.join("network.json");
    let written = serde_json::to_vec_pretty(&net.network_file())
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&file, bytes));
    if let Err(e) = written {
        eprintln!("session-devnet: writing {}: {e}", file.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{} nodes in {} swarms are running; clients join with {}",
        args.nodes,
        net.assignment().len(),
        file.display()
    );
    for (i, address) in net.addresses().iter().enumerate() {
        println!("  node {i:2}: https://{} {}", address.addr, address.key);
    }
    println!("Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    net.shutdown().await;
    ExitCode::SUCCESS
}
