//! Throughput and latency of one node over loopback HTTPS, printed as a markdown table.
//!
//! Run: `cargo bench -p session-node --bench node_throughput` (`-- --quick` for a short run).
//! Client and node share this machine's cores, so the figures are a lower bound for the node.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(quick));
}

async fn run(quick: bool) {
    let window = Duration::from_secs(if quick { 2 } else { 5 });
    let preload: u32 = if quick { 20_000 } else { 100_000 };
    let node = TestNode::start_with(|c| c.storage_cap_mb = 16 * 1024).await;
    println!("| measurement | clients | result |");
    println!("|---|---|---|");
    for clients in [1usize, 16, 64] {
        let rate = stores_per_second(&node, clients, window).await;
        println!("| store 1 KiB, stores/s | {clients} | {rate:.0} |");
    }
    for clients in [1usize, 16, 64] {
        let rate = retrieves_per_second(&node, clients, window).await;
        println!("| retrieve (poll after last hash), retrieves/s | {clients} | {rate:.0} |");
    }
    let started = Instant::now();
    preload_messages(&node, preload);
    let load_time = started.elapsed();
    let (p50, p99) = retrieve_latency(&node, if quick { 500 } else { 2000 }).await;
    println!(
        "| retrieve latency with {} messages stored, p50 / p99 | 1 | {:.3} ms / {:.3} ms |",
        node.node.storage().message_count(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    println!(
        "\n(preloaded {preload} messages directly into storage in {:.1} s)",
        load_time.as_secs_f64()
    );
    node.node.shutdown().await;
}

async fn stores_per_second(node: &TestNode, clients: usize, window: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = node.client().await;
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let account = Account::new(c as u8);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut data = vec![0u8; 1024];
                data[..8].copy_from_slice(&i.to_le_bytes());
                data[8] = c as u8;
                client
                    .ok("store", account.store_params(0, &data, 3_600_000))
                    .await;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed.as_secs_f64()
}

async fn retrieves_per_second(node: &TestNode, clients: usize, window: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = node.client().await;
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            // A fresh account with 10 messages, polled after its newest (an idle inbox).
            let account = Account::new(100 + c as u8);
            for i in 0..10u8 {
                client
                    .ok("store", account.store_params(0, &[i; 1024], 3_600_000))
                    .await;
            }
            let last = hashes(
                &client
                    .ok("retrieve", account.retrieve_params(0, None))
                    .await,
            )
            .pop();
            while !stop.load(Ordering::Relaxed) {
                client
                    .ok("retrieve", account.retrieve_params(0, last.as_deref()))
                    .await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Fills the database: 1,000 accounts with `total / 1000` 1 KiB messages each.
fn preload_messages(node: &TestNode, total: u32) {
    let storage = node.node.storage();
    let now = now_ms();
    for i in 0..total {
        let mut owner = [0x05u8; 33];
        owner[1..5].copy_from_slice(&(i % 1000).to_le_bytes());
        owner[5] = 0xee;
        let mut hash = [0u8; 32];
        hash[..4].copy_from_slice(&i.to_le_bytes());
        hash[4] = 0xee;
        storage
            .store(&owner, 0, &hash, now, now + 3_600_000, &[7u8; 1024], false)
            .unwrap();
    }
}

/// p50 and p99 of a retrieve that returns an account's 10 newest messages.
async fn retrieve_latency(node: &TestNode, samples: usize) -> (Duration, Duration) {
    let mut client = node.client().await;
    let account = Account::new(250);
    for i in 0..100u32 {
        client
            .ok(
                "store",
                account.store_params(0, &[i as u8; 1024], 3_600_000),
            )
            .await;
    }
    let mut params = account.retrieve_params(0, None);
    params["max_count"] = 90.into();
    let after = hashes(&client.ok("retrieve", params).await).pop().unwrap();
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let params = account.retrieve_params(0, Some(&after));
        let started = Instant::now();
        let body = client.ok("retrieve", params).await;
        times.push(started.elapsed());
        assert_eq!(hashes(&body).len(), 10);
    }
    times.sort();
    (times[samples / 2], times[samples * 99 / 100])
}
