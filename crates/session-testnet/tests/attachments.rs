//! Attachments kept by the swarms, on a real network of 12 nodes (3 swarms of 4) through
//! 3-hop onion paths: a file sent to a recipient who is offline during the upload arrives
//! bit-identical while a swarm member holding chunks is killed mid-transfer; an interrupted
//! download resumes without refetching; a node returning wrong bytes is bypassed; the nodes hold
//! only ciphertext under names that do not link two senders of the same file.
//!
//! `SESSION_ATTACHMENT_MB` sets the size of the large-file test (default 8).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use session_client::attachments::{Attachments, Manifest, Progress};
use session_client::{ClientConfig, MessageStore, Messenger, OnionClient};
use session_testnet::client::TestAccount;
use session_testnet::{Testnet, TestnetConfig};

fn client_config(net: &Testnet) -> ClientConfig {
    let mut config = net.client_config();
    config.local_addr = Some(IpAddr::from([127, 0, 0, 2]));
    config.timeout = Duration::from_secs(10);
    config
}

/// Deterministic, incompressible-looking file contents.
fn file(len: usize, salt: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(salt);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn none(_: Progress) {}

/// Every blob row of a node's database: (name, data).
fn blob_rows(net: &Testnet, index: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = net
        .base_dir()
        .join(format!("node-{index:02}"))
        .join("blobs.sqlite");
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT name, data FROM blobs").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn messenger(net: &Testnet, account: &TestAccount, dir: &Path) -> Messenger {
    let client = OnionClient::connect(client_config(net)).await.unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let store = MessageStore::open(&dir.join("messages.sqlite")).unwrap();
    let keys = session_crypto::Ed25519Seed::from_bytes(*account.keys.seed_bytes()).key_pair();
    Messenger::new(keys, store, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_arrives_intact_while_a_chunk_holder_dies_and_the_recipient_was_offline() {
    let mb: usize = std::env::var("SESSION_ATTACHMENT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (TestAccount::from_byte(61), TestAccount::from_byte(62));
    let data = file(mb * 1_000_000, 1);

    // Alice uploads while Bob is offline; a member of the first chunk's swarm dies at a quarter.
    let alice_m = messenger(&net, &alice, &dir.path().join("alice")).await;
    let sender = Attachments::new(alice_m.client(), dir.path().join("alice/transfers"));
    let done = AtomicUsize::new(0);
    let total = AtomicUsize::new(usize::MAX);
    let progress = |p: Progress| {
        done.store(p.done, Ordering::SeqCst);
        total.store(p.total, Ordering::SeqCst);
    };
    let started = Instant::now();
    let upload = sender.upload(
        &alice.keys,
        &data,
        "holiday.bin",
        "application/octet-stream",
        &progress,
    );
    let victim = std::cell::Cell::new(None);
    let killer = async {
        while done.load(Ordering::SeqCst) * 4 < total.load(Ordering::SeqCst).max(4) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        victim.set(Some(()));
    };
    tokio::pin!(upload);
    let manifest = tokio::select! {
        m = &mut upload => m.unwrap(),
        () = killer => {
            // Kill a member holding the chunks stored so far, then let the upload finish.
            let rows_before: Vec<usize> = (0..12).filter(|i| !blob_rows(&net, *i).is_empty()).collect();
            net.kill(rows_before[0]).unwrap();
            upload.await.unwrap()
        }
    };
    assert!(
        victim.get().is_some(),
        "the upload ended before a quarter was reported"
    );
    let upload_s = started.elapsed().as_secs_f64();
    alice_m
        .send(&bob.keys.account_id(), &manifest.to_message())
        .await
        .unwrap();

    // Bob comes online later, gets the message, and fetches the file.
    let bob_m = messenger(&net, &bob, &dir.path().join("bob")).await;
    let report = bob_m.sync().await.unwrap();
    let text = &report
        .new
        .iter()
        .find(|m| m.text.starts_with("session-attachment:"))
        .unwrap()
        .text;
    let received = Manifest::from_message(text).unwrap().unwrap();
    assert_eq!(received.name, "holiday.bin");
    let receiver = Attachments::new(bob_m.client(), dir.path().join("bob/transfers"));
    let started = Instant::now();
    let got = receiver.download(&received, &none).await.unwrap();
    let download_s = started.elapsed().as_secs_f64();
    assert!(got.data == data, "the file arrived altered");
    eprintln!(
        "{mb} MB: upload {upload_s:.1} s ({:.2} MB/s), download {download_s:.1} s ({:.2} MB/s), {} chunks, indirect manifest: {}",
        mb as f64 / upload_s,
        mb as f64 / download_s,
        got.fetched,
        received.indirect
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_and_wrong_bytes_are_bypassed() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = TestAccount::from_byte(71);
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let data = file(1_500_000, 2);
    let sender = Attachments::new(&client, dir.path().join("up"));
    let manifest = sender
        .upload(
            &alice.keys,
            &data,
            "a.bin",
            "application/octet-stream",
            &none,
        )
        .await
        .unwrap();
    let chunks = manifest.chunks.len();
    assert!(chunks >= 16);

    // Interrupted at half: the download is dropped once half the chunks are on disk.
    let state = dir.path().join("down");
    let receiver = Attachments::new(&client, &state).with_parallel(2);
    let done = AtomicUsize::new(0);
    let progress = |p: Progress| done.store(p.done, Ordering::SeqCst);
    tokio::select! {
        r = receiver.download(&manifest, &progress) => panic!("finished before the interruption: {:?}", r.map(|d| d.fetched)),
        () = async { while done.load(Ordering::SeqCst) < chunks / 2 { tokio::time::sleep(Duration::from_millis(5)).await } } => {}
    }
    // A new instance (as after a restart) fetches only what is missing.
    let on_disk = std::fs::read_dir(state.join(format!("down-{}", manifest.id())))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_none())
        .count();
    assert!(
        on_disk >= chunks / 2 && on_disk < chunks,
        "{on_disk} of {chunks}"
    );
    let resumed = Attachments::new(&client, &state)
        .download(&manifest, &none)
        .await
        .unwrap();
    assert_eq!(resumed.fetched, chunks - on_disk);
    assert!(resumed.data == data);

    // Three of the four members of every chunk's swarm now hold other bytes under its name.
    let names: Vec<[u8; 32]> = manifest
        .chunks
        .iter()
        .map(|c| session_wire::parse_blob_name(c).unwrap())
        .collect();
    for name in &names {
        for &member in net.swarm_members_for(name).iter().skip(1) {
            let db = net
                .base_dir()
                .join(format!("node-{member:02}"))
                .join("blobs.sqlite");
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            conn.execute(
                "UPDATE blobs SET data = X'00112233' WHERE name = ?1",
                [&name[..]],
            )
            .unwrap();
        }
    }
    let checked = Attachments::new(&client, dir.path().join("down2"))
        .download(&manifest, &none)
        .await
        .unwrap();
    assert!(checked.data == data);
    assert!(
        checked.bad_copies > 0,
        "no wrong copy was met (each chunk had three)"
    );
    eprintln!(
        "wrong copies met and bypassed: {} over {chunks} chunks",
        checked.bad_copies
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_hold_only_ciphertext_and_two_senders_are_unlinkable() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let (alice, carol, bob) = (
        TestAccount::from_byte(81),
        TestAccount::from_byte(82),
        TestAccount::from_byte(83),
    );
    let data = file(300_000, 3);
    let name = "secret-plans.pdf";
    let a = Attachments::new(&client, dir.path().join("a"))
        .upload(&alice.keys, &data, name, "application/pdf", &none)
        .await
        .unwrap();
    let c = Attachments::new(&client, dir.path().join("c"))
        .upload(&carol.keys, &data, name, "application/pdf", &none)
        .await
        .unwrap();
    assert!(
        a.chunks.iter().all(|n| !c.chunks.contains(n)),
        "two senders' chunks share a name"
    );
    // The same sender's re-upload is identical (deduplicates on the nodes).
    let again = Attachments::new(&client, dir.path().join("a2"))
        .upload(&alice.keys, &data, name, "application/pdf", &none)
        .await
        .unwrap();
    assert_eq!(again.chunks, a.chunks);

    let ids: Vec<Vec<u8>> = [&alice, &carol, &bob]
        .iter()
        .flat_map(|acc| {
            let id = acc.keys.account_id();
            [
                id.to_string().into_bytes(),
                id.x25519().as_bytes().to_vec(),
                acc.keys.ed25519_public().as_bytes().to_vec(),
            ]
        })
        .collect();
    let mut rows = 0;
    for index in 0..12 {
        for (_, blob) in blob_rows(&net, index) {
            rows += 1;
            assert!(
                !contains(&blob, name.as_bytes()),
                "a chunk holds the file name"
            );
            assert!(
                !contains(&blob, &data[1000..1032]),
                "a chunk holds plaintext"
            );
            for id in &ids {
                assert!(!contains(&blob, id), "a chunk holds an account key");
            }
        }
    }
    // Each chunk on every member of its swarm (4), both uploads.
    assert_eq!(rows, 4 * (a.chunks.len() + c.chunks.len()));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_was_down_catches_up_on_the_blobs_it_missed() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let alice = TestAccount::from_byte(91);
    let data = file(200_000, 4);
    // The swarm of the first chunk, known before the upload (the format is deterministic).
    let encrypted = session_crypto::attachment::encrypt(
        &alice.keys.seed_bytes(),
        &data,
        session_crypto::attachment::Domain::Attachment,
        None,
    )
    .unwrap();
    let first =
        session_wire::blob_name(&encrypted.data[..session_client::attachments::CHUNK_BYTES]);
    let members = net.swarm_members_for(&first);
    let down = members[0];
    net.stop(down).await.unwrap();
    let manifest = Attachments::new(&client, dir.path().join("up"))
        .upload(&alice.keys, &data, "f", "x/y", &none)
        .await
        .unwrap();
    assert_eq!(manifest.chunks[0], hex::encode(first));
    assert!(!blob_rows(&net, down)
        .iter()
        .any(|(n, _)| n[..] == first[..]));
    net.restart(down).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !blob_rows(&net, down)
        .iter()
        .any(|(n, _)| n[..] == first[..])
    {
        assert!(
            Instant::now() < deadline,
            "the restarted member never pulled the blob"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_follow_their_swarms_when_the_network_grows() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = TestAccount::from_byte(95);
    let data = file(1_000_000, 5);
    let manifest = {
        let client = OnionClient::connect(client_config(&net)).await.unwrap();
        Attachments::new(&client, dir.path().join("up"))
            .upload(&alice.keys, &data, "g", "x/y", &none)
            .await
            .unwrap()
    };
    let names: Vec<[u8; 32]> = manifest
        .chunks
        .iter()
        .map(|c| session_wire::parse_blob_name(c).unwrap())
        .collect();
    let before: Vec<Vec<usize>> = names.iter().map(|n| net.swarm_members_for(n)).collect();
    net.add_nodes(12).await.unwrap();
    let after: Vec<Vec<usize>> = names.iter().map(|n| net.swarm_members_for(n)).collect();
    assert_ne!(before, after, "growing the network moved no chunk");
    // Every member of each chunk's new swarm comes to hold it (hand-over or catch-up).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let missing = names
            .iter()
            .zip(&after)
            .flat_map(|(name, members)| members.iter().map(move |m| (name, *m)))
            .filter(|(name, m)| !blob_rows(&net, *m).iter().any(|(n, _)| n[..] == name[..]))
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} copies never reached the new swarms"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let got = Attachments::new(&client, dir.path().join("down"))
        .download(&manifest, &none)
        .await
        .unwrap();
    assert!(got.data == data);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_too_large_for_a_message_travels_as_a_blob() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = OnionClient::connect(client_config(&net)).await.unwrap();
    let alice = TestAccount::from_byte(97);
    let data = file(700_000, 6);
    let manifest = Attachments::new(&client, dir.path().join("up"))
        .with_max_inline_manifest(300)
        .upload(&alice.keys, &data, "big.bin", "x/y", &none)
        .await
        .unwrap();
    assert!(manifest.indirect);
    assert_eq!(
        (manifest.name.as_str(), manifest.size),
        ("big.bin", 700_000)
    );
    assert!(manifest.to_message().len() < 400);
    let parsed = Manifest::from_message(&manifest.to_message())
        .unwrap()
        .unwrap();
    let got = Attachments::new(&client, dir.path().join("down"))
        .download(&parsed, &none)
        .await
        .unwrap();
    assert!(got.data == data);
    // A receiver with a lower limit refuses before fetching anything.
    let refused = Attachments::new(&client, dir.path().join("small"))
        .with_max_file_bytes(100_000)
        .download(&parsed, &none)
        .await;
    assert!(refused.is_err());
    net.shutdown().await;
}
