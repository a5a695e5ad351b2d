//! Message storage: one SQLite database per node, in WAL mode.
//!
//! Rows are kept per owner (the 33-byte account key) and namespace, in insertion order, which is
//! what `retrieve` pages through. Expiry has its own index, swept on a timer. Every write is one
//! transaction, committed before the caller acknowledges it: a killed process loses nothing that
//! was acknowledged.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

/// A 32-byte message hash (the base64 text form is what clients see).
pub type Hash = [u8; 32];
/// A 33-byte account key: prefix byte and key.
pub type Owner = [u8; 33];

/// Storage failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The configured size cap is reached.
    #[error("storage full: {used} of {cap} bytes used")]
    Full {
        /// Bytes in use.
        used: u64,
        /// The cap.
        cap: u64,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database lock was poisoned by a panic in another thread.
    #[error("database lock poisoned")]
    Poisoned,
    /// The group commit this store was part of failed, so nothing of it was kept.
    #[error("database error (group commit): {0}")]
    Batch(String),
    /// The account's inbox holds as much as others may deposit into it.
    #[error(
        "inbox full: the account holds {count} messages ({bytes} bytes) in its inboxes; others may \
         deposit up to {max_count} messages or {max_bytes} bytes"
    )]
    InboxFull {
        /// Messages held in the account's public inboxes.
        count: u64,
        /// Their bytes.
        bytes: u64,
        /// The quota's message count.
        max_count: u64,
        /// The quota's bytes.
        max_bytes: u64,
    },
    /// Deposits into this account arrive faster than its per-account rate.
    #[error("too many messages for this account right now: at most {per_second} a second")]
    DepositRate {
        /// The sustained rate allowed.
        per_second: f64,
    },
}

/// What others (anyone, without the owner's signature) may deposit into one account's public
/// inboxes (namespaces with `ns % 10 == 0`), and how fast. The owner's own signed writes are not
/// limited by it. A deposit past the quota is refused (never evicting what is already held, so a
/// flood cannot push out real mail); the owner can make room by deleting.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuota {
    /// Most messages an account's public inboxes hold.
    #[serde(default = "default_quota_messages")]
    pub max_messages: u64,
    /// Most bytes of message data they hold.
    #[serde(default = "default_quota_bytes")]
    pub max_bytes: u64,
    /// Deposits per second into one account, sustained.
    #[serde(default = "default_deposit_rate")]
    pub deposits_per_second: f64,
    /// Deposits into one account at once.
    #[serde(default = "default_deposit_burst")]
    pub deposit_burst: f64,
}

fn default_quota_messages() -> u64 {
    10_000
}
fn default_quota_bytes() -> u64 {
    25 * 1024 * 1024
}
fn default_deposit_rate() -> f64 {
    10.0
}
fn default_deposit_burst() -> f64 {
    200.0
}

impl Default for AccountQuota {
    fn default() -> Self {
        Self {
            max_messages: default_quota_messages(),
            max_bytes: default_quota_bytes(),
            deposits_per_second: default_deposit_rate(),
            deposit_burst: default_deposit_burst(),
        }
    }
}

/// How hard commits try to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survives a crash of the process (WAL, `synchronous=NORMAL`).
    #[default]
    Normal,
    /// Also survives power loss (WAL, `synchronous=FULL`), at the cost of an fsync per commit.
    Full,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its hash.
    pub hash: Hash,
    /// Namespace.
    pub namespace: i16,
    /// Timestamp given at store time, Unix milliseconds.
    pub timestamp: u64,
    /// Expiry, Unix milliseconds.
    pub expiry: u64,
    /// The data.
    pub data: Vec<u8>,
    /// The owner's authorisation of the store (the signed request without its data), kept for
    /// swarm peers; `None` for deposits into public inboxes, which need none.
    pub proof: Option<String>,
}

/// One change recorded in the journal, as peers exchange it. Every change but a deposit into a
/// public inbox carries its proof: the owner's signed request that asked for it, so a peer can
/// check that the owner wanted it (see [`crate::replica`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A message was stored.
    Store(StoredMessage),
    /// A message was deleted.
    Delete {
        /// Its hash.
        hash: Hash,
        /// Its expiry (how long to remember the deletion).
        expiry: u64,
        /// The owner's request.
        proof: Option<String>,
    },
    /// A message's expiry changed.
    Expire {
        /// Its hash.
        hash: Hash,
        /// The new expiry.
        expiry: u64,
        /// The owner's request.
        proof: Option<String>,
    },
    /// A subaccount token was revoked or unrevoked.
    Revocation {
        /// The 36-byte token.
        token: Vec<u8>,
        /// Revoked (true) or allowed again (false).
        revoked: bool,
        /// The owner's request (its signed timestamp orders changes: the latest wins).
        proof: Option<String>,
    },
    /// A store whose message is already gone here.
    Skip,
}

/// A journal entry: its position, the owner, and the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Position in this node's journal.
    pub id: i64,
    /// The account.
    pub owner: Owner,
    /// What changed.
    pub change: Change,
}

/// What `store` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The message is new.
    Stored,
    /// A message with this hash was already stored.
    AlreadyStored,
}

/// How `expire` may move an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireMode {
    /// Set it, earlier or later.
    Set,
    /// Only make it earlier.
    Shorten,
    /// Only make it later.
    Extend,
}

/// The result of `expire`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireOutcome {
    /// Hashes whose expiry changed.
    pub updated: Vec<Hash>,
    /// Hashes found but left alone by the mode, with their current expiry.
    pub unchanged: Vec<(Hash, u64)>,
}

/// The node's message database.
pub struct Storage {
    conn: Mutex<Connection>,
    /// Stores waiting for the next group commit.
    queue: Mutex<Vec<QueuedStore>>,
    cap_bytes: u64,
    blob_cap_bytes: u64,
    quota: AccountQuota,
    count: AtomicU64,
    bytes: AtomicU64,
    /// Waiting retrieves, woken by every committed store.
    waits: crate::waits::Waits,
}

const SCHEMA: &str = "
-- inbox_count/inbox_bytes: what the account's public inboxes hold (its deposit quota);
-- deposit_tokens/deposit_updated: its deposit-rate bucket.
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY,
    pubkey BLOB NOT NULL UNIQUE,
    inbox_count INTEGER NOT NULL DEFAULT 0,
    inbox_bytes INTEGER NOT NULL DEFAULT 0,
    deposit_tokens REAL,
    deposit_updated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner INTEGER NOT NULL REFERENCES owners(id),
    namespace INTEGER NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    timestamp INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    data BLOB NOT NULL,
    proof TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_owner ON messages(owner, namespace, id);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages(expiry);
-- Every change, in order, for swarm peers to pull: 0 = store, 1 = delete, 2 = expiry change,
-- 3 = revocation, 4 = unrevocation (hash holds the token, expiry the signed timestamp). proof
-- is the owner's signed request behind the change.
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    op INTEGER NOT NULL,
    owner INTEGER NOT NULL,
    hash BLOB NOT NULL,
    expiry INTEGER NOT NULL,
    proof TEXT
);
CREATE INDEX IF NOT EXISTS journal_by_expiry ON journal(expiry);
CREATE INDEX IF NOT EXISTS journal_by_owner ON journal(owner);
-- Hashes deleted before they expired, so that a late copy from a peer is not stored again.
CREATE TABLE IF NOT EXISTS tombstones (
    hash BLOB PRIMARY KEY,
    expiry INTEGER NOT NULL
) WITHOUT ROWID;
-- How far this node has pulled each peer's journal.
CREATE TABLE IF NOT EXISTS peer_cursors (
    peer BLOB PRIMARY KEY,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;
-- Subaccount tokens the owner revoked (revoked = 1) or allowed again (0); changed_at is the
-- owner's signed timestamp of the last change, so replicas converge on the latest.
CREATE TABLE IF NOT EXISTS revoked_subaccounts (
    owner INTEGER NOT NULL REFERENCES owners(id),
    token BLOB NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 1,
    changed_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, token)
) WITHOUT ROWID;
-- Deletions by range (delete_all, delete_before): a copy of a message at or before `up_to` that a
-- peer passes on later is not stored again. namespace 32768 means every namespace.
CREATE TABLE IF NOT EXISTS range_tombstones (
    owner INTEGER NOT NULL,
    namespace INTEGER NOT NULL,
    up_to INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    PRIMARY KEY (owner, namespace, up_to)
) WITHOUT ROWID;
";

/// Columns added after the first release, for databases created before them: table, column,
/// declaration.
const ADDED_COLUMNS: [(&str, &str, &str); 7] = [
    ("owners", "inbox_count", "INTEGER NOT NULL DEFAULT 0"),
    ("owners", "inbox_bytes", "INTEGER NOT NULL DEFAULT 0"),
    ("owners", "deposit_tokens", "REAL"),
    ("owners", "deposit_updated", "INTEGER NOT NULL DEFAULT 0"),
    ("messages", "proof", "TEXT"),
    ("journal", "proof", "TEXT"),
    (
        "revoked_subaccounts",
        "changed_at",
        "INTEGER NOT NULL DEFAULT 0",
    ),
];

