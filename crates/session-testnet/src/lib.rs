#![doc = include_str!("../README.md")]

pub mod attack_load;
pub mod client;
pub use client::eventually;
pub mod hostile;
pub mod procfs;
pub mod program;
pub mod soak;

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use session_client::{NetworkFile, NetworkSeed};
use session_crypto::{Ed25519PublicKey, Ed25519Seed, IdentityKeyPair, OsRng, X25519PublicKey};
use session_net::NodeAddress;
use session_node::config::SeedNode;
use session_node::network::NODE_LIST_FILE;
use session_node::server::NODE_LIST_PUSH_PATH;
use session_node::storage::AccountQuota;
use session_node::{NodeConfig, RunningNode};
use session_swarm::{assign, Assignment, NodeEntry, NodeList, SwarmConfig};

/// What can go wrong starting or changing a local network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestnetError {
    /// A node failed to start.
    #[error("node {index}: {source}")]
    Node {
        /// Which node.
        index: usize,
        /// Why.
        #[source]
        source: session_node::NodeError,
    },
    /// File or socket trouble.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A node refused a published list.
    #[error("publishing the node list: {0}")]
    Publish(String),
    /// No such node.
    #[error("no node {0}")]
    NoSuchNode(usize),
    /// A node process did not come up.
    #[error("node {index} process: {reason}")]
    Process {
        /// Which node.
        index: usize,
        /// What happened (with the end of its log).
        reason: String,
    },
    /// The operation needs nodes in child processes.
    #[error("{0} needs nodes in child processes (NodeRunner::Process)")]
    NeedsProcesses(&'static str),
}

/// How the network runs its nodes.
#[derive(Debug, Clone, Default)]
pub enum NodeRunner {
    /// In this process, on real sockets (fast to start; a kill aborts the node's tasks).
    #[default]
    InProcess,
    /// Each node in a child process running `program args... --config DIR/node.toml`: a kill is
    /// SIGKILL, and nodes can be paused (SIGSTOP) and resumed (SIGCONT).
    Process {
        /// The node program (the `session-node` daemon, or any binary that runs
        /// `session_node::daemon::main_from`).
        program: PathBuf,
        /// Arguments before `--config`.
        args: Vec<OsString>,
    },
}

/// How to build a local network.
#[derive(Debug, Clone)]
pub struct TestnetConfig {
    /// Number of nodes at start.
    pub nodes: usize,
    /// Swarm sizes (small ones, so a few nodes form several swarms).
    pub swarm: SwarmConfig,
    /// How many of the first nodes are seed nodes.
    pub seeds: usize,
    /// Milliseconds between a node's pulls from its swarm peers.
    pub sync_interval_ms: u64,
    /// Seconds between a node's polls of the seeds.
    pub list_poll_secs: u64,
    /// Where the nodes' data directories go (a temporary directory when `None`).
    pub base_dir: Option<PathBuf>,
    /// Record what each node sees of onion requests (privacy tests only).
    pub observe_privacy: bool,
    /// In this process or in child processes.
    pub runner: NodeRunner,
    /// What others may deposit into one account. Test networks lift it (as they lift the
    /// per-IP rate limit) so that load tests measure the network, not the limit; attack tests
    /// set [`AccountQuota::default`], what real nodes use.
    pub account_quota: AccountQuota,
    /// Caps of waiting retrieves on every node (the nodes' defaults unless a test lowers them).
    pub waits: session_node::waits::WaitLimits,
}

impl Default for TestnetConfig {
    fn default() -> Self {
        Self {
            nodes: 12,
            // 12 nodes form 3 swarms of 4.
            swarm: SwarmConfig::new(3, 4, 6).unwrap_or(SwarmConfig::REFERENCE),
            seeds: 3,
            sync_interval_ms: 500,
            list_poll_secs: 1,
            base_dir: None,
            observe_privacy: false,
            runner: NodeRunner::InProcess,
            account_quota: AccountQuota {
                max_messages: 1_000_000,
                max_bytes: 1 << 40,
                deposits_per_second: 1_000_000.0,
                deposit_burst: 1_000_000.0,
            },
            waits: session_node::waits::WaitLimits::default(),
        }
    }
}

