#![doc = include_str!("../README.md")]

mod account;
mod account_key_share;
mod account_keys;
pub mod attachments;
pub mod config_sync;
pub mod devices;
pub mod devices_link;
pub mod export;
mod group_rpc;
mod group_store;
mod groups;
pub mod inert;
pub mod invite;
pub mod link;
mod live;
mod messenger;
mod network_file;
pub mod onboarding;
mod onion_client;
mod profile;
pub mod qr_image;
pub mod safety;
mod store;
mod sync_own;

pub use account::{AccountError, AccountFile, KdfParams};
pub use account_keys::{manual_clock, Recipient, ACCOUNT_KEYS_NAMESPACE};
pub use group_rpc::{
    GROUP_INFO_NAMESPACE, GROUP_KEYS_NAMESPACE, GROUP_MEMBERS_NAMESPACE, GROUP_MESSAGES_NAMESPACE,
    GROUP_REVOKED_NAMESPACE,
};
pub use group_store::{GroupMember, GroupMessage, GroupState, GroupSummary, MemberState};
pub use groups::{
    invite_outcome, GroupError, GroupEvent, GroupEvents, GroupSyncReport, InviteOutcome,
    GROUP_CONFIG_TTL_MS,
};
pub use link::{ContactLink, LinkError};
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
pub use sync_own::{AccountSync, CONFIG_TTL_MS};
