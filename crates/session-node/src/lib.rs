#![doc = include_str!("../README.md")]

pub mod admin;
pub mod auth;
pub mod blob_sync;
pub mod blobs;
pub mod blocking;
pub mod commands;
pub mod config;
pub mod connections;
pub mod daemon;
pub mod error;
pub mod executor;
pub mod groups;
pub mod identity;
pub mod list_source;
pub mod metrics;
pub mod network;
pub mod onion;
pub mod peer;
pub mod ratelimit;
pub mod reload;
pub mod replica;
pub mod rpc;
pub mod server;
pub mod storage;
pub mod sync;
pub mod waits;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use session_crypto::Ed25519PublicKey;
use session_wire::rpc::SnodeInfo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use config::NodeConfig;
pub use error::{NodeError, RpcError};

use crate::admin::Admin;
use crate::blocking::BlockingPool;
use crate::connections::ConnectionLimits;
use crate::executor::Executor;
use crate::list_source::Sources;
use crate::metrics::Metrics;
use crate::network::Network;
use crate::onion::Observer;
use crate::peer::Peers;
use crate::ratelimit::RateLimiter;
use crate::rpc::RpcContext;
use crate::server::{now_ms, serve_https, serve_metrics, Service};
use crate::storage::Storage;

/// Database file name inside the data directory.
pub const DATABASE_FILE: &str = "messages.sqlite";
/// TLS certificate file name inside the data directory (written for operators; derived from the
/// identity key at every start).
pub const CERTIFICATE_FILE: &str = "tls-cert.der";

