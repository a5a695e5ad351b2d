//! Behaviours of the reference storage server (session-storage-server) that its own network
//! tests rely on, checked against a real node over HTTPS. Every expected value (status, text,
//! count) is a fact from the reference's source or its `network-tests/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use session_crypto::{Ed25519Seed, IdentityKeyPair};

/// An account addressed by its Ed25519 key itself: `prefix || ed25519 public key`, signing
/// without `pubkey_ed25519` (as the reference's tests make accounts, 05 and 03 alike).
struct RawAccount {
    keys: IdentityKeyPair,
    prefix: &'static str,
}

impl RawAccount {
    fn new(prefix: &'static str, seed: u8) -> Self {
        Self {
            keys: Ed25519Seed::from_bytes([seed; 32]).key_pair(),
            prefix,
        }
    }

    fn pubkey(&self) -> String {
        format!("{}{}", self.prefix, self.keys.ed25519_public())
    }

    fn sign(&self, text: &str) -> String {
        STANDARD.encode(self.keys.sign(text.as_bytes()))
    }

    fn store(&self, namespace: i16, data: &[u8], ttl: u64) -> Value {
        let ts = now_ms();
        let ns_text = if namespace == 0 {
            String::new()
        } else {
            namespace.to_string()
        };
        json!({
            "pubkey": self.pubkey(),
            "namespace": namespace,
            "timestamp": ts,
            "ttl": ttl,
            "data": STANDARD.encode(data),
            "signature": self.sign(&format!("store{ns_text}{ts}")),
        })
    }

    fn retrieve(&self, extra: Value) -> Value {
        let ts = now_ms();
        let mut params = json!({
            "pubkey": self.pubkey(),
            "timestamp": ts,
            "signature": self.sign(&format!("retrieve{ts}")),
        });
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    }
}

async fn store_n(client: &mut Client, account: &RawAccount, n: usize, size: usize) -> Vec<String> {
    let mut hashes = Vec::new();
    for i in 0..n {
        let mut data = vec![0u8; size];
        data[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let body = client.ok("store", account.store(0, &data, 600_000)).await;
        hashes.push(body["hash"].as_str().unwrap().to_owned());
    }
    hashes
}

/// Item 1: a 05 account whose key bytes are an Ed25519 key signs without `pubkey_ed25519`;
/// a 05 account named by its X25519 key still signs with it; `pubkey_ed25519` on a 03
/// account is refused as the reference refuses it.
#[tokio::test]
async fn accounts_signed_by_their_own_key_bytes() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let raw05 = RawAccount::new("05", 21);
    let stored = store_n(&mut client, &raw05, 1, 10).await;
    let body = client.ok("retrieve", raw05.retrieve(json!({}))).await;
    assert_eq!(hashes(&body), stored);

    // The usual 05 form (X25519 key, pubkey_ed25519 given) is unchanged.
    let alice = Account::new(1);
    client.ok("retrieve", alice.retrieve_params(0, None)).await;

    let group = RawAccount::new("03", 22);
    let mut params = group.retrieve(json!({}));
    params["pubkey_ed25519"] = group.keys.ed25519_public().to_string().into();
    let (status, body) = client.call("retrieve", params).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "invalid request: pubkey_ed25519 is only permitted for 05[...] pubkeys"
    );
    node.node.shutdown().await;
}

