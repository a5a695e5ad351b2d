//! The storage RPC against a real node over real HTTPS, with the verifying client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::json;
use session_crypto::Ed25519PublicKey;

#[tokio::test]
async fn store_retrieve_and_page() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);

    let mut stored = Vec::new();
    for i in 0..25u8 {
        let body = client
            .ok("store", alice.store_params(0, &[i; 100], 60_000))
            .await;
        let result = member(&body);
        let hash = result["hash"].as_str().unwrap().to_owned();
        // The node signs the hash with its identity key.
        let signature: [u8; 64] = STANDARD
            .decode(result["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        node.node
            .public_key
            .verify(hash.as_bytes(), &signature)
            .unwrap();
        assert!(body["t"].as_u64().unwrap() > 0);
        stored.push(hash);
    }

    // Paging with max_count and last_hash.
    let mut params = alice.retrieve_params(0, None);
    params["max_count"] = 10.into();
    let page = client.ok("retrieve", params).await;
    assert_eq!(hashes(&page), stored[..10]);
    assert_eq!(page["more"], true);
    let message = &page["messages"][0];
    assert_eq!(
        STANDARD.decode(message["data"].as_str().unwrap()).unwrap(),
        vec![0u8; 100]
    );
    assert!(message["expiration"].as_u64().unwrap() > message["timestamp"].as_u64().unwrap());

    let mut params = alice.retrieve_params(0, Some(&stored[9]));
    params["max_count"] = 10.into();
    assert_eq!(hashes(&client.ok("retrieve", params).await), stored[10..20]);

    // max_size limits bytes as the reference counts them: 100 + 43 (hash) + 100 * 4 / 3 (data
    // as base64) = 276 per message here, so 600 holds two and not three.
    let mut params = alice.retrieve_params(0, Some(&stored[19]));
    params["max_size"] = 600.into();
    let page = client.ok("retrieve", params).await;
    assert_eq!(hashes(&page), stored[20..22]);
    assert_eq!(page["more"], true);

    let rest = client
        .ok("retrieve", alice.retrieve_params(0, Some(&stored[21])))
        .await;
    assert_eq!(hashes(&rest), stored[22..]);
    assert_eq!(rest["more"], false);

    // Another account sees nothing of Alice's.
    let bob = Account::new(2);
    assert!(hashes(&client.ok("retrieve", bob.retrieve_params(0, None)).await).is_empty());
    node.node.shutdown().await;
}

#[tokio::test]
async fn store_is_idempotent() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let params = alice.store_params(0, b"same", 60_000);
    let first = client.ok("store", params.clone()).await;
    let second = client.ok("store", params).await;
    assert_eq!(member(&first)["hash"], member(&second)["hash"]);
    assert_eq!(member(&second)["already"], true);
    assert_eq!(
        hashes(&client.ok("retrieve", alice.retrieve_params(0, None)).await).len(),
        1
    );
    assert_eq!(node.node.storage().message_count(), 1);
}

#[tokio::test]
async fn every_delete_variant() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let mut hashes_by_ns = Vec::new();
    for ns in [0i16, 0, 0, 5, 5] {
        let body = client
            .ok(
                "store",
                alice.store_params(
                    ns,
                    &[ns as u8; 8].map(|b| b ^ hashes_by_ns.len() as u8),
                    60_000,
                ),
            )
            .await;
        hashes_by_ns.push((ns, member(&body)["hash"].as_str().unwrap().to_owned()));
    }

    // delete: by hash, signed "delete" || hashes.
    let target = hashes_by_ns[0].1.clone();
    let params = alice.signed(json!({"messages": [target]}), &format!("delete{target}"));
    let body = client.ok("delete", params).await;
    assert_eq!(member(&body)["deleted"], json!([target]));
    // required: true with nothing left to delete is 404.
    let params = alice.signed(
        json!({"messages": [target], "required": true}),
        &format!("delete{target}"),
    );
    assert_eq!(client.call("delete", params).await.0, 404);

    // delete_before in namespace 0: everything stored so far.
    let before = now_ms();
    let params = alice.signed(json!({"before": before}), &format!("delete_before{before}"));
    let body = client.ok("delete_before", params).await;
    assert_eq!(member(&body)["deleted"].as_array().unwrap().len(), 2);

    // delete_all in namespace 5.
    let ts = now_ms();
    let params = alice.signed(
        json!({"namespace": 5, "timestamp": ts}),
        &format!("delete_all5{ts}"),
    );
    let body = client.ok("delete_all", params).await;
    assert_eq!(member(&body)["deleted"].as_array().unwrap().len(), 2);

    // delete_all over all namespaces returns a map by namespace.
    client
        .ok("store", alice.store_params(0, b"a", 60_000))
        .await;
    client
        .ok("store", alice.store_params(-5, b"b", 60_000))
        .await;
    let ts = now_ms();
    let params = alice.signed(
        json!({"namespace": "all", "timestamp": ts}),
        &format!("delete_allall{ts}"),
    );
    let body = client.ok("delete_all", params).await;
    let deleted = member(&body)["deleted"].as_object().unwrap();
    assert_eq!(deleted.len(), 2);
    assert_eq!(node.node.storage().message_count(), 0);
}

