//! The client's local database (SQLite): contacts, messages of every conversation, the send
//! state of outgoing messages, and the position of polling in each swarm member.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use rusqlite::{params, Connection, OptionalExtension as _};
use session_crypto::{AccountId, Ed25519Seed};
use session_wire::ReceivedText;
use zeroize::Zeroizing;

/// Schema version in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
/// Domain of the database key's derivation from the seed.
const DATABASE_KEY_DOMAIN: &[u8] = b"session-rs local database key v1";
/// The longest nickname accepted.
const MAX_NICKNAME_CHARS: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS contacts (
    account_id TEXT PRIMARY KEY,
    nickname   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    added_ms   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY,
    peer         TEXT NOT NULL,
    outgoing     INTEGER NOT NULL,
    sent_ms      INTEGER NOT NULL,
    received_ms  INTEGER,
    body         TEXT NOT NULL,
    display_name TEXT,
    state        TEXT NOT NULL,
    stored_on    INTEGER NOT NULL DEFAULT 0,
    swarm_size   INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    hash         TEXT UNIQUE,
    payload      BLOB
);
CREATE INDEX IF NOT EXISTS messages_by_peer ON messages (peer, sent_ms, id);
CREATE TABLE IF NOT EXISTS poll_positions (
    node      TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (node, namespace)
);
CREATE TABLE IF NOT EXISTS blocked (
    account_id TEXT PRIMARY KEY,
    blocked_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dropped_hashes (
    hash TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS read_marks (
    peer         TEXT PRIMARY KEY,
    last_read_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// What can go wrong with the local database or what is asked of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is not a usable database.
    #[error("the message database {path} is corrupt or not a database ({reason}); move it away to start afresh")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        reason: String,
    },
    /// The database was written by a newer version.
    #[error("the message database has schema version {0}; this build knows {SCHEMA_VERSION}")]
    NewerSchema(i64),
    /// No contact has that nickname, and it is not an Account ID.
    #[error("no contact named {0:?} (see `session contacts list`)")]
    UnknownContact(String),
    /// Text that looks like an Account ID but is not one.
    #[error("not a valid Account ID: {0}")]
    BadAccountId(session_crypto::AccountIdError),
    /// 64 hex characters: an Account ID without its `05`.
    #[error("not a valid Account ID: it has 64 characters, but Account IDs have 66 and start with 05 (is the 05 missing?)")]
    MissingPrefix,
    /// A nickname that cannot be used.
    #[error("invalid nickname: {0}")]
    BadNickname(String),
    /// Another contact already has this nickname.
    #[error("the nickname {0:?} is already used by another contact")]
    NicknameTaken(String),
    /// More than one message request matches the name given.
    #[error("more than one message request is shown as {0:?}; use the Account ID")]
    Ambiguous(String),
    /// The database key cannot be had (the account file is missing or protected).
    #[error("the message database needs the account's key: {0}")]
    NoKey(String),
    /// No message with this id.
    #[error("no message {0}")]
    UnknownMessage(i64),
    /// Any other SQLite failure.
    #[error("message database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A contact: an Account ID the user chose to talk to, under a nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Their Account ID.
    pub account_id: AccountId,
    /// The user's name for them.
    pub nickname: String,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the peer to the user.
    Incoming,
    /// From the user to the peer.
    Outgoing,
}

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageState {
    /// Being sent (or the client stopped while sending: retry it).
    Sending,
    /// Acknowledged by `on` of the `of` members of the recipient's swarm.
    Stored {
        /// Members holding it.
        on: u32,
        /// Members asked.
        of: u32,
    },
    /// Not stored; `reason` says why. It can be retried.
    Failed {
        /// Why.
        reason: String,
    },
    /// Received from the peer.
    Received,
}

/// A message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Local id (for retries).
    pub id: i64,
    /// The other party.
    pub peer: AccountId,
    /// Which way.
    pub direction: Direction,
    /// The sender's timestamp, Unix ms (orders the conversation).
    pub sent_ms: u64,
    /// When this client received it (incoming only).
    pub received_ms: Option<u64>,
    /// The text.
    pub text: String,
    /// The display name the sender gave (incoming only).
    pub display_name: Option<String>,
    /// Its state.
    pub state: MessageState,
}

