//! The messenger's path through what exists today, for real: a local network of 12 service nodes
//! in 3 swarms starts on loopback. Alice's client fetches the signed node list, encrypts a
//! message for Bob and sends it through a 3-relay onion path to a member of Bob's swarm, which
//! replicates it to the whole swarm before answering. One of those nodes then crashes, and Bob's
//! client, also through an onion path, fetches his inbox from the swarm and decrypts it.
//!
//! Run: `cargo run --release -p session-testnet --example demo`

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_client::OnionClient;
use session_crypto::{Ed25519Seed, OsRng};
use session_testnet::{Testnet, TestnetConfig};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{decode_text_message, encode_text_message, OutgoingText};

/// Messages wait 14 days, as in Session.
const TTL_MS: u64 = 14 * 24 * 3600 * 1000;

async fn join(net: &Testnet) -> Result<OnionClient, Box<dyn std::error::Error>> {
    Ok(OnionClient::connect(net.client_config()).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = Testnet::start(TestnetConfig::default()).await?;
    println!(
        "A local network of {} nodes in {} swarms is running.",
        net.addresses().len(),
        net.assignment().len()
    );

    let alice_seed = Ed25519Seed::generate(&mut OsRng);
    let alice = alice_seed.key_pair();
    let bob = Ed25519Seed::generate(&mut OsRng).key_pair();
    println!(
        "Alice: {}  ({}-word recovery phrase)",
        alice.account_id(),
        alice_seed.to_phrase().split(' ').count()
    );
    println!("Bob:   {}", bob.account_id());

    let alice_client = join(&net).await?;
    let text = "Hi Bob! Only you can read this.";
    let timestamp_ms = alice_client.now_ms();
    let outgoing = OutgoingText {
        text,
        display_name: Some("Alice"),
        timestamp_ms,
    };
    let ciphertext = encode_text_message(&alice, &bob.account_id(), outgoing, &mut OsRng)?;
    let stored = alice_client
        .request(&bob.account_id(), |now| {
            Request::Store(StoreParams::deposit(
                &bob.account_id(),
                0,
                &ciphertext,
                now,
                TTL_MS,
            ))
        })
        .await?;
    let swarm = stored["swarm"].as_object().ok_or("no swarm in the reply")?;
    let held: Vec<&String> = swarm
        .iter()
        .filter(|(_, r)| r["failed"] != true)
        .map(|(k, _)| k)
        .collect();
    println!(
        "\nAlice -> Bob's swarm through a 3-relay onion path: {} bytes of ciphertext, held by {} of {} members.",
        ciphertext.len(),
        held.len(),
        swarm.len()
    );

    // One member of Bob's swarm crashes.
    let crashed = net
        .addresses()
        .iter()
        .position(|a| held.first().is_some_and(|k| **k == a.key.to_string()))
        .ok_or("unknown node")?;
    net.kill(crashed)?;
    println!("A node of Bob's swarm has crashed.");

    let bob_client = join(&net).await?;
    let inbox: RetrieveResponse = serde_json::from_value(
        bob_client
            .request(&bob.account_id(), |now| {
                Request::Retrieve(RetrieveParams::signed(&bob, 0, now, None))
            })
            .await?,
    )?;
    println!(
        "Bob <- his swarm, through his own onion path: {} message(s)",
        inbox.messages.len()
    );
    for message in inbox.messages {
        let received = decode_text_message(&bob, &STANDARD.decode(message.data)?)?;
        println!(
            "Bob reads {:?} from {} ({}), signature verified",
            received.text,
            received.display_name.as_deref().unwrap_or("?"),
            received.sender
        );
    }
    net.shutdown().await;
    Ok(())
}
