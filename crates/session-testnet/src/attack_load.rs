//! Attacks that run in the background of the soak and the hostile-input run: a listed node that
//! forges replication (hand-over pushes of deletes, expiry changes and private-namespace stores
//! that no owner signed, for the accounts it holds, sent to every other node), and one client
//! flooding one inbox with deposits. Both are counted; neither may ever take effect.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use session_crypto::IdentityKeyPair;
use session_net::{Connection, NodeAddress, NodeIdentity};
use session_node::peer::Peers;
use session_node::storage::{Durability, Storage};
use session_node::sync::PUSH_PATH;
use session_wire::rpc::{RawRequest, Request, StoreParams};

use crate::client::TestAccount;
use crate::{now_ms, random_below, Testnet, TestnetError};

/// Year 2100 in Unix milliseconds: the expiry forged stores ask for.
const YEAR_2100_MS: u64 = 4_102_444_800_000;

/// What the forging node achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForgeReport {
    /// Pushes sent.
    pub pushes: u64,
    /// Pushes refused whole (the sender is not in the account's swarm).
    pub refused_pushes: u64,
    /// Forged changes that members refused one by one.
    pub refused_changes: u64,
    /// Forged changes a node applied (must be 0).
    pub applied_changes: u64,
    /// Pushes that failed otherwise (node down or paused, other statuses).
    pub failed: u64,
}

/// What flooding one inbox achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloodReport {
    /// Deposits sent.
    pub sent: u64,
    /// Deposits stored.
    pub stored: u64,
    /// Refused by the per-account rate (429).
    pub rate_limited: u64,
    /// Refused by the inbox quota (507).
    pub inbox_full: u64,
    /// Anything else (node down, other statuses).
    pub failed: u64,
}

/// The node `attacker` of `net` as an attacker: its identity and its database.
pub fn forger(net: &Testnet, attacker: usize) -> Result<Forger, TestnetError> {
    let dir = net.base_dir().join(format!("node-{attacker:02}"));
    let (seed, identity) = session_node::identity::load_or_create(&dir)
        .map_err(|e| TestnetError::Publish(e.to_string()))?;
    let tls = NodeIdentity::from_seed(seed.as_bytes())
        .map_err(|e| TestnetError::Publish(e.to_string()))?;
    let me = net
        .address(attacker)
        .ok_or(TestnetError::NoSuchNode(attacker))?;
    Ok(Forger {
        identity: Arc::new(identity),
        tls,
        database: dir.join(session_node::DATABASE_FILE),
        others: net
            .addresses()
            .into_iter()
            .filter(|a| a.key != me.key)
            .collect(),
    })
}

/// A listed node turned attacker.
pub struct Forger {
    identity: Arc<IdentityKeyPair>,
    tls: NodeIdentity,
    database: PathBuf,
    others: Vec<NodeAddress>,
}

impl Forger {
    /// Until `stop`: reads the accounts and message hashes its own database holds, and pushes
    /// forged changes for them to every other node, a round every `interval`.
    pub async fn run(self, interval: Duration, stop: Arc<AtomicBool>) -> ForgeReport {
        let mut report = ForgeReport::default();
        let peers = Peers::new(self.identity.clone(), self.tls.clone());
        let Ok(storage) = Storage::open(&self.database, u64::MAX, Durability::Normal) else {
            return report;
        };
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(interval).await;
            let now = now_ms();
            let owners = storage.owners().unwrap_or_default();
            let Some(owner) = owners.get(random_below(owners.len().max(1))) else {
                continue;
            };
            let hashes: Vec<[u8; 32]> = storage
                .owner_messages(owner, now)
                .unwrap_or_default()
                .into_iter()
                .take(5)
                .map(|m| m.hash)
                .collect();
            let changes = forged_changes(owner, &hashes, now);
            let forged = changes.len() as u64;
            let body = serde_json::to_vec(&json!({ "changes": changes })).unwrap_or_default();
            for node in &self.others {
                report.pushes += 1;
                match peers.post(*node, PUSH_PATH, body.clone()).await {
                    Ok(r) if r.status == 403 => report.refused_pushes += 1,
                    Ok(r) if r.status == 200 => {
                        let answer: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                        report.refused_changes += answer["refused"].as_u64().unwrap_or(0);
                        report.applied_changes += answer["applied"].as_u64().unwrap_or(forged);
                    }
                    // 421: the node is not in the account's swarm by its list, so it applied
                    // nothing either.
                    Ok(r) if r.status == 421 => report.refused_pushes += 1,
                    _ => report.failed += 1,
                }
            }
        }
        report
    }
}

