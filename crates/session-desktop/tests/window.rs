//! The real app (its view, its updates, the jobs the window runs) driven through `iced_test`'s
//! simulator against a local network of real node processes: onboarding, sending (to an Account
//! ID pasted or opened from a QR image), receiving while the window is open, message requests, a
//! failed send retried, hostile text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iced::futures::StreamExt as _;
use iced::keyboard::key::Named;
use iced::widget::Id;
use iced_test::selector::Candidate;
use iced_test::simulator;
use session_client::{ClientConfig, KdfParams, Profile};
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use session_desktop::app::{App, Job, Message, NetworkChoice, Options, Screen, Step};
use session_desktop::live::{self, LiveEvent};
use session_desktop::view::{delivery_text, view};
use session_swarm::SwarmConfig;
use session_testnet::{NodeRunner, Testnet, TestnetConfig};

/// Long enough for a loaded 2-core machine, short enough to fail a test that hangs.
const PATIENCE: Duration = Duration::from_secs(60);

/// Nodes as child processes of this crate's binary (`session-desktop node ...`).
async fn network(nodes: usize) -> Testnet {
    Testnet::start(TestnetConfig {
        nodes,
        swarm: SwarmConfig::new(3, 4, 6).unwrap(),
        runner: NodeRunner::Process {
            program: env!("CARGO_BIN_EXE_session-desktop").into(),
            args: vec!["node".into()],
        },
        ..TestnetConfig::default()
    })
    .await
    .unwrap()
}

fn quick(config: &mut ClientConfig) {
    config.timeout = Duration::from_secs(3);
}

/// One window: the app, the jobs it handed off, and what it put on the clipboard.
struct Window {
    app: App,
    jobs: VecDeque<Job>,
    copied: Option<String>,
}

impl Window {
    fn open(profile: &Path, network: NetworkChoice) -> Self {
        let (app, jobs) = App::new(Options {
            profile: profile.to_path_buf(),
            network,
            tune: quick,
        });
        Self {
            app,
            jobs: jobs.into(),
            copied: None,
        }
    }

    fn dispatch(&mut self, messages: Vec<Message>) {
        for message in messages {
            let jobs = self.app.update(message);
            self.jobs.extend(jobs);
        }
    }

    /// Runs every job handed off (and those their results hand off) to the end.
    async fn settle(&mut self) {
        while let Some(job) = self.jobs.pop_front() {
            match job {
                Job::Run(future) => {
                    let message = tokio::time::timeout(PATIENCE, future).await.unwrap();
                    self.dispatch(vec![message]);
                }
                Job::Copy(text) => self.copied = Some(text),
                Job::Notify(..) => {}
            }
        }
    }

    /// Clicks the widget showing `label`, then runs what it started.
    async fn click(&mut self, label: &str) {
        let mut ui = simulator(view(&self.app));
        ui.click(label)
            .unwrap_or_else(|e| panic!("cannot click {label:?}: {e}"));
        let messages: Vec<Message> = ui.into_messages().collect();
        self.dispatch(messages);
        self.settle().await;
    }

    /// Clicks the field with `id`, selects what it holds (Ctrl+A) and types `text` over it.
    async fn type_into(&mut self, id: &'static str, text: &str) {
        use iced::keyboard::{Event as Key, Modifiers};
        let mut ui = simulator(view(&self.app));
        ui.click(Id::new(id))
            .unwrap_or_else(|e| panic!("no field {id}: {e}"));
        let _ = ui.simulate([iced::Event::Keyboard(Key::ModifiersChanged(
            Modifiers::CTRL,
        ))]);
        let _ = ui.simulate(iced_test::simulator::tap_key(
            iced::keyboard::Key::Character("a".into()),
            None,
        ));
        let _ = ui.simulate([iced::Event::Keyboard(Key::ModifiersChanged(
            Modifiers::empty(),
        ))]);
        let _ = ui.typewrite(text);
        let messages: Vec<Message> = ui.into_messages().collect();
        self.dispatch(messages);
        self.settle().await;
    }

    /// Writes `text` in the composer key by key and presses Enter.
    async fn write_and_enter(&mut self, text: &str) {
        let mut ui = simulator(view(&self.app));
        ui.click(Id::new("composer")).unwrap();
        let _ = ui.typewrite(text);
        let _ = ui.tap_key(Named::Enter);
        let messages: Vec<Message> = ui.into_messages().collect();
        self.dispatch(messages);
        self.settle().await;
    }

    fn shows(&self, text: &str) -> bool {
        simulator(view(&self.app)).find(text).is_ok()
    }

