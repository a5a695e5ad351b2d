//! The CI version of the soak: 2 minutes (SOAK_SECS to change) of 6 clients messaging through
//! onion paths on 12 node processes while nodes are crashed, restarted and paused and one
//! client's clock jumps by +-50 s, one node forges replication and one client floods an inbox.
//! Nothing acknowledged may be lost or delivered twice, and no forged change may be applied.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use session_testnet::soak::{self, SoakConfig};
use session_testnet::NodeRunner;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_loses_nothing() {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let config = SoakConfig::new(
        Duration::from_secs(secs),
        NodeRunner::Process {
            program: env!("CARGO_BIN_EXE_testnet-node").into(),
            args: Vec::new(),
        },
    );
    let report = soak::run(config).await.unwrap();
    println!("{report}");
    assert!(
        report.acknowledged > 0,
        "nothing was acknowledged:\n{report}"
    );
    assert!(report.kills + report.pauses > 0, "no faults:\n{report}");
    assert_eq!(report.lost, 0, "acknowledged messages lost:\n{report}");
    assert_eq!(report.duplicates, 0, "messages delivered twice:\n{report}");
    assert_eq!(
        report.forge.applied_changes, 0,
        "a forged change was applied:\n{report}"
    );
    assert!(
        report.forge.refused_changes + report.forge.refused_pushes > 0,
        "the forging node was never refused:\n{report}"
    );
}
