//! Synced account state: the profile, contacts, conversation state and the device list, kept
//! as config records in the account's own swarm so that every device converges to one state.
//!
//! The model is a map of last-writer-wins registers: an entry (`kind`, `key`) holds fields, and
//! each field a value with a version `(ms, device)`. Merging keeps, per field, the value with the
//! greatest `(ms, device, value)`: a total order, so merging is commutative, associative and
//! idempotent, and any interleaving of the same edits gives the same state. A local edit takes
//! `ms = max(now, version seen + 1)`, so it wins over everything this device has seen even with
//! a slow clock. A record pushed to the swarm is one whole entry (all its fields with their
//! versions), sealed with [`session_crypto::config_record`] under the account seed.
//!
//! The local side: `config_fields` holds every field's current version, `config_dirty` the
//! entries edited here and not yet pushed. Store methods call the `record_*` hooks; records
//! from the swarm are merged with [`merge_record`] and applied to the store's tables directly
//! (not through the hooked methods, so applying never echoes).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_crypto::{AccountId, RngCore as _};

/// The kinds of synced entries, each in a namespace of its own (DESIGN.md section 9 for 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigKind {
    /// The profile (display name): namespace 2.
    Profile,
    /// Contacts (nickname, blocked): namespace 3.
    Contacts,
    /// Per-conversation state (read up to, muted, pinned, archived, cleared): namespace 4.
    Conversations,
    /// The device list (ours): namespace 6.
    Devices,
    /// Each device's public key for account-key shares (ours): namespace 7. Its own kind, not a
    /// device-list field, so that device records stay in the smallest bucket.
    DeviceKeys,
}

impl ConfigKind {
    /// Every kind, in pull order.
    pub const ALL: [ConfigKind; 5] = [
        ConfigKind::Devices,
        ConfigKind::DeviceKeys,
        ConfigKind::Profile,
        ConfigKind::Contacts,
        ConfigKind::Conversations,
    ];

    /// The swarm namespace of this kind's records.
    pub fn namespace(self) -> i16 {
        match self {
            Self::Profile => 2,
            Self::Contacts => 3,
            Self::Conversations => 4,
            Self::Devices => 6,
            Self::DeviceKeys => 7,
        }
    }

    /// The encryption domain (the reference's names where it has the kind).
    pub fn domain(self) -> &'static str {
        match self {
            Self::Profile => "UserProfile",
            Self::Contacts => "Contacts",
            Self::Conversations => "ConvoInfoVolatile",
            Self::Devices => "Devices",
            Self::DeviceKeys => "DeviceKeys",
        }
    }

    fn code(self) -> i64 {
        i64::from(self.namespace())
    }

    fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A field's version: the edit's time and the device that made it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// Milliseconds (a hybrid clock: never below a version already seen for the field).
    pub ms: u64,
    /// The editing device's id.
    pub device: String,
}

/// One field's value with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldValue {
    /// The value (JSON: string, bool, number or null).
    pub value: Value,
    /// Its version.
    pub version: Version,
}

impl FieldValue {
    /// Whether `self` wins over `other`: greater version, ties broken by the value's text.
    pub fn beats(&self, other: &FieldValue) -> bool {
        (&self.version, self.value.to_string()) > (&other.version, other.value.to_string())
    }
}

/// One entry as pushed to the swarm: its key and all its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The entry's key (an Account ID, a device id, or empty for the profile).
    #[serde(rename = "k")]
    pub key: String,
    /// Field name to value and version.
    #[serde(rename = "f")]
    pub fields: BTreeMap<String, (Value, u64, String)>,
    /// The day (Unix ms / 86,400,000) it was pushed: not merged, it only makes a refresh of
    /// an unchanged entry a new swarm message with a new 30-day lifetime.
    #[serde(rename = "p", default)]
    pub pushed_day: u64,
}

impl Record {
    /// The record's fields as [`FieldValue`]s.
    pub fn field_values(&self) -> impl Iterator<Item = (&str, FieldValue)> {
        self.fields.iter().map(|(name, (value, ms, device))| {
            (
                name.as_str(),
                FieldValue {
                    value: value.clone(),
                    version: Version {
                        ms: *ms,
                        device: device.clone(),
                    },
                },
            )
        })
    }
}

