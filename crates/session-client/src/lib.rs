#![doc = include_str!("../README.md")]

mod account;
pub mod attachments;
pub mod inert;
mod live;
mod messenger;
mod network_file;
pub mod onboarding;
mod onion_client;
mod profile;
mod store;

pub use account::{AccountError, AccountFile, KdfParams};
pub use live::{Incoming, LiveEvent, DEFAULT_POLL_INTERVAL};
pub use messenger::{
    file_unsent, max_text_bytes, Delivery, Messenger, MessengerError, SyncReport, DEFAULT_TTL_MS,
    INBOX_NAMESPACE,
};
pub use network_file::{NetworkFile, NetworkFileError, NetworkSeed};
pub use onion_client::{
    short_key, system_ms, ClientConfig, ClientError, Clock, OnionClient, OnionPath, PathPolicy,
    PoolNode, Route, Routed, GUARDS_MINIMUM, GUARDS_WANTED, PATH_FAILURE_LIMIT, PATH_RELAYS,
};
pub use profile::Profile;
pub use store::{
    parse_account_id, Contact, Conversation, DatabaseKey, Direction, MessageRequest, MessageState,
    MessageStore, StoreError, StoredMessage,
};
