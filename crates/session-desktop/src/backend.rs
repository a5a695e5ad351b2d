//! The work the window hands off: disk (account files, the database) and network, each on a
//! worker thread or the async runtime, never on the window's thread. Every function returns
//! what the window shows, with failures as sentences.

use std::sync::Arc;
use std::time::Duration;

use session_client::onboarding::{self, DISPLAY_NAME_SETTING};
use session_client::{
    system_ms, ClientConfig, Conversation, Delivery, Messenger, NetworkFile, OnionClient, Profile,
    StoredMessage,
};
use session_crypto::{AccountId, Ed25519Seed};
use zeroize::Zeroizing;

/// What a failed operation says.
pub type Failure = String;

/// How many messages of a conversation the window loads.
const HISTORY_LIMIT: usize = 500;

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("internal error: {e}"))?
}

/// What the profile holds when the window opens.
#[derive(Debug, Clone)]
pub struct ProfileState {
    /// Whether it has an account.
    pub has_account: bool,
    /// Whether the account is protected by a passphrase.
    pub protected: bool,
    /// The network it joined last.
    pub network: Option<NetworkFile>,
}

/// Looks at the profile in `profile`.
pub async fn inspect(profile: Profile) -> Result<ProfileState, Failure> {
    blocking(move || {
        let account = profile.account();
        let has_account = account.exists();
        let protected = has_account && account.is_protected().map_err(|e| e.to_string())?;
        let network = profile.saved_network().map_err(|e| e.to_string())?;
        Ok(ProfileState {
            has_account,
            protected,
            network,
        })
    })
    .await
}