/// A merged state: (kind, key) to field to value (the pure model, for tests and exports).
pub type State = BTreeMap<(ConfigKind, String), BTreeMap<String, FieldValue>>;

/// Merges `record` of `kind` into `state` (the pure form of [`merge_record`]).
pub fn merge_into(state: &mut State, kind: ConfigKind, record: &Record) {
    let entry = state.entry((kind, record.key.clone())).or_default();
    for (name, incoming) in record.field_values() {
        match entry.get(name) {
            Some(current) if !incoming.beats(current) => {}
            _ => {
                entry.insert(name.to_owned(), incoming);
            }
        }
    }
}

// Field names (short: records of every kind stay in the smallest bucket).
/// Profile: the display name.
pub const F_NAME: &str = "n";
/// Contacts: the nickname (null: not a contact).
pub const F_NICKNAME: &str = "n";
/// Contacts: blocked.
pub const F_BLOCKED: &str = "b";
/// Conversations: read up to this sender timestamp.
pub const F_READ: &str = "r";
/// Conversations: muted.
pub const F_MUTED: &str = "m";
/// Conversations: pinned.
pub const F_PINNED: &str = "p";
/// Conversations: archived.
pub const F_ARCHIVED: &str = "a";
/// Conversations: messages up to this sender timestamp deleted (a declined request).
pub const F_CLEARED: &str = "c";
/// Devices: the device's name and kind (`[name, kind]`: one field, one writer).
pub const F_DEVICE: &str = "n";
/// Devices: first and last seen, ms (`[first, last]`: written only by the device itself).
pub const F_SEEN: &str = "s";
/// Devices: removed from the account.
pub const F_REMOVED: &str = "x";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS config_fields (
    kind   INTEGER NOT NULL,
    key    TEXT NOT NULL,
    field  TEXT NOT NULL,
    value  TEXT NOT NULL,
    ms     INTEGER NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (kind, key, field)
);
CREATE TABLE IF NOT EXISTS config_dirty (
    kind INTEGER NOT NULL,
    key  TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS config_refreshed (
    kind INTEGER NOT NULL,
    key  TEXT NOT NULL,
    ms   INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS own_outbox (
    id        INTEGER PRIMARY KEY,
    namespace INTEGER NOT NULL,
    ttl_ms    INTEGER NOT NULL,
    payload   BLOB NOT NULL
);
";

/// The settings key of this device's id.
const DEVICE_ID: &str = "device_id";

/// Creates this module's tables (called when the store opens).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// This device's id (16 hex characters), made on first use.
pub fn device_id(conn: &Connection) -> rusqlite::Result<String> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [DEVICE_ID],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let mut bytes = [0u8; 8];
    session_crypto::OsRng.fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    conn.execute(
        "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
        params![DEVICE_ID, id],
    )?;
    device_id(conn)
}

fn now_ms() -> u64 {
    crate::system_ms()
}

/// One field's current value and version, if set.
pub fn field(
    conn: &Connection,
    kind: ConfigKind,
    key: &str,
    name: &str,
) -> rusqlite::Result<Option<FieldValue>> {
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT value, ms, device FROM config_fields WHERE kind = ?1 AND key = ?2 AND field = ?3",
            params![kind.code(), key, name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.map(|(value, ms, device)| FieldValue {
        value: serde_json::from_str(&value).unwrap_or(Value::Null),
        version: Version {
            ms: ms as u64,
            device,
        },
    }))
}

/// Writes `fields` of an entry as a local edit (versions just above what was seen) and marks
/// the entry for pushing.
pub fn record_local(
    conn: &Connection,
    kind: ConfigKind,
    key: &str,
    fields: &[(&str, Value)],
) -> rusqlite::Result<()> {
    let device = device_id(conn)?;
    for (name, value) in fields {
        let seen = field(conn, kind, key, name)?;
        if seen.as_ref().is_some_and(|s| &s.value == value) {
            continue;
        }
        let ms = now_ms().max(seen.map_or(0, |s| s.version.ms + 1));
        conn.execute(
            "INSERT INTO config_fields (kind, key, field, value, ms, device)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, key, field) DO UPDATE SET value = excluded.value,
                 ms = excluded.ms, device = excluded.device",
            params![
                kind.code(),
                key,
                name,
                value.to_string(),
                to_i64(ms),
                device
            ],
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO config_dirty (kind, key) VALUES (?1, ?2)",
            params![kind.code(), key],
        )?;
    }
    Ok(())
}

/// Merges a record from the swarm; returns whether any field changed.
pub fn merge_record(
    conn: &Connection,
    kind: ConfigKind,
    record: &Record,
) -> rusqlite::Result<bool> {
    let mut changed = false;
    for (name, incoming) in record.field_values() {
        let current = field(conn, kind, &record.key, name)?;
        if current.as_ref().is_some_and(|c| !incoming.beats(c)) {
            continue;
        }
        conn.execute(
            "INSERT INTO config_fields (kind, key, field, value, ms, device)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, key, field) DO UPDATE SET value = excluded.value,
                 ms = excluded.ms, device = excluded.device",
            params![
                kind.code(),
                record.key,
                name,
                incoming.value.to_string(),
                to_i64(incoming.version.ms),
                incoming.version.device
            ],
        )?;
        changed = true;
    }
    Ok(changed)
}

/// The whole entry as a record, for pushing.
pub fn entry_record(conn: &Connection, kind: ConfigKind, key: &str) -> rusqlite::Result<Record> {
    let mut stmt = conn.prepare_cached(
        "SELECT field, value, ms, device FROM config_fields WHERE kind = ?1 AND key = ?2",
    )?;
    let rows = stmt.query_map(params![kind.code(), key], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut fields = BTreeMap::new();
    for row in rows {
        let (name, value, ms, device) = row?;
        let value = serde_json::from_str(&value).unwrap_or(Value::Null);
        fields.insert(name, (value, ms as u64, device));
    }
    Ok(Record {
        key: key.to_owned(),
        fields,
        pushed_day: 0,
    })
}

/// Every entry key of `kind`.
pub fn keys(conn: &Connection, kind: ConfigKind) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT key FROM config_fields WHERE kind = ?1 ORDER BY key")?;
    let rows = stmt.query_map([kind.code()], |r| r.get(0))?;
    rows.collect()
}

/// Entries edited here and not yet pushed.
pub fn dirty(conn: &Connection) -> rusqlite::Result<Vec<(ConfigKind, String)>> {
    let mut stmt = conn.prepare_cached("SELECT kind, key FROM config_dirty ORDER BY kind, key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (code, key) = row?;
        if let Some(kind) = ConfigKind::from_code(code) {
            out.push((kind, key));
        }
    }
    Ok(out)
}

/// Marks an entry pushed at `now_ms`, unless it changed again since `pushed` was read from it.
pub fn mark_pushed(
    conn: &Connection,
    kind: ConfigKind,
    pushed: &Record,
    now_ms: u64,
) -> rusqlite::Result<()> {
    if entry_record(conn, kind, &pushed.key)?.fields == pushed.fields {
        conn.execute(
            "DELETE FROM config_dirty WHERE kind = ?1 AND key = ?2",
            params![kind.code(), pushed.key],
        )?;
    }
    mark_refreshed(conn, kind, &pushed.key, now_ms)
}

/// Records that the swarm held (or was just given) a copy of the entry at `now_ms`.
pub fn mark_refreshed(
    conn: &Connection,
    kind: ConfigKind,
    key: &str,
    now_ms: u64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO config_refreshed (kind, key, ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, key) DO UPDATE SET ms = MAX(ms, excluded.ms)",
        params![kind.code(), key, to_i64(now_ms)],
    )?;
    Ok(())
}

