//! Session Protocol v2 end to end on a real network: forward secrecy over 20 simulated days
//! against an attacker holding the recovery phrase and the whole profile directory, and v1-only
//! and v2 clients exchanging messages both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_client::{
    manual_clock, system_ms, Clock, DatabaseKey, KdfParams, MessageStore, Messenger, OnionClient,
    PathPolicy, Profile,
};
use session_crypto::session_v2::decrypt_v2;
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use session_testnet::{Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

struct Person {
    seed: Ed25519Seed,
    dir: PathBuf,
    id: AccountId,
}

impl Person {
    fn new(base: &Path, name: &str) -> Self {
        let seed = Ed25519Seed::generate(&mut OsRng);
        let dir = base.join(name);
        let profile = Profile::open(&dir).unwrap();
        let fast = KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        profile.account().create(&seed, None, fast).unwrap();
        let id = seed.key_pair().account_id();
        Self { seed, dir, id }
    }

    async fn online(&self, net: &Testnet, key_clock: Option<Clock>) -> Messenger {
        let profile = Profile::open(&self.dir).unwrap();
        let mut config = profile.client_config(&net.network_file()).unwrap();
        config.path_policy = PathPolicy::DistinctNodes;
        let client = OnionClient::connect(config).await.unwrap();
        let messenger = Messenger::new(
            self.seed.key_pair(),
            profile.message_store().unwrap(),
            client,
        );
        match key_clock {
            Some(clock) => messenger.with_key_clock(clock),
            None => messenger,
        }
    }
}

/// Everything in `account`'s namespace 0, as its swarm holds it.
async fn swarm_inbox(messenger: &Messenger, seed: &Ed25519Seed) -> Vec<Vec<u8>> {
    let keys = seed.key_pair();
    let body = messenger
        .client()
        .request(&keys.account_id(), |now| {
            let mut params = RetrieveParams::signed(&keys, 0, now, None);
            params.max_count = Some(10_000);
            params.max_size = Some(i64::MAX);
            Request::Retrieve(params)
        })
        .await
        .unwrap();
    let page: RetrieveResponse = serde_json::from_value(body).unwrap();
    assert!(!page.more);
    page.messages
        .iter()
        .map(|m| STANDARD.decode(&m.data).unwrap())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_older_than_retention_stay_secret_from_the_phrase_and_profile() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let base = tempfile::tempdir().unwrap();
    let (alice, bob) = (
        Person::new(base.path(), "alice"),
        Person::new(base.path(), "bob"),
    );
    let start = system_ms();
    let (clock, now) = manual_clock(start);
    let alice_m = alice.online(&net, Some(Arc::clone(&clock))).await;
    let bob_m = bob.online(&net, Some(Arc::clone(&clock))).await;
    bob_m.sync().await.unwrap(); // publishes Bob's first account key

    // 20 simulated days, a message every 12 hours; Bob's client runs throughout, syncing
    // every 2 hours (rotation, publication, erasure).
    let steps = 40u64;
    let mut sent_at = Vec::new();
    for step in 1..=steps {
        for tick in (2..=12).step_by(2) {
            now.store(
                start + (step - 1) * 12 * HOUR + tick * HOUR,
                Ordering::SeqCst,
            );
            let report = bob_m.sync().await.unwrap();
            assert!(report.new.is_empty());
        }
        let text = format!("message {step}");
        let delivery = alice_m.send(&bob.id, &text).await.unwrap();
        assert!(delivery.route.is_some(), "{:?}", delivery.message.state);
        sent_at.push((text.clone(), start + step * 12 * HOUR));
        let report = bob_m.sync().await.unwrap();
        assert_eq!(report.undecryptable, 0);
        assert_eq!(
            report
                .new
                .iter()
                .map(|m| m.text.as_str())
                .collect::<Vec<_>>(),
            [text.as_str()]
        );
    }
    let end = now.load(Ordering::SeqCst);
    let held = bob_m.held_account_keys().unwrap().len();
    // Rotations every 12 h ± 1 h (seen at 2-hour syncs), each key kept 16 days after it is
    // replaced: about 30 keys.
    assert!((26..=34).contains(&held), "{held} keys held");

    // Every ciphertext that reached Bob's swarm (the nodes keep them: no real time passed).
    let recorded = swarm_inbox(&bob_m, &bob.seed).await;
    assert_eq!(recorded.len(), steps as usize);
    assert!(
        recorded.iter().all(|c| c[..2] == [0x00, 0x02]),
        "all sent as v2"
    );

    // The attacker: Bob's recovery phrase and a copy of his profile directory, taken while
    // his client runs.
    let phrase = bob.seed.to_phrase();
    let stolen_seed = Ed25519Seed::from_phrase(&phrase).unwrap();
    let stolen_dir = base.path().join("stolen");
    copy_dir(&bob.dir, &stolen_dir);
    let stolen = MessageStore::open_encrypted(
        &stolen_dir.join("messages.sqlite"),
        &DatabaseKey::from_seed(&stolen_seed),
    )
    .unwrap();
    let stolen_keys = stolen.account_keys().unwrap();
    assert_eq!(stolen_keys.len(), held);
    let identity = stolen_seed.key_pair();

    let mut secret = 0;
    let mut readable = 0;
    for ciphertext in &recorded {
        let opened = decrypt_v2(&identity, &stolen_keys, ciphertext);
        // v1 decryption with the identity key opens nothing either.
        assert!(session_wire::decode_text_message(&identity, ciphertext).is_err());
        let (text, sent) = match &opened {
            Ok(m) => {
                let text = session_wire::parse_text_content(&m.content, m.sender, None)
                    .unwrap()
                    .text;
                let sent = sent_at.iter().find(|(t, _)| *t == text).unwrap().1;
                (Some(text), sent)
            }
            Err(_) => (None, 0),
        };
        match text {
            Some(_) => {
                readable += 1;
                // Only messages whose key is still within retention open.
                assert!(
                    end - sent < 16 * DAY + 13 * HOUR + 12 * HOUR,
                    "age {}",
                    end - sent
                );
            }
            None => secret += 1,
        }
    }
    // Messages older than 16 days + one rotation (13 h at most) + one step: sent at steps
    // 1..=4 (ages 19.5 to 18 days) never open; messages younger than 16 days (steps 9..=40)
    // all open, with the keys the device still holds.
    for (text, sent) in &sent_at {
        let age = end - sent;
        let opens = recorded.iter().any(|c| {
            decrypt_v2(&identity, &stolen_keys, c).is_ok_and(|m| {
                session_wire::parse_text_content(&m.content, m.sender, None)
                    .is_ok_and(|t| t.text == *text)
            })
        });
        if age >= 16 * DAY + 13 * HOUR + 12 * HOUR {
            assert!(!opens, "{text} (age {} h) must not decrypt", age / HOUR);
        }
        if age < 16 * DAY {
            assert!(opens, "{text} (age {} h) must decrypt", age / HOUR);
        }
    }
    assert!(secret >= 4, "{secret} secret, {readable} readable");
    assert_eq!(secret + readable, steps as usize);
    drop(bob_m);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_only_and_v2_clients_exchange_messages_both_ways() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let base = tempfile::tempdir().unwrap();
    let alice = Person::new(base.path(), "alice"); // v2
    let bob = Person::new(base.path(), "bob"); // v2
    let carol = Person::new(base.path(), "carol"); // v1 only
    let alice_m = alice.online(&net, None).await;
    let bob_m = bob.online(&net, None).await;
    let carol_m = carol.online(&net, None).await.v1_only();
    for m in [&alice_m, &bob_m, &carol_m] {
        m.sync().await.unwrap();
    }
    let payload = |m: &Messenger, id: i64| m.store().outgoing_payload(id).unwrap().1;

    // v2 -> v1-only: Carol publishes no keys, so Alice sends v1.
    let sent = alice_m.send(&carol.id, "to carol").await.unwrap();
    assert_ne!(payload(&alice_m, sent.message.id)[0], 0x00, "v1 bytes");
    // v1-only -> v2: Carol sends v1; Alice reads it.
    let sent = carol_m.send(&alice.id, "to alice").await.unwrap();
    assert_ne!(payload(&carol_m, sent.message.id)[0], 0x00, "v1 bytes");
    // v2 -> v2: Bob publishes keys, so Alice sends v2.
    let sent = alice_m.send(&bob.id, "to bob").await.unwrap();
    assert_eq!(payload(&alice_m, sent.message.id)[..2], [0x00, 0x02]);
    let sent = bob_m.send(&alice.id, "to alice, v2").await.unwrap();
    assert_eq!(payload(&bob_m, sent.message.id)[..2], [0x00, 0x02]);

    let texts = |r: session_client::SyncReport| -> Vec<String> {
        assert_eq!(r.undecryptable, 0);
        r.new.into_iter().map(|m| m.text).collect()
    };
    assert_eq!(texts(carol_m.sync().await.unwrap()), ["to carol"]);
    assert_eq!(texts(bob_m.sync().await.unwrap()), ["to bob"]);
    let mut got = texts(alice_m.sync().await.unwrap());
    got.sort();
    assert_eq!(got, ["to alice", "to alice, v2"]);
    net.shutdown().await;
}
