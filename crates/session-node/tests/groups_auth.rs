//! Groups v2 authorisation on a real node: the group's key writes everything; a member's
//! subaccount token (made by an admin as the reference does) stores and reads messages and reads
//! the rest, but cannot write keys, info, members or removal notices, nor revoke; a revoked
//! token can no longer read messages, but still reads the removal notices (-11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use session_crypto::group_keys::GroupIdentity;
use session_crypto::group_subaccount::{make_subaccount, subaccount_token, Subaccount};
use session_crypto::{Ed25519Seed, IdentityKeyPair};

fn namespace_text(namespace: i16) -> String {
    if namespace == 0 {
        String::new()
    } else {
        namespace.to_string()
    }
}

fn as_group(group: &GroupIdentity, mut params: Value, signed: &str) -> Value {
    params["pubkey"] = group.id().to_string().into();
    params["signature"] = STANDARD.encode(group.sign(signed.as_bytes())).into();
    params
}

fn as_member(
    sub: &Subaccount,
    me: &IdentityKeyPair,
    group: &GroupIdentity,
    mut params: Value,
    signed: &str,
) -> Value {
    params["pubkey"] = group.id().to_string().into();
    params["signature"] = STANDARD.encode(sub.sign(me, signed.as_bytes())).into();
    params["subaccount"] = STANDARD.encode(sub.token).into();
    params["subaccount_sig"] = STANDARD.encode(sub.token_signature).into();
    params
}

fn store(namespace: i16, now: u64, data: &[u8]) -> (Value, String) {
    (
        json!({"namespace": namespace, "data": STANDARD.encode(data), "ttl": 60_000, "timestamp": now}),
        format!("store{}{now}", namespace_text(namespace)),
    )
}

fn retrieve(namespace: i16, now: u64) -> (Value, String) {
    (
        json!({"namespace": namespace, "timestamp": now}),
        format!("retrieve{}{now}", namespace_text(namespace)),
    )
}

#[tokio::test]
async fn group_namespaces_follow_the_admin_and_member_rules() {
    let node = TestNode::start().await;
    let mut client = node.client().await;
    let group = GroupIdentity::from_seed(Ed25519Seed::from_bytes([7; 32]));
    let member = Ed25519Seed::from_bytes([8; 32]).key_pair();
    let auth = make_subaccount(&group, &member.x25519_public(), true, false).unwrap();
    let sub = Subaccount::from_auth_data(&group.id(), &member, &auth).unwrap();
    let now = now_ms();

    for namespace in [11, 12, 13, 14, -11] {
        let (p, s) = store(namespace, now, b"by the admin");
        client.ok("store", as_group(&group, p, &s)).await;
    }
    // A member stores messages, and reads every namespace.
    let (p, s) = store(11, now, b"by a member");
    client
        .ok("store", as_member(&sub, &member, &group, p, &s))
        .await;
    for namespace in [11, 12, 13, 14, -11] {
        let (p, s) = retrieve(namespace, now);
        let body = client
            .ok("retrieve", as_member(&sub, &member, &group, p, &s))
            .await;
        assert!(!hashes(&body).is_empty(), "namespace {namespace}");
    }
    // ... but writes none of the admins' namespaces.
    for namespace in [12, 13, 14, -11] {
        let (p, s) = store(namespace, now, b"forged by a member");
        let (status, body) = client
            .call("store", as_member(&sub, &member, &group, p, &s))
            .await;
        assert_eq!(status, 401, "namespace {namespace}: {body}");
    }
    // A member cannot revoke anyone, nor store without a token.
    let token = subaccount_token(&group, &member.x25519_public(), true, false).unwrap();
    assert_eq!(token, sub.token);
    let mut revoke_signed = format!("revoke_subaccount{now}").into_bytes();
    revoke_signed.extend_from_slice(&token);
    let forged = json!({
        "pubkey": group.id().to_string(), "revoke": STANDARD.encode(token), "timestamp": now,
        "signature": STANDARD.encode(member.sign(&revoke_signed)),
    });
    assert_eq!(client.call("revoke_subaccount", forged).await.0, 401);
    let (p, s) = store(11, now, b"no token");
    let mut unsigned = p;
    unsigned["pubkey"] = group.id().to_string().into();
    unsigned["signature"] = STANDARD.encode(member.sign(s.as_bytes())).into();
    assert_eq!(client.call("store", unsigned).await.0, 401);

    // The group revokes the member: messages are closed to it, removal notices stay open.
    let revoke = json!({
        "pubkey": group.id().to_string(), "revoke": STANDARD.encode(token), "timestamp": now,
        "signature": STANDARD.encode(group.sign(&revoke_signed)),
    });
    client.ok("revoke_subaccount", revoke).await;
    let (p, s) = retrieve(11, now);
    assert_eq!(
        client
            .call("retrieve", as_member(&sub, &member, &group, p, &s))
            .await
            .0,
        401
    );
    let (p, s) = retrieve(-11, now);
    let body = client
        .ok("retrieve", as_member(&sub, &member, &group, p, &s))
        .await;
    assert_eq!(hashes(&body).len(), 1);
    node.node.shutdown().await;
}
