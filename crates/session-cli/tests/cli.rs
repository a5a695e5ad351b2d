//! The real `session` binary, run as a user would, on a local network of real nodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use session_testnet::{Testnet, TestnetConfig};

mod common;

use common::cli::{account_id_in, fails, ok, run as session_env, stderr, stdout};

/// Runs `session` on `profile` with `args`, feeding `stdin`.
fn session(profile: &Path, args: &[&str], stdin: &str) -> Output {
    session_env(profile, args, stdin, &[])
}

/// A legacy 13-word Session phrase and the Account ID the reference derives from it.
const LEGACY_PHRASE: &str =
    "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
const LEGACY_ACCOUNT_ID: &str =
    "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

/// The recovery phrase `init` printed (the line of 25 words).
fn phrase_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.split_whitespace().count() == 25)
        .unwrap_or_else(|| panic!("no phrase in {text}"))
        .to_string()
}

fn network_file(net: &Testnet, dir: &Path) -> PathBuf {
    let path = dir.join("network.json");
    std::fs::write(&path, net.network_file().to_json()).unwrap();
    path
}

#[test]
fn init_id_and_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    let out = ok(session(&alice, &["init", "--name", "Alice"], ""));
    let id = account_id_in(&out);
    assert!(out.contains("recovery phrase"), "{out}");
    phrase_in(&out);
    let again = fails(session(&alice, &["init"], ""));
    assert!(again.contains("already exists"), "{again}");

    let out = ok(session(&alice, &["id"], ""));
    assert_eq!(account_id_in(&out), id);
    assert!(out.contains('█') || out.contains('▀'), "no QR code: {out}");
    let png = dir.path().join("id.png");
    ok(session(
        &alice,
        &["id", "--no-qr", "--png", png.to_str().unwrap()],
        "",
    ));
    let image = std::fs::read(&png).unwrap();
    assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");

    let bob_id = "05f5c5a22797a972dba6599b3bfa44db5fec6beffda53d964e763e393d577c3f64";
    ok(session(&alice, &["contacts", "add", bob_id, "bob"], ""));
    let list = ok(session(&alice, &["contacts", "list"], ""));
    assert!(list.contains("bob") && list.contains(bob_id), "{list}");

    // What a user can get wrong, each with a precise message.
    let mut bad_char = bob_id.to_string();
    bad_char.replace_range(20..21, "g");
    let err = fails(session(&alice, &["contacts", "add", &bad_char, "x"], ""));
    assert!(err.contains("character 21") && err.contains("'g'"), "{err}");
    let err = fails(session(
        &alice,
        &["contacts", "add", &bob_id[..60], "x"],
        "",
    ));
    assert!(err.contains("66") && err.contains("60"), "{err}");
    let err = fails(session(
        &alice,
        &["contacts", "add", &bob_id.replacen("05", "06", 1), "x"],
        "",
    ));
    assert!(err.contains("prefix"), "{err}");
    let err = fails(session(&alice, &["history", "carol"], ""));
    assert!(err.contains("no contact named \"carol\""), "{err}");
    let err = fails(session(&alice, &["send", "carol", "hi"], ""));
    assert!(err.contains("no contact named \"carol\""), "{err}");
    let err = fails(session(&alice, &["contacts", "remove", "carol"], ""));
    assert!(err.contains("carol"), "{err}");
    ok(session(&alice, &["contacts", "remove", "bob"], ""));
    assert!(!ok(session(&alice, &["contacts", "list"], "")).contains(bob_id));

    // No account yet in another profile.
    let err = fails(session(&dir.path().join("nobody"), &["id"], ""));
    assert!(err.contains("no account"), "{err}");
}

