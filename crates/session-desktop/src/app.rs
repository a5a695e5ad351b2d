//! The window's state and what each user action or network event does to it. `update` never
//! waits: disk and network work goes out as [`Job`]s (futures the runtime runs) whose results
//! come back as messages.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use iced::widget::text_editor;
use session_client::inert::{neutralise, short_id};
use session_client::onboarding;
use session_client::{
    ClientConfig, ContactLink, Conversation, Delivery, Direction, Messenger, NetworkFile, Profile,
    StoredMessage,
};
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use zeroize::Zeroizing;

use crate::backend::{self, ContactChange, Failure, Health, ProfileState, Snapshot};
use crate::live::LiveEvent;

/// Work handed off by `update`.
pub enum Job {
    /// A future whose output is the next message.
    Run(Pin<Box<dyn Future<Output = Message> + Send>>),
    /// Puts text on the clipboard.
    Copy(String),
    /// Shows a desktop notification (title, body).
    Notify(String, String),
}

impl Job {
    fn run(future: impl Future<Output = Message> + Send + 'static) -> Self {
        Self::Run(Box::pin(future))
    }
}

/// Where the window finds its network.
#[derive(Debug, Clone)]
pub enum NetworkChoice {
    /// A network file (`--network`), or the one the profile saved.
    File(Option<PathBuf>),
    /// The local network started or joined by `--devnet`, with its file.
    Devnet(NetworkFile),
}

/// How the window was started.
#[derive(Clone)]
pub struct Options {
    /// The profile directory.
    pub profile: PathBuf,
    /// The network.
    pub network: NetworkChoice,
    /// Adjusts the client's configuration before it connects (timeouts in tests).
    pub tune: fn(&mut ClientConfig),
}

/// The app.
pub struct App {
    options: Options,
    profile: Option<Profile>,
    screen: Screen,
    /// A sentence for the user (an error or what just happened), until dismissed.
    pub notice: Option<String>,
    /// Whether the dark theme is on.
    pub dark: bool,
    focused: bool,
    /// Whether the account is protected by a passphrase.
    protected: bool,
}

/// What the window shows.
pub enum Screen {
    /// Opening the profile.
    Loading,
    /// The profile cannot be used.
    Broken(String),
    /// Protected account: asks for the passphrase.
    Unlock(Unlock),
    /// No account yet.
    Onboarding(Onboarding),
    /// Connecting to the network.
    Connecting(Arc<Ed25519Seed>),
    /// The network could not be reached; retry.
    Offline(Arc<Ed25519Seed>, String),
    /// Chatting.
    Main(Box<Main>),
}

/// The unlock screen.
#[derive(Default)]
pub struct Unlock {
    /// What is typed.
    pub passphrase: String,
    /// Why the last try failed.
    pub error: Option<String>,
    /// Waiting for the key derivation.
    pub busy: bool,
}

/// The onboarding screens.
#[derive(Default)]
pub struct Onboarding {
    /// Which step.
    pub step: Step,
    /// The display name typed.
    pub name: String,
    /// The passphrase typed (optional).
    pub passphrase: String,
    /// The recovery phrase typed (restore).
    pub phrase: String,
    /// The network file typed (when not given).
    pub network_path: String,
    /// Why the last step failed.
    pub error: Option<String>,
    /// Whether "I have written it down" is ticked.
    pub written_down: bool,
    /// Waiting for the disk.
    pub busy: bool,
}

/// One onboarding step.
#[derive(Default)]
pub enum Step {
    /// Create or restore.
    #[default]
    Choose,
    /// Restore: typing the phrase.
    Restore,
    /// Restore: the Account ID the phrase opens, to confirm.
    ConfirmRestore(Arc<Ed25519Seed>),
    /// Created: the Account ID and the phrase, to write down.
    Created(Arc<Ed25519Seed>),
}

/// The right-hand pane of the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pane {
    /// Nothing open.
    Empty,
    /// A conversation.
    Chat(AccountId),
    /// Starting a conversation.
    NewChat,
    /// Settings.
    Settings,
}

