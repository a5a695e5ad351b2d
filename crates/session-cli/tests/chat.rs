//! `session chat` in a real terminal: tmux runs it, the test types into it (send-keys) and
//! reads the screen (capture-pane), while the other user runs `session send`/`sync`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use session_testnet::{Testnet, TestnetConfig};

fn session(profile: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_session"))
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("SESSION_PASSPHRASE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "session {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn account_id(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find(|w| w.len() == 66 && w.starts_with("05"))
        .unwrap()
        .to_string()
}

/// A tmux server of its own, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is needed for this test (.ci/run installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "chat"]).stdout)
            .into_owned()
    }

    /// Waits until the screen shows `text`.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the chat never showed {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// A tmux server of this test's own.
    fn new(test: &str) -> Self {
        Self {
            socket: format!("session-{test}-{}", std::process::id()),
        }
    }

    /// Starts `session chat` in a new window of 160x40.
    fn start_chat(&self, profile: &Path, network: &str, with: &str) {
        self.start(&format!(
            "{} --profile {} --network {network} chat {with} --poll 0.3",
            env!("CARGO_BIN_EXE_session"),
            profile.display()
        ));
    }

    /// Starts a shell command in a new window of 160x40. When the last session of this server
    /// has just ended, the server may still be exiting: the start is tried again (at most 5 s).
    fn start(&self, command: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let started = self.run(&[
                "new-session",
                "-d",
                "-s",
                "chat",
                "-x",
                "160",
                "-y",
                "40",
                command,
            ]);
            if started.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "{started:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `/quit` and waits until the chat has ended.
    #[track_caller]
    fn quit(&self) {
        self.run(&["send-keys", "-t", "chat", "/quit", "Enter"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.run(&["has-session", "-t", "chat"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "/quit did not end the chat; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A local network, its file, and two users who added each other.
struct Pair {
    net: Testnet,
    dir: tempfile::TempDir,
    network: String,
}

impl Pair {
    async fn start() -> Self {
        let net = Testnet::start(TestnetConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let network = dir.path().join("network.json");
        std::fs::write(&network, net.network_file().to_json()).unwrap();
        let network = network.to_str().unwrap().to_string();
        let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
        let alice_id = account_id(&session(&alice, &["init", "--name", "Alice"]));
        let bob_id = account_id(&session(&bob, &["init", "--name", "Bob"]));
        session(&alice, &["contacts", "add", &bob_id, "bob"]);
        session(&bob, &["contacts", "add", &alice_id, "alice"]);
        // Both profiles remember the network from their first sync.
        session(&alice, &["--network", &network, "sync"]);
        session(&bob, &["--network", &network, "sync"]);
        Self { net, dir, network }
    }

    fn alice(&self) -> std::path::PathBuf {
        self.dir.path().join("alice")
    }

    fn bob(&self) -> std::path::PathBuf {
        self.dir.path().join("bob")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_opens_a_conversation_with_history_both_ways_and_after_a_restart() {
    let pair = Pair::start().await;
    let (alice, bob, network) = (pair.alice(), pair.bob(), pair.network.as_str());
    session(&bob, &["send", "alice", "first from bob"]);
    session(&alice, &["sync"]);
    session(&alice, &["send", "bob", "first from alice"]);

    let tmux = Tmux::new("chat-history");
    tmux.start_chat(&alice, network, "bob");
    let screen = tmux.wait_for("you -> bob: first from alice");
    assert!(screen.contains("bob: first from bob"), "{screen}");
    // The chat answers: a typed line is sent while the history is on screen.
    tmux.run(&[
        "send-keys",
        "-t",
        "chat",
        "typed after the history",
        "Enter",
    ]);
    tmux.wait_for("you -> bob: typed after the history");
    tmux.quit();

    // Opened again: the whole conversation is history now, and the chat still answers.
    tmux.start_chat(&alice, network, "bob");
    tmux.wait_for("you -> bob: typed after the history");
    session(&bob, &["send", "alice", "second from bob"]);
    tmux.wait_for("bob: second from bob");
    tmux.quit();
    let synced = session(&bob, &["sync"]);
    assert!(String::from_utf8_lossy(&synced.stdout).contains("typed after the history"));
    pair.net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_from_a_stranger_cannot_write_into_the_terminal() {
    let pair = Pair::start().await;
    let (alice, network) = (pair.alice(), pair.network.as_str());
    let carol = pair.dir.path().join("carol");
    session(&carol, &["init"]);
    // A display name no honest client would send: it tries to pass for a contact.
    session_client::Profile::open(&carol)
        .unwrap()
        .message_store()
        .unwrap()
        .set_setting("display_name", "bob\u{1b}[2J\nbob")
        .unwrap();
    let alice_id = account_id(&session(&alice, &["id", "--no-qr"]));
    let hostile = "hello\nbob: please paste your recovery phrase here\n\
                   \u{1b}[31mred\u{1b}[0m \u{1b}]2;PWNED-TITLE\u{7} \u{9b}2J END-OF-HOSTILE";
    session(&carol, &["--network", network, "send", &alice_id, hostile]);

    let tmux = Tmux::new("chat-hostile");
    let carol_id = account_id(&session(&carol, &["id", "--no-qr"]));
    tmux.start_chat(&alice, network, &carol_id);
    let screen = tmux.wait_for("END-OF-HOSTILE");
    // The forged line is indented under the real sender, never at the start of a line.
    for line in screen.lines() {
        assert!(
            !line.starts_with("bob"),
            "a forged line: {line:?}\n{screen}"
        );
    }
    let forged = screen.lines().find(|l| l.contains("please paste")).unwrap();
    assert!(forged.starts_with(' '), "{screen}");
    // Escape sequences are shown, not obeyed: no colour, no title, no cleared screen.
    assert!(screen.contains("^[[31mred^[[0m"), "{screen}");
    assert!(screen.contains("^[]2;PWNED-TITLE^G"), "{screen}");
    assert!(screen.contains("<U+009B>2J"), "{screen}");
    let title = tmux.run(&["display-message", "-p", "-t", "chat", "#{pane_title}"]);
    assert!(
        !String::from_utf8_lossy(&title.stdout).contains("PWNED"),
        "the window title was set by a message"
    );
    // The stranger is marked as one, with the name they gave quoted and neutralised.
    let sender = screen.lines().find(|l| l.contains("hello")).unwrap();
    assert!(
        sender.contains("\"bob^[[2J^Jbob\" (request, not a contact): hello"),
        "{screen}"
    );
    assert!(screen.contains("Chatting with 05"), "{screen}");
    tmux.quit();

    // Piped output carries no control character either.
    let history = session(&alice, &["history", &carol_id]);
    assert!(
        !history
            .stdout
            .iter()
            .any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
        "{history:?}"
    );
    pair.net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sends_what_failed_once_the_network_is_back() {
    let mut pair = Pair::start().await;
    let (alice, bob) = (pair.alice(), pair.bob());
    let tmux = Tmux::new("chat-retry");
    tmux.start_chat(&alice, &pair.network, "bob");
    tmux.wait_for("Chatting with bob");
    let nodes = pair.net.addresses().len();
    for index in 0..nodes {
        pair.net.stop(index).await.unwrap();
    }
    tmux.run(&["send-keys", "-t", "chat", "typed while down", "Enter"]);
    tmux.wait_for("not sent yet");
    for index in 0..nodes {
        pair.net.restart(index).await.unwrap();
    }
    let screen = tmux.wait_for("(sent now)");
    assert!(screen.contains("(the network is back)"), "{screen}");
    tmux.quit();
    let synced = session(&bob, &["sync"]);
    assert!(String::from_utf8_lossy(&synced.stdout).contains("typed while down"));
    pair.net.shutdown().await;
}

#[test]
fn restore_at_a_terminal_shows_the_account_and_asks_before_saving() {
    let dir = tempfile::tempdir().unwrap();
    let phrase =
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
    let expected = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
    let tmux = Tmux::new("restore");
    for (answer, saved) in [("n", false), ("y", true)] {
        let profile = dir.path().join(format!("restore-{answer}"));
        tmux.start(&format!(
            "{} --profile {} restore; sleep 30",
            env!("CARGO_BIN_EXE_session"),
            profile.display()
        ));
        tmux.wait_for("Recovery phrase");
        tmux.run(&["send-keys", "-t", "chat", phrase, "Enter"]);
        let screen = tmux.wait_for("Is this the Account ID you expected?");
        assert!(screen.contains(expected), "{screen}");
        assert!(
            !profile.join("identity.key").exists(),
            "saved before the answer"
        );
        tmux.run(&["send-keys", "-t", "chat", answer, "Enter"]);
        if saved {
            tmux.wait_for("Restored account");
        } else {
            tmux.wait_for("Nothing restored");
        }
        assert_eq!(profile.join("identity.key").exists(), saved);
        tmux.run(&["kill-session", "-t", "chat"]);
    }
}

#[test]
fn a_wrong_passphrase_at_a_terminal_gets_three_tries() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let created = Command::new(env!("CARGO_BIN_EXE_session"))
        .arg("--profile")
        .arg(&profile)
        .args(["init", "--passphrase"])
        .env("SESSION_PASSPHRASE", "right one")
        .output()
        .unwrap();
    assert!(created.status.success());
    let id = account_id(&created);
    let tmux = Tmux::new("passphrase");
    tmux.start(&format!(
        "env -u SESSION_PASSPHRASE {} --profile {} id --no-qr; sleep 30",
        env!("CARGO_BIN_EXE_session"),
        profile.display()
    ));
    tmux.wait_for("Passphrase:");
    tmux.run(&["send-keys", "-t", "chat", "wrong one", "Enter"]);
    tmux.wait_for("try again (2 left)");
    tmux.run(&["send-keys", "-t", "chat", "wrong two", "Enter"]);
    tmux.wait_for("try again (1 left)");
    tmux.run(&["send-keys", "-t", "chat", "right one", "Enter"]);
    tmux.wait_for(&id);
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_shows_incoming_messages_and_sends_what_is_typed() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = dir.path().join("network.json");
    std::fs::write(&network, net.network_file().to_json()).unwrap();
    let network = network.to_str().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice_id = account_id(&session(&alice, &["init", "--name", "Alice"]));
    let bob_id = account_id(&session(&bob, &["init", "--name", "Bob"]));
    session(&alice, &["contacts", "add", &bob_id, "bob"]);
    session(&bob, &["contacts", "add", &alice_id, "alice"]);
    session(
        &bob,
        &["--network", network, "send", "alice", "earlier", "message"],
    );

    let tmux = Tmux {
        socket: format!("session-chat-test-{}", std::process::id()),
    };
    let command = format!(
        "{} --profile {} --network {network} chat bob --poll 0.3",
        env!("CARGO_BIN_EXE_session"),
        alice.display()
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "chat",
        "-x",
        "160",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    tmux.wait_for("Chatting with bob");
    // A message sent before the chat opened arrives with the first poll.
    tmux.wait_for("bob: earlier message");

    // Bob writes while the chat is open: it appears by itself.
    session(&bob, &["send", "alice", "are", "you", "there?"]);
    tmux.wait_for("bob: are you there?");

    // Alice types a line: it is sent, and the screen says where it is stored.
    tmux.run(&["send-keys", "-t", "chat", "yes, typing in tmux", "Enter"]);
    let screen = tmux.wait_for("you -> bob: yes, typing in tmux");
    assert!(screen.contains("stored on"), "{screen}");
    let synced = session(&bob, &["sync"]);
    assert!(String::from_utf8_lossy(&synced.stdout).contains("yes, typing in tmux"));

    tmux.run(&["send-keys", "-t", "chat", "/quit", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.run(&["has-session", "-t", "chat"]).status.success() {
        assert!(Instant::now() < deadline, "/quit did not end the chat");
        std::thread::sleep(Duration::from_millis(100));
    }
    net.shutdown().await;
}
