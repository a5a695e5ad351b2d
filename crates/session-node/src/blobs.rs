//! Content-addressed blobs: the chunks of encrypted attachments, kept by the swarm whose
//! position is nearest the blob's name (its BLAKE2b-256 hash), so storage and load spread over
//! the network and no node needs to know who sent what to whom.
//!
//! Rules: the name must be the hash of the data (checked; so a blob needs no signature and
//! nobody can store other bytes under a name); at most [`MAX_BLOB_BYTES`]; anyone may fetch by
//! name; TTL as for public messages (default and most 14 days), a re-store extends it; a cap of
//! its own (507 when full), apart from the message cap. A blob row holds the name, the bytes
//! (ciphertext), its size and expiry: no account, no sender, no file name.
//!
//! Replication: a `store_blob` is forwarded to every other swarm member like a message store
//! ([`crate::executor`]); [`crate::blob_sync`] pulls what a member missed and hands blobs over
//! when their swarm changes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use session_wire::rpc::{
    FetchBlobParams, Request, StoreBlobParams, MAX_BLOB_BYTES, MAX_TTL_MS, MIN_TTL_MS,
};

use crate::error::RpcError;
use crate::rpc::{with_time, RpcContext, RpcResult};
use crate::storage::{Storage, StorageError};

/// Default cap of blob bytes one node holds, in MiB.
pub const DEFAULT_BLOB_CAP_MB: u64 = 1024;

/// The file beside the message database that holds the blobs (attached to its connection, so
/// blob pages never count against the message cap).
pub const BLOB_DATABASE_FILE: &str = "blobs.sqlite";

const SCHEMA: &str = "
-- Attachment chunks by content hash. id orders them for peers' catch-up pulls.
CREATE TABLE IF NOT EXISTS blob_store.blobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blob_store.blobs_by_expiry ON blobs(expiry);
";

/// Attaches the blob database beside `messages` (the message database's path) and creates its
/// tables (called from [`Storage::open`]).
pub(crate) fn migrate(conn: &Connection, messages: &std::path::Path) -> Result<(), StorageError> {
    let path = messages.with_file_name(BLOB_DATABASE_FILE);
    conn.execute(
        "ATTACH DATABASE ?1 AS blob_store",
        [path.to_string_lossy().as_ref()],
    )?;
    conn.pragma_update(
        Some(rusqlite::DatabaseName::Attached("blob_store")),
        "journal_mode",
        "WAL",
    )?;
    conn.execute_batch(SCHEMA)?;
    crate::blob_sync::migrate(conn)
}

/// Deletes expired blobs (called by the expiry sweep); returns how many.
pub(crate) fn sweep(conn: &Connection, now: u64) -> Result<u64, StorageError> {
    let n = conn.execute("DELETE FROM blobs WHERE expiry <= ?1", [to_i64(now)])?;
    Ok(n as u64)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What a store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The blob is new here.
    Stored,
    /// The blob was held already; its expiry is now the later of the two.
    Extended,
}