#[test]
fn restore_from_good_and_bad_phrases() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(session(
        &dir.path().join("legacy"),
        &["restore"],
        LEGACY_PHRASE,
    ));
    assert_eq!(account_id_in(&out), LEGACY_ACCOUNT_ID);
    let out = ok(session(&dir.path().join("legacy"), &["id", "--no-qr"], ""));
    assert_eq!(account_id_in(&out), LEGACY_ACCOUNT_ID);

    let created = ok(session(&dir.path().join("new"), &["init"], ""));
    let phrase = phrase_in(&created);
    let restored = ok(session(
        &dir.path().join("restored"),
        &["restore"],
        &format!("{phrase}\n"),
    ));
    assert_eq!(account_id_in(&restored), account_id_in(&created));

    let mut words: Vec<&str> = phrase.split_whitespace().collect();
    words[4] = "qwzx";
    let err = fails(session(
        &dir.path().join("bad1"),
        &["restore"],
        &words.join(" "),
    ));
    assert!(err.contains("word 5"), "{err}");
    let err = fails(session(
        &dir.path().join("bad2"),
        &["restore"],
        "abbey abbey abbey",
    ));
    assert!(err.contains("13 or 25 words, got 3"), "{err}");
    let mut swapped: Vec<&str> = LEGACY_PHRASE.split_whitespace().collect();
    swapped.swap(1, 2);
    let err = fails(session(
        &dir.path().join("bad3"),
        &["restore"],
        &swapped.join(" "),
    ));
    assert!(err.contains("swapped") || err.contains("checksum"), "{err}");
    assert!(!dir.path().join("bad1").join("identity.key").exists());
}

#[test]
fn a_wrong_word_is_never_blamed_on_a_swap_and_the_account_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<&str> = LEGACY_PHRASE.split_whitespace().collect();
    // One wrong word each (word 1, word 3, the checksum word): swapping two neighbours happens
    // to fit the checksum for each, which the hint once claimed as the cause.
    for (position, wrong) in [(0, "abbey"), (2, "zoom"), (12, "vexed")] {
        let mut typed = words.clone();
        typed[position] = wrong;
        let err = fails(session(
            &dir.path().join(format!("wrong{position}")),
            &["restore"],
            &typed.join(" "),
        ));
        assert!(!err.contains("appear to be swapped"), "{err}");
        assert!(err.contains("may be wrong"), "{err}");
        assert!(err.contains(&format!("{}", position + 1)), "{err}");
        assert!(!dir
            .path()
            .join(format!("wrong{position}"))
            .join("identity.key")
            .exists());
    }
    // A restore from stdin shows the account it opened on a line of its own, with a warning.
    let out = ok(session(
        &dir.path().join("right"),
        &["restore"],
        LEGACY_PHRASE,
    ));
    assert!(out.lines().any(|l| l.trim() == LEGACY_ACCOUNT_ID), "{out}");
    assert!(out.contains("the Account ID you expected"), "{out}");
}

