//! What the window draws. Text from the network goes through `inert` (control and bidi
//! characters shown as escapes) and into plain text widgets, which interpret no markup.

use iced::keyboard::key::Named;
use iced::keyboard::Key;
use iced::widget::{
    button, checkbox, column, container, row, rule, scrollable, space, text, text_editor,
    text_input, Column,
};
use iced::{Center, Element, Fill, Font};
use session_client::inert::{clock_time, lines, neutralise, preview, short_id};
use session_client::{ContactLink, Conversation, Direction, MessageState, StoredMessage};
use session_crypto::AccountId;

use crate::app::{
    App, Field, Main, Message, NetworkChoice, Onboarding, Pane, Screen, Step, Unlock,
};
use crate::backend::ContactChange;
use crate::qr;

/// Text size of secondary lines.
const SMALL: f32 = 13.0;

/// The whole window.
pub fn view(app: &App) -> Element<'_, Message> {
    let body: Element<'_, Message> = match app.screen() {
        Screen::Loading => centered(text("Opening your profile…").into()),
        Screen::Broken(reason) => centered(
            column![
                text("This profile cannot be opened").size(22),
                text(reason.as_str())
            ]
            .spacing(12)
            .into(),
        ),
        Screen::Unlock(unlock) => unlock_view(unlock),
        Screen::Onboarding(o) => onboarding_view(o, app.network_choice()),
        Screen::Connecting(_) => centered(text("Connecting to the network…").into()),
        Screen::Offline(_, reason) => centered(
            column![
                text("The network cannot be reached").size(22),
                text(reason.as_str()),
                button("Try again").on_press(Message::Reconnect),
            ]
            .spacing(12)
            .into(),
        ),
        Screen::Main(main) => main_view(main),
    };
    let mut page = Column::new();
    if let Some(notice) = &app.notice {
        page = page.push(
            container(
                row![
                    text(notice.as_str()).width(Fill),
                    button("Dismiss").on_press(Message::Dismiss)
                ]
                .spacing(12)
                .align_y(Center),
            )
            .padding(8)
            .style(container::rounded_box),
        );
    }
    page.push(body).into()
}

fn centered(content: Element<'_, Message>) -> Element<'_, Message> {
    container(container(content).max_width(640))
        .center_x(Fill)
        .center_y(Fill)
        .padding(24)
        .into()
}

fn error_line(error: &Option<String>) -> Element<'_, Message> {
    match error {
        Some(e) => text(e.as_str())
            .style(|theme: &iced::Theme| text::Style {
                color: Some(theme.palette().danger),
            })
            .into(),
        None => space().into(),
    }
}

fn unlock_view(unlock: &Unlock) -> Element<'_, Message> {
    let submit = (!unlock.busy).then_some(Message::UnlockSubmit);
    centered(
        column![
            text("Unlock your account").size(24),
            text("This account is protected by a passphrase."),
            text_input("Passphrase", &unlock.passphrase)
                .secure(true)
                .on_input(Message::UnlockInput)
                .on_submit_maybe(submit.clone()),
            button(if unlock.busy {
                "Unlocking…"
            } else {
                "Unlock"
            })
            .on_press_maybe(submit),
            error_line(&unlock.error),
        ]
        .spacing(12)
        .into(),
    )
}

