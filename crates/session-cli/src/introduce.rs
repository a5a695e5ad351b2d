//! Adding people without typing 66 characters: links and QR images for `contacts add`, invite
//! codes (`invite`, `accept`), and safety codes (`verify`).

use std::path::Path;
use std::process::ExitCode;

use session_client::inert::{short_id, shown_name};
use session_client::invite::{self, InviteCode, InviteOptions, Invited};
use session_client::safety::{self, Verification};
use session_client::{qr_image, system_ms, ContactLink, MessageStore, Messenger};
use session_crypto::AccountId;
use zeroize::Zeroizing;

use crate::commands::Result;

/// The contact `contacts add` names, and the nickname to file it under: from a link or bare
/// Account ID, or from the QR code in an image; the nickname given, else the link's name.
pub fn contact_to_add(
    text: Option<&str>,
    nickname: Option<&str>,
    qr: Option<&Path>,
) -> Result<(AccountId, String)> {
    // With --qr the one argument given is the nickname.
    let (link, nickname) = match qr {
        Some(path) => {
            if text.is_some() && nickname.is_some() {
                return Err(
                    "with --qr give only the nickname (the Account ID is in the image)".into(),
                );
            }
            (qr_image::read_contact(path)?, text.or(nickname))
        }
        None => {
            let text = text.ok_or("give an Account ID or session: link (or --qr IMAGE)")?;
            (ContactLink::parse(text)?, nickname)
        }
    };
    let nickname = match (nickname, &link.display_name) {
        (Some(nickname), _) => nickname.trim().to_owned(),
        (None, Some(name)) => name.clone(),
        (None, None) => {
            return Err(format!(
                "give a nickname for {} (the link carries no name)",
                short_id(&link.account_id)
            )
            .into())
        }
    };
    Ok((link.account_id, nickname))
}

/// `session invite`: shows a code and waits until it is typed on the other side.
pub async fn invite(messenger: &Messenger) -> Result<ExitCode> {
    let pending = invite::invite(messenger, InviteOptions::default()).await?;
    println!("Your invite code (read it out; it works once, for 10 minutes):\n");
    println!("  {}\n", pending.code());
    println!(
        "The other person runs `session accept {}`. Waiting...",
        pending.code()
    );
    let invited = pending.wait(messenger).await?;
    print_added(&invited);
    Ok(ExitCode::SUCCESS)
}

/// `session accept CODE` (or the code typed at a prompt, or read from stdin).
pub async fn accept(messenger: &Messenger, code: Option<&str>) -> Result<ExitCode> {
    let typed = match code {
        Some(code) => Zeroizing::new(code.to_owned()),
        None => read_code()?,
    };
    let code = InviteCode::parse(&typed)?;
    let invited = invite::accept(messenger, &code, InviteOptions::default()).await?;
    print_added(&invited);
    Ok(ExitCode::SUCCESS)
}

fn read_code() -> Result<Zeroizing<String>> {
    use std::io::Write as _;
    if crate::input::is_terminal() {
        print!("Invite code: ");
        std::io::stdout().flush()?;
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line)?;
    Ok(line)
}

fn print_added(invited: &Invited) {
    let name = invited
        .display_name
        .as_deref()
        .map_or_else(|| "no name given".into(), shown_name);
    println!(
        "added {} ({name}) as your contact {}",
        invited.contact.account_id,
        shown_name(&invited.contact.nickname)
    );
    let nickname = session_client::inert::neutralise(&invited.contact.nickname);
    println!(
        "You can write at once: `session send {nickname:?} ...`. To be sure it is them, compare \
         `session verify {nickname:?}` together."
    );
}

/// `session verify CONTACT [--confirm]`.
pub fn verify(store: &MessageStore, me: &AccountId, who: &str, confirm: bool) -> Result<ExitCode> {
    let peer = store.resolve(who)?;
    let label = store
        .contact(&peer)?
        .map_or_else(|| short_id(&peer), |c| c.nickname);
    if peer == *me {
        return Err("this is your own Account ID: verify someone else".into());
    }
    println!("Safety code for you and {label} (the same words show on their side):\n");
    println!("  {}\n", safety::safety_code_text(me, &peer));
    if confirm {
        safety::mark_verified(store, me, &peer, system_ms())?;
        println!("{label} is now marked verified.");
        return Ok(ExitCode::SUCCESS);
    }
    match safety::verification(store, &peer)? {
        Verification::Unverified => println!(
            "Not verified. Compare the words in person or by voice; if they match, run \
             `session verify {who} --confirm`."
        ),
        Verification::Verified { at_ms } => println!(
            "Verified (marked at {} UTC).",
            session_client::inert::clock_time(at_ms)
        ),
        Verification::KeyChanged { changed_ms, .. } => println!(
            "WARNING: {label}'s keys changed (seen at {} UTC) since you verified them: compare \
             the words again, then run `session verify {who} --confirm`.",
            session_client::inert::clock_time(changed_ms)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// What `contacts list` adds after a contact: verified, or verified before its keys changed.
pub fn verification_mark(store: &MessageStore, contact: &AccountId) -> &'static str {
    match safety::verification(store, contact) {
        Ok(Verification::Verified { .. }) => "  (verified)",
        Ok(Verification::KeyChanged { .. }) => {
            "  (KEYS CHANGED since verified: run `session verify`)"
        }
        _ => "",
    }
}