/// Config records live 30 days in the swarm: an entry no device pushed or pulled for a week
/// is marked for pushing again (with a new push day, so a new swarm message), so that a
/// device offline for weeks, or a restore, still finds it. Returns how many were marked.
pub fn mark_stale(conn: &Connection, now_ms: u64) -> rusqlite::Result<usize> {
    let cutoff = to_i64(now_ms.saturating_sub(REFRESH_AFTER_MS));
    conn.execute(
        "INSERT OR IGNORE INTO config_dirty (kind, key)
         SELECT DISTINCT f.kind, f.key FROM config_fields f
         LEFT JOIN config_refreshed r ON r.kind = f.kind AND r.key = f.key
         WHERE r.ms IS NULL OR r.ms < ?1",
        [cutoff],
    )
}

/// How long an entry may go without a copy pushed or seen before it is pushed again.
pub const REFRESH_AFTER_MS: u64 = 7 * 24 * 3600 * 1000;

/// Queues bytes to store in the account's own swarm (sent-message copies).
pub fn queue_own(
    conn: &Connection,
    namespace: i16,
    ttl_ms: u64,
    payload: &[u8],
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO own_outbox (namespace, ttl_ms, payload) VALUES (?1, ?2, ?3)",
        params![namespace, to_i64(ttl_ms), payload],
    )?;
    Ok(())
}

