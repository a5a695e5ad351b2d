//! Closed groups (groups v2): create, invite, accept or decline, send and receive, promote,
//! remove (with a new key and the removed tokens revoked), leave, delete, rename, and the
//! member list with each member's state.
//!
//! Who may change what is decided by signatures, never by who says so: the member list and the
//! group's info are published by admins encrypted *and signed with the group's key* (a member's
//! forgery does not verify and is ignored), keys messages are signed by the group, and the nodes
//! refuse membership and key namespaces to anyone without the group's key.
//!
//! Every control message is idempotent, so repeating, reordering or replaying any of them
//! changes nothing (see [`GroupEvents`]): the member list and info carry sequence numbers and
//! only a newer one replaces what is held; an invitation replaces a left/declined/removed state
//! only if it is newer than that change; an invitee's acceptance moves an *invited* member to
//! *joined* and nothing else (it never brings back a removed member); a leave notice removes
//! only a member still in the list.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use session_crypto::bt::{self, BtValue, DictWriter};
use session_crypto::group_keys::{
    build_keys_message, build_supplement, parse_keys_message, GroupId, GroupIdentity, GroupKey,
};
use session_crypto::group_message::{decrypt_group_message, encrypt_for_group};
use session_crypto::group_subaccount::{make_subaccount, subaccount_token, Subaccount};
use session_crypto::{AccountId, CryptoError, Ed25519Seed, OsRng, RngCore as _};
use session_wire::group_update::{
    GroupContent, GroupUpdateInviteMessage, GroupUpdateInviteResponseMessage,
    GroupUpdateMemberLeftMessage, GroupUpdateMessage, GroupUpdatePromoteMessage,
};
use session_wire::padding::unpad;
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{message_hash, open_content, seal_content};
use zeroize::Zeroizing;

use crate::group_rpc::{
    self, Signer, GROUP_INFO_NAMESPACE, GROUP_KEYS_NAMESPACE, GROUP_MEMBERS_NAMESPACE,
    GROUP_MESSAGES_NAMESPACE, GROUP_REVOKED_NAMESPACE,
};
use crate::group_store::{
    self as db, GroupMember, GroupMessage, GroupRow, GroupState, GroupSummary, MemberState,
};
use crate::{ClientError, Messenger, MessengerError, StoreError, INBOX_NAMESPACE};

/// How long group configuration (keys, info, members) waits in the group's swarm: 30 days.
pub const GROUP_CONFIG_TTL_MS: u64 = 30 * 24 * 3600 * 1000;
/// Pages fetched from one namespace by one sync at most.
const MAX_PAGES: usize = 64;
/// The swarm name of the user's own inbox in the position table.
const INBOX_SWARM: &str = "inbox";

/// What can go wrong with a group.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The network or the local database failed.
    #[error(transparent)]
    Messenger(#[from] MessengerError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key or message could not be made.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// No group has that name or ID.
    #[error("no group named {0:?} (see `session group list`)")]
    UnknownGroup(String),
    /// Only an admin may do this.
    #[error("only an admin of the group may do this")]
    NotAdmin,
    /// The user is not (or no longer) a member.
    #[error("you are not a member of this group (you are {0})")]
    NotMember(GroupState),
    /// No key of the group is held yet (sync first).
    #[error("no key of this group is held yet; sync and try again")]
    NoKey,
    /// The swarm did not store it.
    #[error("no member of the group's swarm stored it")]
    NotStored,
}

impl From<ClientError> for GroupError {
    fn from(e: ClientError) -> Self {
        Self::Messenger(MessengerError::Network(e))
    }
}

/// What one group sync brought.
#[derive(Debug, Clone, Default)]
pub struct GroupSyncReport {
    /// New messages, oldest first.
    pub new: Vec<GroupMessage>,
    /// Invitations received (new or renewed).
    pub invites: Vec<GroupId>,
    /// Groups whose member list, info or keys changed.
    pub changed: Vec<GroupId>,
}

/// A control event, as applied by [`GroupEvents::apply`] (pure: no network), so that the
/// rules that make control messages idempotent can be tested on any interleaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// A member list published by an admin, with its sequence number.
    Members(u64, Vec<GroupMember>),
    /// An invitee's acceptance.
    Accepted(AccountId),
    /// A member's leave notice.
    Left(AccountId),
}

/// The admin-side state the control rules act on: the member list and its sequence number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupEvents {
    /// The sequence number of the member list held.
    pub seqno: u64,
    /// Members by Account ID.
    pub members: BTreeMap<String, GroupMember>,
}

impl GroupEvents {
    /// Applies one event. Returns whether the list changed (an admin then publishes it with
    /// the next sequence number).
    pub fn apply(&mut self, event: &GroupEvent) -> bool {
        match event {
            GroupEvent::Members(seqno, members) => {
                if *seqno <= self.seqno {
                    return false;
                }
                self.seqno = *seqno;
                self.members = members
                    .iter()
                    .map(|m| (m.account_id.to_string(), m.clone()))
                    .collect();
                true
            }
            GroupEvent::Accepted(who) => match self.members.get_mut(&who.to_string()) {
                Some(m) if m.state == MemberState::Invited => {
                    m.state = MemberState::Joined;
                    true
                }
                _ => false,
            },
            GroupEvent::Left(who) => match self.members.get_mut(&who.to_string()) {
                Some(m) if m.state != MemberState::Removed => {
                    m.state = MemberState::Removed;
                    m.admin = false;
                    true
                }
                _ => false,
            },
        }
    }
}

