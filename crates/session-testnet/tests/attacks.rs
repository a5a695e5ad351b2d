//! Attacks on a real network of node processes, each asserting that the attack fails while
//! honest traffic succeeds: forged replication from nodes outside and inside the victim's swarm
//! (hand-over push, forwarded write, and a journal served to pulling peers), revocations that
//! must reach members that were down and members that join later, and one client flooding one
//! account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use session_net::{ConnectionPool, NodeAddress};
use session_node::executor::FORWARD_PATH;
use session_node::peer::Peers;
use session_node::storage::AccountQuota;
use session_node::sync::{PULL_PATH, PUSH_PATH};
use session_swarm::SwarmConfig;
use session_testnet::client::{call, hashes, TestAccount};
use session_testnet::{eventually, now_ms, NodeRunner, Testnet, TestnetConfig};
use session_wire::rpc::{RawRequest, Request, RetrieveParams, StoreParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Year 2100 in Unix milliseconds.
const YEAR_2100_MS: u64 = 4_102_444_800_000;

async fn process_network(nodes: usize, swarm: SwarmConfig, quota: Option<AccountQuota>) -> Testnet {
    let defaults = TestnetConfig::default();
    Testnet::start(TestnetConfig {
        nodes,
        swarm,
        runner: NodeRunner::Process {
            program: env!("CARGO_BIN_EXE_testnet-node").into(),
            args: Vec::new(),
        },
        account_quota: quota.unwrap_or(defaults.account_quota),
        ..defaults
    })
    .await
    .unwrap()
}

/// Node-to-node requests as node `index`, with the identity an attacker who runs it holds.
fn as_node(net: &Testnet, index: usize) -> Peers {
    let dir = net.base_dir().join(format!("node-{index:02}"));
    let (seed, keys) = session_node::identity::load_or_create(&dir).unwrap();
    Peers::new(
        Arc::new(keys),
        session_net::NodeIdentity::from_seed(seed.as_bytes()).unwrap(),
    )
}

/// A storage-RPC request from JSON.
fn request(method: &str, params: Value) -> Request {
    Request::from_raw(RawRequest {
        method: method.into(),
        params,
    })
    .unwrap()
}

/// A signed retrieve of `namespace`, with the messages' hashes and expiries.
async fn held(
    pool: &ConnectionPool,
    node: NodeAddress,
    account: &TestAccount,
    namespace: i16,
) -> Vec<(String, u64)> {
    // Page by page: a retrieve answers at most 7.8 MB (counted as the reference counts it).
    let mut out: Vec<(String, u64)> = Vec::new();
    loop {
        let last = out.last().map(|(hash, _)| hash.clone());
        let mut params = RetrieveParams::signed(&account.keys, namespace, now_ms(), last);
        params.max_count = Some(10_000);
        params.max_size = Some(i64::MAX);
        let (status, body) = call(pool, node, &Request::Retrieve(params)).await.unwrap();
        assert_eq!(status, 200, "{body}");
        out.extend(body["messages"].as_array().unwrap().iter().map(|m| {
            (
                m["hash"].as_str().unwrap().to_owned(),
                m["expiration"].as_u64().unwrap(),
            )
        }));
        if body["more"] != true {
            return out;
        }
    }
}

/// The forged changes an attacking node passes on for `victim`, whose inbox holds `kept`:
/// delete it, expire it in a second, store into a private namespace until 2100 without the
/// owner's signature, and delete (tombstone) `future` before it is stored.
fn forged_changes(victim: &TestAccount, kept: &str, future: &str) -> Vec<Value> {
    let owner = victim.keys.account_id().to_string();
    let data = b"planted by a node";
    let planted = session_wire::message_hash(&hex_owner(victim), 2, data);
    let now = now_ms();
    // A proof that names the message but carries a signature the owner never made.
    let fake_proof = serde_json::to_string(&json!({
        "method": "expire",
        "params": {"pubkey": owner, "messages": [kept], "expiry": now + 1000,
                   "pubkey_ed25519": victim.keys.ed25519_public().to_string(),
                   "signature": STANDARD.encode([7u8; 64])},
    }))
    .unwrap();
    vec![
        json!({"id": 0, "owner": owner, "op": "delete", "hash": b64_of(kept), "expiry": now + 60_000}),
        json!({"id": 0, "owner": owner, "op": "expire", "hash": b64_of(kept), "expiry": now + 1000,
               "proof": fake_proof}),
        json!({"id": 0, "owner": owner, "op": "store", "hash": b64_of(&planted), "expiry": YEAR_2100_MS,
               "namespace": 2, "timestamp": now, "data": STANDARD.encode(data)}),
        json!({"id": 0, "owner": owner, "op": "delete", "hash": b64_of(future), "expiry": now + 60_000}),
    ]
}

/// The 33-byte account key (prefix and X25519 key) that message hashes cover.
fn hex_owner(account: &TestAccount) -> [u8; 33] {
    let mut owner = [0x05u8; 33];
    owner[1..].copy_from_slice(&account.swarm_key());
    owner
}

/// A message hash (unpadded base64) in the padded form the journal wire format uses.
fn b64_of(hash: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(hash)
        .unwrap();
    STANDARD.encode(raw)
}

/// Stores a deposit at `node` and returns its hash and expiry, checking every member took it.
async fn store(
    pool: &ConnectionPool,
    node: NodeAddress,
    account: &TestAccount,
    data: &[u8],
) -> (String, u64) {
    let timestamp = now_ms();
    let params = StoreParams::deposit(&account.keys.account_id(), 0, data, timestamp, 3_600_000);
    let (status, body) = call(pool, node, &Request::Store(params)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    for (member, result) in body["swarm"].as_object().unwrap() {
        assert!(result.get("failed").is_none(), "{member}: {result}");
    }
    (
        body["hash"].as_str().unwrap().to_owned(),
        timestamp + 3_600_000,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replication_is_refused_from_outside_and_inside_the_swarm() {
    // 10 nodes in two swarms of 5.
    let mut net = process_network(10, SwarmConfig::new(5, 5, 9).unwrap(), None).await;
    let pool = ConnectionPool::new();
    let victim = TestAccount::from_byte(41);
    let members = net.swarm_members_for(&victim.swarm_key());
    assert_eq!(members.len(), 5);
    let outsider = (0..10).find(|i| !members.contains(i)).unwrap();
    let insider = members[4];
    let kept = store(&pool, net.address(members[0]).unwrap(), &victim, b"kept").await;
    let future_data = b"stored after the attack";
    let future = session_wire::message_hash(&hex_owner(&victim), 0, future_data);

    // 1. Hand-over pushes of forged changes, from a node of another swarm and from a member.
    for (attacker, expected_status) in [(outsider, 403), (insider, 200)] {
        let peers = as_node(&net, attacker);
        for target in &members[..4] {
            let body = json!({"changes": forged_changes(&victim, &kept.0, &future)});
            let response = peers
                .post(
                    net.address(*target).unwrap(),
                    PUSH_PATH,
                    serde_json::to_vec(&body).unwrap(),
                )
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&response.body).into_owned();
            assert_eq!(response.status, expected_status, "{text}");
            if expected_status == 200 {
                // A member of the swarm gets every forged change refused.
                let answer: Value = serde_json::from_slice(&response.body).unwrap();
                assert_eq!(answer["refused"], 4, "{answer}");
            }
        }
    }

    // 2. Forwarded writes: from outside the swarm refused outright; from a member, a write
    //    without the owner's signature is refused like a client's.
    let delete = json!({"method": "delete", "params": {"pubkey": victim.keys.account_id().to_string(),
        "messages": [kept.0], "pubkey_ed25519": victim.keys.ed25519_public().to_string(),
        "signature": STANDARD.encode([9u8; 64])}});
    for (attacker, expected_status) in [(outsider, 403), (insider, 401)] {
        let peers = as_node(&net, attacker);
        let response = peers
            .post(
                net.address(members[0]).unwrap(),
                FORWARD_PATH,
                serde_json::to_vec(&delete).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.status,
            expected_status,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
    }

    // 3. A member's journal, forged: the insider is replaced by a server with its identity
    //    that serves the forged changes, and one honest deposit, to every member that pulls.
    net.stop(insider).await.unwrap();
    let honest_data = b"an honest deposit in the journal";
    let honest_hash = session_wire::message_hash(&hex_owner(&victim), 0, honest_data);
    let honest_expiry = now_ms() + 3_600_000;
    let mut journal = forged_changes(&victim, &kept.0, &future);
    journal.push(
        json!({"id": 0, "owner": victim.keys.account_id().to_string(), "op": "store",
        "hash": b64_of(&honest_hash), "expiry": honest_expiry, "namespace": 0,
        "timestamp": now_ms(), "data": STANDARD.encode(honest_data)}),
    );
    for (id, change) in journal.iter_mut().enumerate() {
        change["id"] = json!(id + 1);
    }
    let (server, served) = serve_forged_journal(&net, insider, journal).await;
    let survivors: Vec<usize> = members.iter().copied().filter(|&m| m != insider).collect();
    let pulled = eventually(Duration::from_secs(20), || async {
        let mut all = true;
        for &index in &survivors {
            let inbox = held(&pool, net.address(index).unwrap(), &victim, 0).await;
            all &= inbox.iter().any(|(h, _)| *h == honest_hash);
        }
        // Every survivor pulls every peer: by now each has read the forged journal itself.
        all && *served.lock().unwrap() >= 2 * survivors.len()
    })
    .await;
    assert!(
        pulled,
        "members took the honest change from the journal (the forged ones did not stop the \
         pull); pulls served: {}",
        served.lock().unwrap()
    );
    server.abort();
    let _ = server.await;
    net.restart(insider).await.unwrap();

    // 4. After all that: the victim's messages are intact everywhere, and a store of the hash
    //    the attackers tried to tombstone is kept.
    let after = store(
        &pool,
        net.address(members[1]).unwrap(),
        &victim,
        future_data,
    )
    .await;
    assert_eq!(after.0, future);
    let inbox_of = |index: usize| net.address(index).unwrap();
    for &index in &survivors {
        let mut inbox: Vec<String> = held(&pool, inbox_of(index), &victim, 0)
            .await
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        inbox.sort();
        let mut want = vec![kept.0.clone(), honest_hash.clone(), future.clone()];
        want.sort();
        assert_eq!(inbox, want, "node {index}");
    }
    for &index in &survivors {
        let expiry = held(&pool, inbox_of(index), &victim, 0)
            .await
            .into_iter()
            .find(|(h, _)| *h == kept.0)
            .unwrap()
            .1;
        assert_eq!(expiry, kept.1, "node {index} kept the original expiry");
        assert!(held(&pool, inbox_of(index), &victim, 2).await.is_empty());
    }
    net.shutdown().await;
}

/// Serves `changes` as node `index`'s journal on its address, with its TLS identity; returns
/// the server task and the number of pulls answered.
async fn serve_forged_journal(
    net: &Testnet,
    index: usize,
    changes: Vec<Value>,
) -> (tokio::task::JoinHandle<()>, Arc<std::sync::Mutex<usize>>) {
    let dir = net.base_dir().join(format!("node-{index:02}"));
    let (seed, _) = session_node::identity::load_or_create(&dir).unwrap();
    let tls = session_net::server_config(seed.as_bytes()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind(net.address(index).unwrap().addr)
        .await
        .unwrap();
    let served = Arc::new(std::sync::Mutex::new(0usize));
    let count = served.clone();
    let last = changes.len();
    let server = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, changes, count) = (acceptor.clone(), changes.clone(), count.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One request per connection: read the head and the body, answer, close.
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                let body_start = loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while request.len() < body_start + length {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let body = if head.starts_with(&format!("post {PULL_PATH} ")) {
                    let pull: Value =
                        serde_json::from_slice(&request[body_start..]).unwrap_or_default();
                    let after = pull["after"].as_u64().unwrap_or(0) as usize;
                    *count.lock().unwrap() += 1;
                    let page: Vec<Value> = changes.into_iter().skip(after).collect();
                    json!({"changes": page, "next": last, "more": false}).to_string()
                } else {
                    "{}".to_owned()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (server, served)
}

/// A read-only subaccount token for `delegate` on `owner`'s account, and the owner's signature.
fn token_for(owner: &TestAccount, delegate: &TestAccount) -> (Vec<u8>, String) {
    let mut token = vec![0x05, 0x01, 0, 0];
    token.extend_from_slice(delegate.keys.ed25519_public().as_bytes());
    let signature = STANDARD.encode(owner.keys.sign(&token));
    (token, signature)
}

/// The delegate's retrieve of the owner's namespace 3 with the token.
fn delegated_retrieve(
    owner: &TestAccount,
    delegate: &TestAccount,
    token: &[u8],
    sig: &str,
) -> Request {
    let ts = now_ms();
    request(
        "retrieve",
        json!({"pubkey": owner.keys.account_id().to_string(), "namespace": 3, "timestamp": ts,
               "pubkey_ed25519": owner.keys.ed25519_public().to_string(),
               "subaccount": STANDARD.encode(token), "subaccount_sig": sig,
               "signature": STANDARD.encode(delegate.keys.sign(format!("retrieve3{ts}").as_bytes()))}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_members_that_were_down_and_members_that_join() {
    // One swarm of 5 that can grow to 9.
    let mut net = process_network(5, SwarmConfig::new(5, 5, 9).unwrap(), None).await;
    let pool = ConnectionPool::new();
    let owner = TestAccount::from_byte(51);
    let delegate = TestAccount::from_byte(52);
    let members = net.swarm_members_for(&owner.swarm_key());
    assert_eq!(members.len(), 5);
    let (token, token_sig) = token_for(&owner, &delegate);

    // The owner keeps a message in its private namespace 3; the delegate can read it anywhere.
    let store = Request::Store(
        StoreParams::deposit(
            &owner.keys.account_id(),
            3,
            b"for delegates",
            now_ms(),
            3_600_000,
        )
        .signed_by(&owner.keys),
    );
    let (status, body) = call(&pool, net.address(members[0]).unwrap(), &store)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for &index in &members {
        let read = delegated_retrieve(&owner, &delegate, &token, &token_sig);
        let (status, body) = call(&pool, net.address(index).unwrap(), &read)
            .await
            .unwrap();
        assert_eq!(
            (status, hashes(&body).len()),
            (200, 1),
            "node {index}: {body}"
        );
    }

    // A member is down while the owner revokes the token.
    let down = members[4];
    net.kill(down).unwrap();
    let ts = now_ms();
    let mut signed = format!("revoke_subaccount{ts}").into_bytes();
    signed.extend_from_slice(&token);
    let revoke = request(
        "revoke_subaccount",
        json!({"pubkey": owner.keys.account_id().to_string(), "revoke": STANDARD.encode(&token),
               "timestamp": ts, "pubkey_ed25519": owner.keys.ed25519_public().to_string(),
               "signature": STANDARD.encode(owner.keys.sign(&signed))}),
    );
    let (status, body) = call(&pool, net.address(members[0]).unwrap(), &revoke)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    net.restart(down).await.unwrap();

    // Once it has caught up, no member lets the token read.
    let refused_everywhere = |net: &Testnet, indices: Vec<usize>| {
        let net_addresses: Vec<NodeAddress> =
            indices.iter().map(|&i| net.address(i).unwrap()).collect();
        let (pool, owner, delegate, token, token_sig) =
            (&pool, &owner, &delegate, &token, &token_sig);
        async move {
            let mut codes = Vec::new();
            for address in net_addresses {
                let read = delegated_retrieve(owner, delegate, token, token_sig);
                codes.push(call(pool, address, &read).await.unwrap().0);
            }
            codes
        }
    };
    let caught_up = eventually(Duration::from_secs(20), || async {
        refused_everywhere(&net, members.clone())
            .await
            .iter()
            .all(|&c| c == 401)
    })
    .await;
    assert!(
        caught_up,
        "the token still reads somewhere: {:?}",
        refused_everywhere(&net, members.clone()).await
    );

    // A node that joins the swarm later learns the revocation with the messages.
    let added = net.add_nodes(1).await.unwrap()[0];
    assert!(net.swarm_members_for(&owner.swarm_key()).contains(&added));
    let joined = eventually(Duration::from_secs(20), || async {
        let own = held(&pool, net.address(added).unwrap(), &owner, 3).await;
        own.len() == 1 && refused_everywhere(&net, vec![added]).await == vec![401]
    })
    .await;
    assert!(
        joined,
        "the new member caught up the owner's message and the revocation"
    );
    // Still 401 a while later on every member (the revocation is not lost again).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = net.swarm_members_for(&owner.swarm_key());
    assert!(refused_everywhere(&net, all)
        .await
        .iter()
        .all(|&c| c == 401));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_fill_an_inbox_or_the_network() {
    let quota = AccountQuota {
        max_messages: 120,
        max_bytes: 16 << 20,
        deposits_per_second: 10.0,
        deposit_burst: 30.0,
    };
    let net = process_network(8, TestnetConfig::default().swarm, Some(quota)).await;
    let pool = ConnectionPool::new();
    let victim = TestAccount::from_byte(61);
    let members = net.swarm_members_for(&victim.swarm_key());
    let entry = net.address(members[0]).unwrap();
    let big = vec![0xAB; 60_000];

    let deposit = |n: u64| {
        let mut data = big.clone();
        data[..8].copy_from_slice(&n.to_le_bytes());
        StoreParams::deposit(&victim.keys.account_id(), 0, &data, now_ms(), 3_600_000)
    };
    let mut tally = Tally::default();
    // 80 deposits at once: the per-account rate lets the burst through and refuses the rest.
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..80u64 {
        let request = Request::Store(deposit(n));
        sends.spawn(async move {
            let pool = ConnectionPool::new();
            call(&pool, entry, &request).await.unwrap()
        });
    }
    while let Some(answer) = sends.join_next().await {
        let (status, body) = answer.unwrap();
        tally.add(u64::from(status), &body.to_string());
    }
    // Then batches of 20 (each sub-request a deposit of its own) until the quota is reached.
    let started = Instant::now();
    let mut n = 1000u64;
    while tally.full == 0 && started.elapsed() < Duration::from_secs(60) {
        let subrequests: Vec<Value> = (0..20)
            .map(|_| {
                n += 1;
                json!({"method": "store", "params": serde_json::to_value(deposit(n)).unwrap()})
            })
            .collect();
        let batch = request("batch", json!({"requests": subrequests}));
        let (status, body) = call(&pool, entry, &batch).await.unwrap();
        assert_eq!(status, 200, "{body}");
        for result in body["results"].as_array().unwrap() {
            tally.add(
                result["code"].as_u64().unwrap(),
                &result["body"].to_string(),
            );
        }
    }
    assert!(
        tally.rate_limited > 0,
        "the per-account rate held the flood back"
    );
    assert!(tally.full > 0, "the flood reached the quota");
    assert_eq!(
        tally.accepted, 120,
        "exactly the quota's messages were taken"
    );
    // What was taken stays, on every member (a member whose own rate bucket refused a copy
    // catches it up by pulling), and no member holds more than the quota.
    for &index in &members {
        let node = net.address(index).unwrap();
        let complete = eventually(Duration::from_secs(20), || async {
            held(&pool, node, &victim, 0).await.len() == 120
        })
        .await;
        assert!(
            complete,
            "node {index} holds {}",
            held(&pool, node, &victim, 0).await.len()
        );
    }
    // The owner's own signed writes are not a deposit and still go in.
    let own = Request::Store(
        StoreParams::deposit(
            &victim.keys.account_id(),
            2,
            b"own config",
            now_ms(),
            3_600_000,
        )
        .signed_by(&victim.keys),
    );
    assert_eq!(call(&pool, entry, &own).await.unwrap().0, 200);

    // The node keeps serving everyone else: 100 other accounts get their messages.
    for byte in 0..100u8 {
        let mut seed = [0x77u8; 32];
        seed[0] = byte;
        let other = TestAccount::from_seed(seed);
        let home = net.swarm_members_for(&other.swarm_key())[0];
        let (status, body) = call(&pool, net.address(home).unwrap(), &other.store(b"hello"))
            .await
            .unwrap();
        assert_eq!(status, 200, "account {byte}: {body}");
    }
    net.shutdown().await;
}

/// Answers to deposits into one account.
#[derive(Default)]
struct Tally {
    accepted: usize,
    rate_limited: usize,
    full: usize,
}

impl Tally {
    fn add(&mut self, code: u64, text: &str) {
        match code {
            200 => self.accepted += 1,
            429 => {
                assert!(
                    text.contains("too many messages for this account"),
                    "{text}"
                );
                self.rate_limited += 1;
            }
            507 => {
                assert!(text.contains("inbox full"), "{text}");
                self.full += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_node_list_is_not_taken_as_a_first_list() {
    use session_swarm::{assign, Assignment, NodeList};
    let day = 24 * 3600 * 1000;
    // A fresh node (no list yet) of a network whose registry key we hold.
    let registry = session_crypto::Ed25519Seed::from_bytes([33; 32]).key_pair();
    let dir = tempfile::tempdir().unwrap();
    let mut config = session_node::NodeConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.registry_key = Some(registry.ed25519_public().to_string());
    config.log = "warn".into();
    let node = session_node::RunningNode::start(config).await.unwrap();
    let address = NodeAddress {
        addr: node.https_addr,
        key: node.public_key,
    };
    let list_issued = |version: u64, issued: u64| {
        let assignment = assign(&Assignment::default(), &[], SwarmConfig::REFERENCE);
        serde_json::to_vec(&NodeList::new(version, issued, Vec::new(), &assignment).sign(&registry))
            .unwrap()
    };
    let push = |body: Vec<u8>| async move {
        let response = session_net::post_once(
            address,
            session_node::server::NODE_LIST_PUSH_PATH,
            body,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        (
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    };
    // A validly signed list from 40 days ago, replayed: refused, with the reason.
    let (status, text) = push(list_issued(7, now_ms() - 40 * day)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("node list too old"), "{text}");
    assert!(node.network().list().is_none());
    // A recent one is taken; after that, any newer version replaces it, whatever its age.
    assert_eq!(push(list_issued(8, now_ms() - day)).await.0, 200);
    assert_eq!(push(list_issued(9, now_ms() - 40 * day)).await.0, 200);
    assert_eq!(node.network().list().unwrap().version, 9);
    node.shutdown().await;

    // A client whose clock is 31 days past the network's list (as a client fed an old list
    // sees it) refuses it and says why; one 29 days past still connects.
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    for (days, works) in [(31u64, false), (29, true)] {
        let mut client = net.client_config();
        client.clock = Arc::new(move || now_ms() + days * day);
        match session_client::OnionClient::connect(client).await {
            Ok(_) => assert!(works, "a list {days} days old was taken"),
            Err(e) => {
                assert!(!works, "{days} days: {e}");
                assert!(e.to_string().contains("node list too old"), "{e}");
            }
        }
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamped_expire_and_delete_before_cannot_be_replayed_later() {
    use session_wire::rpc::{DeleteBeforeParams, ExpireParams, NamespaceSelector};
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let pool = ConnectionPool::new();
    let owner = TestAccount::from_byte(71);
    let node = net
        .address(net.swarm_members_for(&owner.swarm_key())[0])
        .unwrap();
    let (hash, _) = store(&pool, node, &owner, b"expire me").await;
    let later = now_ms() + 600_000;
    // Captured a minute and more ago: refused, though the signature is the owner's.
    let stale = ExpireParams::signed(
        &owner.keys,
        vec![hash.clone()],
        later,
        (false, false),
        now_ms() - 61_000,
    );
    let (status, body) = call(&pool, node, &Request::Expire(stale)).await.unwrap();
    assert_eq!(status, 406, "{body}");
    let fresh = ExpireParams::signed(
        &owner.keys,
        vec![hash.clone()],
        later,
        (false, false),
        now_ms(),
    );
    let (status, body) = call(&pool, node, &Request::Expire(fresh)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(held(&pool, node, &owner, 0).await, vec![(hash, later)]);

    let before = now_ms();
    let stale = DeleteBeforeParams::signed(
        &owner.keys,
        NamespaceSelector::One(0),
        before,
        before - 61_000,
    );
    let (status, body) = call(&pool, node, &Request::DeleteBefore(stale))
        .await
        .unwrap();
    assert_eq!(status, 406, "{body}");
    let fresh =
        DeleteBeforeParams::signed(&owner.keys, NamespaceSelector::One(0), before, now_ms());
    let (status, body) = call(&pool, node, &Request::DeleteBefore(fresh))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(held(&pool, node, &owner, 0).await.is_empty());
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_per_message_reaches_a_member_that_was_down() {
    use session_wire::rpc::{Auth, ExpireEachParams};
    let mut net = process_network(5, SwarmConfig::new(5, 5, 9).unwrap(), None).await;
    let pool = ConnectionPool::new();
    let owner = TestAccount::from_byte(81);
    let members = net.swarm_members_for(&owner.swarm_key());
    let first = store(&pool, net.address(members[0]).unwrap(), &owner, b"one").await;
    let second = store(&pool, net.address(members[0]).unwrap(), &owner, b"two").await;
    let down = members[4];
    net.kill(down).unwrap();
    let (e1, e2) = (now_ms() + 600_000, now_ms() + 900_000);
    let mut params = ExpireEachParams {
        pubkey: owner.keys.account_id().to_string(),
        messages: vec![first.0.clone(), second.0.clone()],
        expiry: vec![e1, e2],
        shorten: false,
        extend: false,
        auth: Auth::default(),
    };
    params.auth = Auth::signed_by(&owner.keys, params.signature_text().as_bytes());
    let (status, body) = call(
        &pool,
        net.address(members[0]).unwrap(),
        &Request::ExpireEach(params),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    net.restart(down).await.unwrap();
    let mut want = vec![(first.0, e1), (second.0, e2)];
    want.sort();
    let caught_up = eventually(Duration::from_secs(20), || async {
        let mut got = held(&pool, net.address(down).unwrap(), &owner, 0).await;
        got.sort();
        got == want
    })
    .await;
    assert!(
        caught_up,
        "the restarted member took both expiries from its peers"
    );
    net.shutdown().await;
}
