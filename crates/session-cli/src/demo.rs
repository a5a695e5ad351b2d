//! `session demo`: the messenger end to end on a fresh local network, step by step.
//!
//! A 12-node network starts on loopback. Alice and Bob each create an account in a profile of
//! their own and exchange nothing but Account IDs. Alice writes to Bob while Bob is offline;
//! a node of Bob's swarm crashes; Bob comes online and receives everything; Bob replies; Alice
//! receives. Every request goes through a 3-relay onion path, printed with its timing. The run
//! exits 0 only if every message arrived intact, once.

use std::process::ExitCode;
use std::time::Instant;

use session_client::{
    short_key, Delivery, KdfParams, MessageState, Messenger, OnionClient, PathPolicy, Profile,
    SyncReport,
};
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use session_testnet::{Testnet, TestnetConfig};

use crate::commands::Result;

/// What Alice writes while Bob is offline.
const ALICE_TO_BOB: [&str; 3] = [
    "Hi Bob! Only you can read this.",
    "I sent this while you were offline; it waited in your swarm.",
    "Even a crashed node could not lose it: every member of your swarm holds a copy.",
];
/// Bob's reply.
const BOB_TO_ALICE: &str = "Got all three, Alice. Nobody in between knows we talked.";

/// Runs the demo.
pub async fn run() -> Result<ExitCode> {
    let started = Instant::now();
    let work = tempfile::tempdir()?;
    println!("Step 1. Starting a local network of 12 service nodes on loopback...");
    let mut net = Testnet::start(TestnetConfig {
        base_dir: Some(work.path().join("network")),
        ..TestnetConfig::default()
    })
    .await?;
    println!(
        "        {} nodes in {} swarms, up in {} ms. Each node proves its Ed25519 key over TLS.",
        net.addresses().len(),
        net.assignment().len(),
        started.elapsed().as_millis()
    );

    println!("\nStep 2. Alice and Bob create accounts (no phone number, no e-mail)...");
    let alice_profile = new_account(work.path().join("alice"), "Alice")?;
    let bob_profile = new_account(work.path().join("bob"), "Bob")?;
    let alice_id = account_id(&alice_profile)?;
    let bob_id = account_id(&bob_profile)?;
    println!("        Alice: {alice_id}");
    println!("        Bob:   {bob_id}");
    alice_profile
        .message_store()?
        .add_contact(&bob_id, "Bob", session_client::system_ms())?;
    bob_profile
        .message_store()?
        .add_contact(&alice_id, "Alice", session_client::system_ms())?;
    println!("        They exchanged Account IDs and added each other as contacts.");

    println!(
        "\nStep 3. Alice writes to Bob, who is offline. Each message is encrypted for Bob, then"
    );
    println!("        sent through an onion path (guard -> relay -> relay -> [swarm member]):");
    let alice = online(&net, &alice_profile).await?;
    let mut intact = true;
    let mut last_destination = None;
    for text in ALICE_TO_BOB {
        let delivery = alice.send(&bob_id, text).await?;
        intact &= report_send(&delivery);
        last_destination = delivery.route.map(|r| r.destination.key);
    }

    // The member that took Alice's last message crashes (or any member, if none answered).
    let bob_swarm = net.swarm_members_for(bob_id.x25519().as_bytes());
    let addresses = net.addresses();
    let crashed = last_destination
        .and_then(|key| addresses.iter().position(|a| a.key == key))
        .filter(|i| bob_swarm.contains(i))
        .or_else(|| bob_swarm.first().copied())
        .ok_or("Bob's swarm is empty")?;
    net.kill(crashed)?;
    let crashed_key = addresses
        .get(crashed)
        .map(|a| short_key(&a.key))
        .unwrap_or_default();
    println!(
        "\nStep 4. [{crashed_key}], the member of Bob's swarm that took Alice's last message, crashes."
    );
    println!(
        "        ({} of {} members left; each holds every message.)",
        bob_swarm.len() - 1,
        bob_swarm.len()
    );

    println!("\nStep 5. Bob comes online and fetches his messages through his own onion path:");
    let bob = online(&net, &bob_profile).await?;
    let report = bob.sync().await?;
    report_sync("Bob", &report);
    intact &= check_received(&report, &alice_id, &ALICE_TO_BOB);

    println!("\nStep 6. Bob replies; Alice fetches it:");
    intact &= report_send(&bob.send(&alice_id, BOB_TO_ALICE).await?);
    let report = alice.sync().await?;
    report_sync("Alice", &report);
    intact &= check_received(&report, &bob_id, &[BOB_TO_ALICE]);

    let again = bob.sync().await?;
    if !again.new.is_empty() {
        println!(
            "        Bob's second sync delivered {} message(s) twice!",
            again.new.len()
        );
        intact = false;
    }
    net.shutdown().await;
    println!();
    if intact {
        println!(
            "Every message arrived intact, exactly once. Demo finished in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Some message did not arrive intact: the demo FAILED.");
        Ok(ExitCode::FAILURE)
    }
}

fn new_account(dir: std::path::PathBuf, name: &str) -> Result<Profile> {
    let profile = Profile::open(dir)?;
    let seed = Ed25519Seed::generate(&mut OsRng);
    profile.account().create(&seed, None, KdfParams::DEFAULT)?;
    profile.message_store()?.set_setting("display_name", name)?;
    Ok(profile)
}

fn account_id(profile: &Profile) -> Result<AccountId> {
    Ok(profile.account().load(None)?.account_id())
}

async fn online(net: &Testnet, profile: &Profile) -> Result<Messenger> {
    let mut config = profile.client_config(&net.network_file())?;
    // Every node is on 127.0.0.1: /24 diversity cannot apply.
    config.path_policy = PathPolicy::DistinctNodes;
    let client = OnionClient::connect(config).await?;
    Ok(Messenger::new(
        profile.account().load(None)?,
        profile.message_store()?,
        client,
    ))
}

fn report_send(delivery: &Delivery) -> bool {
    let route = delivery
        .route
        .as_ref()
        .map_or_else(|| "no path".to_string(), ToString::to_string);
    println!(
        "        {:>4} ms  {route}  {:?}: {}",
        delivery.elapsed.as_millis(),
        delivery.message.text,
        delivery.message.state.describe()
    );
    matches!(delivery.message.state, MessageState::Stored { on, .. } if on > 0)
}

fn report_sync(reader: &str, report: &SyncReport) {
    let routes: Vec<String> = report.routes.iter().map(ToString::to_string).collect();
    println!(
        "        {:>4} ms  {}  {} new message(s)",
        report.elapsed.as_millis(),
        routes.join(", then "),
        report.new.len()
    );
    for message in &report.new {
        println!(
            "        {reader} reads {:?} from {} (signature verified)",
            message.text,
            message.display_name.as_deref().unwrap_or("?")
        );
    }
}

fn check_received(report: &SyncReport, from: &AccountId, expected: &[&str]) -> bool {
    let texts: Vec<&str> = report.new.iter().map(|m| m.text.as_str()).collect();
    let ok = texts == expected && report.new.iter().all(|m| m.peer == *from);
    if !ok {
        println!("        expected {expected:?} from {from}, got {texts:?}");
    }
    ok
}
