//! New messages as they arrive, for the window. Written against the live-stream contract of
//! `session_client::live` (`Messenger::incoming`); until that lands, [`incoming`] makes the same
//! events by syncing once a second. Only this file knows how events are made.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use iced::futures::{stream, Stream};
use iced::Subscription;
use session_client::{Messenger, StoredMessage};

/// What the network says, as it happens.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// Messages new to this client.
    Received(Vec<StoredMessage>),
    /// The network cannot be reached (the reason, in words).
    Offline(String),
    /// The network is reachable (again).
    Online,
}

/// How often the stand-in polls the user's swarm.
const POLL: Duration = Duration::from_secs(1);

/// The stream of events of one messenger.
pub struct Incoming {
    messenger: Arc<Messenger>,
    online: Option<bool>,
    held: Vec<StoredMessage>,
    started: bool,
}

impl Incoming {
    /// The next event (waits for one).
    pub async fn next(&mut self) -> LiveEvent {
        loop {
            if !self.held.is_empty() {
                return LiveEvent::Received(std::mem::take(&mut self.held));
            }
            if self.started {
                tokio::time::sleep(POLL).await;
            }
            self.started = true;
            match self.messenger.sync().await {
                Ok(report) => {
                    self.held = report.new;
                    if self.online != Some(true) {
                        self.online = Some(true);
                        return LiveEvent::Online;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a sync failed");
                    if self.online != Some(false) {
                        self.online = Some(false);
                        return LiveEvent::Offline(e.to_string());
                    }
                }
            }
        }
    }
}

/// The events of `messenger` (the stand-in for `messenger.incoming()`).
pub fn incoming(messenger: &Arc<Messenger>) -> Incoming {
    Incoming {
        messenger: Arc::clone(messenger),
        online: None,
        held: Vec::new(),
        started: false,
    }
}

/// The events of `messenger` as a stream.
pub fn stream(messenger: &Arc<Messenger>) -> impl Stream<Item = LiveEvent> + Send + 'static {
    stream::unfold(incoming(messenger), |mut events| async move {
        let event = events.next().await;
        Some((event, events))
    })
}

/// The events of `messenger` as a subscription of the window (one per messenger).
pub fn subscription(messenger: &Arc<Messenger>) -> Subscription<LiveEvent> {
    Subscription::run_with(Source(Arc::clone(messenger)), |source| stream(&source.0))
}

/// A messenger as the identity of its subscription.
struct Source(Arc<Messenger>);

impl Hash for Source {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}
