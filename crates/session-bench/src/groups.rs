//! Groups v2 figures: how long until every member of a 100-member group holds a message (on
//! the live network), and for a 1,000-member group (ten times Session's limit) what a message,
//! a new key and the keys message cost, each against a 1:1 message measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_client::Messenger;
use session_crypto::group_keys::{build_keys_message, GroupIdentity, GroupKey};
use session_crypto::group_message::encrypt_for_group;
use session_crypto::{AccountId, Ed25519Seed, IdentityKeyPair, OsRng};
use session_testnet::client::new_messenger;
use session_testnet::Testnet;
use session_wire::{encode_text_message, OutgoingText};

use crate::measure::{millis, quantile, Row};
use crate::suite::Error;

/// The groups figures alone, on a network of their own.
pub async fn run(quick: bool) -> Result<Vec<Row>, Error> {
    let samples = if quick { 200 } else { 1000 };
    let mut rows = thousand_members(samples)?;
    let net = Testnet::start(session_testnet::TestnetConfig::default()).await?;
    rows.push(hundred_members(&net, if quick { 3 } else { 10 }).await?);
    net.shutdown().await;
    Ok(rows)
}

/// Members synced at once.
const CONCURRENCY: usize = 10;

fn text_of(len: usize) -> String {
    "a".repeat(len)
}

/// Median microseconds of `run` over `samples` calls (after 5 warm-up calls).
fn micros(samples: usize, mut run: impl FnMut() -> Result<(), Error>) -> Result<f64, Error> {
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 5 {
        let started = Instant::now();
        run()?;
        if i >= 5 {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(quantile(&mut times, 0.5))
}

/// The sans-IO costs for a 1,000-member group (no network): one message, one new key, the keys
/// message's size; the reference is a 1:1 message of the same text.
pub fn thousand_members(samples: usize) -> Result<Vec<Row>, Error> {
    let group = GroupIdentity::from_seed(Ed25519Seed::generate(&mut OsRng));
    let members: Vec<AccountId> = (0..1000)
        .map(|_| Ed25519Seed::generate(&mut OsRng).key_pair().account_id())
        .collect();
    let sender = Ed25519Seed::generate(&mut OsRng).key_pair();
    let text = text_of(200);
    let key = GroupKey::new(0, [3; 32]);
    let id = group.id();
    let one_to_one = |keys: &IdentityKeyPair| -> Result<Vec<u8>, Error> {
        let outgoing = OutgoingText {
            text: &text,
            display_name: Some("bench"),
            timestamp_ms: 1,
        };
        Ok(encode_text_message(
            keys,
            &members[0],
            outgoing,
            &mut OsRng,
        )?)
    };
    let dm_us = micros(samples, || one_to_one(&sender).map(|_| ()))?;
    let dm_bytes = one_to_one(&sender)?.len() as f64;
    let send_us = micros(samples, || {
        encrypt_for_group(&sender, &id, &key, text.as_bytes(), true, &mut OsRng)?;
        Ok(())
    })?;
    let rekey_samples = (samples / 20).max(5);
    let mut generation = 0;
    let rekey_us = micros(rekey_samples, || {
        generation += 1;
        build_keys_message(&group, generation, &members)?;
        Ok(())
    })?;
    let keys_bytes = build_keys_message(&group, 1, &members)?.0.len() as f64;
    let row = |name: &str, median: f64, unit: &str, reference: f64, reference_unit: &str| Row {
        name: name.into(),
        median,
        p99: None,
        unit: unit.into(),
        reference_name: "a 1:1 message of the same 200-byte text".into(),
        reference,
        reference_unit: reference_unit.into(),
        ratio: reference / median,
        target: "-".into(),
        meets_target: true,
    };
    Ok(vec![
        row(
            "1,000-member group: encrypt one message (same cost for any size)",
            send_us,
            "µs",
            dm_us,
            "µs",
        ),
        row(
            "1,000-member group: new key (keys message for 1,000, signed)",
            rekey_us / 1000.0,
            "ms",
            dm_us / 1000.0,
            "ms",
        ),
        row(
            "1,000-member group: keys message size (1,035 padded entries)",
            keys_bytes / 1024.0,
            "KiB",
            dm_bytes / 1024.0,
            "KiB",
        ),
    ])
}

async fn each_sync(
    members: &[Arc<Messenger>],
    group: session_crypto::group_keys::GroupId,
    text: &str,
    started: Instant,
) -> Result<Vec<Duration>, Error> {
    let mut held = Vec::with_capacity(members.len());
    for chunk in members.chunks(CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for m in chunk {
            let (m, text) = (m.clone(), text.to_owned());
            set.spawn(async move {
                for _ in 0..5 {
                    let report = m.sync_group(&group).await?;
                    if report.new.iter().any(|n| n.text == text) {
                        return Ok::<_, session_client::GroupError>(Some(started.elapsed()));
                    }
                }
                Ok(None)
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined?? {
                Some(t) => held.push(t),
                None => return Err(format!("{text:?} did not reach a member").into()),
            }
        }
    }
    Ok(held)
}

/// Every member of a 100-member group on the live network: the time from the send until each
/// member holds the message (members sync 10 at a time from this one process), against a 1:1
/// send and fetch in the same run.
pub async fn hundred_members(net: &Testnet, messages: usize) -> Result<Row, Error> {
    let dir = tempfile::tempdir()?;
    let mut all = Vec::new();
    for i in 0..100 {
        all.push(Arc::new(
            new_messenger(net, &dir.path().join(format!("m{i}")), |_| {}).await?,
        ));
    }
    let admin = all[0].clone();
    let group = admin.create_group("bench", "").await?;
    let ids: Vec<AccountId> = all[1..].iter().map(|m| m.account_id()).collect();
    admin.invite_to_group(&group, &ids).await?;
    for chunk in all[1..].chunks(CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for m in chunk {
            let m = m.clone();
            set.spawn(async move {
                m.sync_group_invites().await?;
                m.accept_group(&group).await
            });
        }
        while let Some(joined) = set.join_next().await {
            joined??;
        }
    }
    admin.sync_group(&group).await?;
    let mut holds = Vec::new();
    let mut reference = Vec::new();
    for i in 0..messages {
        let text = format!("group benchmark {i}");
        let started = Instant::now();
        all[i % 100].send_group(&group, &text).await?;
        let others: Vec<Arc<Messenger>> = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i % 100)
            .map(|(_, m)| m.clone())
            .collect();
        holds.extend(each_sync(&others, group, &text, started).await?);
        // The same run's 1:1 reference: a send and the recipient's fetch.
        let started = Instant::now();
        let (a, b) = (&all[1], &all[2]);
        let dm = format!("direct benchmark {i}");
        a.send(&b.account_id(), &dm).await?;
        for _ in 0..5 {
            if b.sync().await?.new.iter().any(|m| m.text == dm) {
                break;
            }
        }
        reference.push(started.elapsed());
    }
    let (p50, p99) = millis(&holds);
    let (reference_p50, _) = millis(&reference);
    Ok(Row {
        name: format!(
            "100-member group: send until each of the 99 others holds it ({messages} messages, members syncing 10 at a time)"
        ),
        median: p50,
        p99: Some(p99),
        unit: "ms".into(),
        reference_name: "a 1:1 send + fetch".into(),
        reference: reference_p50,
        reference_unit: "ms".into(),
        ratio: reference_p50 / p50,
        target: "-".into(),
        meets_target: true,
    })
}