/// What an invitation does to the invitee's record of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    /// A group not known before: filed as invited.
    New,
    /// Still invited or joined: a newer invitation renews the token, nothing else.
    Renew,
    /// Declined, left or removed before, and this invitation is newer: invited again.
    Reinvite,
    /// A repeat or a replay: nothing changes.
    Ignore,
}

/// The effect of an invitation sent at `invite_ms` on a group held in `current` (state, time
/// of the last invitation, time of the last change of state).
pub fn invite_outcome(current: Option<(GroupState, u64, u64)>, invite_ms: u64) -> InviteOutcome {
    match current {
        None => InviteOutcome::New,
        Some((GroupState::Invited | GroupState::Joined, invited, _)) if invite_ms > invited => {
            InviteOutcome::Renew
        }
        Some((GroupState::Invited | GroupState::Joined, _, _)) => InviteOutcome::Ignore,
        Some((_, invited, changed)) if invite_ms > invited.max(changed) => InviteOutcome::Reinvite,
        Some(_) => InviteOutcome::Ignore,
    }
}

/// The string an admin signs to vouch for an invitation: `"INVITE" || invitee || timestamp`.
fn invite_signed_text(invitee: &AccountId, timestamp_ms: u64) -> Vec<u8> {
    format!("INVITE{invitee}{timestamp_ms}").into_bytes()
}

fn encode_members(seqno: u64, members: &[GroupMember]) -> Vec<u8> {
    let list = members
        .iter()
        .map(|m| {
            BtValue::List(vec![
                BtValue::Bytes(m.account_id.to_bytes33().to_vec()),
                BtValue::Int(m.state.code()),
                BtValue::Int(i64::from(m.admin)),
            ])
        })
        .collect();
    let mut dict = DictWriter::new();
    dict.int(b"#", i64::try_from(seqno).unwrap_or(i64::MAX))
        .entry(b"m", &BtValue::List(list));
    dict.finish()
}

fn decode_members(plain: &[u8]) -> Option<(u64, Vec<GroupMember>)> {
    let dict = bt::decode_dict(plain).ok()?;
    let seqno = u64::try_from(dict.get(b"#")?.as_int()?).ok()?;
    let mut members = Vec::new();
    for entry in dict.get(b"m")?.as_list()? {
        let [id, state, admin] = entry.as_list()? else {
            return None;
        };
        members.push(GroupMember {
            account_id: AccountId::from_bytes33(id.as_bytes()?).ok()?,
            state: MemberState::from_code(state.as_int()?)?,
            admin: admin.as_int()? == 1,
        });
    }
    Some((seqno, members))
}

fn encode_info(seqno: u64, name: &str, description: &str, deleted: bool) -> Vec<u8> {
    let mut dict = DictWriter::new();
    dict.int(b"#", i64::try_from(seqno).unwrap_or(i64::MAX))
        .bytes(b"d", description.as_bytes())
        .bytes(b"n", name.as_bytes())
        .int(b"x", i64::from(deleted));
    dict.finish()
}

fn decode_info(plain: &[u8]) -> Option<(u64, String, String, bool)> {
    let dict = bt::decode_dict(plain).ok()?;
    let seqno = u64::try_from(dict.get(b"#")?.as_int()?).ok()?;
    let text = |key: &[u8]| String::from_utf8(dict.bytes(key)?.to_vec()).ok();
    Some((
        seqno,
        text(b"n")?,
        text(b"d")?,
        dict.get(b"x")?.as_int()? == 1,
    ))
}

/// A removal notice (namespace -11): `{r: removed IDs, t: time, ~: group signature}`.
fn encode_removal(group: &GroupIdentity, removed: &[AccountId], now_ms: u64) -> Vec<u8> {
    let list = removed
        .iter()
        .map(|m| BtValue::Bytes(m.to_bytes33().to_vec()))
        .collect();
    let mut dict = DictWriter::new();
    dict.entry(b"r", &BtValue::List(list))
        .int(b"t", i64::try_from(now_ms).unwrap_or(i64::MAX));
    let signature = group.sign(dict.so_far());
    dict.bytes(b"~", &signature);
    dict.finish()
}

fn decode_removal(group: &GroupId, bytes: &[u8]) -> Option<(Vec<AccountId>, u64)> {
    let dict = bt::decode_dict(bytes).ok()?;
    let signature: [u8; 64] = dict.bytes(b"~")?.try_into().ok()?;
    let signed = bytes.get(..dict.offset_of(b"~")?)?;
    group.ed25519().verify(signed, &signature).ok()?;
    let removed = dict
        .get(b"r")?
        .as_list()?
        .iter()
        .filter_map(|v| AccountId::from_bytes33(v.as_bytes()?).ok())
        .collect();
    let t = u64::try_from(dict.get(b"t")?.as_int()?).ok()?;
    Some((removed, t))
}

impl Messenger {
    fn group_row(&self, group: &GroupId) -> Result<GroupRow, GroupError> {
        db::group(self.store().conn(), group)?
            .ok_or_else(|| GroupError::UnknownGroup(group.to_string()))
    }

    /// Finds a group by its ID or its name.
    pub fn find_group(&self, who: &str) -> Result<GroupId, GroupError> {
        db::find(self.store().conn(), who)?.ok_or_else(|| GroupError::UnknownGroup(who.into()))
    }

    /// The groups the user is in, was invited to, or left.
    pub fn groups(&self) -> Result<Vec<GroupSummary>, GroupError> {
        Ok(db::groups(self.store().conn())?)
    }

