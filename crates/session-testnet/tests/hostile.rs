//! The CI version of the hostile-input run: 20 s (HOSTILE_SECS to change) of random and mutated
//! requests, bad bodies, non-TLS bytes and slow-loris connections against one node process,
//! while a well-behaved client stores and reads. The node must stay up, keep its memory bounded
//! and answer the well-behaved client correctly every time, while another node forges
//! replication (none of it may be applied) and a client floods one inbox (held to its quota and
//! rate, with the real nodes' defaults).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use session_node::storage::AccountQuota;
use session_testnet::{hostile, NodeRunner, Testnet, TestnetConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_under_hostile_input_keeps_serving() {
    let secs = std::env::var("HOSTILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let net = Testnet::start(TestnetConfig {
        nodes: 4,
        runner: NodeRunner::Process {
            program: env!("CARGO_BIN_EXE_testnet-node").into(),
            args: Vec::new(),
        },
        account_quota: AccountQuota::default(),
        ..TestnetConfig::default()
    })
    .await
    .unwrap();
    let report = hostile::run(&net, 0, Duration::from_secs(secs), 8)
        .await
        .unwrap();
    net.shutdown().await;
    println!("{report}");
    assert!(report.node_alive, "the node died:\n{report}");
    assert!(
        report.good_ok > 0,
        "the well-behaved client got nothing:\n{report}"
    );
    assert_eq!(report.good_failed, 0, "wrong or missing answers:\n{report}");
    assert!(
        report.sent.values().sum::<u64>() > 100,
        "too little was sent:\n{report}"
    );
    assert!(report.peak_rss < 512 << 20, "memory not bounded:\n{report}");
    assert_eq!(
        report.forge.applied_changes, 0,
        "a forged change was applied:\n{report}"
    );
    // The 4 nodes form one swarm: the forger is a member, so its changes are refused one by one.
    assert!(
        report.forge.refused_changes > 0,
        "the forging node's changes were not refused:\n{report}"
    );
    assert!(
        report.flood.rate_limited > 0 && report.flood.stored < report.flood.sent,
        "the flood was not held back:\n{report}"
    );
}
