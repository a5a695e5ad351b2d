//! `session group ...` and the group side of `send`, `history`, `chat`, `inbox` and `sync`.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use session_client::inert::{clock_time, neutralise, shown_name};
use session_client::{GroupMessage, MessageStore, Messenger};
use session_crypto::group_keys::GroupId;
use session_crypto::AccountId;
use tokio::io::AsyncBufReadExt as _;

use crate::commands::{peer_label, Result};

/// Group subcommands.
#[derive(Subcommand, Debug)]
pub enum GroupAction {
    /// Creates a group with you as its admin.
    Create {
        /// The group's name.
        name: String,
        /// A description shown to members.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Invites contacts (nicknames or Account IDs) to a group you administer.
    Invite {
        /// The group's name or ID.
        group: String,
        /// Who to invite.
        #[arg(required = true)]
        who: Vec<String>,
    },
    /// Accepts an invitation (see `session group list`).
    Accept {
        /// The group's name or ID.
        group: String,
    },
    /// Declines an invitation.
    Decline {
        /// The group's name or ID.
        group: String,
    },
    /// Lists a group's members with their state (invited, joined, removed, admin).
    Members {
        /// The group's name or ID.
        group: String,
    },
    /// Removes members (admins only): the group gets a new key they do not have.
    Remove {
        /// The group's name or ID.
        group: String,
        /// Who to remove.
        #[arg(required = true)]
        who: Vec<String>,
    },
    /// Makes a member an admin (admins only).
    Promote {
        /// The group's name or ID.
        group: String,
        /// The member.
        who: String,
    },
    /// Leaves a group.
    Leave {
        /// The group's name or ID.
        group: String,
    },
    /// Renames a group (admins only).
    Rename {
        /// The group's name or ID.
        group: String,
        /// The new name.
        name: String,
    },
    /// Deletes a group for everyone (admins only).
    Delete {
        /// The group's name or ID.
        group: String,
    },
    /// Lists your groups and invitations (fetching new invitations first).
    List,
}

/// The group `who` names when it is not a contact (contacts come first).
pub fn named(store: &MessageStore, who: &str) -> Result<Option<GroupId>> {
    if store.resolve(who).is_ok() {
        return Ok(None);
    }
    Ok(store.find_group(who)?)
}

/// The groups part of `session inbox` (nothing when there are none).
pub fn inbox(store: &MessageStore) -> Result<()> {
    if !store.groups()?.is_empty() {
        println!("Groups:");
        list(store)?;
    }
    Ok(())
}

fn group_of(store: &MessageStore, who: &str) -> Result<GroupId> {
    store
        .find_group(who)?
        .ok_or_else(|| format!("no group named {who:?} (see `session group list`)").into())
}

fn people(store: &MessageStore, who: &[String]) -> Result<Vec<AccountId>> {
    who.iter()
        .map(|w| store.resolve(w).map_err(Into::into))
        .collect()
}

/// Runs a group subcommand.
pub async fn run(messenger: Messenger, action: GroupAction) -> Result<ExitCode> {
    let find = |who: &str| group_of(&messenger.store(), who);
    match action {
        GroupAction::Create { name, description } => {
            let name = session_client::onboarding::checked_name(&name)?;
            let id = messenger.create_group(&name, &description).await?;
            println!("created group {name:?}: {id}");
        }
        GroupAction::Invite { group, who } => {
            let group = find(&group)?;
            let ids = people(&messenger.store(), &who)?;
            messenger.invite_to_group(&group, &ids).await?;
            println!(
                "invited {} member(s); they join when they accept",
                ids.len()
            );
        }
        GroupAction::Accept { group } => {
            let _ = messenger.sync_group_invites().await?;
            let group = find(&group)?;
            messenger.accept_group(&group).await?;
            println!("joined {}", shown_name(&messenger.group(&group)?.name));
        }
        GroupAction::Decline { group } => {
            let group = find(&group)?;
            messenger.decline_group(&group)?;
            println!("declined");
        }
        GroupAction::Members { group } => {
            let group = find(&group)?;
            if messenger.group(&group)?.state.is_active() {
                messenger.sync_group(&group).await?;
            }
            let store = messenger.store();
            for m in store.group_members(&group)? {
                let admin = if m.admin { ", admin" } else { "" };
                let me = if m.account_id == messenger.account_id() {
                    " (you)"
                } else {
                    ""
                };
                println!(
                    "{}{me}: {}{admin}",
                    peer_label(&store, &m.account_id),
                    m.state
                );
            }
        }
        GroupAction::Remove { group, who } => {
            let group = find(&group)?;
            let ids = people(&messenger.store(), &who)?;
            messenger.remove_from_group(&group, &ids).await?;
            println!("removed {} member(s); the group has a new key", ids.len());
        }
        GroupAction::Promote { group, who } => {
            let group = find(&group)?;
            let id = messenger.store().resolve(&who)?;
            messenger.promote_in_group(&group, &id).await?;
            println!("{} is now an admin", peer_label(&messenger.store(), &id));
        }
        GroupAction::Leave { group } => {
            let group = find(&group)?;
            messenger.leave_group(&group).await?;
            println!("left the group");
        }
        GroupAction::Rename { group, name } => {
            let group = find(&group)?;
            let name = session_client::onboarding::checked_name(&name)?;
            messenger.rename_group(&group, &name).await?;
            println!("renamed to {name:?}");
        }
        GroupAction::Delete { group } => {
            let group = find(&group)?;
            messenger.delete_group(&group).await?;
            println!("deleted the group for everyone");
        }
        GroupAction::List => {
            let _ = messenger.sync_group_invites().await?;
            list(&messenger.store())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the groups held (for `group list` and `inbox`).
pub fn list(store: &MessageStore) -> Result<()> {
    let groups = store.groups()?;
    if groups.is_empty() {
        println!("no groups");
    }
    for g in groups {
        let admin = if g.admin { ", admin" } else { "" };
        println!(
            "group {}: {}{admin} ({})",
            shown_name(&g.name),
            g.state,
            g.id
        );
    }
    Ok(())
}

/// One group message: `[time] sender: text`, inert.
pub fn format(store: &MessageStore, message: &GroupMessage) -> String {
    let who = if message.outgoing {
        "you".to_owned()
    } else {
        match (&message.display_name, store.contact(&message.sender)) {
            (_, Ok(Some(c))) => c.nickname,
            (Some(name), _) => format!(
                "{} {}",
                peer_label(store, &message.sender),
                shown_name(name)
            ),
            (None, _) => peer_label(store, &message.sender),
        }
    };
    let prefix = format!("[{}] {}: ", clock_time(message.sent_ms), neutralise(&who));
    crate::text::under(&prefix, &message.text)
}

/// `session send GROUP text`.
pub async fn send(messenger: &Messenger, group: &GroupId, text: &str) -> Result<ExitCode> {
    let message = messenger.send_group(group, text).await?;
    println!("{}", format(&messenger.store(), &message));
    Ok(ExitCode::SUCCESS)
}

/// `session history GROUP`.
pub fn history(store: &MessageStore, group: &GroupId, limit: usize) -> Result<ExitCode> {
    let messages = store.group_history(group, limit)?;
    if messages.is_empty() {
        println!("no messages in this group yet");
    }
    for m in &messages {
        println!("{}", format(store, m));
    }
    Ok(ExitCode::SUCCESS)
}

/// The group part of `session sync`: new invitations and group messages.
pub async fn sync(messenger: &Messenger) -> Result<()> {
    let report = messenger.sync_groups().await?;
    let store = messenger.store();
    for id in &report.invites {
        if let Ok(Some(g)) = store
            .groups()
            .map(|gs| gs.into_iter().find(|g| g.id == *id))
        {
            println!(
                "invitation to group {} (`session group accept`)",
                shown_name(&g.name)
            );
        }
    }
    for m in &report.new {
        println!("{}", format(&store, m));
    }
    if !report.new.is_empty() {
        println!("{} new group message(s)", report.new.len());
    }
    Ok(())
}

/// `session chat GROUP`: lines typed are sent; new messages are fetched every `poll_secs`.
pub async fn chat(messenger: Messenger, group: GroupId, poll_secs: f64) -> Result<ExitCode> {
    let messenger = Arc::new(messenger);
    say(&format!(
        "Chatting in {}. Type a message and press Enter to send; /quit or Ctrl-D leaves.",
        shown_name(&messenger.group(&group)?.name)
    ));
    {
        let store = messenger.store();
        for m in store.group_history(&group, 10)? {
            say(&format(&store, &m));
        }
    }
    let interval = Duration::from_secs_f64(poll_secs.clamp(0.2, 3600.0));
    let poller = {
        let messenger = messenger.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(report) = messenger.sync_group(&group).await {
                    let store = messenger.store();
                    for m in report.new.iter().filter(|m| !m.outgoing) {
                        say(&format(&store, m));
                    }
                }
                tokio::time::sleep(interval).await;
            }
        })
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if text == "/quit" {
            break;
        }
        match messenger.send_group(&group, text).await {
            Ok(m) => say(&format(&messenger.store(), &m)),
            Err(e) => say(&format!("(not sent: {e})")),
        }
    }
    poller.abort();
    Ok(ExitCode::SUCCESS)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
