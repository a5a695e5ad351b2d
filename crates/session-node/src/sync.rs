//! Keeping a swarm's members identical: each node pulls its peers' journals (catch-up after
//! downtime or a partition, and the full copy a newcomer needs), and hands accounts that moved to
//! another swarm over to their new owners.
//!
//! Pulls go only to members of this node's swarm, and only changes for accounts that swarm owns
//! are taken; pushes are taken only from a member of the account's current or recent swarm.
//! Either way every change must pass [`crate::replica::admit`]: a peer can pass on what the
//! owner asked for, nothing else. A refused change is skipped (and logged at debug), never
//! retried for ever.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;
use session_swarm::SignedNodeList;
use tokio::sync::watch;

use crate::auth::AccountKey;
use crate::error::RpcError;
use crate::network::{Network, Route};
use crate::peer::Peers;
use crate::replica;
use crate::server::now_ms;
use crate::storage::{Change, Hash, JournalEntry, Owner, Storage, StorageError, StoredMessage};

/// Path of the journal pull.
pub const PULL_PATH: &str = "/swarm/v1/pull";
/// Path of the hand-over push.
pub const PUSH_PATH: &str = "/swarm/v1/push";
/// Journal entries per pull.
const PULL_LIMIT: usize = 500;
/// Messages per hand-over push.
const PUSH_BATCH: usize = 200;

/// One journal entry between peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChange {
    /// Position in the sender's journal (0 in pushes).
    pub id: i64,
    /// The account, 66 hex characters.
    pub owner: String,
    /// `store`, `delete`, `expire`, `revoke` or `unrevoke`.
    pub op: String,
    /// The message hash (or, for revocations, the token), base64.
    pub hash: String,
    /// The (new) expiry.
    pub expiry: u64,
    /// Namespace (stores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<i16>,
    /// Timestamp (stores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Data, base64 (stores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The owner's signed request behind the change (JSON text); absent only for deposits into
    /// public inboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

impl WireChange {
    fn encode(id: i64, owner: &Owner, change: &Change) -> Option<Self> {
        let owner = hex::encode(owner);
        let (op, hash, expiry, store, proof): (_, &[u8], _, _, _) = match change {
            Change::Store(m) => ("store", &m.hash, m.expiry, Some(m), &m.proof),
            Change::Delete {
                hash,
                expiry,
                proof,
            } => ("delete", hash, *expiry, None, proof),
            Change::Expire {
                hash,
                expiry,
                proof,
            } => ("expire", hash, *expiry, None, proof),
            Change::Revocation {
                token,
                revoked,
                proof,
            } => {
                let op = if *revoked { "revoke" } else { "unrevoke" };
                (op, token, 0, None, proof)
            }
            Change::Skip => return None,
        };
        Some(Self {
            id,
            owner,
            op: op.into(),
            hash: STANDARD.encode(hash),
            expiry,
            namespace: store.map(|m| m.namespace),
            timestamp: store.map(|m| m.timestamp),
            data: store.map(|m| STANDARD.encode(&m.data)),
            proof: proof.clone(),
        })
    }

    fn decode(&self) -> Result<(Owner, Change), RpcError> {
        let owner = AccountKey::parse(&self.owner)?.0;
        let proof = self.proof.clone();
        if self.op == "revoke" || self.op == "unrevoke" {
            let token = STANDARD
                .decode(&self.hash)
                .ok()
                .filter(|t| t.len() == 36)
                .ok_or_else(|| RpcError::bad_request("invalid token in change"))?;
            let revoked = self.op == "revoke";
            return Ok((
                owner,
                Change::Revocation {
                    token,
                    revoked,
                    proof,
                },
            ));
        }
        let hash: Hash = STANDARD
            .decode(&self.hash)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| RpcError::bad_request("invalid hash in change"))?;
        let change = match self.op.as_str() {
            "store" => {
                let data = STANDARD
                    .decode(self.data.as_deref().unwrap_or_default())
                    .map_err(|_| RpcError::bad_request("invalid data in change"))?;
                // Recompute the hash: a peer cannot file data under someone else's hash.
                let namespace = self.namespace.unwrap_or(0);
                let expected = session_wire::message_hash(&owner, namespace, &data);
                if STANDARD.encode(hash).trim_end_matches('=') != expected {
                    return Err(RpcError::bad_request("change hash does not match its data"));
                }
                Change::Store(StoredMessage {
                    hash,
                    namespace,
                    timestamp: self.timestamp.unwrap_or(0),
                    expiry: self.expiry,
                    data,
                    proof,
                })
            }
            "delete" => Change::Delete {
                hash,
                expiry: self.expiry,
                proof,
            },
            "expire" => Change::Expire {
                hash,
                expiry: self.expiry,
                proof,
            },
            other => {
                return Err(RpcError::bad_request(format!(
                    "unknown change op {other:?}"
                )))
            }
        };
        Ok((owner, change))
    }
}

