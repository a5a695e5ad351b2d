//! Session Protocol v2 in the client: the account's rotating X-Wing keys (kept in their own
//! table, published in namespace -21, rotated and erased), the recipients' published keys (with
//! a cache), and which protocol a message is sent and read with.
//!
//! - **Rotation**: a new key pair every 12 h, the moment drawn uniformly within ±1 h so that the
//!   times at which an account's record changes do not tell how many devices it has.
//! - **Retention**: a key is kept 16 days after it stopped being current (the 14-day message TTL,
//!   plus a day of senders' cached records, plus margin), then erased: the row is deleted with
//!   SQLite's `secure_delete` on (SQLCipher honours it: the freed cells and pages are zeroed
//!   before the page is re-encrypted) and the WAL is checkpointed and truncated, so no old page
//!   version survives in `messages.sqlite-wal`; in memory, key material is zeroized on drop.
//! - **Which protocol**: a sender fetches the recipient's namespace -21 (anyone may read it) and
//!   checks the record's signature against the Account ID. A verified record: v2 to that key. No
//!   record: v1, unless the recipient published keys before (then the no-PFS v2 variant, so that
//!   a node hiding the record cannot force v1). Answers are cached for an hour; a cached key is
//!   used up to a day when the lookup fails.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use session_crypto::session_v2::{
    decrypt_v2, encrypt_v2, encrypt_v2_nopfs, sign_account_key_record, verify_account_key_record,
};
use session_crypto::{
    AccountId, AccountKeyPair, AccountKeySeed, AccountPublicKey, CryptoError, CryptoRngCore,
    IdentityKeyPair, OsRng, V2Error,
};
use session_wire::rpc::{Auth, Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{
    decode_text_message, encode_text_message, parse_text_content, text_content, OutgoingText,
    ReceivedText, WireError,
};

use crate::{Clock, Messenger, StoreError};

/// The namespace of an account's public key record.
pub const ACCOUNT_KEYS_NAMESPACE: i16 = -21;
const HOUR_MS: u64 = 3600 * 1000;
/// How often the account key rotates.
pub const ROTATION_MS: u64 = 12 * HOUR_MS;
/// The random window around each rotation (either way).
pub const ROTATION_JITTER_MS: u64 = HOUR_MS;
/// How long a key is kept after it stopped being current.
pub const KEY_RETENTION_MS: u64 = 16 * 24 * HOUR_MS;
/// How long a fetched record is trusted without asking again.
pub const PEER_KEY_FRESH_MS: u64 = HOUR_MS;
/// How long a cached key is used when the recipient's swarm cannot be asked.
pub const PEER_KEY_MAX_AGE_MS: u64 = 24 * HOUR_MS;
/// How long a published record stays in the swarm (refreshed at every rotation).
pub const RECORD_TTL_MS: u64 = 14 * 24 * HOUR_MS;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS account_keys (
    id INTEGER PRIMARY KEY,
    seed BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    rotate_ms INTEGER NOT NULL,
    retired_ms INTEGER,
    published_ms INTEGER
);
CREATE TABLE IF NOT EXISTS peer_account_keys (
    peer TEXT PRIMARY KEY,
    record BLOB,
    fetched_ms INTEGER NOT NULL,
    published_before INTEGER NOT NULL
);
";

/// Creates this module's tables and turns on `secure_delete` for the connection (called from
/// the store's open).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.execute_batch(SCHEMA)
}

/// The v2 settings of a messenger.
#[derive(Clone, Default)]
pub(crate) struct V2Settings {
    /// Send and publish v1 only (a client that predates v2, for interoperability).
    v1_only: bool,
    /// The clock of rotation and retention (none: the network client's).
    clock: Option<Clock>,
}

/// How a message to one recipient is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Session Protocol v1 (the recipient publishes no v2 keys).
    V1,
    /// v2 to the recipient's current account key.
    V2(AccountPublicKey),
    /// v2 without forward secrecy (the recipient reads v2 but no key of it is at hand).
    V2NoPfs,
}

