//! Replication figures on a 12-node loopback network, printed as a markdown table:
//! - replication latency: a store's round trip, which returns once every swarm member holds it;
//! - catch-up: how long a restarted member takes to pull the messages it missed.
//!
//! Run: `cargo bench -p session-testnet --bench replication` (`-- --quick` for a short run).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use session_net::ConnectionPool;
use session_testnet::client::{call, TestAccount};
use session_testnet::{Testnet, TestnetConfig};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    tokio::runtime::Runtime::new().unwrap().block_on(run(quick));
}

async fn run(quick: bool) {
    let samples = if quick { 200 } else { 2000 };
    let missed: u32 = if quick { 2000 } else { 10_000 };
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let pool = ConnectionPool::new();
    let account = TestAccount::from_byte(1);
    let members = net.swarm_members_for(&account.swarm_key());
    let entry = net.address(members[0]).unwrap();

    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let request = account.store(&(i as u64).to_le_bytes());
        let started = Instant::now();
        let (status, body) = call(&pool, entry, &request).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(status, 200);
        let held = body["swarm"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["failed"] != true)
            .count();
        assert_eq!(held, members.len(), "every member must hold the write");
    }
    times.sort();
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| replication latency, store held by all {} members (n={samples}), p50 / p99 | {:.2} ms / {:.2} ms |",
        members.len(),
        ms(times[samples / 2]),
        ms(times[samples * 99 / 100])
    );

    // Catch-up: one member misses `missed` messages written by 8 concurrent writers.
    let down = members[1];
    let before = net.node(down).unwrap().storage().message_count();
    net.kill(down).unwrap();
    let writers = 8u32;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let entry = net
            .address(members[(w as usize % (members.len() - 2)) + 2])
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let pool = ConnectionPool::new();
            let account = TestAccount::from_byte(1);
            for i in 0..missed / writers {
                let (status, _) = call(
                    &pool,
                    entry,
                    &account.store(&((u64::from(w) + 1) << 32 | u64::from(i)).to_le_bytes()),
                )
                .await
                .unwrap();
                assert_eq!(status, 200);
            }
        }));
    }
    let write_start = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }

    let write_time = write_start.elapsed();
    let target = before + u64::from(missed / writers * writers);
    let started = Instant::now();
    net.restart(down).await.unwrap();
    while net.node(down).unwrap().storage().message_count() < target {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "catch-up did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "| catch-up of a restarted member that missed {} messages (restart to all held) | {:.2} s |",
        missed / writers * writers,
        started.elapsed().as_secs_f64()
    );
    println!(
        "| (writing those {} messages with replication to the 3 live members took) | {:.2} s |",
        missed / writers * writers,
        write_time.as_secs_f64()
    );
    net.shutdown().await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
