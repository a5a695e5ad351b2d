//! The measurements. Nodes run as child processes of this program, so a node's CPU time and
//! memory can be read on their own; the clients run in this process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use session_client::MessageState;
use session_crypto::{HopCipher, HopKey, OsRng, RngCore, X25519SecretKey};
use session_net::{Connection, ConnectionPool, NodeAddress};
use session_node::storage::{Durability, NewMessage, Source, Storage};
use session_swarm::SwarmConfig;
use session_testnet::client::{call, new_messenger, TestAccount};
use session_testnet::{now_ms, Testnet, TestnetConfig};
use session_wire::onion::build_onion;
use session_wire::rpc::{Request, RetrieveParams, StoreParams};

use session_testnet::procfs::{cpu_seconds, resident_bytes};

use crate::measure::{millis, quantile, Row};

/// Any failure of a benchmark.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const TIMEOUT: Duration = Duration::from_secs(20);
/// A path no node serves: its 404 is the cheapest HTTPS round trip a node can answer.
const EMPTY_PATH: &str = "/bench/empty";
/// Payload of stored messages.
const PAYLOAD: usize = 1024;

/// Sizes of the suite.
struct Plan {
    windows: usize,
    window: Duration,
    samples: usize,
    stored: u64,
    /// How long idle live streams are watched (at least one 25 s wait and a bit).
    idle: Duration,
    /// Waits held at once for the memory figure.
    waits: usize,
}

/// Runs every measurement and returns the rows.
pub async fn run(quick: bool) -> Result<Vec<Row>, Error> {
    let plan = if quick {
        Plan {
            windows: 3,
            window: Duration::from_secs(1),
            samples: 200,
            stored: 100_000,
            idle: Duration::from_secs(30),
            waits: 1000,
        }
    } else {
        Plan {
            windows: 7,
            window: Duration::from_secs(2),
            samples: 1000,
            stored: 1_000_000,
            idle: Duration::from_secs(80),
            waits: 1000,
        }
    };
    let runner = session_testnet::program::self_runner()?;
    let mut rows = Vec::new();

    eprintln!("starting a 12-node network (one process per node)...");
    let net = Testnet::start(TestnetConfig {
        runner: runner.clone(),
        ..TestnetConfig::default()
    })
    .await?;
    let rtt = network_round_trip(&net).await?;
    eprintln!("onion relay...");
    rows.push(relay(&net, &plan).await?);
    eprintln!("replication...");
    rows.push(replication(&net, rtt, &plan).await?);
    eprintln!("end to end...");
    rows.push(end_to_end(&net, rtt, &plan).await?);
    eprintln!("groups: 1,000-member costs...");
    rows.extend(crate::groups::thousand_members(plan.samples)?);
    if !quick {
        eprintln!("groups: a 100-member group on the network...");
        rows.push(crate::groups::hundred_members(&net, 10).await?);
    }
    eprintln!("Session Protocol v2...");
    rows.extend(crate::v2::rows(&net, plan.samples).await?);
    if !quick {
        eprintln!("attachments (20 MB)...");
        rows.extend(crate::attachments::rows(&net).await?);
    }
    eprintln!("live delivery (about {} s)...", plan.idle.as_secs());
    rows.extend(crate::live::delivery(&net, plan.samples / 4, plan.idle).await?);
    net.shutdown().await;

    eprintln!("starting a single node...");
    let mut net = Testnet::start(TestnetConfig {
        nodes: 1,
        seeds: 1,
        swarm: SwarmConfig::new(1, 1, 1)?,
        runner,
        // Room for the memory figure's waits (100 from each loopback address).
        waits: session_node::waits::WaitLimits {
            max_total: plan.waits,
            max_per_source: 100,
            ..session_node::waits::WaitLimits::default()
        },
        ..TestnetConfig::default()
    })
    .await?;
    eprintln!("memory per held wait...");
    rows.push(crate::live::memory_per_wait(&net, plan.waits).await?);
    eprintln!("store...");
    rows.push(store(&net, &plan).await?);
    eprintln!("filling the node with {} messages...", plan.stored);
    rows.extend(retrieve_and_footprint(&mut net, &plan).await?);
    net.shutdown().await;
    Ok(rows)
}

fn address(net: &Testnet, index: usize) -> Result<NodeAddress, Error> {
    net.address(index)
        .ok_or_else(|| format!("no node {index}").into())
}

