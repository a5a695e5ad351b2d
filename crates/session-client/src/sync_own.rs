//! The account's own swarm as the meeting point of its devices: copies of sent messages
//! (namespace 0, encrypted to the account itself, with the recipient as sync target), and the
//! config records of [`crate::config_sync`] (namespaces 2, 3, 4 and 6).
//!
//! [`Messenger::sync_account`] pulls every config namespace from the position reached in each
//! swarm member, merges and applies the records, tells a device the others removed that it
//! was removed, then pushes what waits here (copies queued by sends, entries edited here, and
//! entries no device refreshed for a week, so that none expires with the 30-day TTL).

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rusqlite::params;
use session_crypto::{AccountId, IdentityKeyPair, OsRng};
use session_wire::rpc::{
    Request, RetrieveParams, RetrieveResponse, StoreParams, MAX_PRIVATE_TTL_MS,
};
use session_wire::{encode_sync_copy, OutgoingText, ReceivedText};

use crate::config_sync::{self, ConfigKind, Record};
use crate::messenger::swarm_acknowledgements;
use crate::{MessageStore, Messenger, MessengerError, StoreError, StoredMessage, INBOX_NAMESPACE};

/// Config records live 30 days, the private-namespace maximum (DESIGN.md section 9).
pub const CONFIG_TTL_MS: u64 = MAX_PRIVATE_TTL_MS;
/// Pages fetched per namespace by one sync at most.
const MAX_PAGES: usize = 64;

/// What one account sync did.
#[derive(Debug, Clone, Default)]
pub struct AccountSync {
    /// Records pushed (entries edited here, sent-message copies).
    pub pushed: usize,
    /// Records pulled that changed something here.
    pub merged: usize,
    /// Records in the config namespaces that did not open (skipped).
    pub undecryptable: usize,
    /// Pushes that failed (kept, tried again by the next sync).
    pub push_failures: usize,
    /// How long it took, ms.
    pub elapsed_ms: u64,
}

/// Queues the copy of an outgoing message for the account's other devices (called by the
/// send paths right after filing the message). A note to oneself needs no copy.
pub(crate) fn queue_copy(
    keys: &IdentityKeyPair,
    store: &MessageStore,
    to: &AccountId,
    message: OutgoingText<'_>,
    ttl_ms: u64,
) -> Result<(), MessengerError> {
    if *to == keys.account_id() {
        return Ok(());
    }
    let payload = encode_sync_copy(keys, to, message, &mut OsRng)?;
    config_sync::queue_own(store.conn(), INBOX_NAMESPACE, ttl_ms, &payload)?;
    Ok(())
}

/// Decoded inbox messages: swarm hash and content.
type Decoded = Vec<(String, ReceivedText)>;

/// Splits decoded messages of the inbox into copies of the account's own sent messages
/// (sender = the account, with a sync target) and everything else, filing the copies as sent
/// in their conversation, once (by conversation and sender timestamp). Returns the rest and
/// the copies new here.
pub(crate) fn file_sent_copies(
    own: &AccountId,
    store: &MessageStore,
    decoded: Decoded,
) -> Result<(Decoded, Vec<StoredMessage>), StoreError> {
    let mut rest = Vec::with_capacity(decoded.len());
    let mut new = Vec::new();
    let conn = store.conn();
    for (hash, text) in decoded {
        let target = match text.sync_target {
            Some(target) if text.sender == *own => target,
            _ => {
                rest.push((hash, text));
                continue;
            }
        };
        let inserted = conn.execute(
            "INSERT INTO messages (peer, outgoing, sent_ms, body, state, stored_on, swarm_size, hash)
             SELECT ?1, 1, ?2, ?3, 'stored', 1, 1, ?4
             WHERE NOT EXISTS (SELECT 1 FROM messages WHERE peer = ?1 AND outgoing = 1 AND sent_ms = ?2)
               AND NOT EXISTS (SELECT 1 FROM messages WHERE hash = ?4)
               AND NOT EXISTS (SELECT 1 FROM dropped_hashes WHERE hash = ?4)",
            params![target.to_string(), to_i64(text.timestamp_ms), text.text, hash],
        )?;
        if inserted == 1 {
            new.push(store.message(conn.last_insert_rowid())?);
        }
    }
    Ok((rest, new))
}

