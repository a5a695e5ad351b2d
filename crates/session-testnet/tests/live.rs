//! Waiting retrieves through 3-hop onion paths, on a network of node processes: a held wait is
//! answered as soon as a message lands, a relay killed during a wait makes the live stream
//! re-subscribe without losing a message, and waits past a node's cap are refused while
//! ordinary requests go on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_client::{LiveEvent, OnionClient};
use session_net::ConnectionPool;
use session_node::waits::WaitLimits;
use session_swarm::SwarmConfig;
use session_testnet::client::{call, hashes, new_messenger, TestAccount};
use session_testnet::{NodeRunner, Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse};

fn process_runner() -> NodeRunner {
    NodeRunner::Process {
        program: env!("CARGO_BIN_EXE_testnet-node").into(),
        args: Vec::new(),
    }
}

/// Eight node processes in one swarm: every path of 3 relays leaves a destination off it.
async fn network(waits: WaitLimits) -> Testnet {
    Testnet::start(TestnetConfig {
        nodes: 8,
        swarm: SwarmConfig::new(4, 8, 8).unwrap(),
        seeds: 2,
        runner: process_runner(),
        waits,
        ..TestnetConfig::default()
    })
    .await
    .unwrap()
}

fn waiting_retrieve(account: &TestAccount, now: u64, wait_ms: u64) -> Request {
    Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now, None).waiting(wait_ms))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_wait_is_answered_when_a_message_lands() {
    let net = network(WaitLimits::default()).await;
    let account = TestAccount::from_byte(31);
    let id = account.keys.account_id();
    let reader = Arc::new(OnionClient::connect(net.client_config()).await.unwrap());
    let writer = OnionClient::connect(net.client_config()).await.unwrap();
    // Paths and guards are built before the clock starts.
    reader.request(&id, |_| Request::Info).await.unwrap();
    writer.request(&id, |_| Request::Info).await.unwrap();

    // Nothing is held yet: the wait is held until the store.
    let started = Instant::now();
    let waiting = {
        let reader = reader.clone();
        let account = TestAccount::from_byte(31);
        tokio::spawn(async move {
            let body = reader
                .request(&id, |now| waiting_retrieve(&account, now, 20_000))
                .await
                .unwrap();
            (body, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the retrieve was answered before any store"
    );
    let stored_at = Instant::now();
    writer
        .request(&id, |_| account.store(b"while you waited"))
        .await
        .unwrap();
    let (body, answered_at) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap();
    let page: RetrieveResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(page.messages.len(), 1, "{body}");
    assert_eq!(page.wait_ms, Some(20_000), "the node says it waits");
    let after_store = answered_at.duration_since(stored_at);
    assert!(
        after_store < Duration::from_secs(1),
        "answered {after_store:?} after the store began"
    );
    assert!(answered_at.duration_since(started) > Duration::from_millis(1400));

    // With a message already there, a wait answers at once.
    let quick = Instant::now();
    let body = reader
        .request(&id, |now| waiting_retrieve(&account, now, 20_000))
        .await
        .unwrap();
    assert_eq!(hashes(&body).len(), 1);
    assert!(quick.elapsed() < Duration::from_secs(2));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_during_a_wait_loses_no_message() {
    let mut net = network(WaitLimits::default()).await;
    let dirs = tempfile::tempdir().unwrap();
    let short = |c: &mut session_client::ClientConfig| c.timeout = Duration::from_secs(4);
    let alice = Arc::new(
        new_messenger(&net, &dirs.path().join("alice"), short)
            .await
            .unwrap(),
    );
    let bob = Arc::new(
        new_messenger(&net, &dirs.path().join("bob"), short)
            .await
            .unwrap(),
    );
    let bob_id = bob.account_id();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let listener = {
        let bob = bob.clone();
        tokio::spawn(async move {
            let mut incoming = bob.incoming();
            loop {
                let event = incoming.next().await;
                if events.send((event, incoming.retrieves())).is_err() {
                    return;
                }
            }
        })
    };
    // Bob's wait is held on a path; Alice's first message arrives through it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    alice.send(&bob_id, "before the kill").await.unwrap();
    let first = next_message(&mut received).await;
    assert_eq!(first.0, "before the kill");

    // Kill the middle relay of each of Bob's paths while his next wait is held.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let retrieves_before = first.1;
    let addresses = net.addresses();
    let mut killed = Vec::new();
    for path in bob.client().paths() {
        let middle = path.relays[1].address.key;
        let index = addresses.iter().position(|a| a.key == middle).unwrap();
        if !killed.contains(&index) {
            net.kill(index).unwrap();
            killed.push(index);
        }
    }
    assert!(!killed.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = Instant::now();
    alice.send(&bob_id, "after the kill").await.unwrap();
    let second = next_message(&mut received).await;
    assert_eq!(second.0, "after the kill");
    // Well before the held wait (25 s) would have ended on its own, and before the client's
    // timeout of a held retrieve (about 41 s): the stream re-subscribed when its path broke
    // (the retrieve held across the kill, retried on another path, or a later one).
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "{:?}",
        sent.elapsed()
    );
    assert!(second.1 > retrieves_before, "a new retrieve was sent");
    listener.abort();
    // Each message filed once.
    let texts: Vec<String> = bob
        .store()
        .history(&alice.account_id(), 10)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["before the kill", "after the kill"]);
    net.shutdown().await;
}

/// The next message the stream reports (its text, and the stream's retrieve count then);
/// `Offline`/`Online` may come between.
async fn next_message(
    received: &mut tokio::sync::mpsc::UnboundedReceiver<(LiveEvent, u64)>,
) -> (String, u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let (event, retrieves) = tokio::time::timeout_at(deadline, received.recv())
            .await
            .expect("no message within 40 s")
            .expect("the stream ended");
        if let LiveEvent::Received(messages) = event {
            assert_eq!(messages.len(), 1, "{messages:?}");
            return (messages[0].text.clone(), retrieves);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_past_the_cap_are_refused_and_ordinary_requests_go_on() {
    let net = network(WaitLimits {
        max_wait_ms: 20_000,
        max_total: 3,
        max_per_source: 2,
    })
    .await;
    let account = TestAccount::from_byte(32);
    let id = account.keys.account_id();
    let node = net
        .address(net.swarm_members_for(&account.swarm_key())[0])
        .unwrap();
    let pool = Arc::new(ConnectionPool::new());
    let wait = || {
        let (pool, account) = (pool.clone(), TestAccount::from_byte(32));
        tokio::spawn(async move {
            let request = waiting_retrieve(&account, session_testnet::now_ms(), 20_000);
            call(&pool, node, &request).await.unwrap()
        })
    };
    // This address may hold two waits.
    let held = [wait(), wait()];
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(held.iter().all(|h| !h.is_finished()));
    let refused = Instant::now();
    let (status, body) = call(
        &pool,
        node,
        &waiting_retrieve(&account, session_testnet::now_ms(), 20_000),
    )
    .await
    .unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(
        body.as_str()
            .unwrap()
            .contains("too many waiting retrieves from this source"),
        "{body}"
    );
    assert!(
        refused.elapsed() < Duration::from_secs(2),
        "refused at once"
    );

    // Ordinary requests are not affected.
    let (status, body) = call(&pool, node, &account.retrieve(None)).await.unwrap();
    assert_eq!((status, hashes(&body).len()), (200, 0), "{body}");
    let (status, body) = call(&pool, node, &account.store(b"wake up")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Through an onion path (another source, the last relay) a wait is still taken.
    let client = OnionClient::connect(net.client_config()).await.unwrap();
    let body = client
        .request(&id, |now| waiting_retrieve(&account, now, 20_000))
        .await
        .unwrap();
    assert_eq!(hashes(&body).len(), 1, "{body}");

    // The store woke both held waits.
    for handle in held {
        let (status, body) = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((status, hashes(&body).len()), (200, 1), "{body}");
    }
    net.shutdown().await;
}
