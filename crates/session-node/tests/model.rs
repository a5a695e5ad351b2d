//! A model test of the storage API: random sequences of store, retrieve, delete, expire, time
//! steps and sweeps run against the node's RPC handlers on a real SQLite database and against a
//! plain in-memory model; every answer must agree. Time is simulated (the handlers take `now`).
//!
//! CI runs proptest's default 256 cases; run more by hand:
//! `PROPTEST_CASES=2000 cargo test -p session-node --test model --release`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;
use session_crypto::{Ed25519Seed, IdentityKeyPair};
use session_node::network::Network;
use session_node::rpc::RpcContext;
use session_node::storage::{Durability, Storage};
use session_wire::rpc::{
    Auth, DeleteParams, ExpireParams, Request, RetrieveParams, SnodeInfo, StoreParams,
};

const START: u64 = 1_700_000_000_000;
const ACCOUNTS: u8 = 3;

#[derive(Debug, Clone)]
enum Op {
    Store {
        account: u8,
        data: u8,
        ttl_s: u64,
    },
    Retrieve {
        account: u8,
    },
    Delete {
        account: u8,
        pick: prop::sample::Index,
    },
    Expire {
        account: u8,
        pick: prop::sample::Index,
        ttl_s: u64,
    },
    Advance {
        ms: u64,
    },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..ACCOUNTS, 0u8..12, 10u64..120).prop_map(|(account, data, ttl_s)| Op::Store { account, data, ttl_s }),
        3 => (0..ACCOUNTS).prop_map(|account| Op::Retrieve { account }),
        2 => (0..ACCOUNTS, any::<prop::sample::Index>()).prop_map(|(account, pick)| Op::Delete { account, pick }),
        2 => (0..ACCOUNTS, any::<prop::sample::Index>(), 10u64..300).prop_map(|(account, pick, ttl_s)| Op::Expire { account, pick, ttl_s }),
        2 => (0u64..90_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Sweep),
    ]
}

/// A message as the model keeps it.
#[derive(Debug, Clone)]
struct Message {
    hash: String,
    data: Vec<u8>,
    expiry: u64,
}

/// The model: per account, messages in insertion order (expired ones linger until a sweep, as
/// rows do, but are never visible); deleted hashes are remembered until their expiry is swept.
#[derive(Default)]
struct Model {
    inbox: BTreeMap<u8, Vec<Message>>,
    deleted: BTreeMap<String, u64>,
}

struct Real {
    ctx: RpcContext,
    keys: Vec<IdentityKeyPair>,
    _dir: tempfile::TempDir,
}

