//! Real-time delivery: send-to-displayed latency with waiting retrieves beside polling at the
//! CLI's default interval, an idle online client's requests per minute (waiting and polling),
//! and a node's memory per held wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_client::{Incoming, LiveEvent, Messenger, DEFAULT_POLL_INTERVAL};
use session_crypto::{OsRng, RngCore};
use session_net::Connection;
use session_testnet::client::{new_messenger, TestAccount};
use session_testnet::procfs::resident_bytes;
use session_testnet::{now_ms, Testnet};
use session_wire::rpc::{Request, RetrieveParams, MAX_WAIT_MS};

use crate::measure::{millis, Row};
use crate::suite::{Error, TIMEOUT};

/// How long a sample may wait for its message before the run fails.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(10);

/// Pause before each sample, so that the recipient's stream has its next retrieve in place
/// (an online recipient between two messages).
const SETTLE: Duration = Duration::from_millis(100);

/// Sends from one account to another `samples` times and times each from the start of the
/// `send` to the recipient's stream yielding it. `jitter` spreads the sends over a poll cycle
/// (a polling recipient's phase must not line up with the sends).
async fn latencies(
    alice: &Messenger,
    bob: &Messenger,
    mut incoming: Incoming,
    samples: usize,
    jitter: Duration,
) -> Result<Vec<Duration>, Error> {
    let bob_id = bob.account_id();
    let (arrived, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    // The stream runs on its own task, as a client's display loop would, all along.
    let display = tokio::spawn(async move {
        loop {
            if let LiveEvent::Received(messages) = incoming.next().await {
                if arrived.send((Instant::now(), messages.len())).is_err() {
                    return;
                }
            }
        }
    });
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 3 {
        let spread = OsRng.next_u64() % (jitter.as_millis() as u64).max(1);
        tokio::time::sleep(SETTLE + Duration::from_millis(spread)).await;
        let started = Instant::now();
        alice.send(&bob_id, &format!("live {i}")).await?;
        let (at, count) = tokio::time::timeout(ARRIVAL_LIMIT, arrivals.recv())
            .await
            .map_err(|_| format!("message {i} never arrived"))?
            .ok_or("the stream stopped")?;
        if count != 1 {
            return Err(format!("expected one message, the stream yielded {count}").into());
        }
        if i >= 3 {
            times.push(at.duration_since(started));
        }
    }
    display.abort();
    Ok(times)
}

/// The latency row and the idle-requests row, on a running network.
pub async fn delivery(net: &Testnet, samples: usize, idle: Duration) -> Result<Vec<Row>, Error> {
    let dir = tempfile::tempdir()?;
    let messenger = |name: &'static str| {
        let path = dir.path().join(name);
        async move { new_messenger(net, &path, |_| {}).await.map(Arc::new) }
    };
    let (alice, bob, carol) = (
        messenger("alice").await?,
        messenger("bob").await?,
        messenger("carol").await?,
    );
    let (waiter, poller) = (messenger("idle-wait").await?, messenger("idle-poll").await?);
    // The idle clients count their retrieves for as long as the latency samples run, and at
    // least `idle`.
    let idle_started = Instant::now();
    let waiting_idle = count_retrieves(waiter.incoming());
    let polling_idle = count_retrieves(poller.incoming().polling());

    let waiting = latencies(&alice, &bob, bob.incoming(), samples, Duration::ZERO).await?;
    let polling = latencies(
        &alice,
        &carol,
        carol.incoming().polling(),
        samples.div_ceil(4),
        DEFAULT_POLL_INTERVAL,
    )
    .await?;
    let (p50, p99) = millis(&waiting);
    let (poll_p50, _) = millis(&polling);
    let rest = idle.saturating_sub(idle_started.elapsed());
    tokio::time::sleep(rest).await;
    let wait_rate = waiting_idle.per_minute()?;
    let poll_rate = polling_idle.per_minute()?;
    Ok(vec![
        Row {
            name: "live delivery: send (3 relays) to the recipient's stream yielding it, waiting retrieve"
                .into(),
            median: p50,
            p99: Some(p99),
            unit: "ms".into(),
            reference_name: format!(
                "the same with polling every {} s (p50, {} samples)",
                DEFAULT_POLL_INTERVAL.as_secs_f64(),
                polling.len()
            ),
            reference: poll_p50,
            reference_unit: "ms".into(),
            ratio: poll_p50 / p50,
            target: "p50 < 100 ms, p99 < 500 ms".into(),
            meets_target: p50 < 100.0 && p99 < 500.0,
        },
        Row {
            name: format!(
                "idle online client: retrieves per minute, waiting ({} s holds)",
                MAX_WAIT_MS / 1000
            ),
            median: wait_rate,
            p99: None,
            unit: "req/min".into(),
            reference_name: format!(
                "polling every {} s",
                DEFAULT_POLL_INTERVAL.as_secs_f64()
            ),
            reference: poll_rate,
            reference_unit: "req/min".into(),
            ratio: poll_rate / wait_rate,
            target: "< 5 req/min".into(),
            meets_target: wait_rate < 5.0,
        },
    ])
}

