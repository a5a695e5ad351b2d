//! Every kind of malformed request gets a 4xx naming the problem, and the node keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

/// One bad request: what it is, its body, the status and a phrase the error must contain.
struct Case {
    name: &'static str,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn case(name: &'static str, body: Value, status: u16, says: &'static str) -> Case {
    Case {
        name,
        body: serde_json::to_vec(&body).unwrap(),
        status,
        says,
    }
}

fn with(mut params: Value, key: &str, value: Value) -> Value {
    params[key] = value;
    params
}

fn without(mut params: Value, key: &str) -> Value {
    params.as_object_mut().unwrap().remove(key);
    params
}

fn rpc(method: &str, params: Value) -> Value {
    json!({"method": method, "params": params})
}

#[tokio::test]
async fn malformed_requests_get_4xx_naming_the_problem() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = Account::new(1);
    let mallory = Account::new(9);
    let now = now_ms();

    // A good message stored first: nothing below may lose it.
    let kept = client
        .ok("store", alice.store_params(0, b"keep me", 600_000))
        .await;
    let kept_hash = member(&kept)["hash"].as_str().unwrap().to_owned();

    let store = alice.store_params(0, b"hello", 60_000);
    let private_store = alice.store_params(5, b"private", 60_000);
    let retrieve = alice.retrieve_params(0, None);
    let old = now - 120_000;

    let mut cases = vec![
        Case { name: "not JSON", body: b"{".to_vec(), status: 400, says: "invalid JSON" },
        Case { name: "JSON array", body: b"[1,2]".to_vec(), status: 400, says: "invalid JSON" },
        Case { name: "empty body", body: Vec::new(), status: 400, says: "invalid JSON" },
        case("missing method", json!({"params": {}}), 400, "method"),
        case("unknown method", rpc("steal", json!({})), 400, "unknown method"),
        case("params not an object", rpc("store", json!([1])), 400, "invalid parameters for store"),
        case("missing pubkey", rpc("store", without(store.clone(), "pubkey")), 400, "pubkey"),
        case("missing data", rpc("store", without(store.clone(), "data")), 400, "data"),
        case("pubkey wrong length", rpc("store", with(store.clone(), "pubkey", "05abcd".into())), 400, "66 hex"),
        case("pubkey not hex", rpc("store", with(store.clone(), "pubkey", "zz".repeat(33).into())), 400, "Pubkey must be 66 hex digits (33 bytes) long"),
        case("data not base64", rpc("store", with(store.clone(), "data", "!!!".into())), 400, "base64"),
        case("data too large", rpc("store", with(store.clone(), "data", STANDARD.encode(vec![0u8; 76_801]).into())), 413, "limit is 76800"),
        case("ttl too short", rpc("store", with(store.clone(), "ttl", 1_000.into())), 403, "Provided expiry/TTL is not valid."),
        case("ttl too long", rpc("store", with(store.clone(), "ttl", (31u64 * 86_400_000).into())), 403, "Provided expiry/TTL is not valid."),
        case("ttl wrong type", rpc("store", with(store.clone(), "ttl", "soon".into())), 400, "invalid parameters for store"),
        case("missing timestamp", rpc("store", without(store.clone(), "timestamp")), 400, "Required field 'timestamp' missing"),
        case("timestamp in the future", rpc("store", with(store.clone(), "timestamp", (now + 3_600_000).into())), 406, "Timestamp error: check your clock"),
        case("no ttl or expiry", rpc("store", without(store.clone(), "ttl")), 400, "Required field 'expiry' missing"),
        case("already expired", rpc("store", with(with(store.clone(), "timestamp", (now - 100_000).into()), "ttl", 10_000.into())), 406, "Timestamp error: check your clock"),
        case("namespace out of range", rpc("store", with(store.clone(), "namespace", 40_000.into())), 400, "invalid parameters"),
        case("private store unsigned", rpc("store", without(private_store.clone(), "signature")), 401, "store: signature required to store to namespace 5"),
        case("private store bad signature", rpc("store", with(private_store.clone(), "signature", alice.sign(b"something else").into())), 401, "store signature verification failed"),
        case("signature not base64", rpc("store", with(private_store.clone(), "signature", "###".into())), 400, "invalid signature: expected base64 encoded Ed25519 signature"),
        case("retrieve unsigned", rpc("retrieve", without(retrieve.clone(), "signature")), 400, "invalid request: Required field 'signature' missing"),
        case("retrieve timestamp outside window", rpc("retrieve", alice.signed(json!({"timestamp": old}), &format!("retrieve{old}"))), 406, "retrieve timestamp too far from current time"),
        case("retrieve without pubkey_ed25519", rpc("retrieve", without(retrieve.clone(), "pubkey_ed25519")), 401, "retrieve signature verification failed"),
        case("pubkey_ed25519 of someone else", rpc("retrieve", with(retrieve.clone(), "pubkey_ed25519", mallory.keys.ed25519_public().to_string().into())), 401, "retrieve signature verification failed"),
        case("pubkey_ed25519 not hex", rpc("retrieve", with(retrieve.clone(), "pubkey_ed25519", "xyz".into())), 400, "Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey"),
        case("signed by another key", rpc("retrieve", with(retrieve.clone(), "signature", mallory.sign(b"retrieve").into())), 401, "retrieve signature verification failed"),
        case("bad last_hash", rpc("retrieve", with(retrieve.clone(), "last_hash", "not-a-hash".into())), 400, "Invalid last_hash: expected base64 (43 chars)"),
        case("retrieve missing timestamp", rpc("retrieve", without(retrieve.clone(), "timestamp")), 400, "Required field 'timestamp' missing"),
        case("delete nothing", rpc("delete", alice.signed(json!({"messages": []}), "delete")), 400, "messages does not contain any message hashes"),
        case("delete bad hash", rpc("delete", alice.signed(json!({"messages": ["@@"]}), "delete@@")), 400, "invalid message hash: @@"),
        case("delete wrong signature", rpc("delete", alice.signed(json!({"messages": [kept_hash]}), "delete")), 401, "delete_msgs signature verification failed"),
        case("expire shorten and extend", rpc("expire", alice.signed(json!({"messages": [kept_hash], "expiry": now + 1000, "shorten": true, "extend": true}), "x")), 400, "cannot specify both 'shorten' and 'extend'"),
        case("expire into the past", rpc("expire", alice.signed(json!({"messages": [kept_hash], "expiry": now - 600_000}), "x")), 401, "expire: timestamp should be >= current time"),
        case("delete_all bad namespace", rpc("delete_all", alice.signed(json!({"namespace": "some", "timestamp": now}), "x")), 400, "invalid parameters"),
        case("delete_before in the future", rpc("delete_before", alice.signed(json!({"before": now + 3_600_000}), "x")), 401, "delete_before timestamp too far in the future"),
        case("get_expiries stale", rpc("get_expiries", alice.signed(json!({"messages": [kept_hash], "timestamp": old}), "x")), 406, "get_expiries timestamp too far from current time"),
        case("empty batch", rpc("batch", json!({"requests": []})), 400, "1 to 20"),
        case("oversized batch", rpc("batch", json!({"requests": vec![json!({"method": "info"}); 21]})), 400, "1 to 20"),
        case("revoke bad token", rpc("revoke_subaccount", alice.signed(json!({"revoke": "AAAA", "timestamp": now}), "x")), 400, "token"),
        case("subaccount without its signature", rpc("retrieve", with(retrieve.clone(), "subaccount", STANDARD.encode([5u8; 36]).into())), 400, "invalid subaccount: subaccount_sig is required when using subaccount"),
        case("ifelse nested", rpc("ifelse", json!({"if": {"hf_at_least": [1]}, "then": {"method": "ifelse", "params": {"if": {"hf_at_least": [1]}}}})), 200, "nested"),
        case("ifelse without a condition", rpc("ifelse", json!({"if": {}, "then": {"method": "info"}})), 400, "Invalid ifelse request: must specify at least one \"if\" condition"),
        case("ifelse without a branch", rpc("ifelse", json!({"if": {"hf_at_least": [1]}})), 400, "Invalid ifelse request: at least one of \"then\"/\"else\" required"),
    ];
    // An ifelse whose branch is refused still answers 200 with the branch's error inside; the
    // check below reads it from the body. Everything else must be a 4xx.
    let oversized = vec![b' '; 11 * 1024 * 1024];
    cases.push(Case {
        name: "body over 10 MiB",
        body: oversized,
        status: 413,
        says: "10 MiB",
    });

    assert!(cases.len() >= 30, "only {} cases", cases.len());
    for case in cases {
        let (status, text) = client_for(&node, &mut client).await.raw(case.body).await;
        assert_eq!(status, case.status, "{}: got {status} {text}", case.name);
        assert!(
            text.contains(case.says),
            "{}: {text:?} does not say {:?}",
            case.name,
            case.says
        );
        if case.status != 200 {
            assert!((400..500).contains(&status), "{}", case.name);
        }
    }

    // The node still serves good requests, and lost nothing.
    let mut client = node.client().await;
    client
        .ok("store", alice.store_params(0, b"after", 60_000))
        .await;
    let all = hashes(&client.ok("retrieve", alice.retrieve_params(0, None)).await);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], kept_hash);
}

/// A refused oversized body may close the connection; reconnect when it did.
async fn client_for<'a>(node: &TestNode, client: &'a mut Client) -> &'a mut Client {
    if client.call("info", json!({})).await.0 != 200 {
        *client = node.client().await;
    }
    client
}

#[tokio::test]
async fn wrong_paths_and_verbs() {
    let node = TestNode::start().await;
    let mut connection = node.client().await.0;
    let response = connection
        .post("/nope", b"{}".to_vec(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response.status, 404);
}