impl Messenger {
    /// Syncs the account's state with its other devices through its own swarm: pushes what
    /// waits, pulls every config namespace, merges and applies. Fails with
    /// [`MessengerError::DeviceRemoved`] once another device removed this one.
    pub async fn sync_account(&self) -> Result<AccountSync, MessengerError> {
        let started = Instant::now();
        let mut report = AccountSync::default();
        crate::devices::check_not_removed(self.store().conn())?;
        // Pull first: a device back after long offline learns what is current (and whether
        // it was removed) before it pushes anything.
        for kind in ConfigKind::ALL {
            self.pull_config(kind, &mut report).await?;
            if kind == ConfigKind::Devices {
                crate::devices::check_not_removed(self.store().conn())?;
            }
        }
        let now = self.client().now_ms();
        crate::devices::announce(self.store().conn(), now)?;
        config_sync::mark_stale(self.store().conn(), now)?;
        self.push_own(&mut report).await?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Pushes what waits for the account's other devices (sent-message copies, entries edited
    /// here) without pulling; what fails stays queued.
    pub async fn push_pending(&self) -> Result<AccountSync, MessengerError> {
        let mut report = AccountSync::default();
        self.push_own(&mut report).await?;
        Ok(report)
    }

    /// Pushes queued sent-message copies and the entries edited here to the own swarm; what
    /// fails stays queued.
    pub(crate) async fn push_own(&self, report: &mut AccountSync) -> Result<(), MessengerError> {
        let own = self.account_id();
        let queued = config_sync::queued_own(self.store().conn())?;
        for item in queued {
            if self
                .store_own(&own, item.namespace, item.ttl_ms, &item.payload)
                .await
            {
                config_sync::unqueue_own(self.store().conn(), item.id)?;
                report.pushed += 1;
            } else {
                report.push_failures += 1;
            }
        }
        let dirty = config_sync::dirty(self.store().conn())?;
        for (kind, key) in dirty {
            let mut record = config_sync::entry_record(self.store().conn(), kind, &key)?;
            let now = self.client().now_ms();
            record.pushed_day = now / 86_400_000;
            let sealed = seal_record(self.keys(), kind, &record)?;
            if self
                .store_own(&own, kind.namespace(), CONFIG_TTL_MS, &sealed)
                .await
            {
                config_sync::mark_pushed(self.store().conn(), kind, &record, now)?;
                report.pushed += 1;
            } else {
                report.push_failures += 1;
            }
        }
        Ok(())
    }

    async fn store_own(&self, own: &AccountId, namespace: i16, ttl: u64, payload: &[u8]) -> bool {
        let keys = self.keys();
        let answer = self
            .client()
            .request_routed(own, |now, _| {
                let params = StoreParams::deposit(own, namespace, payload, now, ttl);
                Request::Store(if namespace == INBOX_NAMESPACE {
                    params
                } else {
                    params.signed_by(keys)
                })
            })
            .await;
        match answer {
            Ok(routed) => swarm_acknowledgements(&routed.body).0 > 0,
            Err(e) => {
                tracing::debug!(error = %e, namespace, "a push to the own swarm failed; kept");
                false
            }
        }
    }

    async fn pull_config(
        &self,
        kind: ConfigKind,
        report: &mut AccountSync,
    ) -> Result<(), MessengerError> {
        let seed = self.keys().seed_bytes();
        self.pull_own(kind.namespace(), |conn, page| {
            for (stored_ms, bytes) in page {
                let Some(record) = open_record(&seed, kind, bytes) else {
                    report.undecryptable += 1;
                    continue;
                };
                // A copy stored then lives 30 days from then.
                config_sync::mark_refreshed(conn, kind, &record.key, *stored_ms)?;
                if config_sync::merge_record(conn, kind, &record)? {
                    config_sync::apply(conn, kind, &record.key)?;
                    report.merged += 1;
                }
            }
            Ok(())
        })
        .await
    }

    /// Fetches what is new in one of the account's own namespaces, from the position reached
    /// in each swarm member: `file` gets each page's messages (stored time, bytes; messages
    /// that are not base64 are skipped) before the position moves past them.
    pub(crate) async fn pull_own(
        &self,
        namespace: i16,
        mut file: impl FnMut(&rusqlite::Connection, &[(u64, Vec<u8>)]) -> Result<(), StoreError>,
    ) -> Result<(), MessengerError> {
        let own = self.account_id();
        for _ in 0..MAX_PAGES {
            let routed = self
                .client()
                .request_routed(&own, |now, node| {
                    let last_hash = self
                        .store()
                        .last_hash(&node.to_string(), namespace)
                        .ok()
                        .flatten();
                    Request::Retrieve(RetrieveParams::signed(
                        self.keys(),
                        namespace,
                        now,
                        last_hash,
                    ))
                })
                .await?;
            let page: RetrieveResponse = serde_json::from_value(routed.body)
                .map_err(|e| MessengerError::BadAnswer(e.to_string()))?;
            let messages: Vec<(u64, Vec<u8>)> = page
                .messages
                .iter()
                .filter_map(|m| Some((m.timestamp, STANDARD.decode(&m.data).ok()?)))
                .collect();
            {
                let store = self.store();
                let conn = store.conn();
                file(conn, &messages)?;
                if let Some(last) = page.messages.last() {
                    conn.execute(
                        "INSERT INTO poll_positions (node, namespace, last_hash) VALUES (?1, ?2, ?3)
                         ON CONFLICT (node, namespace) DO UPDATE SET last_hash = excluded.last_hash",
                        params![routed.route.destination.key.to_string(), namespace, last.hash],
                    )
                    .map_err(StoreError::from)?;
                }
            }
            if !page.more {
                break;
            }
        }
        Ok(())
    }

    /// Stores `payload` in the account's own swarm (signed); whether a member took it.
    pub(crate) async fn store_in_own_swarm(
        &self,
        namespace: i16,
        ttl: u64,
        payload: &[u8],
    ) -> bool {
        self.store_own(&self.account_id(), namespace, ttl, payload)
            .await
    }
}

/// Seals a record of `kind` under the account seed: padded, encrypted, a bucket size long.
pub fn seal_record(
    keys: &IdentityKeyPair,
    kind: ConfigKind,
    record: &Record,
) -> Result<Vec<u8>, MessengerError> {
    let json = serde_json::to_vec(record).map_err(|e| MessengerError::BadAnswer(e.to_string()))?;
    Ok(session_crypto::config_record::seal(
        &keys.seed_bytes(),
        kind.domain(),
        &json,
    )?)
}

/// Opens a sealed record of `kind`; `None` for anything that does not decrypt or parse.
pub fn open_record(seed: &[u8; 32], kind: ConfigKind, sealed: &[u8]) -> Option<Record> {
    let plain = session_crypto::config_record::open(seed, kind.domain(), sealed).ok()?;
    serde_json::from_slice(&plain).ok()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl From<rusqlite::Error> for MessengerError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}
