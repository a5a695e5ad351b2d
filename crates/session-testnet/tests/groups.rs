//! Closed groups (groups v2) on a real network: each member a messenger of its own (own keys,
//! own encrypted database, own onion client), all in this process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_client::{
    GroupError, GroupState, MemberState, Messenger, GROUP_MEMBERS_NAMESPACE,
    GROUP_MESSAGES_NAMESPACE,
};
use session_crypto::group_keys::GroupId;
use session_crypto::group_message::{decrypt_group_message, encrypt_for_group};
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use session_testnet::client::new_messenger;
use session_testnet::{Testnet, TestnetConfig};
use tokio::task::JoinSet;

async fn members(net: &Testnet, dir: &std::path::Path, count: usize) -> Vec<Arc<Messenger>> {
    let mut out = Vec::new();
    for i in 0..count {
        let m = new_messenger(net, &dir.join(format!("m{i}")), |c| {
            c.timeout = Duration::from_secs(10)
        })
        .await
        .unwrap();
        out.push(Arc::new(m));
    }
    out
}

/// Runs `f` on every messenger concurrently (a few at a time), collecting the results in order.
async fn each<T, F, Fut>(all: &[Arc<Messenger>], f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<Messenger>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut out: Vec<Option<T>> = (0..all.len()).map(|_| None).collect();
    for (chunk_index, chunk) in all.chunks(10).enumerate() {
        let mut set = JoinSet::new();
        for (i, m) in chunk.iter().enumerate() {
            let fut = f(m.clone());
            set.spawn(async move { (chunk_index * 10 + i, fut.await) });
        }
        while let Some(r) = set.join_next().await {
            let (i, v) = r.unwrap();
            out[i] = Some(v);
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

async fn join(admin: &Messenger, group: &GroupId, invitees: &[Arc<Messenger>]) {
    let ids: Vec<AccountId> = invitees.iter().map(|m| m.account_id()).collect();
    admin.invite_to_group(group, &ids).await.unwrap();
    let group = *group;
    each(invitees, move |m| async move {
        let invites = m.sync_group_invites().await.unwrap();
        assert!(invites.contains(&group));
        m.accept_group(&group).await.unwrap();
    })
    .await;
    admin.sync_group(&group).await.unwrap();
}

fn state_of(admin: &Messenger, group: &GroupId, who: &AccountId) -> Option<(MemberState, bool)> {
    admin
        .group_members(group)
        .unwrap()
        .into_iter()
        .find(|m| m.account_id == *who)
        .map(|m| (m.state, m.admin))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_members_each_receive_every_message_exactly_once() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let all = members(&net, dir.path(), 100).await;
    let admin = all[0].clone();
    let group = admin.create_group("hundred", "a big one").await.unwrap();
    join(&admin, &group, &all[1..]).await;
    let listed = admin.group_members(&group).unwrap();
    assert_eq!(listed.len(), 100);
    assert!(
        listed.iter().all(|m| m.state == MemberState::Joined),
        "every invitee joined"
    );

    let senders = [0usize, 1, 50, 99];
    let mut sent = Vec::new();
    for (n, &s) in senders.iter().enumerate() {
        let message = all[s]
            .send_group(&group, &format!("message {n} from {s}"))
            .await
            .unwrap();
        sent.push(message.hash);
    }
    let started = Instant::now();
    // Two rounds of syncing: the second must bring nothing new.
    let first = each(&all, move |m| async move {
        m.sync_group(&group).await.unwrap().new.len()
    })
    .await;
    let second = each(&all, move |m| async move {
        m.sync_group(&group).await.unwrap().new.len()
    })
    .await;
    let elapsed = started.elapsed();
    for (i, m) in all.iter().enumerate() {
        let history = m.group_history(&group, 1000).unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for h in &history {
            *counts.entry(h.hash.as_str()).or_default() += 1;
        }
        for hash in &sent {
            assert_eq!(
                counts.get(hash.as_str()),
                Some(&1),
                "member {i} holds each message once"
            );
        }
        assert_eq!(history.len(), sent.len(), "member {i}");
        let own = senders.iter().filter(|&&s| s == i).count();
        assert_eq!(first[i], sent.len() - own, "member {i}'s first sync");
        assert_eq!(second[i], 0, "member {i}'s second sync brings nothing new");
    }
    println!(
        "100 members: every member held all {} messages after {elapsed:?}",
        sent.len()
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removal_promotion_late_joining_and_forgeries() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let all = members(&net, dir.path(), 4).await;
    let (alice, bob, carol, dave) = (&all[0], &all[1], &all[2], &all[3]);
    let group = alice.create_group("club", "").await.unwrap();
    join(alice, &group, &all[1..3]).await;
    let before = alice.send_group(&group, "before").await.unwrap();
    for m in [bob, carol] {
        assert_eq!(m.sync_group(&group).await.unwrap().new.len(), 1);
    }

    // Repeated invitations and acceptances change nothing.
    alice
        .invite_to_group(&group, &[bob.account_id()])
        .await
        .unwrap();
    bob.sync_group_invites().await.unwrap();
    bob.accept_group(&group).await.unwrap();
    alice.sync_group(&group).await.unwrap();
    assert_eq!(
        state_of(alice, &group, &bob.account_id()),
        Some((MemberState::Joined, false))
    );
    assert_eq!(bob.group(&group).unwrap().state, GroupState::Joined);

    // Alice promotes Bob; Bob, now an admin, removes Carol.
    alice
        .promote_in_group(&group, &bob.account_id())
        .await
        .unwrap();
    bob.sync_group_invites().await.unwrap();
    assert!(bob.group(&group).unwrap().admin);
    bob.sync_group(&group).await.unwrap();
    bob.remove_from_group(&group, &[carol.account_id()])
        .await
        .unwrap();
    alice.sync_group(&group).await.unwrap();
    assert_eq!(
        state_of(alice, &group, &carol.account_id()),
        Some((MemberState::Removed, false))
    );
    let after = alice.send_group(&group, "after").await.unwrap();

    // Carol, with every key she ever held and everything she ever received, cannot read it.
    let carol_keys = carol.group_keys(&group).unwrap();
    let carol_sync = carol.sync_group(&group).await.unwrap();
    assert!(carol_sync.new.is_empty());
    assert_eq!(carol.group(&group).unwrap().state, GroupState::Removed);
    let mut carol_held = carol_keys.clone();
    carol_held.extend(carol.group_keys(&group).unwrap());
    let raw = alice
        .group_fetch_raw(&group, GROUP_MESSAGES_NAMESPACE)
        .await
        .unwrap();
    let readable: Vec<_> = raw
        .iter()
        .filter_map(|bytes| decrypt_group_message(&carol_held, &group, bytes).ok())
        .collect();
    assert!(!raw.is_empty());
    assert!(readable
        .iter()
        .all(|m| !String::from_utf8_lossy(&m.plaintext).contains("after")));
    let alice_keys = alice.group_keys(&group).unwrap();
    let newest = alice_keys.first().unwrap();
    assert!(
        carol_held.iter().all(|k| k.bytes() != newest.bytes()),
        "the new key reached no removed member"
    );
    // ... and her token no longer reads the group's messages.
    match carol
        .group_fetch_raw(&group, GROUP_MESSAGES_NAMESPACE)
        .await
    {
        Err(GroupError::Messenger(e)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("a revoked token still reads: {other:?}"),
    }
    assert!(carol
        .group_history(&group, 10)
        .unwrap()
        .iter()
        .all(|m| m.hash != after.hash));

    // Dave, invited later, reads from his joining on.
    join(alice, &group, std::slice::from_ref(dave)).await;
    let welcome = bob.send_group(&group, "welcome dave").await.unwrap();
    dave.sync_group(&group).await.unwrap();
    let dave_history: Vec<String> = dave
        .group_history(&group, 10)
        .unwrap()
        .into_iter()
        .map(|m| m.hash)
        .collect();
    assert!(dave_history.contains(&welcome.hash));
    assert!(dave_history.contains(&after.hash));
    let _ = before;

    // Dave is no admin: his client refuses, and the nodes refuse his token on the member list.
    assert!(matches!(
        dave.remove_from_group(&group, &[alice.account_id()]).await,
        Err(GroupError::NotAdmin)
    ));
    let forger = Ed25519Seed::generate(&mut OsRng).key_pair();
    let forged_list = b"d1:#i999e1:mlee".to_vec();
    let forged =
        encrypt_for_group(&forger, &group, newest, &forged_list, false, &mut OsRng).unwrap();
    let refused = dave
        .group_store_raw(&group, GROUP_MEMBERS_NAMESPACE, &forged)
        .await;
    match refused {
        Err(GroupError::Messenger(e)) => assert!(e.to_string().contains("401"), "{e}"),
        other => panic!("a member wrote the member list: {other:?}"),
    }
    // A forgery put where members may write is ignored by every client.
    dave.group_store_raw(&group, GROUP_MESSAGES_NAMESPACE, &forged)
        .await
        .unwrap();
    for m in [alice, bob, dave] {
        m.sync_group(&group).await.unwrap();
        assert_eq!(
            m.group_members(&group).unwrap().len(),
            4,
            "nobody was kicked"
        );
        assert_eq!(
            state_of(m, &group, &alice.account_id()).map(|s| s.0),
            Some(MemberState::Joined)
        );
    }

    // Dave leaves: an admin's next sync removes him with a new key he does not get.
    let generation = alice.group_keys(&group).unwrap()[0].generation;
    dave.leave_group(&group).await.unwrap();
    assert_eq!(dave.group(&group).unwrap().state, GroupState::Left);
    alice.sync_group(&group).await.unwrap();
    assert_eq!(
        state_of(alice, &group, &dave.account_id()),
        Some((MemberState::Removed, false))
    );
    assert!(alice.group_keys(&group).unwrap()[0].generation > generation);
    // An admin deletes the group: the other admin's client sees it deleted.
    alice.delete_group(&group).await.unwrap();
    bob.sync_group(&group).await.unwrap();
    assert_eq!(bob.group(&group).unwrap().state, GroupState::Deleted);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_twenty_member_group_loses_and_duplicates_nothing_while_swarm_nodes_crash() {
    let mut net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let all = members(&net, dir.path(), 20).await;
    let admin = all[0].clone();
    let group = admin.create_group("soak", "").await.unwrap();
    join(&admin, &group, &all[1..]).await;
    let swarm = net.swarm_members_for(group.ed25519().as_bytes());
    assert!(swarm.len() >= 3);
    let mut sent = Vec::new();
    let mut failed = 0;
    for round in 0..12usize {
        // Crash one member of the group's swarm every few messages, and bring it back later.
        let victim = swarm[round % swarm.len()];
        if round % 3 == 0 {
            net.kill(victim).unwrap();
        }
        match all[round % all.len()]
            .send_group(&group, &format!("soak {round}"))
            .await
        {
            Ok(m) => sent.push(m.hash),
            Err(_) => failed += 1,
        }
        if round % 3 == 2 {
            net.restart(swarm[(round - 2) % swarm.len()]).await.unwrap();
        }
    }
    for &i in &swarm {
        if !net.is_running(i) {
            net.restart(i).await.unwrap();
        }
    }
    assert!(sent.len() >= 10, "{failed} sends failed");
    // Every member syncs until it holds everything sent; nothing arrives twice.
    let want = sent.clone();
    let counts = each(&all, move |m| {
        let want = want.clone();
        async move {
            for _ in 0..10 {
                let _ = m.sync_group(&group).await;
                let history = m.group_history(&group, 1000).unwrap();
                if want.iter().all(|h| history.iter().any(|m| m.hash == *h)) {
                    return history;
                }
            }
            m.group_history(&group, 1000).unwrap()
        }
    })
    .await;
    for (i, history) in counts.iter().enumerate() {
        for hash in &sent {
            let n = history.iter().filter(|m| m.hash == *hash).count();
            assert_eq!(n, 1, "member {i}: message {hash} held {n} times");
        }
    }
    println!(
        "20 members under {} crashes: {} messages sent, {failed} refused at send, 0 lost, 0 duplicated",
        12 / 3,
        sent.len()
    );
    net.shutdown().await;
}