impl Messenger {
    /// Sends and publishes v1 only, as a client from before v2 does (for interoperability tests
    /// and as a fallback switch): no account keys are published, so v2 clients send v1 to it.
    pub fn v1_only(mut self) -> Self {
        self.v2.v1_only = true;
        self
    }

    /// Uses `clock` for key rotation and retention instead of the network client's (tests that
    /// simulate days; requests keep the network clock, which nodes check).
    pub fn with_key_clock(mut self, clock: Clock) -> Self {
        self.v2.clock = Some(clock);
        self
    }

    pub(crate) fn key_now(&self) -> u64 {
        match &self.v2.clock {
            Some(clock) => clock(),
            None => self.client().now_ms(),
        }
    }

    /// Installs a given account key pair as the current one (retiring the previous): the seam
    /// through which a device group shares its account keys. It is published at the next sync.
    pub fn install_account_key(&self, seed: &AccountKeySeed) -> Result<(), StoreError> {
        let now = self.key_now();
        install(self.store().conn(), seed, now, &mut OsRng)
    }

    /// The account keys this device holds (current first).
    pub fn held_account_keys(&self) -> Result<Vec<AccountKeyPair>, StoreError> {
        held_keys(self.store().conn())
    }

    /// Rotates the account key when due, erases keys past retention and publishes the current
    /// record when it is not yet published. Failures are logged and left for the next sync.
    pub(crate) async fn maintain_account_keys(&self) {
        if self.v2.v1_only {
            return;
        }
        let now = self.key_now();
        // Several devices: take the keys the others made first (see `account_key_share`).
        let shared = self.has_other_devices();
        if shared {
            if let Err(e) = self.pull_key_shares().await {
                tracing::info!(error = %e, "account key shares could not be fetched yet");
            }
        }
        let pending = {
            let store = self.store();
            let conn = store.conn();
            let step = erase_expired(conn, now)
                .and_then(|_| rotate_if_due(conn, now, &mut OsRng))
                .and_then(|_| unpublished(conn));
            match step {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::warn!(error = %e, "account key maintenance failed");
                    return;
                }
            }
        };
        if shared {
            match self.push_key_shares().await {
                Ok(true) => {}
                Ok(false) => {
                    // Publishing a key some device lacks would make it miss messages.
                    tracing::info!("account key shares not all stored yet; publishing waits");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "account key shares failed");
                    return;
                }
            }
        }
        let Some((id, seed)) = pending else { return };
        let record = sign_account_key_record(&self.keys, AccountKeyPair::from_seed(&seed).public());
        let own = self.keys.account_id();
        let answer = self
            .client()
            .request_routed(&own, |now, _| {
                Request::Store(
                    StoreParams::deposit(&own, ACCOUNT_KEYS_NAMESPACE, &record, now, RECORD_TTL_MS)
                        .signed_by(&self.keys),
                )
            })
            .await;
        match answer {
            Ok(_) => {
                if let Err(e) = mark_published(self.store().conn(), id, now) {
                    tracing::warn!(error = %e, "could not record the key publication");
                }
            }
            Err(e) => tracing::info!(error = %e, "the account key could not be published yet"),
        }
    }

    /// How to encrypt for `peer`: asks its swarm for its key record unless a fresh answer is
    /// cached (see the module documentation).
    pub async fn recipient_protocol(&self, peer: &AccountId) -> Recipient {
        if self.v2.v1_only {
            return Recipient::V1;
        }
        let now = self.key_now();
        let cached = cached_peer(self.store().conn(), peer).ok().flatten();
        if let Some(entry) = &cached {
            if now.saturating_sub(entry.fetched_ms) < PEER_KEY_FRESH_MS {
                return entry.protocol(peer, now);
            }
        }
        match self.fetch_record(peer).await {
            Ok(record) => {
                let verified =
                    record.and_then(|r| verify_account_key_record(peer, &r).ok().map(|_| r));
                let published_before =
                    verified.is_some() || cached.as_ref().is_some_and(|c| c.published_before);
                let entry = PeerEntry {
                    record: verified,
                    fetched_ms: now,
                    published_before,
                };
                if let Err(e) = save_peer(self.store().conn(), peer, &entry) {
                    tracing::warn!(error = %e, "could not cache a recipient's key");
                }
                entry.protocol(peer, now)
            }
            Err(e) => {
                tracing::info!(error = %e, "a recipient's key record could not be fetched");
                cached.map_or(Recipient::V1, |c| c.protocol(peer, now))
            }
        }
    }

    /// The newest record in `peer`'s namespace -21, unverified.
    async fn fetch_record(&self, peer: &AccountId) -> Result<Option<Vec<u8>>, String> {
        let routed = self
            .client()
            .request_routed(peer, |_, _| {
                Request::Retrieve(RetrieveParams {
                    pubkey: peer.to_string(),
                    namespace: Some(ACCOUNT_KEYS_NAMESPACE),
                    last_hash: None,
                    max_count: None,
                    max_size: None,
                    reverse_direction: false,
                    wait_ms: None,
                    timestamp: None,
                    auth: Auth::default(),
                })
            })
            .await
            .map_err(|e| e.to_string())?;
        let page: RetrieveResponse =
            serde_json::from_value(routed.body).map_err(|e| e.to_string())?;
        Ok(page
            .messages
            .last()
            .and_then(|m| STANDARD.decode(&m.data).ok()))
    }
}

