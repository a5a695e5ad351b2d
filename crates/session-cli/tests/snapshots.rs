//! Every help text and the errors a user meets most, in one reviewed file
//! (`tests/snapshots/output.txt`), as Arti and rage keep theirs with trycmd. The real binary runs
//! each case; the output, with the temporary folder written as `[DIR]`, must match the file.
//! After a deliberate change, `SESSION_UPDATE_SNAPSHOTS=1 cargo test -p session-cli --test
//! snapshots` rewrites it, and the diff is reviewed like code. (A file of our own rather than
//! trycmd: the same check without a dozen new dependencies to vet.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// A 13-word legacy phrase with its first word wrong.
const BAD_PHRASE: &str =
    "abbey enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
const BOB: &str = "05f5c5a22797a972dba6599b3bfa44db5fec6beffda53d964e763e393d577c3f64";

fn run(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session"))
        .args(args)
        .current_dir(dir)
        .env_remove("SESSION_PROFILE")
        .env_remove("SESSION_NETWORK")
        .env_remove("SESSION_PASSPHRASE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let shown: Vec<String> = args.iter().map(|a| a.escape_debug().to_string()).collect();
    let mut text = format!("$ session {}\n", shown.join(" "));
    if !stdin.is_empty() {
        text.push_str("(stdin given)\n");
    }
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&stderr);
    }
    text.push_str(&format!(
        "--- exit {}\n\n",
        output.status.code().unwrap_or(-1)
    ));
    text.replace(&dir.display().to_string(), "[DIR]")
}

#[test]
fn help_and_error_output_match_the_reviewed_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut out = String::new();
    for command in [
        "",
        "init",
        "restore",
        "phrase",
        "name",
        "id",
        "contacts",
        "requests",
        "send",
        "retry",
        "sync",
        "inbox",
        "history",
        "chat",
        "devnet",
        "demo",
        "devices",
        "devices link",
        "devices approve",
        "devices remove",
        "export",
        "import",
        "invite",
        "accept",
        "verify",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        out.push_str(&run(d, &args, ""));
    }
    out.push_str(&run(d, &["contacts", "add", "--help"], ""));
    out.push_str(&run(d, &["requests", "accept", "--help"], ""));
    // What a new user gets wrong.
    out.push_str(&run(d, &["--profile", "nobody", "inbox"], ""));
    out.push_str(&run(
        d,
        &["--profile", "a", "init", "--name", "Al\u{1b}[2Jice"],
        "",
    ));
    run(d, &["--profile", "a", "init", "--name", "Alice"], "");
    let cases: &[&[&str]] = &[
        &["--profile", "a", "contacts", "add", &BOB[..65], "bob"],
        &["--profile", "a", "contacts", "add", &BOB[2..], "bob"],
        &[
            "--profile",
            "a",
            "contacts",
            "add",
            &BOB.replacen('f', "g", 1),
            "bob",
        ],
        &["--profile", "a", "contacts", "add", BOB, "bob"],
        &["--profile", "a", "contacts", "add", BOB, "bobby"],
        &[
            "--profile",
            "a",
            "contacts",
            "add",
            BOB,
            "bobby",
            "--rename",
        ],
        &["--profile", "a", "history", "bobby"],
        &["--profile", "a", "history", "carol"],
        &["--profile", "a", "send", "bobby", "hi"],
        &["--profile", "a", "requests", "accept", "Carol", "carol"],
        &["--profile", "a", "init"],
        &["--profile", "a", "devices", "approve", "hello"],
        &["--profile", "a", "devices", "link"],
    ];
    for args in cases {
        out.push_str(&run(d, args, ""));
    }
    out.push_str(&run(d, &["--profile", "a", "send", "bobby"], "  \n"));
    out.push_str(&run(d, &["--profile", "r", "restore"], "abbey abbey abbey"));
    out.push_str(&run(d, &["--profile", "r", "restore"], BAD_PHRASE));

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/output.txt");
    if std::env::var_os("SESSION_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, &out).unwrap();
        return;
    }
    let reviewed = std::fs::read_to_string(&file).unwrap_or_default();
    if reviewed != out {
        let first = reviewed
            .lines()
            .zip(out.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(reviewed.lines().count().min(out.lines().count()));
        panic!(
            "the output differs from {} at line {}:\n  reviewed: {:?}\n  now:      {:?}\n\
             (after a deliberate change: SESSION_UPDATE_SNAPSHOTS=1 cargo test -p session-cli --test snapshots)",
            file.display(),
            first + 1,
            reviewed.lines().nth(first),
            out.lines().nth(first)
        );
    }
}
