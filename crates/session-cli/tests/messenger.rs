//! The messenger library end to end on a local network of real nodes: separate profiles,
//! onion paths, swarms, restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::Party;
use session_client::{Direction, MessageState};
use session_crypto::{Ed25519Seed, OsRng};
use session_testnet::{Testnet, TestnetConfig};

async fn network() -> Testnet {
    Testnet::start(TestnetConfig::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_delivery_both_ways_and_no_redelivery_after_a_restart() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    alice.add_contact(&bob, "bob");
    bob.add_contact(&alice, "alice");

    // Alice sends and goes away before Bob's client ever starts.
    {
        let messenger = alice.online(&net).await;
        for text in ["first", "second"] {
            let delivery = messenger.send(&bob.id, text).await.unwrap();
            assert!(
                matches!(
                    delivery.message.state,
                    MessageState::Stored { on: 4, of: 4 }
                ),
                "{:?}",
                delivery.message.state
            );
            let route = delivery.route.unwrap();
            assert_eq!(route.relays.len(), 3);
            assert!(!route.relays.contains(&route.destination));
        }
    }

    let bob_messenger = bob.online(&net).await;
    let report = bob_messenger.sync().await.unwrap();
    let texts: Vec<&str> = report.new.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    assert!(report.new.iter().all(|m| m.peer == alice.id
        && m.direction == Direction::Incoming
        && m.display_name.as_deref() == Some("alice")));
    assert_eq!(report.undecryptable, 0);
    let reply = bob_messenger.send(&alice.id, "got both").await.unwrap();
    assert!(matches!(reply.message.state, MessageState::Stored { .. }));

    let alice_messenger = alice.online(&net).await;
    let report = alice_messenger.sync().await.unwrap();
    assert_eq!(report.new.len(), 1);
    assert_eq!(report.new[0].text, "got both");
    assert_eq!(report.new[0].peer, bob.id);
    let history = alice_messenger.store().history(&bob.id, 10).unwrap();
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["first", "second", "got both"]
    );

    // Bob's client restarts: nothing is delivered again, whichever members it asks.
    drop(bob_messenger);
    let bob_messenger = bob.online(&net).await;
    for _ in 0..4 {
        assert!(bob_messenger.sync().await.unwrap().new.is_empty());
    }
    assert_eq!(
        bob_messenger.store().history(&alice.id, 10).unwrap().len(),
        3
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_arrives_once_each_in_sending_order() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    bob.add_contact(&alice, "alice");
    let sender = Arc::new(alice.online(&net).await);
    let mut sends = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (sender, to) = (sender.clone(), bob.id);
        sends.spawn(async move {
            for i in (worker..500).step_by(16) {
                let delivery = sender.send(&to, &format!("burst {i}")).await.unwrap();
                assert!(
                    matches!(delivery.message.state, MessageState::Stored { .. }),
                    "{:?}",
                    delivery.message.state
                );
            }
        });
    }
    while let Some(joined) = sends.join_next().await {
        joined.unwrap();
    }
    // The order of sending is the order of the sender's timestamps.
    let sent: Vec<String> = sender
        .store()
        .history(&bob.id, 1000)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(sent.len(), 500);

    let receiver = bob.online(&net).await;
    let mut received = Vec::new();
    for _ in 0..3 {
        received.extend(receiver.sync().await.unwrap().new);
    }
    assert_eq!(received.len(), 500, "each message once");
    let distinct: HashSet<&str> = received.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(distinct.len(), 500);
    let history: Vec<String> = receiver
        .store()
        .history(&alice.id, 1000)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(history, sent, "in order of sending timestamp");
    let stamps: Vec<u64> = receiver
        .store()
        .history(&alice.id, 1000)
        .unwrap()
        .iter()
        .map(|m| m.sent_ms)
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_lands_as_a_message_request() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (bob, carol) = (
        Party::new(dir.path(), "bob"),
        Party::new(dir.path(), "carol"),
    );
    let carol_messenger = carol.online(&net).await;
    carol_messenger
        .send(&bob.id, "hello, stranger")
        .await
        .unwrap();

    let bob_messenger = bob.online(&net).await;
    let report = bob_messenger.sync().await.unwrap();
    assert_eq!(report.new.len(), 1);
    let requests = bob_messenger.store().requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].peer, carol.id);
    assert_eq!(requests[0].display_name.as_deref(), Some("carol"));
    assert!(requests[0].is_request);
    // Accepting the request is adding the sender as a contact.
    bob_messenger
        .store()
        .add_contact(&carol.id, "Carol", 2)
        .unwrap();
    assert!(bob_messenger.store().requests().unwrap().is_empty());
    let conversations = bob_messenger.store().conversations().unwrap();
    assert_eq!(conversations[0].nickname.as_deref(), Some("Carol"));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_account_receives_what_its_swarm_holds() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let seed = Ed25519Seed::generate(&mut OsRng);
    let phrase = seed.to_phrase();
    let bob = Party::from_seed(dir.path(), "bob", &seed);
    let alice = Party::new(dir.path(), "alice");
    let alice_messenger = alice.online(&net).await;
    alice_messenger.send(&bob.id, "kept for you").await.unwrap();
    // Bob's first device read it already.
    assert_eq!(bob.online(&net).await.sync().await.unwrap().new.len(), 1);

    // A new machine: only the phrase.
    let restored_seed = Ed25519Seed::from_phrase(&phrase).unwrap();
    let restored = Party::from_seed(dir.path(), "bob-restored", &restored_seed);
    assert_eq!(restored.id, bob.id);
    let report = restored.online(&net).await.sync().await.unwrap();
    assert_eq!(report.new.len(), 1);
    assert_eq!(report.new[0].text, "kept for you");
    assert_eq!(report.new[0].peer, alice.id);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_is_recorded_with_its_reason_and_can_be_retried() {
    let mut net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    let messenger = alice.online(&net).await;
    // Bob's whole swarm is down: nothing can hold the message.
    let members = net.swarm_members_for(bob.id.x25519().as_bytes());
    for &i in &members {
        net.kill(i).unwrap();
    }
    let delivery = messenger.send(&bob.id, "are you there?").await.unwrap();
    let MessageState::Failed { reason } = &delivery.message.state else {
        panic!(
            "stored with the whole swarm down: {:?}",
            delivery.message.state
        );
    };
    assert!(!reason.is_empty());
    assert_eq!(messenger.store().unsent().unwrap().len(), 1);

    for &i in &members {
        net.restart(i).await.unwrap();
    }
    let retried = messenger.retry_unsent().await.unwrap();
    assert_eq!(retried.len(), 1);
    assert!(
        matches!(retried[0].message.state, MessageState::Stored { .. }),
        "{:?}",
        retried[0].message.state
    );
    assert!(messenger.store().unsent().unwrap().is_empty());
    let report = bob.online(&net).await.sync().await.unwrap();
    assert_eq!(report.new.len(), 1);
    assert_eq!(report.new[0].text, "are you there?");
    net.shutdown().await;
}