/// `range_tombstones.namespace` for a deletion over every namespace.
const ALL_NAMESPACES: i64 = 32768;

/// Brings a database made by an older version up to the current schema: adds missing columns
/// (`revoked` too, whose default keeps old rows revoked) and fills the inbox counters.
fn migrate(conn: &Connection) -> Result<(), StorageError> {
    let has_column = |table: &str, column: &str| -> Result<bool, StorageError> {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if row.get::<_, String>(1)? == column {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let mut counters_added = false;
    let revoked = (
        "revoked_subaccounts",
        "revoked",
        "INTEGER NOT NULL DEFAULT 1",
    );
    for (table, column, declaration) in ADDED_COLUMNS.iter().chain([&revoked]) {
        if !has_column(table, column)? {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
            counters_added |= *column == "inbox_count";
        }
    }
    if counters_added {
        conn.execute_batch(
            "UPDATE owners SET
                inbox_count = (SELECT COUNT(*) FROM messages m
                               WHERE m.owner = owners.id AND m.namespace % 10 = 0),
                inbox_bytes = (SELECT COALESCE(SUM(length(data)), 0) FROM messages m
                               WHERE m.owner = owners.id AND m.namespace % 10 = 0)",
        )?;
    }
    Ok(())
}

impl Storage {
    /// Opens (or creates) the database at `path`, with a size cap in bytes.
    pub fn open(path: &Path, cap_bytes: u64, durability: Durability) -> Result<Self, StorageError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        crate::blobs::migrate(&conn, path)?;
        let (count, bytes): (i64, i64) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM messages",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            queue: Mutex::new(Vec::new()),
            cap_bytes,
            blob_cap_bytes: crate::blobs::DEFAULT_BLOB_CAP_MB * 1024 * 1024,
            quota: AccountQuota::default(),
            count: AtomicU64::new(u64::try_from(count).unwrap_or(0)),
            bytes: AtomicU64::new(u64::try_from(bytes).unwrap_or(0)),
            waits: crate::waits::Waits::new(crate::waits::WaitLimits::default()),
        })
    }

    /// Sets the caps of waiting retrieves (the default is [`WaitLimits::default`](crate::waits::WaitLimits)).
    pub fn with_wait_limits(mut self, limits: crate::waits::WaitLimits) -> Self {
        self.waits = crate::waits::Waits::new(limits);
        self
    }

    /// The waiting retrieves held on this database.
    pub fn waits(&self) -> &crate::waits::Waits {
        &self.waits
    }

    /// Sets what others may deposit into one account (the default is [`AccountQuota::default`]).
    pub fn with_quota(mut self, quota: AccountQuota) -> Self {
        self.quota = quota;
        self
    }

    /// Sets the cap of blob bytes (attachment chunks), apart from the message cap.
    pub fn with_blob_cap(mut self, cap_bytes: u64) -> Self {
        self.blob_cap_bytes = cap_bytes;
        self
    }

    /// The cap of blob bytes.
    pub fn blob_cap_bytes(&self) -> u64 {
        self.blob_cap_bytes
    }

    /// The connection, for the tables other modules own ([`crate::blobs`]).
    pub(crate) fn connection(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StorageError> {
        self.lock()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StorageError> {
        self.conn.lock().map_err(|_| StorageError::Poisoned)
    }

    /// Messages stored (including expired ones not yet swept).
    pub fn message_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Bytes of message data stored.
    pub fn message_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Bytes the database file uses (pages in use, not free pages).
    pub fn used_bytes(&self) -> Result<u64, StorageError> {
        let conn = self.lock()?;
        used_bytes(&conn)
    }

    /// Stores a message, idempotently on its hash. With `replace_namespace`, the owner's other
    /// messages in that namespace are deleted in the same transaction (public outboxes hold one).
    ///
    /// Concurrent stores are committed together (group commit): each caller queues its store;
    /// whoever holds the connection next runs every queued store in one transaction, so pages
    /// shared by consecutive inserts are written once per batch instead of once per message.
    /// Every store is committed before its caller returns.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &self,
        owner: &Owner,
        namespace: i16,
        hash: &Hash,
        timestamp: u64,
        expiry: u64,
        data: &[u8],
        replace_namespace: bool,
    ) -> Result<StoreOutcome, StorageError> {
        let message = NewMessage {
            owner: *owner,
            namespace,
            hash: *hash,
            timestamp,
            expiry,
            data: data.to_vec(),
            replace_namespace,
            proof: None,
            source: Source::Owner,
        };
        self.store_many(vec![message])?
            .pop()
            .ok_or(StorageError::Poisoned)?
    }

    /// Stores several messages, each with its own outcome, in as few transactions as the
    /// concurrent traffic allows (bulk loads, and [`store`](Self::store) itself).
    pub fn store_many(
        &self,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Result<StoreOutcome, StorageError>>, StorageError> {
        let outcomes: Vec<Outcome> = messages
            .iter()
            .map(|_| Arc::new(Mutex::new(None)))
            .collect();
        self.queue
            .lock()
            .map_err(|_| StorageError::Poisoned)?
            .extend(
                messages
                    .into_iter()
                    .zip(&outcomes)
                    .map(|(message, outcome)| QueuedStore {
                        message,
                        outcome: outcome.clone(),
                    }),
            );
        let take_all = |outcomes: &[Outcome]| -> Result<Option<Vec<_>>, StorageError> {
            let mut done = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                match outcome.lock().map_err(|_| StorageError::Poisoned)?.take() {
                    Some(result) => done.push(result),
                    None => return Ok(None),
                }
            }
            Ok(Some(done))
        };
        loop {
            let mut conn = self.lock()?;
            // A leader before us may have committed our stores while we waited for the lock
            // (a batch is queued at once, so it is committed whole by one leader).
            let finished = outcomes
                .last()
                .map_or(Ok(true), |o| o.lock().map(|o| o.is_some()))
                .map_err(|_| StorageError::Poisoned)?;
            if !finished {
                let batch =
                    std::mem::take(&mut *self.queue.lock().map_err(|_| StorageError::Poisoned)?);
                self.commit_batch(&mut conn, batch);
            }
            drop(conn);
            if let Some(done) = take_all(&outcomes)? {
                return Ok(done);
            }
        }
    }

    /// Runs queued stores in one transaction and hands each its outcome. If the transaction
    /// fails, every store of the batch gets the error and nothing of it is kept.
    fn commit_batch(&self, conn: &mut Connection, batch: Vec<QueuedStore>) {
        let mut results = Vec::with_capacity(batch.len());
        let mut changes = (0u64, 0u64, 0u64, 0u64);
        let committed = (|| -> Result<(), StorageError> {
            let tx = conn.transaction()?;
            let mut used = used_bytes(&tx)?;
            for store in &batch {
                match store_one(&tx, &store.message, &mut used, self.cap_bytes, &self.quota) {
                    Ok((outcome, removed_count, removed_bytes)) => {
                        if outcome == StoreOutcome::Stored {
                            changes.0 += 1;
                            changes.1 += store.message.data.len() as u64;
                        }
                        changes.2 += removed_count;
                        changes.3 += removed_bytes;
                        results.push(Ok(outcome));
                    }
                    // Refusals of one store leave the rest of the batch alone.
                    Err(
                        refused @ (StorageError::Full { .. }
                        | StorageError::InboxFull { .. }
                        | StorageError::DepositRate { .. }),
                    ) => results.push(Err(refused)),
                    // Anything else is the database failing: give the batch up.
                    Err(e) => return Err(e),
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = committed {
            let reason = e.to_string();
            results = batch
                .iter()
                .map(|_| Err(StorageError::Batch(reason.clone())))
                .collect();
        } else {
            self.count.fetch_add(changes.0, Ordering::Relaxed);
            self.bytes.fetch_add(changes.1, Ordering::Relaxed);
            self.forget(changes.2, changes.3);
        }
        for (store, result) in batch.iter().zip(results) {
            if matches!(result, Ok(StoreOutcome::Stored)) {
                self.waits
                    .wake(&store.message.owner, store.message.namespace);
            }
            if let Ok(mut slot) = store.outcome.lock() {
                *slot = Some(result);
            }
        }
    }

    /// Messages of `owner` in `namespace` stored after `after` (from the start when `after` is
    /// absent or unknown), unexpired at `now`, at most `max_count` of them and at most
    /// `max_bytes` counted as [`retrieve_cost`] (always at least one). Returns the messages and
    /// whether more remain.
    pub fn retrieve(
        &self,
        owner: &Owner,
        namespace: i16,
        after: Option<&Hash>,
        max_count: usize,
        max_bytes: usize,
        now: u64,
    ) -> Result<(Vec<StoredMessage>, bool), StorageError> {
        self.retrieve_in(owner, namespace, after, max_count, max_bytes, false, now)
    }

    /// [`Storage::retrieve`], or with `newest_first` the newest messages first, stored before
    /// `after` (from the newest when `after` is absent or unknown).
    #[allow(clippy::too_many_arguments)]
    pub fn retrieve_in(
        &self,
        owner: &Owner,
        namespace: i16,
        after: Option<&Hash>,
        max_count: usize,
        max_bytes: usize,
        newest_first: bool,
        now: u64,
    ) -> Result<(Vec<StoredMessage>, bool), StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok((Vec::new(), false));
        };
        let after_id: Option<i64> = match after {
            Some(hash) => conn
                .query_row(
                    "SELECT id FROM messages WHERE hash = ?1 AND owner = ?2 AND namespace = ?3",
                    params![hash.as_slice(), owner_id, namespace],
                    |row| row.get(0),
                )
                .optional()?,
            None => None,
        };
        let mut stmt = conn.prepare_cached(if newest_first {
            "SELECT hash, namespace, timestamp, expiry, data, proof FROM messages
             WHERE owner = ?1 AND namespace = ?2 AND id < ?3 AND expiry > ?4
             ORDER BY id DESC"
        } else {
            "SELECT hash, namespace, timestamp, expiry, data, proof FROM messages
             WHERE owner = ?1 AND namespace = ?2 AND id > ?3 AND expiry > ?4
             ORDER BY id"
        })?;
        let bound = after_id.unwrap_or(if newest_first { i64::MAX } else { 0 });
        let mut rows = stmt.query(params![owner_id, namespace, bound, to_i64(now)])?;
        let mut out = Vec::new();
        let mut total = 0usize;
        while let Some(row) = rows.next()? {
            let message = read_message(row)?;
            if out.len() >= max_count {
                return Ok((out, true));
            }
            total = total.saturating_add(retrieve_cost(message.data.len()));
            if !out.is_empty() && total > max_bytes {
                return Ok((out, true));
            }
            out.push(message);
        }
        Ok((out, false))
    }

    /// Deletes the owner's messages with these hashes, as the owner's request `proof` asked;
    /// returns the hashes deleted.
    pub fn delete_hashes(
        &self,
        owner: &Owner,
        hashes: &[Hash],
        proof: Option<&str>,
    ) -> Result<Vec<Hash>, StorageError> {
        self.delete_where(owner, proof, None, |tx, owner_id, deleted| {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM messages WHERE owner = ?1 AND hash = ?2
                 RETURNING namespace, hash, length(data), expiry",
            )?;
            for hash in hashes {
                collect_deleted(stmt.query(params![owner_id, hash.as_slice()])?, deleted)?;
            }
            Ok(())
        })
        .map(|deleted| deleted.into_iter().map(|(_, h)| h).collect())
    }

    /// Deletes all of the owner's messages in `namespace` (all namespaces when `None`), and
    /// remembers the deletion for copies timestamped up to `up_to` that peers pass on later.
    pub fn delete_all(
        &self,
        owner: &Owner,
        namespace: Option<i16>,
        up_to: u64,
        proof: Option<&str>,
    ) -> Result<Vec<(i16, Hash)>, StorageError> {
        self.delete_range(owner, namespace, u64::MAX, up_to, proof)
    }

    /// Deletes the owner's messages with timestamps at or before `before` (and remembers it).
    pub fn delete_before(
        &self,
        owner: &Owner,
        namespace: Option<i16>,
        before: u64,
        proof: Option<&str>,
    ) -> Result<Vec<(i16, Hash)>, StorageError> {
        self.delete_range(owner, namespace, before, before, proof)
    }

    /// Deletes messages timestamped at or before `before`; remembers the range up to `up_to`.
    fn delete_range(
        &self,
        owner: &Owner,
        namespace: Option<i16>,
        before: u64,
        up_to: u64,
        proof: Option<&str>,
    ) -> Result<Vec<(i16, Hash)>, StorageError> {
        self.delete_where(
            owner,
            proof,
            Some((namespace, up_to)),
            |tx, owner_id, deleted| {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM messages WHERE owner = ?1 AND (?2 IS NULL OR namespace = ?2)
                 AND timestamp <= ?3
                 RETURNING namespace, hash, length(data), expiry",
                )?;
                collect_deleted(
                    stmt.query(params![owner_id, namespace, to_i64(before)])?,
                    deleted,
                )?;
                Ok(())
            },
        )
    }

    /// Deletes rows chosen by `body`, journals each deletion with `proof`, leaves tombstones,
    /// and with `range` remembers a range deletion (namespace, up to timestamp).
    fn delete_where(
        &self,
        owner: &Owner,
        proof: Option<&str>,
        range: Option<(Option<i16>, u64)>,
        body: impl FnOnce(
            &rusqlite::Transaction<'_>,
            i64,
            &mut Vec<Deleted>,
        ) -> Result<(), StorageError>,
    ) -> Result<Vec<(i16, Hash)>, StorageError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let owner_id = match (find_owner(&tx, owner)?, range) {
            (Some(id), _) => id,
            // A range deletion is remembered even where nothing is held yet.
            (None, Some(_)) => owner_id(&tx, owner)?,
            (None, None) => return Ok(Vec::new()),
        };
        let mut deleted = Vec::new();
        body(&tx, owner_id, &mut deleted)?;
        for row in &deleted {
            journal(&tx, OP_DELETE, owner_id, &row.hash, row.expiry, proof)?;
            tx.prepare_cached("INSERT OR IGNORE INTO tombstones (hash, expiry) VALUES (?1, ?2)")?
                .execute(params![row.hash.as_slice(), to_i64(row.expiry)])?;
        }
        if let Some((namespace, up_to)) = range {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO range_tombstones (owner, namespace, up_to, expiry)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                owner_id,
                namespace.map_or(ALL_NAMESPACES, i64::from),
                to_i64(up_to),
                to_i64(up_to.saturating_add(2 * session_wire::rpc::MAX_PRIVATE_TTL_MS)),
            ])?;
        }
        uncount_inbox(&tx, owner_id, &deleted)?;
        tx.commit()?;
        let bytes = deleted.iter().map(|row| row.bytes).sum();
        self.forget(deleted.len() as u64, bytes);
        let mut out: Vec<(i16, Hash)> = deleted
            .into_iter()
            .map(|row| (row.namespace, row.hash))
            .collect();
        out.sort_by_key(|entry| entry.1);
        Ok(out)
    }

    /// Whether a message of `owner` in `namespace` timestamped `timestamp` falls in a range
    /// the owner deleted.
    pub fn range_deleted(
        &self,
        owner: &Owner,
        namespace: i16,
        timestamp: u64,
    ) -> Result<bool, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(false);
        };
        range_deleted(&conn, owner_id, namespace, timestamp)
    }

    /// The owner's message with this hash, if held and unexpired at `now`.
    pub fn message(
        &self,
        owner: &Owner,
        hash: &Hash,
        now: u64,
    ) -> Result<Option<StoredMessage>, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(None);
        };
        let found = conn
            .prepare_cached(
                "SELECT hash, namespace, timestamp, expiry, data, proof FROM messages
                 WHERE owner = ?1 AND hash = ?2 AND expiry > ?3",
            )?
            .query_row(params![owner_id, hash.as_slice(), to_i64(now)], |row| {
                Ok(read_message(row))
            })
            .optional()?;
        found.transpose()
    }

    /// Changes the expiry of the owner's messages with these hashes, as the owner's request
    /// `proof` asked.
    pub fn expire(
        &self,
        owner: &Owner,
        hashes: &[Hash],
        expiry: u64,
        mode: ExpireMode,
        now: u64,
        proof: Option<&str>,
    ) -> Result<ExpireOutcome, StorageError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let Some(owner_id) = find_owner(&tx, owner)? else {
            return Ok(ExpireOutcome::default());
        };
        let mut outcome = ExpireOutcome::default();
        {
            // A message past its expiry is gone, even before the sweeper deletes it.
            let mut get = tx.prepare_cached(
                "SELECT expiry FROM messages WHERE owner = ?1 AND hash = ?2 AND expiry > ?3",
            )?;
            let mut set = tx
                .prepare_cached("UPDATE messages SET expiry = ?1 WHERE owner = ?2 AND hash = ?3")?;
            for hash in hashes {
                let Some(current) = get
                    .query_row(params![owner_id, hash.as_slice(), to_i64(now)], |row| {
                        row.get::<_, i64>(0)
                    })
                    .optional()?
                else {
                    continue;
                };
                let current = u64::try_from(current).unwrap_or(0);
                let allowed = match mode {
                    ExpireMode::Set => true,
                    ExpireMode::Shorten => expiry < current,
                    ExpireMode::Extend => expiry > current,
                };
                if allowed {
                    // Setting the expiry it already has changes nothing, and is not journalled
                    // (peers applying each other's changes must come to rest).
                    if expiry != current {
                        set.execute(params![to_i64(expiry), owner_id, hash.as_slice()])?;
                        journal(&tx, OP_EXPIRE, owner_id, hash, expiry, proof)?;
                    }
                    outcome.updated.push(*hash);
                } else {
                    outcome.unchanged.push((*hash, current));
                }
            }
        }
        tx.commit()?;
        outcome.updated.sort();
        outcome.updated.dedup();
        outcome.unchanged.sort();
        outcome.unchanged.dedup();
        Ok(outcome)
    }

    /// Shortens to `expiry` every later expiry of the owner's messages in `namespace` (all
    /// namespaces when `None`); returns the messages updated.
    pub fn expire_all(
        &self,
        owner: &Owner,
        namespace: Option<i16>,
        expiry: u64,
        proof: Option<&str>,
    ) -> Result<Vec<(i16, Hash)>, StorageError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let Some(owner_id) = find_owner(&tx, owner)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE messages SET expiry = ?1
                 WHERE owner = ?2 AND (?3 IS NULL OR namespace = ?3) AND expiry > ?1
                 RETURNING namespace, hash",
            )?;
            let mut rows = stmt.query(params![to_i64(expiry), owner_id, namespace])?;
            while let Some(row) = rows.next()? {
                out.push((row.get(0)?, blob32(row, 1)?));
            }
        }
        for (_, hash) in &out {
            journal(&tx, OP_EXPIRE, owner_id, hash, expiry, proof)?;
        }
        tx.commit()?;
        out.sort_by_key(|entry| entry.1);
        Ok(out)
    }

    /// Current expiries of the owner's messages with these hashes (unknown ones are left out).
    pub fn get_expiries(
        &self,
        owner: &Owner,
        hashes: &[Hash],
        now: u64,
    ) -> Result<Vec<(Hash, u64)>, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare_cached(
            "SELECT expiry FROM messages WHERE owner = ?1 AND hash = ?2 AND expiry > ?3",
        )?;
        let mut out = Vec::new();
        for hash in hashes {
            if let Some(expiry) = stmt
                .query_row(params![owner_id, hash.as_slice(), to_i64(now)], |row| {
                    row.get::<_, i64>(0)
                })
                .optional()?
            {
                out.push((*hash, u64::try_from(expiry).unwrap_or(0)));
            }
        }
        Ok(out)
    }

    /// Deletes every message expired at `now`; returns how many. An account whose last message
    /// and last journal entry expired is forgotten too: the node keeps no record of accounts
    /// beyond their unexpired messages (and revocations they asked for).
    pub fn sweep_expired(&self, now: u64) -> Result<u64, StorageError> {
        let conn = self.lock()?;
        crate::blobs::sweep(&conn, now)?;
        let mut touched = std::collections::BTreeSet::new();
        let (mut count, mut bytes) = (0u64, 0u64);
        let mut inbox: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
        {
            let mut stmt = conn.prepare_cached(
                "DELETE FROM messages WHERE expiry <= ?1 RETURNING length(data), owner, namespace",
            )?;
            let mut rows = stmt.query([to_i64(now)])?;
            while let Some(row) = rows.next()? {
                let length = row.get::<_, i64>(0)?;
                let owner = row.get::<_, i64>(1)?;
                count += 1;
                bytes += u64::try_from(length).unwrap_or(0);
                touched.insert(owner);
                if crate::rpc::is_public_inbox(row.get(2)?) {
                    let entry = inbox.entry(owner).or_default();
                    entry.0 += 1;
                    entry.1 += length;
                }
            }
        }
        for (owner, (messages, length)) in inbox {
            subtract_inbox(&conn, owner, messages, length)?;
        }
        {
            let mut stmt =
                conn.prepare_cached("DELETE FROM journal WHERE expiry <= ?1 RETURNING owner")?;
            let mut rows = stmt.query([to_i64(now)])?;
            while let Some(row) = rows.next()? {
                touched.insert(row.get::<_, i64>(0)?);
            }
        }
        conn.prepare_cached("DELETE FROM tombstones WHERE expiry <= ?1")?
            .execute([to_i64(now)])?;
        conn.prepare_cached("DELETE FROM range_tombstones WHERE expiry <= ?1")?
            .execute([to_i64(now)])?;
        let mut forget_owner = conn.prepare_cached(
            "DELETE FROM owners WHERE id = ?1
             AND NOT EXISTS (SELECT 1 FROM messages WHERE owner = ?1)
             AND NOT EXISTS (SELECT 1 FROM journal WHERE owner = ?1)
             AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = ?1)
             AND NOT EXISTS (SELECT 1 FROM range_tombstones WHERE owner = ?1)",
        )?;
        for owner in touched {
            forget_owner.execute([owner])?;
        }
        self.forget(count, bytes);
        Ok(count)
    }

    /// Revokes (`revoked`) or allows again subaccount tokens, as the owner's request `proof`
    /// signed at `timestamp`; returns how many tokens changed state. A token's state follows
    /// the latest signed timestamp, so replicas agree whatever order the changes reach them in
    /// (unless the owner signed two changes of one token in the same millisecond).
    pub fn set_revocations(
        &self,
        owner: &Owner,
        tokens: &[Vec<u8>],
        revoked: bool,
        timestamp: u64,
        proof: Option<&str>,
    ) -> Result<u64, StorageError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let owner_id = owner_id(&tx, owner)?;
        let op = if revoked { OP_REVOKE } else { OP_UNREVOKE };
        let mut changed = 0;
        for token in tokens {
            let held: Option<(bool, i64)> = tx
                .prepare_cached(
                    "SELECT revoked, changed_at FROM revoked_subaccounts
                     WHERE owner = ?1 AND token = ?2",
                )?
                .query_row(params![owner_id, token], |row| {
                    Ok((row.get::<_, i64>(0)? != 0, row.get(1)?))
                })
                .optional()?;
            // A newer change wins; of two signed at the same time, the later to arrive (the
            // owner's own order); the same change again changes nothing (peers come to rest).
            let stale = held.is_some_and(|(was, at)| {
                at > to_i64(timestamp) || (at == to_i64(timestamp) && was == revoked)
            });
            if stale {
                continue;
            }
            if held.map_or(revoked, |(was, _)| was != revoked) {
                changed += 1;
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO revoked_subaccounts (owner, token, revoked, changed_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                owner_id,
                token,
                i64::from(revoked),
                to_i64(timestamp)
            ])?;
            // Only the latest change of a token matters to a peer.
            tx.prepare_cached(
                "DELETE FROM journal WHERE owner = ?1 AND hash = ?2 AND op IN (?3, ?4)",
            )?
            .execute(params![owner_id, token, OP_REVOKE, OP_UNREVOKE])?;
            tx.prepare_cached(
                "INSERT INTO journal (op, owner, hash, expiry, proof) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![op, owner_id, token, i64::MAX, proof])?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Whether the owner revoked this subaccount token.
    pub fn is_revoked(&self, owner: &Owner, token: &[u8]) -> Result<bool, StorageError> {
        Ok(self.revoked_at(owner, token)?.is_some())
    }

    /// When the owner revoked this token (its signed timestamp), if it is revoked.
    pub fn revoked_at(&self, owner: &Owner, token: &[u8]) -> Result<Option<u64>, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(None);
        };
        let at = conn
            .prepare_cached(
                "SELECT changed_at FROM revoked_subaccounts
                 WHERE owner = ?1 AND token = ?2 AND revoked = 1",
            )?
            .query_row(params![owner_id, token], |row| row.get::<_, i64>(0))
            .optional()?;
        Ok(at.map(|at| u64::try_from(at).unwrap_or(0)))
    }

    /// The owner's revocation changes with their proofs, as hand-over passes them on.
    pub fn owner_revocations(&self, owner: &Owner) -> Result<Vec<Change>, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare_cached(
            "SELECT op, hash, proof FROM journal WHERE owner = ?1 AND op IN (?2, ?3) ORDER BY id",
        )?;
        let mut rows = stmt.query(params![owner_id, OP_REVOKE, OP_UNREVOKE])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(Change::Revocation {
                token: row.get(1)?,
                revoked: row.get::<_, i64>(0)? == OP_REVOKE,
                proof: row.get(2)?,
            });
        }
        Ok(out)
    }

    /// Journal entries after `after` (at most `limit`), with each store's message when it still
    /// exists, and whether more remain.
    pub fn changes_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<JournalEntry>, bool), StorageError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT j.id, j.op, o.pubkey, j.hash, j.expiry, m.namespace, m.timestamp, m.data,
                    m.proof, j.proof
             FROM journal j JOIN owners o ON o.id = j.owner
             LEFT JOIN messages m ON m.hash = j.hash AND j.op = 0
             WHERE j.id > ?1 ORDER BY j.id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, i64::try_from(limit + 1).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            if out.len() == limit {
                return Ok((out, true));
            }
            let id: i64 = row.get(0)?;
            let op: i64 = row.get(1)?;
            let owner: Owner = row
                .get::<_, Vec<u8>>(2)?
                .try_into()
                .map_err(|_| StorageError::Database(rusqlite::Error::InvalidQuery))?;
            let expiry = u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0);
            let proof: Option<String> = row.get(9)?;
            let change = match op {
                OP_REVOKE | OP_UNREVOKE => Change::Revocation {
                    token: row.get(3)?,
                    revoked: op == OP_REVOKE,
                    proof,
                },
                OP_STORE => match row.get::<_, Option<i16>>(5)? {
                    Some(namespace) => Change::Store(StoredMessage {
                        hash: blob32(row, 3)?,
                        namespace,
                        timestamp: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
                        expiry,
                        data: row.get(7)?,
                        proof: row.get(8)?,
                    }),
                    // Deleted or expired since: a later entry says so, or it is gone anyway.
                    None => Change::Skip,
                },
                OP_DELETE => Change::Delete {
                    hash: blob32(row, 3)?,
                    expiry,
                    proof,
                },
                _ => Change::Expire {
                    hash: blob32(row, 3)?,
                    expiry,
                    proof,
                },
            };
            out.push(JournalEntry { id, owner, change });
        }
        Ok((out, false))
    }

    /// Applies a peer's change that [`crate::replica::admit`] admitted. Stores and deletes are
    /// idempotent; a deleted hash stays deleted.
    pub fn apply(&self, owner: &Owner, change: Admitted, now: u64) -> Result<(), StorageError> {
        match change {
            Admitted::Store(m) => {
                let message = NewMessage {
                    owner: *owner,
                    namespace: m.namespace,
                    hash: m.hash,
                    timestamp: m.timestamp,
                    expiry: m.expiry,
                    replace_namespace: crate::rpc::is_public_outbox(m.namespace),
                    data: m.data,
                    proof: m.proof,
                    source: Source::Peer,
                };
                self.store_many(vec![message])?
                    .pop()
                    .ok_or(StorageError::Poisoned)?
                    .map(|_| ())
            }
            Admitted::Delete {
                hash,
                expiry,
                proof,
                range,
            } => {
                match range {
                    // A range deletion: the message is held here and inside the range.
                    Some((namespace, up_to)) => {
                        self.delete_where(
                            owner,
                            Some(&proof),
                            Some((namespace, up_to)),
                            |tx, owner_id, deleted| {
                                let mut stmt = tx.prepare_cached(
                                    "DELETE FROM messages WHERE owner = ?1 AND hash = ?2
                                     RETURNING namespace, hash, length(data), expiry",
                                )?;
                                collect_deleted(
                                    stmt.query(params![owner_id, hash.as_slice()])?,
                                    deleted,
                                )?;
                                Ok(())
                            },
                        )?;
                    }
                    // The owner named this hash: remember it even if it is not here yet.
                    None => {
                        self.delete_hashes(owner, std::slice::from_ref(&hash), Some(&proof))?;
                        let conn = self.lock()?;
                        conn.prepare_cached(
                            "INSERT OR IGNORE INTO tombstones (hash, expiry) VALUES (?1, ?2)",
                        )?
                        .execute(params![hash.as_slice(), to_i64(expiry)])?;
                    }
                }
                Ok(())
            }
            Admitted::Expire {
                hash,
                expiry,
                mode,
                proof,
            } => self
                .expire(
                    owner,
                    std::slice::from_ref(&hash),
                    expiry,
                    mode,
                    now,
                    Some(&proof),
                )
                .map(|_| ()),
            Admitted::Revocation {
                token,
                revoked,
                timestamp,
                proof,
            } => self
                .set_revocations(owner, &[token], revoked, timestamp, Some(&proof))
                .map(|_| ()),
        }
    }

    /// How far this node has pulled `peer`'s journal.
    pub fn cursor(&self, peer: &[u8; 32]) -> Result<i64, StorageError> {
        let conn = self.lock()?;
        let cursor = conn
            .prepare_cached("SELECT cursor FROM peer_cursors WHERE peer = ?1")?
            .query_row([peer.as_slice()], |row| row.get(0))
            .optional()?;
        Ok(cursor.unwrap_or(0))
    }

    /// Records how far this node has pulled `peer`'s journal.
    pub fn set_cursor(&self, peer: &[u8; 32], cursor: i64) -> Result<(), StorageError> {
        let conn = self.lock()?;
        conn.prepare_cached("INSERT OR REPLACE INTO peer_cursors (peer, cursor) VALUES (?1, ?2)")?
            .execute(params![peer.as_slice(), cursor])?;
        Ok(())
    }

    /// The owners this node holds messages or revocations for.
    pub fn owners(&self) -> Result<Vec<Owner>, StorageError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT pubkey FROM owners WHERE id IN (SELECT DISTINCT owner FROM messages)
             OR id IN (SELECT DISTINCT owner FROM revoked_subaccounts)",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            if let Ok(owner) = Owner::try_from(row.get::<_, Vec<u8>>(0)?) {
                out.push(owner);
            }
        }
        Ok(out)
    }

    /// Every unexpired message of an owner, in all namespaces.
    pub fn owner_messages(
        &self,
        owner: &Owner,
        now: u64,
    ) -> Result<Vec<StoredMessage>, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare_cached(
            "SELECT hash, namespace, timestamp, expiry, data, proof FROM messages
             WHERE owner = ?1 AND expiry > ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![owner_id, to_i64(now)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_message(row)?);
        }
        Ok(out)
    }

    /// Drops an owner's messages and revocations after they were handed to the swarm that now
    /// owns them (no tombstones: they live on there).
    pub fn hand_off(&self, owner: &Owner) -> Result<u64, StorageError> {
        let conn = self.lock()?;
        let Some(owner_id) = find_owner(&conn, owner)? else {
            return Ok(0);
        };
        conn.prepare_cached("DELETE FROM revoked_subaccounts WHERE owner = ?1")?
            .execute([owner_id])?;
        conn.prepare_cached("UPDATE owners SET inbox_count = 0, inbox_bytes = 0 WHERE id = ?1")?
            .execute([owner_id])?;
        let mut stmt =
            conn.prepare_cached("DELETE FROM messages WHERE owner = ?1 RETURNING length(data)")?;
        let mut rows = stmt.query([owner_id])?;
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some(row) = rows.next()? {
            count += 1;
            bytes += u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        }
        drop(rows);
        drop(stmt);
        self.forget(count, bytes);
        Ok(count)
    }

    fn forget(&self, count: u64, bytes: u64) {
        if count > 0 {
            self.count
                .fetch_sub(count.min(self.message_count()), Ordering::Relaxed);
            self.bytes
                .fetch_sub(bytes.min(self.message_bytes()), Ordering::Relaxed);
        }
    }
}

