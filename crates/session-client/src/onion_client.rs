//! The network side of the client: node pool, guards, onion paths, requests to swarms.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use session_crypto::{AccountId, Ed25519PublicKey, HopCipher, OsRng};
use session_net::{Connection, ConnectionPool, NetError, NodeAddress};
use session_swarm::{NodeList, NodeListError, SignedNodeList, MAX_FIRST_LIST_AGE_MS};
use session_wire::onion::{build_onion, client_wait_timeout_ms, open_reply, Hop};
use session_wire::rpc::Request;

/// Path of onion requests on a node.
const ONION_PATH: &str = "/onion_req/v2";
/// Path serving the signed node list on seed nodes.
const NODE_LIST_PATH: &str = "/swarm/v1/node_list";
/// Relays on a path (the destination comes on top).
pub const PATH_RELAYS: usize = 3;
/// Failures after which a path is dropped.
pub const PATH_FAILURE_LIMIT: u32 = 3;
/// Guards wanted, and the fewest the client works with.
pub const GUARDS_WANTED: usize = 3;
/// The fewest guards the client accepts.
pub const GUARDS_MINIMUM: usize = 2;
/// Paths kept ready.
const PATHS_WANTED: usize = 2;
/// Attempts of one request (each on a working path).
const ATTEMPTS: usize = 4;

/// What can go wrong, grouped by what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No seed answered with a valid node list, or too few nodes to build paths.
    #[error("no network reachable: {0}")]
    Network(String),
    /// The destination answered with an error status.
    #[error("the node answered HTTP {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// Every attempt failed in transit.
    #[error("the request failed on every path: {0}")]
    Transport(String),
    /// A node list was refused.
    #[error(transparent)]
    NodeList(#[from] NodeListError),
}

/// Which nodes may share a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPolicy {
    /// Hops in distinct /24 subnets (IPv4) when the pool allows: one operator's block cannot
    /// see two hops of a path.
    DistinctSubnets,
    /// Any distinct nodes (for local networks, where every node is on 127.0.0.1).
    DistinctNodes,
}

/// The client's source of time (the system clock, or a skewed one in tests).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How the client joins and uses the network.
#[derive(Clone)]
pub struct ClientConfig {
    /// The registry key that signs node lists.
    pub registry_key: Ed25519PublicKey,
    /// Seed nodes to fetch the list from.
    pub seeds: Vec<NodeAddress>,
    /// Where to cache the node list between runs (none: no cache).
    pub cache_file: Option<PathBuf>,
    /// Who may share a path.
    pub path_policy: PathPolicy,
    /// Paths older than this are replaced, so the same nodes do not carry traffic forever.
    pub path_lifetime: Duration,
    /// The layer cipher.
    pub cipher: HopCipher,
    /// The local address to connect from (none: the system's choice).
    pub local_addr: Option<IpAddr>,
    /// The clock.
    pub clock: Clock,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The node list is fetched again from the seeds when older than this.
    pub list_max_age: Duration,
}

impl ClientConfig {
    /// Defaults: distinct subnets, 10-minute paths, xchacha20, the system clock.
    pub fn new(registry_key: Ed25519PublicKey, seeds: Vec<NodeAddress>) -> Self {
        Self {
            registry_key,
            seeds,
            cache_file: None,
            path_policy: PathPolicy::DistinctSubnets,
            path_lifetime: Duration::from_secs(600),
            cipher: HopCipher::XChaCha20,
            local_addr: None,
            clock: Arc::new(system_ms),
            timeout: Duration::from_secs(15),
            list_max_age: Duration::from_secs(3600),
        }
    }
}

/// The system clock in Unix milliseconds.
pub fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A node with its address, as the client uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolNode {
    /// Where it listens and who it is.
    pub address: NodeAddress,
    /// Its layer key.
    pub hop: Hop,
}

/// A path: relays, a guard first.
#[derive(Debug, Clone)]
pub struct OnionPath {
    /// The relays, guard first.
    pub relays: Vec<PoolNode>,
    failures: u32,
    built: Instant,
}