/// Every byte of every row of a node's database, one buffer per table, leaving out the rows
/// of the account `skip` owns (its own swarm's data).
fn dump_tables(db: &std::path::Path, skip: &[u8]) -> Vec<(String, Vec<String>, Vec<u8>)> {
    use rusqlite::OptionalExtension as _;
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let skipped: i64 = conn
        .query_row("SELECT id FROM owners WHERE pubkey = ?1", [skip], |r| {
            r.get(0)
        })
        .optional()
        .unwrap()
        .unwrap_or(-1);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let probe = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = probe.column_names().iter().map(|c| c.to_string()).collect();
        drop(probe);
        let filter = match (table.as_str(), columns.iter().any(|c| c == "owner")) {
            ("owners", _) => format!(" WHERE id IS NOT {skipped}"),
            (_, true) => format!(" WHERE owner IS NOT {skipped}"),
            _ => String::new(),
        };
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\"{filter}"))
            .unwrap();
        let mut bytes = Vec::new();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns.len() {
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        bytes.extend_from_slice(t)
                    }
                    rusqlite::types::ValueRef::Integer(n) => {
                        bytes.extend_from_slice(n.to_string().as_bytes())
                    }
                    _ => {}
                }
                bytes.push(0);
            }
        }
        out.push((table, columns, bytes));
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_holds_nothing_but_the_recipient() {
    use base64::Engine as _;
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Party::new(dir.path(), "alice"),
        Party::new(dir.path(), "bob"),
    );
    let plaintext = "the eagle lands at midnight";
    let delivery = alice
        .online(&net)
        .await
        .send(&bob.id, plaintext)
        .await
        .unwrap();
    assert!(matches!(
        delivery.message.state,
        MessageState::Stored { on: 4, of: 4 }
    ));

    let alice_keys = alice.profile.account().load(None).unwrap();
    let ed = *alice_keys.ed25519_public().as_bytes();
    let id33 = alice.id.to_bytes33();
    let forbidden: Vec<(&str, Vec<u8>)> = vec![
        ("the plaintext", plaintext.as_bytes().to_vec()),
        ("the sender's display name", b"alice".to_vec()),
        (
            "the sender's Account ID (hex)",
            alice.id.to_string().into_bytes(),
        ),
        ("the sender's X25519 key (raw)", id33[1..].to_vec()),
        (
            "the sender's Ed25519 key (hex)",
            alice_keys.ed25519_public().to_string().into_bytes(),
        ),
        ("the sender's Ed25519 key (raw)", ed.to_vec()),
        (
            "the sender's Ed25519 key (base64)",
            base64::engine::general_purpose::STANDARD
                .encode(ed)
                .into_bytes(),
        ),
    ];
    // Every table a node has, and its columns: messages and what replication needs, keyed by
    // an opaque owner number; no user table.
    let allowed_tables = [
        (
            "owners",
            vec![
                "id",
                "pubkey",
                "inbox_count",
                "inbox_bytes",
                "deposit_tokens",
                "deposit_updated",
            ],
        ),
        (
            "messages",
            vec![
                "id",
                "owner",
                "namespace",
                "hash",
                "timestamp",
                "expiry",
                "data",
                "proof",
            ],
        ),
        (
            "journal",
            vec!["id", "op", "owner", "hash", "expiry", "proof"],
        ),
        ("tombstones", vec!["hash", "expiry"]),
        ("peer_cursors", vec!["peer", "cursor"]),
        (
            "revoked_subaccounts",
            vec!["owner", "token", "revoked", "changed_at"],
        ),
        (
            "range_tombstones",
            vec!["owner", "namespace", "up_to", "expiry"],
        ),
        ("sqlite_sequence", vec!["name", "seq"]),
    ];
    let members = net.swarm_members_for(bob.id.x25519().as_bytes());
    assert_eq!(members.len(), 4);
    for &i in &members {
        let db = net
            .base_dir()
            .join(format!("node-{i:02}"))
            .join(session_node::DATABASE_FILE);
        // Alice's own swarm (the copy of her sent message and her config records, for her
        // other devices) may share nodes with Bob's: those rows are hers, apart by owner.
        let tables = dump_tables(&db, &id33);
        let all: Vec<u8> = tables.iter().flat_map(|t| t.2.clone()).collect();
        // Her own rows (which name her, as every account's own swarm knows it) still hold
        // neither the text nor her name: the copies are ciphertext too.
        let everything: Vec<u8> = dump_tables(&db, &[])
            .into_iter()
            .flat_map(|t| t.2)
            .collect();
        for (what, bytes) in &forbidden[..2] {
            assert!(!contains(&everything, bytes), "node {i} stores {what}");
        }
        assert!(
            contains(&all, &bob.id.to_bytes33()),
            "node {i} does not hold Bob's message"
        );
        for (what, bytes) in &forbidden {
            assert!(!contains(&all, bytes), "node {i} stores {what}");
        }
        for (table, columns, _) in &tables {
            let expected = allowed_tables
                .iter()
                .find(|(name, _)| name == table)
                .unwrap_or_else(|| panic!("node {i} has an unexpected table {table}"));
            assert_eq!(columns, &expected.1, "columns of {table}");
        }
        // Once the message expires, the node no longer knows Bob existed.
        net.node(i)
            .unwrap()
            .storage()
            .sweep_expired(u64::MAX / 4)
            .unwrap();
        let after: Vec<u8> = dump_tables(&db, &id33)
            .into_iter()
            .flat_map(|t| t.2)
            .collect();
        assert!(
            !contains(&after, &bob.id.to_bytes33()[1..]),
            "node {i} remembers Bob"
        );
    }
    net.shutdown().await;
}
