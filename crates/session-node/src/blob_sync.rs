//! Keeping a swarm's blobs identical, the way [`crate::sync`] does it for messages: each node
//! pulls the blobs its swarm peers hold after a per-peer cursor (catch-up after downtime, the
//! full copy a newcomer needs), and after a node-list change hands blobs whose swarm moved over
//! to the new owners. A blob is self-certifying (its name is its hash), so a pulled or pushed
//! blob needs no owner's proof: it is checked against its name and its swarm, nothing else.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;
use session_wire::rpc::{Request, StoreBlobParams, MAX_TTL_MS, MIN_TTL_MS};

use crate::blobs::HeldBlob;
use crate::error::RpcError;
use crate::executor::FORWARD_PATH;
use crate::network::{Network, Route};
use crate::peer::Peers;
use crate::server::now_ms;
use crate::storage::{Storage, StorageError};

/// Path of the blob pull (node-only, signed like the journal pull).
pub const BLOB_PULL_PATH: &str = "/swarm/v1/blob_pull";
/// Blobs per pull page (each at most 76,800 bytes: a page stays under ~8 MB of JSON).
const PULL_LIMIT: usize = 64;

/// One blob between peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WireBlob {
    name: String,
    expiry: u64,
    data: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PullRequest {
    after: i64,
    #[serde(default)]
    limit: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct PullResponse {
    blobs: Vec<WireBlob>,
    next: i64,
    more: bool,
}

/// Creates the cursor table (called from [`crate::blobs::migrate`]).
pub(crate) fn migrate(conn: &rusqlite::Connection) -> Result<(), StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS blob_store.blob_cursors (
            peer BLOB PRIMARY KEY,
            cursor INTEGER NOT NULL
        ) WITHOUT ROWID;",
    )?;
    Ok(())
}