/// One held blob, as passed between swarm members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBlob {
    /// Position in this node's table.
    pub id: i64,
    /// The name.
    pub name: [u8; 32],
    /// Expiry, Unix milliseconds.
    pub expiry: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Storage {
    /// Stores (or extends) a blob whose name the caller has checked. Refused with
    /// [`StorageError::Full`] when it would take the blob bytes past the blob cap.
    pub fn store_blob(
        &self,
        name: &[u8; 32],
        data: &[u8],
        expiry: u64,
    ) -> Result<BlobOutcome, StorageError> {
        let conn = self.connection()?;
        let updated = conn.execute(
            "UPDATE blobs SET expiry = MAX(expiry, ?2) WHERE name = ?1",
            params![&name[..], to_i64(expiry)],
        )?;
        if updated > 0 {
            return Ok(BlobOutcome::Extended);
        }
        let used: i64 =
            conn.query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| r.get(0))?;
        let used = u64::try_from(used).unwrap_or(0);
        let cap = self.blob_cap_bytes();
        if used.saturating_add(data.len() as u64) > cap {
            return Err(StorageError::Full { used, cap });
        }
        conn.execute(
            "INSERT INTO blobs (name, size, expiry, data) VALUES (?1, ?2, ?3, ?4)",
            params![&name[..], data.len() as i64, to_i64(expiry), data],
        )?;
        Ok(BlobOutcome::Stored)
    }

    /// A blob that has not expired at `now`: (data, expiry).
    pub fn fetch_blob(
        &self,
        name: &[u8; 32],
        now: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, StorageError> {
        let conn = self.connection()?;
        let row = conn
            .query_row(
                "SELECT data, expiry FROM blobs WHERE name = ?1 AND expiry > ?2",
                params![&name[..], to_i64(now)],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        Ok(row.map(|(d, e)| (d, u64::try_from(e).unwrap_or(0))))
    }

    /// Up to `limit` live blobs after position `after`, in order (for peers' pulls).
    pub fn blobs_after(
        &self,
        after: i64,
        limit: usize,
        now: u64,
    ) -> Result<Vec<HeldBlob>, StorageError> {
        let conn = self.connection()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, expiry, data FROM blobs WHERE id > ?1 AND expiry > ?2
             ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![after, to_i64(now), i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let name: Vec<u8> = r.get(1)?;
                Ok((r.get::<_, i64>(0)?, name, r.get::<_, i64>(2)?, r.get(3)?))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, expiry, data) = row?;
            if let Ok(name) = <[u8; 32]>::try_from(name.as_slice()) {
                out.push(HeldBlob {
                    id,
                    name,
                    expiry: u64::try_from(expiry).unwrap_or(0),
                    data,
                });
            }
        }
        Ok(out)
    }

    /// Drops a blob (handed over to the swarm that owns it now).
    pub fn drop_blob(&self, name: &[u8; 32]) -> Result<(), StorageError> {
        let conn = self.connection()?;
        conn.execute("DELETE FROM blobs WHERE name = ?1", [&name[..]])?;
        Ok(())
    }

    /// Blobs held and their bytes.
    pub fn blob_usage(&self) -> Result<(u64, u64), StorageError> {
        let conn = self.connection()?;
        let (n, bytes): (i64, i64) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            u64::try_from(n).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }
}

/// The key a blob request is routed by (the blob's name), `None` for other requests.
pub fn routing_key(request: &Request) -> Option<Result<[u8; 32], RpcError>> {
    let name = match request {
        Request::StoreBlob(p) => &p.name,
        Request::FetchBlob(p) => &p.name,
        _ => return None,
    };
    Some(parse_name(name))
}

fn parse_name(text: &str) -> Result<[u8; 32], RpcError> {
    session_wire::parse_blob_name(text)
        .ok_or_else(|| RpcError::bad_request("blob name must be 64 hex characters"))
}

impl RpcContext {
    /// `store_blob`: checks size, name and TTL, then stores or extends.
    pub(crate) fn store_blob(&self, p: StoreBlobParams, now: u64) -> RpcResult {
        let name = parse_name(&p.name)?;
        let data = STANDARD
            .decode(&p.data)
            .map_err(|_| RpcError::bad_request("blob data must be base64"))?;
        if data.len() > MAX_BLOB_BYTES {
            return Err(RpcError::too_large(format!(
                "blob is {} bytes, the limit is {MAX_BLOB_BYTES}",
                data.len()
            )));
        }
        if session_wire::blob_name(&data) != name {
            return Err(RpcError::bad_request(
                "blob name is not the BLAKE2b-256 hash of its data",
            ));
        }
        let ttl = p.ttl.unwrap_or(MAX_TTL_MS);
        if !(MIN_TTL_MS..=MAX_TTL_MS).contains(&ttl) {
            return Err(RpcError::bad_request(format!(
                "blob ttl must be {MIN_TTL_MS} to {MAX_TTL_MS} ms"
            )));
        }
        let expiry = now.saturating_add(ttl);
        let outcome = self
            .storage
            .store_blob(&name, &data, expiry)
            .map_err(|e| match e {
                StorageError::Full { .. } => {
                    RpcError::new(507, "blob storage full: the node cannot accept more blobs")
                }
                other => RpcError::storage(other),
            })?;
        let me = self.identity.ed25519_public().to_string();
        let result = json!({
            "stored": outcome == BlobOutcome::Stored,
            "expiry": expiry,
            "swarm": {me: {"expiry": expiry}},
        });
        Ok(with_time(result, now))
    }

    /// `fetch_blob`: the data (base64) and expiry, 404 if not held.
    pub(crate) fn fetch_blob(&self, p: FetchBlobParams, now: u64) -> RpcResult {
        let name = parse_name(&p.name)?;
        match self
            .storage
            .fetch_blob(&name, now)
            .map_err(RpcError::storage)?
        {
            Some((data, expiry)) => Ok(with_time(
                json!({"data": STANDARD.encode(data), "expiry": expiry}),
                now,
            )),
            None => Err(RpcError::not_found("no such blob")),
        }
    }
}
