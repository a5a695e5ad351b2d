//! A real multi-node network on loopback: routing, replication, catch-up, membership changes,
//! and refusal of bad node lists.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use session_crypto::{Ed25519PublicKey, Ed25519Seed};
use session_net::ConnectionPool;
use session_node::server::NODE_LIST_PUSH_PATH;
use session_swarm::{NodeList, SignedNodeList};
use session_testnet::client::{call, hashes, TestAccount};
use session_testnet::{eventually, Testnet, TestnetConfig};

/// Accounts spread over the swarms: `count` accounts from seed bytes starting at `first`.
fn accounts(first: u8, count: u8) -> Vec<TestAccount> {
    (first..first + count).map(TestAccount::from_byte).collect()
}

/// The inbox of `account` as node `index` holds it.
async fn inbox(
    net: &Testnet,
    pool: &ConnectionPool,
    index: usize,
    account: &TestAccount,
) -> (u16, Value) {
    call(pool, net.address(index).unwrap(), &account.retrieve(None))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_live_in_their_swarm_only() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    assert!(
        net.assignment().len() >= 2,
        "12 nodes must form 2 or more swarms"
    );
    let pool = ConnectionPool::new();
    for account in accounts(1, 6) {
        let members = net.swarm_members_for(&account.swarm_key());
        // Store at one member; every member's result is listed and signed by that member.
        let (status, body) = call(
            &pool,
            net.address(members[0]).unwrap(),
            &account.store(b"hi"),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let hash = body["hash"].as_str().unwrap();
        let swarm = body["swarm"].as_object().unwrap();
        assert_eq!(swarm.len(), members.len());
        for (key, result) in swarm {
            let key = Ed25519PublicKey::from_hex(key).unwrap();
            let signature: [u8; 64] = STANDARD
                .decode(result["signature"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            key.verify(hash.as_bytes(), &signature).unwrap();
        }
        // Every member holds it; no other node serves the account.
        for index in 0..12 {
            let (status, body) = inbox(&net, &pool, index, &account).await;
            if members.contains(&index) {
                assert_eq!(status, 200, "{body}");
                assert_eq!(hashes(&body), vec![hash.to_owned()]);
            } else {
                assert_eq!(status, 421, "node {index} answered for another swarm");
                let snodes: BTreeSet<String> = body["snodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["pubkey_ed25519"].as_str().unwrap().to_owned())
                    .collect();
                let expected: BTreeSet<String> = members
                    .iter()
                    .map(|&i| net.address(i).unwrap().key.to_string())
                    .collect();
                assert_eq!(snodes, expected, "the 421 names the right swarm");
            }
        }
        // get_swarm from any node names the members.
        let request = session_wire::rpc::Request::GetSwarm(session_wire::rpc::GetSwarmParams {
            pubkey: account.keys.account_id().to_string(),
        });
        let (_, body) = call(&pool, net.address(11).unwrap(), &request)
            .await
            .unwrap();
        assert_eq!(body["snodes"].as_array().unwrap().len(), members.len());
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_members_catch_up() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let pool = ConnectionPool::new();
    let account = TestAccount::from_byte(7);
    let members = net.swarm_members_for(&account.swarm_key());
    let before = call(
        &pool,
        net.address(members[0]).unwrap(),
        &account.store(b"before"),
    )
    .await
    .unwrap()
    .1;
    let mut expected = vec![before["hash"].as_str().unwrap().to_owned()];

    // Kill half the swarm, store 200 messages through the survivors.
    let (killed, alive) = members.split_at(members.len() / 2);
    for &index in killed {
        net.kill(index).unwrap();
    }
    for i in 0..200u32 {
        let survivor = alive[i as usize % alive.len()];
        let (status, body) = call(
            &pool,
            net.address(survivor).unwrap(),
            &account.store(&i.to_le_bytes()),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        expected.push(body["hash"].as_str().unwrap().to_owned());
        // The killed members are reported as failed.
        let failed = body["swarm"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["failed"] == true)
            .count();
        assert_eq!(failed, killed.len());
    }
    let expected: BTreeSet<String> = expected.into_iter().collect();
    for &index in killed {
        net.restart(index).await.unwrap();
    }
    for &index in killed {
        let caught_up = eventually(Duration::from_secs(30), || async {
            let (status, body) = inbox(&net, &pool, index, &account).await;
            status == 200 && hashes(&body).into_iter().collect::<BTreeSet<_>>() == expected
        })
        .await;
        assert!(
            caught_up,
            "restarted node {index} did not catch up with all 201 messages"
        );
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_expiries_replicate() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let pool = ConnectionPool::new();
    let account = TestAccount::from_byte(9);
    let members = net.swarm_members_for(&account.swarm_key());
    let first = call(
        &pool,
        net.address(members[0]).unwrap(),
        &account.store(b"a"),
    )
    .await
    .unwrap()
    .1;
    let second = call(
        &pool,
        net.address(members[0]).unwrap(),
        &account.store(b"b"),
    )
    .await
    .unwrap()
    .1;
    let (h1, h2) = (
        first["hash"].as_str().unwrap().to_owned(),
        second["hash"].as_str().unwrap().to_owned(),
    );

    let delete = session_wire::rpc::Request::Delete(session_wire::rpc::DeleteParams {
        pubkey: account.keys.account_id().to_string(),
        messages: vec![h1.clone()],
        required: false,
        auth: session_wire::rpc::Auth::signed_by(&account.keys, format!("delete{h1}").as_bytes()),
    });
    let (status, body) = call(&pool, net.address(members[1]).unwrap(), &delete)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let expiry = session_testnet::now_ms() + 120_000;
    let expire = session_wire::rpc::Request::Expire(session_wire::rpc::ExpireParams {
        pubkey: account.keys.account_id().to_string(),
        messages: vec![h2.clone()],
        expiry,
        shorten: false,
        extend: false,
        timestamp: None,
        auth: session_wire::rpc::Auth::signed_by(
            &account.keys,
            format!("expire{expiry}{h2}").as_bytes(),
        ),
    });
    let (status, body) = call(&pool, net.address(members[2]).unwrap(), &expire)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for &index in &members {
        let (_, body) = inbox(&net, &pool, index, &account).await;
        assert_eq!(hashes(&body), vec![h2.clone()], "node {index}");
        assert_eq!(body["messages"][0]["expiration"], expiry, "node {index}");
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_follow_swarm_splits_and_dissolutions() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let pool = ConnectionPool::new();
    let everyone = accounts(30, 40);
    let mut stored = Vec::new();
    for account in &everyone {
        let members = net.swarm_members_for(&account.swarm_key());
        let (status, body) = call(
            &pool,
            net.address(members[0]).unwrap(),
            &account.store(b"kept"),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        stored.push(body["hash"].as_str().unwrap().to_owned());
    }
    let swarms_before = net.assignment().len();

    // Four more nodes: a new swarm splits off.
    net.add_nodes(4).await.unwrap();
    assert_eq!(net.assignment().len(), swarms_before + 1);
    check_all_retrievable(&net, &pool, &everyone, &stored).await;

    // Two nodes of one swarm leave: it falls under the minimum and dissolves.
    let some_swarm = net.assignment().swarm_ids()[0];
    let leaving: Vec<usize> = {
        let members: Vec<Ed25519PublicKey> =
            net.assignment().members(some_swarm).copied().collect();
        net.addresses()
            .iter()
            .enumerate()
            .filter(|(_, a)| members.contains(&a.key))
            .map(|(i, _)| i)
            .take(2)
            .collect()
    };
    let before = net.assignment().len();
    net.remove_nodes(&leaving).await.unwrap();
    assert!(net.assignment().len() < before, "the swarm dissolved");
    check_all_retrievable(&net, &pool, &everyone, &stored).await;
    net.shutdown().await;
}

/// Every account's message is retrievable from every member of its current swarm.
async fn check_all_retrievable(
    net: &Testnet,
    pool: &ConnectionPool,
    everyone: &[TestAccount],
    stored: &[String],
) {
    for (account, hash) in everyone.iter().zip(stored) {
        for index in net.swarm_members_for(&account.swarm_key()) {
            let found = eventually(Duration::from_secs(30), || async {
                let (status, body) = inbox(net, pool, index, account).await;
                status == 200 && hashes(&body).contains(hash)
            })
            .await;
            assert!(
                found,
                "a message was not retrievable from node {index} of its new swarm"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_node_lists_are_refused_and_the_old_one_kept() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let node = net.address(0).unwrap();
    let held = net.node(0).unwrap().network().list().unwrap();
    let push = |list: SignedNodeList| async move {
        session_net::post_once(
            node,
            NODE_LIST_PUSH_PATH,
            serde_json::to_vec(&list).unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .status
    };
    let mut newer: NodeList = (*held).clone();
    newer.version += 1;
    // Signed by a key that is not the registry's.
    let impostor = Ed25519Seed::from_bytes([66; 32]).key_pair();
    assert_eq!(push(newer.sign(&impostor)).await, 401);
    // Unsigned.
    let mut unsigned = newer.sign(&impostor);
    unsigned.signature = String::new();
    assert_eq!(push(unsigned).await, 401);
    // Tampered after signing (a real signature over other bytes).
    let real = net.node(0).unwrap().network().signed().unwrap();
    let mut bytes = STANDARD.decode(&real.list).unwrap();
    bytes[20] ^= 1;
    assert_eq!(
        push(SignedNodeList {
            list: STANDARD.encode(bytes),
            signature: real.signature.clone()
        })
        .await,
        401
    );
    // Stale: the list it already holds.
    assert_eq!(push(real).await, 409);
    assert_eq!(
        net.node(0).unwrap().network().list().unwrap().version,
        held.version
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_under_load_loses_nothing() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let writers = 8;
    let per_writer = 250u32;
    let mut tasks = Vec::new();
    let addresses = net.addresses();
    for w in 0..writers {
        let account = TestAccount::from_byte(100 + w as u8);
        let members = net.swarm_members_for(&account.swarm_key());
        let addresses = addresses.clone();
        tasks.push(tokio::spawn(async move {
            let pool = ConnectionPool::new();
            let mut hashes_stored = Vec::new();
            for i in 0..per_writer {
                let target = addresses[members[i as usize % members.len()]];
                let (status, body) = call(&pool, target, &account.store(&i.to_le_bytes()))
                    .await
                    .unwrap();
                assert_eq!(status, 200, "{body}");
                hashes_stored.push(body["hash"].as_str().unwrap().to_owned());
            }
            (account, members, hashes_stored)
        }));
    }
    let pool = ConnectionPool::new();
    let mut total = 0;
    for task in tasks {
        let (account, members, stored) = task.await.unwrap();
        total += stored.len();
        let expected: BTreeSet<String> = stored.into_iter().collect();
        for index in members {
            let (status, body) = inbox(&net, &pool, index, &account).await;
            assert_eq!(status, 200);
            let held: BTreeSet<String> = hashes(&body).into_iter().collect();
            assert_eq!(held, expected, "member {index} differs");
        }
    }
    assert_eq!(total, 2000);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_learn_new_lists_from_seeds_and_bootstrap_json_rpc() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    // Node 11 misses a published list while down, and learns it from the seeds after restart.
    net.kill(11).unwrap();
    net.add_nodes(1).await.unwrap();
    let version = net.version();
    std::fs::remove_file(net.base_dir().join("node-11").join("node_list.json")).ok();
    net.restart(11).await.unwrap();
    let learned = eventually(Duration::from_secs(15), || async {
        net.node(11)
            .and_then(|n| n.network().list())
            .is_some_and(|l| l.version == version)
    })
    .await;
    assert!(learned, "node 11 did not learn the list from the seeds");

    // The reference's bootstrap call.
    let response = session_net::post_once(
        net.address(0).unwrap(),
        "/json_rpc",
        br#"{"jsonrpc":"2.0","id":1,"method":"get_n_service_nodes"}"#.to_vec(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let states = body["result"]["service_node_states"].as_array().unwrap();
    assert_eq!(states.len(), 13);
    for state in states {
        for field in [
            "public_ip",
            "storage_port",
            "storage_lmq_port",
            "pubkey_ed25519",
            "pubkey_x25519",
            "service_node_pubkey",
            "swarm_id",
        ] {
            assert!(state.get(field).is_some(), "missing {field}");
        }
    }
    net.shutdown().await;
}
