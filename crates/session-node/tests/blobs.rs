//! The node's blob rules, through the real handlers and SQLite: the name must be the data's
//! hash, the size limit, fetch without a signature, TTL and re-store extension, the blob cap (507)
//! apart from the message cap, and expiry sweeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::Ed25519Seed;
use session_node::network::Network;
use session_node::rpc::RpcContext;
use session_node::storage::{Durability, Storage};
use session_wire::rpc::{
    FetchBlobParams, Request, SnodeInfo, StoreBlobParams, MAX_BLOB_BYTES, MAX_TTL_MS,
};

const NOW: u64 = 1_800_000_000_000;

fn context(blob_cap: u64) -> (RpcContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        Storage::open(&dir.path().join("db.sqlite"), 1 << 30, Durability::Normal)
            .unwrap()
            .with_blob_cap(blob_cap),
    );
    let identity = Arc::new(Ed25519Seed::from_bytes([42; 32]).key_pair());
    let listing = SnodeInfo {
        ip: "127.0.0.1".into(),
        port_https: 1,
        port_omq: 0,
        pubkey_ed25519: identity.ed25519_public().to_string(),
        pubkey_x25519: identity.x25519_public().to_string(),
        pubkey_legacy: identity.ed25519_public().to_string(),
    };
    let network = Arc::new(Network::load(
        identity.ed25519_public(),
        listing,
        None,
        dir.path(),
    ));
    (
        RpcContext {
            storage,
            identity,
            network,
        },
        dir,
    )
}

fn store(data: &[u8], ttl: Option<u64>) -> Request {
    Request::StoreBlob(StoreBlobParams {
        name: session_wire::blob_name_hex(data),
        data: STANDARD.encode(data),
        ttl,
    })
}

fn fetch(data: &[u8]) -> Request {
    Request::FetchBlob(FetchBlobParams {
        name: session_wire::blob_name_hex(data),
    })
}

#[test]
fn stores_and_serves_by_name_without_a_signature() {
    let (ctx, _dir) = context(1 << 20);
    let data = vec![7u8; 1000];
    let reply = ctx.handle(store(&data, None), NOW).unwrap();
    assert_eq!(reply["stored"], true);
    assert_eq!(reply["expiry"], NOW + MAX_TTL_MS);
    let got = ctx.handle(fetch(&data), NOW + 1).unwrap();
    assert_eq!(
        STANDARD.decode(got["data"].as_str().unwrap()).unwrap(),
        data
    );
    // Unknown name: 404.
    let err = ctx.handle(fetch(b"other"), NOW).unwrap_err();
    assert_eq!(err.status, 404);
}

#[test]
fn refuses_a_name_that_is_not_the_hash_and_oversize_data() {
    let (ctx, _dir) = context(1 << 20);
    let forged = Request::StoreBlob(StoreBlobParams {
        name: session_wire::blob_name_hex(b"what the name says"),
        data: STANDARD.encode(b"other bytes"),
        ttl: None,
    });
    let err = ctx.handle(forged, NOW).unwrap_err();
    assert_eq!(err.status, 400);
    assert!(err.message.contains("hash"), "{}", err.message);
    let bad_name = Request::StoreBlob(StoreBlobParams {
        name: "zz".into(),
        data: STANDARD.encode(b"x"),
        ttl: None,
    });
    assert_eq!(ctx.handle(bad_name, NOW).unwrap_err().status, 400);
    let big = vec![1u8; MAX_BLOB_BYTES + 1];
    assert_eq!(ctx.handle(store(&big, None), NOW).unwrap_err().status, 413);
    let max = vec![1u8; MAX_BLOB_BYTES];
    assert!(ctx.handle(store(&max, None), NOW).is_ok());
    let long = store(b"ttl", Some(MAX_TTL_MS + 1));
    assert_eq!(ctx.handle(long, NOW).unwrap_err().status, 400);
}

#[test]
fn a_restore_extends_and_expired_blobs_go() {
    let (ctx, _dir) = context(1 << 20);
    let data = b"chunk".to_vec();
    ctx.handle(store(&data, Some(60_000)), NOW).unwrap();
    let again = ctx
        .handle(store(&data, Some(60_000)), NOW + 30_000)
        .unwrap();
    assert_eq!(again["stored"], false);
    assert_eq!(again["expiry"], NOW + 90_000);
    // A shorter re-store never shortens.
    ctx.handle(store(&data, Some(10_000)), NOW + 31_000)
        .unwrap();
    let got = ctx.handle(fetch(&data), NOW + 80_000).unwrap();
    assert_eq!(got["expiry"], NOW + 90_000);
    assert_eq!(
        ctx.handle(fetch(&data), NOW + 90_000).unwrap_err().status,
        404
    );
    ctx.storage.sweep_expired(NOW + 90_000).unwrap();
    assert_eq!(ctx.storage.blob_usage().unwrap(), (0, 0));
}

#[test]
fn the_blob_cap_refuses_with_507_and_leaves_messages_alone() {
    let (ctx, _dir) = context(10_000);
    ctx.handle(store(&[1u8; 6000], None), NOW).unwrap();
    let err = ctx.handle(store(&[2u8; 6000], None), NOW).unwrap_err();
    assert_eq!(err.status, 507);
    assert!(err.message.contains("blob storage full"), "{}", err.message);
    // What is held can still be extended, and a blob that fits is taken.
    ctx.handle(store(&[1u8; 6000], None), NOW + 1).unwrap();
    ctx.handle(store(&[3u8; 4000], None), NOW).unwrap();
    assert_eq!(ctx.storage.blob_usage().unwrap(), (2, 10_000));
    assert_eq!(ctx.storage.message_count(), 0);
}