/// The nodes a request went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The relays, guard first.
    pub relays: Vec<NodeAddress>,
    /// The swarm member that answered.
    pub destination: NodeAddress,
}

impl std::fmt::Display for Route {
    /// `guard -> relay -> relay => destination`, each node by the first 8 hex digits of its key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for relay in &self.relays {
            write!(f, "{} -> ", short_key(&relay.key))?;
        }
        write!(f, "[{}]", short_key(&self.destination.key))
    }
}

/// The first 8 hex digits of a node key, enough to tell nodes apart in a log.
pub fn short_key(key: &Ed25519PublicKey) -> String {
    key.to_string().chars().take(8).collect()
}

/// A destination's answer and the route it came through.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The destination's JSON answer.
    pub body: Value,
    /// The path and destination.
    pub route: Route,
}

/// Sends requests to swarms through onion paths.
pub struct OnionClient {
    config: ClientConfig,
    list: RwLock<Option<Arc<NodeList>>>,
    guards: Mutex<Vec<PoolNode>>,
    paths: Mutex<Vec<OnionPath>>,
    clock_offset: AtomicI64,
    next_path: std::sync::atomic::AtomicUsize,
    /// Nodes left out of new paths for a while: guards this client could not reach itself,
    /// and hops of its own paths that were on [`BLAME_LIMIT`] paths that failed.
    suspects: Mutex<Vec<(Ed25519PublicKey, Instant)>>,
    /// Hops of this client's own failed paths, with how many failed paths each was on.
    blamed: Mutex<Vec<(Ed25519PublicKey, u32, Instant)>>,
    /// When the list was last fetched or confirmed.
    fetched: Mutex<Instant>,
    /// Open connections to guards, reused across requests (no TLS handshake per request).
    guard_connections: ConnectionPool,
}

/// A clock correction larger than this is reported.
const CLOCK_REPORT_MS: i64 = 10_000;

/// How long an unreachable guard stays out of new paths.
const SUSPECT_FOR: Duration = Duration::from_secs(60);
/// Failed paths a hop must have been on (within [`SUSPECT_FOR`]) to be suspected. A relay's
/// error never says which hop failed (it must not name nodes), so the client blames the hops
/// it chose itself, and only a hop on several failed paths is left out.
const BLAME_LIMIT: u32 = 2;

