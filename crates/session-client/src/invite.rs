//! Invite codes: add a contact by reading out `7-ocean-violin` instead of 66 characters.
//!
//! The inviter makes a code (a rendezvous number and two words of the recovery-phrase list)
//! and waits; the other person types it. The two meet in a short-lived mailbox in the network:
//! an account whose Ed25519 key (and so whose swarm) is derived from the number alone, reached
//! through onion paths like any other, its messages living 10 minutes. There they run SPAKE2
//! (symmetric, the password being the words) and exchange Account IDs and display names sealed
//! under the derived key; both add each other as accepted contacts.
//!
//! - Nodes see a random-looking account receive a few opaque blobs (every frame is sealed, see
//!   `frame`). Someone who knows the number can read the frames, and finds only random
//!   values: without the words, SPAKE2 gives them no key, so no Account ID.
//! - One guess per code: the inviter accepts exactly one claim. If it was made with other
//!   words, the inviter cannot open it, says so in the mailbox, and the code is dead on both
//!   sides ("someone tried a wrong code; make a new one").
//! - Single use, 10 minutes: a used, refused, withdrawn or expired code is refused with its own
//!   message. Expiry is judged by the invite's clock (the nodes' time by default), injectable
//!   for tests.
//! - Two invites on one number: the inviter allocates a number no live invite holds, then
//!   reads the mailbox again; if another invite took the number in the meantime, the one made
//!   later (by creation time, then invite id) withdraws and takes another number before its code
//!   is shown. An accepter takes the earliest live invite, the one that stays. Each invite's
//!   frames carry its random id, so concurrent ones never mix.

mod code;
mod frame;

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::{AccountId, Ed25519Seed, IdentityKeyPair, OsRng};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use zeroize::Zeroizing;

pub use code::{InviteCode, MAX_NUMBER, WORDS};
use frame::{Frame, Side};

use crate::inert::short_id;
use crate::{ClientError, Clock, Contact, Messenger, StoreError};

/// How long a code lives, and its mailbox messages.
pub const CODE_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// The namespace of mailbox messages (the public inbox: anyone may deposit, only the holder of
/// the mailbox key, who knows the number, may read).
const NAMESPACE: i16 = 0;
/// Numbers tried before giving up on finding a free one.
const ALLOCATION_TRIES: usize = 20;
/// How long one waiting retrieve is held at most.
const WAIT_MS: u64 = 5_000;
/// Pause between reads when the node does not hold a retrieve.
const POLL: Duration = Duration::from_millis(500);

/// What can go wrong with an invite; the texts are what a user reads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// The code typed is not a code.
    #[error("not an invite code: {0}")]
    BadCode(String),
    /// A claim was made with other words: the code is dead.
    #[error("someone tried a wrong code; make a new one")]
    WrongCode,
    /// The code is older than [`CODE_LIFETIME_MS`].
    #[error("this code has expired (a code lasts 10 minutes); make a new one")]
    Expired,
    /// No invite waits under this number.
    #[error("no invite with number {0} is waiting: check the code, or ask for a new one")]
    NotFound(u16),
    /// The code was used by someone else.
    #[error("this code was already used; make a new one")]
    AlreadyUsed,
    /// The inviter withdrew the invite.
    #[error("this invite was withdrawn; make a new one")]
    Withdrawn,
    /// Every number tried was taken.
    #[error("every invite number tried is in use; try again in a minute")]
    NoFreeNumber,
    /// The other side's answer does not open although the exchange matched (tampering).
    #[error("the other side's answer is damaged; make a new code")]
    Damaged,
    /// The other side sent its own Account ID.
    #[error("this is your own invite code")]
    OwnCode,
    /// The network failed.
    #[error(transparent)]
    Network(#[from] ClientError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A swarm member answered something that is not a retrieve response.
    #[error("unexpected answer from a swarm member: {0}")]
    BadAnswer(String),
}

