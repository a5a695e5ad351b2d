//! Nodes as child processes: start, pause (SIGSTOP), resume, crash (SIGKILL) and restart, with
//! a client storing and reading through onion paths meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use session_client::OnionClient;
use session_testnet::client::TestAccount;
use session_testnet::{NodeRunner, Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};

fn process_runner() -> NodeRunner {
    NodeRunner::Process {
        program: env!("CARGO_BIN_EXE_testnet-node").into(),
        args: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_nodes_survive_pauses_and_crashes() {
    let mut net = Testnet::start(TestnetConfig {
        runner: process_runner(),
        ..TestnetConfig::default()
    })
    .await
    .unwrap();
    assert!(net.process_id(0).is_some());
    assert!(net.node(0).is_none(), "not in this process");
    let account = TestAccount::from_byte(9);
    let id = account.keys.account_id();
    let members = net.swarm_members_for(id.x25519().as_bytes());
    let mut config = net.client_config();
    config.timeout = Duration::from_secs(3);
    let client = OnionClient::connect(config).await.unwrap();

    // One member paused, another crashed: the swarm still takes and serves the message.
    net.pause(members[0]).unwrap();
    net.kill(members[1]).unwrap();
    assert!(!net.is_running(members[1]));
    client
        .request(&id, |now| {
            Request::Store(StoreParams::deposit(&id, 0, b"held", now, 3_600_000))
        })
        .await
        .unwrap();
    net.resume(members[0]).unwrap();
    net.restart(members[1]).await.unwrap();
    // Both catch up from their peers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pool = session_net::ConnectionPool::new();
    for &member in &members {
        let node = net.address(member).unwrap();
        let request = Request::Retrieve(RetrieveParams::signed(
            &account.keys,
            0,
            session_testnet::now_ms(),
            None,
        ));
        let (status, body) = session_testnet::client::call(&pool, node, &request)
            .await
            .unwrap();
        assert_eq!(status, 200, "member {member}: {body}");
        let page: RetrieveResponse = serde_json::from_value(body).unwrap();
        assert_eq!(page.messages.len(), 1, "member {member}");
    }
    net.shutdown().await;
}
