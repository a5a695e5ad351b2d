//! A client recovers on its own, and says what it did at info level: from a node pool that went
//! entirely stale, from dead guards, from a clock five minutes off.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use session_client::{system_ms, ClientConfig, OnionClient};
use session_testnet::client::{hashes, TestAccount};
use session_testnet::{Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, StoreParams};

/// What the client logs at info and above while a test runs. The subscriber is this thread's
/// only: the client's requests run in the test's own future (on this thread), and tests running
/// in parallel on other threads cannot satisfy each other's checks.
struct Logs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    fn capture() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    fn contain(&self, text: &str) -> bool {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).contains(text)
    }
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config(net: &Testnet) -> ClientConfig {
    let mut config = net.client_config();
    config.local_addr = Some(IpAddr::from([127, 0, 0, 3]));
    config.timeout = Duration::from_secs(3);
    config
}

async fn round_trip(client: &OnionClient, account: &TestAccount, data: &[u8]) {
    let id = account.keys.account_id();
    client
        .request(&id, |now| {
            Request::Store(StoreParams::deposit(&id, 0, data, now, 3_600_000))
        })
        .await
        .unwrap();
    let body = client
        .request(&id, |now| {
            Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now, None))
        })
        .await
        .unwrap();
    assert!(!hashes(&body).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_whole_pool_went_stale_reseeds() {
    let logs = Logs::capture();
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&net);
    config.cache_file = Some(dir.path().join("nodes.json"));
    let account = TestAccount::from_byte(41);
    {
        let client = OnionClient::connect(config.clone()).await.unwrap();
        round_trip(&client, &account, b"before").await;
    }
    let cached_version = net.version();

    // While the client is away, every node but the seeds is replaced.
    net.add_nodes(12).await.unwrap();
    let seeds = 3;
    let old: Vec<usize> = (seeds..12).collect();
    net.remove_nodes(&old).await.unwrap();
    // A client starting from the cached list finds most of it gone.
    let client = OnionClient::connect(config).await.unwrap();
    assert_eq!(
        client.list().unwrap().version,
        cached_version,
        "started from the stale cache"
    );
    round_trip(&client, &account, b"after").await;
    assert_eq!(client.list().unwrap().version, net.version());
    assert!(
        logs.contain("re-seeded the node list") || logs.contain("refreshing the node list"),
        "the client did not say it re-seeded"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_guards_died_chooses_new_ones() {
    let logs = Logs::capture();
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let client = OnionClient::connect(config(&net)).await.unwrap();
    let account = TestAccount::from_byte(42);
    round_trip(&client, &account, b"first").await;
    let dead: Vec<_> = client.guards().iter().map(|g| g.address.key).collect();
    assert!(dead.len() >= 2);
    for key in &dead {
        let index = net.addresses().iter().position(|a| a.key == *key).unwrap();
        net.kill(index).unwrap();
    }
    round_trip(&client, &account, b"second").await;
    let guards = client.guards();
    assert!(guards.len() >= 2);
    assert!(guards.iter().all(|g| !dead.contains(&g.address.key)));
    assert!(
        logs.contain("a guard node is unreachable") || logs.contain("re-seeded the node list"),
        "the client did not say it replaced its guards"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_five_minutes_slow_corrects_its_clock_and_says_so() {
    let logs = Logs::capture();
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let mut config = config(&net);
    config.clock = Arc::new(|| system_ms() - 300_000);
    let client = OnionClient::connect(config).await.unwrap();
    round_trip(&client, &TestAccount::from_byte(43), b"late").await;
    assert!(client.now_ms().abs_diff(system_ms()) < 5_000);
    assert!(
        logs.contain("clock differs from the nodes' time") || logs.contain("clock skew reported"),
        "the client did not say it corrected its clock"
    );
    net.shutdown().await;
}