    /// Whether some text of the window contains `part`.
    fn shows_part(&self, part: &str) -> bool {
        let part = part.to_owned();
        simulator(view(&self.app))
            .find(move |candidate: Candidate<'_>| match candidate {
                Candidate::Text { content, .. } if content.contains(&part) => Some(()),
                _ => None,
            })
            .is_ok()
    }

    /// Waits until the window shows `text`, re-reading the database as the window does.
    async fn until_shown(&mut self, text: &str) {
        let start = Instant::now();
        while !self.shows(text) {
            assert!(
                start.elapsed() < PATIENCE,
                "the window never showed {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
            self.settle().await;
        }
    }

    fn messenger(&self) -> Arc<session_client::Messenger> {
        Arc::clone(self.app.messenger().expect("online"))
    }

    fn me(&self) -> AccountId {
        self.messenger().account_id()
    }
}

/// A profile with an account on `net`, as onboarding leaves it.
fn account(dir: &Path, net: &Testnet) -> Ed25519Seed {
    let profile = Profile::open(dir).unwrap();
    let seed = Ed25519Seed::generate(&mut OsRng);
    profile
        .account()
        .create(&seed, None, KdfParams::DEFAULT)
        .unwrap();
    profile.save_network(&net.network_file()).unwrap();
    seed
}

