//! The local tables of groups v2: the groups the user is in or invited to, the keys it holds,
//! the member list as the admins last published it, group messages, and poll positions in the
//! group swarms. They live in the message database (encrypted with it); [`migrate`] creates them.

use rusqlite::{params, Connection, OptionalExtension as _};
use session_crypto::group_keys::{GroupId, GroupKey};
use session_crypto::AccountId;

use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    seed BLOB,
    auth_data BLOB,
    invite_ms INTEGER NOT NULL DEFAULT 0,
    changed_ms INTEGER NOT NULL DEFAULT 0,
    info_seqno INTEGER NOT NULL DEFAULT 0,
    members_seqno INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS group_keys (
    group_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    key BLOB NOT NULL,
    made_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, generation, key)
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    state TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, account_id)
);
CREATE TABLE IF NOT EXISTS group_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    sender TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    received_ms INTEGER,
    body TEXT NOT NULL,
    display_name TEXT,
    UNIQUE (group_id, hash)
);
CREATE TABLE IF NOT EXISTS group_pending (
    group_id TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    hash TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (group_id, hash)
);
CREATE TABLE IF NOT EXISTS group_seen (
    group_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (group_id, hash)
);
CREATE TABLE IF NOT EXISTS group_positions (
    swarm TEXT NOT NULL,
    node TEXT NOT NULL,
    namespace INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (swarm, node, namespace)
);
";

/// Creates the group tables (called when the message database opens).
pub(crate) fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch(SCHEMA)
}

/// Where the user stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// Invited, not yet accepted.
    Invited,
    /// A member.
    Joined,
    /// The user declined the invitation.
    Declined,
    /// The user left.
    Left,
    /// An admin removed the user.
    Removed,
    /// An admin deleted the group.
    Deleted,
}

impl GroupState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Joined => "joined",
            Self::Declined => "declined",
            Self::Left => "left",
            Self::Removed => "removed",
            Self::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "joined" => Self::Joined,
            "declined" => Self::Declined,
            "left" => Self::Left,
            "removed" => Self::Removed,
            "deleted" => Self::Deleted,
            _ => Self::Invited,
        }
    }

    /// Whether the group is still polled and written to.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Joined)
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's state in the group's member list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberState {
    /// Invited by an admin; has not accepted yet.
    Invited,
    /// Accepted.
    Joined,
    /// Removed by an admin (or left).
    Removed,
}

impl MemberState {
    /// The number used in the published member list.
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Invited => 0,
            Self::Joined => 1,
            Self::Removed => 2,
        }
    }

    /// The state of a published code.
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Invited),
            1 => Some(Self::Joined),
            2 => Some(Self::Removed),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Joined => "joined",
            Self::Removed => "removed",
        }
    }
}

impl std::fmt::Display for MemberState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member.
    pub account_id: AccountId,
    /// Invited, joined or removed.
    pub state: MemberState,
    /// Whether the member holds the group's key (may change membership).
    pub admin: bool,
}

/// A group as the user holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group's ID.
    pub id: GroupId,
    /// Its name (from the network: inert text, neutralise before showing).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Where the user stands.
    pub state: GroupState,
    /// Whether the user is an admin (holds the seed).
    pub admin: bool,
}

/// A message of a group conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    /// Local id.
    pub id: i64,
    /// The group.
    pub group: GroupId,
    /// The swarm hash (what makes it unique).
    pub hash: String,
    /// The sender.
    pub sender: AccountId,
    /// Whether the user sent it.
    pub outgoing: bool,
    /// The sender's timestamp, Unix milliseconds.
    pub sent_ms: u64,
    /// The text.
    pub text: String,
    /// The display name the sender gave.
    pub display_name: Option<String>,
}

/// A group row as stored (with its secrets).
pub(crate) struct GroupRow {
    pub(crate) summary: GroupSummary,
    pub(crate) seed: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub(crate) auth_data: Option<Vec<u8>>,
    pub(crate) invite_ms: u64,
    pub(crate) changed_ms: u64,
    pub(crate) info_seqno: u64,
    pub(crate) members_seqno: u64,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn parse_group(text: &str) -> Result<GroupId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Sqlite(rusqlite::Error::InvalidQuery))
}

fn parse_account(text: &str) -> Result<AccountId, StoreError> {
    text.parse().map_err(StoreError::BadAccountId)
}

