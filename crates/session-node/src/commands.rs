//! The operator's commands besides running the node: `keys`, `check-config` and `status`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::admin::Status;
use crate::identity::{self, IDENTITY_FILE};
use crate::NodeConfig;

/// The configuration file the Debian package installs, used when no other is named.
pub const DEFAULT_CONFIG: &str = "/etc/session-node/node.toml";
/// `LimitNOFILE` in the packaged systemd unit.
pub const UNIT_LIMIT_NOFILE: usize = 16384;
/// Outgoing connections a node may hold: one per node it relays to or replicates with
/// (the size of a large network).
const OUTGOING_CONNECTIONS: usize = 2048;
/// Descriptors for the database, its journal, listeners, the metrics address and logs.
const OTHER_DESCRIPTORS: usize = 64;
/// How long `status` waits for the node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the node's files are: a configuration file or a data directory.
#[derive(Args, Debug, Clone)]
pub struct NodeDir {
    /// Configuration file naming the data directory (default /etc/session-node/node.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (instead of a configuration file).
    #[arg(long, conflicts_with = "config")]
    data_dir: Option<PathBuf>,
}

impl NodeDir {
    fn data_dir(&self) -> Result<PathBuf, String> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        Ok(self.load()?.data_dir)
    }

    fn load(&self) -> Result<NodeConfig, String> {
        let path = self
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        NodeConfig::load(&path).map_err(|e| e.to_string())
    }
}

/// `session-node keys`: the public keys, and moving the identity between machines.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(flatten)]
    dir: NodeDir,
    #[command(subcommand)]
    action: Option<KeysAction>,
}

#[derive(Subcommand, Debug)]
enum KeysAction {
    /// Prints the public keys an operator registers (the default).
    Show,
    /// Creates the identity now if there is none (a node also creates it on first start).
    Generate,
    /// Writes the secret identity to a new file (mode 0600), to move the node to another machine.
    Export {
        /// The file to create; it must not exist.
        #[arg(required_unless_present = "stdout")]
        file: Option<PathBuf>,
        /// Print the secret identity as hex on standard output instead.
        #[arg(long, conflicts_with = "file")]
        stdout: bool,
    },
    /// Installs an exported identity into a data directory that has none.
    Import {
        /// The exported file, or - to read it from standard input.
        file: PathBuf,
    },
}

/// Runs `session-node keys`.
pub fn keys(args: KeysArgs) -> ExitCode {
    match run_keys(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("session-node keys: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_keys(args: KeysArgs) -> Result<(), String> {
    let dir = args.dir.data_dir()?;
    let missing = || {
        format!(
            "{} has no {IDENTITY_FILE} yet: start the node once, or run `session-node keys generate` \
             or `session-node keys import FILE`",
            dir.display()
        )
    };
    match args.action.unwrap_or(KeysAction::Show) {
        KeysAction::Show => {
            let seed = identity::load(&dir)
                .map_err(|e| e.to_string())?
                .ok_or_else(missing)?;
            print_public(&seed.key_pair());
        }
        KeysAction::Generate => {
            if identity::load(&dir).map_err(|e| e.to_string())?.is_some() {
                return Err(format!("{} already has an identity", dir.display()));
            }
            create_dir_private(&dir)?;
            let (_, keys) = identity::load_or_create(&dir).map_err(|e| e.to_string())?;
            print_public(&keys);
        }
        KeysAction::Export { file, stdout } => {
            let seed = identity::load(&dir)
                .map_err(|e| e.to_string())?
                .ok_or_else(missing)?;
            match file {
                Some(file) if !stdout => {
                    identity::write_private(&file, seed.as_bytes()).map_err(|e| e.to_string())?;
                    eprintln!(
                        "wrote the secret identity of {} to {} (mode 0600): move it over an \
                         encrypted channel, import it on the new machine, then delete this copy",
                        seed.key_pair().ed25519_public(),
                        file.display()
                    );
                }
                _ => {
                    let hex = Zeroizing::new(hex::encode(seed.as_bytes()));
                    println!("{}", hex.as_str());
                }
            }
        }
        KeysAction::Import { file } => {
            let mut bytes = Zeroizing::new(Vec::new());
            let read = if file.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut bytes)
            } else {
                std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut bytes))
            };
            read.map_err(|e| format!("reading {}: {e}", file.display()))?;
            let seed = identity::parse_export(&bytes).map_err(|e| e.to_string())?;
            if let Some(held) = identity::load(&dir).map_err(|e| e.to_string())? {
                return Err(format!(
                    "{} already has an identity ({}); move its {IDENTITY_FILE} away first",
                    dir.display(),
                    held.key_pair().ed25519_public()
                ));
            }
            create_dir_private(&dir)?;
            identity::write_private(&dir.join(IDENTITY_FILE), seed.as_bytes())
                .map_err(|e| e.to_string())?;
            eprintln!(
                "imported; never run the old machine with this identity again (two nodes with one \
                 key serve the same listing)"
            );
            print_public(&seed.key_pair());
        }
    }
    Ok(())
}

