//! Account keys shared by the devices of one account, so that every device reads the v2
//! messages sent to whichever account key a sender found published.
//!
//! Each device holds a key pair of its own for shares (random, kept in its encrypted database,
//! never derived from the account seed) and announces the public half as a
//! [`ConfigKind::DeviceKeys`] entry (namespace 7). A device that holds an account key some
//! other active device has not been given stores a share for it in namespace 8 of the
//! account's own swarm: the key's seed, its creation and rotation times, encrypted with Session
//! Protocol v1 from the account to that device's share key (so only that device opens it, and
//! only the account can have made it). A device pulls its shares before it fetches messages,
//! and shares a new key before it publishes it, so a sender cannot use a key a device of the
//! account may not have yet. A share lives only as long as the key it carries may be kept.
//!
//! A removed device gets no more shares, and removing a device rotates the account key at once:
//! once senders' cached records expire (at most [`PEER_KEY_FRESH_MS`]), what they send cannot be
//! read on the removed device, even though it still holds the account's identity key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension as _};
use serde_json::Value;
use session_crypto::xwing::{AccountKeyPair, AccountKeySeed};
use session_crypto::{
    decrypt_incoming, encrypt_for_recipient, Ed25519Seed, IdentityKeyPair, OsRng, X25519PublicKey,
};
use zeroize::Zeroizing;

use crate::account_keys::{self, KEY_RETENTION_MS, ROTATION_JITTER_MS, ROTATION_MS};
use crate::config_sync::{self, ConfigKind};
use crate::{Messenger, StoreError};

#[cfg(doc)]
use crate::account_keys::PEER_KEY_FRESH_MS;

/// The namespace of account-key shares in the account's own swarm (ours).
pub const KEY_SHARE_NAMESPACE: i16 = 8;
/// The field of a [`ConfigKind::DeviceKeys`] entry holding the device's share key (base64).
const F_SHARE_KEY: &str = "k";
/// The settings key of this device's share key seed (hex).
const SHARE_SEED: &str = "device_share_seed";
/// What a share's plaintext starts with (a version).
const SHARE_MAGIC: &[u8; 4] = b"AKS1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS account_key_shares (
    key_id BLOB NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (key_id, device)
);
";

/// Creates this module's table (called from the store's open).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// This device's share key pair, made on first use.
fn share_keys(conn: &Connection) -> Result<IdentityKeyPair, StoreError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [SHARE_SEED],
            |r| r.get(0),
        )
        .optional()?;
    let bytes = stored
        .map(Zeroizing::new)
        .and_then(|hex_text| hex::decode(hex_text.as_bytes()).ok().map(Zeroizing::new))
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
    if let Some(bytes) = bytes {
        return Ok(Ed25519Seed::from_bytes(bytes).key_pair());
    }
    let seed = Ed25519Seed::generate(&mut OsRng);
    let text = Zeroizing::new(hex::encode(seed.as_bytes()));
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![SHARE_SEED, text.as_str()],
    )?;
    Ok(seed.key_pair())
}

/// Announces this device's share key (a config entry, pushed with the others).
pub(crate) fn announce(conn: &Connection) -> Result<(), StoreError> {
    let id = config_sync::device_id(conn)?;
    let public = STANDARD.encode(share_keys(conn)?.x25519_public().as_bytes());
    config_sync::record_local(
        conn,
        ConfigKind::DeviceKeys,
        &id,
        &[(F_SHARE_KEY, Value::from(public))],
    )?;
    Ok(())
}

/// The account's other devices that are not removed and announced a share key.
pub(crate) fn other_devices(
    conn: &Connection,
) -> Result<Vec<(String, X25519PublicKey)>, StoreError> {
    let mut out = Vec::new();
    for device in crate::devices::list(conn)? {
        if device.this_device || device.removed {
            continue;
        }
        let key = config_sync::field(conn, ConfigKind::DeviceKeys, &device.id, F_SHARE_KEY)?
            .and_then(|f| f.value.as_str().map(str::to_owned))
            .and_then(|text| STANDARD.decode(text).ok())
            .and_then(|bytes| X25519PublicKey::from_slice(&bytes).ok());
        if let Some(key) = key {
            out.push((device.id, key));
        }
    }
    Ok(out)
}

/// A held key that some device has not been given: (key id, seed, created, rotate, retired).
struct Held {
    id: Vec<u8>,
    seed: AccountKeySeed,
    created_ms: u64,
    rotate_ms: u64,
    retired_ms: Option<u64>,
}

fn held(conn: &Connection) -> Result<Vec<Held>, StoreError> {
    let mut statement =
        conn.prepare("SELECT seed, created_ms, rotate_ms, retired_ms FROM account_keys")?;
    let rows = statement.query_map([], |r| {
        Ok((
            Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seed, created, rotate, retired) = row?;
        let Ok(seed) = AccountKeySeed::from_slice(&seed) else {
            continue;
        };
        out.push(Held {
            id: key_id(&seed).to_vec(),
            seed,
            created_ms: created.max(0) as u64,
            rotate_ms: rotate.max(0) as u64,
            retired_ms: retired.map(|r| r.max(0) as u64),
        });
    }
    Ok(out)
}

/// A key's id: its X25519 public key.
fn key_id(seed: &AccountKeySeed) -> [u8; 32] {
    *AccountKeyPair::from_seed(seed).public().x25519().as_bytes()
}

/// How long a share of `key` may live from `now`: no longer than the key may be kept.
fn share_ttl(key: &Held, now: u64) -> u64 {
    let kept_until = match key.retired_ms {
        Some(retired) => retired + KEY_RETENTION_MS,
        None => key.rotate_ms.max(now) + ROTATION_JITTER_MS + KEY_RETENTION_MS,
    };
    kept_until
        .saturating_sub(now)
        .clamp(60_000, ROTATION_MS + KEY_RETENTION_MS)
}

/// The plaintext of a share.
fn share_plaintext(key: &Held) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(52));
    out.extend_from_slice(SHARE_MAGIC);
    out.extend_from_slice(key.seed.as_bytes());
    out.extend_from_slice(&key.created_ms.to_be_bytes());
    out.extend_from_slice(&key.rotate_ms.to_be_bytes());
    out
}

