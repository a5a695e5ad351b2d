//! `session chat`: a line-based interactive chat. Incoming messages are printed as they arrive
//! (the swarm is polled in the background); each line typed is sent. Plain lines on stdout, so
//! it works in any terminal, under tmux and over ssh.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_client::{MessageState, Messenger};
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
    let interval = Duration::from_secs_f64(poll_secs.clamp(0.2, 3600.0));
    // Set when a poll or a send found the network gone; cleared (and said) when a poll works.
    let offline = Arc::new(AtomicBool::new(false));
    let poller = {
        let (messenger, peer, offline) = (messenger.clone(), peer, offline.clone());
        tokio::spawn(async move {
            loop {
                match messenger.sync().await {
                    Ok(report) => {
                        if offline.swap(false, Ordering::SeqCst) {
                            say("(the network is back)");
                        }
                        for message in report.new {
                            if message.peer == peer {
                                let store = messenger.store();
                                say(&format_message(&store, &message));
                                let _ = store.mark_read(&peer);
                            } else {
                                let from = peer_label(&messenger.store(), &message.peer);
                                say(&format!("(new message from {from}; see `session inbox`)"));
                            }
                        }
                        resend_failed(&messenger).await;
                    }
                    Err(e) if !offline.swap(true, Ordering::SeqCst) => {
                        tracing::debug!(error = %e, "a poll failed");
                        say("(cannot reach the network; still trying. Messages you type are saved and sent when it is back)");
                    }
                    Err(_) => {}
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
        match messenger.send(&peer, text).await {
            Ok(delivery) => {
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

/// Sends again the messages that failed (never those still being sent by the input loop).
async fn resend_failed(messenger: &Messenger) {
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