/// Options of an invite.
#[derive(Clone, Default)]
pub struct InviteOptions {
    /// The clock that judges expiry (none: the nodes' time, as the client corrects it).
    pub clock: Option<Clock>,
    /// The rendezvous numbers an inviter draws from (none: 1 to [`MAX_NUMBER`]; numbers
    /// outside that range are never drawn).
    pub numbers: Option<std::ops::RangeInclusive<u16>>,
}

impl InviteOptions {
    /// A random rendezvous number from [`InviteOptions::numbers`].
    fn draw_number(&self) -> u16 {
        let range = self.numbers.clone().unwrap_or(1..=MAX_NUMBER);
        let (low, high) = ((*range.start()).max(1), (*range.end()).min(MAX_NUMBER));
        if low >= high {
            return low.min(MAX_NUMBER);
        }
        let span = u64::from(high - low) + 1;
        let offset = session_crypto::RngCore::next_u64(&mut OsRng) % span;
        low + u16::try_from(offset).unwrap_or(0)
    }

    fn now(&self, messenger: &Messenger) -> u64 {
        match &self.clock {
            Some(clock) => clock(),
            None => messenger.client().now_ms(),
        }
    }
}

/// The contact an invite added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    /// The contact as filed (nickname: their display name, made unique, or a short ID).
    pub contact: Contact,
    /// The display name they sent, if any (untrusted text).
    pub display_name: Option<String>,
}

/// The mailbox of a rendezvous number: its key, its frame key, what has been read from it.
struct Mailbox {
    number: u16,
    keys: IdentityKeyPair,
    frame_key: Zeroizing<[u8; 32]>,
    /// The last message hash seen from each swarm member.
    positions: HashMap<String, String>,
    /// Every frame read, in the order first seen, with its message hash.
    frames: Vec<(String, Frame)>,
    /// Every blob read (what anyone who knows the number receives).
    blobs: Vec<Vec<u8>>,
}

impl Mailbox {
    fn new(number: u16) -> Self {
        let seed = Zeroizing::new(session_crypto::hash::blake2b_32(&[
            frame::DOMAIN,
            b" mailbox",
            &number.to_be_bytes(),
        ]));
        Self {
            number,
            keys: Ed25519Seed::from_bytes(*seed).key_pair(),
            frame_key: frame::frame_key(number),
            positions: HashMap::new(),
            frames: Vec::new(),
            blobs: Vec::new(),
        }
    }

    fn address(&self) -> AccountId {
        self.keys.account_id()
    }

    async fn post(&self, messenger: &Messenger, frame: &Frame) -> Result<(), InviteError> {
        let blob = frame::seal_frame(&self.frame_key, frame, &mut OsRng);
        let address = self.address();
        messenger
            .client()
            .request(&address, |now| {
                Request::Store(StoreParams::deposit(
                    &address,
                    NAMESPACE,
                    &blob,
                    now,
                    CODE_LIFETIME_MS,
                ))
            })
            .await?;
        tracing::debug!(number = self.number, "invite frame stored");
        Ok(())
    }

    /// Reads what is new from one swarm member (held up to `wait_ms` when nothing is).
    async fn read(
        &mut self,
        messenger: &Messenger,
        wait_ms: Option<u64>,
    ) -> Result<bool, InviteError> {
        let address = self.address();
        let routed = {
            let keys = &self.keys;
            let positions = &self.positions;
            messenger
                .client()
                .request_routed(&address, |now, node| {
                    let last = positions.get(&node.to_string()).cloned();
                    let params = RetrieveParams::signed(keys, NAMESPACE, now, last);
                    Request::Retrieve(match wait_ms {
                        Some(ms) => params.waiting(ms),
                        None => params,
                    })
                })
                .await?
        };
        let page: RetrieveResponse = serde_json::from_value(routed.body)
            .map_err(|e| InviteError::BadAnswer(e.to_string()))?;
        if let Some(last) = page.messages.last() {
            self.positions
                .insert(routed.route.destination.key.to_string(), last.hash.clone());
        }
        for message in page.messages {
            if self.frames.iter().any(|(hash, _)| *hash == message.hash) {
                continue;
            }
            let Ok(blob) = STANDARD.decode(&message.data) else {
                continue;
            };
            if let Some(frame) = frame::open_frame(&self.frame_key, &blob) {
                self.frames.push((message.hash, frame));
            }
            self.blobs.push(blob);
        }
        Ok(page.wait_ms.is_some())
    }