/// Journal operation codes.
const OP_STORE: i64 = 0;
const OP_DELETE: i64 = 1;
const OP_EXPIRE: i64 = 2;
const OP_REVOKE: i64 = 3;
const OP_UNREVOKE: i64 = 4;

/// Who hands a message to this node, which decides the checks its store gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The owner (or a delegate) signed the store: no quota applies.
    Owner,
    /// Anyone deposited it into a public inbox, at `now`: the account's quota and deposit
    /// rate apply.
    Deposit {
        /// The node's time, for the rate bucket.
        now: u64,
    },
    /// A swarm peer passed it on (catch-up or hand-over): range deletions apply, an outbox
    /// keeps its newest message, and a deposit counts against the quota (the member that took
    /// it from the client charged the rate).
    Peer,
}

/// A peer's change, checked against its proof (by [`crate::replica::admit`]) and ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// Store this message.
    Store(StoredMessage),
    /// Delete this message.
    Delete {
        /// Its hash.
        hash: Hash,
        /// How long to remember the deletion.
        expiry: u64,
        /// The owner's request.
        proof: String,
        /// For a range deletion, the range (namespace, up to timestamp); `None` when the owner
        /// named the hash itself.
        range: Option<(Option<i16>, u64)>,
    },
    /// Move this message's expiry.
    Expire {
        /// Its hash.
        hash: Hash,
        /// The new expiry.
        expiry: u64,
        /// How it may move.
        mode: ExpireMode,
        /// The owner's request.
        proof: String,
    },
    /// Revoke or allow again a subaccount token.
    Revocation {
        /// The token.
        token: Vec<u8>,
        /// Revoked or allowed.
        revoked: bool,
        /// The owner's signed timestamp.
        timestamp: u64,
        /// The owner's request.
        proof: String,
    },
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The account.
    pub owner: Owner,
    /// Its namespace.
    pub namespace: i16,
    /// Its hash.
    pub hash: Hash,
    /// The timestamp given at store time, Unix milliseconds.
    pub timestamp: u64,
    /// Expiry, Unix milliseconds.
    pub expiry: u64,
    /// The data.
    pub data: Vec<u8>,
    /// Whether it replaces the owner's other messages in the namespace.
    pub replace_namespace: bool,
    /// The owner's authorisation, kept with the message for swarm peers.
    pub proof: Option<String>,
    /// Who hands it to this node.
    pub source: Source,
}

