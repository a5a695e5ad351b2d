//! Deterministic assignment of service nodes to swarms.
//!
//! [`assign`] takes the previous assignment and the current node list and returns the next one.
//! Existing members stay where they are, so a change to the list moves as few nodes (and so as
//! little data) as possible:
//! 1. nodes no longer listed leave their swarms;
//! 2. swarms under the minimum take new nodes, or nodes from swarms above the ideal size, and are
//!    dissolved into the others when that is not enough (if the others have room below the
//!    maximum);
//! 3. new nodes join the smallest swarms below the ideal size;
//! 4. once the new nodes and the excess above the ideal size reach an ideal swarm's worth, new
//!    swarms split off;
//! 5. the rest join the smallest swarms below the maximum (or, when all are full, form a swarm of
//!    their own).
//!
//! Every listed node ends in exactly one swarm. New swarm ids split the widest gap on the ring, so
//! ids stay evenly spread. The same inputs always give the same output.

use std::collections::{BTreeMap, BTreeSet};

use session_crypto::Ed25519PublicKey;

use crate::space::SwarmId;

/// Swarm sizes: the reference uses 5 (minimum), 7 (ideal) and 10 (maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmConfig {
    min: usize,
    ideal: usize,
    max: usize,
}

/// Swarm sizes that do not satisfy `1 <= min <= ideal <= max`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("swarm sizes must satisfy 1 <= min ({min}) <= ideal ({ideal}) <= max ({max})")]
pub struct SwarmConfigError {
    min: usize,
    ideal: usize,
    max: usize,
}

impl SwarmConfig {
    /// The reference network's sizes: 5, 7, 10.
    pub const REFERENCE: Self = Self {
        min: 5,
        ideal: 7,
        max: 10,
    };

    /// Custom sizes, for example small swarms for a local network.
    pub fn new(min: usize, ideal: usize, max: usize) -> Result<Self, SwarmConfigError> {
        if 1 <= min && min <= ideal && ideal <= max {
            Ok(Self { min, ideal, max })
        } else {
            Err(SwarmConfigError { min, ideal, max })
        }
    }

    /// The minimum size.
    pub fn min(&self) -> usize {
        self.min
    }

    /// The ideal size.
    pub fn ideal(&self) -> usize {
        self.ideal
    }

    /// The maximum size.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Default for SwarmConfig {
    fn default() -> Self {
        Self::REFERENCE
    }
}

/// Which nodes form which swarm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    swarms: BTreeMap<SwarmId, BTreeSet<Ed25519PublicKey>>,
}

impl Assignment {
    /// An assignment with no swarms (the start of a network).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Rebuilds an assignment from known swarms (for example, as published in a node list).
    pub fn from_swarms(swarms: impl IntoIterator<Item = (SwarmId, Vec<Ed25519PublicKey>)>) -> Self {
        Self {
            swarms: swarms
                .into_iter()
                .map(|(id, nodes)| (id, nodes.into_iter().collect()))
                .filter(|(_, nodes): &(SwarmId, BTreeSet<_>)| !nodes.is_empty())
                .collect(),
        }
    }

    /// The swarm ids, ascending (the input of [`crate::select_swarm`]).
    pub fn swarm_ids(&self) -> Vec<SwarmId> {
        self.swarms.keys().copied().collect()
    }

    /// The members of a swarm, in key order.
    pub fn members(&self, swarm: SwarmId) -> impl Iterator<Item = &Ed25519PublicKey> {
        self.swarms.get(&swarm).into_iter().flatten()
    }

    /// The swarm a node belongs to.
    pub fn swarm_of(&self, node: &Ed25519PublicKey) -> Option<SwarmId> {
        self.swarms
            .iter()
            .find(|(_, members)| members.contains(node))
            .map(|(id, _)| *id)
    }

    /// Every swarm with its members.
    pub fn swarms(&self) -> impl Iterator<Item = (SwarmId, &BTreeSet<Ed25519PublicKey>)> {
        self.swarms.iter().map(|(id, members)| (*id, members))
    }

    /// Number of swarms.
    pub fn len(&self) -> usize {
        self.swarms.len()
    }

    /// Whether there are no swarms.
    pub fn is_empty(&self) -> bool {
        self.swarms.is_empty()
    }

    fn smallest_where(&self, keep: impl Fn(usize) -> bool) -> Option<SwarmId> {
        self.swarms
            .iter()
            .filter(|(_, m)| keep(m.len()))
            .min_by_key(|(id, m)| (m.len(), **id))
            .map(|(id, _)| *id)
    }