/// One item of the own-swarm outbox.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its row id.
    pub id: i64,
    /// The namespace to store it in.
    pub namespace: i16,
    /// Its lifetime, ms.
    pub ttl_ms: u64,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// What waits in the own-swarm outbox, oldest first.
pub fn queued_own(conn: &Connection) -> rusqlite::Result<Vec<Queued>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, namespace, ttl_ms, payload FROM own_outbox ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Queued {
            id: r.get(0)?,
            namespace: r.get(1)?,
            ttl_ms: r.get::<_, i64>(2)? as u64,
            payload: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Drops an outbox item once a swarm member stored it.
pub fn unqueue_own(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM own_outbox WHERE id = ?1", [id])?;
    Ok(())
}

// ---- hooks called by the store's methods (one line each there) ----

/// The user added or renamed a contact.
pub(crate) fn record_contact(
    conn: &Connection,
    peer: &AccountId,
    nickname: &str,
) -> rusqlite::Result<()> {
    record_local(
        conn,
        ConfigKind::Contacts,
        &peer.to_string(),
        &[
            (F_NICKNAME, Value::from(nickname)),
            (F_BLOCKED, Value::Bool(false)),
        ],
    )
}

/// The user removed a contact.
pub(crate) fn record_contact_removed(conn: &Connection, peer: &AccountId) -> rusqlite::Result<()> {
    record_local(
        conn,
        ConfigKind::Contacts,
        &peer.to_string(),
        &[(F_NICKNAME, Value::Null)],
    )
}

/// The user blocked or unblocked someone.
pub(crate) fn record_blocked(
    conn: &Connection,
    peer: &AccountId,
    blocked: bool,
) -> rusqlite::Result<()> {
    let mut fields = vec![(F_BLOCKED, Value::Bool(blocked))];
    if blocked {
        fields.push((F_NICKNAME, Value::Null));
    }
    record_local(conn, ConfigKind::Contacts, &peer.to_string(), &fields)
}

/// The user read a conversation up to its newest message.
pub(crate) fn record_read(conn: &Connection, peer: &AccountId) -> rusqlite::Result<()> {
    let newest: Option<i64> = conn.query_row(
        "SELECT MAX(sent_ms) FROM messages WHERE peer = ?1",
        [peer.to_string()],
        |r| r.get(0),
    )?;
    let Some(newest) = newest else { return Ok(()) };
    let key = peer.to_string();
    let seen = field(conn, ConfigKind::Conversations, &key, F_READ)?
        .and_then(|f| f.value.as_i64())
        .unwrap_or(0);
    if newest <= seen {
        return Ok(());
    }
    record_local(
        conn,
        ConfigKind::Conversations,
        &key,
        &[(F_READ, Value::from(newest))],
    )
}

/// The user deleted a conversation (declined a request).
pub(crate) fn record_cleared(conn: &Connection, peer: &AccountId) -> rusqlite::Result<()> {
    let newest: Option<i64> = conn.query_row(
        "SELECT MAX(sent_ms) FROM messages WHERE peer = ?1",
        [peer.to_string()],
        |r| r.get(0),
    )?;
    let Some(newest) = newest else { return Ok(()) };
    record_local(
        conn,
        ConfigKind::Conversations,
        &peer.to_string(),
        &[(F_CLEARED, Value::from(newest))],
    )
}

/// A setting changed; the display name is synced.
pub(crate) fn record_setting(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    if key == crate::messenger::DISPLAY_NAME {
        record_local(
            conn,
            ConfigKind::Profile,
            "",
            &[(F_NAME, Value::from(value))],
        )?;
    }
    Ok(())
}

// ---- applying merged entries to the store's tables ----

/// Applies the merged entry (`kind`, `key`) to the local tables.
pub fn apply(conn: &Connection, kind: ConfigKind, key: &str) -> rusqlite::Result<()> {
    let get = |name: &str| field(conn, kind, key, name).map(|f| f.map(|f| f.value));
    match kind {
        ConfigKind::Profile => {
            if let Some(Value::String(name)) = get(F_NAME)?.filter(plausible_name) {
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![crate::messenger::DISPLAY_NAME, name],
                )?;
            }
        }
        ConfigKind::Contacts => {
            if key.parse::<AccountId>().is_err() {
                return Ok(());
            }
            let blocked = get(F_BLOCKED)?.and_then(|v| v.as_bool()).unwrap_or(false);
            if blocked {
                conn.execute(
                    "INSERT OR IGNORE INTO blocked (account_id, blocked_ms) VALUES (?1, ?2)",
                    params![key, to_i64(now_ms())],
                )?;
                conn.execute("DELETE FROM contacts WHERE account_id = ?1", [key])?;
                return Ok(());
            }
            conn.execute("DELETE FROM blocked WHERE account_id = ?1", [key])?;
            match get(F_NICKNAME)? {
                Some(value) if !plausible_name(&value) => {
                    tracing::debug!("a synced nickname is not usable; the contact is kept as is");
                }
                Some(Value::String(nickname)) => {
                    // A nickname another contact holds here stays with that contact; the
                    // entries converge once that contact's own rename arrives.
                    let result = conn.execute(
                        "INSERT INTO contacts (account_id, nickname, added_ms) VALUES (?1, ?2, ?3)
                         ON CONFLICT (account_id) DO UPDATE SET nickname = excluded.nickname",
                        params![key, nickname, to_i64(now_ms())],
                    );
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "a synced nickname is taken here");
                    }
                }
                _ => {
                    conn.execute("DELETE FROM contacts WHERE account_id = ?1", [key])?;
                }
            }
        }
        ConfigKind::Conversations => {
            if let Some(cleared) = get(F_CLEARED)?.and_then(|v| v.as_i64()) {
                conn.execute(
                    "INSERT OR IGNORE INTO dropped_hashes (hash)
                     SELECT hash FROM messages WHERE peer = ?1 AND sent_ms <= ?2 AND hash IS NOT NULL",
                    params![key, cleared],
                )?;
                conn.execute(
                    "DELETE FROM messages WHERE peer = ?1 AND sent_ms <= ?2",
                    params![key, cleared],
                )?;
            }
            if let Some(read) = get(F_READ)?.and_then(|v| v.as_i64()) {
                conn.execute(
                    "INSERT INTO read_marks (peer, last_read_id)
                     SELECT ?1, COALESCE(MAX(id), 0) FROM messages WHERE peer = ?1 AND sent_ms <= ?2
                     ON CONFLICT (peer) DO UPDATE SET
                         last_read_id = MAX(last_read_id, excluded.last_read_id)",
                    params![key, read],
                )?;
            }
        }
        ConfigKind::Devices | ConfigKind::DeviceKeys => {}
    }
    Ok(())
}