fn print_public(keys: &session_crypto::IdentityKeyPair) {
    println!("ed25519 {}", keys.ed25519_public());
    println!("x25519  {}", keys.x25519_public());
}

fn create_dir_private(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))
}

/// Runs `session-node check-config FILE`: validates it and explains what it sets.
pub fn check_config(file: &Path) -> ExitCode {
    let config = match NodeConfig::load(file) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let written: toml::Table = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_default();
    println!("{}: valid", file.display());
    if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&config) {
        for (key, value) in &table {
            let origin = if written.contains_key(key) {
                ""
            } else {
                "  (default)"
            };
            println!("  {key} = {value}{origin}");
        }
    }
    for note in notes(&config) {
        println!("note: {note}");
    }
    ExitCode::SUCCESS
}

/// What an operator should know about a valid configuration.
pub fn notes(config: &NodeConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let descriptors =
        config.max_connections + config.node_connections + OUTGOING_CONNECTIONS + OTHER_DESCRIPTORS;
    notes.push(format!(
        "needs up to {descriptors} file descriptors (max_connections {} + node_connections {} + \
         {OUTGOING_CONNECTIONS} outgoing + {OTHER_DESCRIPTORS} files); the packaged unit sets \
         LimitNOFILE={UNIT_LIMIT_NOFILE}{}",
        config.max_connections,
        config.node_connections,
        if descriptors > UNIT_LIMIT_NOFILE {
            ": raise it with `systemctl edit session-node`"
        } else {
            ""
        }
    ));
    if config.listen.ip().is_loopback() {
        notes.push(format!(
            "listen {} is loopback only: clients and other nodes cannot reach this node",
            config.listen
        ));
    }
    if config.listen.ip().is_unspecified() && config.public_ip.is_none() {
        notes.push(
            "listen is on every address but public_ip is not set: the node would advertise \
             an unspecified address; set public_ip"
                .into(),
        );
    }
    match config.metrics_listen {
        Some(m) if !m.ip().is_loopback() => notes.push(format!(
            "metrics_listen {m} is not loopback: /metrics, /healthz and /status are plain \
             HTTP without authentication; firewall it to your Prometheus server"
        )),
        Some(_) => {}
        None => notes.push(
            "metrics_listen is not set: no metrics, no /healthz, and `session-node status` \
             cannot reach the node"
                .into(),
        ),
    }
    if config.registry_key.is_none() {
        notes.push("no registry_key: the node is a network of one (it never joins a swarm)".into());
    } else if config.seed_nodes.is_empty() {
        notes.push(
            "registry_key without seed_nodes: the node waits for a registry to push it a list"
                .into(),
        );
    }
    if config.observe_privacy {
        notes.push("observe_privacy records onion traffic: never enable it on a real node".into());
    }
    notes.push(format!(
        "a reload (SIGHUP, `systemctl reload session-node`) applies {}; other changes need a restart",
        crate::reload::RELOADABLE.join(", ")
    ));
    notes
}