/// A conversation in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The other party.
    pub peer: AccountId,
    /// Their nickname, for contacts.
    pub nickname: Option<String>,
    /// The display name they last sent.
    pub display_name: Option<String>,
    /// Messages both ways.
    pub messages: u64,
    /// The newest message's timestamp.
    pub last_ms: u64,
    /// Whether this is a message request: the peer is not a contact and the user never wrote
    /// to them.
    pub is_request: bool,
    /// Incoming messages not yet shown in `history` or `chat`.
    pub unread: u64,
    /// The newest message's text.
    pub last_text: String,
    /// Whether the newest message is the user's own.
    pub last_outgoing: bool,
}

/// A conversation started by someone who is not a contact.
pub type MessageRequest = Conversation;

/// The local database.
pub struct MessageStore {
    conn: Connection,
    path: PathBuf,
}

impl MessageStore {
    /// Opens (or creates) the database at `path` encrypted (SQLCipher: AES-256 pages with an
    /// HMAC each) under `key`. A plain database left by an older version is migrated into an
    /// encrypted one once, with everything in it, and the plain file removed.
    pub fn open_encrypted(path: &Path, key: &DatabaseKey) -> Result<Self, StoreError> {
        if is_plain_sqlite(path) {
            migrate_to_encrypted(path, key)?;
        }
        Self::open_with(path, Some(key))
    }

