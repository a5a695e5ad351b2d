//! One account on several devices, on a local network of real nodes: sent messages on every
//! device, synced contacts and names, concurrent edits, catching up, linking with the SAS
//! flow, removal, restore, and what the swarm's nodes hold afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use common::Party;
use session_client::devices_link::{LinkRequest, PendingLink};
use session_client::{Direction, Messenger, MessengerError, OnionClient, PathPolicy};
use session_crypto::{Ed25519Seed, OsRng};
use session_testnet::{Testnet, TestnetConfig};

async fn network() -> Testnet {
    Testnet::start(TestnetConfig::default()).await.unwrap()
}

/// Two devices of one account (two profiles from the same seed) and a friend.
fn account(dir: &std::path::Path) -> (Ed25519Seed, Party, Party, Party) {
    let seed = Ed25519Seed::generate(&mut OsRng);
    let a = Party::from_seed(dir, "alice-laptop", &seed);
    let b = Party::from_seed(dir, "alice-phone", &seed);
    let bob = Party::new(dir, "bob");
    (seed, a, b, bob)
}

fn nickname(m: &Messenger, peer: &session_crypto::AccountId) -> Option<String> {
    m.store().contact(peer).unwrap().map(|c| c.nickname)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_messages_show_on_every_device_once_and_replies_reach_both() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, a, b, bob) = account(dir.path());
    let (a, b, bob_m) = (
        a.online(&net).await,
        b.online(&net).await,
        bob.online(&net).await,
    );

    let sent = a.send(&bob.id, "sent from the laptop").await.unwrap();
    let report = b.sync().await.unwrap();
    assert_eq!(report.new.len(), 1, "{:?}", report.new);
    let copy = &report.new[0];
    assert_eq!(copy.direction, Direction::Outgoing);
    assert_eq!(copy.peer, bob.id);
    assert_eq!(copy.text, "sent from the laptop");
    assert_eq!(copy.sent_ms, sent.message.sent_ms);
    // Never twice, on either device, however often they sync.
    for _ in 0..2 {
        assert!(b.sync().await.unwrap().new.is_empty());
        assert!(a.sync().await.unwrap().new.is_empty());
    }
    assert_eq!(b.store().history(&bob.id, 10).unwrap().len(), 1);
    assert_eq!(a.store().history(&bob.id, 10).unwrap().len(), 1);
    // Bob gets the message once (the copy went to the account's own swarm only).
    let got = bob_m.sync().await.unwrap();
    assert_eq!(got.new.len(), 1);
    assert_eq!(got.new[0].direction, Direction::Incoming);

    bob_m.send(&a.account_id(), "reply to both").await.unwrap();
    for device in [&a, &b] {
        let report = device.sync().await.unwrap();
        assert_eq!(report.new.len(), 1);
        assert_eq!(report.new[0].text, "reply to both");
        assert_eq!(report.new[0].direction, Direction::Incoming);
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_names_and_concurrent_renames_converge_and_an_offline_device_catches_up() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, a, b, bob) = account(dir.path());
    let (a, b) = (a.online(&net).await, b.online(&net).await);
    let carol = Ed25519Seed::generate(&mut OsRng).key_pair().account_id();

    // A contact added on A appears on B; so does A's display name and a block.
    a.store().add_contact(&bob.id, "Bobby", 1).unwrap();
    a.set_display_name("Alice on tour").unwrap();
    a.store().block(&carol, 2).unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(nickname(&b, &bob.id).as_deref(), Some("Bobby"));
    assert_eq!(b.display_name().unwrap().as_deref(), Some("Alice on tour"));
    assert!(b.store().is_blocked(&carol).unwrap());

    // Both rename Bob at once, neither having seen the other's rename: both converge.
    a.store().add_contact(&bob.id, "Bob (laptop)", 3).unwrap();
    b.store().add_contact(&bob.id, "Bob (phone)", 3).unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    a.sync().await.unwrap();
    let (on_a, on_b) = (nickname(&a, &bob.id), nickname(&b, &bob.id));
    assert_eq!(on_a, on_b, "the two devices disagree");
    assert!(matches!(
        on_a.as_deref(),
        Some("Bob (laptop)" | "Bob (phone)")
    ));

    // Message-request decisions made on one device hold on the other: B declines Carol's
    // request, A accepts Dave's.
    let (carol_p, dave_p) = (
        Party::new(dir.path(), "carol"),
        Party::new(dir.path(), "dave"),
    );
    carol_p
        .online(&net)
        .await
        .send(&a.account_id(), "hi, I am Carol")
        .await
        .unwrap();
    dave_p
        .online(&net)
        .await
        .send(&a.account_id(), "hi, I am Dave")
        .await
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(a.store().requests().unwrap().len(), 2);
    assert_eq!(b.store().requests().unwrap().len(), 2);
    b.store().delete_conversation(&carol_p.id).unwrap();
    a.store().add_contact(&dave_p.id, "Dave", 5).unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    a.sync().await.unwrap();
    for device in [&a, &b] {
        assert!(device.store().requests().unwrap().is_empty());
        assert!(device.store().history(&carol_p.id, 10).unwrap().is_empty());
        assert_eq!(nickname(device, &dave_p.id).as_deref(), Some("Dave"));
    }
    a.store().remove_contact("Dave").unwrap();
    a.push_pending().await.unwrap();

    // B goes offline while A makes 50 changes, each pushed; then B catches up.
    drop(b);
    let mut expected = Vec::new();
    for i in 0..50 {
        let who = Ed25519Seed::generate(&mut OsRng).key_pair().account_id();
        a.store()
            .add_contact(&who, &format!("friend {i:02}"), 4)
            .unwrap();
        let pushed = a.push_pending().await.unwrap();
        assert_eq!(pushed.push_failures, 0);
        expected.push(who);
    }
    let b = Party {
        profile: session_client::Profile::open(dir.path().join("alice-phone")).unwrap(),
        id: a.account_id(),
    }
    .online(&net)
    .await;
    let report = b.sync().await.unwrap();
    println!(
        "catching up after 50 changes: {} records merged in {} ms",
        report.account.merged, report.account.elapsed_ms
    );
    assert!(report.account.merged >= 50, "{:?}", report.account);
    let mut on_a = a.store().contacts().unwrap();
    let mut on_b = b.store().contacts().unwrap();
    on_a.sort_by_key(|c| c.account_id.to_string());
    on_b.sort_by_key(|c| c.account_id.to_string());
    assert_eq!(on_a, on_b);
    assert_eq!(on_b.len(), 51);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_linked_with_the_sas_flow_sends_and_receives_and_a_removed_one_is_told() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, a, b, bob) = account(dir.path());
    let (a_m, b_m, bob_m) = (
        a.online(&net).await,
        b.online(&net).await,
        bob.online(&net).await,
    );
    a_m.store().add_contact(&bob.id, "bob", 1).unwrap();
    a_m.sync().await.unwrap();

    // The new device shows a request; the old one parses the pasted text, both compute the
    // same SAS from the same bytes, the old one approves.
    let mut config = net.client_config();
    config.path_policy = PathPolicy::DistinctNodes;
    let new_client = OnionClient::connect(config).await.unwrap();
    let link = PendingLink::new("tablet", "cli", new_client.now_ms());
    let (request, bytes) = LinkRequest::parse(&link.request.to_text()).unwrap();
    assert_eq!(
        session_client::devices_link::sas_line(&bytes).unwrap(),
        session_client::devices_link::sas_line(&link.request.to_bytes()).unwrap()
    );
    // Anyone who saw the request can write to its mailbox: junk there does not stop linking.
    let mailbox: session_crypto::AccountId = request.mailbox.parse().unwrap();
    bob_m.send(&mailbox, "not a seed at all").await.unwrap();
    a_m.approve_link(&request).await.unwrap();
    let seed = tokio::time::timeout(
        Duration::from_secs(60),
        link.wait_for_approval(&new_client, Duration::from_millis(300)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(seed.key_pair().account_id(), a.id);
    // An expired request is refused by the approving device.
    let mut old = request.clone();
    old.created_ms -= 11 * 60 * 1000;
    assert!(a_m.approve_link(&old).await.is_err());

    let tablet = Party::from_seed(dir.path(), "alice-tablet", &seed);
    // What `session devices link` does with the name given to the request.
    session_client::devices::set_identity(
        &tablet.profile.message_store().unwrap(),
        &link.request.name,
        &link.request.kind,
    )
    .unwrap();
    let tablet_m = tablet.online(&net).await;
    tablet_m.sync().await.unwrap();
    assert_eq!(nickname(&tablet_m, &bob.id).as_deref(), Some("bob"));
    tablet_m.send(&bob.id, "from the tablet").await.unwrap();
    let got = bob_m.sync().await.unwrap();
    assert_eq!(got.new.len(), 1);
    assert_eq!(got.new[0].text, "from the tablet");
    bob_m.send(&a.id, "hello tablet").await.unwrap();
    let report = tablet_m.sync().await.unwrap();
    assert!(report.new.iter().any(|m| m.text == "hello tablet"));

    // Every device sees the list; A removes B; B is told and stops syncing.
    b_m.sync().await.unwrap();
    a_m.sync().await.unwrap();
    let list = a_m.devices().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().any(|d| d.name == "tablet"));
    let phone = list
        .iter()
        .find(|d| !d.this_device && d.name != "tablet")
        .unwrap()
        .clone();
    a_m.remove_device(&phone.id[..6]).await.unwrap();
    assert!(matches!(
        b_m.sync().await,
        Err(MessengerError::DeviceRemoved)
    ));
    assert!(matches!(
        b_m.sync().await,
        Err(MessengerError::DeviceRemoved)
    ));
    tablet_m.sync().await.unwrap();
    assert!(tablet_m
        .devices()
        .unwrap()
        .iter()
        .any(|d| d.id == phone.id && d.removed));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_restore_brings_back_contacts_names_state_and_both_directions_of_history() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (seed, a, _, bob) = account(dir.path());
    let (a_m, bob_m) = (a.online(&net).await, bob.online(&net).await);
    let nick = "Robert the Builder";
    let name = "Alice Wonderland";
    let plaintext_out = "the eagle lands at midnight";
    let plaintext_in = "the owl flies at dawn";
    a_m.store().add_contact(&bob.id, nick, 1).unwrap();
    a_m.set_display_name(name).unwrap();
    a_m.send(&bob.id, plaintext_out).await.unwrap();
    bob_m.sync().await.unwrap();
    bob_m.send(&a.id, plaintext_in).await.unwrap();
    a_m.sync().await.unwrap();
    a_m.store().mark_read(&bob.id).unwrap();
    session_client::config_sync::set_conversation_flag(
        &a_m.store(),
        &bob.id,
        session_client::config_sync::F_PINNED,
        true,
    )
    .unwrap();
    a_m.sync().await.unwrap();

    // A new computer: the phrase only.
    let restored = Party {
        profile: session_client::Profile::open(dir.path().join("restored")).unwrap(),
        id: a.id,
    };
    restored
        .profile
        .account()
        .create(&seed, None, common::FAST_KDF)
        .unwrap();
    let r_m = restored.online(&net).await;
    r_m.sync().await.unwrap();
    assert_eq!(nickname(&r_m, &bob.id).as_deref(), Some(nick));
    assert_eq!(r_m.display_name().unwrap().as_deref(), Some(name));
    let history: Vec<(Direction, String)> = r_m
        .store()
        .history(&bob.id, 10)
        .unwrap()
        .into_iter()
        .map(|m| (m.direction, m.text))
        .collect();
    assert_eq!(
        history,
        [
            (Direction::Outgoing, plaintext_out.to_string()),
            (Direction::Incoming, plaintext_in.to_string())
        ]
    );
    let inbox = r_m.store().conversations().unwrap();
    assert_eq!(inbox[0].unread, 0, "the read mark came back");
    assert!(
        session_client::config_sync::conversation_state(&r_m.store(), &bob.id)
            .unwrap()
            .pinned
    );

    // What the swarms' nodes hold: no plaintext, nickname, display name or contact Account
    // ID, anywhere; every config record a bucket size.
    let forbidden: Vec<(&str, Vec<u8>)> = vec![
        ("a plaintext", plaintext_out.as_bytes().to_vec()),
        ("a plaintext", plaintext_in.as_bytes().to_vec()),
        ("the nickname", nick.as_bytes().to_vec()),
        ("the display name", name.as_bytes().to_vec()),
        ("the contact's Account ID", bob.id.to_string().into_bytes()),
        (
            "the contact's X25519 key",
            bob.id.to_bytes33()[1..].to_vec(),
        ),
    ];
    let mut members = net.swarm_members_for(a.id.x25519().as_bytes());
    members.extend(net.swarm_members_for(bob.id.x25519().as_bytes()));
    members.sort_unstable();
    members.dedup();
    let mut config_sizes = std::collections::BTreeMap::<i64, Vec<usize>>::new();
    for &i in &members {
        let db = net
            .base_dir()
            .join(format!("node-{i:02}"))
            .join(session_node::DATABASE_FILE);
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for table in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for (c, column) in names.iter().enumerate() {
                    let mut bytes = match row.get_ref(c).unwrap() {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            t.to_vec()
                        }
                        _ => continue,
                    };
                    // A node of Bob's swarm knows Bob as an owner (the owners table, and his
                    // own signed store requests kept as proofs name him as the owner): that
                    // is all it may know of him.
                    if column == "proof" {
                        let owner = format!("\"pubkey\":\"{}\"", bob.id);
                        bytes = String::from_utf8_lossy(&bytes)
                            .replace(&owner, "")
                            .into_bytes();
                    }
                    for (what, needle) in &forbidden {
                        if table == "owners" && what.starts_with("the contact's") {
                            continue;
                        }
                        assert!(
                            !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                            "node {i} table {table} column {column} holds {what}: {}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                }
            }
        }
        let mut stmt = conn
            .prepare(
                "SELECT namespace, length(data) FROM messages WHERE namespace IN (2, 3, 4, 6, 7)",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as usize))
            })
            .unwrap();
        for row in rows {
            let (namespace, len) = row.unwrap();
            config_sizes.entry(namespace).or_default().push(len);
        }
    }
    println!("config record sizes by namespace: {config_sizes:?}");
    for namespace in [2, 3, 4, 6, 7] {
        assert!(
            config_sizes.contains_key(&namespace),
            "no records in {namespace}"
        );
    }
    for (namespace, sizes) in &config_sizes {
        for &len in sizes {
            assert!(
                len % 256 == 0 && len <= 5120,
                "namespace {namespace}: {len} bytes"
            );
        }
    }
    // Records of every kind (profile, contact, conversation, device, device key) fall in the same
    // (smallest) bucket: a node cannot tell them apart by size.
    for namespace in [2, 3, 4, 6, 7] {
        assert!(
            config_sizes[&namespace].iter().all(|&len| len == 256),
            "{config_sizes:?}"
        );
    }
    net.shutdown().await;
}