impl crate::MessageStore {
    /// Every account key this database holds, current first (what a device, or whoever holds
    /// its recovery phrase and profile, can decrypt v2 messages with).
    pub fn account_keys(&self) -> Result<Vec<AccountKeyPair>, StoreError> {
        held_keys(self.conn())
    }
}

/// Encrypts a text message for `to` as `recipient` says.
pub(crate) fn encode(
    keys: &IdentityKeyPair,
    to: &AccountId,
    message: OutgoingText<'_>,
    recipient: &Recipient,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    let v2 = match recipient {
        Recipient::V1 => return encode_text_message(keys, to, message, rng),
        Recipient::V2(key) => encrypt_v2(keys, to, key, &text_content(message), rng),
        Recipient::V2NoPfs => encrypt_v2_nopfs(keys, to, &text_content(message), rng),
    }
    .map_err(|e| match e {
        V2Error::Crypto(e) => WireError::Crypto(e),
        _ => WireError::Crypto(CryptoError::EncryptFailed),
    })?;
    if v2.len() > session_wire::rpc::MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge {
            size: v2.len(),
            max: session_wire::rpc::MAX_MESSAGE_BYTES,
        });
    }
    Ok(v2)
}

/// Whether `message` fits in one message both as v1 and as v2 (the smaller limit applies,
/// whichever protocol the recipient gets).
pub(crate) fn fits_every_protocol(
    keys: &IdentityKeyPair,
    to: &AccountId,
    message: OutgoingText<'_>,
) -> bool {
    let probe = AccountKeyPair::from_seed(&AccountKeySeed::from_bytes([0; 32]));
    [Recipient::V1, Recipient::V2(probe.public().clone())]
        .iter()
        .all(|protocol| encode(keys, to, message, protocol, &mut OsRng).is_ok())
}

/// How a message filed without network is encrypted: from the cache only.
pub(crate) fn cached_protocol(conn: &Connection, peer: &AccountId, now: u64) -> Recipient {
    cached_peer(conn, peer)
        .ok()
        .flatten()
        .map_or(Recipient::V1, |c| c.protocol(peer, now))
}

