//! The subcommands, on top of the session-client library.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use session_client::inert::{clock_time, preview, short_id, shown_name};
use session_client::onboarding::{self, checked_name};
use session_client::{
    file_unsent, max_text_bytes, parse_account_id, system_ms, AccountError, ClientError,
    ContactLink, Direction, MessageState, MessageStore, Messenger, NetworkFile, OnionClient,
    Profile, StoredMessage,
};
use session_crypto::{AccountId, Ed25519Seed, IdentityKeyPair, OsRng};

use crate::{input, qr, Cli, Command, ContactsAction, DevicesAction, RequestsAction};

/// Errors shown to the user as they are.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result of a command.
pub type Result<T> = std::result::Result<T, Error>;

/// What to do when the network cannot be reached, said once for every command.
pub const SAVED_FOR_RETRY: &str =
    "The message is saved; run `session retry` when the network is back.";
/// Texts at most this long always fit in one message (the exact limit is found only above).
const SURELY_FITS: usize = 70_000;

/// Runs one command; the exit code says whether it did what was asked.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Devnet {
            nodes,
            swarm_min,
            swarm_ideal,
            swarm_max,
            dir,
            ..
        } => {
            let swarm = session_swarm::SwarmConfig::new(*swarm_min, *swarm_ideal, *swarm_max)
                .map_err(|e| format!("swarm sizes: {e}"))?;
            return crate::devnet::run(*nodes, swarm, dir).await;
        }
        Command::Demo { .. } => return crate::demo::run().await,
        _ => {}
    }
    let creates = matches!(
        cli.command,
        Command::Init { .. }
            | Command::Restore { .. }
            | Command::Devices {
                action: DevicesAction::Link { .. }
            }
    );
    let profile = open_profile(&cli, creates)?;
    if !creates {
        if let Some(path) = &cli.network {
            profile.save_network(&NetworkFile::read(path)?)?;
        }
    }
    match cli.command {
        Command::Init { name, passphrase } => {
            if profile.account().exists() {
                return Err(AccountError::Exists(profile.account().path().to_path_buf()).into());
            }
            let network = cli.network.as_deref().map(NetworkFile::read).transpose()?;
            let seed = Ed25519Seed::generate(&mut OsRng);
            create_account(&profile, &seed, name.as_deref(), passphrase)?;
            if let Some(network) = network {
                profile.save_network(&network)?;
            }
            let id = seed.key_pair().account_id();
            println!("Your Account ID (share it with the people you talk to):\n\n  {id}\n");
            println!("Your recovery phrase. Write it down and keep it safe: it is the only way to");
            println!("restore this account (`session phrase` shows it again).\n");
            println!("  {}\n", seed.to_phrase().as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { name, passphrase } => {
            if profile.account().exists() {
                return Err(AccountError::Exists(profile.account().path().to_path_buf()).into());
            }
            let network = cli.network.as_deref().map(NetworkFile::read).transpose()?;
            let phrase = input::recovery_phrase()?;
            let seed = onboarding::seed_from_phrase(&phrase)?;
            let id = seed.key_pair().account_id();
            let kind = if seed.is_legacy() {
                " (a legacy 13-word Session phrase)"
            } else {
                ""
            };
            println!("This phrase opens the account{kind}:\n\n  {id}\n");
            if input::is_terminal() {
                if !input::confirm("Is this the Account ID you expected? [y/N] ")? {
                    println!("Nothing restored. Check the phrase against what you wrote down.");
                    return Ok(ExitCode::FAILURE);
                }
            } else {
                println!("Check that this is the Account ID you expected: a phrase with a wrong");
                println!("word can still pass the checksum and open another, empty account.");
            }
            create_account(&profile, &seed, name.as_deref(), passphrase)?;
            if let Some(network) = network {
                profile.save_network(&network)?;
            }
            println!("Restored account {id}");
            crate::devices_cmd::restored_summary(&profile, &seed).await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Phrase => {
            let seed = with_passphrase(&profile, |p| profile.account().load_seed(p))?;
            println!("Your recovery phrase. Anyone who sees it can read your messages and write");
            println!("as you: keep it out of sight.\n");
            println!("  {}\n", seed.to_phrase().as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Name { name } => {
            let store = open_store(&profile, &unlock(&profile)?)?;
            match name {
                Some(name) => {
                    let name = checked_name(&name)?;
                    store.set_setting("display_name", &name)?;
                    println!("Your name is now {name:?}: it is sent with your next messages.");
                }
                None => match store.setting("display_name")? {
                    Some(name) => println!("{name}"),
                    None => println!("no name set (set one with `session name NAME`)"),
                },
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Id { png, no_qr, link } => {
            let seed = unlock(&profile)?;
            let id = seed.key_pair().account_id();
            let name = open_store(&profile, &seed)?.setting("display_name")?;
            let link_text = ContactLink::new(id, name.as_deref()).to_string();
            if link {
                println!("{link_text}");
            } else {
                println!("{id}");
            }
            if !no_qr {
                print!("{}", qr::terminal(&link_text)?);
            }
            if let Some(path) = png {
                qr::write_png(&link_text, &path)?;
                println!("QR code written to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Contacts { action } => {
            let store = open_store(&profile, &unlock(&profile)?)?;
            contacts(&store, action)
        }
        Command::Requests { action } => {
            let store = open_store(&profile, &unlock(&profile)?)?;
            requests(&store, action)
        }
        Command::SendFile { to, path, max_mb } => {
            crate::attachment::send_file(&profile, &to, &path, max_mb).await
        }
        Command::Save { message, dir } => crate::attachment::save(&profile, message, dir).await,
        Command::Send { to, text } => {
            let text = if text.is_empty() {
                let mut buf = String::new();
                std::io::stdin().read_to_string(&mut buf)?;
                buf.trim_end_matches('\n').to_owned()
            } else {
                text.join(" ")
            };
            if text.trim().is_empty() {
                return Err("nothing to send: the message is empty".into());
            }
            let seed = unlock(&profile)?;
            let keys = seed.key_pair();
            let store = open_store(&profile, &seed)?;
            if let Some(group) = crate::group_cmd::named(&store, &to)? {
                let messenger = messenger_with(&profile, &seed, store).await?;
                return crate::group_cmd::send(&messenger, &group, &text).await;
            }
            let peer = store.resolve(&to)?;
            warn_if_near_a_contact(&store, &peer);
            check_size(&keys, &store, &text)?;
            let network = cli_network(&profile)?;
            let client = match connect(&profile, &network).await {
                Ok(client) => client,
                Err(Unreachable(reason)) => {
                    file_unsent(&keys, &store, &peer, &text, system_ms(), &reason)?;
                    return Err(format!("{}\n{SAVED_FOR_RETRY}", unreachable_text()).into());
                }
            };
            let messenger = Messenger::new(keys, store, client);
            let delivery = messenger.send(&peer, &text).await?;
            let label = peer_label(&messenger.store(), &peer);
            let route = delivery
                .route
                .map_or_else(String::new, |r| format!(" via {r}"));
            println!(
                "to {label}: {}{route} in {} ms",
                delivery.message.state.describe(),
                delivery.elapsed.as_millis()
            );
            if !matches!(delivery.message.state, MessageState::Stored { .. }) {
                println!("{SAVED_FOR_RETRY}");
            }
            Ok(exit_for(&delivery.message.state))
        }
        Command::Retry => {
            let messenger = messenger(&profile).await?;
            let deliveries = messenger.retry_unsent().await?;
            if deliveries.is_empty() {
                println!("nothing to retry");
            }
            let mut code = ExitCode::SUCCESS;
            for delivery in deliveries {
                let label = peer_label(&messenger.store(), &delivery.message.peer);
                println!(
                    "to {label}: {} {}",
                    preview(&delivery.message.text),
                    delivery.message.state.describe()
                );
                if exit_for(&delivery.message.state) != ExitCode::SUCCESS {
                    code = ExitCode::FAILURE;
                }
            }
            Ok(code)
        }
        Command::Sync => {
            let messenger = messenger(&profile).await?;
            let report = messenger.sync().await?;
            {
                let store = messenger.store();
                for message in &report.new {
                    println!("{}", format_message(&store, message));
                }
                let mut notes = String::new();
                if report.undecryptable > 0 {
                    notes.push_str(&format!(
                        ", {} not readable (skipped)",
                        report.undecryptable
                    ));
                }
                if report.blocked > 0 {
                    notes.push_str(&format!(
                        ", {} from blocked senders (dropped)",
                        report.blocked
                    ));
                }
                println!("{} new message(s){notes}", report.new.len());
            }
            crate::group_cmd::sync(&messenger).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Inbox => {
            let store = open_store(&profile, &unlock(&profile)?)?;
            let code = inbox(&store)?;
            crate::group_cmd::inbox(&store)?;
            Ok(code)
        }
        Command::History { with, limit } => {
            let store = open_store(&profile, &unlock(&profile)?)?;
            if let Some(group) = crate::group_cmd::named(&store, &with)? {
                return crate::group_cmd::history(&store, &group, limit);
            }
            let peer = store.resolve(&with)?;
            let messages = store.history(&peer, limit)?;
            if messages.is_empty() {
                println!("no messages with {} yet", peer_label(&store, &peer));
            }
            for message in &messages {
                println!("{}", format_message(&store, message));
            }
            store.mark_read(&peer)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { with, poll } => {
            let seed = unlock(&profile)?;
            let store = open_store(&profile, &seed)?;
            if let Some(group) = crate::group_cmd::named(&store, &with)? {
                let messenger = messenger_with(&profile, &seed, store).await?;
                return crate::group_cmd::chat(messenger, group, poll).await;
            }
            let peer = store.resolve(&with)?;
            warn_if_near_a_contact(&store, &peer);
            let messenger = messenger_with(&profile, &seed, store).await?;
            crate::chat::run(messenger, peer, poll).await
        }
        Command::Devices { action } => {
            crate::devices_cmd::run(&profile, cli.network.as_deref(), action).await
        }
        Command::Export { file } => crate::devices_cmd::run_export(&profile, &file),
        Command::Import { file } => crate::devices_cmd::run_import(&profile, &file),
        Command::Invite => crate::introduce::invite(&messenger(&profile).await?).await,
        Command::Accept { code } => {
            crate::introduce::accept(&messenger(&profile).await?, code.as_deref()).await
        }
        Command::Verify { contact, confirm } => {
            let seed = unlock(&profile)?;
            let store = open_store(&profile, &seed)?;
            let me = seed.key_pair().account_id();
            crate::introduce::verify(&store, &me, &contact, confirm)
        }
        Command::Group { action } => {
            crate::group_cmd::run(messenger(&profile).await?, action).await
        }
        Command::Devnet { .. } | Command::Demo { .. } => Ok(ExitCode::SUCCESS),
    }
}

fn contacts(store: &MessageStore, action: ContactsAction) -> Result<ExitCode> {
    match action {
        ContactsAction::Add {
            account_id,
            nickname,
            qr,
            rename,
        } => {
            let (id, nickname) = crate::introduce::contact_to_add(
                account_id.as_deref(),
                nickname.as_deref(),
                qr.as_deref(),
            )?;
            let nickname = nickname.trim();
            if let Some(existing) = store.contact(&id)? {
                if existing.nickname == nickname {
                    println!("{nickname} is already a contact ({id})");
                    return Ok(ExitCode::SUCCESS);
                }
                if !rename {
                    return Err(format!(
                        "this Account ID is already your contact {:?}; to rename {} -> {nickname}, add --rename",
                        existing.nickname, existing.nickname
                    )
                    .into());
                }
                let contact = store.add_contact(&id, nickname, system_ms())?;
                println!("renamed {} -> {}", existing.nickname, contact.nickname);
                return Ok(ExitCode::SUCCESS);
            }
            warn_if_near_a_contact(store, &id);
            let contact = store.add_contact(&id, nickname, system_ms())?;
            let _ = store.unblock(&id);
            println!("added {} as {}", contact.account_id, contact.nickname);
        }
        ContactsAction::List => {
            let contacts = store.contacts()?;
            if contacts.is_empty() {
                println!(
                    "no contacts yet (add one with `session contacts add <account-id> <nickname>`)"
                );
            }
            for contact in contacts {
                let mark = crate::introduce::verification_mark(store, &contact.account_id);
                println!("{:<20} {}{mark}", contact.nickname, contact.account_id);
            }
        }
        ContactsAction::Remove { who } => {
            let contact = store.remove_contact(&who)?;
            println!("removed {} ({})", contact.nickname, contact.account_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The sender of a message request named as `inbox` shows them, or by Account ID.
fn request_sender(store: &MessageStore, who: &str) -> Result<AccountId> {
    if let Some(id) = store.find_request(who)? {
        return Ok(id);
    }
    let compact: String = who.split_whitespace().collect();
    if compact.len() >= 64 {
        return Ok(parse_account_id(&compact)?);
    }
    Err(format!(
        "no message request from {who:?} (see `session requests list`; use the name shown there or the Account ID)"
    )
    .into())
}

fn requests(store: &MessageStore, action: RequestsAction) -> Result<ExitCode> {
    match action {
        RequestsAction::List => {
            let requests = store.requests()?;
            if requests.is_empty() {
                println!("no message requests");
            }
            for r in &requests {
                println!("{}", request_line(r));
            }
        }
        RequestsAction::Accept { who, nickname } => {
            let id = request_sender(store, &who)?;
            let contact = store.add_contact(&id, &nickname, system_ms())?;
            println!(
                "accepted: {} is now your contact {}",
                contact.account_id, contact.nickname
            );
        }
        RequestsAction::Decline { who } => {
            let id = request_sender(store, &who)?;
            let gone = store.delete_conversation(&id)?;
            println!("declined: {gone} message(s) from {} deleted", short_id(&id));
        }
        RequestsAction::Block { who } => {
            let id = request_sender(store, &who)?;
            store.block(&id, system_ms())?;
            let gone = store.delete_conversation(&id)?;
            println!(
                "blocked {}: {gone} message(s) deleted; what they send from now on is dropped",
                short_id(&id)
            );
        }
        RequestsAction::Unblock { account_id } => {
            let id = parse_account_id(&account_id)?;
            if store.unblock(&id)? {
                println!("unblocked {}", short_id(&id));
            } else {
                println!("{} was not blocked", short_id(&id));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn inbox(store: &MessageStore) -> Result<ExitCode> {
    let conversations = store.conversations()?;
    if conversations.is_empty() {
        println!("no conversations yet");
    }
    for c in conversations.iter().filter(|c| !c.is_request) {
        let label = c.nickname.clone().unwrap_or_else(|| short_id(&c.peer));
        let unread = if c.unread > 0 {
            format!(", {} unread", c.unread)
        } else {
            String::new()
        };
        let who = if c.last_outgoing { "you: " } else { "" };
        println!(
            "{label:<20} {:>4} message(s){unread}, last {}  {who}{}",
            c.messages,
            clock_time(c.last_ms),
            preview(&c.last_text)
        );
    }
    let requests: Vec<_> = conversations.iter().filter(|c| c.is_request).collect();
    if !requests.is_empty() {
        println!("\nMessage requests (people who are not your contacts):");
        for c in &requests {
            println!("{}", request_line(c));
        }
        println!(
            "Answer with `session requests accept NAME NICKNAME`, `decline NAME` or `block NAME`."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One message request as `inbox` and `requests list` show it.
fn request_line(c: &session_client::Conversation) -> String {
    format!(
        "  {} ({}) {} message(s), {} unread, last {}  {}",
        c.display_name
            .as_deref()
            .map_or_else(|| "no name given".into(), shown_name),
        c.peer,
        c.messages,
        c.unread,
        clock_time(c.last_ms),
        preview(&c.last_text)
    )
}

/// Warns (on stderr) when `id` differs from a contact's Account ID in one character.
fn warn_if_near_a_contact(store: &MessageStore, id: &AccountId) {
    if let Ok(None) = store.contact(id) {
        if let Ok(Some((contact, position))) = store.similar_contact(id) {
            eprintln!(
                "warning: this Account ID differs from your contact {}'s in one character \
                 (character {position}); check it is the one you meant",
                contact.nickname
            );
        }
    }
}

/// Refuses, in KB, a text too long for one message.
fn check_size(keys: &IdentityKeyPair, store: &MessageStore, text: &str) -> Result<()> {
    if text.len() <= SURELY_FITS {
        return Ok(());
    }
    let name = store.setting("display_name")?;
    let max = max_text_bytes(keys, name.as_deref());
    if text.len() > max {
        return Err(format!(
            "the message is {:.1} KB; one message holds at most {:.1} KB (1 KB = 1000 bytes). \
             Split it into smaller messages.",
            text.len() as f64 / 1000.0,
            max as f64 / 1000.0
        )
        .into());
    }
    Ok(())
}

fn open_profile(cli: &Cli, creates: bool) -> Result<Profile> {
    let dir = match &cli.profile {
        Some(dir) => dir.clone(),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("no profile directory: pass --profile DIR or set SESSION_PROFILE")?
            .join(".session-rs"),
    };
    if !creates && !dir.exists() {
        return Err(AccountError::Missing(dir.join("identity.key")).into());
    }
    Profile::open(&dir).map_err(|e| format!("cannot use the profile {}: {e}", dir.display()).into())
}

fn create_account(
    profile: &Profile,
    seed: &Ed25519Seed,
    name: Option<&str>,
    protect: bool,
) -> Result<()> {
    if let Some(name) = name {
        checked_name(name)?;
    }
    let passphrase = if protect {
        Some(input::new_passphrase()?)
    } else {
        None
    };
    onboarding::create_account(
        profile,
        seed,
        name,
        passphrase.as_deref().map(|p| p.as_str()),
    )?;
    Ok(())
}

/// Opens the account with `open`, asking for the passphrase if it is protected: three tries at
/// a terminal, one from the environment. Warns when others can read the account file.
fn with_passphrase<T>(
    profile: &Profile,
    open: impl Fn(Option<&str>) -> std::result::Result<T, AccountError>,
) -> Result<T> {
    let account = profile.account();
    if let Some(mode) = account.mode() {
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {} can be read by other users (mode {mode:03o}); run `chmod 600 {}`",
                account.path().display(),
                account.path().display()
            );
        }
    }
    if !account.is_protected()? {
        return Ok(open(None)?);
    }
    let tries = if input::passphrase_from_env() { 1 } else { 3 };
    for attempt in 1..=tries {
        let passphrase = input::passphrase()?;
        match open(Some(passphrase.as_str())) {
            Err(AccountError::WrongPassphrase) if attempt < tries => {
                eprintln!("wrong passphrase, try again ({} left)", tries - attempt);
            }
            Err(AccountError::WrongPassphrase) => return Err("wrong passphrase".into()),
            other => return Ok(other?),
        }
    }
    Err("wrong passphrase".into())
}

/// The account's seed, opened with the passphrase if it is protected.
pub(crate) fn unlock(profile: &Profile) -> Result<Ed25519Seed> {
    with_passphrase(profile, |p| profile.account().load_seed(p))
}

/// The encrypted message database of the account with `seed`.
pub(crate) fn open_store(profile: &Profile, seed: &Ed25519Seed) -> Result<MessageStore> {
    Ok(profile.message_store_for(seed)?)
}

/// The network this profile joins (named now or earlier).
fn cli_network(profile: &Profile) -> Result<NetworkFile> {
    profile.saved_network()?.ok_or_else(|| {
        "no network configured: pass --network FILE (written by `session devnet`) or set SESSION_NETWORK"
            .into()
    })
}

/// No node of the network answered; the technical reason, for the log.
struct Unreachable(String);

/// What to tell the user when no node answered.
fn unreachable_text() -> &'static str {
    "no network reachable: no node of the network answered (is `session devnet` running, and \
     is the network file current?)."
}

async fn connect(
    profile: &Profile,
    network: &NetworkFile,
) -> std::result::Result<OnionClient, Unreachable> {
    let config = profile
        .client_config(network)
        .map_err(|e| Unreachable(e.to_string()))?;
    OnionClient::connect(config).await.map_err(|e| {
        tracing::debug!(error = %e, "cannot connect to the network");
        match e {
            ClientError::Network(reason) => Unreachable(reason),
            other => Unreachable(other.to_string()),
        }
    })
}

pub(crate) async fn messenger(profile: &Profile) -> Result<Messenger> {
    let seed = unlock(profile)?;
    let store = open_store(profile, &seed)?;
    messenger_with(profile, &seed, store).await
}

pub(crate) async fn messenger_with(
    profile: &Profile,
    seed: &Ed25519Seed,
    store: MessageStore,
) -> Result<Messenger> {
    let network = cli_network(profile)?;
    let keys = seed.key_pair();
    let client = connect(profile, &network)
        .await
        .map_err(|_| unreachable_text().to_string())?;
    Ok(Messenger::new(keys, store, client))
}

fn exit_for(state: &MessageState) -> ExitCode {
    match state {
        MessageState::Stored { .. } => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// A contact's nickname, or a shortened Account ID.
pub fn peer_label(store: &MessageStore, peer: &AccountId) -> String {
    match store.contact(peer) {
        Ok(Some(contact)) => contact.nickname,
        _ => short_id(peer),
    }
}

/// One message of a conversation: the sender (strangers always marked as such), then the text
/// with control characters neutralised and continuation lines indented under the sender.
pub fn format_message(store: &MessageStore, message: &StoredMessage) -> String {
    let is_contact = matches!(store.contact(&message.peer), Ok(Some(_)));
    let label = peer_label(store, &message.peer);
    let who = match message.direction {
        Direction::Outgoing if is_contact => format!("you -> {label}"),
        Direction::Outgoing => format!("you -> {label} (not a contact)"),
        Direction::Incoming if is_contact => label,
        Direction::Incoming => match &message.display_name {
            Some(name) => format!("{label} {} (request, not a contact)", shown_name(name)),
            None => format!("{label} (request, not a contact)"),
        },
    };
    let state = match &message.state {
        MessageState::Received => String::new(),
        other => format!(
            "  [{}]",
            session_client::inert::neutralise(&other.describe())
        ),
    };
    let prefix = format!("[{}] {who}: ", clock_time(message.sent_ms));
    let text = crate::attachment::describe(message).unwrap_or_else(|| message.text.clone());
    format!("{}{state}", crate::text::under(&prefix, &text))
}