    /// Waits for something new, up to `until` by `options`' clock; false when the time is up.
    async fn wait(
        &mut self,
        messenger: &Messenger,
        options: &InviteOptions,
        until: u64,
    ) -> Result<bool, InviteError> {
        let now = options.now(messenger);
        if now >= until {
            return Ok(false);
        }
        let before = self.frames.len();
        let held = self.read(messenger, Some(WAIT_MS.min(until - now))).await?;
        if self.frames.len() == before && !held {
            tokio::time::sleep(POLL).await;
        }
        Ok(true)
    }

    /// The state of every invite seen, by id.
    fn invites(&self, now: u64) -> Vec<InviteState> {
        let mut out: Vec<InviteState> = Vec::new();
        for (_, frame) in &self.frames {
            if let Frame::Open {
                invite,
                spake,
                created_ms,
            } = frame
            {
                if !out.iter().any(|s| s.id == *invite) {
                    out.push(InviteState {
                        id: invite.clone(),
                        spake: spake.clone(),
                        created_ms: *created_ms,
                        status: Status::Waiting,
                    });
                }
            }
        }
        for state in &mut out {
            for (_, frame) in self.frames.iter().filter(|(_, f)| f.invite() == state.id) {
                let status = match frame {
                    Frame::Claim { .. } => Status::Claimed,
                    Frame::Reply { .. } => Status::Used,
                    Frame::Refuse { .. } => Status::Refused,
                    Frame::Close { .. } => Status::Withdrawn,
                    Frame::Open { .. } => continue,
                };
                state.status = state.status.max(status);
            }
            if state.status == Status::Waiting && state.created_ms + CODE_LIFETIME_MS <= now {
                state.status = Status::Expired;
            }
        }
        out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        out
    }
}

/// Where an invite stands, as its frames say (later states win).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Waiting,
    Expired,
    Claimed,
    Used,
    Withdrawn,
    Refused,
}

#[derive(Debug, Clone)]
struct InviteState {
    id: String,
    spake: String,
    created_ms: u64,
    status: Status,
}

/// An invite waiting for its code to be typed.
pub struct PendingInvite {
    code: InviteCode,
    mailbox: Mailbox,
    invite: String,
    created_ms: u64,
    spake: Spake2<Ed25519Group>,
    options: InviteOptions,
}

/// The SPAKE2 identity of an invite: the domain, the number and the invite's id.
fn spake_identity(number: u16, invite: &str) -> Identity {
    let mut id = frame::DOMAIN.to_vec();
    id.extend_from_slice(&number.to_be_bytes());
    id.extend_from_slice(invite.as_bytes());
    Identity::new(&id)
}

/// Makes an invite: allocates a free number, leaves the SPAKE2 message in its mailbox, and
/// returns the code to read out; [`PendingInvite::wait`] then waits for the other side.
pub async fn invite(
    messenger: &Messenger,
    options: InviteOptions,
) -> Result<PendingInvite, InviteError> {
    for _ in 0..ALLOCATION_TRIES {
        let number = options.draw_number();
        let mut mailbox = Mailbox::new(number);
        mailbox.read(messenger, None).await?;
        let now = options.now(messenger);
        let busy = mailbox
            .invites(now)
            .iter()
            .any(|s| matches!(s.status, Status::Waiting | Status::Claimed));
        if busy {
            continue;
        }
        let code = InviteCode::generate(number, &mut OsRng);
        let invite = frame::random_id(&mut OsRng);
        let (spake, message) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
            &Password::new(code.password()),
            &spake_identity(number, &invite),
            OsRng,
        );
        mailbox
            .post(
                messenger,
                &Frame::Open {
                    invite: invite.clone(),
                    spake: STANDARD.encode(&message),
                    created_ms: now,
                },
            )
            .await?;
        // Another invite may have taken the number between the read and the post: the one
        // made later gives way.
        mailbox.read(messenger, None).await?;
        let first = mailbox
            .invites(now)
            .into_iter()
            .find(|s| s.status == Status::Waiting);
        if first.is_some_and(|s| s.id != invite) {
            mailbox.post(messenger, &Frame::Close { invite }).await?;
            continue;
        }
        return Ok(PendingInvite {
            code,
            mailbox,
            invite,
            created_ms: now,
            spake,
            options,
        });
    }
    Err(InviteError::NoFreeNumber)
}

