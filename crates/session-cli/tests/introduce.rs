//! The `session` command's ways to add someone without typing 66 characters: `id --link` and
//! `contacts add LINK`, `id --png` then `contacts add --qr`, `invite` / `accept` between two
//! processes on a real local network, and `verify`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output};

use session_testnet::{Testnet, TestnetConfig};

mod common;

use common::cli::{fails, ok};

fn command(profile: &Path, args: &[&str]) -> Command {
    common::cli::command(profile, args, &[])
}

fn session(profile: &Path, args: &[&str], stdin: &str) -> Output {
    common::cli::run(profile, args, stdin, &[])
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

#[test]
fn links_and_qr_images_add_the_same_contact() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    ok(session(&alice, &["init", "--name", "Alice B"], ""));
    ok(session(&bob, &["init", "--name", "Bob"], ""));
    let alice_id = first_line(&ok(session(&alice, &["id", "--no-qr"], "")));
    let link = first_line(&ok(session(&alice, &["id", "--link", "--no-qr"], "")));
    assert_eq!(link, format!("session:{alice_id}?name=Alice%20B"));

    // A link without a nickname: the name in it is the nickname.
    let added = ok(session(&bob, &["contacts", "add", &link], ""));
    assert!(
        added.contains(&alice_id) && added.contains("Alice B"),
        "{added}"
    );
    ok(session(&bob, &["contacts", "remove", "Alice B"], ""));

    // `id --png`, then `contacts add --qr` on that file: the same ID.
    let png = dir.path().join("alice.png");
    ok(session(
        &alice,
        &["id", "--no-qr", "--png", png.to_str().unwrap()],
        "",
    ));
    let added = ok(session(
        &bob,
        &["contacts", "add", "--qr", png.to_str().unwrap(), "al"],
        "",
    ));
    assert!(
        added.contains(&format!("added {alice_id} as al")),
        "{added}"
    );
    let list = ok(session(&bob, &["contacts", "list"], ""));
    assert!(list.contains("al") && list.contains(&alice_id), "{list}");

    // What can go wrong is said.
    let err = fails(session(
        &bob,
        &["contacts", "add", "--qr", "missing.png", "x"],
        "",
    ));
    assert!(err.contains("there is no file missing.png"), "{err}");
    let err = fails(session(&bob, &["contacts", "add", &alice_id], ""));
    assert!(err.contains("give a nickname"), "{err}");
    let err = fails(session(
        &bob,
        &["contacts", "add", &format!("session:{alice_id}?x=1"), "x"],
        "",
    ));
    assert!(err.contains("unknown part"), "{err}");
}

#[test]
fn the_safety_code_is_the_same_on_both_sides_and_can_be_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    ok(session(&alice, &["init", "--name", "Alice"], ""));
    ok(session(&bob, &["init", "--name", "Bob"], ""));
    let alice_id = first_line(&ok(session(&alice, &["id", "--no-qr"], "")));
    let bob_id = first_line(&ok(session(&bob, &["id", "--no-qr"], "")));
    ok(session(&alice, &["contacts", "add", &bob_id, "bob"], ""));
    ok(session(&bob, &["contacts", "add", &alice_id, "alice"], ""));
    let code_line = |out: &str| {
        out.lines()
            .find(|l| l.contains(" / "))
            .unwrap_or_else(|| panic!("no code in {out}"))
            .trim()
            .to_owned()
    };
    let shown_to_alice = ok(session(&alice, &["verify", "bob"], ""));
    let shown_to_bob = ok(session(&bob, &["verify", "alice"], ""));
    assert_eq!(code_line(&shown_to_alice), code_line(&shown_to_bob));
    assert_eq!(code_line(&shown_to_alice).split_whitespace().count(), 11);
    assert!(shown_to_alice.contains("Not verified"), "{shown_to_alice}");
    ok(session(&alice, &["verify", "bob", "--confirm"], ""));
    let after = ok(session(&alice, &["verify", "bob"], ""));
    assert!(after.contains("Verified"), "{after}");
    let list = ok(session(&alice, &["contacts", "list"], ""));
    assert!(list.contains(&format!("{bob_id}  (verified)")), "{list}");
    let list = ok(session(&bob, &["contacts", "list"], ""));
    assert!(!list.contains("verified"), "{list}");
    let err = fails(session(&alice, &["verify", "carol"], ""));
    assert!(err.contains("carol"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_and_accept_between_two_processes() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = dir.path().join("network.json");
    std::fs::write(&network, net.network_file().to_json()).unwrap();
    let network = network.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let init = ["--network", network, "init", "--name"];
    ok(session(&alice, &[&init[..], &["Alice"]].concat(), ""));
    ok(session(&bob, &[&init[..], &["Bob"]].concat(), ""));

    let mut inviter = command(&alice, &["invite"]).spawn().unwrap();
    let mut lines = BufReader::new(inviter.stdout.take().unwrap()).lines();
    let code = loop {
        let line = lines.next().expect("invite ended before its code").unwrap();
        let word = line.trim();
        if word.split('-').count() == 3 && word.starts_with(|c: char| c.is_ascii_digit()) {
            break word.to_owned();
        }
    };
    // The code typed at the prompt (stdin), not on the command line.
    let accepted = ok(session(&bob, &["accept"], &format!("{code}\n")));
    assert!(accepted.contains("as your contact \"Alice\""), "{accepted}");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(inviter.wait().unwrap().success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("as your contact \"Bob\"")),
        "{rest:?}"
    );
    // Bob writes at once; Alice reads it as a contact's, not a request.
    ok(session(&bob, &["send", "Alice", "hello via the code"], ""));
    let synced = ok(session(&alice, &["sync"], ""));
    assert!(synced.contains("hello via the code"), "{synced}");
    assert!(!synced.contains("request"), "{synced}");

    // A code used once is refused.
    let err = fails(session(&bob, &["accept", &code], ""));
    assert!(err.contains("already used"), "{err}");
    let err = fails(session(&bob, &["accept", "7-qqqq-qqqq"], ""));
    assert!(err.contains("not an invite code"), "{err}");
    net.shutdown().await;
}