/// Opens the window of an existing profile and waits until it is online.
async fn online(dir: &Path) -> Window {
    let mut window = Window::open(dir, NetworkChoice::File(None));
    window.settle().await;
    match window.app.screen() {
        Screen::Main(_) => {}
        Screen::Offline(_, reason) => panic!("offline: {reason}"),
        Screen::Broken(reason) => panic!("broken: {reason}"),
        _ => panic!("not online: {:?}", window.app.notice),
    }
    window
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_creates_and_restores_accounts() {
    let net = network(6).await;
    let dirs = tempfile::tempdir().unwrap();
    let network_file = dirs.path().join("network.json");
    std::fs::write(&network_file, net.network_file().to_json()).unwrap();

    // Create: name, the phrase to write down, Continue only once it is.
    let mut alice = Window::open(
        &dirs.path().join("alice"),
        NetworkChoice::File(Some(network_file.clone())),
    );
    alice.settle().await;
    assert!(alice.shows("Welcome to Session"));
    alice.type_into("name", "Alice").await;
    alice.click("Create a new account").await;
    assert!(alice.shows("Your account is ready"));
    let Screen::Onboarding(onboarding) = alice.app.screen() else {
        panic!("not onboarding")
    };
    let Step::Created(seed) = &onboarding.step else {
        panic!("not created")
    };
    let phrase = seed.to_phrase().as_str().to_owned();
    let id = seed.key_pair().account_id();
    assert!(alice.shows(&id.to_string()));
    assert!(alice.shows(&phrase));
    alice.click("Continue").await;
    assert!(
        alice.shows("Your account is ready"),
        "Continue waits for the tick"
    );
    alice.click("I have written it down").await;
    alice.click("Continue").await;
    assert!(
        matches!(alice.app.screen(), Screen::Main(_)),
        "{:?}",
        alice.app.notice
    );
    alice.until_shown("Alice").await;

    // The CLI opens the same profile.
    let profile = Profile::open(dirs.path().join("alice")).unwrap();
    assert_eq!(profile.account().load(None).unwrap().account_id(), id);

    // Restore: a swapped pair of words is named; the right phrase shows the Account ID first.
    let mut restored = Window::open(
        &dirs.path().join("restored"),
        NetworkChoice::File(Some(network_file)),
    );
    restored.settle().await;
    restored.click("Restore from a recovery phrase").await;
    let mut words: Vec<&str> = phrase.split_whitespace().collect();
    if words[3] != words[4] {
        words.swap(3, 4);
        restored.type_into("phrase", &words.join(" ")).await;
        restored.click("Check the phrase").await;
        let Screen::Onboarding(o) = restored.app.screen() else {
            panic!("left onboarding")
        };
        let error = o.error.clone().unwrap_or_default();
        assert!(
            error.starts_with("the recovery phrase is not valid"),
            "{error}"
        );
        assert!(error.contains("4 and 5"), "{error}");
        assert!(restored.shows(&error));
        words.swap(3, 4);
    }
    restored.type_into("phrase", &words.join(" ")).await;
    restored.click("Check the phrase").await;
    assert!(restored.shows("This phrase opens the account:"));
    assert!(restored.shows(&id.to_string()));
    restored.click("Yes, restore it").await;
    assert!(
        matches!(restored.app.screen(), Screen::Main(_)),
        "{:?}",
        restored.app.notice
    );
    assert_eq!(restored.me(), id);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_windows_chat_through_the_network() {
    let mut net = network(8).await;
    let dirs = tempfile::tempdir().unwrap();
    let (alice_dir, bob_dir) = (dirs.path().join("alice"), dirs.path().join("bob"));
    account(&alice_dir, &net);
    account(&bob_dir, &net);
    let mut alice = online(&alice_dir).await;
    let mut bob = online(&bob_dir).await;
    let alice_id = alice.me().to_string();

    // Bob pastes Alice's Account ID: checked as he types, with the CLI's errors.
    bob.click("New conversation").await;
    bob.type_into("new-id", &alice_id[2..]).await;
    assert!(bob.shows(&session_client::StoreError::MissingPrefix.to_string()));
    bob.type_into("new-id", &alice_id).await;
    assert!(bob.shows("✓ a valid Account ID"));

    // Or opens an image of her QR code: a missing file is named, the image fills the field.
    bob.type_into("new-id", &alice_id[2..]).await;
    let missing = dirs.path().join("missing.png");
    bob.type_into("qr-path", &missing.display().to_string())
        .await;
    bob.click("Open QR image").await;
    assert!(bob.shows(&format!("there is no file {}", missing.display())));
    let image = dirs.path().join("alice.png");
    write_qr_png(&alice_id, &image);
    bob.type_into("qr-path", &image.display().to_string()).await;
    bob.click("Open QR image").await;
    assert!(bob.shows("✓ a valid Account ID"));
    let Screen::Main(main) = bob.app.screen() else {
        panic!("not online")
    };
    assert_eq!(main.new_id, alice_id);
    bob.click("Start the conversation").await;
    bob.write_and_enter("hello alice").await;
    bob.until_shown("hello alice").await;
    let start = Instant::now();
    loop {
        if bob_states(&bob).iter().any(|s| s.starts_with("stored on ")) {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "never stored: {:?}",
            bob_states(&bob)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        bob.dispatch(vec![Message::Open(alice.me())]);
        bob.settle().await;
    }
    let state = bob_states(&bob)
        .into_iter()
        .find(|s| s.starts_with("stored on "))
        .unwrap();
    assert!(bob.shows(&state), "{state}");

    // Alice's window gets it with no action of hers: a message request.
    let mut events = live::stream(&alice.messenger()).boxed();
    let start = Instant::now();
    while !alice.shows("Message requests") {
        assert!(start.elapsed() < PATIENCE, "no request arrived");
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .unwrap()
            .unwrap();
        alice.dispatch(vec![Message::Live(event)]);
        alice.settle().await;
    }
    assert_eq!(alice.app.title(), "(1) Session");
    assert!(alice.shows_part("\"hello alice\""));
    alice.click("Accept").await;
    assert!(!alice.shows("Message requests"));

    // Hostile text (sent as a hostile client would: the composer drops control characters)
    // arrives inert.
    let hostile = "\u{1b}[31mred\u{202e}evil\u{7}";
    bob.messenger().send(&alice.me(), hostile).await.unwrap();
    let start = Instant::now();
    loop {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .unwrap()
            .unwrap();
        let got =
            matches!(&event, LiveEvent::Received(m) if m.iter().any(|m| m.text.contains("red")));
        alice.dispatch(vec![Message::Live(event)]);
        alice.settle().await;
        if got {
            break;
        }
        assert!(start.elapsed() < PATIENCE);
    }
    alice.dispatch(vec![Message::Open(bob.me())]);
    alice.settle().await;
    assert!(alice.shows("^[[31mred<U+202E>evil^G"));
    assert!(!alice.shows(hostile));

    // A send that fails (Alice's swarm is down) shows why, and Retry sends it once it is back.
    let members = net.swarm_members_for(alice.me().x25519().as_bytes());
    for &member in &members {
        net.stop(member).await.unwrap();
    }
    bob.write_and_enter("are you there").await;
    let failed = bob_states(&bob);
    let failure = failed.iter().find(|s| s.starts_with("failed: ")).cloned();
    let failure = failure.unwrap_or_else(|| panic!("no failure shown: {failed:?}"));
    assert!(bob.shows(&failure));
    for &member in &members {
        net.restart(member).await.unwrap();
    }
    bob.click("Retry").await;
    assert!(
        !bob_states(&bob).iter().any(|s| s.starts_with("failed: ")),
        "{:?}",
        bob_states(&bob)
    );
    net.shutdown().await;
}

/// Writes `text`'s QR code as a greyscale PNG (8 pixels a module, a quiet zone of 4).
fn write_qr_png(text: &str, path: &Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let width = code.width();
    let modules = code.to_colors();
    let side = (width + 8) * 8;
    let mut pixels = vec![255u8; side * side];
    for (i, module) in modules.iter().enumerate() {
        if *module == qrcode::Color::Dark {
            let (mx, my) = (i % width + 4, i / width + 4);
            for y in my * 8..(my + 1) * 8 {
                pixels[y * side + mx * 8..y * side + (mx + 1) * 8].fill(0);
            }
        }
    }
    let file = std::fs::File::create(path).unwrap();
    let side = u32::try_from(side).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
}

/// The delivery states of the open conversation, as the view words them.
fn bob_states(window: &Window) -> Vec<String> {
    let Screen::Main(main) = window.app.screen() else {
        return Vec::new();
    };
    main.history
        .iter()
        .filter_map(|m| delivery_text(&m.state))
        .collect()
}