    /// One group.
    pub fn group(&self, group: &GroupId) -> Result<GroupSummary, GroupError> {
        Ok(self.group_row(group)?.summary)
    }

    /// The member list as last published by an admin (or as this admin keeps it).
    pub fn group_members(&self, group: &GroupId) -> Result<Vec<GroupMember>, GroupError> {
        Ok(db::members(self.store().conn(), group)?)
    }

    /// The group conversation's newest `limit` messages, oldest first.
    pub fn group_history(
        &self,
        group: &GroupId,
        limit: usize,
    ) -> Result<Vec<GroupMessage>, GroupError> {
        Ok(db::history(self.store().conn(), group, limit)?)
    }

    /// The keys held for the group, newest first (what a member can decrypt with).
    pub fn group_keys(&self, group: &GroupId) -> Result<Vec<GroupKey>, GroupError> {
        Ok(db::keys(self.store().conn(), group)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    fn signer(&self, row: &GroupRow) -> Result<Signer, GroupError> {
        if let Some(seed) = &row.seed {
            let bytes: [u8; 32] = seed
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::Malformed("group seed"))?;
            return Ok(Signer::Admin(Box::new(GroupIdentity::from_seed(
                Ed25519Seed::from_bytes(bytes),
            ))));
        }
        let auth = row
            .auth_data
            .as_deref()
            .ok_or(GroupError::NotMember(row.summary.state))?;
        Ok(Signer::Member(Subaccount::from_auth_data(
            &row.summary.id,
            self.keys(),
            auth,
        )?))
    }

    fn admin_signer(&self, row: &GroupRow) -> Result<Box<GroupIdentity>, GroupError> {
        match self.signer(row)? {
            Signer::Admin(identity) => Ok(identity),
            Signer::Member(_) => Err(GroupError::NotAdmin),
        }
    }

    /// Stores `data` in the group's `namespace`; returns its swarm hash.
    async fn group_put(
        &self,
        group: &GroupId,
        signer: &Signer,
        namespace: i16,
        data: &[u8],
        ttl: u64,
    ) -> Result<String, GroupError> {
        let routed = self
            .client()
            .request_routed(&group_rpc::swarm_route(group), |now, _| {
                Request::Store(group_rpc::store(
                    group,
                    signer,
                    self.keys(),
                    namespace,
                    data,
                    now,
                    ttl,
                ))
            })
            .await?;
        if stored_nowhere(&routed.body) {
            return Err(GroupError::NotStored);
        }
        Ok(message_hash(&group.to_bytes33(), namespace, data))
    }

    /// Everything new in the group's `namespace`, as `(hash, bytes)`, moving the per-node
    /// poll position after each page.
    async fn group_fetch(
        &self,
        swarm: &str,
        route: &AccountId,
        build: impl Fn(u64, Option<String>) -> RetrieveParams,
        namespace: i16,
    ) -> Result<Vec<(String, Vec<u8>)>, GroupError> {
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let routed = self
                .client()
                .request_routed(route, |now, node| {
                    let last =
                        db::position(self.store().conn(), swarm, &node.to_string(), namespace)
                            .ok()
                            .flatten();
                    Request::Retrieve(build(now, last))
                })
                .await?;
            let page: RetrieveResponse = serde_json::from_value(routed.body)
                .map_err(|e| MessengerError::BadAnswer(e.to_string()))?;
            for message in &page.messages {
                if let Ok(bytes) = STANDARD.decode(&message.data) {
                    out.push((message.hash.clone(), bytes));
                }
            }
            if let Some(last) = page.messages.last() {
                db::set_position(
                    self.store().conn(),
                    swarm,
                    &routed.route.destination.key.to_string(),
                    namespace,
                    &last.hash,
                )?;
            }
            if !page.more {
                break;
            }
        }
        Ok(out)
    }

    async fn group_fetch_ns(
        &self,
        group: &GroupId,
        signer: &Signer,
        namespace: i16,
    ) -> Result<Vec<(String, Vec<u8>)>, GroupError> {
        let swarm = group.to_string();
        self.group_fetch(
            &swarm,
            &group_rpc::swarm_route(group),
            |now, last| group_rpc::retrieve(group, signer, self.keys(), namespace, now, last),
            namespace,
        )
        .await
    }

    /// Sends a control message 1:1 to `to`.
    async fn send_control(
        &self,
        to: &AccountId,
        update: GroupUpdateMessage,
        timestamp_ms: u64,
    ) -> Result<(), GroupError> {
        let content = GroupContent::control(update, timestamp_ms).to_bytes();
        let payload = seal_content(self.keys(), to, &content, timestamp_ms, &mut OsRng)
            .map_err(MessengerError::from)?;
        let ttl = self.ttl_ms();
        let routed = self
            .client()
            .request_routed(to, |now, _| {
                Request::Store(StoreParams::deposit(
                    to,
                    INBOX_NAMESPACE,
                    &payload,
                    now,
                    ttl,
                ))
            })
            .await?;
        if stored_nowhere(&routed.body) {
            return Err(GroupError::NotStored);
        }
        Ok(())
    }

    /// Stores raw `data` in the group's `namespace`, signed as this user may sign (the group's
    /// key for an admin, the subaccount for a member): for tools and tests that check what the
    /// nodes refuse. Returns the swarm hash.
    pub async fn group_store_raw(
        &self,
        group: &GroupId,
        namespace: i16,
        data: &[u8],
    ) -> Result<String, GroupError> {
        let row = self.group_row(group)?;
        let signer = self.signer(&row)?;
        self.group_put(group, &signer, namespace, data, GROUP_CONFIG_TTL_MS)
            .await
    }

