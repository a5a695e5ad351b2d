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

/// A subaccount token for `owner` with `flags`, its signature by the owner, and the
/// delegate's keys.
fn delegate(owner: &RawAccount, flags: u8, seed: u8) -> (Vec<u8>, String, IdentityKeyPair) {
    let keys = Ed25519Seed::from_bytes([seed; 32]).key_pair();
    let mut token = vec![0x05, flags, 0, 0];
    token.extend_from_slice(&keys.ed25519_public().0);
    let sig = STANDARD.encode(owner.keys.sign(&token));
    (token, sig, keys)
}

fn expiries_of(body: &Value) -> Vec<u64> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["expiration"].as_u64().unwrap())
        .collect()
}

/// Item 6: `expiry` as a list; a read+write delegate may extend but not shorten; an extension
/// that would not move an expiry later leaves it unchanged.
#[tokio::test]
async fn expire_lists_delegates_and_no_op_extensions() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let owner = RawAccount::new("05", 81);
    let day = 86_400_000u64;
    let stored = store_n(&mut client, &owner, 3, 10).await;
    let now = now_ms();

    // One expiry per message.
    let (e0, e1) = (now + 3_600_000, now + 7_200_000);
    let messages = vec![stored[0].clone(), stored[1].clone()];
    let params = json!({
        "pubkey": owner.pubkey(), "messages": messages, "expiry": [e0, e1],
        "signature": owner.sign(&format!("expire{e0}{e1}{}", messages.concat())),
    });
    let body = client.ok("expire", params).await;
    let mine = member(&body);
    let mut expected = [(stored[0].clone(), e0), (stored[1].clone(), e1)];
    expected.sort();
    assert_eq!(
        mine["updated"],
        json!(expected.iter().map(|(h, _)| h).collect::<Vec<_>>())
    );
    assert_eq!(
        mine["expiry"],
        json!(expected.iter().map(|(_, e)| e).collect::<Vec<_>>())
    );
    let body = client.ok("retrieve", owner.retrieve(json!({}))).await;
    assert_eq!(expiries_of(&body)[..2], [e0, e1]);
    // A list of another length than messages is refused as the reference refuses it.
    let params = json!({
        "pubkey": owner.pubkey(), "messages": messages, "expiry": [e0, e1, e1],
        "signature": owner.sign("x"),
    });
    let (status, body) = client.call("expire", params).await;
    assert_eq!(
        (status, body),
        (400, json!("invalid request: 'expiry' must be a single expiry, or the same length as 'messages'"))
    );

    // An owner's 1-minute "extend" of a message that expires later changes nothing.
    let soon = now + 60_000;
    let target = vec![stored[2].clone()];
    let params = json!({
        "pubkey": owner.pubkey(), "messages": target, "expiry": soon, "extend": true,
        "signature": owner.sign(&format!("expireextend{soon}{}", target[0])),
    });
    let body = client.ok("expire", params).await;
    let mine = member(&body);
    assert_eq!(mine["updated"], json!([]));
    let before = expiries_of(&client.ok("retrieve", owner.retrieve(json!({}))).await)[2];
    assert_eq!(mine["unchanged"][&target[0]], before);

    // A read+write delegate (no delete) extends...
    let (token, token_sig, keys) = delegate(&owner, 0x03, 82);
    let sub = |mode: &str, expiry: u64, extra: Value| {
        let mut params = json!({
            "pubkey": owner.pubkey(), "messages": target, "expiry": expiry,
            "signature": STANDARD.encode(keys.sign(format!("expire{mode}{expiry}{}", target[0]).as_bytes())),
            "subaccount": STANDARD.encode(&token), "subaccount_sig": token_sig,
        });
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };
    let later = now + 20 * day;
    let body = client
        .ok("expire", sub("extend", later, json!({"extend": true})))
        .await;
    assert_eq!(member(&body)["updated"], json!(target));
    // ... an unflagged request from it only extends (an earlier expiry is not applied) ...
    let body = client.ok("expire", sub("", now + day, json!({}))).await;
    assert_eq!(member(&body)["updated"], json!([]));
    let after = expiries_of(&client.ok("retrieve", owner.retrieve(json!({}))).await)[2];
    assert_eq!(after, later);
    // ... and may not shorten.
    let (status, body) = client
        .call(
            "expire",
            sub("shorten", now + day, json!({"shorten": true})),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!("expire: shorten parameter cannot be used with this subaccount token (missing delete access)"))
    );
    node.node.shutdown().await;
}

/// Item 8: `revoked_subaccounts` lists the revoked tokens, and follows unrevocations.
#[tokio::test]
async fn revoked_subaccounts_lists_revoked_tokens() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let owner = RawAccount::new("05", 91);
    let (token_a, _, _) = delegate(&owner, 0x01, 92);
    let (token_b, _, _) = delegate(&owner, 0x03, 93);
    let change = |method: &str, field: &str, tokens: &[&Vec<u8>]| {
        let ts = now_ms();
        let mut signed = format!("{method}{ts}").into_bytes();
        for t in tokens {
            signed.extend_from_slice(t);
        }
        json!({
            "pubkey": owner.pubkey(), "timestamp": ts,
            field: tokens.iter().map(|t| STANDARD.encode(t)).collect::<Vec<_>>(),
            "signature": STANDARD.encode(owner.keys.sign(&signed)),
        })
    };
    let list = || {
        let ts = now_ms();
        json!({"pubkey": owner.pubkey(), "timestamp": ts,
               "signature": owner.sign(&format!("revoked_subaccounts{ts}"))})
    };
    let body = client.ok("revoked_subaccounts", list()).await;
    assert_eq!(body["revoked"], json!([]));
    client
        .ok(
            "revoke_subaccount",
            change("revoke_subaccount", "revoke", &[&token_a, &token_b]),
        )
        .await;
    let body = client.ok("revoked_subaccounts", list()).await;
    let mut expected = vec![STANDARD.encode(&token_a), STANDARD.encode(&token_b)];
    expected.sort();
    assert_eq!(body["revoked"], json!(expected));
    client
        .ok(
            "unrevoke_subaccount",
            change("unrevoke_subaccount", "unrevoke", &[&token_a]),
        )
        .await;
    let body = client.ok("revoked_subaccounts", list()).await;
    assert_eq!(body["revoked"], json!([STANDARD.encode(&token_b)]));
    // Someone else's signature gets nothing.
    let mut forged = list();
    forged["signature"] = RawAccount::new("05", 94)
        .sign("revoked_subaccounts0")
        .into();
    let (status, body) = client.call("revoked_subaccounts", forged).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!("revoked_subaccounts signature verification failed")
        )
    );
    node.node.shutdown().await;
}