    fn largest_where(&self, keep: impl Fn(usize) -> bool) -> Option<SwarmId> {
        self.swarms
            .iter()
            .filter(|(_, m)| keep(m.len()))
            .max_by_key(|(id, m)| (m.len(), std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    }

    /// Removes and returns the highest-keyed member of a swarm.
    fn take_from(&mut self, swarm: SwarmId) -> Option<Ed25519PublicKey> {
        self.swarms.get_mut(&swarm)?.pop_last()
    }

    fn add_to(&mut self, swarm: SwarmId, node: Ed25519PublicKey) {
        self.swarms.entry(swarm).or_default().insert(node);
    }

    /// The id of a new swarm: the middle of the widest gap between existing ids (wrapping).
    fn new_swarm_id(&self) -> SwarmId {
        let ids: Vec<SwarmId> = self.swarms.keys().copied().collect();
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return 0;
        };
        // The wrap-around gap from the last id to the first.
        let mut best = (first.wrapping_sub(last), last);
        if ids.len() == 1 {
            best = (u64::MAX, last);
        }
        for pair in ids.windows(2) {
            if let [a, b] = pair {
                if b - a > best.0 {
                    best = (b - a, *a);
                }
            }
        }
        best.1.wrapping_add(best.0 / 2 + best.0 % 2)
    }
}

/// The next assignment of `nodes` to swarms, starting from `previous`.
pub fn assign(
    previous: &Assignment,
    nodes: &[Ed25519PublicKey],
    config: SwarmConfig,
) -> Assignment {
    let listed: BTreeSet<Ed25519PublicKey> = nodes.iter().copied().collect();
    let mut next = Assignment {
        swarms: previous
            .swarms
            .iter()
            .map(|(id, members)| (*id, members.intersection(&listed).copied().collect()))
            .filter(|(_, members): &(SwarmId, BTreeSet<_>)| !members.is_empty())
            .collect(),
    };
    let placed: BTreeSet<Ed25519PublicKey> = next.swarms.values().flatten().copied().collect();
    // Nodes waiting for a swarm, taken from the back: the lowest key is placed first.
    let mut waiting: Vec<Ed25519PublicKey> = listed.difference(&placed).copied().collect();
    waiting.reverse();

    rescue_starving_swarms(&mut next, &mut waiting, config);

    while let Some(swarm) = next.smallest_where(|len| len < config.ideal) {
        let Some(node) = waiting.pop() else { break };
        next.add_to(swarm, node);
    }

    split_new_swarms(&mut next, &mut waiting, config);

    while let Some(node) = waiting.pop() {
        match next.smallest_where(|len| len < config.max) {
            Some(swarm) => next.add_to(swarm, node),
            None => {
                // Every swarm is full: the rest form a new swarm, even if small.
                let id = next.new_swarm_id();
                next.add_to(id, node);
                while let Some(node) = waiting.pop() {
                    next.add_to(id, node);
                }
                // It may take nodes from swarms above the ideal size.
                rescue_starving_swarms(&mut next, &mut waiting, config);
            }
        }
    }
    next
}

/// Brings swarms under the minimum up to it: first with waiting nodes, then with nodes from swarms
/// above the ideal size; a swarm that still falls short is dissolved into the others when they have
/// room for its members below the maximum, and kept otherwise.
fn rescue_starving_swarms(
    next: &mut Assignment,
    waiting: &mut Vec<Ed25519PublicKey>,
    config: SwarmConfig,
) {
    let mut kept = BTreeSet::new();
    loop {
        let Some(starving) = next
            .swarms
            .iter()
            .filter(|(id, m)| m.len() < config.min && !kept.contains(*id))
            .min_by_key(|(id, m)| (m.len(), **id))
            .map(|(id, _)| *id)
        else {
            return;
        };
        if let Some(node) = waiting.pop() {
            next.add_to(starving, node);
            continue;
        }
        if let Some(donor) = next.largest_where(|len| len > config.ideal) {
            if let Some(node) = next.take_from(donor) {
                next.add_to(starving, node);
                continue;
            }
        }
        let size = next.swarms.get(&starving).map_or(0, BTreeSet::len);
        let room: usize = next
            .swarms
            .iter()
            .filter(|(id, _)| **id != starving)
            .map(|(_, m)| config.max.saturating_sub(m.len()))
            .sum();
        if room < size {
            kept.insert(starving);
            continue;
        }
        // Dissolve: each member joins the smallest remaining swarm below the maximum.
        let members = next.swarms.remove(&starving).unwrap_or_default();
        for node in members {
            if let Some(swarm) = next.smallest_where(|len| len < config.max) {
                next.add_to(swarm, node);
            }
        }
    }
}

/// Splits off new swarms of the ideal size while the waiting nodes and the excess above the ideal
/// size of existing swarms add up to one.
fn split_new_swarms(
    next: &mut Assignment,
    waiting: &mut Vec<Ed25519PublicKey>,
    config: SwarmConfig,
) {
    loop {
        let excess: usize = next
            .swarms
            .values()
            .map(|m| m.len().saturating_sub(config.ideal))
            .sum();
        if waiting.len() + excess < config.ideal || (next.is_empty() && waiting.is_empty()) {
            return;
        }
        let id = next.new_swarm_id();
        for _ in 0..config.ideal {
            if let Some(node) = waiting.pop() {
                next.add_to(id, node);
            } else if let Some(donor) = next.largest_where(|len| len > config.ideal) {
                if let Some(node) = next.take_from(donor) {
                    next.add_to(id, node);
                }
            }
        }
    }
}
