//! Onion requests through a real network: same answers as direct requests, each node sees only
//! what it must, and bad onions are refused with clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;
use std::time::Duration;

use session_crypto::{HopCipher, HopKey, X25519SecretKey};
use session_net::{Connection, ConnectionPool};
use session_testnet::client::{call, hashes, TestAccount};
use session_testnet::{Testnet, TestnetConfig};
use session_wire::onion::{build_onion, open_reply, Hop, OnionReply};
use session_wire::rpc::Request;
use session_wire::{encode_frame, LayerRoute, ReplyFormat};

const TIMEOUT: Duration = Duration::from_secs(15);
const ONION: &str = "/onion_req/v2";
const CLIENT_IP: [u8; 4] = [127, 0, 0, 2];

/// A path of three relays (distinct, none of them the destination) and the destination.
fn path(net: &Testnet, destination: usize, salt: usize) -> Vec<usize> {
    let n = net.addresses().len();
    let mut relays = Vec::new();
    let mut i = salt;
    while relays.len() < 3 {
        let candidate = (i * 7 + 3) % n;
        if candidate != destination && !relays.contains(&candidate) {
            relays.push(candidate);
        }
        i += 1;
    }
    relays.push(destination);
    relays
}

/// Sends `request` through `path` from the client address; returns the destination's reply.
async fn send(net: &Testnet, path: &[usize], request: &Request, cipher: HopCipher) -> OnionReply {
    let hops: Vec<Hop> = path.iter().map(|&i| net.hops()[i]).collect();
    let onion = build_onion(
        &hops,
        &request.to_json(),
        cipher,
        &mut session_crypto::OsRng,
    )
    .unwrap();
    let guard = net.address(path[0]).unwrap();
    let mut connection = Connection::open_from(guard, IpAddr::from(CLIENT_IP), TIMEOUT)
        .await
        .unwrap();
    let response = connection.post(ONION, onion.body, TIMEOUT).await.unwrap();
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    open_reply(&onion.reply_key, &response.body).unwrap()
}