/// Where a queued store's outcome is left for its caller.
type Outcome = Arc<Mutex<Option<Result<StoreOutcome, StorageError>>>>;

/// A store waiting for the next group commit.
struct QueuedStore {
    message: NewMessage,
    outcome: Outcome,
}

/// One store inside a group commit; returns the outcome and the messages it replaced (count,
/// bytes). `used` tracks the bytes in use as the batch proceeds.
fn store_one(
    tx: &Connection,
    store: &NewMessage,
    used: &mut u64,
    cap: u64,
    quota: &AccountQuota,
) -> Result<(StoreOutcome, u64, u64), StorageError> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM messages WHERE hash = ?1")?
        .query_row([store.hash.as_slice()], |_| Ok(()))
        .optional()?
        .is_some();
    let deleted = tx
        .prepare_cached("SELECT 1 FROM tombstones WHERE hash = ?1")?
        .query_row([store.hash.as_slice()], |_| Ok(()))
        .optional()?
        .is_some();
    if exists || deleted {
        return Ok((StoreOutcome::AlreadyStored, 0, 0));
    }
    if store.source == Source::Peer {
        if let Some(owner_id) = find_owner(tx, &store.owner)? {
            if range_deleted(tx, owner_id, store.namespace, store.timestamp)? {
                return Ok((StoreOutcome::AlreadyStored, 0, 0));
            }
        }
    }
    if used.saturating_add(store.data.len() as u64) > cap {
        return Err(StorageError::Full { used: *used, cap });
    }
    let owner_id = owner_id(tx, &store.owner)?;
    let inbox = crate::rpc::is_public_inbox(store.namespace);
    if inbox && store.proof.is_none() && store.source != Source::Owner {
        charge_deposit(tx, owner_id, store, quota)?;
    }
    let (mut removed_count, mut removed_bytes) = (0u64, 0u64);
    if store.replace_namespace {
        if store.source == Source::Peer {
            // Copies reach peers in any order: the newest message of an outbox wins.
            let newer = tx
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE owner = ?1 AND namespace = ?2 AND timestamp > ?3",
                )?
                .query_row(
                    params![owner_id, store.namespace, to_i64(store.timestamp)],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if newer {
                return Ok((StoreOutcome::AlreadyStored, 0, 0));
            }
        }
        let mut stmt = tx.prepare_cached(
            "DELETE FROM messages WHERE owner = ?1 AND namespace = ?2 RETURNING length(data)",
        )?;
        let mut rows = stmt.query(params![owner_id, store.namespace])?;
        while let Some(row) = rows.next()? {
            removed_count += 1;
            removed_bytes += u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        }
    }
    tx.prepare_cached(
        "INSERT INTO messages (owner, namespace, hash, timestamp, expiry, data, proof)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        owner_id,
        store.namespace,
        store.hash.as_slice(),
        to_i64(store.timestamp),
        to_i64(store.expiry),
        store.data,
        store.proof,
    ])?;
    if inbox {
        tx.prepare_cached(
            "UPDATE owners SET inbox_count = inbox_count + 1, inbox_bytes = inbox_bytes + ?2
             WHERE id = ?1",
        )?
        .execute(params![owner_id, to_i64(store.data.len() as u64)])?;
    }
    journal(tx, OP_STORE, owner_id, &store.hash, store.expiry, None)?;
    // Pages are what the cap counts; a 1 KiB message takes about its size plus index entries.
    *used = used.saturating_add(store.data.len() as u64);
    Ok((StoreOutcome::Stored, removed_count, removed_bytes))
}

