//! Hostile input at the network edge: random and mutated requests (storage RPC JSON, onion
//! frames with valid and invalid layers, oversized and truncated bodies, slow-loris connections,
//! bytes that are not TLS) against a live node for a bounded time, while a well-behaved client
//! stores and reads in parallel and must get correct answers throughout.
//!
//! In the background run the attacks of issue 12: an idle-connection flood from another loopback
//! address (127.0.0.9, up to 1,000 silent TCP connections, reopened as the node closes them),
//! onion self-relays and loops, another listed node forging replication for the accounts it
//! holds (see [`crate::attack_load`]), and one client flooding one inbox.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rustls::pki_types::ServerName;
use session_crypto::{HopCipher, OsRng, RngCore};
use session_net::{Connection, NodeAddress};
use session_wire::onion::{build_onion, Hop};
use session_wire::rpc::{Request, RetrieveParams};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::attack_load::{FloodReport, ForgeReport};
use crate::client::TestAccount;
use crate::procfs::{is_alive, resident_bytes};
use crate::{now_ms, random_below, Testnet, TestnetError};

const STORAGE_PATH: &str = "/storage_rpc/v1";
const ONION_PATH: &str = "/onion_req/v2";
const TIMEOUT: Duration = Duration::from_secs(15);

/// What a hostile run saw.
#[derive(Debug, Clone, Default)]
pub struct HostileReport {
    /// Requests sent, by kind.
    pub sent: BTreeMap<&'static str, u64>,
    /// Node answers by HTTP status (connection-level failures under 0).
    pub statuses: BTreeMap<u16, u64>,
    /// Well-behaved round trips (store then retrieve) that were answered correctly.
    pub good_ok: u64,
    /// Well-behaved round trips that failed or were answered wrongly (must be 0).
    pub good_failed: u64,
    /// The slowest well-behaved round trip.
    pub good_worst: Duration,
    /// The node's peak resident memory seen, bytes.
    pub peak_rss: u64,
    /// The node's resident memory at the start, bytes.
    pub start_rss: u64,
    /// Whether the node process was still alive at the end (restarts needed: 0).
    pub node_alive: bool,
    /// How long the attack lasted.
    pub elapsed: Duration,
    /// What the node forging replication achieved (nothing may be applied).
    pub forge: ForgeReport,
    /// What flooding one inbox achieved.
    pub flood: FloodReport,
}

impl fmt::Display for HostileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| hostile-input figure | value |")?;
        writeln!(f, "|---|---|")?;
        for (kind, count) in &self.sent {
            writeln!(f, "| sent: {kind} | {count} |")?;
        }
        let total: u64 = self.sent.values().sum();
        writeln!(
            f,
            "| sent in all | {total} in {:.0} s |",
            self.elapsed.as_secs_f64()
        )?;
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| {
                if *s == 0 {
                    format!("no HTTP answer: {n}")
                } else {
                    format!("{s}: {n}")
                }
            })
            .collect();
        writeln!(f, "| answers | {} |", statuses.join(", "))?;
        writeln!(
            f,
            "| well-behaved client: correct / failed | {} / {} |",
            self.good_ok, self.good_failed
        )?;
        writeln!(
            f,
            "| well-behaved client: slowest round trip | {:.0} ms |",
            self.good_worst.as_secs_f64() * 1e3
        )?;
        writeln!(
            f,
            "| node memory: start / peak | {:.0} MB / {:.0} MB |",
            self.start_rss as f64 / 1e6,
            self.peak_rss as f64 / 1e6
        )?;
        writeln!(
            f,
            "| node restarts needed | {} |",
            if self.node_alive { 0 } else { 1 }
        )?;
        write_attack_rows(f, &self.forge, &self.flood)
    }
}

