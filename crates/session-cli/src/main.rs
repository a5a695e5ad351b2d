#![doc = include_str!("../README.md")]

mod attachment;
mod chat;
mod commands;
mod demo;
mod devices_cmd;
mod devnet;
mod group_cmd;
mod input;
mod introduce;
mod qr;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A private messenger: no phone number, end-to-end encryption, onion-routed requests.
#[derive(Parser, Debug)]
#[command(name = "session", version, about, propagate_version = true)]
pub struct Cli {
    /// The profile directory (one per user) [default: ~/.session-rs].
    #[arg(long, global = true, env = "SESSION_PROFILE")]
    profile: Option<PathBuf>,
    /// The network file to join (written by `session devnet`); remembered in the profile.
    #[arg(long, global = true, env = "SESSION_NETWORK")]
    network: Option<PathBuf>,
    /// Log more (repeat for more); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Creates a new account and shows its recovery phrase once.
    Init {
        /// The name shown to the people you write to.
        #[arg(long)]
        name: Option<String>,
        /// Protect the account file with a passphrase (asked for, or read from
        /// SESSION_PASSPHRASE).
        #[arg(long)]
        passphrase: bool,
    },
    /// Restores an account from its recovery phrase (25 words, or 13 for legacy Session
    /// accounts), read from a prompt or from stdin, never from the command line.
    Restore {
        /// The name shown to the people you write to.
        #[arg(long)]
        name: Option<String>,
        /// Protect the account file with a passphrase.
        #[arg(long)]
        passphrase: bool,
    },
    /// Shows the recovery phrase again (asks for the passphrase of a protected account).
    Phrase,
    /// Shows or sets the name shown to the people you write to.
    Name {
        /// The new name (none: show the current one).
        name: Option<String>,
    },
    /// Shows your Account ID, with a QR code (holding your `session:` link).
    Id {
        /// Also write the QR code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Print only the Account ID (or the link, with --link).
        #[arg(long)]
        no_qr: bool,
        /// Print your `session:` link (Account ID and display name) instead of the bare ID.
        #[arg(long)]
        link: bool,
    },
    /// Makes a short invite code (such as 7-ocean-violin) to read out, and waits until the
    /// other person types it in `session accept`: each becomes the other's contact. A code
    /// works once, for 10 minutes; a wrong guess kills it.
    Invite,
    /// Accepts an invite code made with `session invite`: you and the inviter become each
    /// other's contacts.
    Accept {
        /// The code (leave it out to type it at a prompt, out of the process list).
        code: Option<String>,
    },
    /// Shows the safety code of you and a contact, to compare in person or by voice.
    Verify {
        /// A contact's nickname or an Account ID.
        contact: String,
        /// The words matched: mark the contact verified.
        #[arg(long)]
        confirm: bool,
    },
    /// Manages contacts.
    Contacts {
        /// What to do.
        #[command(subcommand)]
        action: ContactsAction,
    },
    /// Sends a message (text from the arguments, or from stdin when none are given).
    Send {
        /// A contact's nickname or an Account ID.
        to: String,
        /// The message.
        text: Vec<String>,
    },
    /// Answers message requests (people who wrote to you and are not contacts), by the name
    /// shown in `session inbox` or their Account ID.
    Requests {
        /// What to do.
        #[command(subcommand)]
        action: RequestsAction,
    },
    /// Closed groups: create, invite, accept or decline, members, remove, promote, leave,
    /// rename, delete, list (`send`, `history`, `chat` take a group's name too).
    Group {
        /// What to do.
        #[command(subcommand)]
        action: group_cmd::GroupAction,
    },
    /// Sends again the messages no swarm member acknowledged.
    Retry,
    /// Fetches new messages once and shows them.
    Sync,
    /// Sends a file: encrypted here, cut into chunks kept by the swarms (no file server), with
    /// a progress bar; the message carries what the recipient needs to fetch it.
    SendFile {
        /// A contact's nickname or an Account ID.
        to: String,
        /// The file.
        path: PathBuf,
        /// The largest file accepted, in MB.
        #[arg(long, default_value_t = 100)]
        max_mb: u64,
    },
    /// Saves the file a message carries (its number is shown in `history` and `chat`).
    Save {
        /// The message number.
        message: i64,
        /// Where to save it (default: the current directory).
        dir: Option<PathBuf>,
    },
    /// Lists conversations; those from non-contacts are message requests.
    Inbox,
    /// Shows a conversation.
    History {
        /// A contact's nickname or an Account ID.
        with: String,
        /// How many of the newest messages to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Chats with a contact interactively: incoming messages appear as they arrive; each line
    /// you type is sent.
    Chat {
        /// A contact's nickname or an Account ID.
        with: String,
        /// Seconds between polls where a node cannot wait for new messages, and between
        /// resends of failed ones.
        #[arg(long, default_value_t = 1.0)]
        poll: f64,
    },
    /// Your account on several devices: list them, link a new one (no phrase to type),
    /// approve a link, remove one. Devices share one identity key: a removed device is told
    /// and stops syncing, but it keeps the key and could still read the account's swarm if
    /// it were changed to ignore its removal.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: DevicesAction,
    },
    /// Exports the local history (contacts, messages) to one file encrypted under a
    /// passphrase (asked for, or read from SESSION_EXPORT_PASSPHRASE).
    Export {
        /// The file to write.
        file: PathBuf,
    },
    /// Imports an export file, merging it into the local history without duplicates.
    Import {
        /// The file to read.
        file: PathBuf,
    },
    /// Runs a local network in the foreground and writes its network file; started again
    /// with the same folder, it restarts the same network (keys, ports, stored messages).
    Devnet {
        /// Not used by devnet (hidden: the global flag does not apply).
        #[arg(long, hide = true)]
        profile: Option<PathBuf>,
        /// Not used by devnet (hidden: the global flag does not apply).
        #[arg(long, hide = true)]
        network: Option<PathBuf>,
        /// Number of service nodes.
        #[arg(long, default_value_t = 12)]
        nodes: usize,
        /// Fewest members a swarm may have (the reference network: 5).
        #[arg(long, default_value_t = 3)]
        swarm_min: usize,
        /// Members a new swarm gets (the reference network: 7).
        #[arg(long, default_value_t = 4)]
        swarm_ideal: usize,
        /// Most members a swarm may have before it splits (the reference network: 10).
        #[arg(long, default_value_t = 6)]
        swarm_max: usize,
        /// Directory for the nodes' data and `network.json`.
        #[arg(long, default_value = "devnet")]
        dir: PathBuf,
    },
    /// The whole messenger in one run: a 12-node network, Alice and Bob, an offline delivery
    /// through a node crash, and a reply. Exits 0 only if every message arrived intact.
    Demo {
        /// Not used by the demo (hidden: the global flag does not apply).
        #[arg(long, hide = true)]
        profile: Option<PathBuf>,
        /// Not used by the demo (hidden: the global flag does not apply).
        #[arg(long, hide = true)]
        network: Option<PathBuf>,
    },
}