/// Reads a share's plaintext: (seed, created, rotate).
fn parse_share(plain: &[u8]) -> Option<(AccountKeySeed, u64, u64)> {
    let rest = plain.strip_prefix(SHARE_MAGIC.as_slice())?;
    if rest.len() != 48 {
        return None;
    }
    let seed = AccountKeySeed::from_slice(&rest[..32]).ok()?;
    let created = u64::from_be_bytes(rest[32..40].try_into().ok()?);
    let rotate = u64::from_be_bytes(rest[40..48].try_into().ok()?);
    Some((seed, created, rotate))
}

/// Files a key another device shared: newer than the current one, it becomes current (with
/// the sharer's rotation time); older, it is kept as retired from now. Already held: nothing.
fn install_shared(
    conn: &Connection,
    seed: &AccountKeySeed,
    created_ms: u64,
    rotate_ms: u64,
    now: u64,
) -> Result<bool, StoreError> {
    let id = key_id(seed);
    if held(conn)?.iter().any(|k| k.id == id) {
        return Ok(false);
    }
    let current_created: Option<i64> = conn
        .query_row(
            "SELECT created_ms FROM account_keys WHERE retired_ms IS NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let newer = current_created.is_none_or(|c| created_ms as i64 > c);
    if newer {
        conn.execute(
            "UPDATE account_keys SET retired_ms = ?1 WHERE retired_ms IS NULL",
            params![now as i64],
        )?;
    }
    conn.execute(
        "INSERT INTO account_keys (seed, created_ms, rotate_ms, retired_ms, published_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            seed.as_bytes().as_slice(),
            created_ms as i64,
            rotate_ms as i64,
            (!newer).then_some(now as i64),
            // The sharing device publishes it.
            now as i64,
        ],
    )?;
    Ok(true)
}

impl Messenger {
    /// Files the account-key shares other devices left for this one.
    pub(crate) async fn pull_key_shares(&self) -> Result<usize, crate::MessengerError> {
        let own = self.account_id();
        let now = self.key_now();
        let mut installed = 0;
        self.pull_own(KEY_SHARE_NAMESPACE, |conn, page| {
            let mine = share_keys(conn)?;
            for (_, bytes) in page {
                let Ok((plain, sender)) = decrypt_incoming(&mine, bytes) else {
                    continue; // a share for another device
                };
                let plain = Zeroizing::new(plain);
                if sender != own {
                    tracing::debug!("a key share not made by the account itself; ignored");
                    continue;
                }
                if let Some((seed, created, rotate)) = parse_share(&plain) {
                    if install_shared(conn, &seed, created, rotate, now)? {
                        installed += 1;
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(installed)
    }

    /// Gives every active other device each held key it was not given yet; whether all
    /// shares were stored (a new key is published only then).
    pub(crate) async fn push_key_shares(&self) -> Result<bool, crate::MessengerError> {
        let now = self.key_now();
        let (devices, keys, given) = {
            let store = self.store();
            let conn = store.conn();
            let mut given = std::collections::BTreeSet::new();
            let mut statement = conn.prepare("SELECT key_id, device FROM account_key_shares")?;
            for row in statement.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?)))? {
                given.insert(row?);
            }
            (other_devices(conn)?, held(conn)?, given)
        };
        let mut all_stored = true;
        for (device, share_key) in &devices {
            for key in &keys {
                if given.contains(&(key.id.clone(), device.clone())) {
                    continue;
                }
                let sealed = encrypt_for_recipient(
                    self.keys(),
                    share_key,
                    &share_plaintext(key),
                    &mut OsRng,
                )?;
                let ttl = share_ttl(key, now);
                if self
                    .store_in_own_swarm(KEY_SHARE_NAMESPACE, ttl, &sealed)
                    .await
                {
                    self.store().conn().execute(
                        "INSERT OR IGNORE INTO account_key_shares (key_id, device) VALUES (?1, ?2)",
                        params![key.id, device],
                    )?;
                } else {
                    all_stored = false;
                }
            }
        }
        Ok(all_stored)
    }

    /// Whether this account has other active devices that take key shares.
    pub(crate) fn has_other_devices(&self) -> bool {
        other_devices(self.store().conn()).is_ok_and(|d| !d.is_empty())
    }

    /// Makes a new account key current at once (after a device was removed: the new key is
    /// shared only with the devices that remain).
    pub(crate) fn rotate_account_key_now(&self) -> Result<(), StoreError> {
        let now = self.key_now();
        account_keys::install(
            self.store().conn(),
            &AccountKeySeed::generate(&mut OsRng),
            now,
            &mut OsRng,
        )
    }
}