/// One node of the network, running or not.
struct Slot {
    dir: PathBuf,
    addr: SocketAddr,
    /// The listener holding the port until the node first starts.
    reserved: Option<TcpListener>,
    key: Ed25519PublicKey,
    x25519: X25519PublicKey,
    running: Option<Running>,
    listed: bool,
}

/// A node that runs, in this process or as a child.
enum Running {
    InProcess(Box<RunningNode>),
    Child(ChildNode),
}

/// A node's child process, killed if the network is dropped without a shutdown.
struct ChildNode {
    child: Child,
}

impl ChildNode {
    fn signal(&self, name: &str) -> std::io::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("kill -{name} failed")))
        }
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGCONT (in case it is paused) and SIGTERM; SIGKILL after 10 s.
    async fn stop(mut self) {
        let _ = self.signal("CONT");
        let _ = self.signal("TERM");
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The file in a network's folder that lets it restart (no secrets: node keys stay in their
/// data directories, the registry key in `registry/identity.key`).
pub const STATE_FILE: &str = "testnet.json";
/// The folder of the registry key, beside the nodes' folders.
const REGISTRY_DIR: &str = "registry";

/// What a restart needs, saved beside the nodes' folders.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedState {
    registry_key: String,
    version: u64,
    seeds: usize,
    nodes: Vec<SavedNode>,
}

/// One node in [`SavedState`].
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedNode {
    dir: String,
    https: SocketAddr,
    listed: bool,
}

/// A local network of real nodes on loopback sockets, each with its own data directory.
pub struct Testnet {
    config: TestnetConfig,
    registry: IdentityKeyPair,
    _temp: Option<tempfile::TempDir>,
    base: PathBuf,
    slots: Vec<Slot>,
    assignment: Assignment,
    version: u64,
}