fn onboarding_view<'a>(o: &'a Onboarding, network: &'a NetworkChoice) -> Element<'a, Message> {
    let content: Element<'a, Message> = match &o.step {
        Step::Choose => {
            let network_field: Element<'a, Message> = match network {
                NetworkChoice::Devnet(_) => {
                    text("Network: the local test network (--devnet)").into()
                }
                NetworkChoice::File(_) => column![
                    text("Network file (network.json, written by `session devnet`)"),
                    text_input("/path/to/network.json", &o.network_path)
                        .on_input(|v| Message::Field(Field::Network, v)),
                ]
                .spacing(4)
                .into(),
            };
            let busy = o.busy;
            column![
                text("Welcome to Session").size(28),
                text("A private messenger: no phone number, no e-mail. Your account is a key on this computer."),
                text("Your name (optional, shown to the people you write to)"),
                text_input("Name", &o.name)
                    .id("name")
                    .on_input(|v| Message::Field(Field::Name, v)),
                text("Passphrase (optional: protects the account on this computer)"),
                text_input("Passphrase", &o.passphrase)
                    .secure(true)
                    .on_input(|v| Message::Field(Field::Passphrase, v)),
                network_field,
                row![
                    button("Create a new account").on_press_maybe((!busy).then_some(Message::CreateNew)),
                    button("Restore from a recovery phrase").on_press_maybe((!busy).then_some(Message::RestoreStart)),
                ]
                .spacing(12),
                error_line(&o.error),
            ]
            .spacing(10)
            .into()
        }
        Step::Restore => column![
            text("Restore your account").size(24),
            text("Type your recovery phrase (25 words, or 13 for a legacy Session account)."),
            text_input("Recovery phrase", &o.phrase)
                .id("phrase")
                .on_input(|v| Message::Field(Field::Phrase, v))
                .on_submit(Message::RestoreCheck),
            row![
                button("Back").on_press(Message::Back),
                button("Check the phrase").on_press(Message::RestoreCheck),
            ]
            .spacing(12),
            error_line(&o.error),
        ]
        .spacing(10)
        .into(),
        Step::ConfirmRestore(seed) => {
            let kind = if seed.is_legacy() {
                " (a legacy 13-word Session phrase)"
            } else {
                ""
            };
            column![
                text(format!("This phrase opens the account{kind}:")).size(20),
                text(seed.key_pair().account_id().to_string()).font(Font::MONOSPACE),
                text("Is this the Account ID you expected? A phrase with a wrong word can still pass the checksum and open another, empty account."),
                row![
                    button("No, go back").on_press(Message::Back),
                    button("Yes, restore it").on_press_maybe((!o.busy).then_some(Message::RestoreConfirm)),
                ]
                .spacing(12),
                error_line(&o.error),
            ]
            .spacing(10)
            .into()
        }
        Step::Created(seed) => {
            let id = seed.key_pair().account_id();
            let phrase = seed.to_phrase();
            column![
                text("Your account is ready").size(24),
                text("Your Account ID (share it with the people you talk to):"),
                text(id.to_string()).font(Font::MONOSPACE),
                qr::view(&id.to_string()),
                text("Your recovery phrase. Write it down and keep it safe: it is the only way to restore this account."),
                container(text(phrase.as_str().to_owned()).font(Font::MONOSPACE))
                    .padding(10)
                    .style(container::rounded_box),
                checkbox(o.written_down)
                    .label("I have written it down")
                    .on_toggle(Message::WrittenDown),
                button("Continue").on_press_maybe(o.written_down.then_some(Message::CreatedContinue)),
            ]
            .spacing(10)
            .into()
        }
    };
    centered(scrollable(content).into())
}

fn main_view(main: &Main) -> Element<'_, Message> {
    let pane: Element<'_, Message> = match &main.pane {
        Pane::Empty => centered(text("Choose a conversation, or start a new one.").into()),
        Pane::Chat(peer) => chat_view(main, peer),
        Pane::NewChat => new_chat_view(main),
        Pane::Settings => settings_view(main),
    };
    row![
        container(sidebar(main)).width(320).height(Fill),
        rule::vertical(1),
        container(pane).width(Fill).height(Fill),
    ]
    .into()
}

/// A conversation's name: the contact's nickname, else the name they sent (marked as such),
/// else a shortened Account ID.
fn conversation_label(c: &Conversation) -> String {
    match (&c.nickname, &c.display_name) {
        (Some(nickname), _) => nickname.clone(),
        (None, Some(name)) => format!(
            "{} ({})",
            neutralise(&name.chars().take(64).collect::<String>()),
            short_id(&c.peer)
        ),
        (None, None) => short_id(&c.peer),
    }
}

