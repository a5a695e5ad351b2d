//! `session group ...` run as users would: three profiles on a local network of real nodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};

use session_testnet::{Testnet, TestnetConfig};

#[track_caller]
fn run(profile: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_session"))
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("SESSION_PROFILE")
        .env_remove("SESSION_NETWORK")
        .env_remove("SESSION_PASSPHRASE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[track_caller]
fn ok(profile: &Path, args: &[&str]) -> String {
    let (success, text) = run(profile, args);
    assert!(success, "session {args:?} failed: {text}");
    text
}

fn account_id(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.len() == 66 && w.starts_with("05"))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_from_the_command_line() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = dir.path().join("network.json");
    std::fs::write(&network, net.network_file().to_json()).unwrap();
    let network = network.to_str().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    let mut ids = Vec::new();
    for (p, name) in [(&alice, "Alice"), (&bob, "Bob"), (&carol, "Carol")] {
        ids.push(account_id(&ok(
            p,
            &["--network", network, "init", "--name", name],
        )));
    }
    ok(&alice, &["contacts", "add", &ids[1], "bob"]);
    ok(&alice, &["contacts", "add", &ids[2], "carol"]);

    let created = ok(
        &alice,
        &[
            "group",
            "create",
            "hikers",
            "--description",
            "weekend walks",
        ],
    );
    assert!(
        created.contains("created group \"hikers\": 03"),
        "{created}"
    );
    ok(&alice, &["group", "invite", "hikers", "bob", "carol"]);
    // Inviting again changes nothing for anyone.
    ok(&alice, &["group", "invite", "hikers", "bob"]);
    for p in [&bob, &carol] {
        let list = ok(p, &["group", "list"]);
        assert!(list.contains("group \"hikers\": invited"), "{list}");
    }
    ok(&bob, &["group", "accept", "hikers"]);
    ok(&carol, &["group", "decline", "hikers"]);
    let members = ok(&alice, &["group", "members", "hikers"]);
    assert!(members.contains("bob: joined"), "{members}");
    assert!(members.contains("carol: invited"), "{members}");
    assert!(members.contains("(you): joined, admin"), "{members}");

    let sent = ok(&alice, &["send", "hikers", "saturday", "at", "nine"]);
    assert!(sent.contains("you: saturday at nine"), "{sent}");
    let synced = ok(&bob, &["sync"]);
    assert!(synced.contains("saturday at nine"), "{synced}");
    assert!(
        !synced.contains("not readable"),
        "an invitation is no unreadable message: {synced}"
    );
    let again = ok(&bob, &["sync"]);
    assert!(!again.contains("saturday"), "no message twice: {again}");
    ok(&bob, &["send", "hikers", "count me in"]);
    ok(&alice, &["sync"]);
    let history = ok(&alice, &["history", "hikers"]);
    assert_eq!(history.lines().count(), 2, "{history}");
    assert!(history.contains("count me in"), "{history}");

    // Bob is no admin; Alice renames and removes him.
    let (refused, text) = run(&bob, &["group", "rename", "hikers", "mine"]);
    assert!(!refused && text.contains("only an admin"), "{text}");
    ok(&alice, &["group", "rename", "hikers", "ramblers"]);
    let list = ok(&bob, &["group", "members", "hikers"]);
    assert!(list.contains("joined"), "{list}");
    assert!(ok(&bob, &["group", "list"]).contains("group \"ramblers\": joined"));
    ok(&alice, &["group", "remove", "ramblers", "bob"]);
    ok(&alice, &["send", "ramblers", "bob is gone"]);
    ok(&bob, &["sync"]);
    let bob_history = ok(&bob, &["history", "ramblers"]);
    assert!(!bob_history.contains("bob is gone"), "{bob_history}");
    assert!(ok(&bob, &["group", "list"]).contains("removed"));
    assert!(ok(&alice, &["inbox"]).contains("group \"ramblers\": joined, admin"));
    net.shutdown().await;
}