/// Reads one group.
pub(crate) fn group(conn: &Connection, id: &GroupId) -> Result<Option<GroupRow>, StoreError> {
    let row = conn
        .query_row(
            "SELECT name, description, state, seed, auth_data, invite_ms, changed_ms,
                    info_seqno, members_seqno FROM groups WHERE id = ?1",
            params![id.to_string()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(
        |(name, description, state, seed, auth_data, invite, changed, info, members)| GroupRow {
            summary: GroupSummary {
                id: *id,
                name,
                description,
                state: GroupState::parse(&state),
                admin: seed.is_some(),
            },
            seed: seed.map(zeroize::Zeroizing::new),
            auth_data,
            invite_ms: u(invite),
            changed_ms: u(changed),
            info_seqno: u(info),
            members_seqno: u(members),
        },
    ))
}

/// Every group, by name.
pub(crate) fn groups(conn: &Connection) -> Result<Vec<GroupSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, description, state, seed IS NOT NULL FROM groups ORDER BY name, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, description, state, admin) = row?;
        out.push(GroupSummary {
            id: parse_group(&id)?,
            name,
            description,
            state: GroupState::parse(&state),
            admin,
        });
    }
    Ok(out)
}

/// Inserts a group the user created or was invited to (an existing row is left alone).
pub(crate) fn insert_group(
    conn: &Connection,
    id: &GroupId,
    name: &str,
    state: GroupState,
    invite_ms: u64,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO groups (id, name, state, invite_ms, changed_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![id.to_string(), name, state.as_str(), i(invite_ms)],
    )? == 1)
}

/// Sets the user's state in a group, and when it changed.
pub(crate) fn set_state(
    conn: &Connection,
    id: &GroupId,
    state: GroupState,
    now_ms: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE groups SET state = ?2, changed_ms = ?3 WHERE id = ?1",
        params![id.to_string(), state.as_str(), i(now_ms)],
    )?;
    Ok(())
}

/// Records an invitation's authentication data and time.
pub(crate) fn set_invite(
    conn: &Connection,
    id: &GroupId,
    name: &str,
    auth_data: &[u8],
    invite_ms: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE groups SET auth_data = ?2, invite_ms = ?3, name = ?4 WHERE id = ?1",
        params![id.to_string(), auth_data, i(invite_ms), name],
    )?;
    Ok(())
}

/// Stores the group's seed (the user is an admin).
pub(crate) fn set_seed(conn: &Connection, id: &GroupId, seed: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE groups SET seed = ?2 WHERE id = ?1",
        params![id.to_string(), seed],
    )?;
    Ok(())
}

/// Sets the name and description, with the published info's sequence number.
pub(crate) fn set_info(
    conn: &Connection,
    id: &GroupId,
    name: &str,
    description: &str,
    seqno: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE groups SET name = ?2, description = ?3, info_seqno = ?4 WHERE id = ?1",
        params![id.to_string(), name, description, i(seqno)],
    )?;
    Ok(())
}

/// Replaces the member list with a published one of sequence number `seqno`.
pub(crate) fn set_members(
    conn: &mut Connection,
    id: &GroupId,
    members: &[GroupMember],
    seqno: u64,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM group_members WHERE group_id = ?1",
        params![id.to_string()],
    )?;
    for m in members {
        tx.execute(
            "INSERT OR REPLACE INTO group_members (group_id, account_id, state, admin)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                id.to_string(),
                m.account_id.to_string(),
                m.state.as_str(),
                m.admin
            ],
        )?;
    }
    tx.execute(
        "UPDATE groups SET members_seqno = ?2 WHERE id = ?1",
        params![id.to_string(), i(seqno)],
    )?;
    tx.commit()?;
    Ok(())
}

/// The member list, by Account ID.
pub(crate) fn members(conn: &Connection, id: &GroupId) -> Result<Vec<GroupMember>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_id, state, admin FROM group_members WHERE group_id = ?1 ORDER BY account_id",
    )?;
    let rows = stmt.query_map(params![id.to_string()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (account, state, admin) = row?;
        let state = match state.as_str() {
            "joined" => MemberState::Joined,
            "removed" => MemberState::Removed,
            _ => MemberState::Invited,
        };
        out.push(GroupMember {
            account_id: parse_account(&account)?,
            state,
            admin,
        });
    }
    Ok(out)
}

/// Adds a key (known keys are kept once). Returns whether it was new.
pub(crate) fn add_key(
    conn: &Connection,
    id: &GroupId,
    key: &GroupKey,
    made_ms: u64,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO group_keys (group_id, generation, key, made_ms)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            id.to_string(),
            i(key.generation),
            key.bytes().as_slice(),
            i(made_ms)
        ],
    )? == 1)
}

/// The keys held, newest generation first, with the time each was made.
pub(crate) fn keys(conn: &Connection, id: &GroupId) -> Result<Vec<(GroupKey, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT generation, key, made_ms FROM group_keys WHERE group_id = ?1
         ORDER BY generation DESC, made_ms DESC",
    )?;
    let rows = stmt.query_map(params![id.to_string()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            zeroize::Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (generation, bytes, made) = row?;
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            out.push((GroupKey::new(u(generation), key), u(made)));
        }
    }
    Ok(out)
}