fn sidebar(main: &Main) -> Element<'_, Message> {
    let mut list = Column::new().spacing(4);
    for c in main.conversations.iter().filter(|c| !c.is_request) {
        let unread: Element<'_, Message> = if c.unread > 0 {
            container(text(format!("{} unread", c.unread)).size(SMALL))
                .padding([2, 6])
                .style(container::primary)
                .into()
        } else {
            space().into()
        };
        let who = if c.last_outgoing { "you: " } else { "" };
        let selected = main.pane == Pane::Chat(c.peer);
        list = list.push(
            button(
                column![
                    row![
                        text(conversation_label(c)).width(Fill),
                        text(clock_time(c.last_ms)).size(SMALL)
                    ],
                    row![
                        text(format!("{who}{}", preview(&c.last_text)))
                            .size(SMALL)
                            .width(Fill),
                        unread
                    ],
                ]
                .spacing(2),
            )
            .width(Fill)
            .style(if selected {
                button::primary
            } else {
                button::text
            })
            .on_press(Message::Open(c.peer)),
        );
    }
    let requests: Vec<&Conversation> = main.conversations.iter().filter(|c| c.is_request).collect();
    if !requests.is_empty() {
        list = list.push(text("Message requests").size(18));
        list = list.push(text("People who are not your contacts.").size(SMALL));
        for c in requests {
            let nickname = c
                .display_name
                .as_deref()
                .map(|n| neutralise(&n.chars().take(64).collect::<String>()))
                .unwrap_or_default();
            list = list.push(
                container(
                    column![
                        button(column![
                            text(conversation_label(c)),
                            text(format!(
                                "{} message(s), {} unread, last {}  {}",
                                c.messages,
                                c.unread,
                                clock_time(c.last_ms),
                                preview(&c.last_text)
                            ))
                            .size(SMALL),
                        ])
                        .width(Fill)
                        .style(button::text)
                        .on_press(Message::Open(c.peer)),
                        row![
                            button("Accept").on_press(Message::Accept(c.peer, nickname)),
                            button("Decline")
                                .style(button::secondary)
                                .on_press(Message::Contact(ContactChange::Decline(c.peer))),
                            button("Block")
                                .style(button::danger)
                                .on_press(Message::Contact(ContactChange::Block(c.peer))),
                        ]
                        .spacing(6),
                    ]
                    .spacing(4),
                )
                .padding(6)
                .style(container::rounded_box),
            );
        }
    }
    if main.conversations.is_empty() {
        list = list.push(text("No conversations yet.").size(SMALL));
    }
    let me = main
        .display_name
        .clone()
        .unwrap_or_else(|| short_id(&main.me));
    let status: Element<'_, Message> = match &main.online {
        Ok(()) => text("online").size(SMALL).into(),
        Err(_) => text("offline: retrying").size(SMALL).into(),
    };
    column![
        row![text(me).size(20).width(Fill), status].align_y(Center),
        row![
            button("New conversation").on_press(Message::NewChat),
            button("Settings")
                .style(button::secondary)
                .on_press(Message::Settings),
        ]
        .spacing(8),
        rule::horizontal(1),
        scrollable(list).height(Fill),
    ]
    .spacing(8)
    .padding(10)
    .into()
}

/// `YYYY-MM-DD` (UTC) of a Unix millisecond time.
fn day(ms: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let days = i64::try_from(ms / 86_400_000).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// How a message's state is worded under it (none for received messages).
pub fn delivery_text(state: &MessageState) -> Option<String> {
    match state {
        MessageState::Received => None,
        MessageState::Sending => Some("sending…".into()),
        MessageState::Stored { on, of } => Some(format!("stored on {on} of {of} swarm members")),
        MessageState::Failed { reason } => Some(format!("failed: {}", neutralise(reason))),
    }
}

fn state_line(main: &Main, message: &StoredMessage) -> Element<'static, Message> {
    let Some(words) = delivery_text(&message.state) else {
        return space().into();
    };
    if !matches!(message.state, MessageState::Failed { .. }) {
        return text(words).size(SMALL).into();
    }
    let retrying = main.in_flight.contains(&message.id);
    row![
        text(words)
            .size(SMALL)
            .style(|theme: &iced::Theme| text::Style {
                color: Some(theme.palette().danger),
            }),
        button(text(if retrying { "Retrying…" } else { "Retry" }).size(SMALL))
            .padding([2, 8])
            .on_press_maybe((!retrying).then_some(Message::Retry(message.id))),
    ]
    .spacing(8)
    .align_y(Center)
    .into()
}

