//! The soak test: clients message each other through onion paths at a steady rate while a chaos
//! loop crashes, restarts and pauses nodes and skews one client's clock, one listed node forges
//! replication and one client floods an inbox (see [`crate::attack_load`]; nodes keep the real
//! per-account quota). At the end every message a swarm member acknowledged must have reached
//! its recipient exactly once, and no forged change may have been applied.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use session_client::{MessageState, Messenger};
use session_crypto::AccountId;

use crate::attack_load::{FloodReport, ForgeReport};
use crate::{now_ms, random_below, NodeRunner, Testnet, TestnetConfig, TestnetError};

/// How to soak.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// How long clients send while faults are injected.
    pub duration: Duration,
    /// Nodes in the network.
    pub nodes: usize,
    /// Clients sending to each other.
    pub clients: usize,
    /// Pause between two sends of one client.
    pub send_interval: Duration,
    /// Pause between two polls of one client.
    pub poll_interval: Duration,
    /// Pause between two faults.
    pub fault_interval: Duration,
    /// How far the last client's clock is moved, both ways.
    pub clock_skew: Duration,
    /// How the nodes run (pauses need child processes).
    pub runner: NodeRunner,
}

impl SoakConfig {
    /// 12 nodes, 6 clients each sending every 500 ms, a fault every 3 s, +-50 s of skew.
    pub fn new(duration: Duration, runner: NodeRunner) -> Self {
        Self {
            duration,
            nodes: 12,
            clients: 6,
            send_interval: Duration::from_millis(500),
            poll_interval: Duration::from_secs(1),
            fault_interval: Duration::from_secs(3),
            clock_skew: Duration::from_secs(50),
            runner,
        }
    }
}

/// What a soak run saw.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Messages clients tried to send.
    pub sent: u64,
    /// Messages at least one swarm member acknowledged (at once or on a retry).
    pub acknowledged: u64,
    /// Acknowledged messages their recipient received.
    pub received: u64,
    /// Acknowledged messages never received (must be 0).
    pub lost: u64,
    /// Extra deliveries of a message already received (must be 0).
    pub duplicates: u64,
    /// Messages never acknowledged that arrived anyway (the acknowledgement was lost).
    pub unacknowledged_but_received: u64,
    /// Node crashes (SIGKILL) injected.
    pub kills: u64,
    /// Node pauses (SIGSTOP .. SIGCONT) injected.
    pub pauses: u64,
    /// Clock jumps of the skewed client.
    pub skews: u64,
    /// The longest time from a send to its first delivery.
    pub worst_delay: Duration,
    /// The median time from a send to its first delivery.
    pub median_delay: Duration,
    /// How long the whole run took, final delivery included.
    pub elapsed: Duration,
    /// What the node forging replication achieved (nothing may be applied).
    pub forge: ForgeReport,
    /// What flooding one inbox achieved.
    pub flood: FloodReport,
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| soak figure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| messages sent | {} |", self.sent)?;
        writeln!(
            f,
            "| acknowledged by a swarm member | {} |",
            self.acknowledged
        )?;
        writeln!(f, "| received (of the acknowledged) | {} |", self.received)?;
        writeln!(f, "| lost (must be 0) | {} |", self.lost)?;
        writeln!(f, "| duplicates (must be 0) | {} |", self.duplicates)?;
        writeln!(
            f,
            "| unacknowledged but received | {} |",
            self.unacknowledged_but_received
        )?;
        writeln!(
            f,
            "| faults: kills / pauses / clock jumps | {} / {} / {} |",
            self.kills, self.pauses, self.skews
        )?;
        writeln!(
            f,
            "| delivery delay median / worst | {:.2} s / {:.2} s |",
            self.median_delay.as_secs_f64(),
            self.worst_delay.as_secs_f64()
        )?;
        writeln!(f, "| run time | {:.0} s |", self.elapsed.as_secs_f64())?;
        crate::hostile::write_attack_rows(f, &self.forge, &self.flood)
    }
}

/// Why a soak could not run (a lost message is a result, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SoakError {
    /// The network failed.
    #[error(transparent)]
    Testnet(#[from] TestnetError),
    /// A client could not be set up.
    #[error("client setup: {0}")]
    Client(String),
}

/// One message's story.
#[derive(Debug, Default)]
struct Entry {
    started: Option<Instant>,
    acknowledged: bool,
    deliveries: u32,
    first_delivery: Option<Instant>,
}

/// Everything the clients did, by message text.
#[derive(Default)]
struct Ledger {
    messages: Mutex<HashMap<String, Entry>>,
}