impl PendingInvite {
    /// The code to read out.
    pub fn code(&self) -> &InviteCode {
        &self.code
    }

    /// Waits for the one claim this invite accepts (until the code expires), and adds its
    /// sender as a contact. A claim made with other words kills the code.
    pub async fn wait(mut self, messenger: &Messenger) -> Result<Invited, InviteError> {
        let until = self.created_ms + CODE_LIFETIME_MS;
        loop {
            let mine = |f: &&(String, Frame)| f.1.invite() == self.invite;
            let seen: Vec<Frame> = self
                .mailbox
                .frames
                .iter()
                .filter(mine)
                .map(|(_, f)| f.clone())
                .collect();
            if seen.iter().any(|f| matches!(f, Frame::Close { .. })) {
                return Err(InviteError::Withdrawn);
            }
            if let Some(Frame::Claim {
                claim,
                spake,
                sealed,
                ..
            }) = seen.into_iter().find(|f| matches!(f, Frame::Claim { .. }))
            {
                return self.answer(messenger, claim, &spake, &sealed).await;
            }
            if !self.mailbox.wait(messenger, &self.options, until).await? {
                let invite = self.invite.clone();
                self.mailbox
                    .post(messenger, &Frame::Close { invite })
                    .await?;
                return Err(InviteError::Expired);
            }
        }
    }

    /// Answers the first claim: a contact and a reply, or a refusal.
    async fn answer(
        self,
        messenger: &Messenger,
        claim: String,
        spake: &str,
        sealed: &str,
    ) -> Result<Invited, InviteError> {
        let invite = self.invite.clone();
        let card = STANDARD
            .decode(spake)
            .ok()
            .and_then(|message| self.spake.finish(&message).ok())
            .map(Zeroizing::new)
            .and_then(|shared| {
                frame::open_card(&shared, Side::Accepter, sealed).map(|card| (shared, card))
            });
        let Some((shared, card)) = card else {
            self.mailbox
                .post(messenger, &Frame::Refuse { invite, claim })
                .await?;
            return Err(InviteError::WrongCode);
        };
        let invited = match file_contact(messenger, &card) {
            Ok(invited) => invited,
            Err(e) => {
                // Not a contact to file (one's own code, a damaged card): the code is withdrawn,
                // so the other side is told rather than left waiting.
                self.mailbox
                    .post(messenger, &Frame::Close { invite })
                    .await?;
                return Err(e);
            }
        };
        let sealed = frame::seal_card(
            &shared,
            Side::Inviter,
            &messenger.account_id(),
            messenger.display_name()?.as_deref(),
            &mut OsRng,
        );
        self.mailbox
            .post(
                messenger,
                &Frame::Reply {
                    invite,
                    claim,
                    sealed,
                },
            )
            .await?;
        Ok(invited)
    }
}

