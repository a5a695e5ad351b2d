//! The daemon's command line: parse flags and a config file, start the node, print its key and
//! address, reload on SIGHUP, run until SIGINT/SIGTERM; and the operator's other commands
//! (`keys`, `check-config`, `status`, in [`crate::commands`]). The `session-node` binary is
//! this; test networks run the same code in child processes.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Layer as _, Registry};

use crate::commands::{KeysArgs, StatusArgs};
use crate::config::LogFormat;
use crate::{NodeConfig, RunningNode};

/// A session-rs service node: stores encrypted messages for accounts and serves the storage RPC
/// over HTTPS bound to its Ed25519 identity. Without a command it runs the node.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the node (the same as no command). SIGHUP reloads the configuration file; SIGTERM
    /// stops accepting, lets requests finish (up to 10 s) and exits.
    Run(Args),
    /// Shows the public keys to register; exports or imports the identity to move a node.
    Keys(KeysArgs),
    /// Validates a configuration file and explains what it sets.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Asks a running node (over its metrics address) for its version, swarm, peers, storage
    /// and node list.
    Status(StatusArgs),
}

/// The flags of `run`.
#[derive(clap::Args, Debug, Clone)]
struct Args {
    /// TOML configuration file (flags below override it; SIGHUP re-reads it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (identity key, database, certificate).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTPS listen address, e.g. 127.0.0.1:22021.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Metrics, /healthz and /status listen address (plain HTTP), e.g. 127.0.0.1:9101.
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
    /// Log filter, e.g. info or session_node=debug (RUST_LOG, when set, wins).
    #[arg(long)]
    log: Option<String>,
    /// Log line format on stderr.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

/// Runs the binary with these command-line arguments (the first is the program name).
pub fn main_from(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Keys(args)) => crate::commands::keys(args),
        Some(Command::CheckConfig { file }) => crate::commands::check_config(&file),
        Some(Command::Status(args)) => crate::commands::status(args),
    }
}

/// The log filter's handle, for reloads; none when RUST_LOG decides the filter.
type FilterHandle = Option<reload::Handle<EnvFilter, Registry>>;

/// Sets up logging on stderr in the configured format.
fn init_logging(config: &NodeConfig) -> FilterHandle {
    let (filter, handle) = match EnvFilter::try_from_default_env() {
        Ok(from_env) => (from_env, None),
        Err(_) => (EnvFilter::new(&config.log), Some(())),
    };
    let (filter, reload_handle) = reload::Layer::new(filter);
    let format = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .init();
    handle.map(|()| reload_handle)
}

fn run(args: Args) -> ExitCode {
    let config = match build_config(args.clone()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("session-node: {message}");
            return ExitCode::from(2);
        }
    };
    let filter = init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut signals = match Signals::new() {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("session-node: cannot watch signals: {e}");
                return ExitCode::FAILURE;
            }
        };
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
        while signals.next().await == Signal::Reload {
            reload(&node, &args, &filter);
        }
        node.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGHUP: re-reads the configuration file (with the command line's overrides on top) and
/// applies what can change without a restart; a bad file changes nothing.
fn reload(node: &RunningNode, args: &Args, filter: &FilterHandle) {
    if args.config.is_none() {
        tracing::warn!("SIGHUP: started without --config, so there is nothing to reload");
        return;
    }
    let new = match build_config(args.clone()) {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(error = %e, "SIGHUP: the configuration is not valid; nothing changed");
            return;
        }
    };
    let log = new.log.clone();
    match node.reload(new) {
        Ok(reloaded) => {
            if reloaded.applied.iter().any(|f| f == "log") {
                match filter {
                    Some(handle) => {
                        if let Err(e) = handle.reload(EnvFilter::new(&log)) {
                            tracing::warn!(error = %e, "SIGHUP: the log filter did not change");
                        }
                    }
                    None => tracing::warn!("SIGHUP: RUST_LOG is set, so it keeps the log filter"),
                }
            }
            tracing::info!(
                applied = ?reloaded.applied,
                needs_restart = ?reloaded.needs_restart,
                "configuration reloaded"
            );
        }
        Err(e) => tracing::warn!(error = %e, "SIGHUP: reload refused; nothing changed"),
    }
}

/// The configuration file (or defaults for `--data-dir`) with the flags on top, validated.
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
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// What a signal asks the daemon to do.
#[derive(Debug, PartialEq, Eq)]
enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGINT or SIGTERM.
    Stop,
}

/// The signals the daemon listens for, registered before the node starts.
struct Signals {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                hangup: signal(SignalKind::hangup())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next signal.
    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hangup.recv() => Signal::Reload,
                _ = self.terminate.recv() => Signal::Stop,
                _ = tokio::signal::ctrl_c() => Signal::Stop,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}