    /// Opens (or creates) a database at `path` without encryption (tests, tools); a damaged
    /// file is reported, never replaced.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, None)
    }

    fn open_with(path: &Path, key: Option<&DatabaseKey>) -> Result<Self, StoreError> {
        let corrupt = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            }
            _ => StoreError::Sqlite(e),
        };
        let conn = Connection::open(path).map_err(corrupt)?;
        if let Some(key) = key {
            conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.hex().as_str()))
                .map_err(corrupt)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(corrupt)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema(version));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        // WAL with NORMAL: a crash of the app loses nothing committed; a power cut can lose the
        // last commits, which is safe here: a sent message's state rolls back to "sending" (a
        // retry stores the same bytes, which swarms deduplicate), and a received message rolls
        // back together with its poll position, so it is fetched again.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(corrupt)?;
        conn.execute_batch(SCHEMA).map_err(corrupt)?;
        crate::config_sync::migrate(&conn).map_err(corrupt)?;
        crate::safety::migrate(&conn).map_err(corrupt)?;
        crate::group_store::migrate(&conn).map_err(corrupt)?;
        crate::account_keys::migrate(&conn).map_err(corrupt)?;
        crate::account_key_share::migrate(&conn).map_err(corrupt)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(corrupt)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: check,
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The connection, for modules that keep tables of their own here.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for transactions.
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a contact, or renames one already added.
    pub fn add_contact(
        &self,
        account_id: &AccountId,
        nickname: &str,
        now_ms: u64,
    ) -> Result<Contact, StoreError> {
        let nickname = nickname.trim();
        check_nickname(nickname)?;
        let id = account_id.to_string();
        let taken: Option<String> = self
            .conn
            .query_row(
                "SELECT account_id FROM contacts WHERE nickname = ?1",
                [nickname],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some_and(|other| other != id) {
            return Err(StoreError::NicknameTaken(nickname.into()));
        }
        self.conn.execute(
            "INSERT INTO contacts (account_id, nickname, added_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET nickname = excluded.nickname",
            params![id, nickname, to_i64(now_ms)],
        )?;
        crate::config_sync::record_contact(&self.conn, account_id, nickname)?;
        Ok(Contact {
            account_id: *account_id,
            nickname: nickname.into(),
        })
    }

    /// Removes a contact (by nickname or Account ID); the conversation stays, as a request.
    pub fn remove_contact(&self, who: &str) -> Result<Contact, StoreError> {
        let account_id = self.resolve(who)?;
        let contact = self
            .contact(&account_id)?
            .ok_or_else(|| StoreError::UnknownContact(who.into()))?;
        self.conn.execute(
            "DELETE FROM contacts WHERE account_id = ?1",
            [account_id.to_string()],
        )?;
        crate::config_sync::record_contact_removed(&self.conn, &account_id)?;
        Ok(contact)
    }

    /// Every contact, by nickname.
    pub fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT account_id, nickname FROM contacts ORDER BY nickname")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, nickname) = row?;
            out.push(Contact {
                account_id: parse_stored_id(&id)?,
                nickname,
            });
        }
        Ok(out)
    }

    /// The contact with this Account ID, if any.
    pub fn contact(&self, account_id: &AccountId) -> Result<Option<Contact>, StoreError> {
        let nickname: Option<String> = self
            .conn
            .query_row(
                "SELECT nickname FROM contacts WHERE account_id = ?1",
                [account_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(nickname.map(|nickname| Contact {
            account_id: *account_id,
            nickname,
        }))
    }

    /// The Account ID meant by `who`: a contact's nickname, or an Account ID. Text that looks
    /// like an Account ID but is not one gets the parser's precise error.
    pub fn resolve(&self, who: &str) -> Result<AccountId, StoreError> {
        let who = who.trim();
        let by_nickname: Option<String> = self
            .conn
            .query_row(
                "SELECT account_id FROM contacts WHERE nickname = ?1",
                [who],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = by_nickname {
            return parse_stored_id(&id);
        }
        let compact: String = who.split_whitespace().collect();
        if looks_like_account_id(&compact) {
            return parse_account_id(&compact);
        }
        Err(StoreError::UnknownContact(who.into()))
    }

    /// A contact whose Account ID differs from `id` in exactly one character, with the 1-based
    /// position of that character: most likely a typo of the contact's ID.
    pub fn similar_contact(&self, id: &AccountId) -> Result<Option<(Contact, usize)>, StoreError> {
        let text = id.to_string();
        for contact in self.contacts()? {
            let theirs = contact.account_id.to_string();
            let mut differences = text
                .bytes()
                .zip(theirs.bytes())
                .enumerate()
                .filter(|(_, (a, b))| a != b);
            if let (Some((at, _)), None) = (differences.next(), differences.next()) {
                return Ok(Some((contact, at + 1)));
            }
        }
        Ok(None)
    }

    /// A sender timestamp for a new outgoing message: `now`, or just after the newest one, so
    /// messages sent in a burst keep their order.
    pub fn next_timestamp(&self, now_ms: u64) -> Result<u64, StoreError> {
        let newest: Option<i64> = self.conn.query_row(
            "SELECT MAX(sent_ms) FROM messages WHERE outgoing = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(now_ms.max(newest.map_or(0, |n| n as u64 + 1)))
    }

    /// Records an outgoing message before it is sent, with the bytes to store (kept for retries).
    pub fn insert_outgoing(
        &self,
        peer: &AccountId,
        sent_ms: u64,
        text: &str,
        payload: &[u8],
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO messages (peer, outgoing, sent_ms, body, state, payload)
             VALUES (?1, 1, ?2, ?3, 'sending', ?4)",
            params![peer.to_string(), to_i64(sent_ms), text, payload],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// An outgoing message's recipient and stored bytes.
    pub fn outgoing_payload(&self, id: i64) -> Result<(AccountId, Vec<u8>), StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT peer, payload FROM messages WHERE id = ?1 AND outgoing = 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((peer, Some(payload))) => Ok((parse_stored_id(&peer)?, payload)),
            _ => Err(StoreError::UnknownMessage(id)),
        }
    }

    /// Marks a message stored on `on` of `of` swarm members (and sets its swarm hash).
    pub fn mark_stored(&self, id: i64, hash: &str, on: u32, of: u32) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE messages SET state = 'stored', stored_on = ?2, swarm_size = ?3, error = NULL,
             hash = ?4 WHERE id = ?1",
            params![id, on, of, hash],
        )?;
        Ok(())
    }

    /// Marks a message failed, with the reason.
    pub fn mark_failed(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE messages SET state = 'failed', error = ?2 WHERE id = ?1",
            params![id, reason],
        )?;
        Ok(())
    }

    /// Outgoing messages not acknowledged by any swarm member (failed, or interrupted while sending).
    pub fn unsent(&self) -> Result<Vec<StoredMessage>, StoreError> {
        self.select(
            "WHERE outgoing = 1 AND state IN ('failed', 'sending') ORDER BY sent_ms, id",
            params![],
        )
    }

    /// The message with this id.
    pub fn message(&self, id: i64) -> Result<StoredMessage, StoreError> {
        self.select("WHERE id = ?1", params![id])?
            .pop()
            .ok_or(StoreError::UnknownMessage(id))
    }

    /// Where polling of `node` stands in `namespace`.
    pub fn last_hash(&self, node: &str, namespace: i16) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_hash FROM poll_positions WHERE node = ?1 AND namespace = ?2",
                params![node, namespace],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Files messages retrieved from `node` and moves its poll position to `last_hash`, in one
    /// transaction. Messages already held (by swarm hash) are skipped. Returns the new ones.
    pub fn file_incoming(
        &mut self,
        node: &str,
        namespace: i16,
        messages: &[(String, ReceivedText)],
        last_hash: Option<&str>,
        now_ms: u64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut new_ids = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO messages
                 (peer, outgoing, sent_ms, received_ms, body, display_name, state, hash)
                 SELECT ?1, 0, ?2, ?3, ?4, ?5, 'received', ?6
                 WHERE NOT EXISTS (SELECT 1 FROM dropped_hashes WHERE hash = ?6)",
            )?;
            for (hash, text) in messages {
                let inserted = insert.execute(params![
                    text.sender.to_string(),
                    to_i64(text.timestamp_ms),
                    to_i64(now_ms),
                    text.text,
                    text.display_name,
                    hash
                ])?;
                if inserted == 1 {
                    new_ids.push(tx.last_insert_rowid());
                }
            }
            if let Some(last) = last_hash {
                tx.execute(
                    "INSERT INTO poll_positions (node, namespace, last_hash) VALUES (?1, ?2, ?3)
                     ON CONFLICT (node, namespace) DO UPDATE SET last_hash = excluded.last_hash",
                    params![node, namespace, last],
                )?;
            }
        }
        tx.commit()?;
        new_ids.into_iter().map(|id| self.message(id)).collect()
    }

    /// The conversation with `peer`: its newest `limit` messages, oldest first.
    pub fn history(
        &self,
        peer: &AccountId,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut newest = self.select(
            "WHERE peer = ?1 ORDER BY sent_ms DESC, id DESC LIMIT ?2",
            params![peer.to_string(), i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        newest.reverse();
        Ok(newest)
    }

    /// Every conversation, newest first; those started by non-contacts to whom the user never
    /// wrote are message requests. Blocked senders' conversations are left out.
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT m.peer, c.nickname, COUNT(*), MAX(m.sent_ms),
                    (SELECT display_name FROM messages d WHERE d.peer = m.peer AND d.outgoing = 0
                     AND d.display_name IS NOT NULL ORDER BY d.sent_ms DESC LIMIT 1),
                    SUM(m.outgoing),
                    SUM(CASE WHEN m.outgoing = 0 AND m.id > COALESCE(r.last_read_id, 0)
                        THEN 1 ELSE 0 END),
                    (SELECT body || char(0) || outgoing FROM messages l WHERE l.peer = m.peer
                     ORDER BY l.sent_ms DESC, l.id DESC LIMIT 1)
             FROM messages m LEFT JOIN contacts c ON c.account_id = m.peer
             LEFT JOIN read_marks r ON r.peer = m.peer
             WHERE m.peer NOT IN (SELECT account_id FROM blocked)
             GROUP BY m.peer ORDER BY MAX(m.sent_ms) DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (peer, nickname, count, last, display_name, outgoing, unread, newest) = row?;
            let newest = newest.unwrap_or_default();
            let (last_text, last_outgoing) = match newest.rsplit_once('\0') {
                Some((text, way)) => (text.to_owned(), way == "1"),
                None => (newest, false),
            };
            out.push(Conversation {
                peer: parse_stored_id(&peer)?,
                is_request: nickname.is_none() && outgoing == 0,
                nickname,
                display_name,
                messages: count as u64,
                last_ms: last as u64,
                unread: unread as u64,
                last_text,
                last_outgoing,
            });
        }
        Ok(out)
    }

    /// Marks every message of the conversation with `peer` as read.
    pub fn mark_read(&self, peer: &AccountId) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO read_marks (peer, last_read_id)
             SELECT ?1, COALESCE(MAX(id), 0) FROM messages WHERE peer = ?1
             ON CONFLICT (peer) DO UPDATE SET last_read_id = excluded.last_read_id",
            [peer.to_string()],
        )?;
        crate::config_sync::record_read(&self.conn, peer)?;
        Ok(())
    }

    /// Blocks `peer`: their messages are dropped when they arrive, their conversation is
    /// hidden, and they stop being a contact.
    pub fn block(&self, peer: &AccountId, now_ms: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO blocked (account_id, blocked_ms) VALUES (?1, ?2)",
            params![peer.to_string(), to_i64(now_ms)],
        )?;
        self.conn.execute(
            "DELETE FROM contacts WHERE account_id = ?1",
            [peer.to_string()],
        )?;
        crate::config_sync::record_blocked(&self.conn, peer, true)?;
        Ok(())
    }

    /// Unblocks `peer`; returns whether they were blocked.
    pub fn unblock(&self, peer: &AccountId) -> Result<bool, StoreError> {
        crate::config_sync::record_blocked(&self.conn, peer, false)?;
        Ok(self.conn.execute(
            "DELETE FROM blocked WHERE account_id = ?1",
            [peer.to_string()],
        )? > 0)
    }

    /// Whether `peer` is blocked.
    pub fn is_blocked(&self, peer: &AccountId) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM blocked WHERE account_id = ?1",
                [peer.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Deletes the whole conversation with `peer`; returns how many messages went. Their
    /// swarm hashes are kept, so that a later sync does not file them again.
    pub fn delete_conversation(&self, peer: &AccountId) -> Result<usize, StoreError> {
        crate::config_sync::record_cleared(&self.conn, peer)?;
        self.conn.execute(
            "INSERT OR IGNORE INTO dropped_hashes (hash)
             SELECT hash FROM messages WHERE peer = ?1 AND hash IS NOT NULL",
            [peer.to_string()],
        )?;
        self.conn
            .execute("DELETE FROM read_marks WHERE peer = ?1", [peer.to_string()])?;
        Ok(self
            .conn
            .execute("DELETE FROM messages WHERE peer = ?1", [peer.to_string()])?)
    }

    /// The message request whose sender is shown as `shown`: the display name they gave (in any
    /// case) or the start of their Account ID. `None` when nothing matches; an error when more
    /// than one request matches.
    pub fn find_request(&self, shown: &str) -> Result<Option<AccountId>, StoreError> {
        let shown = shown.trim().trim_matches('"');
        let lower = shown.to_lowercase();
        let matches: Vec<AccountId> = self
            .requests()?
            .into_iter()
            .filter(|r| {
                r.display_name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase() == lower)
                    || (shown.len() >= 4 && r.peer.to_string().starts_with(&lower))
            })
            .map(|r| r.peer)
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(StoreError::Ambiguous(shown.into())),
        }
    }

    /// Conversations started by people who are not contacts.
    pub fn requests(&self) -> Result<Vec<MessageRequest>, StoreError> {
        Ok(self
            .conversations()?
            .into_iter()
            .filter(|c| c.is_request)
            .collect())
    }

    /// A setting (display name and the like).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        crate::config_sync::record_setting(&self.conn, key, value)?;
        Ok(())
    }

    fn select(
        &self,
        clause: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT id, peer, outgoing, sent_ms, received_ms, body, display_name, state,
                    stored_on, swarm_size, error FROM messages {clause}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let state: String = r.get(7)?;
            let state = match state.as_str() {
                "stored" => MessageState::Stored {
                    on: r.get(8)?,
                    of: r.get(9)?,
                },
                "failed" => MessageState::Failed {
                    reason: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                },
                "received" => MessageState::Received,
                _ => MessageState::Sending,
            };
            let peer: String = r.get(1)?;
            out.push(StoredMessage {
                id: r.get(0)?,
                peer: parse_stored_id(&peer)?,
                direction: if r.get::<_, i64>(2)? == 1 {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                },
                sent_ms: r.get::<_, i64>(3)? as u64,
                received_ms: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                text: r.get(5)?,
                display_name: r.get(6)?,
                state,
            });
        }
        Ok(out)
    }
}

