//! `session chat`: a line-based interactive chat. Incoming messages are printed as they arrive
//! (the swarm is polled in the background); each line typed is sent. Plain lines on stdout, so
//! it works in any terminal, under tmux and over ssh.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use session_client::Messenger;
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
    }
    let interval = Duration::from_secs_f64(poll_secs.clamp(0.2, 3600.0));
    let poller = {
        let (messenger, peer) = (messenger.clone(), peer);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                match messenger.sync().await {
                    Ok(report) => {
                        failing = false;
                        for message in report.new {
                            if message.peer == peer {
                                say(&format_message(&messenger.store(), &message));
                            } else {
                                let from = peer_label(&messenger.store(), &message.peer);
                                say(&format!("(new message from {from}; see `session inbox`)"));
                            }
                        }
                    }
                    Err(e) if !failing => {
                        failing = true;
                        say(&format!("(cannot fetch messages: {e}; retrying)"));
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
            Ok(delivery) => say(&format_message(&messenger.store(), &delivery.message)),
            Err(e) => say(&format!("(not sent: {e})")),
        }
    }
    poller.abort();
    Ok(ExitCode::SUCCESS)
}

/// Prints one line at once and flushes it (stdout may be a pipe).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