/// An idle stream on its own task, publishing how many retrieves it has started and when each
/// started.
struct Counter {
    starts: Arc<std::sync::Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

fn count_retrieves(mut incoming: Incoming) -> Counter {
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let published = starts.clone();
    let task = tokio::spawn(async move {
        let mut seen = 0;
        loop {
            // `next` is cancel-safe: the retrieve in flight goes on while the count is read.
            tokio::select! {
                _ = incoming.next() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if incoming.retrieves() > seen {
                seen = incoming.retrieves();
                if let Ok(mut starts) = published.lock() {
                    starts.push(Instant::now());
                }
            }
        }
    });
    Counter { starts, task }
}

impl Counter {
    /// Retrieves per minute: the retrieves after the first over the time from the first to
    /// the last (so a window need not be a whole number of waits).
    fn per_minute(self) -> Result<f64, Error> {
        self.task.abort();
        let starts = self.starts.lock().map_err(|_| "poisoned")?;
        match (starts.first(), starts.last()) {
            (Some(first), Some(last)) if starts.len() >= 2 => {
                let span = last.duration_since(*first).as_secs_f64();
                Ok((starts.len() - 1) as f64 * 60.0 / span)
            }
            _ => Err(format!(
                "an idle stream started only {} retrieves; run longer",
                starts.len()
            )
            .into()),
        }
    }
}

/// The node's resident memory per held wait: `count` waiting retrieves (each on its own
/// connection, from several loopback addresses, spread over accounts) against the same number
/// of idle connections, each as (RSS with them open - RSS before) / count.
pub async fn memory_per_wait(net: &Testnet, count: usize) -> Result<Row, Error> {
    let node = net.address(0).ok_or("no node 0")?;
    let pid = net.process_id(0).ok_or("the node is not a process")?;
    // Per address, below the node's per-address connection cap (128).
    let local = |i: usize| std::net::IpAddr::from([127, 0, 1, 10 + (i / 100) as u8]);
    let accounts: Vec<TestAccount> = (0..100u8).map(TestAccount::from_byte).collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = resident_bytes(pid)?.0;
    let mut waits = Vec::with_capacity(count);
    for i in 0..count {
        let mut connection = Connection::open_from(node, local(i), TIMEOUT).await?;
        let keys = &accounts[i % accounts.len()].keys;
        let request =
            Request::Retrieve(RetrieveParams::signed(keys, 0, now_ms(), None).waiting(MAX_WAIT_MS));
        waits.push(tokio::spawn(async move {
            let _ = connection
                .post("/storage_rpc/v1", request.to_json(), TIMEOUT + TIMEOUT)
                .await;
        }));
    }
    // Every request sent and taken up (an empty retrieve takes well under a second).
    tokio::time::sleep(Duration::from_secs(1)).await;
    if waits.iter().any(|w| w.is_finished()) {
        return Err("a wait was answered early (refused?)".into());
    }
    let with_waits = resident_bytes(pid)?.0;
    for wait in &waits {
        wait.abort();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before_idle = resident_bytes(pid)?.0;
    let mut idle = Vec::with_capacity(count);
    for i in 0..count {
        idle.push(Connection::open_from(node, local(i), TIMEOUT).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_idle = resident_bytes(pid)?.0;
    drop(idle);

    let per = |with: u64, without: u64| with.saturating_sub(without) as f64 / count as f64 / 1024.0;
    let per_wait = per(with_waits, before);
    let per_connection = per(with_idle, before_idle);
    Ok(Row {
        name: format!("node memory per held wait (VmRSS, {count} waits held)"),
        median: per_wait,
        p99: None,
        unit: "KiB".into(),
        reference_name: format!("per idle TLS connection ({count} open, measured after the waits)"),
        reference: per_connection,
        reference_unit: "KiB".into(),
        ratio: per_connection / per_wait,
        target: "< 64 KiB".into(),
        meets_target: per_wait < 64.0,
    })
}
