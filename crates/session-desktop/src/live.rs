//! New messages as they arrive, for the window: the client library's live stream
//! ([`Messenger::incoming`]: waiting retrieves, re-subscribed on failure, polling where a node
//! cannot wait) as an iced subscription. Only this file knows how events are made.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use iced::futures::{stream, Stream};
use iced::Subscription;
pub use session_client::LiveEvent;
use session_client::Messenger;

/// The events of `messenger` as a stream.
pub fn stream(messenger: &Arc<Messenger>) -> impl Stream<Item = LiveEvent> + Send + 'static {
    stream::unfold(messenger.incoming(), |mut events| async move {
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