/// Changes no owner signed: delete each message, expire it in a second under a proof whose
/// signature is made up, and plant a message in the private namespace 2 until 2100.
fn forged_changes(owner: &[u8; 33], hashes: &[[u8; 32]], now: u64) -> Vec<Value> {
    let owner_hex = hex_of(owner);
    let mut changes = Vec::new();
    for hash in hashes {
        let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash);
        let proof = json!({"method": "expire", "params": {"pubkey": owner_hex, "messages": [text],
            "expiry": now + 1000, "signature": STANDARD.encode([7u8; 64])}})
        .to_string();
        changes.push(json!({"id": 0, "owner": owner_hex, "op": "delete",
            "hash": STANDARD.encode(hash), "expiry": now + 60_000}));
        changes.push(json!({"id": 0, "owner": owner_hex, "op": "expire",
            "hash": STANDARD.encode(hash), "expiry": now + 1000, "proof": proof}));
    }
    let data = format!("planted {now}").into_bytes();
    let planted = session_wire::message_hash(owner, 2, &data);
    let planted = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(planted)
        .map(|raw| STANDARD.encode(raw))
        .unwrap_or_default();
    changes.push(
        json!({"id": 0, "owner": owner_hex, "op": "store", "hash": planted,
        "expiry": YEAR_2100_MS, "namespace": 2, "timestamp": now, "data": STANDARD.encode(&data)}),
    );
    changes
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Until `stop`: batches of 20 deposits of `size` bytes into `victim`'s inbox at `node`, as fast
/// as the node answers.
pub async fn flood_inbox(
    node: NodeAddress,
    victim: TestAccount,
    size: usize,
    stop: Arc<AtomicBool>,
) -> FloodReport {
    let mut report = FloodReport::default();
    let mut connection: Option<Connection> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let requests: Vec<RawRequest> = (0..20)
            .map(|_| {
                n += 1;
                let mut data = vec![0x5A; size];
                let tag = n.to_le_bytes();
                data[..tag.len().min(size)].copy_from_slice(&tag[..tag.len().min(size)]);
                let params =
                    StoreParams::deposit(&victim.keys.account_id(), 0, &data, now_ms(), 3_600_000);
                Request::Store(params).to_raw()
            })
            .collect();
        let batch = RawRequest {
            method: "batch".into(),
            params: json!({ "requests": requests }),
        };
        report.sent += 20;
        if connection.is_none() {
            connection = Connection::open(node, Duration::from_secs(10)).await.ok();
        }
        let Some(open) = connection.as_mut() else {
            report.failed += 20;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let answer = match open
            .post("/storage_rpc/v1", body, Duration::from_secs(10))
            .await
        {
            Ok(r) if r.status == 200 => {
                serde_json::from_slice::<Value>(&r.body).unwrap_or_default()
            }
            _ => {
                report.failed += 20;
                connection = None;
                continue;
            }
        };
        for result in answer["results"].as_array().into_iter().flatten() {
            match result["code"].as_u64() {
                Some(200) => report.stored += 1,
                Some(429) => report.rate_limited += 1,
                Some(507) => report.inbox_full += 1,
                _ => report.failed += 1,
            }
        }
    }
    report
}