/// `session-node status`: asks a running node over its metrics address.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Configuration file naming the metrics address (default /etc/session-node/node.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The node's metrics address (instead of a configuration file).
    #[arg(long, conflicts_with = "config")]
    metrics: Option<SocketAddr>,
    /// Print the node's JSON answer as it is.
    #[arg(long)]
    json: bool,
}

/// Runs `session-node status`: 0 when the node answered and is ready, 1 when it is not ready,
/// 2 when it could not be asked.
pub fn status(args: StatusArgs) -> ExitCode {
    let addr = match args.metrics {
        Some(addr) => addr,
        None => {
            let dir = NodeDir {
                config: args.config,
                data_dir: None,
            };
            match dir.load().map(|c| c.metrics_listen) {
                Ok(Some(addr)) => addr,
                Ok(None) => {
                    eprintln!("session-node status: the configuration sets no metrics_listen");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("session-node status: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let body = match get(addr, "/status") {
        Ok(body) => body,
        Err(e) => {
            eprintln!("session-node status: asking {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let status: Status = match serde_json::from_str(&body) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("session-node status: {addr} answered something else: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!("{body}");
    } else {
        print_status(&status, crate::server::now_ms());
    }
    if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_status(s: &Status, now: u64) {
    let ready = match &s.not_ready {
        None => "ready".to_owned(),
        Some(why) => format!("NOT READY: {why}"),
    };
    println!(
        "session-node {}, up {}, {ready}",
        s.version,
        duration(s.uptime_secs)
    );
    println!("ed25519      {}", s.pubkey_ed25519);
    println!("x25519       {}", s.pubkey_x25519);
    let swarm = s
        .swarm_id
        .map_or_else(|| "none".to_owned(), |id| id.to_string());
    let list = match s.list_issued_ms {
        None => "no node list".to_owned(),
        Some(issued) => format!(
            "node list v{}, issued {} ago, {}",
            s.list_version,
            duration(now.saturating_sub(issued) / 1000),
            s.list_adopted_ms.map_or_else(
                || "held since start".to_owned(),
                |t| format!("adopted {} ago", duration(now.saturating_sub(t) / 1000))
            )
        ),
    };
    println!("swarm        {swarm} ({list})");
    let probed = s.last_probe_ms.map_or_else(
        || "not probed yet".to_owned(),
        |t| format!("probed {} ago", duration(now.saturating_sub(t) / 1000)),
    );
    println!(
        "peers        {} of {} reachable ({probed})",
        s.peers_reachable, s.swarm_peers
    );
    println!("replication  {} behind", duration(s.replication_lag_secs));
    println!(
        "storage      {} messages, {:.1} MiB of {} MiB",
        s.stored_messages,
        s.stored_bytes as f64 / (1024.0 * 1024.0),
        s.storage_cap_bytes / (1024 * 1024)
    );
    println!(
        "rate limit   {} requests/s per client IP, burst {}",
        s.rate_limit.0, s.rate_limit.1
    );
    println!("waits        {} waiting retrieves held", s.waits_held);
}

/// `3725` → `1h 2m 5s`.
fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// A plain HTTP/1.0 GET of `path` on `addr` (an unspecified address means this machine).
fn get(mut addr: SocketAddr, path: &str) -> Result<String, String> {
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let mut stream =
        TcpStream::connect_timeout(&addr, STATUS_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(STATUS_TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .take(1 << 20)
        .read_to_end(&mut answer)
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("the answer has no HTTP header")?;
    let code = head.split_whitespace().nth(1).unwrap_or("?");
    if code != "200" {
        return Err(format!("HTTP {code}"));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(3725), "1h 2m 5s");
    }

    #[test]
    fn the_example_config_fits_the_unit() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("node.example.toml");
        let notes = notes(&NodeConfig::load(&path).unwrap());
        assert!(
            notes[0].contains("needs up to 7232 file descriptors"),
            "{notes:?}"
        );
        assert!(!notes[0].contains("raise it"), "{notes:?}");
    }
}