/// Contact subcommands.
#[derive(Subcommand, Debug)]
pub enum ContactsAction {
    /// Adds a contact: by Account ID, `session:` link, or the QR code in an image.
    Add {
        /// Their Account ID (66 hex characters starting with 05) or `session:` link; with
        /// --qr, the nickname.
        #[arg(required_unless_present = "qr")]
        account_id: Option<String>,
        /// Your name for them (default: the name in their link).
        nickname: Option<String>,
        /// Read their Account ID or link from the QR code in this PNG or JPEG image.
        #[arg(long, value_name = "IMAGE")]
        qr: Option<PathBuf>,
        /// Rename the contact if the Account ID is one already.
        #[arg(long)]
        rename: bool,
    },
    /// Lists contacts.
    List,
    /// Removes a contact (the conversation stays, as a message request).
    Remove {
        /// Nickname or Account ID.
        who: String,
    },
}

/// Device subcommands.
#[derive(Subcommand, Debug)]
pub enum DevicesAction {
    /// Lists the account's devices (after syncing with them).
    List,
    /// Run on the NEW device, in a new profile: shows a link request (text and QR code) and
    /// emoji to compare, then waits up to 10 minutes for another device to approve it.
    Link {
        /// This device's name, shown in the device list.
        #[arg(long)]
        name: Option<String>,
    },
    /// Run on a device of the account: shows the emoji of a link request; when the user
    /// confirms they match the new device's, sends it the account.
    Approve {
        /// The link request shown by `session devices link`.
        link: String,
    },
    /// Removes another device (by the start of its id in `session devices list`).
    Remove {
        /// The device id.
        id: String,
    },
}

/// Message request subcommands.
#[derive(Subcommand, Debug)]
pub enum RequestsAction {
    /// Lists message requests.
    List,
    /// Accepts a request: the sender becomes a contact under `nickname`.
    Accept {
        /// The sender: the name shown in `session inbox`, the start of their Account ID, or
        /// their Account ID.
        who: String,
        /// Your name for them.
        nickname: String,
    },
    /// Declines a request: its messages are deleted (the sender can write again).
    Decline {
        /// The sender, as for `accept`.
        who: String,
    },
    /// Blocks the sender: the request is deleted and their messages are dropped from now on.
    Block {
        /// The sender, as for `accept`, or any Account ID.
        who: String,
    },
    /// Unblocks an Account ID.
    Unblock {
        /// The Account ID.
        account_id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The TLS and HTTP libraries stay at info even at -vv: their debug lines say nothing a user
    // of this program can act on. Colours only on a terminal.
    let default_level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug,rustls=info,hyper=info,hyper_util=info,h2=info",
        _ => "trace,rustls=info,hyper=info,hyper_util=info,h2=info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("session: error: {e}");
            ExitCode::FAILURE
        }
    }
}