/// The main screen.
pub struct Main {
    /// The messenger.
    pub messenger: Arc<Messenger>,
    /// The account's seed (for the phrase of an unprotected account).
    pub protected: bool,
    /// The user's Account ID.
    pub me: AccountId,
    /// What is open.
    pub pane: Pane,
    /// Conversations, newest first.
    pub conversations: Vec<Conversation>,
    /// The open conversation's messages.
    pub history: Vec<StoredMessage>,
    /// The composer.
    pub composer: text_editor::Content,
    /// The Account ID typed to start a conversation.
    pub new_id: String,
    /// The nickname typed (new conversation, rename).
    pub nickname: String,
    /// The path typed of a PNG image with an Account ID's QR code.
    pub qr_path: String,
    /// Why the last QR image could not be used.
    pub qr_error: Option<String>,
    /// Reading a QR image.
    pub qr_busy: bool,
    /// Whether the open conversation's Account ID and QR code are shown.
    pub show_id: bool,
    /// Whether the rename field is open.
    pub renaming: bool,
    /// The display name typed in settings.
    pub name: String,
    /// The display name saved.
    pub display_name: Option<String>,
    /// The passphrase typed to reveal the phrase.
    pub phrase_passphrase: String,
    /// The phrase, while shown.
    pub phrase: Option<Zeroizing<String>>,
    /// Whether the network answered the last poll; the reason when it did not.
    pub online: Result<(), String>,
    /// The network's health, when last read.
    pub health: Health,
    /// Messages being sent or retried (ids).
    pub in_flight: Vec<i64>,
}

/// Everything that happens to the window.
#[derive(Clone)]
pub enum Message {
    /// The profile was inspected.
    Inspected(Result<ProfileState, Failure>),
    /// The network file for onboarding was read.
    NetworkRead(Result<NetworkFile, Failure>),
    /// The passphrase field changed.
    UnlockInput(String),
    /// Unlock pressed.
    UnlockSubmit,
    /// The account was opened.
    Unlocked(Result<Arc<Ed25519Seed>, Failure>),
    /// An onboarding field changed.
    Field(Field, String),
    /// "Create a new account" pressed.
    CreateNew,
    /// "Restore from a recovery phrase" pressed.
    RestoreStart,
    /// Back to the first onboarding step.
    Back,
    /// The phrase typed is submitted.
    RestoreCheck,
    /// The restored Account ID is the expected one.
    RestoreConfirm,
    /// "I have written it down" ticked or not.
    WrittenDown(bool),
    /// Continue after creating.
    CreatedContinue,
    /// The account was written.
    Created(Result<Arc<Ed25519Seed>, Failure>, bool),
    /// Connected (or not).
    Connected(Result<Arc<Messenger>, Failure>),
    /// Try connecting again.
    Reconnect,
    /// The database was read.
    Loaded(Result<Snapshot, Failure>),
    /// A conversation was clicked.
    Open(AccountId),
    /// The composer was edited.
    Edit(text_editor::Action),
    /// Send pressed (or Enter).
    Send,
    /// A send or retry finished.
    Delivered(Result<Delivery, Failure>, Option<i64>),
    /// Retry pressed on a failed message.
    Retry(i64),
    /// Copy pressed.
    Copy(String),
    /// "New conversation" pressed.
    NewChat,
    /// The Account ID field of a new conversation changed.
    NewId(String),
    /// The QR image path field of a new conversation changed.
    QrPath(String),
    /// "Open QR image" pressed.
    OpenQr,
    /// The QR image was read: the Account ID in it.
    QrRead(Result<AccountId, Failure>),
    /// The nickname field changed.
    Nickname(String),
    /// Start the conversation typed.
    StartChat,
    /// A contact change was asked for.
    Contact(ContactChange),
    /// A contact change finished.
    ContactChanged(Result<String, Failure>, Option<AccountId>),
    /// Accept a request under the nickname given.
    Accept(AccountId, String),
    /// Show or hide the open conversation's Account ID and QR code.
    ToggleId,
    /// Open or close the rename field.
    ToggleRename,
    /// Settings pressed.
    Settings,
    /// The display name field changed.
    NameInput(String),
    /// Save the display name.
    SaveName,
    /// The display name was saved.
    NameSaved(Result<String, Failure>),
    /// The passphrase field of "show phrase" changed.
    PhrasePassphrase(String),
    /// Show the recovery phrase.
    ShowPhrase,
    /// Hide the recovery phrase.
    HidePhrase,
    /// The phrase was read.
    PhraseRead(Result<Zeroizing<String>, Failure>),
    /// Light or dark.
    Dark(bool),
    /// Refresh the health figures.
    RefreshHealth,
    /// A network event.
    Live(LiveEvent),
    /// The window gained or lost focus.
    Focus(bool),
    /// Dismiss the notice.
    Dismiss,
}