/// Checks a deposit against the account's quota and, for a client's deposit, takes a token of
/// its rate bucket (kept in the owner's row, so a restart does not refill it).
fn charge_deposit(
    tx: &Connection,
    owner_id: i64,
    store: &NewMessage,
    quota: &AccountQuota,
) -> Result<(), StorageError> {
    let (count, bytes, tokens, updated): (i64, i64, Option<f64>, i64) = tx
        .prepare_cached(
            "SELECT inbox_count, inbox_bytes, deposit_tokens, deposit_updated
             FROM owners WHERE id = ?1",
        )?
        .query_row([owner_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    let (count, bytes) = (
        u64::try_from(count).unwrap_or(0),
        u64::try_from(bytes).unwrap_or(0),
    );
    if count >= quota.max_messages
        || bytes.saturating_add(store.data.len() as u64) > quota.max_bytes
    {
        return Err(StorageError::InboxFull {
            count,
            bytes,
            max_count: quota.max_messages,
            max_bytes: quota.max_bytes,
        });
    }
    let Source::Deposit { now } = store.source else {
        return Ok(());
    };
    let elapsed_secs = now.saturating_sub(u64::try_from(updated).unwrap_or(0)) as f64 / 1000.0;
    let available = (tokens.unwrap_or(quota.deposit_burst)
        + elapsed_secs * quota.deposits_per_second)
        .min(quota.deposit_burst);
    if available < 1.0 {
        return Err(StorageError::DepositRate {
            per_second: quota.deposits_per_second,
        });
    }
    tx.prepare_cached("UPDATE owners SET deposit_tokens = ?2, deposit_updated = ?3 WHERE id = ?1")?
        .execute(params![owner_id, available - 1.0, to_i64(now)])?;
    Ok(())
}

/// Whether a message in `namespace` timestamped `timestamp` lies in a range the owner deleted.
fn range_deleted(
    conn: &Connection,
    owner_id: i64,
    namespace: i16,
    timestamp: u64,
) -> Result<bool, StorageError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM range_tombstones WHERE owner = ?1 AND namespace IN (?2, ?3)
             AND up_to >= ?4 LIMIT 1",
        )?
        .query_row(
            params![owner_id, namespace, ALL_NAMESPACES, to_i64(timestamp)],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Takes deleted public-inbox rows off the owner's inbox counters.
fn uncount_inbox(
    conn: &Connection,
    owner_id: i64,
    deleted: &[Deleted],
) -> Result<(), StorageError> {
    let (count, bytes) = deleted
        .iter()
        .filter(|row| crate::rpc::is_public_inbox(row.namespace))
        .fold((0i64, 0i64), |(c, b), row| (c + 1, b + to_i64(row.bytes)));
    if count > 0 {
        subtract_inbox(conn, owner_id, count, bytes)?;
    }
    Ok(())
}

/// Takes `count` messages of `bytes` off an owner's inbox counters.
fn subtract_inbox(
    conn: &Connection,
    owner_id: i64,
    count: i64,
    bytes: i64,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "UPDATE owners SET inbox_count = max(inbox_count - ?2, 0),
         inbox_bytes = max(inbox_bytes - ?3, 0) WHERE id = ?1",
    )?
    .execute(params![owner_id, count, bytes])?;
    Ok(())
}

fn journal(
    conn: &Connection,
    op: i64,
    owner_id: i64,
    hash: &Hash,
    expiry: u64,
    proof: Option<&str>,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT INTO journal (op, owner, hash, expiry, proof) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        op,
        owner_id,
        hash.as_slice(),
        to_i64(expiry),
        proof
    ])?;
    Ok(())
}

