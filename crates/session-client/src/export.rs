//! Export and import of the local history to one encrypted file under a passphrase.
//!
//! The file: `SRSX` magic, a version byte (1), the Argon2id parameters (three u32, big-endian),
//! a 16-byte salt, a 16-byte passphrase check (BLAKE2b-16 of the derived key, so that a wrong
//! passphrase is told apart from a damaged file), a 24-byte nonce, then XChaCha20-Poly1305 of a
//! JSON document (display name, contacts, blocked accounts, every message), with the whole
//! header as associated data. Import merges: contacts already held keep their nickname, and a
//! message already held (same conversation, direction, sender timestamp and text) is skipped.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use session_crypto::RngCore as _;
use zeroize::Zeroizing;

use crate::{KdfParams, MessageStore, StoreError};

const MAGIC: &[u8; 4] = b"SRSX";
const VERSION: u8 = 1;
const SALT: usize = 16;
const CHECK: usize = 16;
const NONCE: usize = 24;
const HEADER: usize = MAGIC.len() + 1 + 12 + SALT + CHECK + NONCE;
const CHECK_DOMAIN: &[u8] = b"session-rs export passphrase check";

/// What can go wrong with an export file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The passphrase does not open this file.
    #[error("wrong passphrase for this export file")]
    WrongPassphrase,
    /// The file is not an export, or it was damaged.
    #[error("the export file is damaged or not an export file ({0})")]
    Damaged(String),
    /// A newer version wrote the file.
    #[error("the export file has version {0}; this build reads version {VERSION}")]
    NewerVersion(u8),
    /// Reading or writing the file failed.
    #[error("cannot use the export file: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The passphrase cannot be stretched with these parameters.
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    display_name: Option<String>,
    contacts: Vec<(String, String)>,
    blocked: Vec<String>,
    messages: Vec<ExportedMessage>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportedMessage {
    peer: String,
    outgoing: bool,
    sent_ms: i64,
    received_ms: Option<i64>,
    body: String,
    display_name: Option<String>,
    state: String,
}

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Messages new to this database.
    pub messages: usize,
    /// Messages skipped as already held.
    pub duplicates: usize,
    /// Contacts added.
    pub contacts: usize,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Messages written.
    pub messages: usize,
    /// Contacts written.
    pub contacts: usize,
    /// The file's size in bytes.
    pub bytes: usize,
}

fn derive(passphrase: &str, salt: &[u8], p: KdfParams) -> Result<Zeroizing<[u8; 32]>, ExportError> {
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| ExportError::Kdf(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut *key)
        .map_err(|e| ExportError::Kdf(e.to_string()))?;
    Ok(key)
}

fn check_value(key: &[u8; 32]) -> [u8; CHECK] {
    session_crypto::hash::blake2b(key, &[CHECK_DOMAIN]).unwrap_or([0u8; CHECK])
}

fn read_document(store: &MessageStore) -> Result<Document, ExportError> {
    let conn = store.conn();
    let mut doc = Document {
        display_name: store.setting(crate::messenger::DISPLAY_NAME)?,
        ..Document::default()
    };
    let mut stmt = conn.prepare("SELECT account_id, nickname FROM contacts ORDER BY account_id")?;
    doc.contacts = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare("SELECT account_id FROM blocked ORDER BY account_id")?;
    doc.blocked = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT peer, outgoing, sent_ms, received_ms, body, display_name, state
         FROM messages ORDER BY sent_ms, id",
    )?;
    doc.messages = stmt
        .query_map([], |r| {
            Ok(ExportedMessage {
                peer: r.get(0)?,
                outgoing: r.get::<_, i64>(1)? == 1,
                sent_ms: r.get(2)?,
                received_ms: r.get(3)?,
                body: r.get(4)?,
                display_name: r.get(5)?,
                state: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(doc)
}

/// Writes the local history of `store` to `path`, encrypted under `passphrase`.
pub fn export(
    store: &MessageStore,
    path: &Path,
    passphrase: &str,
    kdf: KdfParams,
) -> Result<ExportReport, ExportError> {
    let doc = read_document(store)?;
    let plain =
        Zeroizing::new(serde_json::to_vec(&doc).map_err(|e| ExportError::Damaged(e.to_string()))?);
    let mut salt = [0u8; SALT];
    let mut nonce = [0u8; NONCE];
    session_crypto::OsRng.fill_bytes(&mut salt);
    session_crypto::OsRng.fill_bytes(&mut nonce);
    let key = derive(passphrase, &salt, kdf)?;
    let mut out = Vec::with_capacity(HEADER + plain.len() + 16);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for v in [kdf.memory_kib, kdf.iterations, kdf.parallelism] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&check_value(&key));
    out.extend_from_slice(&nonce);
    let sealed = XChaCha20Poly1305::new((&*key).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &out,
            },
        )
        .map_err(|_| ExportError::Kdf("encryption failed".into()))?;
    out.extend_from_slice(&sealed);
    let temp = path.with_extension("partial");
    std::fs::write(&temp, &out)?;
    std::fs::rename(&temp, path)?;
    Ok(ExportReport {
        messages: doc.messages.len(),
        contacts: doc.contacts.len(),
        bytes: out.len(),
    })
}

fn open_file(bytes: &[u8], passphrase: &str) -> Result<Document, ExportError> {
    if bytes.len() < HEADER + 16 || &bytes[..4] != MAGIC {
        return Err(ExportError::Damaged("no export header".into()));
    }
    if bytes[4] != VERSION {
        return Err(ExportError::NewerVersion(bytes[4]));
    }
    let u32_at = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_be_bytes(b)
    };
    let kdf = KdfParams {
        memory_kib: u32_at(5),
        iterations: u32_at(9),
        parallelism: u32_at(13),
    };
    if !kdf.is_plausible() {
        return Err(ExportError::Damaged(
            "implausible key derivation parameters".into(),
        ));
    }
    let salt = &bytes[17..17 + SALT];
    let check = &bytes[17 + SALT..17 + SALT + CHECK];
    let nonce = &bytes[17 + SALT + CHECK..HEADER];
    let key = derive(passphrase, salt, kdf)?;
    if check_value(&key) != check {
        return Err(ExportError::WrongPassphrase);
    }
    let plain = Zeroizing::new(
        XChaCha20Poly1305::new((&*key).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: &bytes[HEADER..],
                    aad: &bytes[..HEADER],
                },
            )
            .map_err(|_| ExportError::Damaged("the contents do not authenticate".into()))?,
    );
    serde_json::from_slice(&plain).map_err(|e| ExportError::Damaged(e.to_string()))
}