/// The key of the local database: derived from the account seed, so only the account file
/// (sealed by the passphrase, if one is set) opens it.
pub struct DatabaseKey(Zeroizing<[u8; 32]>);

impl DatabaseKey {
    /// The database key of the account with this seed.
    pub fn from_seed(seed: &Ed25519Seed) -> Self {
        let key = session_crypto::hash::blake2b::<32>(seed.as_bytes(), &[DATABASE_KEY_DOMAIN])
            .unwrap_or([0u8; 32]);
        Self(Zeroizing::new(key))
    }

    fn hex(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(64));
        for byte in self.0.iter() {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(..)")
    }
}

/// Whether `path` is an unencrypted SQLite file (its header is in the clear).
fn is_plain_sqlite(path: &Path) -> bool {
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// Copies a plain database into an encrypted one beside it (sqlcipher_export copies every
/// table, index and the schema version), then puts it in the plain file's place.
fn migrate_to_encrypted(path: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
    let temp = path.with_extension("encrypting");
    let _ = std::fs::remove_file(&temp);
    {
        let plain = Connection::open(path)?;
        let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        plain.execute(
            &format!(
                "ATTACH DATABASE ?1 AS encrypted KEY \"x'{}'\"",
                key.hex().as_str()
            ),
            [temp.to_string_lossy()],
        )?;
        plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        plain.execute_batch(&format!(
            "PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
        ))?;
    }
    std::fs::rename(&temp, path).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("cannot replace the plain database: {e}"),
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    tracing::info!("the local database was migrated to an encrypted one");
    Ok(())
}

fn check_nickname(nickname: &str) -> Result<(), StoreError> {
    if nickname.is_empty() {
        return Err(StoreError::BadNickname("it is empty".into()));
    }
    if nickname.chars().count() > MAX_NICKNAME_CHARS {
        return Err(StoreError::BadNickname(format!(
            "longer than {MAX_NICKNAME_CHARS} characters"
        )));
    }
    if nickname.chars().any(char::is_control) {
        return Err(StoreError::BadNickname(
            "it contains control characters".into(),
        ));
    }
    if looks_like_account_id(nickname) {
        return Err(StoreError::BadNickname(
            "it looks like an Account ID; pick a name".into(),
        ));
    }
    Ok(())
}

/// Text a user most likely meant as an Account ID: starts with `05` and is long, or is all hex
/// and long.
fn looks_like_account_id(text: &str) -> bool {
    let hexish = text.chars().filter(char::is_ascii_hexdigit).count();
    text.len() >= 20 && (text.starts_with("05") || hexish * 10 >= text.len() * 9)
}

/// Parses an Account ID as a person types or pastes it: whitespace inside it is ignored, and
/// 64 hex characters are named as an ID missing its `05`.
pub fn parse_account_id(text: &str) -> Result<AccountId, StoreError> {
    let compact: String = text.split_whitespace().collect();
    if compact.len() == 64 && compact.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::MissingPrefix);
    }
    AccountId::from_str(&compact).map_err(StoreError::BadAccountId)
}