/// Applies every conversation entry again (after new messages were filed: a read mark from
/// another device covers messages that arrived here later).
pub fn reapply_conversations(conn: &Connection) -> rusqlite::Result<()> {
    for key in keys(conn, ConfigKind::Conversations)? {
        apply(conn, ConfigKind::Conversations, &key)?;
    }
    Ok(())
}

/// A conversation's synced flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationState {
    /// Read up to this sender timestamp.
    pub read_up_to_ms: Option<u64>,
    /// Muted.
    pub muted: bool,
    /// Pinned.
    pub pinned: bool,
    /// Archived.
    pub archived: bool,
}

/// The synced flags of the conversation with `peer`.
pub fn conversation_state(
    store: &crate::MessageStore,
    peer: &AccountId,
) -> rusqlite::Result<ConversationState> {
    let conn = store.conn();
    let key = peer.to_string();
    let get =
        |name: &str| field(conn, ConfigKind::Conversations, &key, name).map(|f| f.map(|f| f.value));
    Ok(ConversationState {
        read_up_to_ms: get(F_READ)?.and_then(|v| v.as_u64()),
        muted: get(F_MUTED)?.and_then(|v| v.as_bool()).unwrap_or(false),
        pinned: get(F_PINNED)?.and_then(|v| v.as_bool()).unwrap_or(false),
        archived: get(F_ARCHIVED)?.and_then(|v| v.as_bool()).unwrap_or(false),
    })
}

