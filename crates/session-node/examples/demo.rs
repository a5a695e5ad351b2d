//! The messenger's path through what exists today, for real: a service node starts on loopback,
//! Alice encrypts a message for Bob and deposits it in Bob's inbox over HTTPS (the node must prove
//! its Ed25519 identity), then Bob fetches his inbox with a signed request and decrypts it.
//!
//! Run: `cargo run --release -p session-node --example demo`

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::{Ed25519Seed, OsRng};
use session_net::{Connection, NodeAddress};
use session_node::{NodeConfig, RunningNode};
use session_wire::rpc::{Request, RetrieveParams, RetrieveResponse, StoreParams};
use session_wire::{decode_text_message, encode_text_message, OutgoingText};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Messages wait 14 days, as in Session.
const TTL_MS: u64 = 14 * 24 * 3600 * 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::temp_dir().join(format!("session-rs-demo-{}", std::process::id()));
    let mut config = NodeConfig::with_data_dir(&data_dir);
    config.listen = "127.0.0.1:0".parse()?;
    let node = RunningNode::start(config).await?;
    println!(
        "service node {} listening on https://{}",
        node.public_key, node.https_addr
    );

    let alice_seed = Ed25519Seed::generate(&mut OsRng);
    let alice = alice_seed.key_pair();
    let bob = Ed25519Seed::generate(&mut OsRng).key_pair();
    println!("Alice: {}", alice.account_id());
    println!("Bob:   {}", bob.account_id());
    println!(
        "(Alice could restore her account from a {}-word recovery phrase.)",
        alice_seed.to_phrase().split(' ').count()
    );

    let now = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let text = "Hi Bob! Only you can read this.";
    let outgoing = OutgoingText {
        text,
        display_name: Some("Alice"),
        timestamp_ms: now,
    };
    let ciphertext = encode_text_message(&alice, &bob.account_id(), outgoing, &mut OsRng)?;

    let address = NodeAddress {
        addr: node.https_addr,
        key: node.public_key,
    };
    let mut connection = Connection::open(address, TIMEOUT).await?;
    let store = Request::Store(StoreParams::deposit(
        &bob.account_id(),
        0,
        &ciphertext,
        now,
        TTL_MS,
    ));
    let reply = connection
        .post("/storage_rpc/v1", store.to_json(), TIMEOUT)
        .await?;
    let stored: serde_json::Value = serde_json::from_slice(&reply.body)?;
    println!(
        "\nAlice -> node: {} bytes of ciphertext stored in Bob's inbox (HTTP {}, hash {})",
        ciphertext.len(),
        reply.status,
        stored["hash"].as_str().unwrap_or("?")
    );

    let retrieve = Request::Retrieve(RetrieveParams::signed(&bob, 0, now, None));
    let reply = connection
        .post("/storage_rpc/v1", retrieve.to_json(), TIMEOUT)
        .await?;
    let inbox: RetrieveResponse = serde_json::from_slice(&reply.body)?;
    println!(
        "Bob <- node: {} message(s) in his inbox",
        inbox.messages.len()
    );
    for message in inbox.messages {
        let received = decode_text_message(&bob, &STANDARD.decode(message.data)?)?;
        println!(
            "Bob reads {:?} from {} ({}), verified",
            received.text,
            received.display_name.as_deref().unwrap_or("?"),
            received.sender
        );
    }

    node.shutdown().await;
    std::fs::remove_dir_all(&data_dir)?;
    Ok(())
}