/// Decrypts namespace-0 data: v2 (first byte 0) with every held key, else v1. A message that
/// opens but carries no text (a control message, such as a group invitation, which its own
/// module reads) is `None`.
pub(crate) fn decode(
    keys: &IdentityKeyPair,
    held: &[AccountKeyPair],
    data: &[u8],
) -> Result<Option<ReceivedText>, String> {
    let text = if data.first() == Some(&0) {
        let message = decrypt_v2(keys, held, data).map_err(|e| e.to_string())?;
        parse_text_content(&message.content, message.sender, None)
    } else {
        decode_text_message(keys, data)
    };
    match text {
        Err(WireError::NoText) => Ok(None),
        other => other.map(Some).map_err(|e| e.to_string()),
    }
}

/// A cached answer about a recipient.
struct PeerEntry {
    record: Option<Vec<u8>>,
    fetched_ms: u64,
    published_before: bool,
}

impl PeerEntry {
    fn protocol(&self, peer: &AccountId, now: u64) -> Recipient {
        let usable = now.saturating_sub(self.fetched_ms) < PEER_KEY_MAX_AGE_MS;
        match &self.record {
            Some(record) if usable => match verify_account_key_record(peer, record) {
                Ok(key) => Recipient::V2(key),
                Err(_) => Recipient::V2NoPfs,
            },
            _ if self.published_before => Recipient::V2NoPfs,
            _ => Recipient::V1,
        }
    }
}

fn cached_peer(conn: &Connection, peer: &AccountId) -> Result<Option<PeerEntry>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT record, fetched_ms, published_before FROM peer_account_keys WHERE peer = ?1",
            params![peer.to_string()],
            |r| {
                Ok(PeerEntry {
                    record: r.get(0)?,
                    fetched_ms: r.get::<_, i64>(1)? as u64,
                    published_before: r.get(2)?,
                })
            },
        )
        .optional()?)
}

fn save_peer(conn: &Connection, peer: &AccountId, entry: &PeerEntry) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO peer_account_keys (peer, record, fetched_ms, published_before)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(peer) DO UPDATE SET record = ?2, fetched_ms = ?3, published_before = ?4",
        params![
            peer.to_string(),
            entry.record,
            entry.fetched_ms as i64,
            entry.published_before
        ],
    )?;
    Ok(())
}

/// Retires the current key (if any) and makes `seed` current, rotating 12 h ± 1 h from `now`.
pub(crate) fn install(
    conn: &Connection,
    seed: &AccountKeySeed,
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<(), StoreError> {
    let jitter = rng.next_u64() % (2 * ROTATION_JITTER_MS + 1);
    let rotate = now + ROTATION_MS - ROTATION_JITTER_MS + jitter;
    conn.execute(
        "UPDATE account_keys SET retired_ms = ?1 WHERE retired_ms IS NULL",
        params![now as i64],
    )?;
    conn.execute(
        "INSERT INTO account_keys (seed, created_ms, rotate_ms) VALUES (?1, ?2, ?3)",
        params![seed.as_bytes().as_slice(), now as i64, rotate as i64],
    )?;
    Ok(())
}

/// Makes a new key current when there is none or the current one is due.
pub(crate) fn rotate_if_due(
    conn: &Connection,
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<bool, StoreError> {
    let due: Option<i64> = conn
        .query_row(
            "SELECT rotate_ms FROM account_keys WHERE retired_ms IS NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if due.is_some_and(|at| (at as u64) > now) {
        return Ok(false);
    }
    install(conn, &AccountKeySeed::generate(rng), now, rng)?;
    Ok(true)
}

/// Erases keys retired more than [`KEY_RETENTION_MS`] ago, from the table and from the
/// database's pages (see the module documentation); returns how many.
pub(crate) fn erase_expired(conn: &Connection, now: u64) -> Result<usize, StoreError> {
    let cutoff = now.saturating_sub(KEY_RETENTION_MS) as i64;
    let erased = conn.execute(
        "DELETE FROM account_keys WHERE retired_ms IS NOT NULL AND retired_ms <= ?1",
        params![cutoff],
    )?;
    if erased > 0 {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(erased)
}

/// Every key held, current first.
pub(crate) fn held_keys(conn: &Connection) -> Result<Vec<AccountKeyPair>, StoreError> {
    let mut statement = conn.prepare("SELECT seed FROM account_keys ORDER BY id DESC")?;
    let seeds = statement.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    let mut keys = Vec::new();
    for seed in seeds {
        let seed = zeroize::Zeroizing::new(seed?);
        if let Ok(seed) = AccountKeySeed::from_slice(&seed) {
            keys.push(AccountKeyPair::from_seed(&seed));
        }
    }
    Ok(keys)
}

fn unpublished(conn: &Connection) -> Result<Option<(i64, AccountKeySeed)>, StoreError> {
    let row: Option<(i64, zeroize::Zeroizing<Vec<u8>>)> = conn
        .query_row(
            "SELECT id, seed FROM account_keys WHERE retired_ms IS NULL AND published_ms IS NULL
             ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, zeroize::Zeroizing::new(r.get(1)?))),
        )
        .optional()?;
    Ok(row.and_then(|(id, seed)| AccountKeySeed::from_slice(&seed).ok().map(|s| (id, s))))
}

fn mark_published(conn: &Connection, id: i64, now: u64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE account_keys SET published_ms = ?1 WHERE id = ?2",
        params![now as i64, id],
    )?;
    Ok(())
}