impl OnionClient {
    /// Joins the network: the cached list if valid, else the seeds' list.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let client = Self {
            list: RwLock::new(None),
            guards: Mutex::new(Vec::new()),
            paths: Mutex::new(Vec::new()),
            clock_offset: AtomicI64::new(0),
            next_path: std::sync::atomic::AtomicUsize::new(0),
            suspects: Mutex::new(Vec::new()),
            blamed: Mutex::new(Vec::new()),
            fetched: Mutex::new(Instant::now()),
            guard_connections: ConnectionPool::from_local(config.local_addr),
            config,
        };
        if let Some(cached) = client.read_cache() {
            client.adopt(cached)?;
        } else {
            client.refresh_nodes().await?;
        }
        Ok(client)
    }

    fn read_cache(&self) -> Option<SignedNodeList> {
        let bytes = std::fs::read(self.config.cache_file.as_ref()?).ok()?;
        let signed: SignedNodeList = serde_json::from_slice(&bytes).ok()?;
        // A cache older than a first list may be is not used: the seeds are asked instead.
        signed
            .verify_first(
                &self.config.registry_key,
                self.now_ms(),
                MAX_FIRST_LIST_AGE_MS,
            )
            .ok()?;
        Some(signed)
    }

    fn adopt(&self, signed: SignedNodeList) -> Result<(), ClientError> {
        let held = self.list().map(|l| l.version);
        let verified = match held {
            Some(_) => signed.verify(&self.config.registry_key, held),
            // A client with no list takes only a recent one (an old one may be a replay).
            None => signed.verify_first(
                &self.config.registry_key,
                self.now_ms(),
                MAX_FIRST_LIST_AGE_MS,
            ),
        };
        let list = match verified {
            Ok(list) => list,
            Err(NodeListError::Stale { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if let Some(path) = &self.config.cache_file {
            if let Ok(bytes) = serde_json::to_vec(&signed) {
                if let Err(e) = std::fs::write(path, bytes) {
                    tracing::warn!(error = %e, "could not cache the node list");
                }
            }
        }
        if let Ok(mut current) = self.list.write() {
            *current = Some(Arc::new(list));
        }
        Ok(())
    }

    /// Fetches the newest list from the seeds (each proving its identity).
    pub async fn refresh_nodes(&self) -> Result<(), ClientError> {
        let mut last_error = String::from("no seed nodes configured");
        for seed in &self.config.seeds {
            match self.fetch_list(*seed).await {
                Ok(signed) => {
                    if let Ok(mut fetched) = self.fetched.lock() {
                        *fetched = Instant::now();
                    }
                    return self.adopt(signed);
                }
                Err(e) => last_error = e,
            }
        }
        if self.list().is_some() {
            tracing::info!("seed nodes unreachable; keeping the node list held");
            return Ok(());
        }
        Err(ClientError::Network(last_error))
    }

    async fn fetch_list(&self, seed: NodeAddress) -> Result<SignedNodeList, String> {
        let mut connection = self.open(seed).await.map_err(|e| e.to_string())?;
        let response = connection
            .post(NODE_LIST_PATH, b"{}".to_vec(), self.config.timeout)
            .await
            .map_err(|e| e.to_string())?;
        if response.status != 200 {
            return Err(format!("seed answered HTTP {}", response.status));
        }
        serde_json::from_slice(&response.body).map_err(|e| e.to_string())
    }

    async fn open(&self, node: NodeAddress) -> Result<Connection, NetError> {
        match self.config.local_addr {
            Some(local) => Connection::open_from(node, local, self.config.timeout).await,
            None => Connection::open(node, self.config.timeout).await,
        }
    }

    /// The node list held.
    pub fn list(&self) -> Option<Arc<NodeList>> {
        self.list.read().ok()?.clone()
    }

    /// The client's clock corrected by the nodes' reported time (Unix milliseconds).
    pub fn now_ms(&self) -> u64 {
        let offset = self.clock_offset.load(Ordering::Relaxed);
        ((self.config.clock)() as i64).saturating_add(offset).max(0) as u64
    }

    /// The paths currently held.
    pub fn paths(&self) -> Vec<OnionPath> {
        self.paths.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The guards currently held.
    pub fn guards(&self) -> Vec<PoolNode> {
        self.guards.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Sends a request about `account` to a member of its swarm through an onion path. `build`
    /// makes the request from the corrected time, so that a request refused for clock skew (406)
    /// is rebuilt after the clock is corrected. A 421 refreshes the node list and retries; a
    /// failed path is retried on another and dropped after three failures.
    pub async fn request(
        &self,
        account: &AccountId,
        build: impl Fn(u64) -> Request,
    ) -> Result<Value, ClientError> {
        self.request_routed(account, |now, _| build(now))
            .await
            .map(|routed| routed.body)
    }

    /// [`request`](Self::request), with the route the answer came through. `build` also gets
    /// the destination's key, for requests that depend on the node asked (a `retrieve` after
    /// the last message seen from that node).
    ///
    /// When no path works (or too few guards answer), the node pool may be stale: the client
    /// fetches a fresh list from the seed nodes, drops its guards and paths, and tries again
    /// once, saying so at info level.
    pub async fn request_routed(
        &self,
        account: &AccountId,
        build: impl Fn(u64, &Ed25519PublicKey) -> Request,
    ) -> Result<Routed, ClientError> {
        self.request_keyed(account.x25519().as_bytes(), &[], build)
            .await
    }

    /// [`request_routed`](Self::request_routed) to the swarm nearest any 32-byte `key` (an
    /// account's key, or a blob's name), never to a member in `avoid` (one that answered
    /// wrongly before).
    pub async fn request_keyed(
        &self,
        key: &[u8; 32],
        avoid: &[Ed25519PublicKey],
        build: impl Fn(u64, &Ed25519PublicKey) -> Request,
    ) -> Result<Routed, ClientError> {
        match self.attempt(key, avoid, &build).await {
            Err(ClientError::Transport(_) | ClientError::Network(_))
                if !self.config.seeds.is_empty() =>
            {
                self.reseed().await?;
                self.attempt(key, avoid, &build).await
            }
            other => other,
        }
    }

    /// Fetches the node list from the seeds again and starts over with new guards and paths.
    async fn reseed(&self) -> Result<(), ClientError> {
        let before = self.list().map(|l| l.version);
        if let Ok(mut fetched) = self.fetched.lock() {
            *fetched = Instant::now();
        }
        self.refresh_nodes().await?;
        let (version, nodes) = self.list().map_or((0, 0), |l| (l.version, l.nodes.len()));
        if let Ok(mut guards) = self.guards.lock() {
            guards.clear();
        }
        if let Ok(mut paths) = self.paths.lock() {
            paths.clear();
        }
        // Suspects stay (they expire on their own): a node found dead before the re-seed is
        // still dead, and must not come back as a relay of the new paths.
        if let Ok(mut blamed) = self.blamed.lock() {
            blamed.clear();
        }
        tracing::info!(
            previous_version = before.unwrap_or(0),
            version,
            nodes,
            "no onion path worked: re-seeded the node list from the seed nodes; guards and paths will be rebuilt"
        );
        Ok(())
    }

    /// Up to four attempts on working paths.
    async fn attempt(
        &self,
        key: &[u8; 32],
        avoid: &[Ed25519PublicKey],
        build: &impl Fn(u64, &Ed25519PublicKey) -> Request,
    ) -> Result<Routed, ClientError> {
        let mut last = String::new();
        let mut resynced = false;
        let mut tried: Vec<OnionPath> = Vec::new();
        for _ in 0..ATTEMPTS {
            let path = self.path(&tried).await?;
            tried.push(path.clone());
            let destination = self.destination(key, avoid, &path)?;
            let request = build(self.now_ms(), &destination.address.key);
            match self.send(&path, destination, &request).await {
                Ok((200, body)) => {
                    self.learn_time(&body);
                    self.path_succeeded(&path);
                    return Ok(Routed {
                        body,
                        route: Route {
                            relays: path.relays.iter().map(|r| r.address).collect(),
                            destination: destination.address,
                        },
                    });
                }
                Ok((421, _)) => {
                    tracing::info!("the swarm moved; refreshing the node list");
                    self.refresh_nodes().await?;
                    last = "wrong swarm".into();
                }
                Ok((406, _)) if !resynced => {
                    tracing::info!("clock skew reported; correcting from the node's time");
                    self.sync_clock(&path, destination).await;
                    resynced = true;
                    last = "clock skew".into();
                }
                Ok((status, body)) => {
                    return Err(ClientError::Rejected {
                        status,
                        message: body
                            .as_str()
                            .map_or_else(|| body.to_string(), str::to_owned),
                    })
                }
                Err(e) => {
                    if let Some(guard) = self.path_failed(&path) {
                        self.check_guard(guard).await;
                    }
                    last = e;
                }
            }
        }
        Err(ClientError::Transport(last))
    }

    /// One onion round trip; returns the destination's status and JSON (or text) body.
    async fn send(
        &self,
        path: &OnionPath,
        destination: PoolNode,
        request: &Request,
    ) -> Result<(u16, Value), String> {
        let mut hops: Vec<Hop> = path.relays.iter().map(|n| n.hop).collect();
        hops.push(destination.hop);
        let onion = build_onion(&hops, &request.to_json(), self.config.cipher, &mut OsRng)
            .map_err(|e| e.to_string())?;
        let guard = path.relays.first().ok_or("empty path")?.address;
        // A waiting retrieve may be held: the client waits longer than every relay does.
        let timeout = match request {
            Request::Retrieve(p) if p.wait_ms.is_some() => self
                .config
                .timeout
                .max(Duration::from_millis(client_wait_timeout_ms())),
            _ => self.config.timeout,
        };
        let response = match self
            .guard_connections
            .post(guard, ONION_PATH, &[], onion.body, timeout)
            .await
        {
            Ok(response) => response,
            Err(e @ (NetError::Connect(_) | NetError::Tls(_) | NetError::WrongIdentity { .. })) => {
                self.guard_connections.forget(guard);
                self.suspect(guard.key);
                return Err(e.to_string());
            }
            Err(e) => {
                self.guard_connections.forget(guard);
                return Err(e.to_string());
            }
        };
        if response.status != 200 {
            // A relay's error: the path is at fault, not the request. Its text is never used
            // to choose nodes (a hostile relay could name any node to steer paths); the path's
            // own failure count retires it.
            if matches!(response.status, 502 | 504) {
                // The guard answered, so one of the later hops (or the destination) failed.
                let hops = path.relays.iter().skip(1).map(|r| r.address.key);
                self.blame(hops.chain([destination.address.key]));
            }
            let text = String::from_utf8_lossy(&response.body);
            return Err(format!("path failed with HTTP {}: {text}", response.status));
        }
        let reply = open_reply(&onion.reply_key, &response.body).map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body));
        Ok((reply.status, body))
    }

    async fn sync_clock(&self, path: &OnionPath, destination: PoolNode) {
        if let Ok((200, body)) = self.send(path, destination, &Request::Info).await {
            self.learn_time(&body);
        }
    }

    /// Follows the nodes' clock; a change of more than 10 s is reported at info level.
    fn learn_time(&self, body: &Value) {
        if let Some(t) = body.get("t").and_then(Value::as_u64) {
            let offset = t as i64 - (self.config.clock)() as i64;
            let previous = self.clock_offset.swap(offset, Ordering::Relaxed);
            if (offset - previous).abs() > CLOCK_REPORT_MS {
                tracing::info!(
                    offset_s = offset / 1000,
                    "the local clock differs from the nodes' time; correcting by the offset"
                );
            }
        }
    }

    /// A member of the account's swarm that is not on the path.
    fn destination(
        &self,
        key: &[u8; 32],
        avoid: &[Ed25519PublicKey],
        path: &OnionPath,
    ) -> Result<PoolNode, ClientError> {
        let list = self
            .list()
            .ok_or_else(|| ClientError::Network("no node list".into()))?;
        let swarm = list
            .swarm_for(key)
            .ok_or_else(|| ClientError::Network("the node list has no swarms".into()))?;
        let members: Vec<PoolNode> = list
            .members(swarm)
            .filter_map(pool_node)
            .filter(|m| !avoid.contains(&m.address.key))
            .collect();
        let suspects = self.suspects();
        let candidates: Vec<PoolNode> = members
            .iter()
            .copied()
            .filter(|m| !path.relays.iter().any(|r| r.address.key == m.address.key))
            .filter(|m| !suspects.contains(&m.address.key))
            .collect();
        // Never a node already on the path (it would see the request twice and could tie the
        // guard's view to the destination's); a suspect one only when no other is left.
        let off_path: Vec<PoolNode> = members
            .iter()
            .copied()
            .filter(|m| !path.relays.iter().any(|r| r.address.key == m.address.key))
            .collect();
        let pick = |v: &[PoolNode]| v.get(random_index(v.len())).copied();
        pick(&candidates)
            .or_else(|| pick(&off_path))
            .ok_or_else(|| {
                ClientError::Network(if members.is_empty() {
                    "the account's swarm is empty".into()
                } else {
                    "every member of the account's swarm is on the path".into()
                })
            })
    }

    /// A working path not in `avoid`: an existing one in rotation, or a new one.
    async fn path(&self, avoid: &[OnionPath]) -> Result<OnionPath, ClientError> {
        let stale = self.fetched.lock().is_ok_and(|mut fetched| {
            let stale = fetched.elapsed() > self.config.list_max_age;
            if stale {
                // One attempt per period, whether or not the seeds answer.
                *fetched = Instant::now();
            }
            stale
        });
        if stale {
            // Keeps the held list when the seeds are unreachable.
            self.refresh_nodes().await?;
        }
        let lifetime = self.config.path_lifetime;
        let ready: Vec<OnionPath> = {
            let mut paths = self.paths.lock().map_err(|_| poisoned())?;
            paths.retain(|p| p.built.elapsed() < lifetime);
            paths
                .iter()
                .filter(|p| !avoid.iter().any(|a| same_path(a, p)))
                .cloned()
                .collect()
        };
        if ready.len() >= PATHS_WANTED || (!avoid.is_empty() && !ready.is_empty()) {
            let i = self.next_path.fetch_add(1, Ordering::Relaxed) % ready.len();
            if let Some(path) = ready.get(i) {
                return Ok(path.clone());
            }
        }
        let path = self.build_path().await?;
        self.paths
            .lock()
            .map_err(|_| poisoned())?
            .push(path.clone());
        Ok(path)
    }

    /// Builds a path: a guard, then relays distinct from it (and in other /24s if required).
    async fn build_path(&self) -> Result<OnionPath, ClientError> {
        let guards = self.ensure_guards().await?;
        let list = self
            .list()
            .ok_or_else(|| ClientError::Network("no node list".into()))?;
        let pool: Vec<PoolNode> = list.nodes.iter().filter_map(pool_node).collect();
        // Spread paths over the guards.
        let guard = guards
            .get(self.paths().len() % guards.len().max(1))
            .copied()
            .ok_or_else(|| ClientError::Network("no guards".into()))?;
        let mut relays = vec![guard];
        let suspects = self.suspects();
        let mut candidates: Vec<PoolNode> = pool
            .iter()
            .copied()
            .filter(|n| n.address.key != guard.address.key && !suspects.contains(&n.address.key))
            .collect();
        if candidates.len() < PATH_RELAYS - 1 {
            // Too few unsuspected nodes (after an outage): suspects are better than no path.
            candidates = pool
                .iter()
                .copied()
                .filter(|n| n.address.key != guard.address.key)
                .collect();
        }
        while relays.len() < PATH_RELAYS {
            let fits = |n: &PoolNode| {
                !relays.iter().any(|r| r.address.key == n.address.key)
                    && (self.config.path_policy == PathPolicy::DistinctNodes
                        || !relays
                            .iter()
                            .any(|r| same_subnet(r.address.addr, n.address.addr)))
            };
            let eligible: Vec<PoolNode> = candidates.iter().copied().filter(|n| fits(n)).collect();
            // Distinct subnets where the pool allows, any distinct node otherwise.
            let choice = match eligible.get(random_index(eligible.len())) {
                Some(n) => *n,
                None => {
                    let any: Vec<PoolNode> = candidates
                        .iter()
                        .copied()
                        .filter(|n| !relays.iter().any(|r| r.address.key == n.address.key))
                        .collect();
                    *any.get(random_index(any.len()))
                        .ok_or_else(|| ClientError::Network("too few nodes for a path".into()))?
                }
            };
            candidates.retain(|n| n.address.key != choice.address.key);
            relays.push(choice);
        }
        Ok(OnionPath {
            relays,
            failures: 0,
            built: Instant::now(),
        })
    }

    /// Keeps 3 reachable guards (at least 2), replacing ones that stopped answering.
    async fn ensure_guards(&self) -> Result<Vec<PoolNode>, ClientError> {
        let mut guards = self.guards();
        if guards.len() >= GUARDS_MINIMUM {
            return Ok(guards);
        }
        let list = self
            .list()
            .ok_or_else(|| ClientError::Network("no node list".into()))?;
        // Suspects are tried last (after an outage every node may be one for a while).
        let suspects = self.suspects();
        let (mut pool, mut suspected): (Vec<PoolNode>, Vec<PoolNode>) = list
            .nodes
            .iter()
            .filter_map(pool_node)
            .partition(|n| !suspects.contains(&n.address.key));
        while guards.len() < GUARDS_WANTED && !(pool.is_empty() && suspected.is_empty()) {
            let candidate = if pool.is_empty() {
                suspected.swap_remove(random_index(suspected.len()))
            } else {
                pool.swap_remove(random_index(pool.len()))
            };
            if guards
                .iter()
                .any(|g| g.address.key == candidate.address.key)
            {
                continue;
            }
            // A guard must answer a TLS handshake proving its key; one that does not is
            // suspected, so that it is not chosen as a relay either.
            if self.open(candidate.address).await.is_ok() {
                guards.push(candidate);
            } else {
                self.suspect(candidate.address.key);
            }
        }
        if guards.len() < GUARDS_MINIMUM {
            return Err(ClientError::Network(format!(
                "only {} reachable guard(s), {GUARDS_MINIMUM} needed",
                guards.len()
            )));
        }
        *self.guards.lock().map_err(|_| poisoned())? = guards.clone();
        Ok(guards)
    }

    fn path_succeeded(&self, path: &OnionPath) {
        if let Ok(mut paths) = self.paths.lock() {
            if let Some(p) = paths.iter_mut().find(|p| same_path(p, path)) {
                p.failures = 0;
            }
        }
    }

    /// Counts a failure; the third drops the path and returns its guard.
    fn path_failed(&self, path: &OnionPath) -> Option<PoolNode> {
        let mut paths = self.paths.lock().ok()?;
        let p = paths.iter_mut().find(|p| same_path(p, path))?;
        p.failures += 1;
        if p.failures < PATH_FAILURE_LIMIT {
            return None;
        }
        tracing::info!("dropping an onion path after {PATH_FAILURE_LIMIT} failures");
        let guard = p.relays.first().copied();
        paths.retain(|p| !same_path(p, path));
        guard
    }

    fn suspect(&self, key: Ed25519PublicKey) {
        if let Ok(mut suspects) = self.suspects.lock() {
            suspects.retain(|(k, _)| *k != key);
            suspects.push((key, Instant::now()));
        }
    }

    /// Counts a failed path against each of `hops`; suspects those on [`BLAME_LIMIT`] of them.
    fn blame(&self, hops: impl Iterator<Item = Ed25519PublicKey>) {
        let mut newly = Vec::new();
        if let Ok(mut blamed) = self.blamed.lock() {
            blamed.retain(|(_, _, since)| since.elapsed() < SUSPECT_FOR);
            for key in hops {
                match blamed.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, count, _)) => {
                        *count += 1;
                        if *count >= BLAME_LIMIT {
                            newly.push(key);
                        }
                    }
                    None => blamed.push((key, 1, Instant::now())),
                }
            }
            blamed.retain(|(k, _, _)| !newly.contains(k));
        }
        for key in newly {
            self.suspect(key);
        }
    }

    fn suspects(&self) -> Vec<Ed25519PublicKey> {
        let Ok(mut suspects) = self.suspects.lock() else {
            return Vec::new();
        };
        suspects.retain(|(_, since)| since.elapsed() < SUSPECT_FOR);
        suspects.iter().map(|(k, _)| *k).collect()
    }

    /// Replaces a guard that no longer proves its identity over TLS.
    async fn check_guard(&self, guard: PoolNode) {
        if self.open(guard.address).await.is_err() {
            tracing::info!("a guard node is unreachable; choosing another");
            self.suspect(guard.address.key);
            if let Ok(mut guards) = self.guards.lock() {
                guards.retain(|g| g.address.key != guard.address.key);
            }
        }
    }
}

impl OnionPath {
    /// How long ago the path was built.
    pub fn age(&self) -> Duration {
        self.built.elapsed()
    }
}

fn same_path(a: &OnionPath, b: &OnionPath) -> bool {
    a.built == b.built && a.relays == b.relays
}

fn pool_node(entry: &session_swarm::NodeEntry) -> Option<PoolNode> {
    Some(PoolNode {
        address: NodeAddress {
            addr: entry.https,
            key: entry.ed25519().ok()?,
        },
        hop: Hop {
            ed25519: entry.ed25519().ok()?,
            x25519: entry.x25519().ok()?,
        },
    })
}

fn same_subnet(a: SocketAddr, b: SocketAddr) -> bool {
    match (a.ip(), b.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (a, b) => a == b,
    }
}

fn random_index(len: usize) -> usize {
    use session_crypto::RngCore;
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    if len == 0 {
        0
    } else {
        (u64::from_le_bytes(bytes) % len as u64) as usize
    }
}

fn poisoned() -> ClientError {
    ClientError::Network("client state lock poisoned".into())
}
