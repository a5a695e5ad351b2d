//! The client library against a real network: onion paths, path repair, 421, clock skew, cache.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use session_client::{system_ms, ClientConfig, OnionClient, PATH_RELAYS};
use session_testnet::client::{hashes, TestAccount};
use session_testnet::{Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, StoreParams};

fn client_config(net: &Testnet) -> ClientConfig {
    let mut config = net.client_config();
    config.local_addr = Some(IpAddr::from([127, 0, 0, 2]));
    config.timeout = Duration::from_secs(5);
    config
}

fn store<'a>(account: &'a TestAccount, data: &[u8]) -> impl Fn(u64) -> Request + 'a {
    let data = data.to_vec();
    move |now| {
        Request::Store(StoreParams::deposit(
            &account.keys.account_id(),
            0,
            &data,
            now,
            3_600_000,
        ))
    }
}

fn retrieve(account: &TestAccount) -> impl Fn(u64) -> Request + '_ {
    move |now| Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_travel_onion_paths_to_the_right_swarm() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let account = TestAccount::from_byte(21);
    for i in 0..5u8 {
        let body = client
            .request(&account.keys.account_id(), store(&account, &[i]))
            .await
            .unwrap();
        assert!(body["hash"].is_string());
    }
    let body = client
        .request(&account.keys.account_id(), retrieve(&account))
        .await
        .unwrap();
    assert_eq!(hashes(&body).len(), 5);
    assert!(client.guards().len() >= 2);
    for path in client.paths() {
        assert_eq!(path.relays.len(), PATH_RELAYS);
        let mut keys: Vec<_> = path.relays.iter().map(|r| r.address.key).collect();
        keys.dedup();
        assert_eq!(keys.len(), PATH_RELAYS, "relays are distinct");
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_with_a_dead_middle_node_is_replaced() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    // Warm up two paths.
    for _ in 0..2 {
        client
            .request(
                &TestAccount::from_byte(40).keys.account_id(),
                retrieve(&TestAccount::from_byte(40)),
            )
            .await
            .unwrap();
    }
    let path = client.paths()[0].clone();
    let middle = path.relays[1].address.key;
    let middle_index = net
        .addresses()
        .iter()
        .position(|a| a.key == middle)
        .unwrap();
    // An account whose swarm does not include the node about to die.
    let account = (40u8..120)
        .map(TestAccount::from_byte)
        .find(|a| {
            !net.swarm_members_for(&a.swarm_key())
                .contains(&middle_index)
        })
        .unwrap();
    net.kill(middle_index).unwrap();
    for i in 0..12u8 {
        let result = client
            .request(&account.keys.account_id(), store(&account, &[i, 1]))
            .await;
        assert!(
            result.is_ok(),
            "request {i} after the kill failed: {:?}",
            result.err()
        );
    }
    assert!(
        client
            .paths()
            .iter()
            .all(|p| p.relays.iter().all(|r| r.address.key != middle)),
        "the path through the dead node was dropped"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_refreshes_the_node_list() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let before = client.list().unwrap().version;
    net.add_nodes(4).await.unwrap();
    // An account that the new swarm took over: the client's old list sends it to the wrong swarm.
    let old = client.list().unwrap();
    let account = (1u8..=255)
        .map(TestAccount::from_byte)
        .find(|a| {
            let new_members: Vec<_> = net.swarm_members_for(&a.swarm_key());
            let old_swarm = old.swarm_for(&a.swarm_key()).unwrap();
            !new_members.iter().any(|&i| {
                old_swarm
                    .members
                    .contains(&net.address(i).unwrap().key.to_string())
            })
        })
        .unwrap();
    client
        .request(&account.keys.account_id(), store(&account, b"moved"))
        .await
        .unwrap();
    assert!(
        client.list().unwrap().version > before,
        "the client learned the new list"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_is_corrected_from_the_nodes_time() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let mut config = client_config(&net);
    // Five minutes fast: every signature timestamp would be outside the ±60 s window.
    config.clock = Arc::new(|| system_ms() + 300_000);
    let client = OnionClient::connect(config).await.unwrap();
    let account = TestAccount::from_byte(77);
    client
        .request(&account.keys.account_id(), store(&account, b"x"))
        .await
        .unwrap();
    let body = client
        .request(&account.keys.account_id(), retrieve(&account))
        .await
        .unwrap();
    assert_eq!(hashes(&body).len(), 1);
    assert!(
        client.now_ms().abs_diff(system_ms()) < 5_000,
        "the client's clock was corrected"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_list_is_cached_on_disk() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = client_config(&net);
    config.cache_file = Some(dir.path().join("nodes.json"));
    config.list_max_age = Duration::from_millis(1);
    let first = OnionClient::connect(config.clone()).await.unwrap();
    let version = first.list().unwrap().version;
    // No seeds at all: the cached list is enough to start.
    config.seeds.clear();
    let second = OnionClient::connect(config).await.unwrap();
    assert_eq!(second.list().unwrap().version, version);
    let account = TestAccount::from_byte(5);
    second
        .request(&account.keys.account_id(), store(&account, b"cached"))
        .await
        .unwrap();
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_rotated_after_their_lifetime() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let mut config = client_config(&net);
    config.path_lifetime = Duration::from_millis(500);
    let client = OnionClient::connect(config).await.unwrap();
    let account = TestAccount::from_byte(8);
    client
        .request(&account.keys.account_id(), retrieve(&account))
        .await
        .unwrap();
    assert!(!client.paths().is_empty());
    tokio::time::sleep(Duration::from_millis(700)).await;
    client
        .request(&account.keys.account_id(), retrieve(&account))
        .await
        .unwrap();
    let now = client.paths();
    assert!(!now.is_empty());
    assert!(
        now.iter().all(|p| p.age() < Duration::from_millis(500)),
        "old paths were replaced"
    );
    net.shutdown().await;
}