/// The X25519 halves of the account keys a device holds.
fn held_x25519(m: &Messenger) -> Vec<[u8; 32]> {
    m.held_account_keys()
        .unwrap()
        .iter()
        .map(|k| *k.public().x25519().as_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_reads_v2_and_a_removed_device_lacks_the_key_made_after() {
    let net = network().await;
    let dir = tempfile::tempdir().unwrap();
    let (_, a, b, bob) = account(dir.path());
    let (a, b, bob_m) = (
        a.online(&net).await,
        b.online(&net).await,
        bob.online(&net).await,
    );
    // Each device learns the other's share key, then takes the keys the other made.
    for _ in 0..2 {
        a.sync().await.unwrap();
        b.sync().await.unwrap();
    }
    let (on_a, on_b) = (held_x25519(&a), held_x25519(&b));
    assert!(on_a.len() >= 2, "{on_a:?}");
    assert_eq!(
        on_a.iter().collect::<std::collections::BTreeSet<_>>(),
        on_b.iter().collect::<std::collections::BTreeSet<_>>(),
        "both devices hold the same account keys"
    );
    // Whichever key Bob finds published, both devices read what he sends (v2).
    let published = match bob_m.recipient_protocol(&a.account_id()).await {
        session_client::Recipient::V2(key) => *key.x25519().as_bytes(),
        other => panic!("Bob would not send v2: {other:?}"),
    };
    assert!(on_a.contains(&published) && on_b.contains(&published));
    bob_m
        .send(&a.account_id(), "to both devices")
        .await
        .unwrap();
    for device in [&a, &b] {
        let report = device.sync().await.unwrap();
        assert_eq!(report.new.len(), 1, "{:?}", report.new);
        assert_eq!(report.new[0].text, "to both devices");
    }

    // The laptop removes the phone: a new account key, shared with no one, is published.
    let phone = b
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.this_device)
        .unwrap();
    a.remove_device(&phone.id).await.unwrap();
    assert!(matches!(b.sync().await, Err(MessengerError::DeviceRemoved)));
    // A sender with no cached record (Carol) encrypts to the new key: the laptop holds it,
    // the removed phone never got it.
    let carol = Party::new(dir.path(), "carol");
    let carol_m = carol.online(&net).await;
    let after = match carol_m.recipient_protocol(&a.account_id()).await {
        session_client::Recipient::V2(key) => *key.x25519().as_bytes(),
        other => panic!("Carol would not send v2: {other:?}"),
    };
    assert!(held_x25519(&a).contains(&after));
    assert!(
        !held_x25519(&b).contains(&after),
        "the removed device holds the new key"
    );
    carol_m
        .send(&a.account_id(), "after the removal")
        .await
        .unwrap();
    let report = a.sync().await.unwrap();
    assert_eq!(report.new.len(), 1, "{:?}", report.new);
    assert_eq!(report.new[0].text, "after the removal");
    net.shutdown().await;
}
