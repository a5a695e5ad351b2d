//! `session devices`, `session export`, `session import`: one account on several devices.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use session_client::devices_link::{sas_line, LinkRequest, PendingLink, LINK_EXPIRY_MS};
use session_client::export::{export, import};
use session_client::inert::clock_time;
use session_client::{
    devices, onboarding, system_ms, KdfParams, NetworkFile, OnionClient, Profile,
};
use zeroize::Zeroizing;

use session_crypto::Ed25519Seed;

use crate::commands::{messenger, messenger_with, open_store, unlock, Result};
use crate::{input, qr, DevicesAction};

/// The environment variable a script can pass the export passphrase in.
pub const EXPORT_PASSPHRASE_VAR: &str = "SESSION_EXPORT_PASSPHRASE";

/// Runs `session devices ACTION`.
pub async fn run(
    profile: &Profile,
    network: Option<&Path>,
    action: DevicesAction,
) -> Result<ExitCode> {
    match action {
        DevicesAction::List => {
            let messenger = messenger(profile).await?;
            let sync = messenger.sync_account().await?;
            tracing::debug!(merged = sync.merged, "device list synced");
            for device in messenger.devices()? {
                let marks = match (device.this_device, device.removed) {
                    (true, _) => " (this device)",
                    (false, true) => " (removed)",
                    _ => "",
                };
                println!(
                    "{}  {} [{}]{marks}  first seen {}, last seen {}",
                    device.id,
                    device.name,
                    device.kind,
                    clock_time(device.first_seen_ms),
                    clock_time(device.last_seen_ms)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DevicesAction::Remove { id } => {
            let messenger = messenger(profile).await?;
            messenger.sync_account().await?;
            let device = messenger.remove_device(&id).await?;
            println!(
                "Removed {} ({}): it stops syncing when it next comes online.",
                device.id, device.name
            );
            println!("It still holds the account's key: see `session devices --help`.");
            Ok(ExitCode::SUCCESS)
        }
        DevicesAction::Approve { link } => {
            let (request, bytes) = LinkRequest::parse(&link)?;
            request.check_fresh(system_ms())?;
            let messenger = messenger(profile).await?;
            println!(
                "A new device asks to join this account: {:?} [{}].",
                session_client::inert::neutralise(&request.name),
                session_client::inert::neutralise(&request.kind)
            );
            println!("\n  {}\n", sas_line(&bytes)?);
            if !input::confirm("Does the new device show these same emoji? [y/N] ")? {
                println!("Not approved: nothing was sent.");
                return Ok(ExitCode::FAILURE);
            }
            messenger.approve_link(&request).await?;
            println!("Approved: the new device receives the account now.");
            Ok(ExitCode::SUCCESS)
        }
        DevicesAction::Link { name } => {
            if profile.account().exists() {
                return Err("this profile has an account already; link into a new profile".into());
            }
            let network = match network {
                Some(path) => NetworkFile::read(path)?,
                None => profile
                    .saved_network()?
                    .ok_or("pass --network FILE: the new device must know the network")?,
            };
            let client = OnionClient::connect(profile.client_config(&network)?).await?;
            let name = name.unwrap_or_else(|| "new device".into());
            let link = PendingLink::new(&name, "cli", client.now_ms());
            let text = link.request.to_text();
            println!("On a device of the account, run:\n\n  session devices approve {text}\n");
            print!("{}", qr::terminal(&text)?);
            println!(
                "\nCompare these emoji with the other device's before approving:\n\n  {}\n",
                sas_line(&link.request.to_bytes())?
            );
            println!(
                "Waiting for approval (the request expires in {} minutes)...",
                LINK_EXPIRY_MS / 60_000
            );
            let seed = link
                .wait_for_approval(&client, Duration::from_secs(1))
                .await?;
            onboarding::create_account(profile, &seed, None, None)?;
            profile.save_network(&network)?;
            let store = open_store(profile, &seed)?;
            devices::set_identity(&store, &name, "cli")?;
            drop(store);
            println!("Linked to account {}", seed.key_pair().account_id());
            restored_summary(profile, &seed).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// After a restore or a link: syncs once and says what came back (nothing if offline).
pub async fn restored_summary(profile: &Profile, seed: &Ed25519Seed) {
    let Ok(store) = open_store(profile, seed) else {
        return;
    };
    let Ok(messenger) = messenger_with(profile, seed, store).await else {
        println!("Offline: contacts and history come back with the first `session sync`.");
        return;
    };
    match messenger.sync().await {
        Ok(report) => {
            let contacts = messenger.store().contacts().map(|c| c.len()).unwrap_or(0);
            println!(
                "From the account's swarm: {} contact(s), {} message(s).",
                contacts,
                report.new.len()
            );
        }
        Err(e) => println!("The first sync failed ({e}); run `session sync`."),
    }
}

fn export_passphrase(new: bool) -> Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(EXPORT_PASSPHRASE_VAR) {
        if value.is_empty() {
            return Err("an empty passphrase protects nothing".into());
        }
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("run in a terminal or set {EXPORT_PASSPHRASE_VAR}").into());
    }
    let first = Zeroizing::new(rpassword::prompt_password("Export passphrase: ")?);
    if new {
        let again = Zeroizing::new(rpassword::prompt_password("Export passphrase again: ")?);
        if *again != *first {
            return Err("the passphrases differ".into());
        }
        if first.is_empty() {
            return Err("an empty passphrase protects nothing".into());
        }
    }
    Ok(first)
}

/// `session export FILE`.
pub fn run_export(profile: &Profile, file: &Path) -> Result<ExitCode> {
    let store = open_store(profile, &unlock(profile)?)?;
    let passphrase = export_passphrase(true)?;
    let report = export(&store, file, &passphrase, KdfParams::DEFAULT)?;
    println!(
        "Exported {} message(s) and {} contact(s) to {} ({} bytes, encrypted).",
        report.messages,
        report.contacts,
        file.display(),
        report.bytes
    );
    Ok(ExitCode::SUCCESS)
}

/// `session import FILE`.
pub fn run_import(profile: &Profile, file: &Path) -> Result<ExitCode> {
    let mut store = open_store(profile, &unlock(profile)?)?;
    let passphrase = export_passphrase(false)?;
    let report = import(&mut store, file, &passphrase)?;
    println!(
        "Imported {} message(s) and {} contact(s); {} already here (skipped).",
        report.messages, report.contacts, report.duplicates
    );
    Ok(ExitCode::SUCCESS)
}
