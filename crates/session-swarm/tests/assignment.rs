//! Properties of the swarm assignment: coverage, sizes, determinism and stability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use session_crypto::Ed25519PublicKey;
use session_swarm::{assign, select_swarm, Assignment, SwarmConfig};

fn node(i: u32) -> Ed25519PublicKey {
    // Spread keys with a hash so that their order is not their creation order.
    Ed25519PublicKey(session_crypto::hash::blake2b_32(&[&i.to_le_bytes()]))
}

fn nodes(range: std::ops::Range<u32>) -> Vec<Ed25519PublicKey> {
    range.map(node).collect()
}

/// Every listed node is in exactly one swarm, and no unlisted node is in any.
fn check_partition(assignment: &Assignment, listed: &[Ed25519PublicKey]) {
    let mut seen = BTreeSet::new();
    for (_, members) in assignment.swarms() {
        for member in members {
            assert!(seen.insert(*member), "node in two swarms");
        }
    }
    assert_eq!(seen, listed.iter().copied().collect::<BTreeSet<_>>());
}

fn sizes(assignment: &Assignment) -> Vec<usize> {
    assignment.swarms().map(|(_, m)| m.len()).collect()
}

#[test]
fn reference_sizes_for_typical_networks() {
    let config = SwarmConfig::REFERENCE;
    for (n, expected_swarms) in [(10u32, 1usize), (50, 7), (500, 71), (2000, 285)] {
        let list = nodes(0..n);
        let a = assign(&Assignment::empty(), &list, config);
        check_partition(&a, &list);
        assert_eq!(a.len(), expected_swarms, "{n} nodes");
        for size in sizes(&a) {
            assert!(
                (config.min()..=config.max()).contains(&size),
                "{n} nodes: size {size}"
            );
        }
        // Swarm ids are spread over the ring: every account maps to some swarm.
        let ids = a.swarm_ids();
        assert!(select_swarm(&ids, 12345).is_some());
    }
}

#[test]
fn small_local_network_forms_several_swarms() {
    let config = SwarmConfig::new(3, 4, 6).unwrap();
    let list = nodes(0..12);
    let a = assign(&Assignment::empty(), &list, config);
    check_partition(&a, &list);
    assert_eq!(sizes(&a), vec![4, 4, 4]);
}

#[test]
fn tiny_network_has_one_swarm() {
    let list = nodes(0..3);
    let a = assign(&Assignment::empty(), &list, SwarmConfig::REFERENCE);
    check_partition(&a, &list);
    assert_eq!(a.len(), 1);
    assert!(assign(&Assignment::empty(), &[], SwarmConfig::REFERENCE).is_empty());
}

#[test]
fn bad_configs_are_refused() {
    assert!(SwarmConfig::new(0, 1, 1).is_err());
    assert!(SwarmConfig::new(5, 4, 10).is_err());
    assert!(SwarmConfig::new(5, 7, 6).is_err());
}

#[test]
fn one_new_node_moves_nobody() {
    let config = SwarmConfig::REFERENCE;
    let list = nodes(0..50);
    let before = assign(&Assignment::empty(), &list, config);
    let mut grown = list.clone();
    grown.push(node(1000));
    let after = assign(&before, &grown, config);
    check_partition(&after, &grown);
    for member in &list {
        assert_eq!(before.swarm_of(member), after.swarm_of(member));
    }
}

proptest! {
    #[test]
    fn churn_keeps_a_valid_partition(
        initial in 0u32..300,
        removed in proptest::collection::vec(0u32..300, 0..120),
        added in 0u32..100,
        min in 1usize..6,
        extra_ideal in 0usize..4,
        extra_max in 0usize..5,
    ) {
        let config = SwarmConfig::new(min, min + extra_ideal, min + extra_ideal + extra_max).unwrap();
        let list = nodes(0..initial);
        let first = assign(&Assignment::empty(), &list, config);
        check_partition(&first, &list);
        // The assignment is a fixed point: recomputing with the same list changes nothing.
        prop_assert_eq!(&assign(&first, &list, config), &first);

        let removed: BTreeSet<u32> = removed.into_iter().collect();
        let next_list: Vec<_> = (0..initial)
            .filter(|i| !removed.contains(i))
            .chain(10_000..10_000 + added)
            .map(node)
            .collect();
        let second = assign(&first, &next_list, config);
        check_partition(&second, &next_list);
        // A swarm stays below the minimum only when nothing can rescue it: no swarm above the
        // ideal size to take from, and too little room below the maximum to dissolve into.
        let all = sizes(&second);
        for (i, size) in all.iter().enumerate() {
            if *size < config.min() {
                let others = all.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, s)| *s);
                prop_assert!(others.clone().all(|s| s <= config.ideal()));
                let room: usize = others.map(|s| config.max() - s).sum();
                prop_assert!(room < *size, "swarm of {} could be dissolved", size);
            }
        }
        // Determinism: the same inputs give the same output.
        prop_assert_eq!(assign(&first, &next_list, config), second);
    }
}
