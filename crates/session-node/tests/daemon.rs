//! The real `session-node` binary: configuration, restart after SIGKILL, clean SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use session_crypto::Ed25519PublicKey;
use session_net::{Connection, NodeAddress};
use session_node::NodeConfig;

#[test]
fn example_config_loads_and_bad_fields_are_named() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node.example.toml");
    let config = NodeConfig::load(&path).unwrap();
    assert_eq!(config.listen.port(), 22021);
    assert_eq!(config.rate_limit.requests_per_second, 300.0);
    assert_eq!(config.storage_cap_mb, 2048);

    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replace("storage_cap_mb = 2048", "storage_cap_mb = 0");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(error.contains("storage_cap_mb"), "{error}");
    let bad = text.replace("requests_per_second = 300.0", "requests_per_second = -1.0");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(error.contains("rate_limit.requests_per_second"), "{error}");
    let bad = format!("{text}\nunknown_field = 1\n");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(error.contains("unknown_field"), "{error}");
    let bad = text.replace("listen = \"127.0.0.1:22021\"", "listen = \"nowhere\"");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(
        error.contains("listen") || error.contains("socket address"),
        "{error}"
    );
}

/// Starts the binary on a free loopback port; returns the process and the node's address.
fn spawn_node(dir: &std::path::Path) -> (Child, NodeAddress) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-node"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "100000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "session-node <key> listening on https://<addr>"
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words.first(),
        Some(&"session-node"),
        "unexpected first line {line:?}"
    );
    let key = Ed25519PublicKey::from_hex(words[1]).unwrap();
    let addr = words[4].trim_start_matches("https://").parse().unwrap();
    (child, NodeAddress { addr, key })
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = spawn_node(dir.path());
    let alice = Account::new(1);
    let mut client = Client(Connection::open(address, TIMEOUT).await.unwrap());
    let mut acknowledged = Vec::new();
    for i in 0..200u32 {
        let body = client
            .ok("store", alice.store_params(0, &i.to_le_bytes(), 600_000))
            .await;
        acknowledged.push(member(&body)["hash"].as_str().unwrap().to_owned());
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, again) = spawn_node(dir.path());
    assert_eq!(again.key, address.key, "the identity survives a restart");
    let mut client = Client(Connection::open(again, TIMEOUT).await.unwrap());
    let mut params = alice.retrieve_params(0, None);
    params["max_count"] = 1000.into();
    assert_eq!(hashes(&client.ok("retrieve", params).await), acknowledged);
    child.kill().unwrap();
    child.wait().unwrap();

    // The identity file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("identity.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = spawn_node(dir.path());
    let mut client = Client(Connection::open(address, TIMEOUT).await.unwrap());
    client
        .ok("store", Account::new(1).store_params(0, b"x", 60_000))
        .await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("service node stopped"), "{stderr}");
    // Nothing secret or identifying is logged at info level.
    assert!(!stderr.contains(&Account::new(1).id()));
}

#[test]
fn missing_arguments_are_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_session-node"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--config FILE or --data-dir DIR"));
}