fn chat_view<'a>(main: &'a Main, peer: &'a AccountId) -> Element<'a, Message> {
    let conversation = main.conversations.iter().find(|c| &c.peer == peer);
    let label = conversation.map_or_else(|| short_id(peer), conversation_label);
    let is_contact = conversation.is_some_and(|c| c.nickname.is_some());
    let mut header = row![text(label).size(22).width(Fill)]
        .spacing(8)
        .align_y(Center);
    header = header.push(
        button(if main.show_id {
            "Hide Account ID"
        } else {
            "Account ID"
        })
        .style(button::secondary)
        .on_press(Message::ToggleId),
    );
    if is_contact {
        header = header
            .push(
                button("Rename")
                    .style(button::secondary)
                    .on_press(Message::ToggleRename),
            )
            .push(
                button("Remove contact")
                    .style(button::danger)
                    .on_press(Message::Contact(ContactChange::Remove(*peer))),
            );
    } else {
        header = header.push(button("Add as contact").on_press(Message::ToggleRename));
    }
    let mut top = column![header].spacing(8);
    if main.show_id {
        top = top.push(
            row![
                text(peer.to_string())
                    .font(Font::MONOSPACE)
                    .size(SMALL)
                    .width(Fill),
                button("Copy").on_press(Message::Copy(peer.to_string())),
            ]
            .spacing(8)
            .align_y(Center),
        );
        top = top.push(qr::view(&peer.to_string()));
    }
    if main.renaming {
        let nickname = main.nickname.trim().to_owned();
        let save =
            (!nickname.is_empty()).then(|| Message::Contact(ContactChange::Name(*peer, nickname)));
        top = top.push(
            row![
                text_input("Nickname", &main.nickname)
                    .on_input(Message::Nickname)
                    .on_submit_maybe(save.clone()),
                button("Save").on_press_maybe(save),
            ]
            .spacing(8),
        );
    }

    let mut messages = Column::new().spacing(2).padding(10);
    let mut last_day = String::new();
    let mut last_sender: Option<Direction> = None;
    for message in &main.history {
        let today = day(message.sent_ms);
        if today != last_day {
            messages = messages.push(
                container(text(today.clone()).size(SMALL))
                    .center_x(Fill)
                    .padding(6),
            );
            last_day = today;
            last_sender = None;
        }
        let outgoing = message.direction == Direction::Outgoing;
        if last_sender != Some(message.direction) {
            let who = if outgoing {
                "You".to_owned()
            } else {
                conversation.map_or_else(|| short_id(peer), conversation_label)
            };
            messages = messages.push(text(who).size(SMALL).font(Font {
                weight: iced::font::Weight::Bold,
                ..Font::DEFAULT
            }));
            last_sender = Some(message.direction);
        }
        let body = lines(&message.text).join("\n");
        let bubble = container(
            column![
                text(body),
                row![
                    text(format!("{} UTC", clock_time(message.sent_ms))).size(SMALL),
                    state_line(main, message),
                    space::horizontal(),
                    button(text("Copy").size(SMALL))
                        .padding([2, 8])
                        .style(button::text)
                        .on_press(Message::Copy(message.text.clone())),
                ]
                .spacing(8)
                .align_y(Center),
            ]
            .spacing(4),
        )
        .padding(8)
        .max_width(560)
        .style(if outgoing {
            container::primary
        } else {
            container::rounded_box
        });
        messages = messages.push(if outgoing {
            container(bubble).align_right(Fill)
        } else {
            container(bubble)
        });
    }
    if main.history.is_empty() {
        messages = messages.push(text("No messages yet. Say hello!"));
    }

    let composer = text_editor(&main.composer)
        .id("composer")
        .placeholder("Write a message (Enter sends, Shift+Enter starts a new line)")
        .height(90)
        .on_action(Message::Edit)
        .key_binding(|press| {
            if matches!(press.key, Key::Named(Named::Enter))
                && !press.modifiers.shift()
                && matches!(press.status, text_editor::Status::Focused { .. })
            {
                return Some(text_editor::Binding::Custom(Message::Send));
            }
            text_editor::Binding::from_key_press(press)
        });
    column![
        top,
        rule::horizontal(1),
        scrollable(messages).height(Fill).anchor_bottom(),
        row![composer, button("Send").on_press(Message::Send)]
            .spacing(8)
            .align_y(Center),
    ]
    .spacing(8)
    .padding(10)
    .into()
}