/// Sets a conversation flag (`F_MUTED`, `F_PINNED`, `F_ARCHIVED`), synced to every device.
pub fn set_conversation_flag(
    store: &crate::MessageStore,
    peer: &AccountId,
    flag: &str,
    on: bool,
) -> rusqlite::Result<()> {
    let conn = store.conn();
    record_local(
        conn,
        ConfigKind::Conversations,
        &peer.to_string(),
        &[(flag, Value::Bool(on))],
    )
}

/// Whether a synced name can be used as is: not a string (null: no contact) or a string of
/// 1 to 64 characters without control characters. Only the account's own devices can write
/// records, but a damaged or hostile one must not plant escape sequences or bury the list.
fn plausible_name(value: &Value) -> bool {
    match value {
        Value::String(text) => {
            let chars = text.chars().count();
            (1..=64).contains(&chars) && !text.chars().any(char::is_control)
        }
        _ => true,
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One step of a simulated account: a device edits a field, pushes an entry, or pulls
    /// some of what the swarm holds (in the order given).
    #[derive(Debug, Clone)]
    enum Step {
        Edit {
            device: usize,
            key: u8,
            field: u8,
            value: u8,
            clock: u64,
        },
        Push {
            device: usize,
            key: u8,
        },
        Pull {
            device: usize,
            picks: Vec<usize>,
        },
    }

    fn step(devices: usize) -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..devices, 0u8..3, 0u8..3, any::<u8>(), 0u64..50).prop_map(
                |(device, key, field, value, clock)| Step::Edit {
                    device,
                    key,
                    field,
                    value,
                    clock
                }
            ),
            (0..devices, 0u8..3).prop_map(|(device, key)| Step::Push { device, key }),
            (0..devices, proptest::collection::vec(any::<usize>(), 0..6))
                .prop_map(|(device, picks)| Step::Pull { device, picks }),
        ]
    }

    fn record_of(state: &State, kind: ConfigKind, key: &str) -> Record {
        let mut fields = BTreeMap::new();
        if let Some(entry) = state.get(&(kind, key.to_owned())) {
            for (name, f) in entry {
                fields.insert(
                    name.clone(),
                    (f.value.clone(), f.version.ms, f.version.device.clone()),
                );
            }
        }
        Record {
            key: key.to_owned(),
            fields,
            pushed_day: 0,
        }
    }

    proptest! {
        /// Any interleaving of edits, pushes and partial pulls by N devices converges: once
        /// every device pushed everything and pulled the whole swarm (in its own order), all
        /// hold the same state.
        #[test]
        fn any_interleaving_of_edits_from_n_devices_converges(
            devices in 2usize..5,
            steps in proptest::collection::vec(step(4), 1..80),
            orders in proptest::collection::vec(any::<u64>(), 4),
        ) {
            let kind = ConfigKind::Contacts;
            let mut states: Vec<State> = vec![State::new(); devices];
            let mut swarm: Vec<Record> = Vec::new();
            for s in steps {
                match s {
                    Step::Edit { device, key, field, value, clock } => {
                        let device = device % devices;
                        let entry = states[device].entry((kind, key.to_string())).or_default();
                        let name = field.to_string();
                        let seen = entry.get(&name).map_or(0, |f| f.version.ms + 1);
                        entry.insert(name, FieldValue {
                            value: Value::from(value),
                            version: Version { ms: clock.max(seen), device: format!("d{device}") },
                        });
                    }
                    Step::Push { device, key } => {
                        swarm.push(record_of(&states[device % devices], kind, &key.to_string()));
                    }
                    Step::Pull { device, picks } => {
                        for p in picks {
                            if !swarm.is_empty() {
                                let r = swarm[p % swarm.len()].clone();
                                merge_into(&mut states[device % devices], kind, &r);
                            }
                        }
                    }
                }
            }
            for state in &states {
                for key in 0u8..3 {
                    swarm.push(record_of(state, kind, &key.to_string()));
                }
            }
            for (i, state) in states.iter_mut().enumerate() {
                let mut order: Vec<usize> = (0..swarm.len()).collect();
                // A different order per device (a deterministic shuffle from the seed).
                let mut x = orders[i % orders.len()] | 1;
                for j in (1..order.len()).rev() {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    order.swap(j, (x % (j as u64 + 1)) as usize);
                }
                for j in order {
                    merge_into(state, kind, &swarm[j]);
                }
            }
            for state in &states[1..] {
                prop_assert_eq!(state, &states[0]);
            }
        }
    }

    #[test]
    fn the_database_merge_is_the_pure_merge() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let store = crate::MessageStore::open(&dir.path().join("db"))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let conn = store.conn();
        let make = |value: &str, ms: u64, device: &str| Record {
            key: "k".into(),
            fields: [(
                "n".to_string(),
                (Value::from(value), ms, device.to_string()),
            )]
            .into(),
            pushed_day: 0,
        };
        let records = [make("a", 5, "d1"), make("b", 5, "d2"), make("c", 4, "d3")];
        let mut pure = State::new();
        for r in records.iter().rev() {
            merge_into(&mut pure, ConfigKind::Contacts, r);
            merge_record(conn, ConfigKind::Contacts, r).unwrap_or_else(|e| unreachable!("{e}"));
        }
        let stored =
            entry_record(conn, ConfigKind::Contacts, "k").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(stored, record_of(&pure, ConfigKind::Contacts, "k"));
        assert_eq!(
            stored.fields["n"].0,
            Value::from("b"),
            "same ms: the greater device wins"
        );
    }
}