fn config() -> TestnetConfig {
    TestnetConfig {
        observe_privacy: true,
        ..TestnetConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_requests_give_the_same_answers_as_direct_ones() {
    let net = Testnet::start(config()).await.unwrap();
    let pool = ConnectionPool::new();
    let account = TestAccount::from_byte(3);
    let members = net.swarm_members_for(&account.swarm_key());
    for (round, cipher) in [HopCipher::XChaCha20, HopCipher::AesGcm]
        .into_iter()
        .enumerate()
    {
        let reply = send(
            &net,
            &path(&net, members[0], round),
            &account.store(&[round as u8]),
            cipher,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let stored: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(stored["swarm"].as_object().unwrap().len(), members.len());
        let onion = send(
            &net,
            &path(&net, members[1], round + 5),
            &account.retrieve(None),
            cipher,
        )
        .await;
        let onion: serde_json::Value = serde_json::from_str(&onion.body).unwrap();
        let (_, direct) = call(
            &pool,
            net.address(members[1]).unwrap(),
            &account.retrieve(None),
        )
        .await
        .unwrap();
        assert_eq!(hashes(&onion), hashes(&direct));
        assert_eq!(hashes(&onion).len(), round + 1);
    }
    // A destination outside the account's swarm answers 421 inside the onion.
    let outsider = (0..12).find(|i| !members.contains(i)).unwrap();
    let reply = send(
        &net,
        &path(&net, outsider, 1),
        &account.retrieve(None),
        HopCipher::XChaCha20,
    )
    .await;
    assert_eq!(reply.status, 421);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_node_sees_both_ends() {
    let net = Testnet::start(config()).await.unwrap();
    let client = IpAddr::from(CLIENT_IP);
    let accounts: Vec<TestAccount> = (10..20).map(TestAccount::from_byte).collect();
    for r in 0..100usize {
        let account = &accounts[r % accounts.len()];
        let members = net.swarm_members_for(&account.swarm_key());
        let route = path(&net, members[r % members.len()], r);
        let before: Vec<usize> = route
            .iter()
            .map(|&i| net.node(i).unwrap().observations().len())
            .collect();
        let request = if r % 2 == 0 {
            account.store(&(r as u64).to_le_bytes())
        } else {
            account.retrieve(None)
        };
        let cipher = if r % 3 == 0 {
            HopCipher::AesGcm
        } else {
            HopCipher::XChaCha20
        };
        let reply = send(&net, &route, &request, cipher).await;
        assert_eq!(reply.status, 200, "request {r}: {}", reply.body);

        let seen: Vec<_> = route
            .iter()
            .zip(&before)
            .map(|(&i, &b)| {
                let all = net.node(i).unwrap().observations();
                assert_eq!(
                    all.len(),
                    b + 1,
                    "request {r}: node {i} should see it exactly once"
                );
                all[b].clone()
            })
            .collect();
        let destination = net.address(route[3]).unwrap().key;
        let (guard, middle, last, dest) = (&seen[0], &seen[1], &seen[2], &seen[3]);
        // The guard: the client's address, never the content or the destination.
        assert_eq!(guard.peer.ip(), client, "request {r}");
        assert!(!guard.saw_request && guard.account.is_none());
        assert_eq!(guard.next_hop, Some(net.address(route[1]).unwrap().key));
        assert_ne!(guard.next_hop, Some(destination));
        // The middle hop: neither the client's address, nor the content, nor the destination.
        assert_ne!(middle.peer.ip(), client);
        assert!(!middle.saw_request && middle.account.is_none());
        assert_ne!(middle.next_hop, Some(destination));
        // The last hop: the destination node, never the client or the content.
        assert_ne!(last.peer.ip(), client);
        assert!(!last.saw_request);
        assert_eq!(last.next_hop, Some(destination));
        // The destination: the request, never the client's address.
        assert!(dest.saw_request);
        assert_eq!(
            dest.account.as_deref(),
            Some(account.keys.account_id().to_string().as_str())
        );
        assert_ne!(dest.peer.ip(), client);
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_onions_are_refused_clearly() {
    let net = Testnet::start(config()).await.unwrap();
    let guard = net.address(0).unwrap();
    let post = |body: Vec<u8>| async move {
        let response = session_net::post_once(guard, ONION, body, TIMEOUT)
            .await
            .unwrap();
        (
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    };
    let hops = net.hops();
    let info = br#"{"method":"info"}"#;

    // Truncated frame.
    let good = build_onion(
        &[hops[0], hops[1]],
        info,
        HopCipher::XChaCha20,
        &mut session_crypto::OsRng,
    )
    .unwrap();
    let (status, text) = post(good.body[..good.body.len() / 2].to_vec()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid onion request"), "{text}");

    // A layer encrypted to another node's key.
    let wrong = build_onion(
        &[hops[5], hops[1]],
        info,
        HopCipher::XChaCha20,
        &mut session_crypto::OsRng,
    )
    .unwrap();
    let (status, text) = post(wrong.body).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "could not decrypt the onion layer")
    );

    // Garbage JSON after the blob.
    let mut garbage = good.body.clone();
    garbage.truncate(garbage.len() - 5);
    garbage.extend_from_slice(b"}}}{{");
    let (status, _) = post(garbage).await;
    assert_eq!(status, 400);

    // Garbage JSON inside a correctly encrypted layer.
    let eph = X25519SecretKey::generate(&mut session_crypto::OsRng);
    let key = HopKey::for_client(HopCipher::XChaCha20, &eph, &hops[0].x25519).unwrap();
    let mut inner = 2u32.to_le_bytes().to_vec();
    inner.extend_from_slice(b"ab{\"destination\": [garbage");
    let layer = key.encrypt(&inner, &mut session_crypto::OsRng).unwrap();
    let outer = LayerRoute::Decrypt {
        ephemeral_key: eph.public_key(),
        cipher: HopCipher::XChaCha20,
    };
    let (status, text) = post(encode_frame(&layer, &outer.to_json()).unwrap()).await;
    assert_eq!(status, 400);
    assert!(text.contains("invalid onion layer"), "{text}");

    // A next hop that is not in the node list.
    let stranger = Hop {
        ed25519: session_crypto::Ed25519PublicKey([9; 32]),
        x25519: X25519SecretKey::from_bytes([9; 32]).public_key(),
    };
    let lost = build_onion(
        &[hops[0], stranger],
        info,
        HopCipher::XChaCha20,
        &mut session_crypto::OsRng,
    )
    .unwrap();
    let (status, text) = post(lost.body).await;
    assert_eq!(status, 502);
    // Generic: the guard knows the client's address, so it must not learn (nor tell) where
    // the request was going.
    assert_eq!(text, "the onion request could not be relayed");
    assert!(!text.contains(&stranger.ed25519.to_string()), "{text}");

    // 15 hops are allowed; a 16th is refused somewhere along the path.
    let fifteen: Vec<Hop> = (0..15).map(|i| hops[i % 12]).collect();
    let ok = build_onion(
        &fifteen,
        info,
        HopCipher::XChaCha20,
        &mut session_crypto::OsRng,
    )
    .unwrap();
    let (status, _) = post(ok.body).await;
    assert_eq!(status, 200);
    let sixteen: Vec<Hop> = (0..16).map(|i| hops[i % 12]).collect();
    let (status, text) = post(onion_without_limit(&sixteen, info)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("exceeded 15 hops"), "{text}");

    // Nothing broke: a well-formed request still works.
    let (status, _) = post(
        build_onion(
            &[hops[0], hops[3]],
            info,
            HopCipher::AesGcm,
            &mut session_crypto::OsRng,
        )
        .unwrap()
        .body,
    )
    .await;
    assert_eq!(status, 200);
    net.shutdown().await;
}

/// An onion of any length (the library refuses more than 15 hops, a hostile client would not).
fn onion_without_limit(path: &[Hop], payload: &[u8]) -> Vec<u8> {
    onion_asking(
        path,
        payload,
        &LayerRoute::Deliver(ReplyFormat::RAW).to_json(),
    )
    .0
}

/// An onion whose innermost layer carries `inner` as its JSON, and the key of its reply.
fn onion_asking(
    path: &[Hop],
    payload: &[u8],
    inner: &serde_json::Map<String, serde_json::Value>,
) -> (Vec<u8>, HopKey) {
    let mut rng = session_crypto::OsRng;
    let cipher = HopCipher::XChaCha20;
    let (destination, relays) = path.split_last().unwrap();
    let eph = X25519SecretKey::generate(&mut rng);
    let reply_key = HopKey::for_client(cipher, &eph, &destination.x25519).unwrap();
    let mut layer = reply_key
        .encrypt(&encode_frame(payload, inner).unwrap(), &mut rng)
        .unwrap();
    let (mut layer_key, mut next) = (eph.public_key(), destination.ed25519);
    for hop in relays.iter().rev() {
        let eph = X25519SecretKey::generate(&mut rng);
        let key = HopKey::for_client(cipher, &eph, &hop.x25519).unwrap();
        let route = LayerRoute::Relay {
            destination: next,
            ephemeral_key: layer_key,
            cipher,
        };
        layer = key
            .encrypt(&encode_frame(&layer, &route.to_json()).unwrap(), &mut rng)
            .unwrap();
        layer_key = eph.public_key();
        next = hop.ed25519;
    }
    let body = encode_frame(
        &layer,
        &LayerRoute::Decrypt {
            ephemeral_key: layer_key,
            cipher,
        }
        .to_json(),
    )
    .unwrap();
    (body, reply_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_encoded_as_the_innermost_layer_asks_like_the_reference() {
    use base64::Engine as _;
    let net = Testnet::start(config()).await.unwrap();
    let route = path(&net, 5, 0);
    let hops: Vec<Hop> = route.iter().map(|&i| net.hops()[i]).collect();
    let guard = net.address(route[0]).unwrap();
    let info = br#"{"method":"info","params":{}}"#;
    let ask = |text: &str| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).unwrap()
    };
    for (inner, base64, embedded) in [
        // The reference's defaults: base64 of the sealed reply, the body as a string of JSON.
        (r#"{"headers": ""}"#, true, false),
        (r#"{"headers": "", "json": true}"#, true, true),
        (r#"{"headers": "", "base64": false}"#, false, false),
    ] {
        let (onion, reply_key) = onion_asking(&hops, info, &ask(inner));
        let mut connection = Connection::open(guard, TIMEOUT).await.unwrap();
        let response = connection.post(ONION, onion, TIMEOUT).await.unwrap();
        assert_eq!(response.status, 200, "{inner}");
        let sealed = if base64 {
            base64::engine::general_purpose::STANDARD
                .decode(&response.body)
                .unwrap()
        } else {
            response.body.to_vec()
        };
        let plain: serde_json::Value =
            serde_json::from_slice(&reply_key.decrypt(&sealed).unwrap()).unwrap();
        assert_eq!(plain["status"], 200, "{inner}");
        let body = if embedded {
            plain["body"].clone()
        } else {
            serde_json::from_str(plain["body"].as_str().unwrap()).unwrap()
        };
        assert!(body["version"].is_array(), "{inner}: {plain}");
    }
    net.shutdown().await;
}