/// A started node: its addresses and key, and the handle that stops it.
pub struct RunningNode {
    /// The node's Ed25519 identity key.
    pub public_key: Ed25519PublicKey,
    /// Where it serves HTTPS.
    pub https_addr: SocketAddr,
    /// Where it serves metrics, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    storage: Arc<Storage>,
    network: Arc<Network>,
    observer: Arc<Observer>,
    service: Arc<Service>,
    peers: Arc<Peers>,
    seeds: Sources,
    /// The configuration in force (a reload changes its reloadable fields).
    config: Mutex<NodeConfig>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// Starts a node: creates or loads its identity, opens the database, binds its sockets.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        Self::start_inner(config, None).await
    }

    /// As [`RunningNode::start`], serving HTTPS on an already bound listener (so that a caller
    /// that had to know the port in advance never loses it to another socket).
    pub async fn start_on(
        config: NodeConfig,
        listener: std::net::TcpListener,
    ) -> Result<Self, NodeError> {
        Self::start_inner(config, Some(listener)).await
    }

    async fn start_inner(
        config: NodeConfig,
        bound: Option<std::net::TcpListener>,
    ) -> Result<Self, NodeError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            NodeError::io(
                format!("creating data_dir {}", config.data_dir.display()),
                e,
            )
        })?;
        let (seed, keys) = identity::load_or_create(&config.data_dir)?;
        let (cert, _) = session_net::identity_certificate(seed.as_bytes())?;
        let cert_path = config.data_dir.join(CERTIFICATE_FILE);
        std::fs::write(&cert_path, cert.as_ref())
            .map_err(|e| NodeError::io(format!("writing {}", cert_path.display()), e))?;
        let tls = session_net::server_config(seed.as_bytes())?;
        let tls_identity = session_net::NodeIdentity::from_seed(seed.as_bytes())?;
        drop(seed);

        let storage = Arc::new(
            Storage::open(
                &config.data_dir.join(DATABASE_FILE),
                config.storage_cap_bytes(),
                config.durability,
            )?
            .with_quota(config.account_quota)
            .with_blob_cap(config.blob_cap_mb.saturating_mul(1024 * 1024))
            .with_wait_limits(config.waits),
        );
        let listener = match bound {
            Some(listener) => listener
                .set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(listener))
                .map_err(|e| NodeError::io("using the given listener", e))?,
            None => TcpListener::bind(config.listen)
                .await
                .map_err(|e| NodeError::io(format!("binding listen {}", config.listen), e))?,
        };
        let https_addr = listener
            .local_addr()
            .map_err(|e| NodeError::io("reading the listen address", e))?;
        let public_key = keys.ed25519_public();
        let listing = SnodeInfo {
            ip: config.public_ip.unwrap_or(https_addr.ip()).to_string(),
            port_https: https_addr.port(),
            port_omq: 0,
            pubkey_ed25519: public_key.to_string(),
            pubkey_x25519: keys.x25519_public().to_string(),
            pubkey_legacy: public_key.to_string(),
        };
        let admin = Arc::new(Admin::new(
            public_key,
            keys.x25519_public().to_string(),
            config.storage_cap_bytes(),
            config.registry_key.is_some(),
        ));
        let identity = Arc::new(keys);
        let network = Arc::new(Network::load(
            public_key,
            listing,
            config.registry()?,
            &config.data_dir,
        ));
        let peers = Arc::new(Peers::new(identity.clone(), tls_identity));
        let observer = Arc::new(Observer::new(config.observe_privacy));
        let service = Arc::new(Service {
            executor: Arc::new(Executor {
                rpc: Arc::new(RpcContext {
                    storage: storage.clone(),
                    identity,
                    network: network.clone(),
                }),
                network: network.clone(),
                peers: peers.clone(),
            }),
            limiter: RateLimiter::new(config.rate_limit),
            relay_limiter: RateLimiter::new(config.relay_rate_limit),
            sync_limiter: RateLimiter::new(config.sync_rate_limit),
            metrics: Arc::new(Metrics::default()),
            observer: observer.clone(),
            connections: ConnectionLimits::new(
                config.max_connections,
                config.node_connections,
                config.max_connections_per_ip,
            ),
            tls_handshake_timeout: Duration::from_millis(config.tls_handshake_timeout_ms),
            db: Arc::new(
                BlockingPool::new(config.db_threads, config.db_queue)
                    .map_err(|e| NodeError::io("starting the database threads", e))?,
            ),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(serve_https(
            listener,
            TlsAcceptor::from(tls),
            service.clone(),
            shutdown_rx.clone(),
        ))];

        let metrics_addr = match config.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| NodeError::io(format!("binding metrics_listen {addr}"), e))?;
                let bound = listener
                    .local_addr()
                    .map_err(|e| NodeError::io("reading the metrics address", e))?;
                tasks.push(tokio::spawn(serve_metrics(
                    listener,
                    service.clone(),
                    admin.clone(),
                    shutdown_rx.clone(),
                )));
                Some(bound)
            }
            None => None,
        };
        tasks.push(tokio::spawn(sweep_expired(
            storage.clone(),
            Duration::from_secs(config.sweep_interval_secs),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(sync::run(
            storage.clone(),
            network.clone(),
            peers.clone(),
            Duration::from_millis(config.sync_interval_ms),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(admin.clone().probe(
            storage.clone(),
            network.clone(),
            peers.clone(),
            shutdown_rx.clone(),
        )));
        let seeds: Sources = Arc::new(RwLock::new(list_source::seed_sources(
            &config.seed_nodes,
            public_key,
            &peers,
        )));
        tasks.push(tokio::spawn(list_source::poll(
            seeds.clone(),
            network.clone(),
            Duration::from_secs(config.list_poll_secs),
            shutdown_rx,
        )));
        tracing::info!(%public_key, %https_addr, "service node started");
        Ok(Self {
            public_key,
            https_addr,
            metrics_addr,
            storage,
            network,
            observer,
            service,
            peers,
            seeds,
            config: Mutex::new(config),
            shutdown,
            tasks,
        })
    }

    /// The node's database (for tests and tools in the same process).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// What this node saw of onion requests (recorded only with `observe_privacy`).
    pub fn observations(&self) -> Vec<onion::Observation> {
        self.observer.observations()
    }

    /// The node's view of the network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Stops every task at once, without letting requests finish: what a crash looks like to
    /// the rest of the network (every acknowledged write is already committed).
    pub fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to 10 s), and stops every task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        // Held waits answer now, so their connections can close within the drain.
        self.storage.waits().close();
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("service node stopped");
    }
}

/// A ticker for a background loop: it fires at once, then every `interval`, and skips ticks
/// that a slow round made it miss instead of bursting.
pub(crate) fn periodic(interval: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Waits for the next tick; false once the node is shutting down.
pub(crate) async fn next_tick(
    ticker: &mut tokio::time::Interval,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = ticker.tick() => true,
        _ = shutdown.changed() => false,
    }
}

/// Deletes expired messages every `interval` until shutdown.
async fn sweep_expired(
    storage: Arc<Storage>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = periodic(interval);
    while next_tick(&mut ticker, &mut shutdown).await {
        let storage = storage.clone();
        match tokio::task::spawn_blocking(move || storage.sweep_expired(now_ms())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(swept)) => tracing::debug!(swept, "expired messages deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "sweeping expired messages failed"),
            Err(e) => tracing::warn!(error = %e, "sweeper task failed"),
        }
    }
}