fn real() -> Real {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        Storage::open(&dir.path().join("db.sqlite"), 1 << 30, Durability::Normal).unwrap(),
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
    Real {
        ctx: RpcContext {
            storage,
            identity,
            network,
        },
        keys: (1..=ACCOUNTS)
            .map(|i| Ed25519Seed::from_bytes([i; 32]).key_pair())
            .collect(),
        _dir: dir,
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let real = real();
    let mut model = Model::default();
    let mut now = START;
    for op in ops {
        match op {
            Op::Store {
                account,
                data,
                ttl_s,
            } => {
                let keys = &real.keys[account as usize];
                let payload = vec![account, data];
                let request = Request::Store(StoreParams::deposit(
                    &keys.account_id(),
                    0,
                    &payload,
                    now,
                    ttl_s * 1000,
                ));
                let body = real.ctx.handle(request, now).unwrap();
                let hash = body["hash"].as_str().unwrap().to_owned();
                let inbox = model.inbox.entry(account).or_default();
                let present =
                    inbox.iter().any(|m| m.hash == hash) || model.deleted.contains_key(&hash);
                let me = body["swarm"].as_object().unwrap().values().next().unwrap();
                prop_assert_eq!(me["already"] == true, present, "store of {:?}", payload);
                if !present {
                    inbox.push(Message {
                        hash,
                        data: payload,
                        expiry: now + ttl_s * 1000,
                    });
                }
            }
            Op::Retrieve { account } => {
                let keys = &real.keys[account as usize];
                let mut params = RetrieveParams::signed(keys, 0, now, None);
                params.max_count = Some(10_000);
                let body = real.ctx.handle(Request::Retrieve(params), now).unwrap();
                let got: Vec<(String, Vec<u8>, u64)> = body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["hash"].as_str().unwrap().to_owned(),
                            STANDARD.decode(m["data"].as_str().unwrap()).unwrap(),
                            m["expiration"].as_u64().unwrap(),
                        )
                    })
                    .collect();
                let want: Vec<(String, Vec<u8>, u64)> = model
                    .inbox
                    .get(&account)
                    .into_iter()
                    .flatten()
                    .filter(|m| m.expiry > now)
                    .map(|m| (m.hash.clone(), m.data.clone(), m.expiry))
                    .collect();
                prop_assert_eq!(got, want);
            }
            Op::Delete { account, pick } => {
                let Some(target) = pick_message(&model, account, pick) else {
                    continue;
                };
                let keys = &real.keys[account as usize];
                let request = Request::Delete(DeleteParams {
                    pubkey: keys.account_id().to_string(),
                    messages: vec![target.hash.clone()],
                    required: false,
                    auth: Auth::signed_by(keys, format!("delete{}", target.hash).as_bytes()),
                });
                let body = real.ctx.handle(request, now).unwrap();
                let me = body["swarm"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .clone();
                // Rows are deleted whether or not they expired; the deletion is remembered.
                prop_assert_eq!(&me["deleted"], &Value::from(vec![target.hash.clone()]));
                model
                    .inbox
                    .get_mut(&account)
                    .unwrap()
                    .retain(|m| m.hash != target.hash);
                model.deleted.insert(target.hash, target.expiry);
            }
            Op::Expire {
                account,
                pick,
                ttl_s,
            } => {
                let Some(target) = pick_message(&model, account, pick) else {
                    continue;
                };
                let keys = &real.keys[account as usize];
                let expiry = now + ttl_s * 1000;
                let request = Request::Expire(ExpireParams {
                    pubkey: keys.account_id().to_string(),
                    messages: vec![target.hash.clone()],
                    expiry,
                    shorten: false,
                    extend: false,
                    timestamp: None,
                    auth: Auth::signed_by(
                        keys,
                        format!("expire{expiry}{}", target.hash).as_bytes(),
                    ),
                });
                let body = real.ctx.handle(request, now).unwrap();
                let me = body["swarm"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .clone();
                // A message past its expiry stays expired.
                let alive = target.expiry > now;
                let expected: Vec<String> = if alive {
                    vec![target.hash.clone()]
                } else {
                    Vec::new()
                };
                prop_assert_eq!(&me["updated"], &Value::from(expected));
                if alive {
                    for m in model
                        .inbox
                        .get_mut(&account)
                        .unwrap()
                        .iter_mut()
                        .filter(|m| m.hash == target.hash)
                    {
                        m.expiry = expiry;
                    }
                }
            }
            Op::Advance { ms } => now += ms,
            Op::Sweep => {
                real.ctx.storage.sweep_expired(now).unwrap();
                for inbox in model.inbox.values_mut() {
                    inbox.retain(|m| m.expiry > now);
                }
                model.deleted.retain(|_, expiry| *expiry > now);
            }
        }
        let stored: usize = model.inbox.values().map(Vec::len).sum();
        prop_assert_eq!(real.ctx.storage.message_count(), stored as u64);
    }
    Ok(())
}

fn pick_message(model: &Model, account: u8, pick: prop::sample::Index) -> Option<Message> {
    let inbox = model.inbox.get(&account)?;
    (!inbox.is_empty()).then(|| inbox[pick.index(inbox.len())].clone())
}

proptest! {
    #[test]
    fn the_node_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
