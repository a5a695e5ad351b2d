//! The account's devices: each announces itself (name, kind, first and last seen) as a config
//! entry in namespace 6 of the account's swarm; any device can remove another, which sees its
//! removal on its next sync and stops syncing.
//!
//! Removal rotates the account's v2 key and shares the new one only with the devices that
//! remain (`account_key_share`), so v2 messages sent after it are unreadable on the removed
//! device. The rest is a promise between honest devices, not cryptography: every device holds
//! the same identity key, so a removed device that ignores its removal can still read the
//! config records and sent-message copies in the account's swarm, v1 messages, and sign as the
//! account. Per-device identity keys would be needed for more.

use rusqlite::Connection;
use serde_json::Value;

use crate::config_sync::{self, ConfigKind, F_DEVICE, F_REMOVED, F_SEEN};
use crate::{Messenger, MessengerError, StoreError};

/// A device re-announces itself (its last-seen time) at most this often.
pub const ANNOUNCE_EVERY_MS: u64 = 10 * 60 * 1000;
/// The settings key of this device's name.
const DEVICE_NAME: &str = "device_name";
/// The settings key of this device's kind.
const DEVICE_KIND: &str = "device_kind";

/// One device of the account, as the device list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id (16 hex characters).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its kind (`cli`, `desktop`).
    pub kind: String,
    /// When it first announced itself, Unix ms.
    pub first_seen_ms: u64,
    /// When it last announced itself, Unix ms.
    pub last_seen_ms: u64,
    /// Whether a device removed it.
    pub removed: bool,
    /// Whether it is this device.
    pub this_device: bool,
}

/// Sets this device's name and kind (shown in every device's list).
pub fn set_identity(store: &crate::MessageStore, name: &str, kind: &str) -> Result<(), StoreError> {
    let conn = store.conn();
    for (key, value) in [(DEVICE_NAME, name), (DEVICE_KIND, kind)] {
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
    }
    Ok(())
}

fn setting(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension as _;
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

/// Announces this device (first seen once, last seen at most every [`ANNOUNCE_EVERY_MS`]).
pub(crate) fn announce(conn: &Connection, now_ms: u64) -> Result<(), StoreError> {
    let id = config_sync::device_id(conn)?;
    let get = |name: &str| config_sync::field(conn, ConfigKind::Devices, &id, name);
    let name = setting(conn, DEVICE_NAME)?.unwrap_or_else(|| format!("device {}", &id[..4]));
    let kind = setting(conn, DEVICE_KIND)?.unwrap_or_else(|| "cli".into());
    let mut fields = vec![(F_DEVICE, Value::from(vec![name, kind]))];
    let (first, last) = seen(get(F_SEEN)?.map(|f| f.value));
    if first == 0 || now_ms.saturating_sub(last) >= ANNOUNCE_EVERY_MS {
        let first = if first == 0 { now_ms } else { first };
        fields.push((F_SEEN, Value::from(vec![first, now_ms])));
    }
    config_sync::record_local(conn, ConfigKind::Devices, &id, &fields)?;
    crate::account_key_share::announce(conn)?;
    Ok(())
}

/// `[first, last]` seen times from a stored value (zeros when missing or malformed).
fn seen(value: Option<Value>) -> (u64, u64) {
    let at = |i: usize| {
        value
            .as_ref()
            .and_then(|v| v.get(i))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    (at(0), at(1))
}

/// Fails with [`MessengerError::DeviceRemoved`] if the merged device list says another device
/// removed this one.
pub(crate) fn check_not_removed(conn: &Connection) -> Result<(), MessengerError> {
    let id = config_sync::device_id(conn).map_err(StoreError::from)?;
    let removed = config_sync::field(conn, ConfigKind::Devices, &id, F_REMOVED)
        .map_err(StoreError::from)?
        .and_then(|f| f.value.as_bool())
        .unwrap_or(false);
    if removed {
        return Err(MessengerError::DeviceRemoved);
    }
    Ok(())
}

/// Every device the account's swarm told this one about, this one first.
pub fn list(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    let own = config_sync::device_id(conn)?;
    let mut out = Vec::new();
    for id in config_sync::keys(conn, ConfigKind::Devices)? {
        let get = |name: &str| {
            config_sync::field(conn, ConfigKind::Devices, &id, name).map(|f| f.map(|f| f.value))
        };
        let (name, kind) = match get(F_DEVICE)? {
            Some(Value::Array(parts)) => {
                let text = |i: usize| {
                    parts
                        .get(i)
                        .and_then(Value::as_str)
                        .map(crate::inert::neutralise)
                        .unwrap_or_default()
                };
                (text(0), text(1))
            }
            _ => (String::new(), String::new()),
        };
        let (first_seen_ms, last_seen_ms) = seen(get(F_SEEN)?);
        out.push(Device {
            name,
            kind,
            first_seen_ms,
            last_seen_ms,
            removed: get(F_REMOVED)?.and_then(|v| v.as_bool()).unwrap_or(false),
            this_device: id == own,
            id,
        });
    }
    out.sort_by_key(|d| (!d.this_device, d.first_seen_ms));
    Ok(out)
}

/// Why a device cannot be removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoveError {
    /// No device has an id starting so.
    #[error("no device {0:?} (see `session devices list`)")]
    Unknown(String),
    /// More than one device id starts so.
    #[error("more than one device id starts with {0:?}; give more of it")]
    Ambiguous(String),
    /// A device cannot remove itself (remove its profile instead).
    #[error("this is the device itself; remove it from another device")]
    Itself,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Marks the device whose id starts with `prefix` removed (pushed on the next sync).
pub fn remove(conn: &Connection, prefix: &str) -> Result<Device, RemoveError> {
    let prefix = prefix.trim().to_lowercase();
    let matches: Vec<Device> = list(conn)?
        .into_iter()
        .filter(|d| !prefix.is_empty() && d.id.starts_with(&prefix))
        .collect();
    let device = match matches.as_slice() {
        [] => return Err(RemoveError::Unknown(prefix)),
        [one] => one.clone(),
        _ => return Err(RemoveError::Ambiguous(prefix)),
    };
    if device.this_device {
        return Err(RemoveError::Itself);
    }
    config_sync::record_local(
        conn,
        ConfigKind::Devices,
        &device.id,
        &[(F_REMOVED, Value::Bool(true))],
    )
    .map_err(StoreError::from)?;
    Ok(device)
}

impl Messenger {
    /// The device list (after a sync, what every device announced).
    pub fn devices(&self) -> Result<Vec<Device>, StoreError> {
        list(self.store().conn())
    }

    /// Removes another device of the account (by the start of its id) and pushes the removal
    /// at once (kept for the next sync if the network fails).
    pub async fn remove_device(&self, prefix: &str) -> Result<Device, RemoveError> {
        let device = remove(self.store().conn(), prefix)?;
        if let Err(e) = self.push_pending().await {
            tracing::info!(error = %e, "the removal could not be pushed yet; the next sync will");
        }
        // A new account key, shared only with the devices that remain, published at once.
        self.rotate_account_key_now()?;
        self.maintain_account_keys().await;
        Ok(device)
    }
}