/// The rows of the background attacks, shared by the hostile and soak reports.
pub(crate) fn write_attack_rows(
    f: &mut fmt::Formatter<'_>,
    forge: &ForgeReport,
    flood: &FloodReport,
) -> fmt::Result {
    writeln!(
        f,
        "| forged replication: pushes / refused whole / changes refused / changes applied (must be 0) / failed | {} / {} / {} / {} / {} |",
        forge.pushes, forge.refused_pushes, forge.refused_changes, forge.applied_changes, forge.failed
    )?;
    write!(
        f,
        "| inbox flood: deposits sent / stored / rate-limited (429) / inbox full (507) / failed | {} / {} / {} / {} / {} |",
        flood.sent, flood.stored, flood.rate_limited, flood.inbox_full, flood.failed
    )
}

#[derive(Default)]
struct Tally {
    sent: Mutex<BTreeMap<&'static str, u64>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
}

impl Tally {
    fn sent(&self, kind: &'static str) {
        if let Ok(mut sent) = self.sent.lock() {
            *sent.entry(kind).or_default() += 1;
        }
    }

    fn status(&self, status: u16) {
        if let Ok(mut statuses) = self.statuses.lock() {
            *statuses.entry(status).or_default() += 1;
        }
    }
}

/// Attacks node `target` of `net` (which must run its nodes as child processes) for `duration`
/// with `attackers` concurrent hostile clients and 40 slow-loris connections at a time.
pub async fn run(
    net: &Testnet,
    target: usize,
    duration: Duration,
    attackers: usize,
) -> Result<HostileReport, TestnetError> {
    let pid = net
        .process_id(target)
        .ok_or(TestnetError::NeedsProcesses("measuring a node's memory"))?;
    let node = net
        .address(target)
        .ok_or(TestnetError::NoSuchNode(target))?;
    let hops = net.hops();
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let resident = |pid| resident_bytes(pid).map_or(0, |(rss, _)| rss);
    let mut report = HostileReport {
        start_rss: resident(pid),
        ..HostileReport::default()
    };

    let mut tasks = Vec::new();
    for a in 0..attackers {
        let (tally, stop, hops) = (tally.clone(), stop.clone(), hops.clone());
        tasks.push(tokio::spawn(async move {
            attacker(a, node, target, hops, tally, stop).await;
        }));
    }
    {
        let (tally, stop) = (tally.clone(), stop.clone());
        tasks.push(tokio::spawn(
            async move { slow_loris(node, tally, stop).await },
        ));
    }
    {
        let (tally, stop) = (tally.clone(), stop.clone());
        tasks.push(tokio::spawn(
            async move { idle_flood(node, tally, stop).await },
        ));
    }
    {
        let (tally, stop, hops) = (tally.clone(), stop.clone(), hops.clone());
        tasks.push(tokio::spawn(async move {
            relay_abuse(node, target, hops, tally, stop).await;
        }));
    }
    let good_ok = Arc::new(AtomicU64::new(0));
    let good_failed = Arc::new(AtomicU64::new(0));
    let good_worst = Arc::new(Mutex::new(Duration::ZERO));
    let forger = crate::attack_load::forger(net, (target + 1) % net.addresses().len())?;
    let forging = tokio::spawn(forger.run(Duration::from_millis(100), stop.clone()));
    let flooding = tokio::spawn(crate::attack_load::flood_inbox(
        node,
        TestAccount::from_byte(249),
        1024,
        stop.clone(),
    ));
    let good = {
        let (stop, ok, failed, worst) = (
            stop.clone(),
            good_ok.clone(),
            good_failed.clone(),
            good_worst.clone(),
        );
        tokio::spawn(async move { well_behaved(node, stop, ok, failed, worst).await })
    };

    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(250)).await;
        report.peak_rss = report.peak_rss.max(resident(pid));
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let _ = good.await;
    report.forge = forging.await.unwrap_or_default();
    report.flood = flooding.await.unwrap_or_default();
    report.peak_rss = report.peak_rss.max(resident(pid));
    report.node_alive = is_alive(pid) && Connection::open(node, TIMEOUT).await.is_ok();
    report.sent = tally.sent.lock().map(|s| s.clone()).unwrap_or_default();
    report.statuses = tally.statuses.lock().map(|s| s.clone()).unwrap_or_default();
    report.good_ok = good_ok.load(Ordering::Relaxed);
    report.good_failed = good_failed.load(Ordering::Relaxed);
    report.good_worst = good_worst.lock().map(|w| *w).unwrap_or_default();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One hostile client: picks a kind of abuse at random, again and again.
