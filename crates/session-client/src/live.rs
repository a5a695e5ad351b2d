//! The live stream of incoming messages: one waiting retrieve after another (the node holds
//! each until a message arrives), re-sent at once when one ends, re-subscribed through other
//! paths and swarm members when one fails, and plain polling where a node cannot wait.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use session_wire::rpc::MAX_WAIT_MS;
use tokio::task::JoinHandle;

use crate::{ClientError, Messenger, MessengerError, StoredMessage, SyncReport};

/// The poll interval where a node cannot wait, and the pause before trying again after a
/// failure: the CLI's default poll interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the live stream reports.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// Messages that arrived, already filed in the store (oldest first).
    Received(Vec<StoredMessage>),
    /// The network could not be reached (the reason, for the user); the stream keeps trying.
    Offline(String),
    /// The network answers again after an `Offline`.
    Online,
}

/// The stream of incoming messages of one messenger (waiting retrieves, re-subscribed on failure,
/// polling where a node cannot wait). Send + 'static.
pub struct Incoming {
    messenger: Arc<Messenger>,
    /// How long each retrieve asks to be held; `None` polls.
    wait_ms: Option<u64>,
    poll_interval: Duration,
    /// The retrieve in flight (a task, so that dropping a `next` future loses nothing: its
    /// messages are filed and reported by the next call).
    task: Option<JoinHandle<Result<SyncReport, MessengerError>>>,
    /// Pause before the next retrieve.
    pause: Option<Duration>,
    offline: bool,
    events: VecDeque<LiveEvent>,
    retrieves: u64,
}

impl Messenger {
    /// The live stream of this messenger's incoming messages.
    pub fn incoming(self: &Arc<Self>) -> Incoming {
        Incoming {
            messenger: self.clone(),
            wait_ms: Some(MAX_WAIT_MS),
            poll_interval: DEFAULT_POLL_INTERVAL,
            task: None,
            pause: None,
            offline: false,
            events: VecDeque::new(),
            retrieves: 0,
        }
    }
}

impl Incoming {
    /// Sets the poll interval used where a node cannot wait (and after a failure).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Never asks nodes to wait: polls every poll interval (the behaviour before waiting
    /// retrieves, kept for comparison and for networks that refuse waits).
    pub fn polling(mut self) -> Self {
        self.wait_ms = None;
        self
    }

    /// Retrieves this stream has started so far (a retrieve's retries on other paths, and the
    /// further pages of a long backlog, are not counted).
    pub fn retrieves(&self) -> u64 {
        self.retrieves
    }

    /// The next event; cancel-safe (a retrieve in flight continues and is reported by the next
    /// call).
    pub async fn next(&mut self) -> LiveEvent {
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            if self.task.is_none() {
                // While offline, plain polls probe the network: a wait that a node took would
                // say `Online` only when it ends, up to a hold later.
                let wait_ms = self.wait_ms.filter(|_| !self.offline);
                let (messenger, pause) = (self.messenger.clone(), self.pause.take());
                self.retrieves += 1;
                self.task = Some(tokio::spawn(async move {
                    if let Some(pause) = pause {
                        tokio::time::sleep(pause).await;
                    }
                    match wait_ms {
                        Some(ms) => messenger.sync_waiting(ms).await,
                        None => messenger.sync().await,
                    }
                }));
            }
            let Some(task) = self.task.as_mut() else {
                continue;
            };
            let outcome = task.await;
            self.task = None;
            let outcome = outcome.unwrap_or_else(|e| {
                Err(MessengerError::BadAnswer(format!(
                    "the retrieve task failed: {e}"
                )))
            });
            self.settle(outcome);
        }
    }

    /// Turns one retrieve's outcome into events and the pause before the next.
    fn settle(&mut self, outcome: Result<SyncReport, MessengerError>) {
        match outcome {
            Ok(report) => {
                // A node that held the retrieve is asked again at once; one that answered at
                // once without waiting (or a polling stream) after the poll interval. The
                // probe that ends an offline spell is followed by a wait at once.
                let waited = self.wait_ms.is_some() && (report.node_waits || self.offline);
                self.pause = (!waited).then_some(self.poll_interval);
                if self.offline {
                    self.offline = false;
                    self.events.push_back(LiveEvent::Online);
                }
                if !report.new.is_empty() {
                    self.events.push_back(LiveEvent::Received(report.new));
                }
            }
            // A node that refuses to hold more waits (429): poll it instead, without waiting,
            // until a later retrieve finds one that waits.
            Err(MessengerError::Network(ClientError::Rejected { status: 429, .. })) => {
                self.pause = Some(self.poll_interval);
                self.poll_once();
            }
            Err(e) => {
                tracing::debug!(error = %e, "a live retrieve failed; trying again");
                self.pause = Some(self.poll_interval);
                if !self.offline {
                    self.offline = true;
                    self.events
                        .push_back(LiveEvent::Offline(offline_reason(&e)));
                }
            }
        }
    }

    /// Runs the next retrieve as a plain poll; the one after it waits again.
    fn poll_once(&mut self) {
        let (messenger, pause) = (self.messenger.clone(), self.pause.take());
        self.retrieves += 1;
        self.task = Some(tokio::spawn(async move {
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
            // Its report says the node did not wait: the next retrieve comes after the poll
            // interval.
            messenger.sync().await
        }));
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Why the network is unreachable, in words for the user.
fn offline_reason(error: &MessengerError) -> String {
    match error {
        MessengerError::Network(ClientError::Network(_)) => {
            "no node of the network answered".into()
        }
        MessengerError::Network(ClientError::Transport(_)) => {
            "the network did not answer on any path".into()
        }
        other => other.to_string(),
    }
}