impl Testnet {
    /// Starts `config.nodes` nodes with a fresh registry key, a signed list and seed nodes.
    pub async fn start(config: TestnetConfig) -> Result<Self, TestnetError> {
        let (temp, base) = match &config.base_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::tempdir()?;
                let base = temp.path().to_path_buf();
                (Some(temp), base)
            }
        };
        let registry_seed = Ed25519Seed::generate(&mut OsRng);
        if config.base_dir.is_some() {
            let registry_dir = base.join(REGISTRY_DIR);
            std::fs::create_dir_all(&registry_dir)?;
            session_node::identity::write_private(
                &registry_dir.join(session_node::identity::IDENTITY_FILE),
                registry_seed.as_bytes(),
            )
            .map_err(|source| TestnetError::Node { index: 0, source })?;
        }
        let registry = registry_seed.key_pair();
        let mut net = Self {
            config,
            registry,
            _temp: temp,
            base,
            slots: Vec::new(),
            assignment: Assignment::empty(),
            version: 0,
        };
        for _ in 0..net.config.nodes {
            net.prepare_slot()?;
        }
        net.write_list()?;
        for index in 0..net.slots.len() {
            net.start_node(index).await?;
        }
        Ok(net)
    }

    /// Starts the network saved in `config.base_dir` by an earlier run (same registry key, node
    /// keys, ports and stored messages), or a new one there when the folder holds none.
    /// `config.nodes` and `config.seeds` apply to a new network only.
    pub async fn start_or_resume(config: TestnetConfig) -> Result<Self, TestnetError> {
        let Some(base) = config.base_dir.clone() else {
            return Self::start(config).await;
        };
        let state_path = base.join(STATE_FILE);
        if !state_path.exists() {
            if base.join("node-00").exists() {
                return Err(TestnetError::Io(std::io::Error::other(format!(
                    "{} holds nodes but no {STATE_FILE}; it cannot be restarted (use a new folder)",
                    base.display()
                ))));
            }
            return Self::start(config).await;
        }
        let bad = |what: String| {
            TestnetError::Io(std::io::Error::other(format!(
                "{}: {what}",
                state_path.display()
            )))
        };
        let state: SavedState =
            serde_json::from_slice(&std::fs::read(&state_path)?).map_err(|e| bad(e.to_string()))?;
        let (_, registry) = session_node::identity::load_or_create(&base.join(REGISTRY_DIR))
            .map_err(|source| TestnetError::Node { index: 0, source })?;
        if registry.ed25519_public().to_string() != state.registry_key {
            return Err(bad("the registry key does not match its file".into()));
        }
        let mut config = config;
        config.nodes = state.nodes.len();
        config.seeds = state.seeds;
        let mut net = Self {
            config,
            registry,
            _temp: None,
            base: base.clone(),
            slots: Vec::new(),
            assignment: Assignment::empty(),
            version: state.version,
        };
        for (index, node) in state.nodes.iter().enumerate() {
            let dir = base.join(&node.dir);
            if !dir.join(session_node::identity::IDENTITY_FILE).exists() {
                return Err(bad(format!(
                    "node {index} has no identity key in {}",
                    dir.display()
                )));
            }
            let (_, keys) = session_node::identity::load_or_create(&dir)
                .map_err(|source| TestnetError::Node { index, source })?;
            let listener = TcpListener::bind(node.https).map_err(|e| {
                TestnetError::Io(std::io::Error::new(
                    e.kind(),
                    format!(
                        "node {index} cannot listen on {} again ({e}); is this network already running?",
                        node.https
                    ),
                ))
            })?;
            net.slots.push(Slot {
                dir,
                addr: node.https,
                reserved: Some(listener),
                key: keys.ed25519_public(),
                x25519: keys.x25519_public(),
                running: None,
                listed: node.listed,
            });
        }
        net.write_list()?;
        for index in 0..net.slots.len() {
            if net.slots[index].listed {
                net.start_node(index).await?;
            }
        }
        Ok(net)
    }

    /// Saves what a restart needs (next to the nodes' folders) when the network has a folder
    /// of its own; the registry key goes in its own private file.
    fn save_state(&self) -> Result<(), TestnetError> {
        if self.config.base_dir.is_none() {
            return Ok(());
        }
        let state = SavedState {
            registry_key: self.registry.ed25519_public().to_string(),
            version: self.version,
            seeds: self.config.seeds,
            nodes: self
                .slots
                .iter()
                .map(|slot| SavedNode {
                    dir: slot
                        .dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    https: slot.addr,
                    listed: slot.listed,
                })
                .collect(),
        };
        let text =
            serde_json::to_vec_pretty(&state).map_err(|e| TestnetError::Publish(e.to_string()))?;
        let temp = self.base.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, self.base.join(STATE_FILE))?;
        Ok(())
    }

    /// Creates a data directory with an identity key and reserves a loopback port.
    fn prepare_slot(&mut self) -> Result<usize, TestnetError> {
        let index = self.slots.len();
        let dir = self.base.join(format!("node-{index:02}"));
        std::fs::create_dir_all(&dir)?;
        let seed = Ed25519Seed::generate(&mut OsRng);
        session_node::identity::write_private(
            &dir.join(session_node::identity::IDENTITY_FILE),
            seed.as_bytes(),
        )
        .map_err(|source| TestnetError::Node { index, source })?;
        let keys = seed.key_pair();
        let listener = reserve_port()?;
        let addr = listener.local_addr()?;
        self.slots.push(Slot {
            dir,
            addr,
            reserved: Some(listener),
            key: keys.ed25519_public(),
            x25519: keys.x25519_public(),
            running: None,
            listed: true,
        });
        Ok(index)
    }

    /// The next signed list for the listed nodes, written into every data directory (so that
    /// nodes starting now know it) and kept as the current assignment.
    fn write_list(&mut self) -> Result<session_swarm::SignedNodeList, TestnetError> {
        let listed: Vec<&Slot> = self.slots.iter().filter(|s| s.listed).collect();
        let keys: Vec<Ed25519PublicKey> = listed.iter().map(|s| s.key).collect();
        self.assignment = assign(&self.assignment, &keys, self.config.swarm);
        self.version += 1;
        let entries = listed
            .iter()
            .map(|s| NodeEntry {
                pubkey_ed25519: s.key.to_string(),
                pubkey_x25519: s.x25519.to_string(),
                https: s.addr,
            })
            .collect();
        let list = NodeList::new(self.version, now_ms(), entries, &self.assignment);
        let signed = list.sign(&self.registry);
        let bytes =
            serde_json::to_vec(&signed).map_err(|e| TestnetError::Publish(e.to_string()))?;
        for slot in &self.slots {
            std::fs::write(slot.dir.join(NODE_LIST_FILE), &bytes)?;
        }
        self.save_state()?;
        Ok(signed)
    }

    fn node_config(&self, index: usize) -> Result<NodeConfig, TestnetError> {
        let slot = self
            .slots
            .get(index)
            .ok_or(TestnetError::NoSuchNode(index))?;
        let mut config = NodeConfig::with_data_dir(&slot.dir);
        config.listen = slot.addr;
        // Every test client shares 127.0.0.1 and a benchmark drives thousands of relays a
        // second through one guard: the per-address and per-node budgets are lifted here (the
        // attack tests exercise the per-account quota, which stays as configured).
        for limit in [
            &mut config.rate_limit,
            &mut config.relay_rate_limit,
            &mut config.sync_rate_limit,
        ] {
            limit.requests_per_second = 1_000_000.0;
            limit.burst = 1_000_000.0;
        }
        config.account_quota = self.config.account_quota;
        config.waits = self.config.waits;
        config.sweep_interval_secs = 1;
        config.registry_key = Some(self.registry.ed25519_public().to_string());
        config.seed_nodes = self
            .network_file()
            .seed_nodes
            .into_iter()
            .map(|s| SeedNode {
                https: s.https,
                pubkey_ed25519: s.pubkey_ed25519,
            })
            .collect();
        config.list_poll_secs = self.config.list_poll_secs;
        config.sync_interval_ms = self.config.sync_interval_ms;
        config.log = "warn".into();
        config.observe_privacy = self.config.observe_privacy;
        Ok(config)
    }

    async fn start_node(&mut self, index: usize) -> Result<(), TestnetError> {
        let config = self.node_config(index)?;
        let running = match self.config.runner.clone() {
            NodeRunner::InProcess => {
                Running::InProcess(Box::new(self.start_in_process(index, config).await?))
            }
            NodeRunner::Process { program, args } => {
                Running::Child(self.start_child(index, config, &program, &args).await?)
            }
        };
        if let Some(slot) = self.slots.get_mut(index) {
            slot.running = Some(running);
        }
        Ok(())
    }

    async fn start_in_process(
        &mut self,
        index: usize,
        config: NodeConfig,
    ) -> Result<RunningNode, TestnetError> {
        if let Some(listener) = self.slots.get_mut(index).and_then(|s| s.reserved.take()) {
            return RunningNode::start_on(config, listener)
                .await
                .map_err(|source| TestnetError::Node { index, source });
        }
        // A restart binds the port again; it is outside the ephemeral range, so no outgoing
        // connection holds it, but the old socket may linger for a moment.
        let mut attempt = 0;
        loop {
            match RunningNode::start(config.clone()).await {
                Ok(node) => return Ok(node),
                Err(session_node::NodeError::Io { .. }) if attempt < 50 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(source) => return Err(TestnetError::Node { index, source }),
            }
        }
    }

    /// Writes the node's config file, spawns it (stderr to `node.log` in its directory), and
    /// waits until it proves its identity over TLS.
    async fn start_child(
        &mut self,
        index: usize,
        config: NodeConfig,
        program: &Path,
        args: &[OsString],
    ) -> Result<ChildNode, TestnetError> {
        let fail = |reason: String| TestnetError::Process { index, reason };
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(TestnetError::NoSuchNode(index))?;
        let config_path = slot.dir.join("node.toml");
        let text = toml::to_string(&config).map_err(|e| fail(e.to_string()))?;
        std::fs::write(&config_path, text)?;
        let log_path = slot.dir.join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        // The port is released just before the child binds it (it is below the ephemeral
        // range, so no outgoing connection takes it meanwhile).
        slot.reserved = None;
        let address = NodeAddress {
            addr: slot.addr,
            key: slot.key,
        };
        let mut node = ChildNode {
            child: Command::new(program)
                .args(args)
                .arg("--config")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| fail(format!("cannot run {}: {e}", program.display())))?,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(fail(format!("exited with {status}: {tail}")));
            }
            if session_net::Connection::open(address, Duration::from_secs(2))
                .await
                .is_ok()
            {
                return Ok(node);
            }
            if std::time::Instant::now() > deadline {
                node.child.kill().ok();
                return Err(fail("did not answer within 30 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Addresses of every listed node, in index order.
    pub fn addresses(&self) -> Vec<NodeAddress> {
        self.slots
            .iter()
            .map(|s| NodeAddress {
                addr: s.addr,
                key: s.key,
            })
            .collect()
    }

    /// The address of node `index`.
    pub fn address(&self, index: usize) -> Option<NodeAddress> {
        self.addresses().get(index).copied()
    }

    /// Indices of the members of the swarm that owns the account with this 32-byte key.
    pub fn swarm_members_for(&self, account_key: &[u8; 32]) -> Vec<usize> {
        let ids = self.assignment.swarm_ids();
        let Some(swarm) =
            session_swarm::select_swarm(&ids, session_swarm::swarm_space(account_key))
        else {
            return Vec::new();
        };
        let members: Vec<Ed25519PublicKey> = self.assignment.members(swarm).copied().collect();
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| members.contains(&s.key))
            .map(|(i, _)| i)
            .collect()
    }

    /// Every listed node as an onion hop (identity and X25519 key), in index order.
    pub fn hops(&self) -> Vec<session_wire::onion::Hop> {
        self.slots
            .iter()
            .map(|s| session_wire::onion::Hop {
                ed25519: s.key,
                x25519: s.x25519,
            })
            .collect()
    }

    /// The current assignment of nodes to swarms.
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    /// The running node at `index`, if it runs in this process.
    pub fn node(&self, index: usize) -> Option<&RunningNode> {
        match self.slots.get(index)?.running.as_ref()? {
            Running::InProcess(node) => Some(node),
            Running::Child(_) => None,
        }
    }

    /// The process id of node `index`, if it runs as a child process.
    pub fn process_id(&self, index: usize) -> Option<u32> {
        match self.slots.get(index)?.running.as_ref()? {
            Running::Child(child) => Some(child.child.id()),
            Running::InProcess(_) => None,
        }
    }

    /// Whether node `index` is running (paused nodes count as running).
    pub fn is_running(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|s| s.running.is_some())
    }

    /// Pauses node `index` (SIGSTOP): it keeps its sockets but answers nothing, like a node
    /// behind a partition or stuck on a slow disk.
    pub fn pause(&self, index: usize) -> Result<(), TestnetError> {
        self.signal(index, "STOP", "pause")
    }

    /// Resumes a paused node (SIGCONT).
    pub fn resume(&self, index: usize) -> Result<(), TestnetError> {
        self.signal(index, "CONT", "resume")
    }

    fn signal(&self, index: usize, name: &str, what: &'static str) -> Result<(), TestnetError> {
        match self
            .slots
            .get(index)
            .ok_or(TestnetError::NoSuchNode(index))?
            .running
            .as_ref()
        {
            Some(Running::Child(child)) => Ok(child.signal(name)?),
            Some(Running::InProcess(_)) => Err(TestnetError::NeedsProcesses(what)),
            None => Ok(()),
        }
    }

    /// The current node-list version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The file a client needs to join (registry key and seeds).
    pub fn network_file(&self) -> NetworkFile {
        NetworkFile {
            registry_key: self.registry.ed25519_public().to_string(),
            seed_nodes: self
                .slots
                .iter()
                .take(self.config.seeds)
                .map(|s| NetworkSeed {
                    https: s.addr,
                    pubkey_ed25519: s.key.to_string(),
                })
                .collect(),
        }
    }

    /// A client configuration for this network: its registry key and seeds, and paths of any
    /// distinct nodes (every node shares 127.0.0.1, so /24 diversity cannot apply).
    pub fn client_config(&self) -> session_client::ClientConfig {
        let seeds = self
            .slots
            .iter()
            .take(self.config.seeds)
            .map(|s| NodeAddress {
                addr: s.addr,
                key: s.key,
            })
            .collect();
        let mut config = session_client::ClientConfig::new(self.registry.ed25519_public(), seeds);
        config.path_policy = session_client::PathPolicy::DistinctNodes;
        config
    }

    /// Stops node `index` cleanly (in-flight requests finish).
    pub async fn stop(&mut self, index: usize) -> Result<(), TestnetError> {
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(TestnetError::NoSuchNode(index))?;
        match slot.running.take() {
            Some(Running::InProcess(node)) => node.shutdown().await,
            Some(Running::Child(child)) => child.stop().await,
            None => {}
        }
        Ok(())
    }

    /// Kills node `index` at once, as a crash would.
    pub fn kill(&mut self, index: usize) -> Result<(), TestnetError> {
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(TestnetError::NoSuchNode(index))?;
        match slot.running.take() {
            Some(Running::InProcess(node)) => node.kill(),
            Some(Running::Child(child)) => child.kill(),
            None => {}
        }
        Ok(())
    }

    /// Starts a stopped or killed node again, with its data directory and port.
    pub async fn restart(&mut self, index: usize) -> Result<(), TestnetError> {
        self.stop(index).await?;
        self.start_node(index).await
    }

    /// Adds `count` nodes, publishes the list with them, and returns their indices.
    pub async fn add_nodes(&mut self, count: usize) -> Result<Vec<usize>, TestnetError> {
        let mut added = Vec::new();
        for _ in 0..count {
            added.push(self.prepare_slot()?);
        }
        let signed = self.write_list()?;
        for &index in &added {
            self.start_node(index).await?;
        }
        self.publish(&signed).await?;
        Ok(added)
    }

    /// Takes nodes out of the network: they are stopped and a list without them is published.
    pub async fn remove_nodes(&mut self, indices: &[usize]) -> Result<(), TestnetError> {
        for &index in indices {
            self.slots
                .get_mut(index)
                .ok_or(TestnetError::NoSuchNode(index))?
                .listed = false;
        }
        let signed = self.write_list()?;
        self.publish(&signed).await?;
        // Let the leaving nodes hand their accounts over before they go.
        for &index in indices {
            self.stop(index).await?;
        }
        Ok(())
    }

    /// Pushes a signed list to every running node (seeds would spread it too, within
    /// `list_poll_secs`; pushing makes changes take effect at once).
    async fn publish(&self, signed: &session_swarm::SignedNodeList) -> Result<(), TestnetError> {
        let body = serde_json::to_vec(signed).map_err(|e| TestnetError::Publish(e.to_string()))?;
        for (slot, address) in self.slots.iter().zip(self.addresses()) {
            if slot.running.is_none() {
                continue;
            }
            let response = session_net::post_once(
                address,
                NODE_LIST_PUSH_PATH,
                body.clone(),
                Duration::from_secs(10),
            )
            .await
            .map_err(|e| TestnetError::Publish(e.to_string()))?;
            // 409: the node already learned this version from a seed.
            if response.status != 200 && response.status != 409 {
                return Err(TestnetError::Publish(format!(
                    "node answered HTTP {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                )));
            }
        }
        Ok(())
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        for index in 0..self.slots.len() {
            let _ = self.stop(index).await;
        }
    }

    /// The directory holding the nodes' data directories.
    pub fn base_dir(&self) -> &Path {
        &self.base
    }
}

/// Binds a loopback listener on a free port below the ephemeral range (32768 and up on Linux),
/// so that outgoing connections, which take ephemeral ports, can never hold a node's port when
/// it restarts.
fn reserve_port() -> std::io::Result<TcpListener> {
    use session_crypto::RngCore;
    let mut last = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    for _ in 0..200 {
        let port = 10_000 + (OsRng.next_u32() % 22_000) as u16;
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A uniformly drawn index below `n` (0 when `n` is 0), for fault and traffic choices.
pub(crate) fn random_below(n: usize) -> usize {
    use session_crypto::RngCore;
    if n == 0 {
        0
    } else {
        (OsRng.next_u64() % n as u64) as usize
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
