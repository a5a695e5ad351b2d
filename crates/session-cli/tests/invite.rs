//! Invite codes on a local network of real nodes: two profiles become contacts with a code and
//! write at once; a wrong code fails on both sides; a third party who knows the number learns
//! no Account ID and kills the code; an expired code is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use common::Party;
use session_client::invite::{self, InviteError, InviteOptions};
use session_client::{system_ms, Messenger};
use session_crypto::{AccountId, OsRng};
use session_testnet::{Testnet, TestnetConfig};

async fn network() -> Testnet {
    Testnet::start(TestnetConfig::default()).await.unwrap()
}

/// Whether `bytes` hold `id` in any form it could travel in: hex, raw, or base64 of raw.
fn holds_id(bytes: &[u8], id: &AccountId) -> bool {
    let raw = id.to_bytes33();
    let forms: [Vec<u8>; 4] = [
        id.to_string().into_bytes(),
        id.to_string()[2..].to_uppercase().into_bytes(),
        raw.to_vec(),
        base64::engine::general_purpose::STANDARD
            .encode(&raw[1..])
            .into_bytes(),
    ];
    forms
        .iter()
        .any(|f| bytes.windows(f.len()).any(|w| w == f.as_slice()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_become_contacts_with_a_code_and_write_at_once() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    let (alice_m, bob_m) = (alice.online(&net).await, bob.online(&net).await);

    let started = std::time::Instant::now();
    let pending = invite::invite(&alice_m, InviteOptions::default())
        .await
        .unwrap();
    let code = pending.code().clone();
    let text = code.to_string();
    assert_eq!(text.split('-').count(), 3, "{text}");
    let typed = invite::InviteCode::parse(&text.to_uppercase()).unwrap();
    let (inviter, accepter) = tokio::join!(
        pending.wait(&alice_m),
        invite::accept(&bob_m, &typed, InviteOptions::default())
    );
    let (inviter, accepter) = (inviter.unwrap(), accepter.unwrap());
    eprintln!(
        "invite to both contacts filed: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(inviter.contact.account_id, bob.id);
    assert_eq!(inviter.contact.nickname, "bob", "named by the display name");
    assert_eq!(inviter.display_name.as_deref(), Some("bob"));
    assert_eq!(accepter.contact.account_id, alice.id);
    assert_eq!(accepter.contact.nickname, "alice");
    assert_eq!(
        alice_m.store().contact(&bob.id).unwrap(),
        Some(inviter.contact)
    );
    assert_eq!(
        bob_m.store().contact(&alice.id).unwrap(),
        Some(accepter.contact)
    );

    // Each writes to the other at once: no message request on either side.
    bob_m.send(&alice.id, "hi from the code").await.unwrap();
    alice_m.send(&bob.id, "hi back").await.unwrap();
    assert_eq!(alice_m.sync().await.unwrap().new.len(), 1);
    assert_eq!(bob_m.sync().await.unwrap().new.len(), 1);
    assert!(alice_m.store().requests().unwrap().is_empty());
    assert!(bob_m.store().requests().unwrap().is_empty());
    let history = alice_m.store().history(&bob.id, 10).unwrap();
    assert!(history.iter().any(|m| m.text == "hi from the code"));

    // The code is single use.
    let again = invite::accept(&bob_m, &code, InviteOptions::default()).await;
    assert!(matches!(again, Err(InviteError::AlreadyUsed)), "{again:?}");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_fails_on_both_sides_and_a_fresh_code_works() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    let (alice_m, bob_m) = (alice.online(&net).await, bob.online(&net).await);

    let pending = invite::invite(&alice_m, InviteOptions::default())
        .await
        .unwrap();
    let mistyped = pending.code().with_other_words(&mut OsRng);
    let (inviter, accepter) = tokio::join!(
        pending.wait(&alice_m),
        invite::accept(&bob_m, &mistyped, InviteOptions::default())
    );
    for outcome in [inviter.map(|_| ()), accepter.map(|_| ())] {
        let error = outcome.unwrap_err();
        assert!(matches!(error, InviteError::WrongCode), "{error:?}");
        assert_eq!(
            error.to_string(),
            "someone tried a wrong code; make a new one"
        );
    }
    assert!(alice_m.store().contacts().unwrap().is_empty());
    assert!(bob_m.store().contacts().unwrap().is_empty());

    let pending = invite::invite(&alice_m, InviteOptions::default())
        .await
        .unwrap();
    let code = pending.code().clone();
    let (inviter, accepter) = tokio::join!(
        pending.wait(&alice_m),
        invite::accept(&bob_m, &code, InviteOptions::default())
    );
    assert_eq!(inviter.unwrap().contact.account_id, bob.id);
    assert_eq!(accepter.unwrap().contact.account_id, alice.id);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_with_the_number_learns_no_id_and_kills_the_code() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob, mallory) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
        Party::new(dir.path(), "mallory"),
    );
    let (alice_m, bob_m, mallory_m) = (
        alice.online(&net).await,
        bob.online(&net).await,
        mallory.online(&net).await,
    );
    let pending = invite::invite(&alice_m, InviteOptions::default())
        .await
        .unwrap();
    let code = pending.code().clone();
    // Mallory knows the number (it is public: it names the mailbox) and guesses the words.
    let guess = code.with_other_words(&mut OsRng);
    let (inviter, attacker) = tokio::join!(
        pending.wait(&alice_m),
        invite::accept(&mallory_m, &guess, InviteOptions::default())
    );
    assert!(
        matches!(inviter, Err(InviteError::WrongCode)),
        "{inviter:?}"
    );
    assert!(
        matches!(attacker, Err(InviteError::WrongCode)),
        "{attacker:?}"
    );
    assert!(mallory_m.store().contacts().unwrap().is_empty());

    // Everything Mallory can read (the whole mailbox, frames opened with the number's key)
    // holds neither Account ID in any form.
    let frames = invite::mailbox_frames(&mallory_m, code.number())
        .await
        .unwrap();
    assert!(frames.len() >= 3, "open, claim, refusal: {}", frames.len());
    for frame in &frames {
        assert!(
            !holds_id(frame, &alice.id),
            "{}",
            String::from_utf8_lossy(frame)
        );
        assert!(
            !holds_id(frame, &bob.id),
            "{}",
            String::from_utf8_lossy(frame)
        );
    }

    // The code is dead: Bob, with the right words, is told why.
    let late = invite::accept(&bob_m, &code, InviteOptions::default()).await;
    assert!(matches!(late, Err(InviteError::WrongCode)), "{late:?}");
    assert!(bob_m.store().contacts().unwrap().is_empty());
    assert!(alice_m.store().contacts().unwrap().is_empty());
    net.shutdown().await;
}

/// A clock that runs `offset` ahead of the system's.
fn test_clock(offset: Arc<AtomicU64>) -> InviteOptions {
    InviteOptions {
        clock: Some(Arc::new(move || {
            system_ms() + offset.load(Ordering::Relaxed)
        })),
        numbers: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_sharing_numbers_never_mix() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Party> = ["alice", "carol", "dave", "bob", "erin"]
        .iter()
        .map(|name| Party::new(dir.path(), name))
        .collect();
    let mut online = Vec::new();
    for party in &people {
        online.push(party.online(&net).await);
    }
    let [alice_m, carol_m, dave_m, bob_m, erin_m] = &online[..] else {
        unreachable!()
    };
    // Two numbers only: the second inviter finds the first's number taken and takes the other;
    // a third finds none free.
    let two = InviteOptions {
        numbers: Some(40..=41),
        ..InviteOptions::default()
    };
    let from_alice = invite::invite(alice_m, two.clone()).await.unwrap();
    let from_carol = invite::invite(carol_m, two.clone()).await.unwrap();
    let numbers = [from_alice.code().number(), from_carol.code().number()];
    assert_ne!(numbers[0], numbers[1]);
    assert!(numbers.iter().all(|n| (40..=41).contains(n)), "{numbers:?}");
    let none = invite::invite(dave_m, two).await;
    assert!(
        matches!(none, Err(InviteError::NoFreeNumber)),
        "{:?}",
        none.err()
    );

    // Both accepted at once, each by its own accepter: each pair is filed, nothing crosses.
    let (alice_code, carol_code) = (from_alice.code().clone(), from_carol.code().clone());
    let (a, c, b, e) = tokio::join!(
        from_alice.wait(alice_m),
        from_carol.wait(carol_m),
        invite::accept(bob_m, &alice_code, InviteOptions::default()),
        invite::accept(erin_m, &carol_code, InviteOptions::default()),
    );
    assert_eq!(a.unwrap().contact.account_id, people[3].id);
    assert_eq!(c.unwrap().contact.account_id, people[4].id);
    assert_eq!(b.unwrap().contact.account_id, people[0].id);
    assert_eq!(e.unwrap().contact.account_id, people[1].id);
    assert!(dave_m.store().contacts().unwrap().is_empty());
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused_with_its_own_message() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    let (alice_m, bob_m): (Messenger, Messenger) =
        (alice.online(&net).await, bob.online(&net).await);
    let alice_offset = Arc::new(AtomicU64::new(0));
    let pending = invite::invite(&alice_m, test_clock(alice_offset.clone()))
        .await
        .unwrap();
    let code = pending.code().clone();
    // Eleven minutes later (by Bob's test clock) the code is refused.
    let eleven = Arc::new(AtomicU64::new(11 * 60 * 1000));
    let late = invite::accept(&bob_m, &code, test_clock(eleven)).await;
    let error = late.unwrap_err();
    assert!(matches!(error, InviteError::Expired), "{error:?}");
    assert_eq!(
        error.to_string(),
        "this code has expired (a code lasts 10 minutes); make a new one"
    );
    // Alice's side gives up when her clock passes ten minutes, and withdraws the code.
    alice_offset.store(10 * 60 * 1000 + 1, Ordering::Relaxed);
    let waited = pending.wait(&alice_m).await;
    assert!(matches!(waited, Err(InviteError::Expired)), "{waited:?}");
    let now = invite::accept(&bob_m, &code, InviteOptions::default()).await;
    assert!(matches!(now, Err(InviteError::Withdrawn)), "{now:?}");
    assert!(bob_m.store().contacts().unwrap().is_empty());
    net.shutdown().await;
}