#[tokio::test]
async fn every_expire_variant() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let body = client
        .ok("store", alice.store_params(0, b"one", 600_000))
        .await;
    let h1 = member(&body)["hash"].as_str().unwrap().to_owned();
    let body = client
        .ok("store", alice.store_params(0, b"two", 600_000))
        .await;
    let h2 = member(&body)["hash"].as_str().unwrap().to_owned();
    let now = now_ms();

    // Plain expire sets the expiry.
    let expiry = now + 300_000;
    let params = alice.signed(
        json!({"messages": [h1], "expiry": expiry}),
        &format!("expire{expiry}{h1}"),
    );
    let body = client.ok("expire", params).await;
    assert_eq!(member(&body)["updated"], json!([h1]));

    // Shorten leaves a message whose expiry is already earlier.
    let later = now + 400_000;
    let params = alice.signed(
        json!({"messages": [h1], "expiry": later, "shorten": true}),
        &format!("expireshorten{later}{h1}"),
    );
    let body = client.ok("expire", params).await;
    assert_eq!(member(&body)["updated"], json!([]));
    assert_eq!(member(&body)["unchanged"][&h1], expiry);

    // Extend moves it later.
    let params = alice.signed(
        json!({"messages": [h1], "expiry": later, "extend": true}),
        &format!("expireextend{later}{h1}"),
    );
    let body = client.ok("expire", params).await;
    assert_eq!(member(&body)["updated"], json!([h1]));

    // get_expiries reports both.
    let ts = now_ms();
    let params = alice.signed(
        json!({"messages": [h1, h2], "timestamp": ts}),
        &format!("get_expiries{ts}{h1}{h2}"),
    );
    let body = client.ok("get_expiries", params).await;
    assert_eq!(body["expiries"][&h1], later);

    // expire_all shortens every later expiry.
    let soon = now + 100_000;
    let params = alice.signed(json!({"expiry": soon}), &format!("expire_all{soon}"));
    let body = client.ok("expire_all", params).await;
    assert_eq!(member(&body)["updated"].as_array().unwrap().len(), 2);
    let ts = now_ms();
    let params = alice.signed(
        json!({"messages": [h1, h2], "timestamp": ts}),
        &format!("get_expiries{ts}{h1}{h2}"),
    );
    let body = client.ok("get_expiries", params).await;
    assert_eq!(body["expiries"][&h1], soon);
    assert_eq!(body["expiries"][&h2], soon);
}

#[tokio::test]
async fn short_ttl_messages_expire_and_are_swept() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    // The minimum TTL is 10 s; a timestamp 9 s in the past leaves about 1 s to live.
    let ts = now_ms() - 9_000;
    let params = json!({"pubkey": alice.id(), "data": STANDARD.encode(b"brief"), "ttl": 10_000, "timestamp": ts});
    client.ok("store", params).await;
    client
        .ok("store", alice.store_params(0, b"lasting", 60_000))
        .await;
    assert_eq!(
        hashes(&client.ok("retrieve", alice.retrieve_params(0, None)).await).len(),
        2
    );
    tokio::time::sleep(std::time::Duration::from_millis(3_000)).await;
    assert_eq!(
        hashes(&client.ok("retrieve", alice.retrieve_params(0, None)).await).len(),
        1
    );
    // The sweeper (every second here) deleted it from the database too.
    assert_eq!(node.node.storage().message_count(), 1);
}

