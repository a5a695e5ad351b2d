//! What exists so far, end to end without a network: two fresh accounts, one message encrypted
//! into the bytes a swarm would store, the swarm that would hold it, and the recipient reading it.
//!
//! Run: `cargo run --release -p session-swarm --example demo`

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::{Ed25519PublicKey, Ed25519Seed, OsRng};
use session_swarm::{assign, select_swarm, swarm_space_of_account, Assignment, SwarmConfig};
use session_wire::{decode_text_message, encode_text_message, message_hash, OutgoingText};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = OsRng;
    let alice_seed = Ed25519Seed::generate(&mut rng);
    let alice = alice_seed.key_pair();
    let bob = Ed25519Seed::generate(&mut rng).key_pair();
    println!("Alice's Account ID: {}", alice.account_id());
    println!("Bob's Account ID:   {}", bob.account_id());
    println!(
        "Alice's recovery phrase has {} words (a throwaway demo account, so it is not shown).",
        alice_seed.to_phrase().split(' ').count()
    );

    let timestamp_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let text = "Hello Bob, this is end-to-end encrypted.";
    let outgoing = OutgoingText {
        text,
        display_name: Some("Alice"),
        timestamp_ms,
    };
    let stored = encode_text_message(&alice, &bob.account_id(), outgoing, &mut rng)?;
    let hash = message_hash(&bob.account_id().to_bytes33(), 0, &stored);
    println!(
        "\nAlice -> Bob: {} bytes of text became {} bytes of ciphertext (base64 {} chars), hash {}",
        text.len(),
        stored.len(),
        STANDARD.encode(&stored).len(),
        hash
    );

    // A made-up network of 50 nodes, assigned to swarms as every node would compute it.
    let nodes: Vec<Ed25519PublicKey> = (0..50u32)
        .map(|i| Ed25519PublicKey(session_crypto::hash::blake2b_32(&[&i.to_le_bytes()])))
        .collect();
    let network = assign(&Assignment::empty(), &nodes, SwarmConfig::REFERENCE);
    let space = swarm_space_of_account(&bob.account_id());
    let swarm = select_swarm(&network.swarm_ids(), space).ok_or("no swarms")?;
    println!(
        "In a 50-node network ({} swarms), Bob's messages live in swarm {swarm:016x} ({} nodes).",
        network.len(),
        network.members(swarm).count()
    );

    let received = decode_text_message(&bob, &stored)?;
    println!(
        "\nBob reads: {:?} from {} ({}), sent at {} ms",
        received.text,
        received.display_name.as_deref().unwrap_or("?"),
        received.sender,
        received.timestamp_ms
    );
    assert_eq!(received.sender, alice.account_id());
    Ok(())
}