impl Ledger {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> R) -> R {
        let mut guard = self
            .messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

/// Runs a soak and reports.
pub async fn run(config: SoakConfig) -> Result<SoakReport, SoakError> {
    let started = Instant::now();
    let work = tempfile::tempdir().map_err(TestnetError::Io)?;
    let mut net = Testnet::start(TestnetConfig {
        nodes: config.nodes,
        runner: config.runner.clone(),
        base_dir: Some(work.path().join("network")),
        account_quota: session_node::storage::AccountQuota::default(),
        ..TestnetConfig::default()
    })
    .await?;
    let skew_ms = Arc::new(AtomicI64::new(0));
    let mut clients = Vec::new();
    for i in 0..config.clients {
        let skew = (i + 1 == config.clients).then(|| skew_ms.clone());
        clients.push(Arc::new(
            client(&net, &work.path().join(format!("client-{i}")), skew).await?,
        ));
    }
    let ids: Vec<AccountId> = clients.iter().map(|c| c.account_id()).collect();
    let ledger = Arc::new(Ledger::default());
    let sending = Arc::new(AtomicBool::new(true));
    let polling = Arc::new(AtomicBool::new(true));
    let mut senders = Vec::new();
    let mut pollers = Vec::new();
    for (i, messenger) in clients.iter().enumerate() {
        senders.push(tokio::spawn(send_loop(
            i,
            messenger.clone(),
            ids.clone(),
            ledger.clone(),
            sending.clone(),
            config.send_interval,
        )));
        pollers.push(tokio::spawn(poll_loop(
            messenger.clone(),
            ledger.clone(),
            polling.clone(),
            config.poll_interval,
        )));
    }

    let stop_attacks = Arc::new(AtomicBool::new(false));
    let forging = tokio::spawn(
        crate::attack_load::forger(&net, config.nodes - 1)?
            .run(Duration::from_millis(200), stop_attacks.clone()),
    );
    let victim = crate::client::TestAccount::from_byte(249);
    let flood_node = net
        .swarm_members_for(&victim.swarm_key())
        .first()
        .and_then(|&i| net.address(i))
        .ok_or(TestnetError::NoSuchNode(0))?;
    let flooding = tokio::spawn(crate::attack_load::flood_inbox(
        flood_node,
        victim,
        1024,
        stop_attacks.clone(),
    ));

    let mut report = SoakReport::default();
    chaos(&mut net, &config, &skew_ms, &mut report).await;
    sending.store(false, Ordering::Relaxed);
    stop_attacks.store(true, Ordering::Relaxed);
    for task in senders {
        let _ = task.await;
    }
    report.forge = forging.await.unwrap_or_default();
    report.flood = flooding.await.unwrap_or_default();

    // Heal: every node back, the clock right, failed sends retried, then poll until quiet.
    for index in 0..config.nodes {
        let _ = net.resume(index);
        if !net.is_running(index) {
            net.restart(index).await?;
        }
    }
    skew_ms.store(0, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    for messenger in &clients {
        if let Ok(deliveries) = messenger.retry_unsent().await {
            for delivery in deliveries {
                if matches!(delivery.message.state, MessageState::Stored { on, .. } if on > 0) {
                    ledger
                        .with(|m| m.entry(delivery.message.text).or_default().acknowledged = true);
                }
            }
        }
    }
    let quiet_since = Instant::now();
    let mut last_total = u64::MAX;
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        tokio::time::sleep(config.poll_interval * 2).await;
        let total: u64 = ledger.with(|m| m.values().map(|e| u64::from(e.deliveries)).sum());
        let missing = ledger.with(|m| {
            m.values()
                .filter(|e| e.acknowledged && e.deliveries == 0)
                .count()
        });
        if missing == 0 && total == last_total && quiet_since.elapsed() > Duration::from_secs(5) {
            break;
        }
        last_total = total;
    }
    polling.store(false, Ordering::Relaxed);
    for task in pollers {
        let _ = task.await;
    }
    net.shutdown().await;

    let mut delays = Vec::new();
    ledger.with(|messages| {
        for entry in messages.values() {
            report.sent += u64::from(entry.started.is_some());
            if entry.acknowledged {
                report.acknowledged += 1;
                if entry.deliveries > 0 {
                    report.received += 1;
                } else {
                    report.lost += 1;
                }
            } else if entry.deliveries > 0 {
                report.unacknowledged_but_received += 1;
            }
            report.duplicates += u64::from(entry.deliveries.saturating_sub(1));
            if let (Some(sent), Some(delivered)) = (entry.started, entry.first_delivery) {
                delays.push(delivered.saturating_duration_since(sent));
            }
        }
    });
    delays.sort();
    report.worst_delay = delays.last().copied().unwrap_or_default();
    report.median_delay = delays.get(delays.len() / 2).copied().unwrap_or_default();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A client with a profile of its own; `skew` moves its clock.
async fn client(
    net: &Testnet,
    dir: &std::path::Path,
    skew: Option<Arc<AtomicI64>>,
) -> Result<Messenger, SoakError> {
    crate::client::new_messenger(net, dir, |config| {
        config.timeout = Duration::from_secs(4);
        if let Some(skew) = skew {
            config.clock = Arc::new(move || {
                let skewed = now_ms() as i64 + skew.load(Ordering::Relaxed);
                skewed.max(0) as u64
            });
        }
    })
    .await
    .map_err(SoakError::Client)
}

async fn send_loop(
    me: usize,
    messenger: Arc<Messenger>,
    ids: Vec<AccountId>,
    ledger: Arc<Ledger>,
    running: Arc<AtomicBool>,
    interval: Duration,
) {
    let mut seq = 0u64;
    while running.load(Ordering::Relaxed) {
        let to = (me + 1 + random_below(ids.len() - 1)) % ids.len();
        let text = format!("soak {me}->{to} #{seq}");
        seq += 1;
        ledger.with(|m| m.entry(text.clone()).or_default().started = Some(Instant::now()));
        let mut deliveries = Vec::new();
        if let Ok(delivery) = messenger.send(&ids[to], &text).await {
            deliveries.push(delivery);
        }
        if seq.is_multiple_of(10) {
            if let Ok(retried) = messenger.retry_unsent().await {
                deliveries.extend(retried);
            }
        }
        for delivery in deliveries {
            if matches!(delivery.message.state, MessageState::Stored { on, .. } if on > 0) {
                ledger.with(|m| m.entry(delivery.message.text).or_default().acknowledged = true);
            }
        }
        tokio::time::sleep(interval).await;
    }
}

async fn poll_loop(
    messenger: Arc<Messenger>,
    ledger: Arc<Ledger>,
    running: Arc<AtomicBool>,
    interval: Duration,
) {
    while running.load(Ordering::Relaxed) {
        if let Ok(report) = messenger.sync().await {
            let now = Instant::now();
            ledger.with(|m| {
                for message in report.new {
                    let entry = m.entry(message.text).or_default();
                    entry.deliveries += 1;
                    entry.first_delivery.get_or_insert(now);
                }
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// A node that is down or paused, and when it comes back.
struct Fault {
    index: usize,
    paused: bool,
    until: Instant,
}

/// Injects faults until `config.duration` has passed: kills and pauses of random nodes (never
/// more than half of any swarm at once) and clock jumps of the skewed client.
async fn chaos(
    net: &mut Testnet,
    config: &SoakConfig,
    skew_ms: &AtomicI64,
    report: &mut SoakReport,
) {
    let end = Instant::now() + config.duration;
    let mut faults: Vec<Fault> = Vec::new();
    let skew = i64::try_from(config.clock_skew.as_millis()).unwrap_or(i64::MAX);
    while Instant::now() < end {
        tokio::time::sleep(config.fault_interval).await;
        // Heal what is due.
        let now = Instant::now();
        let (due, kept): (Vec<Fault>, Vec<Fault>) =
            faults.into_iter().partition(|f| f.until <= now);
        faults = kept;
        for fault in due {
            let healed = if fault.paused {
                net.resume(fault.index)
            } else {
                net.restart(fault.index).await
            };
            if let Err(e) = healed {
                tracing::warn!(error = %e, node = fault.index, "could not heal a node");
            }
        }
        match random_below(3) {
            0 | 1 => {
                let Some(index) = pick_victim(net, &faults) else {
                    continue;
                };
                let paused = random_below(2) == 0;
                let result = if paused {
                    net.pause(index)
                } else {
                    net.kill(index)
                };
                if result.is_ok() {
                    if paused {
                        report.pauses += 1;
                    } else {
                        report.kills += 1;
                    }
                    let hold = Duration::from_millis(1000 + random_below(5000) as u64);
                    faults.push(Fault {
                        index,
                        paused,
                        until: Instant::now() + hold,
                    });
                }
            }
            _ => {
                let next = match skew_ms.load(Ordering::Relaxed) {
                    0 => skew,
                    s if s > 0 => -skew,
                    _ => 0,
                };
                skew_ms.store(next, Ordering::Relaxed);
                report.skews += 1;
            }
        }
    }
    for fault in faults {
        let _ = if fault.paused {
            net.resume(fault.index)
        } else {
            net.restart(fault.index).await
        };
    }
}

/// A running node whose swarm can lose one more member without losing more than half.
fn pick_victim(net: &Testnet, faults: &[Fault]) -> Option<usize> {
    let addresses = net.addresses();
    let index_of = |key| addresses.iter().position(|a| a.key == key);
    let down: Vec<usize> = faults.iter().map(|f| f.index).collect();
    let mut candidates = Vec::new();
    for swarm in net.assignment().swarm_ids() {
        let members: Vec<usize> = net
            .assignment()
            .members(swarm)
            .filter_map(|k| index_of(*k))
            .collect();
        let unavailable = members.iter().filter(|i| down.contains(i)).count();
        if (unavailable + 1) * 2 <= members.len() {
            candidates.extend(members.into_iter().filter(|i| !down.contains(i)));
        }
    }
    candidates.get(random_below(candidates.len())).copied()
}
