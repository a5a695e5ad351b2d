//! Onion figures on a 12-node loopback network, printed as a markdown table:
//! - requests/s one node relays (first relay of a 2-node path: peel one layer, forward, return
//!   the reply), against the same process's raw cost of one X25519 + AEAD decrypt of a layer of
//!   the same size on the same two cores, measured in the same run;
//! - end-to-end latency of a `retrieve` through 3 relays with the client library.
//!
//! Run: `cargo bench -p session-testnet --bench onion` (`-- --quick` for a short run).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_client::OnionClient;
use session_crypto::{HopCipher, HopKey, OsRng, X25519SecretKey};
use session_net::Connection;
use session_testnet::client::TestAccount;
use session_testnet::{Testnet, TestnetConfig};
use session_wire::onion::build_onion;
use session_wire::rpc::{Request, RetrieveParams};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    tokio::runtime::Runtime::new().unwrap().block_on(run(quick));
}

async fn run(quick: bool) {
    let window = Duration::from_secs(if quick { 2 } else { 8 });
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let hops = net.hops();
    let relay = net.address(0).unwrap();

    // Relay throughput of node 0: onions [node 0, node 1] asking node 1 for `info`.
    let onions: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            build_onion(
                &[hops[0], hops[1]],
                &Request::Info.to_json(),
                HopCipher::XChaCha20,
                &mut OsRng,
            )
            .unwrap()
            .body
        })
        .collect();
    let layer_len = onions[0].len();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (done, stop, onions) = (done.clone(), stop.clone(), onions.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(relay, Duration::from_secs(10))
                .await
                .unwrap();
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let response = connection
                    .post(
                        "/onion_req/v2",
                        onions[i % onions.len()].clone(),
                        Duration::from_secs(10),
                    )
                    .await
                    .unwrap();
                assert_eq!(response.status, 200);
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let relayed = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    for task in tasks {
        task.await.unwrap();
    }

    // The raw cost of the same crypto on the same two cores.
    let raw = raw_hop_decrypts_per_second(layer_len, window);
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| onion requests relayed by one node per second (16 concurrent clients) | {relayed:.0} |"
    );
    println!("| raw X25519 + AEAD decrypts of a {layer_len}-byte layer per second, 2 threads | {raw:.0} |");
    println!("| ratio relayed / raw | {:.3} |", relayed / raw);

    // End to end: retrieve through 3 relays with the client library.
    let mut config = net.client_config();
    config.local_addr = Some(IpAddr::from([127, 0, 0, 2]));
    let client = OnionClient::connect(config).await.unwrap();
    let account = TestAccount::from_byte(3);
    let samples = if quick { 200 } else { 1000 };
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        client
            .request(&account.keys.account_id(), |now| {
                Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now, None))
            })
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "| end-to-end `retrieve` through 3 relays (n={samples}), p50 / p99 | {:.2} ms / {:.2} ms |",
        times[samples / 2].as_secs_f64() * 1e3,
        times[samples * 99 / 100].as_secs_f64() * 1e3
    );
    net.shutdown().await;
}

fn raw_hop_decrypts_per_second(len: usize, window: Duration) -> f64 {
    let node = Arc::new(X25519SecretKey::generate(&mut OsRng));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (node, stop, done) = (node.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let eph = X25519SecretKey::generate(&mut OsRng);
                let key =
                    HopKey::for_client(HopCipher::XChaCha20, &eph, &node.public_key()).unwrap();
                let layer = key
                    .encrypt(&vec![7u8; len.saturating_sub(40)], &mut OsRng)
                    .unwrap();
                let eph_public = eph.public_key();
                while !stop.load(Ordering::Relaxed) {
                    let key = HopKey::for_node(HopCipher::XChaCha20, &node, &eph_public).unwrap();
                    key.decrypt(&layer).unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