fn cursor(storage: &Storage, peer: &[u8; 32]) -> Result<i64, StorageError> {
    let conn = storage.connection()?;
    let found = conn.query_row(
        "SELECT cursor FROM blob_cursors WHERE peer = ?1",
        [&peer[..]],
        |r| r.get(0),
    );
    match found {
        Ok(c) => Ok(c),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn set_cursor(storage: &Storage, peer: &[u8; 32], cursor: i64) -> Result<(), StorageError> {
    let conn = storage.connection()?;
    conn.execute(
        "INSERT INTO blob_cursors (peer, cursor) VALUES (?1, ?2)
         ON CONFLICT(peer) DO UPDATE SET cursor = excluded.cursor",
        params![&peer[..], cursor],
    )?;
    Ok(())
}

/// Answers a peer's blob pull: held blobs after its cursor that its swarm owns.
pub fn serve_pull(
    storage: &Storage,
    network: &Network,
    requester: &Ed25519PublicKey,
    body: &[u8],
) -> Result<Value, RpcError> {
    let request: PullRequest = serde_json::from_slice(body)
        .map_err(|e| RpcError::bad_request(format!("invalid blob pull: {e}")))?;
    let limit = request.limit.clamp(1, PULL_LIMIT);
    let held = storage
        .blobs_after(request.after, limit + 1, now_ms())
        .map_err(RpcError::storage)?;
    let more = held.len() > limit;
    let page = &held[..held.len().min(limit)];
    let next = page.last().map_or(request.after, |b| b.id);
    let theirs = network.swarm_id_of(requester);
    let list = network.list();
    let blobs = page
        .iter()
        .filter(|b| match &list {
            Some(list) => list.swarm_for(&b.name).map(|s| s.id) == theirs,
            None => true,
        })
        .map(|b| WireBlob {
            name: hex::encode(b.name),
            expiry: b.expiry,
            data: STANDARD.encode(&b.data),
        })
        .collect();
    serde_json::to_value(PullResponse { blobs, next, more })
        .map_err(|_| RpcError::new(500, "internal error"))
}

/// Stores pulled blobs that match their names and belong to this node's swarm; returns how
/// many were refused.
fn admit(storage: &Storage, network: &Network, blobs: &[WireBlob]) -> Result<usize, RpcError> {
    let now = now_ms();
    let mut refused = 0;
    for blob in blobs {
        let name = session_wire::parse_blob_name(&blob.name);
        let data = STANDARD.decode(&blob.data).ok();
        let (Some(name), Some(data)) = (name, data) else {
            refused += 1;
            continue;
        };
        let fits = blob.expiry > now && blob.expiry <= now.saturating_add(MAX_TTL_MS);
        if !fits || session_wire::blob_name(&data) != name || network.route(&name) != Route::Local {
            refused += 1;
            continue;
        }
        match storage.store_blob(&name, &data, blob.expiry) {
            Ok(_) => {}
            Err(StorageError::Full { .. }) => refused += 1,
            Err(e) => return Err(RpcError::storage(e)),
        }
    }
    Ok(refused)
}

/// Pulls one peer's blobs from the saved cursor until it has nothing more.
pub async fn pull_from(
    storage: &Arc<Storage>,
    network: &Arc<Network>,
    peers: &Peers,
    peer: NodeAddress,
) {
    let key = *peer.key.as_bytes();
    let mut after = {
        let storage = storage.clone();
        match tokio::task::spawn_blocking(move || cursor(&storage, &key)).await {
            Ok(Ok(c)) => c,
            _ => return,
        }
    };
    loop {
        let body = serde_json::to_vec(&PullRequest {
            after,
            limit: PULL_LIMIT,
        })
        .unwrap_or_default();
        let page = match peers.post(peer, BLOB_PULL_PATH, body).await {
            Ok(r) if r.status == 200 => serde_json::from_slice::<PullResponse>(&r.body).ok(),
            _ => None,
        };
        let Some(page) = page else {
            tracing::debug!("a peer's blob pull failed");
            return;
        };
        let (storage, network) = (storage.clone(), network.clone());
        let applied = tokio::task::spawn_blocking(move || -> Result<(i64, bool), RpcError> {
            let refused = admit(&storage, &network, &page.blobs)?;
            if refused > 0 {
                tracing::debug!(refused, "refused blobs in a peer's pull");
            }
            set_cursor(&storage, &key, page.next).map_err(RpcError::storage)?;
            Ok((page.next, page.more))
        })
        .await;
        match applied {
            Ok(Ok((next, more))) if more && next > after => after = next,
            _ => return,
        }
    }
}

/// Hands blobs whose swarm moved to the new swarm's members (as forwarded `store_blob`s) and
/// drops them here once every member took them. Returns true when nothing is left to hand over.
pub async fn hand_off(storage: &Arc<Storage>, network: &Network, peers: &Peers) -> bool {
    let mut done = true;
    let mut after = 0;
    loop {
        let page = {
            let storage = storage.clone();
            match tokio::task::spawn_blocking(move || storage.blobs_after(after, 256, now_ms()))
                .await
            {
                Ok(Ok(page)) => page,
                _ => return false,
            }
        };
        let Some(last) = page.last() else {
            return done;
        };
        after = last.id;
        for blob in page
            .iter()
            .filter(|b| network.route(&b.name) != Route::Local)
        {
            let Some(body) = forward_body(blob, now_ms()) else {
                continue;
            };
            let mut delivered = true;
            for member in network.owners_of(&blob.name) {
                match peers.post(member, FORWARD_PATH, body.clone()).await {
                    Ok(r) if r.status == 200 => {}
                    _ => delivered = false,
                }
            }
            if delivered {
                let (storage, name) = (storage.clone(), blob.name);
                let _ = tokio::task::spawn_blocking(move || storage.drop_blob(&name)).await;
            } else {
                done = false;
            }
        }
    }
}

/// The forwarded `store_blob` that copies a held blob with its remaining TTL; `None` once too
/// little is left.
fn forward_body(blob: &HeldBlob, now: u64) -> Option<Vec<u8>> {
    let ttl = blob.expiry.checked_sub(now).filter(|t| *t >= MIN_TTL_MS)?;
    let request = Request::StoreBlob(StoreBlobParams {
        name: hex::encode(blob.name),
        data: STANDARD.encode(&blob.data),
        ttl: Some(ttl.min(MAX_TTL_MS)),
    });
    Some(request.to_json())
}