async fn attacker(
    seed: usize,
    node: NodeAddress,
    target: usize,
    hops: Vec<Hop>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let account = TestAccount::from_byte(seed as u8);
    let mut connection: Option<Connection> = None;
    while !stop.load(Ordering::Relaxed) {
        let (kind, path, body) = match random_below(10) {
            0 | 1 => (
                "rpc: mutated valid JSON",
                STORAGE_PATH,
                mutate(valid_rpc(&account)),
            ),
            2 => (
                "rpc: random bytes",
                STORAGE_PATH,
                random_bytes(random_below(4096)),
            ),
            3 => ("rpc: hostile values", STORAGE_PATH, hostile_rpc(&account)),
            4 | 5 => (
                "onion: mutated valid onion",
                ONION_PATH,
                mutate(valid_onion(&hops, target)),
            ),
            6 => (
                "onion: invalid layers",
                ONION_PATH,
                invalid_onion(&hops, target),
            ),
            7 => (
                "onion: random bytes",
                ONION_PATH,
                random_bytes(random_below(4096)),
            ),
            8 => {
                tally.sent("raw: truncated or oversized body");
                raw_bad_body(node, &tally).await;
                continue;
            }
            _ => {
                tally.sent("raw: bytes that are not TLS");
                not_tls(node).await;
                continue;
            }
        };
        tally.sent(kind);
        if connection.is_none() {
            connection = Connection::open(node, TIMEOUT).await.ok();
        }
        let Some(open) = connection.as_mut() else {
            tally.status(0);
            continue;
        };
        match open.post(path, body, TIMEOUT).await {
            Ok(response) => tally.status(response.status),
            Err(_) => {
                tally.status(0);
                connection = None;
            }
        }
    }
}