/// The onboarding fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Display name.
    Name,
    /// Passphrase.
    Passphrase,
    /// Recovery phrase.
    Phrase,
    /// Network file.
    Network,
}

impl App {
    /// The app for `options`, and its first job (looking at the profile).
    pub fn new(options: Options) -> (Self, Vec<Job>) {
        let mut app = Self {
            options,
            profile: None,
            screen: Screen::Loading,
            notice: None,
            dark: false,
            focused: true,
            protected: false,
        };
        let jobs = match Profile::open(&app.options.profile) {
            Ok(profile) => {
                app.profile = Some(profile.clone());
                vec![Job::run(async move {
                    Message::Inspected(backend::inspect(profile).await)
                })]
            }
            Err(e) => {
                app.screen = Screen::Broken(format!(
                    "cannot use the profile {}: {e}",
                    app.options.profile.display()
                ));
                Vec::new()
            }
        };
        (app, jobs)
    }

    /// What is shown.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The network named at start (`--devnet`), if any.
    pub fn network_choice(&self) -> &NetworkChoice {
        &self.options.network
    }

    /// The messenger, once online.
    pub fn messenger(&self) -> Option<&Arc<Messenger>> {
        match &self.screen {
            Screen::Main(main) => Some(&main.messenger),
            _ => None,
        }
    }

    /// Unread messages in all conversations.
    pub fn unread(&self) -> u64 {
        match &self.screen {
            Screen::Main(main) => main.conversations.iter().map(|c| c.unread).sum(),
            _ => 0,
        }
    }

    /// The window title, with the unread count.
    pub fn title(&self) -> String {
        match self.unread() {
            0 => "Session".into(),
            n => format!("({n}) Session"),
        }
    }

    /// Applies `message`; the work to do next.
    pub fn update(&mut self, message: Message) -> Vec<Job> {
        match message {
            Message::Dismiss => {
                self.notice = None;
                Vec::new()
            }
            Message::Dark(dark) => {
                self.dark = dark;
                Vec::new()
            }
            Message::Focus(focused) => {
                self.focused = focused;
                Vec::new()
            }
            Message::Copy(text) => {
                self.notice = Some("copied".into());
                vec![Job::Copy(text)]
            }
            Message::Inspected(Err(e)) => {
                self.screen = Screen::Broken(e);
                Vec::new()
            }
            Message::Inspected(Ok(state)) => self.inspected(state),
            Message::Unlocked(Ok(seed)) if matches!(self.screen, Screen::Loading) => {
                self.connect(seed)
            }
            Message::Unlocked(Err(e)) if matches!(self.screen, Screen::Loading) => {
                self.screen = Screen::Broken(e);
                Vec::new()
            }
            message => match &mut self.screen {
                Screen::Unlock(_) => self.update_unlock(message),
                Screen::Onboarding(_) => self.update_onboarding(message),
                Screen::Connecting(_) | Screen::Offline(..) => self.update_connecting(message),
                Screen::Main(_) => self.update_main(message),
                Screen::Loading | Screen::Broken(_) => Vec::new(),
            },
        }
    }

    fn profile(&self) -> Option<Profile> {
        self.profile.clone()
    }

    fn inspected(&mut self, state: ProfileState) -> Vec<Job> {
        self.protected = state.protected;
        if !state.has_account {
            let mut onboarding = Onboarding::default();
            if let NetworkChoice::File(Some(path)) = &self.options.network {
                onboarding.network_path = path.display().to_string();
            }
            self.screen = Screen::Onboarding(onboarding);
            return Vec::new();
        }
        if state.protected {
            self.screen = Screen::Unlock(Unlock::default());
            return Vec::new();
        }
        self.unlock(None)
    }