#[test]
fn a_passphrase_protects_the_account_file() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let secret = [("SESSION_PASSPHRASE", "open sesame")];
    let out = ok(session_env(
        &profile,
        &["init", "--passphrase"],
        "",
        &secret,
    ));
    let id = account_id_in(&out);
    let err = fails(session(&profile, &["id", "--no-qr"], ""));
    assert!(err.contains("passphrase"), "{err}");
    let err = fails(session_env(
        &profile,
        &["id", "--no-qr"],
        "",
        &[("SESSION_PASSPHRASE", "open barley")],
    ));
    assert!(err.contains("wrong passphrase"), "{err}");
    let out = ok(session_env(&profile, &["id", "--no-qr"], "", &secret));
    assert_eq!(account_id_in(&out), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_sync_between_two_profiles() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = network_file(&net, dir.path());
    let network = network.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice_id = account_id_in(&ok(session(&alice, &["init", "--name", "Alice"], "")));
    let bob_id = account_id_in(&ok(session(&bob, &["init", "--name", "Bob"], "")));
    ok(session(&alice, &["contacts", "add", &bob_id, "bob"], ""));

    let sent = ok(session(
        &alice,
        &["--network", network, "send", "bob", "hello", "bob"],
        "",
    ));
    assert!(sent.contains("stored on 4/4"), "{sent}");
    // The network is remembered; text can come from stdin.
    let sent = ok(session(&alice, &["send", "bob"], "a second line\n"));
    assert!(sent.contains("stored on"), "{sent}");

    let synced = ok(session(&bob, &["--network", network, "sync"], ""));
    assert!(
        synced.contains("hello bob") && synced.contains("a second line"),
        "{synced}"
    );
    assert!(synced.contains("2 new message(s)"), "{synced}");
    assert!(
        synced.contains("request"),
        "Alice is not Bob's contact yet: {synced}"
    );
    let inbox = ok(session(&bob, &["inbox"], ""));
    assert!(
        inbox.contains("Message requests") && inbox.contains(&alice_id),
        "{inbox}"
    );
    ok(session(&bob, &["contacts", "add", &alice_id, "alice"], ""));
    let inbox = ok(session(&bob, &["inbox"], ""));
    assert!(
        !inbox.contains("Message requests") && inbox.contains("alice"),
        "{inbox}"
    );
    let again = ok(session(&bob, &["sync"], ""));
    assert!(again.contains("0 new message(s)"), "{again}");

    ok(session(&bob, &["send", "alice", "hi", "alice"], ""));
    let synced = ok(session(&alice, &["sync"], ""));
    assert!(synced.contains("hi alice"), "{synced}");
    let history = ok(session(&alice, &["history", "bob"], ""));
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(
        lines[0].contains("hello bob") && lines[2].contains("hi alice"),
        "{history}"
    );
    let err = fails(session(&alice, &["send", "bob"], "   \n"));
    assert!(err.contains("empty"), "{err}");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_and_database_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    ok(session(&alice, &["init"], ""));
    ok(session(
        &alice,
        &["contacts", "add", LEGACY_ACCOUNT_ID, "legacy"],
        "",
    ));
    let err = fails(session(&alice, &["sync"], ""));
    assert!(err.contains("no network configured"), "{err}");

    // A network whose nodes are all gone.
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let file = network_file(&net, dir.path());
    net.shutdown().await;
    let err = fails(session(
        &alice,
        &["--network", file.to_str().unwrap(), "send", "legacy", "hi"],
        "",
    ));
    assert!(err.contains("no network reachable"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"registry_key\": \"zz\"}").unwrap();
    let err = fails(session(
        &alice,
        &["--network", bad.to_str().unwrap(), "sync"],
        "",
    ));
    assert!(err.contains("not valid"), "{err}");

    let db = alice.join("messages.sqlite");
    let _ = std::fs::remove_file(alice.join("messages.sqlite-wal"));
    let _ = std::fs::remove_file(alice.join("messages.sqlite-shm"));
    std::fs::write(&db, vec![0x17u8; 4096]).unwrap();
    let err = fails(session(&alice, &["contacts", "list"], ""));
    assert!(err.contains("corrupt"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        vec![0x17u8; 4096],
        "the damaged file is kept"
    );
}

#[test]
fn devnet_runs_a_network_that_other_session_processes_join() {
    let dir = tempfile::tempdir().unwrap();
    let devnet_dir = dir.path().join("devnet");
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_session"))
        .args(["devnet", "--nodes", "6", "--dir"])
        .arg(&devnet_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let network = devnet_dir.join("network.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !network.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "devnet wrote no network file"
        );
        assert!(devnet.try_wait().unwrap().is_none(), "devnet exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let network = network.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    ok(session(&alice, &["init"], ""));
    let bob_id = account_id_in(&ok(session(&bob, &["init"], "")));
    let sent = ok(session_env(
        &alice,
        &["send", &bob_id, "through the devnet"],
        "",
        &[("SESSION_NETWORK", network)],
    ));
    assert!(sent.contains("stored on"), "{sent}");
    let synced = ok(session(&bob, &["--network", network, "sync"], ""));
    assert!(synced.contains("through the devnet"), "{synced}");

    // Ctrl-C stops it cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &devnet.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = devnet.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("6 nodes in"));
}

/// Starts `session devnet` on `dir` and returns it with what it printed up to "Press Ctrl-C".
fn start_devnet(dir: &Path) -> (std::process::Child, String) {
    start_devnet_with(dir, &["--nodes", "6"])
}

/// [`start_devnet`] with other flags.
fn start_devnet_with(dir: &Path, flags: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_session"))
        .arg("devnet")
        .args(flags)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = devnet.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Press Ctrl-C") {
                let _ = tx.send(seen.clone());
            }
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(90)) {
        Ok(seen) => (devnet, seen),
        Err(_) => {
            let _ = devnet.kill();
            let output = devnet.wait_with_output().unwrap();
            panic!(
                "devnet did not start: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// A signal (INT: Ctrl-C; TERM: `kill`), and a clean exit.
fn stop_devnet(devnet: std::process::Child, signal: &str) {
    let interrupted = Command::new("kill")
        .args([signal, &devnet.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = devnet.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_devnet_restarts_from_its_folder_and_delivers_what_it_stored() {
    let dir = tempfile::tempdir().unwrap();
    let devnet_dir = dir.path().join("devnet");
    let (devnet, first) = start_devnet(&devnet_dir);
    let network_path = devnet_dir.join("network.json");
    let network_before = std::fs::read_to_string(&network_path).unwrap();
    let network = network_path.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    ok(session(&alice, &["init"], ""));
    let bob_id = account_id_in(&ok(session(&bob, &["init"], "")));
    let sent = ok(session(
        &alice,
        &[
            "--network",
            network,
            "send",
            &bob_id,
            "stored before the stop",
        ],
        "",
    ));
    assert!(sent.contains("stored on"), "{sent}");
    // `kill` (SIGTERM, as `kill %1` in a shell) stops it as cleanly as Ctrl-C.
    stop_devnet(devnet, "-TERM");

    let (devnet, second) = start_devnet(&devnet_dir);
    assert!(second.contains("Restarted"), "{second}");
    // Same registry key, node keys and ports: the network file and the node lines are the same.
    assert_eq!(
        std::fs::read_to_string(&network_path).unwrap(),
        network_before
    );
    let nodes = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("node "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(nodes(&first), nodes(&second));
    assert_eq!(nodes(&second).len(), 6);
    let synced = ok(session(&bob, &["--network", network, "sync"], ""));
    assert!(synced.contains("stored before the stop"), "{synced}");
    // Profiles that knew the network before keep working with it.
    let sent = ok(session(&alice, &["send", &bob_id, "after the restart"], ""));
    assert!(sent.contains("stored on"), "{sent}");
    stop_devnet(devnet, "-INT");
}

#[test]
fn help_lists_only_what_applies() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    for command in ["devnet", "demo"] {
        let help = ok(session(&p, &[command, "--help"], ""));
        assert!(
            !help.contains("--profile") && !help.contains("--network"),
            "{command} --help lists flags that do not apply:\n{help}"
        );
    }
    let help = ok(session(&p, &["--help"], ""));
    for command in ["phrase", "name", "requests", "retry", "chat"] {
        assert!(help.contains(command), "{help}");
    }
    let help = ok(session(&p, &["send", "--help"], ""));
    assert!(
        help.contains("--profile") && help.contains("--network"),
        "{help}"
    );
    assert!(!p.exists(), "--help created the profile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_new_user_gets_wrong_is_said_plainly() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = network_file(&net, dir.path());
    let network = network.to_str().unwrap();
    let (alice, bob, carol) = (
        dir.path().join("alice"),
        dir.path().join("bob"),
        dir.path().join("carol"),
    );
    // 5: the network given at init is remembered.
    let alice_id = account_id_in(&ok(session(
        &alice,
        &["--network", network, "init", "--name", "Alice"],
        "",
    )));
    let bob_id = account_id_in(&ok(session(&bob, &["--network", network, "init"], "")));
    let carol_id = account_id_in(&ok(session(
        &carol,
        &["--network", network, "init", "--name", "Carol"],
        "",
    )));
    let sent = ok(session(
        &bob,
        &["send", &alice_id, "no --network needed"],
        "",
    ));
    assert!(sent.contains("stored on"), "{sent}");

    // 6: adding a known ID under a new name says so, or renames with --rename.
    ok(session(&alice, &["contacts", "add", &bob_id, "bob"], ""));
    let err = fails(session(&alice, &["contacts", "add", &bob_id, "bobup"], ""));
    assert!(
        err.contains("--rename") && err.contains("bob -> bobup"),
        "{err}"
    );
    let out = ok(session(
        &alice,
        &["contacts", "add", &bob_id, "bobup", "--rename"],
        "",
    ));
    assert!(out.contains("renamed bob -> bobup"), "{out}");

    // 7: spaces inside an ID are ignored; a missing 05 is named; a near miss is warned about.
    let spaced = format!("{} {}", &carol_id[..30], &carol_id[30..]);
    ok(session(&alice, &["contacts", "add", &spaced, "carol"], ""));
    let err = fails(session(
        &alice,
        &["contacts", "add", &carol_id[2..], "x"],
        "",
    ));
    assert!(err.contains("start with 05"), "{err}");
    let mut near = bob_id.clone();
    let last = if near.ends_with('0') { "1" } else { "0" };
    near.replace_range(65..66, last);
    let out = session(&alice, &["contacts", "add", &near, "notbob"], "");
    assert!(
        stderr(&out).contains("differs from your contact bobup's in one character"),
        "{}",
        stderr(&out)
    );

    // 9: your own message to a non-contact is not a request from them.
    let dave_id = account_id_in(&ok(session(&dir.path().join("dave"), &["init"], "")));
    ok(session(&alice, &["send", &dave_id, "hello stranger"], ""));
    let inbox = ok(session(&alice, &["inbox"], ""));
    assert!(!inbox.contains("Message requests"), "{inbox}");
    assert!(inbox.contains("you: \"hello stranger\""), "{inbox}");

    // 10: a message too long is refused in KB.
    let big = "x".repeat(100_000);
    let err = fails(session(&alice, &["send", "bobup"], &big));
    assert!(
        err.contains("100.0 KB") && err.contains("at most 7"),
        "{err}"
    );

    // 11: unread counts and previews; an empty history says so.
    ok(session(&alice, &["sync"], ""));
    let inbox = ok(session(&alice, &["inbox"], ""));
    assert!(
        inbox.contains("1 unread") && inbox.contains("\"no --network needed\""),
        "{inbox}"
    );
    ok(session(&alice, &["history", "bobup"], ""));
    assert!(
        !ok(session(&alice, &["inbox"], "")).contains("unread,"),
        "history reads them"
    );
    let empty = ok(session(&alice, &["history", "carol"], ""));
    assert!(empty.contains("no messages with carol yet"), "{empty}");

    // 12: requests answered by the name shown; a blocked sender's messages are dropped.
    ok(session(&carol, &["send", &bob_id, "carol asks"], ""));
    let erin = dir.path().join("erin");
    ok(session(
        &erin,
        &["--network", network, "init", "--name", "Erin"],
        "",
    ));
    ok(session(&erin, &["send", &bob_id, "erin asks"], ""));
    ok(session(&bob, &["sync"], ""));
    let inbox = ok(session(&bob, &["inbox"], ""));
    assert!(
        inbox.contains("\"Carol\"") && inbox.contains("\"Erin\""),
        "{inbox}"
    );
    let out = ok(session(&bob, &["requests", "accept", "Carol", "carol"], ""));
    assert!(out.contains("now your contact carol"), "{out}");
    let out = ok(session(&bob, &["requests", "block", "erin"], ""));
    assert!(out.contains("blocked"), "{out}");
    ok(session(&erin, &["send", &bob_id, "erin again"], ""));
    let synced = ok(session(&bob, &["sync"], ""));
    assert!(!synced.contains("erin again"), "{synced}");
    assert!(
        synced.contains("from blocked senders (dropped)"),
        "{synced}"
    );
    let inbox = ok(session(&bob, &["inbox"], ""));
    assert!(
        !inbox.contains("Erin") && inbox.contains("carol"),
        "{inbox}"
    );
    // A declined request stays gone, whichever swarm member the next sync asks.
    let dave = dir.path().join("dave");
    ok(session(
        &dave,
        &["--network", network, "send", &bob_id, "dave asks"],
        "",
    ));
    ok(session(&bob, &["sync"], ""));
    let out = ok(session(&bob, &["requests", "decline", &dave_id[..12]], ""));
    assert!(out.contains("declined: 1 message(s)"), "{out}");
    for _ in 0..4 {
        let synced = ok(session(&bob, &["sync"], ""));
        assert!(!synced.contains("dave asks"), "{synced}");
    }
    let err = fails(session(&bob, &["requests", "decline", "nobody"], ""));
    assert!(err.contains("no message request from \"nobody\""), "{err}");

    // 8: with the network gone, a send is saved and retried later, the retry naming the text.
    net.shutdown().await;
    let out = session(&alice, &["send", "bobup", "while the network is down"], "");
    assert!(!out.status.success());
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        err.contains("no network reachable") && err.contains("session retry"),
        "{err}"
    );
    assert!(!err.contains("guard"), "{err}");
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    ok(session(
        &alice,
        &[
            "--network",
            network_file(&net, dir.path()).to_str().unwrap(),
            "id",
            "--no-qr",
        ],
        "",
    ));
    let retried = ok(session(&alice, &["retry"], ""));
    assert!(
        retried.contains("to bobup: \"while the network is down\" stored on"),
        "{retried}"
    );
    net.shutdown().await;
}

#[test]
fn profile_and_account_file_details() {
    let dir = tempfile::tempdir().unwrap();
    // 11: commands on a missing profile do not create it.
    let missing = dir.path().join("missing");
    let err = fails(session(&missing, &["inbox"], ""));
    assert!(err.contains("no account"), "{err}");
    assert!(!missing.exists());
    // The phrase can be shown again, behind the passphrase, with three tries at most.
    let profile = dir.path().join("p");
    let secret = [("SESSION_PASSPHRASE", "open sesame")];
    let created = ok(session_env(
        &profile,
        &["init", "--passphrase"],
        "",
        &secret,
    ));
    let phrase = phrase_in(&created);
    let err = fails(session(&profile, &["phrase"], ""));
    assert!(err.contains("passphrase"), "{err}");
    let shown = ok(session_env(&profile, &["phrase"], "", &secret));
    assert_eq!(phrase_in(&shown), phrase);
    // The display name can be set after init, never with control characters.
    ok(session_env(&profile, &["name", "Alice B"], "", &secret));
    assert_eq!(
        ok(session_env(&profile, &["name"], "", &secret)).trim(),
        "Alice B"
    );
    let err = fails(session_env(&profile, &["name", "a\u{1b}[2Jb"], "", &secret));
    assert!(err.contains("control characters"), "{err}");
    // A world-readable account file is used with a warning, like ssh's.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = profile.join("identity.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = session_env(&profile, &["id", "--no-qr"], "", &secret);
        assert!(out.status.success());
        assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    }
}

/// Every file of the message database (main file, WAL, shared memory), concatenated.
fn database_bytes(profile: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in [
        "messages.sqlite",
        "messages.sqlite-wal",
        "messages.sqlite-shm",
    ] {
        if let Ok(b) = std::fs::read(profile.join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Plain SQLite (no key) cannot read the file.
fn plain_sqlite_cannot_read(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let read: Result<i64, _> =
        conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0));
    let err = read.expect_err("plain SQLite read the database");
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_database_is_encrypted_and_plain_ones_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let network = network_file(&net, dir.path());
    net.shutdown().await;
    let network = network.to_str().unwrap();
    let bob_id = "05f5c5a22797a972dba6599b3bfa44db5fec6beffda53d964e763e393d577c3f64";
    let secret = "a message nobody may read from the disk";
    for protect in [false, true] {
        let alice = dir.path().join(format!("alice-{protect}"));
        let env: &[(&str, &str)] = if protect {
            &[("SESSION_PASSPHRASE", "pass phrase")]
        } else {
            &[]
        };
        let mut init = vec!["--network", network, "init", "--name", "Alicename"];
        if protect {
            init.push("--passphrase");
        }
        let alice_id = account_id_in(&ok(session_env(&alice, &init, "", env)));
        ok(session_env(
            &alice,
            &["contacts", "add", bob_id, "bobbington"],
            "",
            env,
        ));
        // The network is down: the message is saved locally, with its text.
        let _ = session_env(&alice, &["send", "bobbington", secret], "", env);
        let history = ok(session_env(&alice, &["history", "bobbington"], "", env));
        assert!(history.contains(secret), "{history}");
        let bytes = database_bytes(&alice);
        assert!(!bytes.is_empty());
        for needle in [
            secret,
            "bobbington",
            "Alicename",
            bob_id,
            &alice_id,
            "SQLite format 3",
        ] {
            assert!(
                !holds(&bytes, needle),
                "{needle:?} is readable on disk (protect={protect})"
            );
        }
        plain_sqlite_cannot_read(&alice.join("messages.sqlite"));
    }

    // A plain database of an older version is migrated once, with everything in it.
    let carol = dir.path().join("carol");
    ok(session(&carol, &["init"], ""));
    for name in [
        "messages.sqlite",
        "messages.sqlite-wal",
        "messages.sqlite-shm",
    ] {
        let _ = std::fs::remove_file(carol.join(name));
    }
    {
        let plain = session_client::MessageStore::open(&carol.join("messages.sqlite")).unwrap();
        plain
            .add_contact(&bob_id.parse().unwrap(), "oldfriend", 1)
            .unwrap();
        plain.set_setting("display_name", "Carol Old").unwrap();
        plain
            .insert_outgoing(
                &bob_id.parse().unwrap(),
                5,
                "kept through the migration",
                b"x",
            )
            .unwrap();
    }
    assert!(
        holds(&database_bytes(&carol), "oldfriend"),
        "the old file is plain"
    );
    let list = ok(session(&carol, &["contacts", "list"], ""));
    assert!(
        list.contains("oldfriend") && list.contains(bob_id),
        "{list}"
    );
    assert_eq!(ok(session(&carol, &["name"], "")).trim(), "Carol Old");
    let history = ok(session(&carol, &["history", "oldfriend"], ""));
    assert!(history.contains("kept through the migration"), "{history}");
    let bytes = database_bytes(&carol);
    for needle in [
        "oldfriend",
        "Carol Old",
        "kept through the migration",
        bob_id,
    ] {
        assert!(
            !holds(&bytes, needle),
            "{needle:?} still readable after the migration"
        );
    }
    plain_sqlite_cannot_read(&carol.join("messages.sqlite"));
    assert!(!carol.join("messages.encrypting").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_are_plain_when_piped_and_skip_tls_library_debug() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = network_file(&net, dir.path());
    let alice = dir.path().join("alice");
    ok(session(&alice, &["init"], ""));
    let verbose = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_session"))
            .arg("--profile")
            .arg(&alice)
            .arg("--network")
            .arg(&network)
            .arg("-vv")
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("SESSION_PASSPHRASE")
            .output()
            .unwrap()
    };
    // A sync over TLS to every hop: the TLS library's handshake lines stay out of -vv.
    let synced = verbose(&["sync"]);
    assert!(synced.status.success(), "{}", stderr(&synced));
    // With the network gone, the client has things to say (the cached list, the failed send).
    net.shutdown().await;
    let failed = verbose(&["send", LEGACY_ACCOUNT_ID, "hello"]);
    let logs = format!("{}{}", stderr(&synced), stderr(&failed));
    assert!(
        logs.contains("INFO"),
        "-vv shows the client's own lines: {logs}"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in piped logs: {logs:?}"
    );
    for library in ["rustls", "hyper", "h2::"] {
        assert!(
            !logs.lines().any(|l| l.contains(library)),
            "{library} lines at -vv: {logs}"
        );
    }
}

#[test]
fn a_devnet_can_have_swarms_of_the_reference_size() {
    // The reference storage server's own tests need swarms of 5 or more.
    let dir = tempfile::tempdir().unwrap();
    let (devnet, seen) = start_devnet_with(
        &dir.path().join("devnet"),
        &[
            "--nodes",
            "10",
            "--swarm-min",
            "5",
            "--swarm-ideal",
            "5",
            "--swarm-max",
            "9",
        ],
    );
    assert!(seen.contains("10 nodes in 2 swarms"), "{seen}");
    stop_devnet(devnet, "-INT");
    let refused = Command::new(env!("CARGO_BIN_EXE_session"))
        .args(["devnet", "--swarm-min", "6", "--swarm-ideal", "5", "--dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("swarm sizes must satisfy"), "{text}");
}