/// A clock that tests move by hand.
pub fn manual_clock(start_ms: u64) -> (Clock, Arc<std::sync::atomic::AtomicU64>) {
    let now = Arc::new(std::sync::atomic::AtomicU64::new(start_ms));
    let reader = Arc::clone(&now);
    let clock: Clock = Arc::new(move || reader.load(std::sync::atomic::Ordering::SeqCst));
    (clock, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    fn file_holds(path: &std::path::Path, needle: &[u8]) -> bool {
        let mut bytes = std::fs::read(path).unwrap_or_default();
        let wal = path.with_extension("sqlite-wal");
        bytes.extend(std::fs::read(wal).unwrap_or_default());
        bytes.windows(needle.len()).any(|w| w == needle)
    }

    /// An erased key leaves no trace in the database file or its WAL (checked on a plain
    /// database, where the bytes are visible; SQLCipher zeroes the same cells before encrypting).
    #[test]
    fn erased_keys_are_gone_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("messages.sqlite");
        let store = crate::MessageStore::open(&path).unwrap();
        let conn = store.conn();
        let start = 1_000_000_000_000u64;
        let old = AccountKeySeed::generate(&mut OsRng);
        install(conn, &old, start, &mut OsRng).unwrap();
        install(
            conn,
            &AccountKeySeed::generate(&mut OsRng),
            start + ROTATION_MS,
            &mut OsRng,
        )
        .unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        assert!(
            file_holds(&path, old.as_bytes()),
            "the scan sees stored seeds"
        );
        let erased = erase_expired(conn, start + ROTATION_MS + KEY_RETENTION_MS).unwrap();
        assert_eq!(erased, 1);
        assert!(
            !file_holds(&path, old.as_bytes()),
            "the erased seed is gone"
        );
        assert_eq!(store.account_keys().unwrap().len(), 1);
    }

    #[test]
    fn rotation_and_retention() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let mut rng = OsRng;
        let start = 1_000_000_000_000u64;
        assert!(rotate_if_due(&conn, start, &mut rng).unwrap());
        assert!(!rotate_if_due(&conn, start + 10 * HOUR_MS, &mut rng).unwrap());
        assert!(rotate_if_due(&conn, start + 13 * HOUR_MS, &mut rng).unwrap());
        assert_eq!(held_keys(&conn).unwrap().len(), 2);
        // The first key retired at +13 h: kept until +13 h + 16 d.
        let retired = start + 13 * HOUR_MS;
        assert_eq!(
            erase_expired(&conn, retired + KEY_RETENTION_MS - 1).unwrap(),
            0
        );
        assert_eq!(erase_expired(&conn, retired + KEY_RETENTION_MS).unwrap(), 1);
        assert_eq!(held_keys(&conn).unwrap().len(), 1);
    }
}
