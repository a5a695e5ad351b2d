//! The operator's side of the real `session-node` binary: SIGHUP reloads (a lowered rate limit
//! gives 429s), `/healthz`, `/status` and `session-node status`, JSON logs, `keys` (show,
//! export, import, a node started on the imported identity), `check-config`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use session_crypto::Ed25519PublicKey;
use session_net::{Connection, NodeAddress};

const BIN: &str = env!("CARGO_BIN_EXE_session-node");

fn node_cmd(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A node process started from a config file, its addresses and its stderr lines so far.
struct Daemon {
    child: Child,
    address: NodeAddress,
    metrics: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// A loopback config with free ports, JSON logs and the given client rate.
fn config_text(dir: &Path, rate: f64, burst: f64, extra: &str) -> String {
    format!(
        "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n\
         log_format = \"json\"\n{extra}\n[rate_limit]\nrequests_per_second = {rate:?}\nburst = {burst:?}\n",
        dir.join("data").to_str().unwrap()
    )
}

impl Daemon {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // "session-node <key> listening on https://<addr>", then "metrics on http://<addr>/metrics"
        let first = lines.next().unwrap().unwrap();
        let words: Vec<&str> = first.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"session-node"), "{first:?}");
        let key = Ed25519PublicKey::from_hex(words[1]).unwrap();
        let addr = words[4].trim_start_matches("https://").parse().unwrap();
        let second = lines.next().unwrap().unwrap();
        let metrics = second
            .trim_start_matches("metrics on http://")
            .trim_end_matches("/metrics")
            .parse()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            address: NodeAddress { addr, key },
            metrics,
            log,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for a log line containing `text`; returns it.
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no log line with {text:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        self.signal("TERM");
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "exit status {exit}");
        self.wait_for_log("service node stopped");
    }
}

/// A plain HTTP GET on the metrics address: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Sends `count` `info` calls on one connection; returns how many got 429.
async fn refused_of(address: NodeAddress, count: usize) -> usize {
    let mut client = Client(Connection::open(address, TIMEOUT).await.unwrap());
    let mut refused = 0;
    for _ in 0..count {
        let (status, body) = client.call("info", json!({})).await;
        match status {
            200 => {}
            429 => refused += 1,
            other => panic!("info answered {other}: {body}"),
        }
    }
    refused
}

#[tokio::test]
async fn sighup_reloads_limits_and_status_health_and_json_logs_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, config_text(dir.path(), 1000.0, 2000.0, "")).unwrap();
    let node = Daemon::start(&["run", "--config", config.to_str().unwrap()]);

    assert_eq!(get(node.metrics, "/healthz"), (200, "ready\n".to_owned()));
    assert_eq!(get(node.metrics, "/nothing").0, 404);
    assert_eq!(refused_of(node.address, 30).await, 0);

    let shown = node_cmd(&["status", "--metrics", &node.metrics.to_string()]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains(&node.address.key.to_string()), "{text}");
    assert!(text.contains(", ready"), "{text}");
    assert!(
        text.contains("rate limit   1000 requests/s per client IP, burst 2000"),
        "{text}"
    );
    let (status, body) = get(node.metrics, "/status");
    assert_eq!(status, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["swarm_peers"], 0);
    assert_eq!(status["rate_limit"], json!([1000.0, 2000.0]));
    // What status exposes never names a client: loopback is the only client here.
    assert!(!body.contains("127.0.0.1"), "{body}");

    // A lower limit and a field that needs a restart; SIGHUP.
    let lowered = config_text(dir.path(), 1.0, 3.0, "storage_cap_mb = 10");
    std::fs::write(&config, lowered).unwrap();
    node.signal("HUP");
    let line = node.wait_for_log("configuration reloaded");
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["level"], "INFO", "{line}");
    let fields = &event["fields"];
    assert!(
        fields["applied"].as_str().unwrap().contains("rate_limit"),
        "{line}"
    );
    assert!(
        fields["needs_restart"]
            .as_str()
            .unwrap()
            .contains("storage_cap_mb"),
        "{line}"
    );
    let refused = refused_of(node.address, 12).await;
    assert!(
        refused >= 7,
        "only {refused} of 12 refused after lowering the limit to 1/s, burst 3"
    );
    let (_, metrics) = get(node.metrics, "/metrics");
    let counted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("session_node_rate_limited_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(counted >= refused as u64, "{counted} < {refused}");
    let status: Value = serde_json::from_str(&get(node.metrics, "/status").1).unwrap();
    assert_eq!(status["rate_limit"], json!([1.0, 3.0]));
    assert_eq!(
        status["storage_cap_bytes"],
        2048u64 << 20,
        "needs a restart"
    );

    // A broken file changes nothing.
    std::fs::write(&config, "listen = 5\n").unwrap();
    node.signal("HUP");
    node.wait_for_log("nothing changed");
    let status: Value = serde_json::from_str(&get(node.metrics, "/status").1).unwrap();
    assert_eq!(status["rate_limit"], json!([1.0, 3.0]));

    // Every line on stderr is one JSON object.
    for line in node.log.lock().unwrap().iter() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
    }
    node.stop();
}