/// Opens the account (with its passphrase, if protected).
pub async fn unlock(
    profile: Profile,
    passphrase: Option<Zeroizing<String>>,
) -> Result<Arc<Ed25519Seed>, Failure> {
    blocking(move || {
        profile
            .account()
            .load_seed(passphrase.as_deref().map(String::as_str))
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
    .await
}

/// Creates the account of `seed` in the profile, with a name and a passphrase if given, and
/// remembers the network.
pub async fn create(
    profile: Profile,
    seed: Arc<Ed25519Seed>,
    name: Option<String>,
    passphrase: Option<Zeroizing<String>>,
    network: NetworkFile,
) -> Result<(), Failure> {
    blocking(move || {
        onboarding::create_account(
            &profile,
            &seed,
            name.as_deref(),
            passphrase.as_deref().map(String::as_str),
        )
        .map_err(|e| e.to_string())?;
        profile.save_network(&network).map_err(|e| e.to_string())
    })
    .await
}

/// Reads a network file.
pub async fn read_network(path: std::path::PathBuf) -> Result<NetworkFile, Failure> {
    blocking(move || NetworkFile::read(&path).map_err(|e| e.to_string())).await
}

/// Reads the Account ID in the QR code of the PNG image at `path` (checked as a pasted one).
pub async fn read_qr(path: std::path::PathBuf) -> Result<AccountId, Failure> {
    blocking(move || crate::qr::read_account_id(&path)).await
}

/// Joins the network and opens the message database: the messenger of the account.
pub async fn connect(
    profile: Profile,
    seed: Arc<Ed25519Seed>,
    network: NetworkFile,
    tune: fn(&mut ClientConfig),
) -> Result<Arc<Messenger>, Failure> {
    let (store, mut config) = blocking({
        let profile = profile.clone();
        let seed = Arc::clone(&seed);
        move || {
            profile.save_network(&network).map_err(|e| e.to_string())?;
            let store = profile
                .message_store_for(&seed)
                .map_err(|e| e.to_string())?;
            let config = profile.client_config(&network).map_err(|e| e.to_string())?;
            Ok((store, config))
        }
    })
    .await?;
    tune(&mut config);
    let client = OnionClient::connect(config).await.map_err(|e| {
        tracing::debug!(error = %e, "cannot connect to the network");
        format!("no network reachable: no node of the network answered ({e})")
    })?;
    Ok(Arc::new(Messenger::new(seed.key_pair(), store, client)))
}

/// What the window shows of the database.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every conversation, newest first.
    pub conversations: Vec<Conversation>,
    /// The open conversation's messages, oldest first.
    pub history: Vec<StoredMessage>,
    /// The user's display name.
    pub display_name: Option<String>,
}

/// Reads the conversations and the history with `open` (marked read).
pub async fn snapshot(
    messenger: Arc<Messenger>,
    open: Option<AccountId>,
) -> Result<Snapshot, Failure> {
    blocking(move || {
        let store = messenger.store();
        let text = |e: session_client::StoreError| e.to_string();
        let history = match &open {
            Some(peer) => {
                store.mark_read(peer).map_err(text)?;
                store.history(peer, HISTORY_LIMIT).map_err(text)?
            }
            None => Vec::new(),
        };
        Ok(Snapshot {
            conversations: store.conversations().map_err(text)?,
            history,
            display_name: store.setting(DISPLAY_NAME_SETTING).map_err(text)?,
        })
    })
    .await
}

/// Sends `text` to `to`.
pub async fn send(
    messenger: Arc<Messenger>,
    to: AccountId,
    text: String,
) -> Result<Delivery, Failure> {
    messenger.send(&to, &text).await.map_err(|e| e.to_string())
}

/// Sends a failed message again.
pub async fn retry(messenger: Arc<Messenger>, id: i64) -> Result<Delivery, Failure> {
    messenger.retry(id).await.map_err(|e| e.to_string())
}

/// A change to contacts and requests.
#[derive(Debug, Clone)]
pub enum ContactChange {
    /// Adds (or renames) a contact: accepting a request, starting a conversation, renaming.
    Name(AccountId, String),
    /// Removes a contact (the conversation stays).
    Remove(AccountId),
    /// Declines a request: its messages are deleted.
    Decline(AccountId),
    /// Blocks the sender: their messages are deleted and what they send is dropped.
    Block(AccountId),
}

/// Applies `change`; what to tell the user.
pub async fn change_contact(
    messenger: Arc<Messenger>,
    change: ContactChange,
) -> Result<String, Failure> {
    blocking(move || {
        let store = messenger.store();
        let text = |e: session_client::StoreError| e.to_string();
        Ok(match change {
            ContactChange::Name(id, nickname) => {
                let contact = store
                    .add_contact(&id, &nickname, system_ms())
                    .map_err(text)?;
                let _ = store.unblock(&id);
                format!(
                    "{} is now your contact {}",
                    session_client::inert::short_id(&id),
                    contact.nickname
                )
            }
            ContactChange::Remove(id) => {
                let contact = store.remove_contact(&id.to_string()).map_err(text)?;
                format!("removed {} from your contacts", contact.nickname)
            }
            ContactChange::Decline(id) => {
                let gone = store.delete_conversation(&id).map_err(text)?;
                format!("declined: {gone} message(s) deleted")
            }
            ContactChange::Block(id) => {
                store.block(&id, system_ms()).map_err(text)?;
                let gone = store.delete_conversation(&id).map_err(text)?;
                format!("blocked: {gone} message(s) deleted; what they send from now on is dropped")
            }
        })
    })
    .await
}

/// Sets the display name sent with messages (checked as the CLI checks it).
pub async fn set_name(messenger: Arc<Messenger>, name: String) -> Result<String, Failure> {
    blocking(move || {
        let name = onboarding::checked_name(&name).map_err(|e| e.to_string())?;
        messenger
            .set_display_name(&name)
            .map_err(|e| e.to_string())?;
        Ok(name)
    })
    .await
}

/// The recovery phrase, after checking the passphrase of a protected account.
pub async fn phrase(
    profile: Profile,
    passphrase: Option<Zeroizing<String>>,
) -> Result<Zeroizing<String>, Failure> {
    unlock(profile, passphrase)
        .await
        .map(|seed| seed.to_phrase())
}

/// The network's health as the client sees it.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Guards in use.
    pub guards: usize,
    /// Onion paths built.
    pub paths: usize,
    /// Nodes in the signed list.
    pub nodes: usize,
}

/// Reads the network's health.
pub fn health(messenger: &Messenger) -> Health {
    let client = messenger.client();
    Health {
        guards: client.guards().len(),
        paths: client.paths().len(),
        nodes: client.list().map_or(0, |list| list.nodes.len()),
    }
}

/// Waits `delay` (for a retry of the connection).
pub async fn pause(delay: Duration) {
    tokio::time::sleep(delay).await;
}