#[derive(Deserialize)]
struct PullRequest {
    after: i64,
    limit: usize,
    /// The puller's node-list version: both sides must place accounts by the same list.
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct PullResponse {
    changes: Vec<WireChange>,
    next: i64,
    more: bool,
}

#[derive(Serialize, Deserialize)]
struct PushRequest {
    changes: Vec<WireChange>,
    /// The earlier signed list by which the sender was in the accounts' swarm, for a receiver
    /// that never held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    list: Option<SignedNodeList>,
}

/// Answers a peer's pull: journal entries after its cursor for accounts its swarm owns.
pub fn serve_pull(
    storage: &Storage,
    network: &Network,
    requester: &Ed25519PublicKey,
    body: &[u8],
) -> Result<Value, RpcError> {
    let request: PullRequest = serde_json::from_slice(body)
        .map_err(|e| RpcError::bad_request(format!("invalid pull: {e}")))?;
    // Entries are filtered by who owns each account; with different lists the puller could skip
    // entries for good. It retries once both hold the same list.
    let mine = network.list().map_or(0, |l| l.version);
    if request.version != mine {
        return Err(RpcError::new(
            409,
            format!(
                "node list versions differ: {} here, {} there",
                mine, request.version
            ),
        ));
    }
    let (entries, more) = storage
        .changes_after(request.after, request.limit.clamp(1, 5 * PULL_LIMIT))
        .map_err(RpcError::storage)?;
    let next = entries.last().map_or(request.after, |e| e.id);
    let theirs = network.swarm_id_of(requester);
    let list = network.list();
    let changes: Vec<WireChange> = entries
        .iter()
        .filter(|JournalEntry { owner, .. }| {
            let mut key = [0u8; 32];
            key.copy_from_slice(&owner[1..]);
            match &list {
                Some(list) => list.swarm_for(&key).map(|s| s.id) == theirs,
                None => true,
            }
        })
        .filter_map(|e| WireChange::encode(e.id, &e.owner, &e.change))
        .collect();
    serde_json::to_value(PullResponse {
        changes,
        next,
        more,
    })
    .map_err(|_| RpcError::new(500, "internal error"))
}

/// Applies a hand-over push from `sender`: changes for accounts this node's swarm owns, sent by
/// a member of each account's current or recent swarm. When any account is not this swarm's
/// (this node may not have the newest list yet), nothing is applied and the answer is 421, so the
/// sender keeps its copy and tries again. Changes that fail [`replica::admit`] are skipped and
/// counted in the answer.
pub fn serve_push(
    storage: &Storage,
    network: &Network,
    sender: &Ed25519PublicKey,
    body: &[u8],
) -> Result<Value, RpcError> {
    let request: PushRequest = serde_json::from_slice(body)
        .map_err(|e| RpcError::bad_request(format!("invalid push: {e}")))?;
    if let Some(list) = request.list {
        network
            .learn_earlier(list, now_ms())
            .map_err(|e| RpcError::new(403, format!("hand-over list refused: {e}")))?;
    }
    let changes = request
        .changes
        .iter()
        .map(WireChange::decode)
        .collect::<Result<Vec<_>, _>>()?;
    for (owner, _) in &changes {
        let key = account_key(owner);
        if network.route(&key) != Route::Local {
            return Err(RpcError::new(
                421,
                "an account in this push belongs to another swarm",
            ));
        }
        if !network.in_account_swarm(sender, &key, true) {
            return Err(RpcError::new(
                403,
                "the sender was not a member of the swarm of an account in this push",
            ));
        }
    }
    let (applied, refused) = apply_changes(storage, changes)?;
    Ok(json!({"applied": applied, "refused": refused}))
}

/// Admits and applies changes one by one; returns how many were applied and refused. Only a
/// failing database stops it.
fn apply_changes(
    storage: &Storage,
    changes: Vec<(Owner, Change)>,
) -> Result<(usize, usize), RpcError> {
    let (mut applied, mut refused) = (0, 0);
    for (owner, change) in changes {
        let now = now_ms();
        match replica::admit(storage, &owner, change, now) {
            Ok(Some(admitted)) => match storage.apply(&owner, admitted, now) {
                Ok(()) => applied += 1,
                Err(
                    e @ (StorageError::Full { .. }
                    | StorageError::InboxFull { .. }
                    | StorageError::DepositRate { .. }),
                ) => {
                    tracing::debug!(error = %e, "a peer's change does not fit");
                    refused += 1;
                }
                Err(e) => return Err(RpcError::storage(e)),
            },
            Ok(None) => applied += 1,
            Err(e) => {
                tracing::debug!(error = %e, "refused a peer's change");
                refused += 1;
            }
        }
    }
    Ok((applied, refused))
}

/// The 32 key bytes of an account (its swarm position comes from them).
fn account_key(owner: &Owner) -> [u8; 32] {
    let mut key = [0u8; 32];
    key.copy_from_slice(&owner[1..]);
    key
}

/// Pulls every swarm peer every `interval`, and hands accounts over after each list change.
pub async fn run(
    storage: Arc<Storage>,
    network: Arc<Network>,
    peers: Arc<Peers>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut list_changes = network.subscribe();
    let mut hand_off_pending = true;
    let mut ticker = crate::periodic(interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = list_changes.changed() => {
                if changed.is_err() { return; }
                hand_off_pending = true;
            }
            _ = shutdown.changed() => return,
        }
        for peer in network.swarm_peers() {
            pull_from(&storage, &network, &peers, peer).await;
            crate::blob_sync::pull_from(&storage, &network, &peers, peer).await;
        }
        if hand_off_pending {
            let blobs_done = crate::blob_sync::hand_off(&storage, &network, &peers).await;
            hand_off_pending = !(hand_off(&storage, &network, &peers).await && blobs_done);
        }
    }
}

