//! The messenger: sends text messages into recipients' swarms and polls the user's own swarm,
//! always through onion paths, filing everything in the local database.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use session_crypto::{AccountId, IdentityKeyPair, OsRng};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{message_hash, OutgoingText};

use crate::account_keys;
use crate::{
    ClientError, MessageState, MessageStore, OnionClient, Route, StoreError, StoredMessage,
};

/// How long a message waits in the recipient's swarm: 14 days, as in Session.
pub const DEFAULT_TTL_MS: u64 = 14 * 24 * 3600 * 1000;
/// The namespace of 1:1 messages.
pub const INBOX_NAMESPACE: i16 = 0;
/// Pages fetched by one sync at most (each up to the node's size limit).
const MAX_PAGES: usize = 64;
/// The settings key of the user's display name.
pub(crate) const DISPLAY_NAME: &str = "display_name";

/// What can go wrong while messaging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessengerError {
    /// The network failed.
    #[error(transparent)]
    Network(#[from] ClientError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message cannot be encoded (too large).
    #[error("cannot encode the message: {0}")]
    Encode(#[from] session_wire::WireError),
    /// A swarm member answered something that is not a retrieve response.
    #[error("unexpected answer from a swarm member: {0}")]
    BadAnswer(String),
    /// Sealing or opening account data failed.
    #[error(transparent)]
    Crypto(#[from] session_crypto::CryptoError),
    /// Another device of the account removed this one.
    #[error("this device was removed from the account by another device and no longer syncs; link or restore it again to use it")]
    DeviceRemoved,
}

/// The outcome of one send attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message as filed, with its new state.
    pub message: StoredMessage,
    /// The path and swarm member used (none if no path worked).
    pub route: Option<Route>,
    /// How long the attempt took.
    pub elapsed: Duration,
}

/// What one sync brought.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Messages new to this client, oldest first by sender timestamp.
    pub new: Vec<StoredMessage>,
    /// Messages in the inbox this account cannot decrypt or verify (skipped).
    pub undecryptable: usize,
    /// Messages from blocked senders, dropped (each is counted once per sync that sees it).
    pub blocked: usize,
    /// The route of each page fetched.
    pub routes: Vec<Route>,
    /// How long the sync took.
    pub elapsed: Duration,
    /// Whether the node asked held the request ([`Messenger::sync_waiting`] only): a node
    /// that cannot wait (the reference) answers at once without saying so.
    pub node_waits: bool,
    /// What [`Messenger::sync`] synced with the account's other devices.
    pub account: crate::AccountSync,
}

/// One account's messenger.
pub struct Messenger {
    pub(crate) keys: IdentityKeyPair,
    store: Mutex<MessageStore>,
    client: OnionClient,
    ttl_ms: u64,
    pub(crate) v2: crate::account_keys::V2Settings,
}

impl Messenger {
    /// A messenger for `keys`, filing into `store`, talking through `client`.
    pub fn new(keys: IdentityKeyPair, store: MessageStore, client: OnionClient) -> Self {
        Self {
            keys,
            store: Mutex::new(store),
            client,
            ttl_ms: DEFAULT_TTL_MS,
            v2: Default::default(),
        }
    }

    /// Sets how long sent messages wait in the recipient's swarm.
    pub fn with_ttl(mut self, ttl_ms: u64) -> Self {
        self.ttl_ms = ttl_ms;
        self
    }

    /// The user's Account ID.
    pub fn account_id(&self) -> AccountId {
        self.keys.account_id()
    }

    /// The account's keys (for the modules that sync the account's own swarm, and groups).
    pub(crate) fn keys(&self) -> &IdentityKeyPair {
        &self.keys
    }

    /// How long sent messages wait in swarms.
    pub(crate) fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// The network client.
    pub fn client(&self) -> &OnionClient {
        &self.client
    }

    /// The local database (contacts, history, settings).
    pub fn store(&self) -> MutexGuard<'_, MessageStore> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the display name sent with messages.
    pub fn set_display_name(&self, name: &str) -> Result<(), StoreError> {
        self.store().set_setting(DISPLAY_NAME, name)
    }

    /// The display name sent with messages.
    pub fn display_name(&self) -> Result<Option<String>, StoreError> {
        self.store().setting(DISPLAY_NAME)
    }

