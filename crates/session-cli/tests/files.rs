//! `session send-file`, `history` and `session save` with the real binary on a real network:
//! a file goes from one profile to another through the swarms and is saved bit-identical.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Output;

use session_testnet::{Testnet, TestnetConfig};

mod common;

use common::cli::{account_id_in, ok};

fn session(profile: &Path, args: &[&str]) -> Output {
    common::cli::run(profile, args, "", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_with_send_file_is_listed_and_saved_intact() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = dir.path().join("network.json");
    std::fs::write(&network, net.network_file().to_json()).unwrap();
    let network = network.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice_id = account_id_in(&ok(session(&alice, &["--network", network, "init"])));
    let bob_id = account_id_in(&ok(session(&bob, &["--network", network, "init"])));
    ok(session(&alice, &["contacts", "add", &bob_id, "bob"]));
    ok(session(&bob, &["contacts", "add", &alice_id, "alice"]));

    let data: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = dir.path().join("photo.png");
    std::fs::write(&file, &data).unwrap();
    let sent = session(&alice, &["send-file", "bob", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&sent.stderr).into_owned();
    let sent = ok(sent);
    assert!(
        sent.contains("photo.png") && sent.contains("stored on"),
        "{sent}"
    );
    assert!(
        stderr.contains("uploading [") && stderr.contains("100%"),
        "no progress bar: {stderr}"
    );

    ok(session(&bob, &["sync"]));
    let history = ok(session(&bob, &["history", "alice"]));
    assert!(
        history.contains("[attachment] photo.png (image/png, 0.4 MB)"),
        "{history}"
    );
    let number = history
        .split("session save ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = dir.path().join("saved");
    std::fs::create_dir_all(&out).unwrap();
    let saved = ok(session(&bob, &["save", &number, out.to_str().unwrap()]));
    assert!(saved.contains("saved"), "{saved}");
    assert!(std::fs::read(out.join("photo.png")).unwrap() == data);
    // Saved again: a new name, nothing overwritten.
    ok(session(&bob, &["save", &number, out.to_str().unwrap()]));
    assert!(out.join("photo.png (2)").exists());
    // A message without an attachment.
    ok(session(&bob, &["send", "alice", "thanks"]));
    let history = ok(session(&bob, &["history", "alice"]));
    assert!(history.contains("thanks"));
    net.shutdown().await;
}
