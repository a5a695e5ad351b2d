//! The daemon's command line: parse flags and a config file, start the node, print its key and
//! address, run until SIGINT/SIGTERM. The `session-node` binary is this; test networks run the
//! same code in child processes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::ffi::OsString;

use crate::{NodeConfig, RunningNode};
use clap::Parser;

/// A session-rs service node: stores encrypted messages for accounts and serves the storage RPC
/// over HTTPS bound to its Ed25519 identity.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (flags below override it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (identity key, database, certificate).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTPS listen address, e.g. 127.0.0.1:22021.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Prometheus metrics listen address, e.g. 127.0.0.1:9101.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Storage cap in MiB.
    #[arg(long)]
    storage_cap_mb: Option<u64>,
    /// Requests per second allowed per client IP.
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Requests a client IP may send in a burst above that rate.
    #[arg(long)]
    rate_burst: Option<f64>,
    /// Most simultaneous client connections.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most simultaneous connections from one IP address that are not listed nodes.
    #[arg(long)]
    max_connections_per_ip: Option<usize>,
    /// Threads running database work.
    #[arg(long)]
    db_threads: Option<usize>,
    /// Commit durability: normal or full.
    #[arg(long)]
    durability: Option<String>,
    /// Log filter, e.g. info or session_node=debug.
    #[arg(long)]
    log: Option<String>,
}

/// Runs the daemon with these command-line arguments (the first is the program name).
pub fn main_from(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let config = match build_config(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("session-node: {message}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let node = match RunningNode::start(config).await {
            Ok(node) => node,
            Err(e) => {
                eprintln!("session-node: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "session-node {} listening on https://{}",
            node.public_key, node.https_addr
        );
        if let Some(metrics) = node.metrics_addr {
            println!("metrics on http://{metrics}/metrics");
        }
        wait_for_signal().await;
        node.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn build_config(args: Args) -> Result<NodeConfig, String> {
    let mut config = match (&args.config, &args.data_dir) {
        (Some(path), _) => NodeConfig::load(path).map_err(|e| e.to_string())?,
        (None, Some(dir)) => NodeConfig::with_data_dir(dir),
        (None, None) => return Err("give --config FILE or --data-dir DIR".into()),
    };
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if args.metrics_listen.is_some() {
        config.metrics_listen = args.metrics_listen;
    }
    if let Some(cap) = args.storage_cap_mb {
        config.storage_cap_mb = cap;
    }
    if let Some(rate) = args.rate_limit {
        config.rate_limit.requests_per_second = rate;
    }
    if let Some(burst) = args.rate_burst {
        config.rate_limit.burst = burst;
    }
    if let Some(max) = args.max_connections {
        config.max_connections = max;
    }
    if let Some(max) = args.max_connections_per_ip {
        config.max_connections_per_ip = max;
    }
    if let Some(threads) = args.db_threads {
        config.db_threads = threads;
    }
    if let Some(durability) = args.durability {
        config.durability = match durability.as_str() {
            "normal" => crate::storage::Durability::Normal,
            "full" => crate::storage::Durability::Full,
            other => return Err(format!("--durability {other:?}: give normal or full")),
        };
    }
    if let Some(log) = args.log {
        config.log = log;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