/// Accepts `code`: finds its invite, runs the exchange, and adds the inviter as a contact.
pub async fn accept(
    messenger: &Messenger,
    code: &InviteCode,
    options: InviteOptions,
) -> Result<Invited, InviteError> {
    let mut mailbox = Mailbox::new(code.number());
    mailbox.read(messenger, None).await?;
    let now = options.now(messenger);
    let invites = mailbox.invites(now);
    let Some(target) = invites
        .iter()
        .find(|s| s.status == Status::Waiting)
        .cloned()
    else {
        // Nothing to claim: say why, from the newest invite under this number.
        return Err(match invites.last().map(|s| s.status) {
            Some(Status::Refused) => InviteError::WrongCode,
            Some(Status::Expired) => InviteError::Expired,
            Some(Status::Claimed | Status::Used) => InviteError::AlreadyUsed,
            Some(Status::Withdrawn) => InviteError::Withdrawn,
            Some(Status::Waiting) | None => InviteError::NotFound(code.number()),
        });
    };
    let (spake, message) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
        &Password::new(code.password()),
        &spake_identity(code.number(), &target.id),
        OsRng,
    );
    let shared = STANDARD
        .decode(&target.spake)
        .ok()
        .and_then(|theirs| spake.finish(&theirs).ok())
        .map(Zeroizing::new)
        .ok_or(InviteError::Damaged)?;
    let claim = frame::random_id(&mut OsRng);
    let sealed = frame::seal_card(
        &shared,
        Side::Accepter,
        &messenger.account_id(),
        messenger.display_name()?.as_deref(),
        &mut OsRng,
    );
    mailbox
        .post(
            messenger,
            &Frame::Claim {
                invite: target.id.clone(),
                claim: claim.clone(),
                spake: STANDARD.encode(&message),
                sealed,
            },
        )
        .await?;
    let until = target.created_ms + CODE_LIFETIME_MS;
    loop {
        let answer = mailbox
            .frames
            .iter()
            .map(|(_, f)| f)
            .filter(|f| f.invite() == target.id)
            .find_map(|f| match f {
                Frame::Reply {
                    claim: c, sealed, ..
                } => Some(if *c == claim {
                    Ok(sealed.clone())
                } else {
                    Err(InviteError::AlreadyUsed)
                }),
                Frame::Refuse { .. } => Some(Err(InviteError::WrongCode)),
                Frame::Close { .. } => Some(Err(InviteError::Withdrawn)),
                _ => None,
            });
        match answer {
            Some(Ok(sealed)) => {
                let card = frame::open_card(&shared, Side::Inviter, &sealed)
                    .ok_or(InviteError::Damaged)?;
                return file_contact(messenger, &card);
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }
        if !mailbox.wait(messenger, &options, until).await? {
            return Err(InviteError::Expired);
        }
    }
}

/// Files the other side as an accepted contact, named by its display name (made unique) or
/// a short ID; a contact already known keeps its nickname.
fn file_contact(messenger: &Messenger, card: &frame::Card) -> Result<Invited, InviteError> {
    let id = crate::parse_account_id(&card.account_id).map_err(|_| InviteError::Damaged)?;
    if id == messenger.account_id() {
        return Err(InviteError::OwnCode);
    }
    let display_name = card
        .display_name
        .as_deref()
        .and_then(|n| crate::onboarding::checked_name(n).ok());
    let store = messenger.store();
    let now = messenger.client().now_ms();
    if let Some(contact) = store.contact(&id)? {
        return Ok(Invited {
            contact,
            display_name,
        });
    }
    let base = display_name.clone().unwrap_or_else(|| short_id(&id));
    let candidates = std::iter::once(base.clone())
        .chain((2..10).map(|n| format!("{base} {n}")))
        .chain(std::iter::once(short_id(&id)));
    let mut last = None;
    for nickname in candidates {
        match store.add_contact(&id, &nickname, now) {
            Ok(contact) => {
                let _ = store.unblock(&id);
                return Ok(Invited {
                    contact,
                    display_name,
                });
            }
            Err(e @ (StoreError::NicknameTaken(_) | StoreError::BadNickname(_))) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map_or(InviteError::Damaged, InviteError::from))
}

/// Every frame of mailbox `number`, opened to the text anyone who knows the number reads
/// (tests: what a third party learns).
pub async fn mailbox_frames(
    messenger: &Messenger,
    number: u16,
) -> Result<Vec<Zeroizing<Vec<u8>>>, InviteError> {
    let mut mailbox = Mailbox::new(number);
    mailbox.read(messenger, None).await?;
    let key = frame::frame_key(number);
    Ok(mailbox
        .blobs
        .iter()
        .filter_map(|b| frame::open_frame_bytes(&key, b))
        .collect())
}
