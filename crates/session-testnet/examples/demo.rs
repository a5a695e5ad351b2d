//! The messenger's path through what exists today, for real: a local network of 12 service nodes
//! in 3 swarms starts on loopback; Alice asks a seed node for Bob's swarm, encrypts a message for
//! Bob and deposits it at one member, which replicates it to the whole swarm before answering;
//! one of those nodes then crashes, and Bob still fetches his inbox from another member with a
//! signed request and decrypts it.
//!
//! Run: `cargo run --release -p session-testnet --example demo`

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use session_crypto::{Ed25519PublicKey, Ed25519Seed, OsRng};
use session_net::{ConnectionPool, NodeAddress};
use session_testnet::{now_ms, Testnet, TestnetConfig};
use session_wire::rpc::{GetSwarmParams, Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{decode_text_message, encode_text_message, OutgoingText};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Messages wait 14 days, as in Session.
const TTL_MS: u64 = 14 * 24 * 3600 * 1000;

async fn rpc(
    pool: &ConnectionPool,
    node: NodeAddress,
    request: &Request,
) -> Result<Value, Box<dyn std::error::Error>> {
    let response = pool
        .post(node, "/storage_rpc/v1", &[], request.to_json(), TIMEOUT)
        .await?;
    if response.status != 200 {
        return Err(format!(
            "HTTP {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
        .into());
    }
    Ok(serde_json::from_slice(&response.body)?)
}

/// The swarm members of `get_swarm`'s answer.
fn members(swarm: &Value) -> Vec<NodeAddress> {
    swarm["snodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let ip = s["ip"].as_str()?;
            let port = s["port_https"].as_u64()?;
            Some(NodeAddress {
                addr: format!("{ip}:{port}").parse().ok()?,
                key: Ed25519PublicKey::from_hex(s["pubkey_ed25519"].as_str()?).ok()?,
            })
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = Testnet::start(TestnetConfig::default()).await?;
    println!(
        "A local network of {} nodes in {} swarms is running.",
        net.addresses().len(),
        net.assignment().len()
    );
    let pool = ConnectionPool::new();

    let alice_seed = Ed25519Seed::generate(&mut OsRng);
    let alice = alice_seed.key_pair();
    let bob = Ed25519Seed::generate(&mut OsRng).key_pair();
    println!(
        "Alice: {}  ({}-word recovery phrase)",
        alice.account_id(),
        alice_seed.to_phrase().split(' ').count()
    );
    println!("Bob:   {}", bob.account_id());

    // Alice learns Bob's swarm from a seed node.
    let seed = net.address(0).ok_or("no seed")?;
    let query = Request::GetSwarm(GetSwarmParams {
        pubkey: bob.account_id().to_string(),
    });
    let swarm = members(&rpc(&pool, seed, &query).await?);
    println!("\nBob's swarm has {} members.", swarm.len());

    let now = now_ms();
    let text = "Hi Bob! Only you can read this.";
    let outgoing = OutgoingText {
        text,
        display_name: Some("Alice"),
        timestamp_ms: now,
    };
    let ciphertext = encode_text_message(&alice, &bob.account_id(), outgoing, &mut OsRng)?;
    let store = Request::Store(StoreParams::deposit(
        &bob.account_id(),
        0,
        &ciphertext,
        now,
        TTL_MS,
    ));
    let stored = rpc(&pool, swarm[0], &store).await?;
    let held = stored["swarm"]
        .as_object()
        .map_or(0, |m| m.values().filter(|r| r["failed"] != true).count());
    println!("Alice -> swarm: {} bytes of ciphertext, held by {held} of {} members (each signed the hash).", ciphertext.len(), swarm.len());

    // The node Alice used crashes; Bob asks another member.
    let crashed = net
        .addresses()
        .iter()
        .position(|a| *a == swarm[0])
        .ok_or("unknown node")?;
    net.kill(crashed)?;
    println!("The node Alice used has crashed.");
    let retrieve = Request::Retrieve(RetrieveParams::signed(&bob, 0, now_ms(), None));
    let inbox: RetrieveResponse = serde_json::from_value(rpc(&pool, swarm[1], &retrieve).await?)?;
    println!(
        "Bob <- another member: {} message(s) in his inbox",
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
