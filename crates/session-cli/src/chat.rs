//! `session chat`: a line-based interactive chat. Incoming messages are printed as they arrive
//! (the client library's live stream: waiting retrieves that the swarm answers as soon as a
//! message lands, polling where a node cannot wait); each line typed is sent. Plain lines on
//! stdout, so it works in any terminal, under tmux and over ssh.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_client::{LiveEvent, MessageState, Messenger};
use session_crypto::AccountId;
use tokio::io::AsyncBufReadExt as _;

use crate::commands::{format_message, peer_label, Result};

/// Messages of the conversation shown when the chat opens.
const BACKLOG: usize = 10;

/// Runs the chat until `/quit` or end of input.
pub async fn run(messenger: Messenger, peer: AccountId, poll_secs: f64) -> Result<ExitCode> {
    let messenger = Arc::new(messenger);
    let label = peer_label(&messenger.store(), &peer);
    say(&format!(
        "Chatting with {label}. Type a message and press Enter to send; /quit or Ctrl-D leaves."
    ));
    // One lock for the backlog: the guard of `store()` lives as long as the statement that
    // takes it, so taking it again inside a loop over its result would deadlock.
    {
        let store = messenger.store();
        for message in store.history(&peer, BACKLOG)? {
            say(&format_message(&store, &message));
        }
        store.mark_read(&peer)?;
    }
    // The fallback poll interval (nodes that cannot wait, and after a failure), and how often
    // messages that failed to send are tried again.
    let interval = Duration::from_secs_f64(poll_secs.clamp(0.2, 3600.0));
    // Set when the stream or a send found the network gone; cleared (and said) when it answers.
    let offline = Arc::new(AtomicBool::new(false));
    let poller = {
        let (messenger, peer, offline) = (messenger.clone(), peer, offline.clone());
        tokio::spawn(async move {
            let mut incoming = messenger.incoming().with_poll_interval(interval);
            let mut retry = tokio::time::interval(interval);
            retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    event = incoming.next() => match event {
                        LiveEvent::Received(messages) => {
                            back_online(&offline);
                            show_incoming(&messenger, &peer, messages);
                            resend_failed(&messenger, &offline).await;
                        }
                        LiveEvent::Online => {
                            back_online(&offline);
                            resend_failed(&messenger, &offline).await;
                        }
                        LiveEvent::Offline(reason) => {
                            tracing::debug!(%reason, "the live stream lost the network");
                            if !offline.swap(true, Ordering::SeqCst) {
                                say("(cannot reach the network; still trying. Messages you type are saved and sent when it is back)");
                            }
                        }
                    },
                    _ = retry.tick() => resend_failed(&messenger, &offline).await,
                }
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
        match messenger.send(&peer, text).await {
            Ok(delivery) => {
                if matches!(delivery.message.state, MessageState::Stored { .. }) {
                    back_online(&offline);
                }
                say(&format_message(&messenger.store(), &delivery.message));
                if matches!(delivery.message.state, MessageState::Failed { .. }) {
                    offline.store(true, Ordering::SeqCst);
                    say("(not sent yet: it is saved and sent again when the network answers)");
                }
            }
            Err(e) => say(&format!("(not sent: {e})")),
        }
    }
    poller.abort();
    Ok(ExitCode::SUCCESS)
}

/// Prints incoming messages: those of this conversation in full (and marks them read), others
/// as a notice.
fn show_incoming(
    messenger: &Messenger,
    peer: &AccountId,
    messages: Vec<session_client::StoredMessage>,
) {
    for message in messages {
        if message.peer == *peer {
            let store = messenger.store();
            say(&format_message(&store, &message));
            let _ = store.mark_read(peer);
        } else {
            let from = peer_label(&messenger.store(), &message.peer);
            say(&format!("(new message from {from}; see `session inbox`)"));
        }
    }
}

/// Says that the network is back, if it was said to be gone.
fn back_online(offline: &AtomicBool) {
    if offline.swap(false, Ordering::SeqCst) {
        say("(the network is back)");
    }
}

/// Sends again the messages that failed (never those still being sent by the input loop).
async fn resend_failed(messenger: &Messenger, offline: &AtomicBool) {
    let failed: Vec<i64> = match messenger.store().unsent() {
        Ok(unsent) => unsent
            .into_iter()
            .filter(|m| matches!(m.state, MessageState::Failed { .. }))
            .map(|m| m.id)
            .collect(),
        Err(_) => return,
    };
    for id in failed {
        match messenger.retry(id).await {
            Ok(delivery) if matches!(delivery.message.state, MessageState::Stored { .. }) => {
                back_online(offline);
                let store = messenger.store();
                say(&format!(
                    "(sent now) {}",
                    format_message(&store, &delivery.message)
                ));
            }
            _ => return,
        }
    }
}

/// Prints one line at once and flushes it (stdout may be a pipe).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