/// Pulls one peer's journal from the saved cursor until it has nothing more.
async fn pull_from(
    storage: &Arc<Storage>,
    network: &Arc<Network>,
    peers: &Peers,
    peer: NodeAddress,
) {
    let key = *peer.key.as_bytes();
    let mut cursor = {
        let storage = storage.clone();
        match tokio::task::spawn_blocking(move || storage.cursor(&key)).await {
            Ok(Ok(cursor)) => cursor,
            _ => return,
        }
    };
    loop {
        let version = network.list().map_or(0, |l| l.version);
        let body = json!({"after": cursor, "limit": PULL_LIMIT, "version": version})
            .to_string()
            .into_bytes();
        let response = match peers.post(peer, PULL_PATH, body).await {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                tracing::debug!(status = r.status, "peer refused a pull");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "peer unreachable for a pull");
                return;
            }
        };
        let Ok(page) = serde_json::from_slice::<PullResponse>(&response.body) else {
            tracing::warn!("malformed pull response from a peer");
            return;
        };
        let (storage, network) = (storage.clone(), network.clone());
        let applied = tokio::task::spawn_blocking(move || -> Result<(i64, bool), RpcError> {
            // Only accounts this swarm owns; a malformed entry is skipped like a refused one.
            let changes: Vec<(Owner, Change)> = page
                .changes
                .iter()
                .filter_map(|change| change.decode().ok())
                .filter(|(owner, _)| network.route(&account_key(owner)) == Route::Local)
                .collect();
            let (_, refused) = apply_changes(&storage, changes)?;
            if refused > 0 {
                tracing::debug!(refused, "refused changes in a peer's journal");
            }
            storage
                .set_cursor(&key, page.next)
                .map_err(RpcError::storage)?;
            Ok((page.next, page.more))
        })
        .await;
        match applied {
            Ok(Ok((next, more))) => {
                cursor = next;
                if !more {
                    return;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "applying a peer's changes failed");
                return;
            }
            Err(_) => return,
        }
    }
}

/// Pushes the messages of every account now owned by another swarm to that swarm's members, and
/// drops them here once all members have them. Returns true when nothing is left to hand over.
async fn hand_off(storage: &Arc<Storage>, network: &Network, peers: &Peers) -> bool {
    let owners = {
        let storage = storage.clone();
        match tokio::task::spawn_blocking(move || storage.owners()).await {
            Ok(Ok(owners)) => owners,
            _ => return false,
        }
    };
    let mut done = true;
    for owner in owners {
        let key = account_key(&owner);
        if network.route(&key) == Route::Local {
            continue;
        }
        let changes = {
            let storage = storage.clone();
            let held = tokio::task::spawn_blocking(move || -> Result<Vec<Change>, StorageError> {
                let mut changes = storage.owner_revocations(&owner)?;
                changes.extend(
                    storage
                        .owner_messages(&owner, now_ms())?
                        .into_iter()
                        .map(Change::Store),
                );
                Ok(changes)
            })
            .await;
            match held {
                Ok(Ok(changes)) => changes,
                _ => {
                    done = false;
                    continue;
                }
            }
        };
        let mut delivered = true;
        let list = network.earlier_membership(&key);
        for member in network.owners_of(&key) {
            for chunk in changes.chunks(PUSH_BATCH) {
                let changes: Vec<WireChange> = chunk
                    .iter()
                    .filter_map(|change| WireChange::encode(0, &owner, change))
                    .collect();
                let push = PushRequest {
                    changes,
                    list: list.clone(),
                };
                let body = serde_json::to_vec(&push).unwrap_or_default();
                match peers.post(member, PUSH_PATH, body).await {
                    Ok(r) if r.status == 200 => {}
                    _ => delivered = false,
                }
            }
        }
        if delivered {
            let storage = storage.clone();
            let _ = tokio::task::spawn_blocking(move || storage.hand_off(&owner)).await;
            tracing::debug!(
                changes = changes.len(),
                "handed an account over to its new swarm"
            );
        } else {
            done = false;
        }
    }
    done
}