/// Sequential empty-body round trips on one open connection.
async fn round_trips(node: NodeAddress, samples: usize) -> Result<Vec<Duration>, Error> {
    let mut connection = Connection::open(node, TIMEOUT).await?;
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples + 20 {
        let started = Instant::now();
        connection.post(EMPTY_PATH, Vec::new(), TIMEOUT).await?;
        if i >= 20 {
            out.push(started.elapsed());
        }
    }
    Ok(out)
}

/// The median loopback HTTPS round trip over every node, in ms.
async fn network_round_trip(net: &Testnet) -> Result<f64, Error> {
    let mut all = Vec::new();
    for node in net.addresses() {
        all.extend(round_trips(node, 50).await?);
    }
    Ok(millis(&all).0)
}

/// Relays per CPU-second of the middle hop of [guard, relay, destination] paths, against the
/// CPU cost of the crypto a relay cannot avoid: one X25519 and one AEAD decrypt of its layer.
async fn relay(net: &Testnet, plan: &Plan) -> Result<Row, Error> {
    let hops = net.hops();
    let (guard, middle, destination) = (1, 2, 3);
    let request = Request::Info.to_json();
    let mut onions = Vec::new();
    for _ in 0..64 {
        let path = [hops[guard], hops[middle], hops[destination]];
        onions.push(build_onion(&path, &request, HopCipher::XChaCha20, &mut OsRng)?.body);
    }
    // What the middle hop receives: the same framing, one layer fewer.
    let layer_len = build_onion(
        &[hops[middle], hops[destination]],
        &request,
        HopCipher::XChaCha20,
        &mut OsRng,
    )?
    .body
    .len();
    let pid = net.process_id(middle).ok_or("the relay is not a process")?;
    eprintln!("  relay node: pid {pid} (for `perf record -p {pid}`)");
    let guard_address = address(net, guard)?;
    let onions = Arc::new(onions);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (done, stop, onions) = (done.clone(), stop.clone(), onions.clone());
        let mut connection = Connection::open(guard_address, TIMEOUT).await?;
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let body = onions[i % onions.len()].clone();
                let response = connection.post("/onion_req/v2", body, TIMEOUT).await?;
                if response.status != 200 {
                    return Err::<(), Error>(format!("relay answered {}", response.status).into());
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Relay windows alternate with raw-crypto samples taken under the same load, so that both
    // sides of each ratio see the same machine (shared VMs drift by tens of percent).
    let (mut per_cpu, mut per_wall, mut raws, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.windows {
        let (count0, cpu0, t0) = (
            done.load(Ordering::Relaxed),
            cpu_seconds(pid)?,
            Instant::now(),
        );
        tokio::time::sleep(plan.window).await;
        let count = (done.load(Ordering::Relaxed) - count0) as f64;
        let cpu = cpu_seconds(pid)? - cpu0;
        per_wall.push(count / t0.elapsed().as_secs_f64());
        let raw = tokio::task::spawn_blocking(move || raw_hop_decrypts_per_cpu_second(layer_len))
            .await??;
        if cpu > 0.0 {
            per_cpu.push(count / cpu);
            ratios.push(count / cpu / raw);
        }
        raws.push(raw);
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let median = quantile(&mut per_cpu, 0.5);
    let raw = quantile(&mut raws, 0.5);
    let wall = quantile(&mut per_wall, 0.5);
    let ratio = quantile(&mut ratios, 0.5);
    Ok(Row {
        name: format!(
            "onion relay, middle hop of 3-hop paths (16 clients; {wall:.0} requests/s through the path)"
        ),
        median,
        p99: None,
        unit: "relays/CPU-s of the relay".into(),
        reference_name: format!("raw X25519 + AEAD decrypt of its {layer_len}-byte layer"),
        reference: raw,
        reference_unit: "ops/CPU-s".into(),
        ratio,
        target: ">= 0.6".into(),
        meets_target: ratio >= 0.6,
    })
}

/// One thread's rate of the relay's unavoidable crypto per second of its own CPU time (read from
/// the scheduler, so that preemption by other processes does not count), median of 30 batches.
fn raw_hop_decrypts_per_cpu_second(len: usize) -> Result<f64, Error> {
    let node = X25519SecretKey::generate(&mut OsRng);
    let ephemeral = X25519SecretKey::generate(&mut OsRng);
    let key = HopKey::for_client(HopCipher::XChaCha20, &ephemeral, &node.public_key())?;
    let layer = key.encrypt(&vec![7u8; len.saturating_sub(40)], &mut OsRng)?;
    let ephemeral_public = ephemeral.public_key();
    let mut rates = Vec::new();
    for _ in 0..30 {
        let started = thread_cpu_seconds()?;
        for _ in 0..200 {
            let key = HopKey::for_node(HopCipher::XChaCha20, &node, &ephemeral_public)?;
            key.decrypt(&layer)?;
        }
        rates.push(200.0 / (thread_cpu_seconds()? - started));
    }
    Ok(quantile(&mut rates, 0.5))
}

/// CPU time of the calling thread, from /proc/thread-self/schedstat (nanoseconds on CPU).
fn thread_cpu_seconds() -> Result<f64, Error> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns: f64 = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or("bad /proc/thread-self/schedstat")?;
    Ok(ns / 1e9)
}

/// A store's round trip to a swarm member, which answers once every member holds the write.
async fn replication(net: &Testnet, rtt_ms: f64, plan: &Plan) -> Result<Row, Error> {
    let account = TestAccount::from_byte(1);
    let members = net.swarm_members_for(&account.swarm_key());
    let entry = address(net, members[0])?;
    let pool = ConnectionPool::new();
    let mut times = Vec::new();
    for i in 0..plan.samples + 20 {
        let request = account.store(&(i as u64).to_le_bytes());
        let started = Instant::now();
        let (status, body) = call(&pool, entry, &request).await?;
        let elapsed = started.elapsed();
        if status != 200 {
            return Err(format!("store answered {status}: {body}").into());
        }
        let held = body["swarm"]
            .as_object()
            .map_or(0, |s| s.values().filter(|r| r["failed"] != true).count());
        if held != members.len() {
            return Err(format!("only {held} of {} members hold a write", members.len()).into());
        }
        if i >= 20 {
            times.push(elapsed);
        }
    }
    let (p50, p99) = millis(&times);
    let reference = 2.0 * rtt_ms;
    Ok(Row {
        name: format!(
            "replication: a write held by all {} swarm members",
            members.len()
        ),
        median: p50,
        p99: Some(p99),
        unit: "ms".into(),
        reference_name: "2 loopback HTTPS round trips (client to member, member to peers)".into(),
        reference,
        reference_unit: "ms".into(),
        ratio: reference / p50,
        target: "-".into(),
        meets_target: true,
    })
}

/// Send through a 3-relay path (stored on every swarm member), then fetch and decrypt through
/// the recipient's own 3-relay path.
async fn end_to_end(net: &Testnet, rtt_ms: f64, plan: &Plan) -> Result<Row, Error> {
    let dir = tempfile::tempdir()?;
    let alice = new_messenger(net, &dir.path().join("alice"), |_| {}).await?;
    let bob = new_messenger(net, &dir.path().join("bob"), |_| {}).await?;
    let bob_id = bob.account_id();
    // Bob's first sync publishes his account key: Alice then sends v2, the default.
    bob.sync().await?;
    let samples = plan.samples / 4;
    let mut times = Vec::new();
    for i in 0..samples + 10 {
        let text = format!("benchmark message {i}");
        let started = Instant::now();
        let delivery = alice.send(&bob_id, &text).await?;
        match delivery.message.state {
            MessageState::Stored { on, of } if on == of => {}
            other => return Err(format!("not stored everywhere: {other:?}").into()),
        }
        let mut arrived = false;
        for _ in 0..5 {
            if bob.sync().await?.new.iter().any(|m| m.text == text) {
                arrived = true;
                break;
            }
        }
        if !arrived {
            return Err(format!("{text:?} never arrived").into());
        }
        if i >= 10 {
            times.push(started.elapsed());
        }
    }
    let (p50, p99) = millis(&times);
    let reference = 9.0 * rtt_ms;
    Ok(Row {
        name: "end to end: send v2 (3 relays, stored on every member), fetch + decrypt (3 relays)"
            .into(),
        median: p50,
        p99: Some(p99),
        unit: "ms".into(),
        reference_name: "9 loopback HTTPS round trips (4 + 4 hops, 1 replication)".into(),
        reference,
        reference_unit: "ms".into(),
        ratio: reference / p50,
        target: "p50 < 20 ms".into(),
        meets_target: p50 < 20.0,
    })
}

/// Stores/s of 1 KiB messages by 64 concurrent HTTPS clients, against raw SQLite inserts of
/// the same rows with the node's durability, in this process.
async fn store(net: &Testnet, plan: &Plan) -> Result<Row, Error> {
    let node = address(net, 0)?;
    if let Some(pid) = net.process_id(0) {
        eprintln!("  storing node: pid {pid}");
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..64u8 {
        let (done, stop) = (done.clone(), stop.clone());
        let mut connection = Connection::open(node, TIMEOUT).await?;
        let account = TestAccount::from_byte(c).keys.account_id();
        tasks.push(tokio::spawn(async move {
            let mut data = vec![0u8; PAYLOAD];
            while !stop.load(Ordering::Relaxed) {
                OsRng.fill_bytes(&mut data);
                let request = Request::Store(StoreParams::deposit(
                    &account,
                    0,
                    &data,
                    now_ms(),
                    3_600_000,
                ));
                let response = connection
                    .post("/storage_rpc/v1", request.to_json(), TIMEOUT)
                    .await?;
                if response.status != 200 {
                    return Err::<(), Error>(format!("store answered {}", response.status).into());
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut rates = Vec::new();
    for _ in 0..plan.windows {
        let (count0, t0) = (done.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(plan.window).await;
        rates.push((done.load(Ordering::Relaxed) - count0) as f64 / t0.elapsed().as_secs_f64());
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let (windows, window) = (plan.windows, plan.window);
    let durability = session_node::NodeConfig::with_data_dir(".").durability;
    let raw =
        tokio::task::spawn_blocking(move || raw_inserts_per_second(durability, windows, window))
            .await??;
    let median = quantile(&mut rates, 0.5);
    let ratio = median / raw;
    Ok(Row {
        name: "store 1 KiB over HTTPS, 64 concurrent clients".into(),
        median,
        p99: None,
        unit: "stores/s".into(),
        reference_name: format!("raw SQLite inserts of the same rows ({durability:?} durability)"),
        reference: raw,
        reference_unit: "inserts/s".into(),
        ratio,
        target: ">= 0.5".into(),
        meets_target: ratio >= 0.5,
    })
}

/// Inserts/s into a table shaped like the node's, one commit per row as the node commits each
/// store before answering, with the same journal mode and synchronous setting.
fn raw_inserts_per_second(
    durability: Durability,
    windows: usize,
    window: Duration,
) -> Result<f64, Error> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("raw.sqlite"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, owner INTEGER NOT NULL,
            namespace INTEGER NOT NULL, hash BLOB NOT NULL UNIQUE, timestamp INTEGER NOT NULL,
            expiry INTEGER NOT NULL, data BLOB NOT NULL);
         CREATE INDEX messages_by_owner ON messages(owner, namespace, id);
         CREATE INDEX messages_by_expiry ON messages(expiry);",
    )?;
    let mut insert = conn.prepare(
        "INSERT INTO messages (owner, namespace, hash, timestamp, expiry, data)
         VALUES (?1, 0, ?2, ?3, ?4, ?5)",
    )?;
    let (mut hash, mut data) = ([0u8; 32], vec![0u8; PAYLOAD]);
    let now = now_ms() as i64;
    let mut rates = Vec::new();
    for _ in 0..windows {
        let started = Instant::now();
        let mut count = 0u64;
        while started.elapsed() < window {
            OsRng.fill_bytes(&mut hash);
            OsRng.fill_bytes(&mut data);
            insert.execute(rusqlite::params![
                (count % 64) as i64,
                hash.as_slice(),
                now,
                now + 3_600_000,
                data.as_slice()
            ])?;
            count += 1;
        }
        rates.push(count as f64 / started.elapsed().as_secs_f64());
    }
    Ok(quantile(&mut rates, 0.5))
}

/// Fills the stopped node's database to `plan.stored` messages, restarts it, and measures a
/// poll (`retrieve` after `last_hash`, 10 messages back) and the node's footprint.
async fn retrieve_and_footprint(net: &mut Testnet, plan: &Plan) -> Result<Vec<Row>, Error> {
    let dir: PathBuf = net.base_dir().join("node-00");
    let database = dir.join(session_node::DATABASE_FILE);
    net.stop(0).await?;
    let account = TestAccount::from_byte(200);
    let owner = account.keys.account_id().to_bytes33();
    let stored = plan.stored;
    let (count, last_hash, fill_time) =
        tokio::task::spawn_blocking(move || fill(&database, stored, owner)).await??;
    eprintln!(
        "  {count} messages in the database ({:.1} s to fill)",
        fill_time.as_secs_f64()
    );
    net.restart(0).await?;
    let node = address(net, 0)?;
    let pid = net.process_id(0).ok_or("the node is not a process")?;

    let mut connection = Connection::open(node, TIMEOUT).await?;
    let mut times = Vec::new();
    for i in 0..plan.samples * 2 + 50 {
        let request = Request::Retrieve(RetrieveParams::signed(
            &account.keys,
            0,
            now_ms(),
            Some(last_hash.clone()),
        ))
        .to_json();
        let started = Instant::now();
        let response = connection.post("/storage_rpc/v1", request, TIMEOUT).await?;
        let elapsed = started.elapsed();
        if response.status != 200 {
            return Err(format!("retrieve answered {}", response.status).into());
        }
        if i == 0 {
            let body: serde_json::Value = serde_json::from_slice(&response.body)?;
            let got = body["messages"].as_array().map_or(0, Vec::len);
            if got != 10 {
                return Err(format!("the poll returned {got} messages, not 10").into());
            }
        }
        if i >= 50 {
            times.push(elapsed);
        }
    }
    let (p50, p99) = millis(&times);
    let (rtt, _) = millis(&round_trips(node, plan.samples).await?);
    let (rss, peak) = resident_bytes(pid)?;
    let database_bytes: u64 = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(session_node::DATABASE_FILE)
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let per_message = database_bytes as f64 / count as f64;
    let payload_mb = (count * PAYLOAD as u64) as f64 / 1e6;
    let rss_mb = rss as f64 / 1e6;
    Ok(vec![
        Row {
            name: format!("retrieve: poll after last_hash (10 messages back), {count} stored"),
            median: p50,
            p99: Some(p99),
            unit: "ms".into(),
            reference_name: "loopback HTTPS round trip, empty body".into(),
            reference: rtt,
            reference_unit: "ms".into(),
            ratio: rtt / p50,
            target: "-".into(),
            meets_target: true,
        },
        Row {
            name: format!(
                "node resident memory with {count} messages stored (peak {:.0} MB)",
                peak as f64 / 1e6
            ),
            median: rss_mb,
            p99: None,
            unit: "MB".into(),
            reference_name: "payload stored".into(),
            reference: payload_mb,
            reference_unit: "MB".into(),
            ratio: payload_mb / rss_mb,
            target: "< 200 MB".into(),
            meets_target: rss_mb < 200.0,
        },
        Row {
            name: format!("database bytes per stored message ({count} messages)"),
            median: per_message,
            p99: None,
            unit: "bytes".into(),
            reference_name: "payload per message".into(),
            reference: PAYLOAD as f64,
            reference_unit: "bytes".into(),
            ratio: PAYLOAD as f64 / per_message,
            target: "<= 1.6x payload (ratio >= 0.625)".into(),
            meets_target: per_message <= 1.6 * PAYLOAD as f64,
        },
    ])
}

/// Stores 1 KiB messages through the node's own storage layer until it holds `total`: 1,000
/// accounts, in batches of 5,000 per transaction, then 100 for `owner`. Returns the count, the
/// hash to poll after (10 before the newest) and the time taken.
fn fill(database: &Path, total: u64, owner: [u8; 33]) -> Result<(u64, String, Duration), Error> {
    let started = Instant::now();
    let storage = Storage::open(database, 64 << 30, Durability::Normal)?;
    let now = now_ms();
    let message = |owner: [u8; 33]| {
        let mut hash = [0u8; 32];
        let mut data = vec![0u8; PAYLOAD];
        OsRng.fill_bytes(&mut hash);
        OsRng.fill_bytes(&mut data);
        NewMessage {
            owner,
            namespace: 0,
            hash,
            timestamp: now,
            expiry: now + 3_600_000,
            data,
            replace_namespace: false,
            proof: None,
            // The fill stands in for messages already held: no deposit quota applies.
            source: Source::Owner,
        }
    };
    let mut next = storage.message_count();
    while next < total.saturating_sub(100) {
        let end = (next + 5000).min(total - 100);
        let batch = (next..end)
            .map(|i| {
                let mut filler = [0x05u8; 33];
                filler[1..9].copy_from_slice(&(i % 1000).to_le_bytes());
                message(filler)
            })
            .collect();
        for outcome in storage.store_many(batch)? {
            outcome?;
        }
        next = end;
    }
    let own: Vec<NewMessage> = (0..100).map(|_| message(owner)).collect();
    let last = STANDARD_NO_PAD.encode(own[89].hash);
    for outcome in storage.store_many(own)? {
        outcome?;
    }
    Ok((storage.message_count(), last, started.elapsed()))
}