#[tokio::test]
async fn keys_show_export_and_import_move_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    let old_dir = old.to_str().unwrap();

    let missing = node_cmd(&["keys", "--data-dir", old_dir]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no identity.key yet"),
        "{}",
        stderr(&missing)
    );

    let generated = node_cmd(&["keys", "--data-dir", old_dir, "generate"]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let secret = std::fs::read(old.join("identity.key")).unwrap();
    let secret_hex = hex::encode(&secret);
    let shown = node_cmd(&["keys", "--data-dir", old_dir]);
    assert_eq!(stdout(&shown), stdout(&generated));
    let ed25519 = stdout(&shown)
        .lines()
        .find_map(|l| l.strip_prefix("ed25519 "))
        .unwrap()
        .to_owned();
    assert!(stdout(&shown).contains("x25519  "));

    let export = dir.path().join("moving.key");
    let exported = node_cmd(&[
        "keys",
        "--data-dir",
        old_dir,
        "export",
        export.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert_eq!(std::fs::read(&export).unwrap(), secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&export).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = node_cmd(&[
        "keys",
        "--data-dir",
        old_dir,
        "export",
        export.to_str().unwrap(),
    ]);
    assert!(!again.status.success(), "an export never overwrites");
    for output in [&generated, &shown, &exported, &again] {
        assert!(!stdout(output).contains(&secret_hex) && !stderr(output).contains(&secret_hex));
    }
    // Only when asked explicitly.
    let printed = node_cmd(&["keys", "--data-dir", old_dir, "export", "--stdout"]);
    assert_eq!(stdout(&printed).trim(), secret_hex);

    let new = dir.path().join("new");
    let imported = node_cmd(&[
        "keys",
        "--data-dir",
        new.to_str().unwrap(),
        "import",
        export.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(stdout(&imported), stdout(&shown));
    assert_eq!(std::fs::read(new.join("identity.key")).unwrap(), secret);
    let twice = node_cmd(&[
        "keys",
        "--data-dir",
        new.to_str().unwrap(),
        "import",
        export.to_str().unwrap(),
    ]);
    assert!(!twice.status.success());
    assert!(
        stderr(&twice).contains("already has an identity"),
        "{}",
        stderr(&twice)
    );

    // The hex form, from standard input.
    let piped = dir.path().join("piped");
    let mut child = Command::new(BIN)
        .args(["keys", "--data-dir", piped.to_str().unwrap(), "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdout(&printed).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read(piped.join("identity.key")).unwrap(), secret);

    // The moved node serves under the same key.
    let config = dir.path().join("node.toml");
    std::fs::write(&config, config_text(dir.path(), 100.0, 100.0, "")).unwrap();
    let node = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        new.to_str().unwrap(),
    ]);
    assert_eq!(node.address.key.to_string(), ed25519);
    assert_eq!(refused_of(node.address, 1).await, 0);
    node.stop();
}

#[test]
fn check_config_explains_and_names_bad_fields() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("node.example.toml");
    let checked = node_cmd(&["check-config", example.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    let text = stdout(&checked);
    assert!(text.contains(": valid"), "{text}");
    assert!(text.contains("  storage_cap_mb = 2048\n"), "{text}");
    assert!(
        text.contains("  list_poll_secs = 30  (default)\n"),
        "{text}"
    );
    assert!(
        text.contains("note: needs up to 7232 file descriptors"),
        "{text}"
    );
    assert!(text.contains("loopback only"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let original = std::fs::read_to_string(&example).unwrap();
    std::fs::write(&bad, original.replace("burst = 600.0", "burst = 0.0")).unwrap();
    let refused = node_cmd(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("rate_limit.burst"),
        "{}",
        stderr(&refused)
    );

    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        original.replace(
            "metrics_listen = \"127.0.0.1:9101\"",
            "metrics_listen = \"0.0.0.0:9101\"",
        ),
    )
    .unwrap();
    let warned = stdout(&node_cmd(&["check-config", open.to_str().unwrap()]));
    assert!(
        warned.contains("metrics_listen 0.0.0.0:9101 is not loopback"),
        "{warned}"
    );
}

#[test]
fn status_of_a_node_that_is_not_there_fails_clearly() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let output = node_cmd(&["status", "--metrics", &addr.to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("asking {addr}")),
        "{}",
        stderr(&output)
    );
}

/// Polls `/status` until `done` holds (or fails after `limit`); returns the last answer.
async fn status_until(
    metrics: SocketAddr,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let status: Value = serde_json::from_str(&get(metrics, "/status").1).unwrap();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "status never got there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// The nodes run in this runtime and the test's GETs block: more than one worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_and_the_swarm_probe_follow_the_node_list_and_the_peers() {
    let registry = session_crypto::Ed25519Seed::from_bytes([9; 32]).key_pair();
    let with_registry = |c: &mut session_node::NodeConfig| {
        c.registry_key = Some(registry.ed25519_public().to_string());
    };
    let a = TestNode::start_with(with_registry).await;
    let b = TestNode::start_with(with_registry).await;
    let (a_metrics, b_metrics) = (a.node.metrics_addr.unwrap(), b.node.metrics_addr.unwrap());
    let (status, text) = get(a_metrics, "/healthz");
    assert_eq!(
        (status, text.as_str()),
        (
            503,
            "not ready: waiting for a node list from the seed nodes\n"
        )
    );

    let entry = |node: &TestNode, metrics: SocketAddr| {
        let status: Value = serde_json::from_str(&get(metrics, "/status").1).unwrap();
        session_swarm::NodeEntry {
            pubkey_ed25519: node.node.public_key.to_string(),
            pubkey_x25519: status["pubkey_x25519"].as_str().unwrap().to_owned(),
            https: node.node.https_addr,
        }
    };
    let nodes = vec![entry(&a, a_metrics), entry(&b, b_metrics)];
    let list = session_swarm::NodeList {
        version: 1,
        issued_ms: now_ms(),
        swarms: vec![session_swarm::SwarmEntry {
            id: 0,
            members: nodes.iter().map(|n| n.pubkey_ed25519.clone()).collect(),
        }],
        nodes,
    };
    let signed = list.sign(&registry);
    a.node.network().accept(signed.clone()).unwrap();
    b.node.network().accept(signed).unwrap();

    // A new list is probed at once: the peer answers and nothing is pending.
    let status = status_until(a_metrics, TIMEOUT, |s| s["peers_reachable"] == 1).await;
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["swarm_id"], 0, "{status}");
    assert_eq!(status["swarm_peers"], 1, "{status}");
    assert_eq!(status["list_version"], 1, "{status}");
    assert!(status["list_adopted_ms"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["replication_lag_secs"], 0, "{status}");
    assert_eq!(get(a_metrics, "/healthz"), (200, "ready\n".to_owned()));
    let metrics = get(a_metrics, "/metrics").1;
    assert!(
        metrics.contains("\nsession_node_swarm_peers 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nsession_node_swarm_peers_unreachable 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\nsession_node_ready 1\n"), "{metrics}");

    // The peer goes away: the next probe (every 15 s) counts it unreachable.
    b.node.shutdown().await;
    let limit = session_node::admin::PROBE_INTERVAL + TIMEOUT;
    status_until(a_metrics, limit, |s| s["peers_reachable"] == 0).await;
    let metrics = get(a_metrics, "/metrics").1;
    assert!(
        metrics.contains("\nsession_node_swarm_peers_unreachable 1\n"),
        "{metrics}"
    );
}