#[cfg(test)]
mod apply_tests {
    use super::*;

    #[test]
    fn unusable_synced_names_are_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::MessageStore::open(&dir.path().join("db")).unwrap();
        let conn = store.conn();
        let bob = session_crypto::Ed25519Seed::generate(&mut session_crypto::OsRng)
            .key_pair()
            .account_id();
        let record = |nick: Value, ms: u64| Record {
            key: bob.to_string(),
            fields: [(F_NICKNAME.to_string(), (nick, ms, "d".to_string()))].into(),
            pushed_day: 0,
        };
        for (nick, ms) in [(Value::from("Bob"), 1), (Value::from("\u{1b}[2Jevil"), 2)] {
            merge_record(conn, ConfigKind::Contacts, &record(nick, ms)).unwrap();
            apply(conn, ConfigKind::Contacts, &bob.to_string()).unwrap();
        }
        assert_eq!(store.contact(&bob).unwrap().unwrap().nickname, "Bob");
        merge_record(
            conn,
            ConfigKind::Contacts,
            &record(Value::from("x".repeat(65)), 3),
        )
        .unwrap();
        apply(conn, ConfigKind::Contacts, &bob.to_string()).unwrap();
        assert_eq!(store.contact(&bob).unwrap().unwrap().nickname, "Bob");
        merge_record(conn, ConfigKind::Contacts, &record(Value::Null, 4)).unwrap();
        apply(conn, ConfigKind::Contacts, &bob.to_string()).unwrap();
        assert!(store.contact(&bob).unwrap().is_none());
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    #[test]
    fn entries_nobody_refreshed_for_a_week_are_pushed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::MessageStore::open(&dir.path().join("db")).unwrap();
        let conn = store.conn();
        let bob = session_crypto::Ed25519Seed::generate(&mut session_crypto::OsRng)
            .key_pair()
            .account_id();
        store.add_contact(&bob, "Bob", 1).unwrap();
        let record = entry_record(conn, ConfigKind::Contacts, &bob.to_string()).unwrap();
        let t0 = 1_800_000_000_000;
        mark_pushed(conn, ConfigKind::Contacts, &record, t0).unwrap();
        assert!(dirty(conn).unwrap().is_empty());
        assert_eq!(mark_stale(conn, t0 + REFRESH_AFTER_MS - 1).unwrap(), 0);
        // Another device's copy seen later counts as fresh too.
        mark_refreshed(conn, ConfigKind::Contacts, &bob.to_string(), t0 + 1000).unwrap();
        assert_eq!(mark_stale(conn, t0 + REFRESH_AFTER_MS).unwrap(), 0);
        assert_eq!(mark_stale(conn, t0 + 1001 + REFRESH_AFTER_MS).unwrap(), 1);
        assert_eq!(
            dirty(conn).unwrap(),
            [(ConfigKind::Contacts, bob.to_string())]
        );
    }
}