/// Item 2: the texts the reference's network tests compare, over HTTPS.
#[tokio::test]
async fn error_texts_of_the_reference() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let alice = RawAccount::new("05", 31);
    let mallory = RawAccount::new("05", 32);
    let now = now_ms();

    // Unsigned store to a private namespace.
    let mut params = alice.store(2, b"x", 60_000);
    params.as_object_mut().unwrap().remove("signature");
    let (status, body) = client.call("store", params).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!("store: signature required to store to namespace 2")
        )
    );

    // Retrieve with neither timestamp nor signature; with a timestamp and no signature.
    let (status, body) = client
        .call("retrieve", json!({"pubkey": alice.pubkey()}))
        .await;
    assert_eq!(
        (status, body),
        (401, json!("retrieve: request signature required"))
    );
    let (status, body) = client
        .call(
            "retrieve",
            json!({"pubkey": alice.pubkey(), "timestamp": now}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!("invalid request: Required field 'signature' missing")
        )
    );

    // Retrieve signed by someone else.
    let mut params = alice.retrieve(json!({}));
    params["signature"] = mallory.sign(&format!("retrieve{now}")).into();
    let (status, body) = client.call("retrieve", params).await;
    assert_eq!(
        (status, body),
        (401, json!("retrieve signature verification failed"))
    );

    // delete_all: stale timestamp, wrong signature.
    let old = now - 120_000;
    let stale = json!({"pubkey": alice.pubkey(), "timestamp": old,
        "signature": alice.sign(&format!("delete_all{old}"))});
    let (status, body) = client.call("delete_all", stale).await;
    assert_eq!(
        (status, body),
        (406, json!("delete_all timestamp too far from current time"))
    );
    let forged = json!({"pubkey": alice.pubkey(), "timestamp": now,
        "signature": mallory.sign(&format!("delete_all{now}"))});
    let (status, body) = client.call("delete_all", forged).await;
    assert_eq!(
        (status, body),
        (401, json!("delete_all signature verification failed"))
    );

    // expire_all into the past.
    let past = now - 120_000;
    let params = json!({"pubkey": alice.pubkey(), "expiry": past,
        "signature": alice.sign(&format!("expire_all{past}"))});
    let (status, body) = client.call("expire_all", params).await;
    assert_eq!(
        (status, body),
        (406, json!("expire_all timestamp should be >= current time"))
    );

    // A subaccount token without the read permission cannot retrieve.
    let delegate = Ed25519Seed::from_bytes([33; 32]).key_pair();
    let mut token = vec![0x05, 0x02, 0, 0];
    token.extend_from_slice(&delegate.ed25519_public().0);
    let params = json!({
        "pubkey": alice.pubkey(),
        "timestamp": now,
        "signature": STANDARD.encode(delegate.sign(format!("retrieve{now}").as_bytes())),
        "subaccount": STANDARD.encode(&token),
        "subaccount_sig": STANDARD.encode(alice.keys.sign(&token)),
    });
    let (status, body) = client.call("retrieve", params).await;
    assert_eq!(
        (status, body),
        (401, json!("retrieve signature verification failed"))
    );
    node.node.shutdown().await;
}

/// Item 3: the reference's own figures: 120 messages of 70,000 bytes; each counts
/// 100 + 43 + 93,333 bytes against the limit.
#[tokio::test]
async fn retrieve_counts_size_as_the_reference() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let account = RawAccount::new("03", 41);
    let stored = store_n(&mut client, &account, 120, 70_000).await;

    let body = client
        .ok("retrieve", account.retrieve(json!({"max_count": 100})))
        .await;
    assert_eq!(hashes(&body), stored[..83]);
    assert_eq!(body["more"], true);
    let body = client
        .ok("retrieve", account.retrieve(json!({"max_size": 500_000})))
        .await;
    assert_eq!(hashes(&body).len(), 5);
    let body = client
        .ok(
            "retrieve",
            account.retrieve(json!({"max_size": 700_000, "max_count": 10})),
        )
        .await;
    assert_eq!(hashes(&body).len(), 7);
    // Neither limit: a fifth of 7.8 MB, 16 messages. A 0 is "not given".
    let body = client.ok("retrieve", account.retrieve(json!({}))).await;
    assert_eq!(hashes(&body).len(), 16);
    let body = client
        .ok("retrieve", account.retrieve(json!({"max_count": 0})))
        .await;
    assert_eq!(hashes(&body).len(), 16);
    node.node.shutdown().await;
}

/// Item 4: `reverse_direction` pages from the newest message back.
#[tokio::test]
async fn reverse_direction_returns_newest_first() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let account = RawAccount::new("05", 51);
    let stored = store_n(&mut client, &account, 10, 10).await;
    let newest_first: Vec<String> = stored.iter().rev().cloned().collect();

    let body = client
        .ok(
            "retrieve",
            account.retrieve(json!({"reverse_direction": true, "max_count": 4})),
        )
        .await;
    assert_eq!(hashes(&body), newest_first[..4]);
    assert_eq!(body["more"], true);
    let body = client
        .ok(
            "retrieve",
            account.retrieve(json!({"reverse_direction": true, "last_hash": newest_first[3]})),
        )
        .await;
    assert_eq!(hashes(&body), newest_first[4..]);
    assert_eq!(body["more"], false);
    node.node.shutdown().await;
}