    fn unlock(&mut self, passphrase: Option<Zeroizing<String>>) -> Vec<Job> {
        let Some(profile) = self.profile() else {
            return Vec::new();
        };
        vec![Job::run(async move {
            Message::Unlocked(backend::unlock(profile, passphrase).await)
        })]
    }

    /// The network to join: `--devnet`'s, `--network`'s, or the one the profile saved.
    fn network(&self) -> Job {
        let choice = self.options.network.clone();
        let profile = self.profile();
        Job::run(async move {
            let result = match choice {
                NetworkChoice::Devnet(file) => Ok(file),
                NetworkChoice::File(Some(path)) => backend::read_network(path).await,
                NetworkChoice::File(None) => match profile.map(|p| p.saved_network()) {
                    Some(Ok(Some(file))) => Ok(file),
                    Some(Err(e)) => Err(e.to_string()),
                    _ => Err("no network configured: start with --network FILE (written by `session devnet`) or --devnet".into()),
                },
            };
            Message::NetworkRead(result)
        })
    }

    fn connect(&mut self, seed: Arc<Ed25519Seed>) -> Vec<Job> {
        self.screen = Screen::Connecting(Arc::clone(&seed));
        vec![self.network()]
    }

    fn update_unlock(&mut self, message: Message) -> Vec<Job> {
        let Screen::Unlock(unlock) = &mut self.screen else {
            return Vec::new();
        };
        match message {
            Message::UnlockInput(text) => unlock.passphrase = text,
            Message::UnlockSubmit if !unlock.busy => {
                unlock.busy = true;
                unlock.error = None;
                let passphrase = Zeroizing::new(std::mem::take(&mut unlock.passphrase));
                return self.unlock(Some(passphrase));
            }
            Message::Unlocked(Err(e)) => {
                unlock.busy = false;
                unlock.error = Some(e);
            }
            Message::Unlocked(Ok(seed)) => return self.connect(seed),
            _ => {}
        }
        Vec::new()
    }