fn used_bytes(conn: &Connection) -> Result<u64, StorageError> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
}

fn find_owner(conn: &Connection, owner: &Owner) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT id FROM owners WHERE pubkey = ?1")?
        .query_row([owner.as_slice()], |row| row.get(0))
        .optional()?)
}

fn owner_id(conn: &Connection, owner: &Owner) -> Result<i64, StorageError> {
    if let Some(id) = find_owner(conn, owner)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO owners (pubkey) VALUES (?1)")?
        .execute([owner.as_slice()])?;
    Ok(conn.last_insert_rowid())
}

/// Reads `namespace, hash, length(data), expiry` rows of a delete.
fn collect_deleted(
    mut rows: rusqlite::Rows<'_>,
    out: &mut Vec<Deleted>,
) -> Result<(), StorageError> {
    while let Some(row) = rows.next()? {
        out.push(Deleted {
            namespace: row.get(0)?,
            hash: blob32(row, 1)?,
            bytes: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
            expiry: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        });
    }
    Ok(())
}

/// A row removed by a delete.
struct Deleted {
    namespace: i16,
    hash: Hash,
    bytes: u64,
    expiry: u64,
}

fn read_message(row: &rusqlite::Row<'_>) -> Result<StoredMessage, StorageError> {
    Ok(StoredMessage {
        hash: blob32(row, 0)?,
        namespace: row.get(1)?,
        timestamp: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        expiry: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        data: row.get(4)?,
        proof: row.get(5)?,
    })
}

fn blob32(row: &rusqlite::Row<'_>, index: usize) -> Result<Hash, StorageError> {
    let bytes: Vec<u8> = row.get(index)?;
    bytes.try_into().map_err(|v: Vec<u8>| {
        StorageError::Database(rusqlite::Error::InvalidColumnType(
            index,
            format!("hash of {} bytes", v.len()),
            rusqlite::types::Type::Blob,
        ))
    })
}

/// Times and expiries are stored as SQLite integers; values past `i64::MAX` saturate.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// What one message counts against a `retrieve`'s size limit, as the reference counts it: a
/// fixed 100 bytes of overhead, the 43-character hash and the data as base64 (`len * 4 / 3`).
pub fn retrieve_cost(data_len: usize) -> usize {
    100 + 43 + data_len.saturating_mul(4) / 3
}

#[cfg(test)]
mod test {
    use super::*;