fn parse_stored_id(text: &str) -> Result<AccountId, StoreError> {
    AccountId::from_str(text).map_err(|e| StoreError::Corrupt {
        path: PathBuf::new(),
        reason: format!("a stored Account ID is invalid: {e}"),
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    fn account() -> AccountId {
        Ed25519Seed::generate(&mut OsRng).key_pair().account_id()
    }

    #[test]
    fn contacts_resolve_by_nickname_or_id_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(&dir.path().join("db")).unwrap();
        let bob = account();
        store.add_contact(&bob, "Bob", 1).unwrap();
        assert_eq!(store.resolve("Bob").unwrap(), bob);
        assert_eq!(store.resolve("bob").unwrap(), bob, "nicknames ignore case");
        assert_eq!(store.resolve(&bob.to_string()).unwrap(), bob);
        assert!(matches!(
            store.resolve("carol"),
            Err(StoreError::UnknownContact(_))
        ));
        let mut bad = bob.to_string();
        bad.replace_range(10..11, "z");
        let err = store.resolve(&bad).unwrap_err();
        assert!(matches!(err, StoreError::BadAccountId(_)));
        assert!(err.to_string().contains("11"), "{err}");
        assert!(matches!(
            store.add_contact(&account(), "BOB", 2),
            Err(StoreError::NicknameTaken(_))
        ));
        assert!(matches!(
            store.add_contact(&account(), &bob.to_string(), 2),
            Err(StoreError::BadNickname(_))
        ));
        assert_eq!(store.remove_contact("Bob").unwrap().account_id, bob);
        assert!(store.contacts().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_database_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let Err(err) = MessageStore::open(&path) else {
            panic!("garbage opened as a database");
        };
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x42u8; 8192]);
    }

    #[test]
    fn incoming_messages_are_filed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = MessageStore::open(&dir.path().join("db")).unwrap();
        let carol = account();
        let text = ReceivedText {
            sender: carol,
            timestamp_ms: 5,
            text: "hi".into(),
            display_name: Some("Carol".into()),
            sync_target: None,
        };
        let batch = vec![("h1".to_string(), text)];
        assert_eq!(
            store
                .file_incoming("n1", 0, &batch, Some("h1"), 9)
                .unwrap()
                .len(),
            1
        );
        assert!(store
            .file_incoming("n2", 0, &batch, Some("h1"), 9)
            .unwrap()
            .is_empty());
        assert_eq!(store.last_hash("n1", 0).unwrap().as_deref(), Some("h1"));
        assert_eq!(store.last_hash("n3", 0).unwrap(), None);
        let requests = store.requests().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].display_name.as_deref(), Some("Carol"));
        store.add_contact(&carol, "carol", 10).unwrap();
        assert!(store.requests().unwrap().is_empty());
    }
}