/// Item 5: lists and signatures sorted by the base64 text; well-formed hashes that are not
/// canonical base64 name no message (never a 400).
#[tokio::test]
async fn hashes_sorted_as_text_and_loose_hashes_unknown() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let account = RawAccount::new("05", 61);
    let stored = store_n(&mut client, &account, 12, 10).await;
    let garbage = "/".repeat(43);

    let mut messages = stored.clone();
    messages.push(garbage.clone());
    let params = json!({
        "pubkey": account.pubkey(),
        "messages": messages,
        "signature": account.sign(&format!("delete{}", messages.concat())),
    });
    let body = client.ok("delete", params).await;
    let (key, result) = body["swarm"].as_object().unwrap().iter().next().unwrap();
    let mut sorted = stored.clone();
    sorted.sort();
    let deleted: Vec<String> = result["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deleted, sorted);
    // The node signs pubkey || requested hashes || deleted hashes (sorted as text).
    let signed = format!(
        "{}{}{}",
        account.pubkey(),
        messages.concat(),
        sorted.concat()
    );
    let node_key = session_crypto::Ed25519PublicKey::from_hex(key).unwrap();
    let signature: [u8; 64] = STANDARD
        .decode(result["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    node_key.verify(signed.as_bytes(), &signature).unwrap();

    // A last_hash that decodes only loosely is an unknown hash: retrieval starts over.
    // (Other data than the deleted messages: a deleted hash stays deleted.)
    let fresh = store_n(&mut client, &account, 2, 11).await;
    let body = client
        .ok("retrieve", account.retrieve(json!({"last_hash": garbage})))
        .await;
    assert_eq!(hashes(&body), fresh);
    node.node.shutdown().await;
}

/// Item 9: the legacy closed-group namespace -10 is readable without a signature.
#[tokio::test]
async fn legacy_closed_group_namespace_reads_unauthenticated() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let group = RawAccount::new("05", 71);
    let body = client
        .ok("store", group.store(-10, b"legacy group message", 60_000))
        .await;
    let hash = body["hash"].as_str().unwrap().to_owned();
    let body = client
        .ok(
            "retrieve",
            json!({"pubkey": group.pubkey(), "namespace": -10}),
        )
        .await;
    assert_eq!(hashes(&body), vec![hash]);
    // Other private namespaces still need the signature.
    let (status, body) = client
        .call(
            "retrieve",
            json!({"pubkey": group.pubkey(), "namespace": -12}),
        )
        .await;
    assert_eq!(
        (status, body),
        (401, json!("retrieve: request signature required"))
    );
    node.node.shutdown().await;
}

/// Item 7: `ifelse` conditions as the reference reads them: lists of one or two integers of
/// any size for hard forks, versions against the reference's 2.8.0, heights as at height 0.
#[tokio::test]
async fn ifelse_conditions_as_the_reference() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let then_else = |cond: Value| {
        json!({"if": cond, "then": {"method": "info", "params": {}},
               "else": {"method": "info", "params": {}}})
    };
    let cases = [
        (json!({"hf_at_least": [2_000_000]}), false),
        (json!({"hf_before": [2_000_000]}), true),
        (json!({"hf_at_least": [19]}), true),
        (json!({"hf_at_least": [19, 3]}), true),
        (json!({"hf_at_least": [19, 4]}), false),
        (json!({"hf_before": [19, 3]}), false),
        (json!({"hf_at_least": [1, 2, 3]}), true),
        (json!({"hf_at_least": [-1_000_000_000_000i64]}), true),
        (json!({"hf_at_least": [u64::MAX]}), false),
        (json!({"v_at_least": [2, 8]}), true),
        (json!({"v_at_least": [2, 8, 1]}), false),
        (json!({"v_before": [2, 8, 1]}), true),
        (json!({"v_before": [3]}), true),
        (json!({"height_at_least": 0}), true),
        (json!({"height_at_least": 1}), false),
        (json!({"height_before": 1}), true),
        (json!({"hf_at_least": [19], "v_at_least": [2, 9]}), false),
    ];
    for (cond, expected) in cases {
        let body = client.ok("ifelse", then_else(cond.clone())).await;
        assert_eq!(body["condition"], expected, "{cond}");
        assert_eq!(body["v"], json!([2, 8, 0]));
        assert_eq!(body["height"], 0);
        assert_eq!(body["result"]["code"], 200, "{cond}");
    }
    let info = client.ok("info", json!({})).await;
    assert_eq!(info["version"], json!([2, 8, 0]));
    node.node.shutdown().await;
}