    /// Encrypts `text` for `to`, files it as sending, and stores it in `to`'s swarm through an
    /// onion path. A failure is filed with its reason (retry it with [`retry`](Self::retry)).
    pub async fn send(&self, to: &AccountId, text: &str) -> Result<Delivery, MessengerError> {
        let display_name = self.display_name()?;
        let protocol = self.recipient_protocol(to).await;
        let id = {
            let store = self.store();
            let timestamp_ms = store.next_timestamp(self.client.now_ms())?;
            let outgoing = OutgoingText {
                text,
                display_name: display_name.as_deref(),
                timestamp_ms,
            };
            let payload = account_keys::encode(&self.keys, to, outgoing, &protocol, &mut OsRng)?;
            let id = store.insert_outgoing(to, timestamp_ms, text, &payload)?;
            crate::sync_own::queue_copy(&self.keys, &store, to, outgoing, self.ttl_ms)?;
            id
        };
        let delivery = self.deliver(id).await?;
        if let Err(e) = self.push_pending().await {
            tracing::info!(error = %e, "the copy for the other devices waits for the next sync");
        }
        Ok(delivery)
    }

    /// Sends a message again (the same bytes: a swarm that got it already keeps one copy).
    pub async fn retry(&self, id: i64) -> Result<Delivery, MessengerError> {
        self.deliver(id).await
    }

    /// Retries every outgoing message no swarm member acknowledged.
    pub async fn retry_unsent(&self) -> Result<Vec<Delivery>, MessengerError> {
        let unsent = self.store().unsent()?;
        let mut out = Vec::with_capacity(unsent.len());
        for message in unsent {
            out.push(self.deliver(message.id).await?);
        }
        Ok(out)
    }

    async fn deliver(&self, id: i64) -> Result<Delivery, MessengerError> {
        let started = Instant::now();
        let (peer, payload) = self.store().outgoing_payload(id)?;
        let ttl = self.ttl_ms;
        let answer = self
            .client
            .request_routed(&peer, |now, _| {
                Request::Store(StoreParams::deposit(
                    &peer,
                    INBOX_NAMESPACE,
                    &payload,
                    now,
                    ttl,
                ))
            })
            .await;
        let route = match answer {
            Ok(routed) => {
                let (on, of) = swarm_acknowledgements(&routed.body);
                let store = self.store();
                if on == 0 {
                    store.mark_failed(id, "no swarm member stored it")?;
                } else {
                    let hash = message_hash(&peer.to_bytes33(), INBOX_NAMESPACE, &payload);
                    store.mark_stored(id, &hash, on, of)?;
                }
                Some(routed.route)
            }
            Err(e) => {
                tracing::info!(error = %e, "a message could not be sent; it can be retried");
                self.store().mark_failed(id, &plain_reason(&e))?;
                None
            }
        };
        Ok(Delivery {
            message: self.store().message(id)?,
            route,
            elapsed: started.elapsed(),
        })
    }

    /// Fetches new messages from the user's swarm through onion paths, decrypts and verifies
    /// them, and files each under its sender. The poll position is kept per swarm member
    /// (members may hold messages in different orders), and messages are deduplicated by their
    /// swarm hash, so nothing is delivered twice, across restarts too.
    pub async fn sync(&self) -> Result<SyncReport, MessengerError> {
        let account = self.sync_account().await?;
        let mut report = self.fetch(None).await?;
        report.account = account;
        Ok(report)
    }

    /// [`sync`](Self::sync) that asks the node to hold the first page up to `wait_ms` until a
    /// message arrives (a waiting retrieve); [`SyncReport::node_waits`] tells whether it did.
    /// The building block of [`Messenger::incoming`].
    pub async fn sync_waiting(&self, wait_ms: u64) -> Result<SyncReport, MessengerError> {
        self.fetch(Some(wait_ms)).await
    }