#[tokio::test]
async fn storage_cap_gives_507_and_keeps_what_was_stored() {
    let node = TestNode::start_with(|c| c.storage_cap_mb = 1).await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let mut stored = 0;
    let mut refused = None;
    for i in 0..100u32 {
        let data: Vec<u8> = (0..60_000u32).map(|j| (i ^ j) as u8).collect();
        let (status, body) = client
            .call("store", alice.store_params(0, &data, 60_000))
            .await;
        if status == 200 {
            stored += 1;
        } else {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the cap was never reached");
    assert_eq!(status, 507);
    assert!(body.as_str().unwrap().contains("storage full"));
    assert!(stored > 5);
    let mut params = alice.retrieve_params(0, None);
    params["max_size"] = 10_000_000.into();
    assert_eq!(hashes(&client.ok("retrieve", params).await).len(), stored);
}

#[tokio::test]
async fn rate_limit_gives_429() {
    let node = TestNode::start_with(|c| {
        c.rate_limit.requests_per_second = 5.0;
        c.rate_limit.burst = 10.0;
    })
    .await;
    let mut client = node.client().await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(client.call("info", json!({})).await.0);
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    let metrics = metrics_text(&node).await;
    assert!(metrics.contains("session_node_rate_limited_total"));
}

#[tokio::test]
async fn a_node_behind_the_wrong_key_is_refused() {
    let node = TestNode::start().await;
    let mut wrong = node.address();
    wrong.key = Ed25519PublicKey([7; 32]);
    match session_net::Connection::open(wrong, TIMEOUT).await {
        Err(session_net::NetError::WrongIdentity { expected, .. }) => {
            assert_eq!(expected, wrong.key)
        }
        Err(other) => panic!("expected WrongIdentity, got {other}"),
        Ok(_) => panic!("a node with another key was accepted"),
    }
    // The right key still works.
    node.client().await.ok("info", json!({})).await;
}

#[tokio::test]
async fn subaccounts_public_outboxes_and_revocation() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let group = Account::new(3);
    let delegate = Account::new(4);
    // A read+write token for the delegate, signed by the owner.
    let mut token = vec![0x05, 0x01 | 0x02, 0, 0];
    token.extend_from_slice(delegate.keys.ed25519_public().as_bytes());
    let token_b64 = STANDARD.encode(&token);
    let token_sig = group.sign(&token);
    let with_token = |mut params: serde_json::Value, signed: &str| {
        let o = params.as_object_mut().unwrap();
        o.insert("pubkey".into(), group.id().into());
        o.insert(
            "pubkey_ed25519".into(),
            group.keys.ed25519_public().to_string().into(),
        );
        o.insert("subaccount".into(), token_b64.clone().into());
        o.insert("subaccount_sig".into(), token_sig.clone().into());
        o.insert("signature".into(), delegate.sign(signed.as_bytes()).into());
        params
    };
    let ts = now_ms();
    let store = with_token(
        json!({"namespace": 3, "data": STANDARD.encode(b"delegated"), "ttl": 60_000, "timestamp": ts}),
        &format!("store3{ts}"),
    );
    client.ok("store", store.clone()).await;
    let retrieve = with_token(
        json!({"namespace": 3, "timestamp": ts}),
        &format!("retrieve3{ts}"),
    );
    assert_eq!(
        hashes(&client.ok("retrieve", retrieve.clone()).await).len(),
        1
    );
    // The token has no delete permission.
    let delete = with_token(
        json!({"namespace": 3, "timestamp": ts}),
        &format!("delete_all3{ts}"),
    );
    assert_eq!(client.call("delete_all", delete).await.0, 401);

    // Revoke it: the same requests are now refused; unrevoke restores them.
    // The signed bytes end with the raw token bytes.
    let mut signed = format!("revoke_subaccount{ts}").into_bytes();
    signed.extend_from_slice(&token);
    let mut revoke = group.signed(json!({"revoke": token_b64, "timestamp": ts}), "");
    revoke["signature"] = group.sign(&signed).into();
    assert_eq!(
        member(&client.ok("revoke_subaccount", revoke).await)["count"],
        1
    );
    let (status, body) = client.call("retrieve", retrieve.clone()).await;
    assert_eq!(status, 401, "{body}");
    let mut signed = format!("unrevoke_subaccount{ts}").into_bytes();
    signed.extend_from_slice(&token);
    let mut unrevoke = group.signed(json!({"unrevoke": [token_b64], "timestamp": ts}), "");
    unrevoke["signature"] = group.sign(&signed).into();
    assert_eq!(
        member(&client.ok("unrevoke_subaccount", unrevoke).await)["count"],
        1
    );
    assert_eq!(client.call("retrieve", retrieve).await.0, 200);

    // Public outbox (-21): holds one message, readable without a signature.
    client
        .ok("store", group.store_params(-21, b"profile v1", 60_000))
        .await;
    client
        .ok("store", group.store_params(-21, b"profile v2", 60_000))
        .await;
    let open = client
        .ok("retrieve", json!({"pubkey": group.id(), "namespace": -21}))
        .await;
    let messages = open["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        STANDARD
            .decode(messages[0]["data"].as_str().unwrap())
            .unwrap(),
        b"profile v2"
    );
}

#[tokio::test]
async fn batch_sequence_ifelse_info_get_swarm() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let body = client
        .ok(
            "batch",
            json!({"requests": [
                {"method": "store", "params": alice.store_params(0, b"x", 60_000)},
                {"method": "retrieve", "params": alice.retrieve_params(0, None)},
                {"method": "nope", "params": {}},
            ]}),
        )
        .await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r["code"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![200, 200, 400]
    );

    // sequence stops at the first failure.
    let body = client
        .ok(
            "sequence",
            json!({"requests": [
                {"method": "info"},
                {"method": "retrieve", "params": {"pubkey": alice.id()}},
                {"method": "info"},
            ]}),
        )
        .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);

    let too_many: Vec<_> = (0..21).map(|_| json!({"method": "info"})).collect();
    assert_eq!(
        client.call("batch", json!({"requests": too_many})).await.0,
        400
    );

    let body = client
        .ok("ifelse", json!({"if": {"v_at_least": [0, 0, 1]}, "then": {"method": "info"}, "else": {"method": "nope"}}))
        .await;
    assert_eq!(body["condition"], true);
    assert_eq!(body["result"]["code"], 200);
    let body = client
        .ok(
            "ifelse",
            json!({"if": {"v_below": [0, 0, 1]}, "then": {"method": "info"}}),
        )
        .await;
    assert_eq!(body["condition"], false);

    let info = client.ok("info", json!({})).await;
    assert!(info["version"].is_array() && info["hf"].is_array());
    let swarm = client.ok("get_swarm", json!({"pubkey": alice.id()})).await;
    assert_eq!(
        swarm["snodes"][0]["pubkey_ed25519"],
        node.node.public_key.to_string()
    );
    assert_eq!(
        swarm["snodes"][0]["port_https"],
        node.node.https_addr.port()
    );
}

#[tokio::test]
async fn metrics_count_requests_and_storage() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    client
        .ok("store", alice.store_params(0, &[1; 1000], 60_000))
        .await;
    client.call("store", json!({"pubkey": "05"})).await;
    let text = metrics_text(&node).await;
    assert!(
        text.contains("session_node_requests_total{method=\"store\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("session_node_requests_total{method=\"invalid\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(text.contains("session_node_stored_messages 1"));
    assert!(text.contains("session_node_stored_bytes 1000"));
    assert!(text.contains("session_node_request_duration_seconds_count{method=\"store\"} 1"));
}

async fn metrics_text(node: &TestNode) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = node.node.metrics_addr.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}
