//! The real `session` binary run as a user would: a profile of its own, none of the caller's
//! `SESSION_*` settings, stdin fed, output captured.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `session --profile PROFILE ARGS...` with `env` set, its stdio piped.
pub fn command(profile: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_session"));
    command
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("SESSION_PROFILE")
        .env_remove("SESSION_NETWORK")
        .env_remove("SESSION_PASSPHRASE")
        .env_remove("SESSION_EXPORT_PASSPHRASE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Runs [`command`] to its end, feeding it `stdin`.
pub fn run(profile: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = command(profile, args, env).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// What a run printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a run printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The stdout of a run that must succeed.
#[track_caller]
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The error message (stderr) of a run that must fail.
#[track_caller]
pub fn fails(output: Output) -> String {
    assert!(!output.status.success(), "succeeded: {}", stdout(&output));
    stderr(&output)
}

/// The Account ID in a command's output.
pub fn account_id_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.len() == 66 && w.starts_with("05"))
        .unwrap_or_else(|| panic!("no Account ID in {text}"))
        .to_string()
}
