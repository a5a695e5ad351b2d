//! The rules that make group control messages idempotent, on any interleaving of repeats,
//! reorders and replays: nobody is kicked, duplicated or re-invited by a control message that
//! is not about them, a repeat changes nothing, an old member list never replaces a newer one,
//! an acceptance never brings back a removed member, and a replayed invitation never undoes a
//! decline, a leave or a removal, nor turns a member back into an invitee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use session_client::{
    invite_outcome, GroupEvent, GroupEvents, GroupMember, GroupState, InviteOutcome, MemberState,
};
use session_crypto::{AccountId, Ed25519Seed};

fn account(i: u8) -> AccountId {
    Ed25519Seed::from_bytes([i + 1; 32]).key_pair().account_id()
}

fn member_state(code: u8) -> MemberState {
    match code % 3 {
        0 => MemberState::Invited,
        1 => MemberState::Joined,
        _ => MemberState::Removed,
    }
}

/// A published list: seqno and the states of accounts 0..6 (absent when `None`).
fn list(seqno: u64, states: &[Option<u8>]) -> GroupEvent {
    let members = states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.map(|code| GroupMember {
                account_id: account(i as u8),
                state: member_state(code),
                admin: i == 0,
            })
        })
        .collect();
    GroupEvent::Members(seqno, members)
}

fn event() -> impl Strategy<Value = GroupEvent> {
    prop_oneof![
        (1u64..8, prop::collection::vec(prop::option::of(0u8..3), 6))
            .prop_map(|(seqno, states)| list(seqno, &states)),
        (0u8..6).prop_map(|i| GroupEvent::Accepted(account(i))),
        (0u8..6).prop_map(|i| GroupEvent::Left(account(i))),
    ]
}

fn about(event: &GroupEvent) -> Option<String> {
    match event {
        GroupEvent::Accepted(who) | GroupEvent::Left(who) => Some(who.to_string()),
        GroupEvent::Members(..) => None,
    }
}

proptest! {
    #[test]
    fn control_messages_are_idempotent_and_touch_only_their_sender(
        events in prop::collection::vec(event(), 1..60),
        repeats in prop::collection::vec(0usize..60, 0..30),
    ) {
        // The events, with some of them repeated (replayed) at random later points.
        let mut sequence = events.clone();
        for r in repeats {
            let e = events[r % events.len()].clone();
            let at = (r * 7) % (sequence.len() + 1);
            sequence.insert(at, e);
        }
        let mut state = GroupEvents::default();
        for e in &sequence {
            let before = state.clone();
            let changed = state.apply(e);
            prop_assert_eq!(changed, before != state);
            // The same message again changes nothing.
            let again = state.clone();
            prop_assert!(!state.apply(e));
            prop_assert_eq!(&state, &again);
            // The list's sequence number never goes back.
            prop_assert!(state.seqno >= before.seqno);
            if let Some(who) = about(e) {
                // A member's message changes that member only, adds nobody, removes nobody.
                prop_assert_eq!(before.members.len(), state.members.len());
                for (id, m) in &before.members {
                    if *id != who {
                        prop_assert_eq!(Some(m), state.members.get(id));
                    }
                }
                if let (GroupEvent::Accepted(_), Some(m)) = (e, before.members.get(&who)) {
                    // An acceptance only moves an invitee to joined: never back a removed one.
                    let after = &state.members[&who];
                    prop_assert!(m.state == after.state
                        || (m.state == MemberState::Invited && after.state == MemberState::Joined));
                }
            }
        }
    }

    #[test]
    fn replayed_invitations_never_undo_a_later_choice(
        invites in prop::collection::vec(1u64..1000, 1..20),
        choice_at in 1u64..1000,
        choice in prop::sample::select(vec![GroupState::Declined, GroupState::Left, GroupState::Removed]),
    ) {
        // The invitee joined with the first invitation, then made its choice at `choice_at`.
        let joined = (GroupState::Joined, invites[0], invites[0]);
        for &t in &invites {
            let outcome = invite_outcome(Some(joined), t);
            prop_assert!(matches!(outcome, InviteOutcome::Renew | InviteOutcome::Ignore));
        }
        let held = Some((choice, invites[0], choice_at));
        for &t in &invites {
            let outcome = invite_outcome(held, t);
            if t <= choice_at.max(invites[0]) {
                prop_assert_eq!(outcome, InviteOutcome::Ignore);
            } else {
                prop_assert_eq!(outcome, InviteOutcome::Reinvite);
            }
        }
        prop_assert_eq!(invite_outcome(None, invites[0]), InviteOutcome::New);
    }
}