fn new_chat_view(main: &Main) -> Element<'_, Message> {
    let typed = main.new_id.trim();
    let check: Element<'_, Message> = if typed.is_empty() {
        text("Paste the Account ID of the person you want to write to.").into()
    } else {
        match ContactLink::parse(typed).map(|l| l.account_id) {
            Ok(id) if id == main.me => text("this is your own Account ID").into(),
            Ok(_) => text("✓ a valid Account ID").into(),
            Err(e) => text(e.to_string())
                .style(|theme: &iced::Theme| text::Style {
                    color: Some(theme.palette().danger),
                })
                .into(),
        }
    };
    let valid = ContactLink::parse(typed)
        .map(|l| l.account_id)
        .is_ok_and(|id| id != main.me);
    let qr_error: Element<'_, Message> = match &main.qr_error {
        Some(e) => text(e.clone())
            .style(|theme: &iced::Theme| text::Style {
                color: Some(theme.palette().danger),
            })
            .into(),
        None => column![].into(),
    };
    container(
        column![
            text("New conversation").size(22),
            text_input("Account ID (66 characters, starting with 05)", &main.new_id)
                .id("new-id")
                .on_input(Message::NewId)
                .on_submit_maybe(valid.then_some(Message::StartChat)),
            check,
            row![
                text_input("…or the path of a PNG image of its QR code", &main.qr_path)
                    .id("qr-path")
                    .on_input(Message::QrPath)
                    .on_submit_maybe((!main.qr_busy).then_some(Message::OpenQr)),
                button(if main.qr_busy {
                    "Reading…"
                } else {
                    "Open QR image"
                })
                .on_press_maybe((!main.qr_busy).then_some(Message::OpenQr)),
            ]
            .spacing(8),
            qr_error,
            text_input("Nickname (optional: makes them a contact)", &main.nickname)
                .on_input(Message::Nickname),
            button("Start the conversation").on_press_maybe(valid.then_some(Message::StartChat)),
        ]
        .spacing(10)
        .max_width(640),
    )
    .padding(20)
    .into()
}

fn settings_view(main: &Main) -> Element<'_, Message> {
    let phrase: Element<'_, Message> = match &main.phrase {
        Some(phrase) => column![
            text(
                "Anyone who sees it can read your messages and write as you: keep it out of sight."
            ),
            container(text(phrase.as_str().to_owned()).font(Font::MONOSPACE))
                .padding(10)
                .style(container::rounded_box),
            button("Hide the recovery phrase").on_press(Message::HidePhrase),
        ]
        .spacing(8)
        .into(),
        None if main.protected => row![
            text_input("Passphrase", &main.phrase_passphrase)
                .secure(true)
                .on_input(Message::PhrasePassphrase)
                .on_submit(Message::ShowPhrase),
            button("Show the recovery phrase").on_press(Message::ShowPhrase),
        ]
        .spacing(8)
        .into(),
        None => button("Show the recovery phrase")
            .on_press(Message::ShowPhrase)
            .into(),
    };
    let online = match &main.online {
        Ok(()) => "reachable".to_owned(),
        Err(reason) => format!("not reachable: {}", neutralise(reason)),
    };
    let health = &main.health;
    container(scrollable(
        column![
            text("Settings").size(22),
            text("Your Account ID"),
            row![
                text(main.me.to_string())
                    .font(Font::MONOSPACE)
                    .size(SMALL)
                    .width(Fill),
                button("Copy").on_press(Message::Copy(main.me.to_string())),
            ]
            .spacing(8)
            .align_y(Center),
            qr::view(&main.me.to_string()),
            text("Your name (sent with your messages)"),
            row![
                text_input("Name", &main.name)
                    .on_input(Message::NameInput)
                    .on_submit(Message::SaveName),
                button("Save").on_press(Message::SaveName),
            ]
            .spacing(8),
            text("Recovery phrase"),
            phrase,
            text("Theme"),
            row![
                button("Light")
                    .style(button::secondary)
                    .on_press(Message::Dark(false)),
                button("Dark")
                    .style(button::secondary)
                    .on_press(Message::Dark(true)),
            ]
            .spacing(8),
            text("Network"),
            text(format!("status: {online}")),
            text(format!(
                "{} nodes in the list, {} guards, {} onion paths",
                health.nodes, health.guards, health.paths
            )),
            button("Refresh")
                .style(button::secondary)
                .on_press(Message::RefreshHealth),
        ]
        .spacing(10)
        .max_width(640),
    ))
    .padding(20)
    .into()
}

#[cfg(test)]
mod tests {
    use super::day;

    #[test]
    fn days_are_civil_dates() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(951_782_400_000), "2000-02-29");
        assert_eq!(day(1_796_083_200_000), "2026-12-01");
    }
}