    async fn fetch(&self, wait_ms: Option<u64>) -> Result<SyncReport, MessengerError> {
        crate::devices::check_not_removed(self.store().conn())?;
        let started = Instant::now();
        let mut report = SyncReport::default();
        self.maintain_account_keys().await;
        let held = self.held_account_keys()?;
        for page_index in 0..MAX_PAGES {
            // Only the first page waits: later ones fetch what is already there.
            let wait_ms = wait_ms.filter(|_| page_index == 0);
            let routed = self
                .client
                .request_routed(&self.keys.account_id(), |now, node| {
                    let last_hash = self
                        .store()
                        .last_hash(&node.to_string(), INBOX_NAMESPACE)
                        .ok()
                        .flatten();
                    let params =
                        RetrieveParams::signed(&self.keys, INBOX_NAMESPACE, now, last_hash);
                    Request::Retrieve(match wait_ms {
                        Some(ms) => params.waiting(ms),
                        None => params,
                    })
                })
                .await?;
            let page: RetrieveResponse = serde_json::from_value(routed.body)
                .map_err(|e| MessengerError::BadAnswer(e.to_string()))?;
            if wait_ms.is_some() {
                report.node_waits = page.wait_ms.is_some();
            }
            let mut decoded = Vec::with_capacity(page.messages.len());
            for message in &page.messages {
                let text = STANDARD
                    .decode(&message.data)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| account_keys::decode(&self.keys, &held, &bytes));
                match text {
                    Ok(None) => {}
                    Ok(Some(text)) if self.store().is_blocked(&text.sender)? => {
                        report.blocked += 1;
                    }
                    Ok(Some(text)) => decoded.push((message.hash.clone(), text)),
                    Err(reason) => {
                        tracing::debug!(%reason, "skipping a message that does not decrypt");
                        report.undecryptable += 1;
                    }
                }
            }
            let last_hash = page.messages.last().map(|m| m.hash.as_str());
            let node = routed.route.destination.key.to_string();
            let now = self.client.now_ms();
            let (decoded, copies) =
                crate::sync_own::file_sent_copies(&self.account_id(), &self.store(), decoded)?;
            report.new.extend(copies);
            let new =
                self.store()
                    .file_incoming(&node, INBOX_NAMESPACE, &decoded, last_hash, now)?;
            report.new.extend(new);
            crate::config_sync::reapply_conversations(self.store().conn())
                .map_err(StoreError::from)?;
            report.routes.push(routed.route);
            if !page.more {
                break;
            }
        }
        report.new.sort_by_key(|m| (m.sent_ms, m.id));
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// Files a message that cannot be sent now (no network): encrypted as it will be sent, marked
/// failed with `reason`, so that [`Messenger::retry_unsent`] sends it when the network is back.
pub fn file_unsent(
    keys: &IdentityKeyPair,
    store: &MessageStore,
    to: &AccountId,
    text: &str,
    now_ms: u64,
    reason: &str,
) -> Result<StoredMessage, MessengerError> {
    let display_name = store.setting(DISPLAY_NAME)?;
    let timestamp_ms = store.next_timestamp(now_ms)?;
    let outgoing = OutgoingText {
        text,
        display_name: display_name.as_deref(),
        timestamp_ms,
    };
    let protocol = account_keys::cached_protocol(store.conn(), to, now_ms);
    let payload = account_keys::encode(keys, to, outgoing, &protocol, &mut OsRng)?;
    let id = store.insert_outgoing(to, timestamp_ms, text, &payload)?;
    crate::sync_own::queue_copy(keys, store, to, outgoing, DEFAULT_TTL_MS)?;
    store.mark_failed(id, reason)?;
    Ok(store.message(id)?)
}

/// The longest text, in bytes, that fits in one message from `keys` with `display_name`, in v1
/// and in v2 (found by bisection over real encodings: the limit depends on the protobuf and
/// padding).
pub fn max_text_bytes(keys: &IdentityKeyPair, display_name: Option<&str>) -> usize {
    let to = keys.account_id();
    let fits = |n: usize| {
        let text = "a".repeat(n);
        let outgoing = OutgoingText {
            text: &text,
            display_name,
            timestamp_ms: 1,
        };
        account_keys::fits_every_protocol(keys, &to, outgoing)
    };
    let (mut low, mut high) = (0usize, session_wire::rpc::MAX_MESSAGE_BYTES);
    while low < high {
        let mid = (low + high).div_ceil(2);
        if fits(mid) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// Why a send failed, in words a user can act on (the technical detail goes to the log).
fn plain_reason(error: &ClientError) -> String {
    match error {
        ClientError::Network(_) => "no network reachable: no node of the network answered".into(),
        ClientError::Transport(_) => "the network did not answer on any path".into(),
        ClientError::Rejected { status: 413, .. } => {
            "the message is too large for the swarm".into()
        }
        ClientError::Rejected { status: 507, .. } => "the recipient's swarm is full".into(),
        other => other.to_string(),
    }
}

/// How many swarm members acknowledged a store, of how many asked: the destination's answer
/// lists each member under `swarm`, with `failed` for those that did not store it.
pub(crate) fn swarm_acknowledgements(body: &Value) -> (u32, u32) {
    match body.get("swarm").and_then(Value::as_object) {
        Some(members) => {
            let on = members
                .values()
                .filter(|m| m.get("failed").and_then(Value::as_bool) != Some(true))
                .count();
            (on as u32, members.len() as u32)
        }
        None => (1, 1),
    }
}

impl MessageState {
    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            Self::Sending => "sending".into(),
            Self::Stored { on, of } => format!("stored on {on}/{of} swarm members"),
            Self::Failed { reason } => format!("failed: {reason}"),
            Self::Received => "received".into(),
        }
    }
}