    fn open() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            Storage::open(&dir.path().join("db.sqlite"), 1 << 30, Durability::Normal).unwrap();
        (dir, storage)
    }

    const ALICE: Owner = [5; 33];
    const BOB: Owner = [6; 33];

    #[test]
    fn store_is_idempotent_and_retrieve_pages() {
        let (_dir, s) = open();
        for i in 0..5u8 {
            let outcome = s
                .store(&ALICE, 0, &[i; 32], 100, 1000, &[i; 10], false)
                .unwrap();
            assert_eq!(outcome, StoreOutcome::Stored);
        }
        assert_eq!(
            s.store(&ALICE, 0, &[0; 32], 100, 1000, &[0; 10], false)
                .unwrap(),
            StoreOutcome::AlreadyStored
        );
        assert_eq!(s.message_count(), 5);
        let (page, more) = s.retrieve(&ALICE, 0, None, 2, usize::MAX, 500).unwrap();
        assert_eq!(page.len(), 2);
        assert!(more);
        let (rest, more) = s
            .retrieve(&ALICE, 0, Some(&page[1].hash), 10, usize::MAX, 500)
            .unwrap();
        assert_eq!(
            rest.iter().map(|m| m.hash[0]).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert!(!more);
        // Byte limits still return at least one message.
        let (one, more) = s.retrieve(&ALICE, 0, None, 10, 1, 500).unwrap();
        assert_eq!((one.len(), more), (1, true));
        // Other owners and namespaces are separate; expired messages are hidden.
        assert!(s
            .retrieve(&BOB, 0, None, 10, usize::MAX, 500)
            .unwrap()
            .0
            .is_empty());
        assert!(s
            .retrieve(&ALICE, 1, None, 10, usize::MAX, 500)
            .unwrap()
            .0
            .is_empty());
        assert!(s
            .retrieve(&ALICE, 0, None, 10, usize::MAX, 1000)
            .unwrap()
            .0
            .is_empty());
    }

    #[test]
    fn concurrent_stores_are_group_committed_with_exact_outcomes() {
        let (_dir, s) = open();
        let s = Arc::new(s);
        // 8 threads store 100 hashes each; every hash is stored by two threads.
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..100u8)
                        .map(|i| {
                            let hash = [
                                t / 2,
                                i,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                1,
                            ];
                            s.store(&ALICE, 0, &hash, 1, 1000, &[t; 16], false).unwrap()
                        })
                        .filter(|o| *o == StoreOutcome::Stored)
                        .count()
                })
            })
            .collect();
        let stored: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(stored, 400, "each distinct hash stored exactly once");
        assert_eq!(s.message_count(), 400);
        let (all, _) = s.retrieve(&ALICE, 0, None, 1000, usize::MAX, 10).unwrap();
        assert_eq!(all.len(), 400);

        // One batch with a duplicate inside and a message too large for the cap.
        let (_dir2, small) = {
            let dir = tempfile::tempdir().unwrap();
            let s = Storage::open(&dir.path().join("db.sqlite"), 64 * 1024, Durability::Normal)
                .unwrap();
            (dir, s)
        };
        let message = |hash: u8, len: usize| NewMessage {
            owner: BOB,
            namespace: 0,
            hash: [hash; 32],
            timestamp: 1,
            expiry: 1000,
            data: vec![7; len],
            replace_namespace: false,
            proof: None,
            source: Source::Owner,
        };
        let outcomes = small
            .store_many(vec![
                message(1, 10),
                message(1, 10),
                message(2, 1 << 20),
                message(3, 10),
            ])
            .unwrap();
        assert!(matches!(outcomes[0], Ok(StoreOutcome::Stored)));
        assert!(matches!(outcomes[1], Ok(StoreOutcome::AlreadyStored)));
        assert!(matches!(outcomes[2], Err(StorageError::Full { .. })));
        assert!(matches!(outcomes[3], Ok(StoreOutcome::Stored)));
        assert_eq!(small.message_count(), 2);
    }

    #[test]
    fn an_account_is_forgotten_with_its_last_message() {
        let (_dir, s) = open();
        s.store(&ALICE, 0, &[1; 32], 100, 1000, b"a", false)
            .unwrap();
        s.store(&BOB, 0, &[2; 32], 100, 5000, b"b", false).unwrap();
        let owners = |s: &Storage| {
            let conn = s.lock().unwrap();
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM owners", [], |r| r.get(0))
                .unwrap();
            n
        };
        assert_eq!(owners(&s), 2);
        s.sweep_expired(1000).unwrap();
        assert_eq!(owners(&s), 1, "Alice's only message expired");
        assert_eq!(s.owners().unwrap(), vec![BOB]);
        s.sweep_expired(5000).unwrap();
        assert_eq!(owners(&s), 0);
        // A forgotten account can receive again.
        s.store(&ALICE, 0, &[3; 32], 6000, 9000, b"c", false)
            .unwrap();
        assert_eq!(
            s.retrieve(&ALICE, 0, None, 10, usize::MAX, 6000)
                .unwrap()
                .0
                .len(),
            1
        );
    }

    #[test]
    fn deletes_expiries_and_sweeps() {
        let (_dir, s) = open();
        for i in 0..4u8 {
            s.store(
                &ALICE,
                i16::from(i % 2),
                &[i; 32],
                u64::from(i) * 10,
                1000,
                b"x",
                false,
            )
            .unwrap();
        }
        assert_eq!(
            s.delete_hashes(&BOB, &[[0; 32]], None).unwrap(),
            Vec::<Hash>::new()
        );
        assert_eq!(
            s.delete_hashes(&ALICE, &[[0; 32], [9; 32]], None).unwrap(),
            vec![[0; 32]]
        );
        assert_eq!(
            s.delete_before(&ALICE, Some(1), 10, None).unwrap(),
            vec![(1, [1; 32])]
        );
        let out = s
            .expire(
                &ALICE,
                &[[2; 32], [3; 32]],
                2000,
                ExpireMode::Shorten,
                0,
                None,
            )
            .unwrap();
        assert!(out.updated.is_empty());
        assert_eq!(out.unchanged.len(), 2);
        let out = s
            .expire(&ALICE, &[[2; 32]], 2000, ExpireMode::Extend, 0, None)
            .unwrap();
        assert_eq!(out.updated, vec![[2; 32]]);
        assert_eq!(
            s.get_expiries(&ALICE, &[[2; 32], [3; 32]], 0).unwrap(),
            vec![([2; 32], 2000), ([3; 32], 1000)]
        );
        assert_eq!(
            s.expire_all(&ALICE, None, 1500, None).unwrap(),
            vec![(0, [2; 32])]
        );
        assert_eq!(s.sweep_expired(1000).unwrap(), 1);
        assert_eq!(s.message_count(), 1);
        assert_eq!(
            s.delete_all(&ALICE, None, u64::MAX, None).unwrap(),
            vec![(0, [2; 32])]
        );
        assert_eq!(s.message_count(), 0);
        assert_eq!(s.message_bytes(), 0);
    }

    #[test]
    fn cap_refuses_new_data() {
        let dir = tempfile::tempdir().unwrap();
        let s =
            Storage::open(&dir.path().join("db.sqlite"), 64 * 1024, Durability::Normal).unwrap();
        let mut full = false;
        for i in 0..200u32 {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_le_bytes());
            match s.store(&ALICE, 0, &hash, 1, 1000, &[1; 2000], false) {
                Ok(_) => {}
                Err(StorageError::Full { .. }) => {
                    full = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(full);
        // What was stored is still there.
        assert!(s.message_count() > 0);
        let (all, _) = s.retrieve(&ALICE, 0, None, 1000, usize::MAX, 0).unwrap();
        assert_eq!(all.len() as u64, s.message_count());
    }

    #[test]
    fn journal_records_every_change_and_peers_converge() {
        let (_dir, a) = open();
        let (_dir2, b) = open();
        a.store(&ALICE, 0, &[1; 32], 1, 1000, b"one", false)
            .unwrap();
        a.store(&ALICE, 0, &[2; 32], 2, 1000, b"two", false)
            .unwrap();
        a.store(&ALICE, -1, &[3; 32], 3, 1000, b"outbox", true)
            .unwrap();
        a.store(&ALICE, -1, &[4; 32], 4, 1000, b"outbox 2", true)
            .unwrap();
        a.delete_hashes(&ALICE, &[[1; 32]], Some("delete 1"))
            .unwrap();
        a.expire(
            &ALICE,
            &[[2; 32]],
            900,
            ExpireMode::Set,
            0,
            Some("expire 2"),
        )
        .unwrap();
        let (entries, more) = a.changes_after(0, 100).unwrap();
        assert!(!more);
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| match e.change {
                Change::Store(_) => "store",
                Change::Delete { .. } => "delete",
                Change::Expire { .. } => "expire",
                Change::Revocation { .. } => "revocation",
                Change::Skip => "skip",
            })
            .collect();
        // The first store and the first outbox message are gone, so their stores are skipped;
        // the outbox replacement is not journalled (a peer's copy of the newer message
        // replaces the older one there too).
        assert_eq!(
            kinds,
            ["skip", "store", "skip", "store", "delete", "expire"]
        );
        // Deletes and expiries carry the owner's request.
        assert!(
            matches!(&entries[4].change, Change::Delete { proof: Some(p), .. } if p == "delete 1")
        );
        assert!(
            matches!(&entries[5].change, Change::Expire { proof: Some(p), .. } if p == "expire 2")
        );
        // Paging.
        let (page, more) = a.changes_after(0, 3).unwrap();
        assert_eq!((page.len(), more), (3, true));
        assert!(a.changes_after(page[2].id, 100).unwrap().0.len() == 3);

        // A peer applying the journal ends identical, and stays so when it sees it twice.
        for _ in 0..2 {
            for entry in &entries {
                if let Some(change) = trusted(&entry.change) {
                    b.apply(&entry.owner, change, 0).unwrap();
                }
            }
        }
        let mine = |s: &Storage, ns| s.retrieve(&ALICE, ns, None, 10, usize::MAX, 0).unwrap().0;
        assert_eq!(mine(&a, 0), mine(&b, 0));
        assert_eq!(mine(&a, -1), mine(&b, -1));
        // A deleted message arriving late is not stored again.
        b.apply(
            &ALICE,
            Admitted::Store(StoredMessage {
                hash: [1; 32],
                namespace: 0,
                timestamp: 1,
                expiry: 1000,
                data: b"one".to_vec(),
                proof: None,
            }),
            0,
        )
        .unwrap();
        assert_eq!(mine(&b, 0).len(), 1);
        // An older outbox message arriving after a newer one does not replace it.
        b.apply(
            &ALICE,
            Admitted::Store(StoredMessage {
                hash: [3; 32],
                namespace: -1,
                timestamp: 3,
                expiry: 1000,
                data: b"outbox".to_vec(),
                proof: None,
            }),
            0,
        )
        .unwrap();
        assert_eq!(mine(&b, -1), mine(&a, -1));
        // Re-applying an expiry it already has journals nothing new (peers come to rest).
        let before = b.changes_after(0, 100).unwrap().0.len();
        b.apply(
            &ALICE,
            Admitted::Expire {
                hash: [2; 32],
                expiry: 900,
                mode: ExpireMode::Set,
                proof: "expire 2".into(),
            },
            0,
        )
        .unwrap();
        assert_eq!(b.changes_after(0, 100).unwrap().0.len(), before);
    }

    /// A journal entry as a change to apply, without the proof checks of `replica::admit`
    /// (which has tests of its own): for the storage layer alone.
    fn trusted(change: &Change) -> Option<Admitted> {
        Some(match change.clone() {
            Change::Store(m) => Admitted::Store(m),
            Change::Delete {
                hash,
                expiry,
                proof,
            } => Admitted::Delete {
                hash,
                expiry,
                proof: proof.unwrap_or_default(),
                range: None,
            },
            Change::Expire {
                hash,
                expiry,
                proof,
            } => Admitted::Expire {
                hash,
                expiry,
                mode: ExpireMode::Set,
                proof: proof.unwrap_or_default(),
            },
            Change::Revocation { .. } | Change::Skip => return None,
        })
    }

    #[test]
    fn range_deletions_outlive_late_copies_and_quotas_hold() {
        let (_dir, s) = open();
        s.store(&ALICE, 0, &[1; 32], 100, 100_000, b"old", false)
            .unwrap();
        assert_eq!(
            s.delete_all(&ALICE, Some(0), 150, Some("delete_all"))
                .unwrap(),
            vec![(0, [1; 32])]
        );
        let late = |hash: u8, timestamp: u64| NewMessage {
            owner: ALICE,
            namespace: 0,
            hash: [hash; 32],
            timestamp,
            expiry: 100_000,
            data: b"late".to_vec(),
            replace_namespace: false,
            proof: None,
            source: Source::Peer,
        };
        // A peer's copy from inside the deleted range is dropped; a newer one is kept.
        let outcomes = s.store_many(vec![late(2, 140), late(3, 160)]).unwrap();
        assert!(matches!(outcomes[0], Ok(StoreOutcome::AlreadyStored)));
        assert!(matches!(outcomes[1], Ok(StoreOutcome::Stored)));
        assert!(s.range_deleted(&ALICE, 0, 150).unwrap());
        assert!(!s.range_deleted(&ALICE, 0, 151).unwrap());

        // Deposits stop at the quota; the owner's own signed writes and other accounts do not.
        let dir = tempfile::tempdir().unwrap();
        let q = Storage::open(&dir.path().join("q.sqlite"), 1 << 30, Durability::Normal)
            .unwrap()
            .with_quota(AccountQuota {
                max_messages: 3,
                max_bytes: 1 << 20,
                deposits_per_second: 1000.0,
                deposit_burst: 1000.0,
            });
        let deposit = |owner: Owner, hash: u8, source: Source| NewMessage {
            owner,
            namespace: 0,
            hash: [hash; 32],
            timestamp: 1,
            expiry: 100_000,
            data: vec![hash; 100],
            replace_namespace: false,
            proof: None,
            source,
        };
        let now = Source::Deposit { now: 1 };
        let outcomes = q
            .store_many((1..=4).map(|i| deposit(ALICE, i, now)).collect())
            .unwrap();
        assert!(outcomes[..3]
            .iter()
            .all(|o| matches!(o, Ok(StoreOutcome::Stored))));
        assert!(matches!(
            outcomes[3],
            Err(StorageError::InboxFull { count: 3, .. })
        ));
        assert!(matches!(
            q.store_many(vec![deposit(ALICE, 5, Source::Peer)]).unwrap()[0],
            Err(StorageError::InboxFull { .. })
        ));
        assert!(matches!(
            q.store_many(vec![deposit(ALICE, 6, Source::Owner)])
                .unwrap()[0],
            Ok(StoreOutcome::Stored)
        ));
        assert!(matches!(
            q.store_many(vec![deposit(BOB, 7, now)]).unwrap()[0],
            Ok(StoreOutcome::Stored)
        ));
        // Deleting makes room again (the owner's own message counts as held too).
        q.delete_hashes(&ALICE, &[[1; 32], [6; 32]], None).unwrap();
        assert!(matches!(
            q.store_many(vec![deposit(ALICE, 8, now)]).unwrap()[0],
            Ok(StoreOutcome::Stored)
        ));
        // The rate: a burst of 2 at 1 a second.
        let dir = tempfile::tempdir().unwrap();
        let r = Storage::open(&dir.path().join("r.sqlite"), 1 << 30, Durability::Normal)
            .unwrap()
            .with_quota(AccountQuota {
                max_messages: 100,
                max_bytes: 1 << 20,
                deposits_per_second: 1.0,
                deposit_burst: 2.0,
            });
        let at = |hash: u8, now: u64| deposit(ALICE, hash, Source::Deposit { now });
        let outcomes = r
            .store_many(vec![at(1, 1000), at(2, 1000), at(3, 1000)])
            .unwrap();
        assert!(matches!(outcomes[2], Err(StorageError::DepositRate { .. })));
        assert!(matches!(
            r.store_many(vec![at(4, 2100)]).unwrap()[0],
            Ok(StoreOutcome::Stored)
        ));
    }

    #[test]
    fn outbox_replacement_and_revocation() {
        let (_dir, s) = open();
        s.store(&ALICE, -1, &[1; 32], 1, 1000, b"old", true)
            .unwrap();
        s.store(&ALICE, -1, &[2; 32], 2, 1000, b"new", true)
            .unwrap();
        let (all, _) = s.retrieve(&ALICE, -1, None, 10, usize::MAX, 0).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].data, b"new");
        assert_eq!(s.message_count(), 1);

        let token = vec![3u8; 36];
        assert!(!s.is_revoked(&ALICE, &token).unwrap());
        assert_eq!(
            s.set_revocations(&ALICE, &[token.clone(), token.clone()], true, 10, None)
                .unwrap(),
            1
        );
        assert!(s.is_revoked(&ALICE, &token).unwrap());
        assert_eq!(s.revoked_at(&ALICE, &token).unwrap(), Some(10));
        assert!(!s.is_revoked(&BOB, &token).unwrap());
        let one = std::slice::from_ref(&token);
        assert_eq!(s.set_revocations(&ALICE, one, false, 20, None).unwrap(), 1);
        assert!(!s.is_revoked(&ALICE, &token).unwrap());
        // An older change arriving late (from a peer) does not undo a newer one.
        assert_eq!(s.set_revocations(&ALICE, one, true, 15, None).unwrap(), 0);
        assert!(!s.is_revoked(&ALICE, &token).unwrap());
        // Only the latest change of a token stays in the journal.
        assert_eq!(
            s.set_revocations(&ALICE, one, true, 30, Some("r")).unwrap(),
            1
        );
        let revocations = s.owner_revocations(&ALICE).unwrap();
        assert_eq!(
            revocations,
            vec![Change::Revocation {
                token: token.clone(),
                revoked: true,
                proof: Some("r".into())
            }]
        );
    }
}