    /// Fetches `namespace` of the group from its first message (as this user signs), without
    /// filing anything: for tools and tests.
    pub async fn group_fetch_raw(
        &self,
        group: &GroupId,
        namespace: i16,
    ) -> Result<Vec<Vec<u8>>, GroupError> {
        let row = self.group_row(group)?;
        let signer = self.signer(&row)?;
        let routed = self
            .client()
            .request_routed(&group_rpc::swarm_route(group), |now, _| {
                Request::Retrieve(group_rpc::retrieve(
                    group,
                    &signer,
                    self.keys(),
                    namespace,
                    now,
                    None,
                ))
            })
            .await?;
        let page: RetrieveResponse = serde_json::from_value(routed.body)
            .map_err(|e| MessengerError::BadAnswer(e.to_string()))?;
        Ok(page
            .messages
            .iter()
            .filter_map(|m| STANDARD.decode(&m.data).ok())
            .collect())
    }

    /// Creates a group named `name` with the user as its only member and admin, and publishes
    /// its first key, info and member list to the group's swarm.
    pub async fn create_group(&self, name: &str, description: &str) -> Result<GroupId, GroupError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        let identity = GroupIdentity::from_seed(Ed25519Seed::from_bytes(*seed));
        let id = identity.id();
        let now = self.client().now_ms();
        let me = GroupMember {
            account_id: self.account_id(),
            state: MemberState::Joined,
            admin: true,
        };
        {
            let mut store = self.store();
            db::insert_group(store.conn(), &id, name, GroupState::Joined, now)?;
            db::set_seed(store.conn(), &id, seed.as_ref())?;
            db::set_info(store.conn(), &id, name, description, 0)?;
            db::set_members(store.conn_mut(), &id, &[me], 0)?;
        }
        let signer = Signer::Admin(Box::new(identity));
        self.rekey(&id, &signer).await?;
        self.publish_info(&id, &signer, false).await?;
        self.publish_members(&id, &signer).await?;
        Ok(id)
    }

    /// A new key for the members not removed, published in a keys message.
    async fn rekey(&self, group: &GroupId, signer: &Signer) -> Result<GroupKey, GroupError> {
        let identity = signer.admin().ok_or(GroupError::NotAdmin)?;
        let (generation, members) = {
            let store = self.store();
            let generation = db::keys(store.conn(), group)?
                .first()
                .map_or(0, |(k, _)| k.generation + 1);
            let members: Vec<AccountId> = db::members(store.conn(), group)?
                .into_iter()
                .filter(|m| m.state != MemberState::Removed)
                .map(|m| m.account_id)
                .collect();
            (generation, members)
        };
        let (message, key) = build_keys_message(identity, generation, &members)?;
        self.group_put(
            group,
            signer,
            GROUP_KEYS_NAMESPACE,
            &message,
            GROUP_CONFIG_TTL_MS,
        )
        .await?;
        db::add_key(self.store().conn(), group, &key, self.client().now_ms())?;
        Ok(key)
    }

    fn newest_key(&self, group: &GroupId) -> Result<GroupKey, GroupError> {
        db::keys(self.store().conn(), group)?
            .into_iter()
            .next()
            .map(|(k, _)| k)
            .ok_or(GroupError::NoKey)
    }

    /// Publishes the member list held, with the next sequence number, under the newest key.
    async fn publish_members(&self, group: &GroupId, signer: &Signer) -> Result<(), GroupError> {
        let identity = signer.admin().ok_or(GroupError::NotAdmin)?;
        let (seqno, members) = {
            let store = self.store();
            let row = db::group(store.conn(), group)?
                .ok_or_else(|| GroupError::UnknownGroup(group.to_string()))?;
            (row.members_seqno + 1, db::members(store.conn(), group)?)
        };
        let key = self.newest_key(group)?;
        let plain = encode_members(seqno, &members);
        let data = encrypt_for_group(identity.key_pair(), group, &key, &plain, true, &mut OsRng)?;
        self.group_put(
            group,
            signer,
            GROUP_MEMBERS_NAMESPACE,
            &data,
            GROUP_CONFIG_TTL_MS,
        )
        .await?;
        db::set_members(self.store().conn_mut(), group, &members, seqno)?;
        Ok(())
    }

    /// Publishes the group's info held, with the next sequence number.
    async fn publish_info(
        &self,
        group: &GroupId,
        signer: &Signer,
        deleted: bool,
    ) -> Result<(), GroupError> {
        let identity = signer.admin().ok_or(GroupError::NotAdmin)?;
        let row = self.group_row(group)?;
        let seqno = row.info_seqno + 1;
        let key = self.newest_key(group)?;
        let plain = encode_info(seqno, &row.summary.name, &row.summary.description, deleted);
        let data = encrypt_for_group(identity.key_pair(), group, &key, &plain, true, &mut OsRng)?;
        self.group_put(
            group,
            signer,
            GROUP_INFO_NAMESPACE,
            &data,
            GROUP_CONFIG_TTL_MS,
        )
        .await?;
        db::set_info(
            self.store().conn(),
            group,
            &row.summary.name,
            &row.summary.description,
            seqno,
        )?;
        Ok(())
    }

    /// Invites `members` (admins only): each is added to the member list as invited (a member
    /// already invited or joined stays as it is), given the keys that exist in a supplemental
    /// keys message, and sent an invitation 1:1 with its subaccount authentication. Inviting
    /// again only sends the invitation again (until the invitee accepts, which acknowledges it).
    pub async fn invite_to_group(
        &self,
        group: &GroupId,
        members: &[AccountId],
    ) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        let identity = self.admin_signer(&row)?;
        let held = db::members(self.store().conn(), group)?;
        let mut list: BTreeMap<String, GroupMember> = held
            .into_iter()
            .map(|m| (m.account_id.to_string(), m))
            .collect();
        let mut added = Vec::new();
        for member in members {
            let entry = list.entry(member.to_string()).or_insert(GroupMember {
                account_id: *member,
                state: MemberState::Removed,
                admin: false,
            });
            if entry.state == MemberState::Removed {
                entry.state = MemberState::Invited;
                added.push(*member);
            }
        }
        let signer = Signer::Admin(identity);
        if !added.is_empty() {
            let list: Vec<GroupMember> = list.into_values().collect();
            let seqno = row.members_seqno;
            db::set_members(self.store().conn_mut(), group, &list, seqno)?;
            let keys = db::keys(self.store().conn(), group)?;
            let supplement =
                build_supplement(signer.admin().ok_or(GroupError::NotAdmin)?, &keys, &added)?;
            self.group_put(
                group,
                &signer,
                GROUP_KEYS_NAMESPACE,
                &supplement,
                GROUP_CONFIG_TTL_MS,
            )
            .await?;
            self.publish_members(group, &signer).await?;
        }
        let identity = signer.admin().ok_or(GroupError::NotAdmin)?;
        for member in members {
            let now = self.client().now_ms();
            let auth = make_subaccount(identity, &member.x25519(), true, false)?;
            let invite = GroupUpdateInviteMessage {
                group_session_id: group.to_string(),
                name: row.summary.name.clone(),
                member_auth_data: auth.to_vec(),
                admin_signature: identity.sign(&invite_signed_text(member, now)).to_vec(),
            };
            let update = GroupUpdateMessage {
                invite_message: Some(invite),
                ..Default::default()
            };
            self.send_control(member, update, now).await?;
        }
        Ok(())
    }

    /// Fetches invitations and promotions sent to the user 1:1 and files them.
    pub async fn sync_group_invites(&self) -> Result<Vec<GroupId>, GroupError> {
        let me = self.account_id();
        let fetched = self
            .group_fetch(
                INBOX_SWARM,
                &me,
                |now, last| RetrieveParams::signed(self.keys(), INBOX_NAMESPACE, now, last),
                INBOX_NAMESPACE,
            )
            .await?;
        let mut out = Vec::new();
        for (_, stored) in fetched {
            let Ok((_sender, timestamp, padded)) = open_content(self.keys(), &stored) else {
                continue;
            };
            let Ok(content) = GroupContent::from_bytes(unpad(&padded)) else {
                continue;
            };
            let Some(update) = content.data_message.and_then(|d| d.group_update_message) else {
                continue;
            };
            if let Some(invite) = update.invite_message {
                if let Some(id) = self.file_invite(&invite, timestamp)? {
                    out.push(id);
                }
            }
            if let Some(promote) = update.promote_message {
                if let Some(id) = self.file_promotion(&promote, timestamp)? {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    fn file_invite(
        &self,
        invite: &GroupUpdateInviteMessage,
        timestamp: u64,
    ) -> Result<Option<GroupId>, GroupError> {
        let Ok(id) = invite.group_session_id.parse::<GroupId>() else {
            return Ok(None);
        };
        let Ok(signature) = <[u8; 64]>::try_from(invite.admin_signature.as_slice()) else {
            return Ok(None);
        };
        let signed = invite_signed_text(&self.account_id(), timestamp);
        if id.ed25519().verify(&signed, &signature).is_err()
            || Subaccount::from_auth_data(&id, self.keys(), &invite.member_auth_data).is_err()
        {
            tracing::debug!("ignoring an invitation that does not verify");
            return Ok(None);
        }
        let store = self.store();
        let current = db::group(store.conn(), &id)?;
        let held = current
            .as_ref()
            .map(|r| (r.summary.state, r.invite_ms, r.changed_ms));
        let name = current.map_or_else(|| invite.name.clone(), |r| r.summary.name);
        let auth = &invite.member_auth_data;
        match invite_outcome(held, timestamp) {
            InviteOutcome::New => {
                db::insert_group(
                    store.conn(),
                    &id,
                    &invite.name,
                    GroupState::Invited,
                    timestamp,
                )?;
                db::set_invite(store.conn(), &id, &invite.name, auth, timestamp)?;
                Ok(Some(id))
            }
            InviteOutcome::Reinvite => {
                db::set_state(store.conn(), &id, GroupState::Invited, timestamp)?;
                db::set_invite(store.conn(), &id, &name, auth, timestamp)?;
                Ok(Some(id))
            }
            InviteOutcome::Renew => {
                db::set_invite(store.conn(), &id, &name, auth, timestamp)?;
                Ok(None)
            }
            InviteOutcome::Ignore => Ok(None),
        }
    }

    fn file_promotion(
        &self,
        promote: &GroupUpdatePromoteMessage,
        timestamp: u64,
    ) -> Result<Option<GroupId>, GroupError> {
        let Ok(bytes) = <[u8; 32]>::try_from(promote.group_identity_seed.as_slice()) else {
            return Ok(None);
        };
        let identity = GroupIdentity::from_seed(Ed25519Seed::from_bytes(bytes));
        let id = identity.id();
        let store = self.store();
        let new = db::insert_group(
            store.conn(),
            &id,
            &promote.name,
            GroupState::Invited,
            timestamp,
        )?;
        db::set_seed(store.conn(), &id, &bytes)?;
        Ok(new.then_some(id))
    }

    /// Accepts an invitation: the user becomes a member and tells the admins (which
    /// acknowledges the invitation). Accepting again only repeats the acknowledgement.
    pub async fn accept_group(&self, group: &GroupId) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        if !matches!(row.summary.state, GroupState::Invited | GroupState::Joined) {
            return Err(GroupError::NotMember(row.summary.state));
        }
        let now = self.client().now_ms();
        db::set_state(self.store().conn(), group, GroupState::Joined, now)?;
        let signer = self.signer(&row)?;
        // The keys first: the acknowledgement is encrypted with the group's key.
        self.sync_group(group).await?;
        let update = GroupUpdateMessage {
            invite_response: Some(GroupUpdateInviteResponseMessage { is_approved: true }),
            ..Default::default()
        };
        self.send_group_content(group, &signer, GroupContent::control(update, now))
            .await?;
        Ok(())
    }

    /// Declines an invitation (nothing is sent: the admins see the invitation unanswered).
    pub fn decline_group(&self, group: &GroupId) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        if row.summary.state != GroupState::Invited {
            return Err(GroupError::NotMember(row.summary.state));
        }
        let now = self.client().now_ms();
        db::set_state(self.store().conn(), group, GroupState::Declined, now)?;
        Ok(())
    }

    async fn send_group_content(
        &self,
        group: &GroupId,
        signer: &Signer,
        content: GroupContent,
    ) -> Result<String, GroupError> {
        let key = self.newest_key(group)?;
        let data = encrypt_for_group(
            self.keys(),
            group,
            &key,
            &content.to_bytes(),
            true,
            &mut OsRng,
        )?;
        let ttl = self.ttl_ms();
        self.group_put(group, signer, GROUP_MESSAGES_NAMESPACE, &data, ttl)
            .await
    }

    /// Sends `text` to the group and files it in the group's conversation.
    pub async fn send_group(
        &self,
        group: &GroupId,
        text: &str,
    ) -> Result<GroupMessage, GroupError> {
        let row = self.group_row(group)?;
        if row.summary.state != GroupState::Joined {
            return Err(GroupError::NotMember(row.summary.state));
        }
        let signer = self.signer(&row)?;
        let display_name = self.display_name()?;
        let now = self.store().next_timestamp(self.client().now_ms())?;
        let content = GroupContent::text(text, display_name.as_deref(), now);
        let hash = self.send_group_content(group, &signer, content).await?;
        let filed = db::file_message(
            self.store().conn(),
            group,
            &hash,
            &self.account_id(),
            true,
            now,
            now,
            text,
            display_name.as_deref(),
        )?;
        filed.ok_or(GroupError::NotStored)
    }

    /// Fetches what is new in every group the user is in, and the invitations sent to it.
    pub async fn sync_groups(&self) -> Result<GroupSyncReport, GroupError> {
        let mut report = GroupSyncReport {
            invites: self.sync_group_invites().await?,
            ..Default::default()
        };
        for summary in self.groups()? {
            if summary.state == GroupState::Joined {
                let one = self.sync_group(&summary.id).await?;
                report.new.extend(one.new);
                report.changed.extend(one.changed);
            }
        }
        Ok(report)
    }

    /// Fetches what is new in one group: keys first, then removal notices, the member list,
    /// the info and the messages (what no key opens yet waits for one).
    pub async fn sync_group(&self, group: &GroupId) -> Result<GroupSyncReport, GroupError> {
        let row = self.group_row(group)?;
        let signer = self.signer(&row)?;
        let mut report = GroupSyncReport::default();
        let keys = match self
            .group_fetch_ns(group, &signer, GROUP_KEYS_NAMESPACE)
            .await
        {
            Ok(keys) => keys,
            Err(GroupError::Messenger(MessengerError::Network(ClientError::Rejected {
                status: 401,
                ..
            }))) => {
                // The token was revoked: the user was removed.
                let notices = self
                    .group_fetch_ns(group, &signer, GROUP_REVOKED_NAMESPACE)
                    .await
                    .unwrap_or_default();
                self.apply_removals(group, &row, &notices)?;
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        let mut new_keys = false;
        for (hash, bytes) in keys {
            if !db::mark_seen(self.store().conn(), group, &hash)? {
                continue;
            }
            let Ok(parsed) = parse_keys_message(group, &bytes) else {
                continue;
            };
            let opened = match signer.admin() {
                Some(identity) if !parsed.supplement => parsed.admin_key(identity).map(|k| vec![k]),
                _ => parsed.member_keys(group, self.keys().x25519_secret()),
            };
            let now = self.client().now_ms();
            for key in opened.unwrap_or_default() {
                new_keys |= db::add_key(self.store().conn(), group, &key, now)?;
            }
        }
        if new_keys {
            report.changed.push(*group);
        }
        let notices = self
            .group_fetch_ns(group, &signer, GROUP_REVOKED_NAMESPACE)
            .await?;
        if self.apply_removals(group, &row, &notices)? {
            return Ok(report);
        }
        for namespace in [
            GROUP_MEMBERS_NAMESPACE,
            GROUP_INFO_NAMESPACE,
            GROUP_MESSAGES_NAMESPACE,
        ] {
            let fetched = self.group_fetch_ns(group, &signer, namespace).await?;
            let store = self.store();
            for (hash, bytes) in fetched {
                db::add_pending(store.conn(), group, namespace, &hash, &bytes)?;
            }
        }
        self.process_pending(group, &signer, &mut report).await?;
        report.new.sort_by_key(|m| (m.sent_ms, m.id));
        Ok(report)
    }

    /// Marks the user removed if a notice names it (and is newer than its invitation).
    fn apply_removals(
        &self,
        group: &GroupId,
        row: &GroupRow,
        notices: &[(String, Vec<u8>)],
    ) -> Result<bool, GroupError> {
        let me = self.account_id();
        for (_, bytes) in notices {
            if let Some((removed, t)) = decode_removal(group, bytes) {
                if removed.contains(&me) && t >= row.invite_ms && row.seed.is_none() {
                    db::set_state(self.store().conn(), group, GroupState::Removed, t)?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Tries every waiting message with the keys held; applies or files what opens.
    async fn process_pending(
        &self,
        group: &GroupId,
        signer: &Signer,
        report: &mut GroupSyncReport,
    ) -> Result<(), GroupError> {
        let keys: Vec<GroupKey> = self.group_keys(group)?;
        let pending = db::pending(self.store().conn(), group)?;
        let (mut accepted, mut left) = (false, Vec::new());
        for (namespace, hash, bytes) in pending {
            let Ok(opened) = decrypt_group_message(&keys, group, &bytes) else {
                continue;
            };
            db::drop_pending(self.store().conn(), group, &hash)?;
            let from_group = opened.sender_ed25519 == group.ed25519();
            match namespace {
                GROUP_MEMBERS_NAMESPACE if from_group => {
                    if let Some((seqno, members)) = decode_members(&opened.plaintext) {
                        if self.apply_members(group, seqno, &members)? {
                            report.changed.push(*group);
                        }
                    }
                }
                GROUP_INFO_NAMESPACE if from_group => {
                    if let Some(info) = decode_info(&opened.plaintext) {
                        self.apply_info(group, info)?;
                        report.changed.push(*group);
                    }
                }
                GROUP_MESSAGES_NAMESPACE => {
                    let Ok(content) = GroupContent::from_bytes(&opened.plaintext) else {
                        continue;
                    };
                    let Some(data) = content.data_message else {
                        continue;
                    };
                    if let Some(update) = data.group_update_message {
                        let event = if update.member_left_message.is_some() {
                            Some(GroupEvent::Left(opened.sender))
                        } else if update.invite_response.is_some_and(|r| r.is_approved) {
                            Some(GroupEvent::Accepted(opened.sender))
                        } else {
                            None
                        };
                        if let (Some(event), Some(_)) = (event, signer.admin()) {
                            if self.apply_control(group, &event)? {
                                match event {
                                    GroupEvent::Left(who) => left.push(who),
                                    _ => accepted = true,
                                }
                            }
                        }
                        continue;
                    }
                    let Some(text) = data.body else { continue };
                    let now = self.client().now_ms();
                    let outgoing = opened.sender == self.account_id();
                    let filed = db::file_message(
                        self.store().conn(),
                        group,
                        &hash,
                        &opened.sender,
                        outgoing,
                        data.timestamp.unwrap_or(now),
                        now,
                        &text,
                        data.profile.and_then(|p| p.display_name).as_deref(),
                    )?;
                    report.new.extend(filed);
                }
                // Configuration not signed by the group (a member's forgery): ignored.
                _ => tracing::debug!("ignoring group configuration not signed by the group"),
            }
        }
        if let Some(identity) = signer.admin() {
            if !left.is_empty() {
                report.changed.push(*group);
                self.finish_removal(group, signer, identity, &left).await?;
            } else if accepted {
                report.changed.push(*group);
                self.publish_members(group, signer).await?;
            }
        }
        Ok(())
    }

    fn apply_members(
        &self,
        group: &GroupId,
        seqno: u64,
        members: &[GroupMember],
    ) -> Result<bool, GroupError> {
        let mut store = self.store();
        let Some(row) = db::group(store.conn(), group)? else {
            return Ok(false);
        };
        if seqno <= row.members_seqno {
            return Ok(false);
        }
        db::set_members(store.conn_mut(), group, members, seqno)?;
        let me = self.account_id();
        let mine = members.iter().find(|m| m.account_id == me);
        if mine.is_some_and(|m| m.state == MemberState::Removed) && row.seed.is_none() {
            let now = self.client().now_ms();
            db::set_state(store.conn(), group, GroupState::Removed, now)?;
        }
        Ok(true)
    }

    fn apply_info(
        &self,
        group: &GroupId,
        (seqno, name, description, deleted): (u64, String, String, bool),
    ) -> Result<(), GroupError> {
        let store = self.store();
        let Some(row) = db::group(store.conn(), group)? else {
            return Ok(());
        };
        if seqno <= row.info_seqno {
            return Ok(());
        }
        db::set_info(store.conn(), group, &name, &description, seqno)?;
        if deleted {
            let now = self.client().now_ms();
            db::set_state(store.conn(), group, GroupState::Deleted, now)?;
        }
        Ok(())
    }

    /// Applies a member's control message to the list an admin holds.
    fn apply_control(&self, group: &GroupId, event: &GroupEvent) -> Result<bool, GroupError> {
        let mut store = self.store();
        let Some(row) = db::group(store.conn(), group)? else {
            return Ok(false);
        };
        let mut events = GroupEvents {
            seqno: row.members_seqno,
            members: db::members(store.conn(), group)?
                .into_iter()
                .map(|m| (m.account_id.to_string(), m))
                .collect(),
        };
        if !events.apply(event) {
            return Ok(false);
        }
        let list: Vec<GroupMember> = events.members.into_values().collect();
        db::set_members(store.conn_mut(), group, &list, row.members_seqno)?;
        Ok(true)
    }

    /// Removes `members` (admins only): marks them removed, makes a new key for the others,
    /// revokes the removed members' tokens on the nodes, tells them in the group's revoked
    /// namespace, and publishes the member list under the new key.
    pub async fn remove_from_group(
        &self,
        group: &GroupId,
        members: &[AccountId],
    ) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        let identity = self.admin_signer(&row)?;
        let mut list = db::members(self.store().conn(), group)?;
        let mut removed = Vec::new();
        for m in &mut list {
            if members.contains(&m.account_id) && m.state != MemberState::Removed {
                m.state = MemberState::Removed;
                m.admin = false;
                removed.push(m.account_id);
            }
        }
        db::set_members(self.store().conn_mut(), group, &list, row.members_seqno)?;
        let signer = Signer::Admin(identity);
        let identity = signer.admin().ok_or(GroupError::NotAdmin)?;
        self.finish_removal(group, &signer, identity, &removed)
            .await
    }

    async fn finish_removal(
        &self,
        group: &GroupId,
        signer: &Signer,
        identity: &GroupIdentity,
        removed: &[AccountId],
    ) -> Result<(), GroupError> {
        self.rekey(group, signer).await?;
        if !removed.is_empty() {
            let tokens = removed
                .iter()
                .map(|m| subaccount_token(identity, &m.x25519(), true, false))
                .collect::<Result<Vec<_>, _>>()?;
            self.client()
                .request(&group_rpc::swarm_route(group), |now| {
                    Request::RevokeSubaccount(group_rpc::revoke(identity, &tokens, now))
                })
                .await?;
            let notice = encode_removal(identity, removed, self.client().now_ms());
            self.group_put(
                group,
                signer,
                GROUP_REVOKED_NAMESPACE,
                &notice,
                GROUP_CONFIG_TTL_MS,
            )
            .await?;
        }
        self.publish_members(group, signer).await
    }

    /// Makes `member` an admin (admins only): the member list says so, and the member is sent
    /// the group's seed 1:1.
    pub async fn promote_in_group(
        &self,
        group: &GroupId,
        member: &AccountId,
    ) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        let identity = self.admin_signer(&row)?;
        let mut list = db::members(self.store().conn(), group)?;
        let Some(entry) = list
            .iter_mut()
            .find(|m| m.account_id == *member && m.state != MemberState::Removed)
        else {
            return Err(GroupError::UnknownGroup(format!(
                "member {member} of {group}"
            )));
        };
        let changed = !entry.admin;
        entry.admin = true;
        let update = GroupUpdateMessage {
            promote_message: Some(GroupUpdatePromoteMessage {
                group_identity_seed: identity.seed().as_bytes().to_vec(),
                name: row.summary.name.clone(),
            }),
            ..Default::default()
        };
        let signer = Signer::Admin(identity);
        if changed {
            db::set_members(self.store().conn_mut(), group, &list, row.members_seqno)?;
            self.publish_members(group, &signer).await?;
        }
        self.send_control(member, update, self.client().now_ms())
            .await
    }

    /// Leaves the group: tells the admins (who remove the user and make a new key) and stops
    /// polling it.
    pub async fn leave_group(&self, group: &GroupId) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        if row.summary.state == GroupState::Joined {
            let signer = self.signer(&row)?;
            let now = self.client().now_ms();
            let update = GroupUpdateMessage {
                member_left_message: Some(GroupUpdateMemberLeftMessage {}),
                ..Default::default()
            };
            self.send_group_content(group, &signer, GroupContent::control(update, now))
                .await?;
        }
        let now = self.client().now_ms();
        db::set_state(self.store().conn(), group, GroupState::Left, now)?;
        Ok(())
    }

    /// Renames the group (admins only).
    pub async fn rename_group(&self, group: &GroupId, name: &str) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        let signer = Signer::Admin(self.admin_signer(&row)?);
        db::set_info(
            self.store().conn(),
            group,
            name,
            &row.summary.description,
            row.info_seqno,
        )?;
        self.publish_info(group, &signer, false).await
    }

    /// Deletes the group for everyone (admins only): its info says deleted, so members stop.
    pub async fn delete_group(&self, group: &GroupId) -> Result<(), GroupError> {
        let row = self.group_row(group)?;
        let signer = Signer::Admin(self.admin_signer(&row)?);
        self.publish_info(group, &signer, true).await?;
        let now = self.client().now_ms();
        db::set_state(self.store().conn(), group, GroupState::Deleted, now)?;
        Ok(())
    }
}

/// Whether a store's answer says that no swarm member stored it.
fn stored_nowhere(body: &Value) -> bool {
    match body.get("swarm").and_then(Value::as_object) {
        Some(members) => members
            .values()
            .all(|m| m.get("failed").and_then(Value::as_bool) == Some(true)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_and_info_encodings_round_trip() {
        let id = session_crypto::IdentityKeyPair::from_seed(&Ed25519Seed::from_bytes([1; 32]))
            .account_id();
        let members = vec![GroupMember {
            account_id: id,
            state: MemberState::Joined,
            admin: true,
        }];
        assert_eq!(
            decode_members(&encode_members(7, &members)),
            Some((7, members))
        );
        assert_eq!(
            decode_info(&encode_info(3, "n", "d", true)),
            Some((3, "n".into(), "d".into(), true))
        );
    }
}