/// Files a group message (once per swarm hash). Returns it when it is new.
#[allow(clippy::too_many_arguments)]
pub(crate) fn file_message(
    conn: &Connection,
    id: &GroupId,
    hash: &str,
    sender: &AccountId,
    outgoing: bool,
    sent_ms: u64,
    now_ms: u64,
    text: &str,
    display_name: Option<&str>,
) -> Result<Option<GroupMessage>, StoreError> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO group_messages
         (group_id, hash, sender, outgoing, sent_ms, received_ms, body, display_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id.to_string(),
            hash,
            sender.to_string(),
            outgoing,
            i(sent_ms),
            i(now_ms),
            text,
            display_name
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    Ok(Some(GroupMessage {
        id: conn.last_insert_rowid(),
        group: *id,
        hash: hash.to_owned(),
        sender: *sender,
        outgoing,
        sent_ms,
        text: text.to_owned(),
        display_name: display_name.map(str::to_owned),
    }))
}

/// The group conversation: its newest `limit` messages, oldest first.
pub(crate) fn history(
    conn: &Connection,
    id: &GroupId,
    limit: usize,
) -> Result<Vec<GroupMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, hash, sender, outgoing, sent_ms, body, display_name FROM (
            SELECT * FROM group_messages WHERE group_id = ?1 ORDER BY sent_ms DESC, id DESC
            LIMIT ?2) ORDER BY sent_ms, id",
    )?;
    let rows = stmt.query_map(params![id.to_string(), i(limit as u64)], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mid, hash, sender, outgoing, sent, text, display_name) = row?;
        out.push(GroupMessage {
            id: mid,
            group: *id,
            hash,
            sender: parse_account(&sender)?,
            outgoing,
            sent_ms: u(sent),
            text,
            display_name,
        });
    }
    Ok(out)
}

/// Whether a swarm message was handled already (a control message applied, a config read).
pub(crate) fn mark_seen(conn: &Connection, id: &GroupId, hash: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO group_seen (group_id, hash) VALUES (?1, ?2)",
        params![id.to_string(), hash],
    )? == 1)
}

/// Keeps a message no held key opens yet, to try again when a key arrives.
pub(crate) fn add_pending(
    conn: &Connection,
    id: &GroupId,
    namespace: i16,
    hash: &str,
    data: &[u8],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO group_pending (group_id, namespace, hash, data)
         VALUES (?1, ?2, ?3, ?4)",
        params![id.to_string(), namespace, hash, data],
    )?;
    Ok(())
}

/// The messages waiting for a key.
pub(crate) fn pending(
    conn: &Connection,
    id: &GroupId,
) -> Result<Vec<(i16, String, Vec<u8>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT namespace, hash, data FROM group_pending WHERE group_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt.query_map(params![id.to_string()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Drops a message from the waiting list.
pub(crate) fn drop_pending(conn: &Connection, id: &GroupId, hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM group_pending WHERE group_id = ?1 AND hash = ?2",
        params![id.to_string(), hash],
    )?;
    Ok(())
}

/// Where polling of `node` stands in `namespace` of `swarm` (a group, or the user's inbox).
pub(crate) fn position(
    conn: &Connection,
    swarm: &str,
    node: &str,
    namespace: i16,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT last_hash FROM group_positions WHERE swarm = ?1 AND node = ?2 AND namespace = ?3",
            params![swarm, node, namespace],
            |r| r.get(0),
        )
        .optional()?)
}

/// Moves the poll position.
pub(crate) fn set_position(
    conn: &Connection,
    swarm: &str,
    node: &str,
    namespace: i16,
    last_hash: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO group_positions (swarm, node, namespace, last_hash) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (swarm, node, namespace) DO UPDATE SET last_hash = excluded.last_hash",
        params![swarm, node, namespace, last_hash],
    )?;
    Ok(())
}

/// Finds a group by ID or by name (exactly one).
pub(crate) fn find(conn: &Connection, who: &str) -> Result<Option<GroupId>, StoreError> {
    if let Ok(id) = who.parse::<GroupId>() {
        return Ok(Some(id));
    }
    let mut stmt = conn.prepare_cached("SELECT id FROM groups WHERE name = ?1")?;
    let ids: Vec<String> = stmt
        .query_map(params![who], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    match ids.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(parse_group(one)?)),
        _ => Err(StoreError::Ambiguous(who.to_owned())),
    }
}

impl crate::MessageStore {
    /// Finds a group by its ID or its name (offline: for commands that need no network).
    pub fn find_group(&self, who: &str) -> Result<Option<GroupId>, StoreError> {
        find(self.conn(), who)
    }

    /// Every group held, by name.
    pub fn groups(&self) -> Result<Vec<GroupSummary>, StoreError> {
        groups(self.conn())
    }

    /// A group conversation's newest `limit` messages, oldest first.
    pub fn group_history(
        &self,
        group: &GroupId,
        limit: usize,
    ) -> Result<Vec<GroupMessage>, StoreError> {
        history(self.conn(), group, limit)
    }

    /// A group's member list as last published.
    pub fn group_members(&self, group: &GroupId) -> Result<Vec<GroupMember>, StoreError> {
        members(self.conn(), group)
    }
}
