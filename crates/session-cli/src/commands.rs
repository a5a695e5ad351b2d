//! The subcommands, on top of the session-client library.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use session_client::{
    AccountError, ClientError, Direction, KdfParams, MessageState, MessageStore, Messenger,
    NetworkFile, OnionClient, Profile, StoredMessage,
};
use session_crypto::{AccountId, Ed25519Seed, OsRng};

use crate::{input, qr, Cli, Command, ContactsAction};

/// Errors shown to the user as they are.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result of a command.
pub type Result<T> = std::result::Result<T, Error>;

/// Runs one command; the exit code says whether it did what was asked.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Devnet { nodes, dir } => return crate::devnet::run(*nodes, dir).await,
        Command::Demo => return crate::demo::run().await,
        _ => {}
    }
    let profile = open_profile(&cli)?;
    match cli.command {
        Command::Init { name, passphrase } => {
            let seed = Ed25519Seed::generate(&mut OsRng);
            create_account(&profile, &seed, name.as_deref(), passphrase)?;
            let id = seed.key_pair().account_id();
            println!("Your Account ID (share it with the people you talk to):\n\n  {id}\n");
            println!("Your recovery phrase. Write it down and keep it safe: it is the only way to");
            println!("restore this account, and it is shown only this once.\n");
            println!("  {}\n", seed.to_phrase().as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { name, passphrase } => {
            if profile.account().exists() {
                return Err(AccountError::Exists(profile.account().path().to_path_buf()).into());
            }
            let phrase = input::recovery_phrase()?;
            let seed = Ed25519Seed::from_phrase(phrase.trim()).map_err(|e| {
                format!(
                    "the recovery phrase is not valid: {}",
                    phrase_problem(&e, &phrase)
                )
            })?;
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
            println!("Restored account {id}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Id { png, no_qr } => {
            let id = load_keys(&profile)?.account_id();
            println!("{id}");
            if !no_qr {
                print!("{}", qr::terminal(&id.to_string())?);
            }
            if let Some(path) = png {
                qr::write_png(&id.to_string(), &path)?;
                println!("QR code written to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Contacts { action } => {
            load_keys(&profile)?;
            let store = profile.message_store()?;
            contacts(&store, action)
        }
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
            let store = profile.message_store()?;
            let peer = store.resolve(&to)?;
            drop(store);
            let messenger =
                messenger(&cli_network(cli.network.as_ref(), &profile)?, &profile).await?;
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
            Ok(exit_for(&delivery.message.state))
        }
        Command::Retry => {
            let messenger =
                messenger(&cli_network(cli.network.as_ref(), &profile)?, &profile).await?;
            let deliveries = messenger.retry_unsent().await?;
            if deliveries.is_empty() {
                println!("nothing to retry");
            }
            let mut code = ExitCode::SUCCESS;
            for delivery in deliveries {
                let label = peer_label(&messenger.store(), &delivery.message.peer);
                println!(
                    "message {} to {label}: {}",
                    delivery.message.id,
                    delivery.message.state.describe()
                );
                if exit_for(&delivery.message.state) != ExitCode::SUCCESS {
                    code = ExitCode::FAILURE;
                }
            }
            Ok(code)
        }
        Command::Sync => {
            let messenger =
                messenger(&cli_network(cli.network.as_ref(), &profile)?, &profile).await?;
            let report = messenger.sync().await?;
            let store = messenger.store();
            for message in &report.new {
                println!("{}", format_message(&store, message));
            }
            println!(
                "{} new message(s){}",
                report.new.len(),
                if report.undecryptable > 0 {
                    format!(", {} not readable (skipped)", report.undecryptable)
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Inbox => {
            load_keys(&profile)?;
            let store = profile.message_store()?;
            let conversations = store.conversations()?;
            if conversations.is_empty() {
                println!("no conversations yet");
            }
            for c in conversations.iter().filter(|c| !c.is_request) {
                println!(
                    "{:<20} {:>4} message(s), last {}",
                    c.nickname.as_deref().unwrap_or("?"),
                    c.messages,
                    clock_time(c.last_ms)
                );
            }
            let requests: Vec<_> = conversations.iter().filter(|c| c.is_request).collect();
            if !requests.is_empty() {
                println!("\nMessage requests (add the sender as a contact to accept):");
                for c in requests {
                    println!(
                        "  {} ({}) {} message(s), last {}",
                        c.peer,
                        c.display_name
                            .as_deref()
                            .map_or_else(|| "no name given".into(), shown_name),
                        c.messages,
                        clock_time(c.last_ms)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History { with, limit } => {
            load_keys(&profile)?;
            let store = profile.message_store()?;
            let peer = store.resolve(&with)?;
            for message in store.history(&peer, limit)? {
                println!("{}", format_message(&store, &message));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { with, poll } => {
            let store = profile.message_store()?;
            let peer = store.resolve(&with)?;
            drop(store);
            let messenger =
                messenger(&cli_network(cli.network.as_ref(), &profile)?, &profile).await?;
            crate::chat::run(messenger, peer, poll).await
        }
        Command::Devnet { .. } | Command::Demo => Ok(ExitCode::SUCCESS),
    }
}

fn contacts(store: &MessageStore, action: ContactsAction) -> Result<ExitCode> {
    match action {
        ContactsAction::Add {
            account_id,
            nickname,
        } => {
            let id: AccountId = account_id
                .trim()
                .parse()
                .map_err(|e| format!("not a valid Account ID: {e}"))?;
            let contact = store.add_contact(&id, &nickname, session_client::system_ms())?;
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
                println!("{:<20} {}", contact.nickname, contact.account_id);
            }
        }
        ContactsAction::Remove { who } => {
            let contact = store.remove_contact(&who)?;
            println!("removed {} ({})", contact.nickname, contact.account_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says what may be wrong with a phrase: for a checksum mismatch, every position a single wrong
/// word could be at, and a swap only as one possibility among them (the checksum picks one of
/// the data words, so a swap fits by chance about as often as not).
fn phrase_problem(error: &session_crypto::PhraseError, phrase: &str) -> String {
    use session_crypto::PhraseError;
    if !matches!(
        error,
        PhraseError::BadChecksum | PhraseError::Transposed { .. }
    ) {
        return error.to_string();
    }
    let Some(hint) = session_crypto::mnemonic::checksum_hint(phrase) else {
        return error.to_string();
    };
    let last = hint.words;
    let swaps = hint
        .swaps
        .iter()
        .map(|&i| format!("{i} and {}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let data_suspects: Vec<String> = hint
        .suspect_words
        .iter()
        .filter(|&&p| p < last)
        .map(usize::to_string)
        .collect();
    if !hint.a_data_word_may_be_wrong() && hint.swaps.len() == 1 {
        return format!(
            "words {swaps} appear to be swapped (or the last word, the checksum word, is wrong)"
        );
    }
    let mut text = String::from("the last word (the checksum word) does not match the others. ");
    if data_suspects.len() + 1 >= last {
        text.push_str(&format!("Any one word may be wrong (1 to {last})"));
    } else {
        text.push_str(&format!(
            "One word may be wrong: word {} or {last} (the checksum word)",
            data_suspects.join(", ")
        ));
    }
    if !swaps.is_empty() {
        text.push_str(&format!(
            "; or two neighbours swapped (words {swaps} would fit, but so may a wrong word)"
        ));
    }
    text.push_str(". Compare every word with what you wrote down.");
    text
}

fn open_profile(cli: &Cli) -> Result<Profile> {
    let dir = match &cli.profile {
        Some(dir) => dir.clone(),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("no profile directory: pass --profile DIR or set SESSION_PROFILE")?
            .join(".session-rs"),
    };
    Profile::open(&dir).map_err(|e| format!("cannot use the profile {}: {e}", dir.display()).into())
}

fn create_account(
    profile: &Profile,
    seed: &Ed25519Seed,
    name: Option<&str>,
    protect: bool,
) -> Result<()> {
    let passphrase = if protect {
        Some(input::new_passphrase()?)
    } else {
        None
    };
    profile.account().create(
        seed,
        passphrase.as_deref().map(|p| p.as_str()),
        KdfParams::DEFAULT,
    )?;
    if let Some(name) = name {
        profile.message_store()?.set_setting("display_name", name)?;
    }
    Ok(())
}

fn load_keys(profile: &Profile) -> Result<session_crypto::IdentityKeyPair> {
    let account = profile.account();
    let passphrase = if account.is_protected()? {
        Some(input::passphrase()?)
    } else {
        None
    };
    match account.load(passphrase.as_deref().map(|p| p.as_str())) {
        Err(AccountError::WrongPassphrase) => Err("wrong passphrase".into()),
        other => Ok(other?),
    }
}

/// The network to join: the one named now (remembered in the profile), else the remembered one.
fn cli_network(named: Option<&PathBuf>, profile: &Profile) -> Result<NetworkFile> {
    if let Some(path) = named {
        let network = NetworkFile::read(path)?;
        profile.save_network(&network)?;
        return Ok(network);
    }
    profile.saved_network()?.ok_or_else(|| {
        "no network configured: pass --network FILE (written by `session devnet`) or set SESSION_NETWORK"
            .into()
    })
}

async fn messenger(network: &NetworkFile, profile: &Profile) -> Result<Messenger> {
    let keys = load_keys(profile)?;
    let store = profile.message_store()?;
    let config = profile.client_config(network)?;
    let client = OnionClient::connect(config).await.map_err(|e| match e {
        ClientError::Network(reason) => {
            format!("no network reachable (is `session devnet` running?): {reason}")
        }
        other => other.to_string(),
    })?;
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
        _ => {
            let id = peer.to_string();
            format!("{}…{}", &id[..8], &id[id.len() - 4..])
        }
    }
}

/// A display name someone sent, shown quoted, on one line, at most 64 characters.
pub fn shown_name(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    format!("\"{}\"", crate::text::neutralise(&short).replace('"', "'"))
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
        other => format!("  [{}]", crate::text::neutralise(&other.describe())),
    };
    let prefix = format!("[{}] {who}: ", clock_time(message.sent_ms));
    format!("{}{state}", crate::text::under(&prefix, &message.text))
}

/// `HH:MM:SS` (UTC) of a Unix millisecond time.
pub fn clock_time(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}