    fn update_onboarding(&mut self, message: Message) -> Vec<Job> {
        let devnet = matches!(self.options.network, NetworkChoice::Devnet(_));
        let profile = self.profile();
        let Screen::Onboarding(o) = &mut self.screen else {
            return Vec::new();
        };
        match message {
            Message::Field(field, value) => {
                match field {
                    Field::Name => o.name = value,
                    Field::Passphrase => o.passphrase = value,
                    Field::Phrase => o.phrase = value,
                    Field::Network => o.network_path = value,
                }
                o.error = None;
            }
            Message::Back => {
                o.step = Step::Choose;
                o.error = None;
            }
            Message::RestoreStart => {
                o.step = Step::Restore;
                o.error = None;
            }
            Message::RestoreCheck => match onboarding::seed_from_phrase(&o.phrase) {
                Ok(seed) => {
                    o.phrase.clear();
                    o.step = Step::ConfirmRestore(Arc::new(seed));
                }
                Err(e) => o.error = Some(e),
            },
            Message::CreateNew => {
                if let Err(e) = check_name(&o.name) {
                    o.error = Some(e);
                    return Vec::new();
                }
                let seed = Arc::new(Ed25519Seed::generate(&mut OsRng));
                return start_create(
                    o,
                    profile,
                    seed,
                    devnet,
                    false,
                    self.options.network.clone(),
                );
            }
            Message::RestoreConfirm => {
                if let Step::ConfirmRestore(seed) = &o.step {
                    let seed = Arc::clone(seed);
                    return start_create(
                        o,
                        profile,
                        seed,
                        devnet,
                        true,
                        self.options.network.clone(),
                    );
                }
            }
            Message::Created(Err(e), _) => {
                o.busy = false;
                o.error = Some(e);
            }
            Message::Created(Ok(seed), restored) => {
                o.busy = false;
                self.protected = !o.passphrase.is_empty();
                o.passphrase.clear();
                if restored {
                    return self.connect(seed);
                }
                o.step = Step::Created(seed);
            }
            Message::WrittenDown(done) => o.written_down = done,
            Message::CreatedContinue if o.written_down => {
                if let Step::Created(seed) = &o.step {
                    let seed = Arc::clone(seed);
                    return self.connect(seed);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn update_connecting(&mut self, message: Message) -> Vec<Job> {
        let seed = match &self.screen {
            Screen::Connecting(seed) | Screen::Offline(seed, _) => Arc::clone(seed),
            _ => return Vec::new(),
        };
        match message {
            Message::NetworkRead(Ok(network)) => {
                let Some(profile) = self.profile() else {
                    return Vec::new();
                };
                let tune = self.options.tune;
                vec![Job::run(async move {
                    Message::Connected(backend::connect(profile, seed, network, tune).await)
                })]
            }
            Message::NetworkRead(Err(e)) | Message::Connected(Err(e)) => {
                self.screen = Screen::Offline(seed, e);
                Vec::new()
            }
            Message::Reconnect => self.connect(seed),
            Message::Connected(Ok(messenger)) => {
                let protected = self.protected;
                let me = messenger.account_id();
                let health = backend::health(&messenger);
                self.screen = Screen::Main(Box::new(Main {
                    messenger,
                    protected,
                    me,
                    pane: Pane::Empty,
                    conversations: Vec::new(),
                    history: Vec::new(),
                    composer: text_editor::Content::new(),
                    new_id: String::new(),
                    nickname: String::new(),
                    qr_path: String::new(),
                    qr_error: None,
                    qr_busy: false,
                    show_id: false,
                    renaming: false,
                    name: String::new(),
                    display_name: None,
                    phrase_passphrase: String::new(),
                    phrase: None,
                    online: Ok(()),
                    health,
                    in_flight: Vec::new(),
                }));
                self.reload()
            }
            _ => Vec::new(),
        }
    }

    /// Reads the database again.
    fn reload(&self) -> Vec<Job> {
        self.reload_after(Duration::ZERO)
    }

    /// Reads the database again after `delay`.
    fn reload_after(&self, delay: Duration) -> Vec<Job> {
        let Screen::Main(main) = &self.screen else {
            return Vec::new();
        };
        let messenger = Arc::clone(&main.messenger);
        let open = match &main.pane {
            Pane::Chat(peer) => Some(*peer),
            _ => None,
        };
        vec![Job::run(async move {
            if !delay.is_zero() {
                backend::pause(delay).await;
            }
            Message::Loaded(backend::snapshot(messenger, open).await)
        })]
    }

    fn update_main(&mut self, message: Message) -> Vec<Job> {
        let focused = self.focused;
        let Screen::Main(main) = &mut self.screen else {
            return Vec::new();
        };
        let messenger = Arc::clone(&main.messenger);
        match message {
            Message::Loaded(Ok(snapshot)) => {
                main.conversations = snapshot.conversations;
                main.history = snapshot.history;
                if main.display_name.is_none() {
                    main.name = snapshot.display_name.clone().unwrap_or_default();
                }
                main.display_name = snapshot.display_name;
                return Vec::new();
            }
            Message::Loaded(Err(e)) => {
                self.notice = Some(e);
                return Vec::new();
            }
            Message::Open(peer) => {
                main.pane = Pane::Chat(peer);
                main.show_id = false;
                main.renaming = false;
                main.nickname.clear();
            }
            Message::Edit(action) => {
                main.composer.perform(action);
                return Vec::new();
            }
            Message::Send => {
                let Pane::Chat(peer) = &main.pane else {
                    return Vec::new();
                };
                let text = main.composer.text();
                let text = text.trim_end_matches('\n').to_owned();
                if text.trim().is_empty() {
                    return Vec::new();
                }
                main.composer = text_editor::Content::new();
                let peer = *peer;
                let mut jobs = vec![Job::run(async move {
                    Message::Delivered(backend::send(messenger, peer, text).await, None)
                })];
                jobs.extend(self.reload_after(Duration::from_millis(50)));
                return jobs;
            }
            Message::Retry(id) => {
                if main.in_flight.contains(&id) {
                    return Vec::new();
                }
                main.in_flight.push(id);
                return vec![Job::run(async move {
                    Message::Delivered(backend::retry(messenger, id).await, Some(id))
                })];
            }
            Message::Delivered(result, retried) => {
                if let Some(id) = retried {
                    main.in_flight.retain(|&i| i != id);
                }
                if let Err(e) = result {
                    self.notice = Some(e);
                }
            }
            Message::NewChat => {
                main.pane = Pane::NewChat;
                main.new_id.clear();
                main.nickname.clear();
                main.qr_path.clear();
                main.qr_error = None;
                return Vec::new();
            }
            Message::NewId(text) => {
                main.new_id = text;
                return Vec::new();
            }
            Message::QrPath(text) => {
                main.qr_path = text;
                main.qr_error = None;
                return Vec::new();
            }
            Message::OpenQr => {
                let path = main.qr_path.trim();
                if main.qr_busy {
                    return Vec::new();
                }
                if path.is_empty() {
                    main.qr_error = Some(
                        "type the path of a PNG image with the QR code of an Account ID".into(),
                    );
                    return Vec::new();
                }
                main.qr_busy = true;
                main.qr_error = None;
                let path = PathBuf::from(path);
                return vec![Job::run(async move {
                    Message::QrRead(backend::read_qr(path).await)
                })];
            }
            Message::QrRead(result) => {
                main.qr_busy = false;
                if main.pane == Pane::NewChat {
                    match result {
                        Ok(id) => main.new_id = id.to_string(),
                        Err(e) => main.qr_error = Some(e),
                    }
                }
                return Vec::new();
            }
            Message::Nickname(text) => {
                main.nickname = text;
                return Vec::new();
            }
            Message::StartChat => {
                let id = match ContactLink::parse(&main.new_id).map(|l| l.account_id) {
                    Ok(id) => id,
                    Err(e) => {
                        self.notice = Some(e.to_string());
                        return Vec::new();
                    }
                };
                if id == main.me {
                    self.notice = Some("this is your own Account ID".into());
                    return Vec::new();
                }
                let nickname = main.nickname.trim().to_owned();
                main.pane = Pane::Chat(id);
                main.new_id.clear();
                main.nickname.clear();
                if nickname.is_empty() {
                    return self.reload();
                }
                return self.change(ContactChange::Name(id, nickname), Some(id));
            }
            Message::Accept(peer, nickname) => {
                let nickname = if nickname.trim().is_empty() {
                    short_id(&peer)
                } else {
                    nickname
                };
                return self.change(ContactChange::Name(peer, nickname), Some(peer));
            }
            Message::Contact(change) => {
                let open = match &change {
                    ContactChange::Name(id, _) | ContactChange::Remove(id) => Some(*id),
                    ContactChange::Decline(_) | ContactChange::Block(_) => {
                        main.pane = Pane::Empty;
                        None
                    }
                };
                main.renaming = false;
                return self.change(change, open);
            }
            Message::ContactChanged(result, open) => {
                self.notice = Some(result.unwrap_or_else(|e| e));
                if let Some(peer) = open {
                    main.pane = Pane::Chat(peer);
                }
                main.nickname.clear();
            }
            Message::ToggleId => {
                main.show_id = !main.show_id;
                return Vec::new();
            }
            Message::ToggleRename => {
                main.renaming = !main.renaming;
                main.nickname.clear();
                return Vec::new();
            }
            Message::Settings => {
                main.pane = Pane::Settings;
                main.health = backend::health(&messenger);
                return Vec::new();
            }
            Message::NameInput(text) => {
                main.name = text;
                return Vec::new();
            }
            Message::SaveName => {
                let name = main.name.clone();
                return vec![Job::run(async move {
                    Message::NameSaved(backend::set_name(messenger, name).await)
                })];
            }
            Message::NameSaved(result) => {
                self.notice = Some(match result {
                    Ok(name) => {
                        main.display_name = Some(name.clone());
                        main.name = name.clone();
                        format!("Your name is now {name:?}: it is sent with your next messages.")
                    }
                    Err(e) => e,
                });
                return Vec::new();
            }
            Message::PhrasePassphrase(text) => {
                main.phrase_passphrase = text;
                return Vec::new();
            }
            Message::ShowPhrase => {
                let Some(profile) = self.profile.clone() else {
                    return Vec::new();
                };
                let passphrase = main
                    .protected
                    .then(|| Zeroizing::new(std::mem::take(&mut main.phrase_passphrase)));
                return vec![Job::run(async move {
                    Message::PhraseRead(backend::phrase(profile, passphrase).await)
                })];
            }
            Message::PhraseRead(Ok(phrase)) => {
                main.phrase = Some(phrase);
                return Vec::new();
            }
            Message::PhraseRead(Err(e)) => {
                self.notice = Some(e);
                return Vec::new();
            }
            Message::HidePhrase => {
                main.phrase = None;
                return Vec::new();
            }
            Message::RefreshHealth => {
                main.health = backend::health(&messenger);
                return Vec::new();
            }
            Message::Live(LiveEvent::Online) => {
                main.online = Ok(());
                main.health = backend::health(&messenger);
                return Vec::new();
            }
            Message::Live(LiveEvent::Offline(reason)) => {
                main.online = Err(reason);
                return Vec::new();
            }
            Message::Live(LiveEvent::Received(messages)) => {
                let mut jobs = Vec::new();
                if !focused {
                    if let Some(last) = messages
                        .iter()
                        .rev()
                        .find(|m| m.direction == Direction::Incoming)
                    {
                        jobs.push(Job::Notify(
                            format!(
                                "New message from {}",
                                sender_label(&main.conversations, last)
                            ),
                            session_client::inert::preview(&last.text),
                        ));
                    }
                }
                jobs.extend(self.reload());
                return jobs;
            }
            _ => return Vec::new(),
        }
        self.reload()
    }

    fn change(&self, change: ContactChange, open: Option<AccountId>) -> Vec<Job> {
        let Some(messenger) = self.messenger().cloned() else {
            return Vec::new();
        };
        vec![Job::run(async move {
            Message::ContactChanged(backend::change_contact(messenger, change).await, open)
        })]
    }
}

/// The name of a message's sender as the list shows it (no Account ID: notifications are seen
/// by anyone near the screen).
fn sender_label(conversations: &[Conversation], message: &StoredMessage) -> String {
    let conversation = conversations.iter().find(|c| c.peer == message.peer);
    match (
        conversation.and_then(|c| c.nickname.clone()),
        &message.display_name,
    ) {
        (Some(nickname), _) => nickname,
        (None, Some(name)) => neutralise(&name.chars().take(64).collect::<String>()),
        (None, None) => "someone new".into(),
    }
}

/// Checks an optional display name.
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Ok(());
    }
    onboarding::checked_name(name)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Writes the account (after the network is known), then reports `Created`.
fn start_create(
    o: &mut Onboarding,
    profile: Option<Profile>,
    seed: Arc<Ed25519Seed>,
    devnet: bool,
    restored: bool,
    choice: NetworkChoice,
) -> Vec<Job> {
    let Some(profile) = profile else {
        return Vec::new();
    };
    if !devnet && o.network_path.trim().is_empty() {
        o.error = Some(
            "choose a network: the path of a network.json (written by `session devnet`), or start with --devnet"
                .into(),
        );
        return Vec::new();
    }
    o.busy = true;
    o.error = None;
    let name = (!o.name.trim().is_empty()).then(|| o.name.trim().to_owned());
    let passphrase = (!o.passphrase.is_empty()).then(|| Zeroizing::new(o.passphrase.clone()));
    let path = PathBuf::from(o.network_path.trim());
    vec![Job::run(async move {
        let network = match choice {
            NetworkChoice::Devnet(file) => Ok(file),
            NetworkChoice::File(_) => backend::read_network(path).await,
        };
        let result = match network {
            Ok(network) => backend::create(profile, Arc::clone(&seed), name, passphrase, network)
                .await
                .map(|()| seed),
            Err(e) => Err(e),
        };
        Message::Created(result, restored)
    })]
}