/// Merges the export at `path` into `store` (no duplicates: see the module notes).
pub fn import(
    store: &mut MessageStore,
    path: &Path,
    passphrase: &str,
) -> Result<ImportReport, ExportError> {
    let bytes = std::fs::read(path)?;
    let doc = open_file(&bytes, passphrase)?;
    let mut report = ImportReport::default();
    for (id, nickname) in &doc.contacts {
        let Ok(account) = id.parse() else { continue };
        if store.contact(&account)?.is_none() && store.add_contact(&account, nickname, 0).is_ok() {
            report.contacts += 1;
        }
    }
    for id in &doc.blocked {
        if let Ok(account) = id.parse() {
            if !store.is_blocked(&account)? {
                store.block(&account, 0)?;
            }
        }
    }
    if store.setting(crate::messenger::DISPLAY_NAME)?.is_none() {
        if let Some(name) = &doc.display_name {
            store.set_setting(crate::messenger::DISPLAY_NAME, name)?;
        }
    }
    let conn = store.conn();
    for m in &doc.messages {
        // Unsent messages are left out: their encrypted bytes (needed to retry) are not exported.
        if m.peer.parse::<session_crypto::AccountId>().is_err()
            || (m.outgoing && m.state != "stored")
        {
            continue;
        }
        let inserted = conn.execute(
            "INSERT INTO messages (peer, outgoing, sent_ms, received_ms, body, display_name, state)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
             WHERE NOT EXISTS (SELECT 1 FROM messages WHERE peer = ?1 AND outgoing = ?2
                               AND sent_ms = ?3 AND body = ?5)",
            params![
                m.peer,
                i64::from(m.outgoing),
                m.sent_ms,
                m.received_ms,
                m.body,
                m.display_name,
                m.state
            ],
        )?;
        if inserted == 1 {
            report.messages += 1;
        } else {
            report.duplicates += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn export_import_merges_without_duplicates_and_names_errors() -> Result<(), ExportError> {
        let dir = tempfile::tempdir()?;
        let store = MessageStore::open(&dir.path().join("a"))?;
        let bob = Ed25519Seed::generate(&mut OsRng).key_pair().account_id();
        store.add_contact(&bob, "bob", 1)?;
        let id = store.insert_outgoing(&bob, 10, "hello bob", b"x")?;
        store.mark_stored(id, "h", 1, 1)?;
        let file = dir.path().join("export.srsx");
        let written = export(&store, &file, "correct horse", FAST)?;
        assert_eq!((written.messages, written.contacts), (1, 1));

        let mut other = MessageStore::open(&dir.path().join("b"))?;
        let first = import(&mut other, &file, "correct horse")?;
        assert_eq!(
            (first.messages, first.contacts, first.duplicates),
            (1, 1, 0)
        );
        let again = import(&mut other, &file, "correct horse")?;
        assert_eq!((again.messages, again.duplicates), (0, 1));
        assert_eq!(other.history(&bob, 10)?.len(), 1);

        assert!(matches!(
            import(&mut other, &file, "wrong"),
            Err(ExportError::WrongPassphrase)
        ));
        let mut bytes = std::fs::read(&file)?;
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes)?;
        assert!(matches!(
            import(&mut other, &file, "correct horse"),
            Err(ExportError::Damaged(_))
        ));
        std::fs::write(&file, b"not an export")?;
        assert!(matches!(
            import(&mut other, &file, "correct horse"),
            Err(ExportError::Damaged(_))
        ));
        Ok(())
    }
}