/// Stores a unique message and reads it back, every 100 ms; any wrong answer counts as failed.
async fn well_behaved(
    node: NodeAddress,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    worst: Arc<Mutex<Duration>>,
) {
    let account = TestAccount::from_byte(250);
    let mut connection: Option<Connection> = None;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let data = format!("well-behaved {i} {}", now_ms()).into_bytes();
        let started = Instant::now();
        let correct = async {
            if connection.is_none() {
                connection = Some(Connection::open(node, TIMEOUT).await.ok()?);
            }
            let open = connection.as_mut()?;
            let stored = open
                .post(STORAGE_PATH, account.store(&data).to_json(), TIMEOUT)
                .await
                .ok()?;
            if stored.status != 200 {
                return None;
            }
            let request =
                Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now_ms(), None));
            let read = open
                .post(STORAGE_PATH, request.to_json(), TIMEOUT)
                .await
                .ok()?;
            let body: serde_json::Value = serde_json::from_slice(&read.body).ok()?;
            let found = body["messages"].as_array()?.iter().any(|m| {
                m["data"]
                    .as_str()
                    .and_then(|d| STANDARD.decode(d).ok())
                    .is_some_and(|d| d == data)
            });
            (read.status == 200 && found).then_some(())
        }
        .await;
        let elapsed = started.elapsed();
        if let Ok(mut w) = worst.lock() {
            *w = (*w).max(elapsed);
        }
        if correct.is_some() {
            ok.fetch_add(1, Ordering::Relaxed);
        } else {
            failed.fetch_add(1, Ordering::Relaxed);
            connection = None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps 40 connections open that send a request's head one byte a second.
async fn slow_loris(node: NodeAddress, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut set = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        while set.len() < 40 {
            tally.sent("slow-loris connection");
            let stop = stop.clone();
            set.spawn(async move {
                let Some(mut tls) = raw_tls(node).await else {
                    return;
                };
                let head = b"POST /storage_rpc/v1 HTTP/1.1\r\nHost: session-node\r\nContent-Length: 100\r\n";
                for byte in head.iter().cycle() {
                    if stop.load(Ordering::Relaxed) || tls.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    let _ = tls.flush().await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        tokio::select! {
            _ = set.join_next() => {}
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    set.abort_all();
}

/// Silent TCP connections held open from another address.
const IDLE_FLOOD: usize = 1000;

/// Keeps up to [`IDLE_FLOOD`] silent TCP connections open from 127.0.0.9, reopening (at most
/// 200 every 200 ms) those the node closed.
async fn idle_flood(node: NodeAddress, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let local = std::net::SocketAddr::from(([127, 0, 0, 9], 0));
    let mut open: Vec<TcpStream> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        open.retain(|s| {
            let mut byte = [0u8; 1];
            matches!(s.try_read(&mut byte), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
        });
        for _ in 0..200.min(IDLE_FLOOD - open.len()) {
            let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                break;
            };
            if socket.bind(local).is_err() {
                break;
            }
            tally.sent("edge: idle connection");
            match socket.connect(node.addr).await {
                Ok(stream) => open.push(stream),
                Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Onions that must be refused: a relay to the node itself and a bounce back to the previous
/// hop, about 10 a second (amplification by size is in `tests/attacks_edge.rs`: its onions take
/// seconds to build).
async fn relay_abuse(
    node: NodeAddress,
    target: usize,
    hops: Vec<Hop>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let (Some(&me), Some(&other)) = (hops.get(target), hops.get((target + 1) % hops.len().max(1)))
    else {
        return;
    };
    let info = br#"{"method":"info"}"#;
    let onions: Vec<(&'static str, Vec<u8>)> = [
        ("edge: onion self-relay", vec![me, me]),
        ("edge: onion loop", vec![me, other, me, other, me]),
    ]
    .into_iter()
    .filter_map(|(kind, path)| {
        build_onion(&path, info, HopCipher::XChaCha20, &mut OsRng)
            .ok()
            .map(|o| (kind, o.body))
    })
    .collect();
    let mut connection: Option<Connection> = None;
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) && !onions.is_empty() {
        let Some((kind, body)) = onions.get(i % onions.len()) else {
            break;
        };
        i += 1;
        tally.sent(kind);
        if connection.is_none() {
            connection = Connection::open(node, TIMEOUT).await.ok();
        }
        if let Some(c) = connection.as_mut() {
            match c.post(ONION_PATH, body.clone(), TIMEOUT).await {
                Ok(response) => tally.status(response.status),
                Err(_) => {
                    tally.status(0);
                    connection = None;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TLS connection proving the node's key, with nothing on top.
async fn raw_tls(node: NodeAddress) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(node.addr).await.ok()?;
    let config = session_net::client_config(node.key).ok()?;
    let name = ServerName::try_from(session_net::tls::TLS_SERVER_NAME).ok()?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .ok()
}

/// A head that promises more body than it sends (or more than allowed), then hangs up.
async fn raw_bad_body(node: NodeAddress, tally: &Tally) {
    let Some(mut tls) = raw_tls(node).await else {
        tally.status(0);
        return;
    };
    let (declared, sent) = if random_below(2) == 0 {
        (1000 + random_below(100_000), random_below(500))
    } else {
        (50 * 1024 * 1024, 64 * 1024)
    };
    let path = if random_below(2) == 0 {
        STORAGE_PATH
    } else {
        ONION_PATH
    };
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: session-node\r\nContent-Length: {declared}\r\n\r\n");
    let _ = tls.write_all(head.as_bytes()).await;
    let _ = tls.write_all(&random_bytes(sent)).await;
    let _ = tls.flush().await;
    let _ = tls.shutdown().await;
    tally.status(0);
}

/// Random bytes straight onto the TCP port, where a TLS handshake is expected.
async fn not_tls(node: NodeAddress) {
    if let Ok(mut tcp) = TcpStream::connect(node.addr).await {
        let _ = tcp.write_all(&random_bytes(random_below(2048))).await;
        let _ = tcp.shutdown().await;
    }
}

fn valid_rpc(account: &TestAccount) -> Vec<u8> {
    let now = now_ms();
    let request = match random_below(3) {
        0 => account.store(&random_bytes(random_below(2000))),
        1 => Request::Retrieve(RetrieveParams::signed(&account.keys, 0, now, None)),
        _ => Request::Info,
    };
    request.to_json()
}

fn hostile_rpc(account: &TestAccount) -> Vec<u8> {
    let id = account.keys.account_id().to_string();
    let text = match random_below(8) {
        0 => format!(r#"{{"method":"store","params":{{"pubkey":"{id}","ttl":18446744073709551615,"timestamp":-1,"data":"AAAA"}}}}"#),
        1 => format!(r#"{{"method":"retrieve","params":{{"pubkey":"{id}","namespace":99999,"last_hash":"{}"}}}}"#, "A".repeat(5000)),
        2 => format!(r#"{{"method":"batch","params":{{"requests":[{}]}}}}"#, vec![r#"{"method":"info","params":{}}"#; 500].join(",")),
        3 => format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        4 => format!(r#"{{"method":"store","params":{{"pubkey":"{id}","ttl":60000,"timestamp":{},"data":"{}"}}}}"#, now_ms(), "A".repeat(200_000)),
        5 => r#"{"method":"sequence","params":{"requests":[{"method":"batch","params":{"requests":[]}}]}}"#.to_string(),
        6 => format!(r#"{{"method":"delete_all","params":{{"pubkey":"{id}","timestamp":{},"signature":"{}"}}}}"#, now_ms(), "A".repeat(88)),
        _ => r#"{"method":"get_swarm","params":{"pubkey":"05zz"}}"#.to_string(),
    };
    text.into_bytes()
}

fn valid_onion(hops: &[Hop], target: usize) -> Vec<u8> {
    let next = (target + 1) % hops.len().max(1);
    let path = [hops[target], hops[next]];
    build_onion(
        &path,
        &Request::Info.to_json(),
        HopCipher::XChaCha20,
        &mut OsRng,
    )
    .map(|onion| onion.body)
    .unwrap_or_default()
}

fn invalid_onion(hops: &[Hop], target: usize) -> Vec<u8> {
    let next = (target + 1) % hops.len().max(1);
    // A layer sealed for another node, so the target cannot open it; or a route to a node
    // that does not exist; or a frame whose length field lies.
    match random_below(3) {
        0 => build_onion(
            &[hops[next], hops[target]],
            &Request::Info.to_json(),
            HopCipher::AesGcm,
            &mut OsRng,
        )
        .map(|o| o.body)
        .unwrap_or_default(),
        1 => {
            let mut ghost = hops[next];
            OsRng.fill_bytes(&mut ghost.ed25519.0);
            build_onion(
                &[hops[target], ghost],
                &Request::Info.to_json(),
                HopCipher::XChaCha20,
                &mut OsRng,
            )
            .map(|o| o.body)
            .unwrap_or_default()
        }
        _ => {
            let mut body = valid_onion(hops, target);
            if body.len() >= 4 {
                body[..4].copy_from_slice(&(u32::MAX - random_below(1000) as u32).to_le_bytes());
            }
            body
        }
    }
}

/// Flips, inserts, deletes or truncates a few bytes.
fn mutate(mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..=random_below(4) {
        if bytes.is_empty() {
            break;
        }
        let at = random_below(bytes.len());
        match random_below(4) {
            0 => bytes[at] ^= 1 << random_below(8),
            1 => bytes.insert(at, OsRng.next_u32() as u8),
            2 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    bytes
}
