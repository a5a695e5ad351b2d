//! Waiting retrieves: a `retrieve` with `wait_ms` that finds nothing new is held until a store
//! lands in that account's namespace (from a client or from replication) or the wait ends.
//!
//! Held waits live in memory only (a restart ends them; clients re-subscribe) and are capped:
//! [`WaitLimits::max_total`] at once on the node and [`WaitLimits::max_per_source`] per source
//! (the listed node that relayed the request, or the client's address for a direct request), so
//! that one guard's clients, or one address, cannot take every slot. Past a cap the wait is
//! refused with 429 at once; ordinary requests are not affected. A held wait costs a map entry
//! per (account, namespace) with a waiter, a watch receiver and the task and connection the
//! request already holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use session_crypto::Ed25519PublicKey;
use tokio::sync::watch;

use crate::error::RpcError;
use crate::storage::Owner;

/// The caps of waiting retrieves (config section `[waits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitLimits {
    /// Longest a retrieve may be held, in milliseconds (longer requests are held this long).
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// Most waits held at once on this node.
    #[serde(default = "default_max_total")]
    pub max_total: usize,
    /// Most waits held at once for one source (a relaying node, or a client's address).
    #[serde(default = "default_max_per_source")]
    pub max_per_source: usize,
}

fn default_max_wait_ms() -> u64 {
    25_000
}
/// Half of the default `node_connections`: a wait relayed by a node holds one of the
/// connection slots kept for nodes, and replication needs the rest.
fn default_max_total() -> usize {
    512
}
/// Half of the default `max_connections_per_ip`, so that an address that holds its waits can
/// still make ordinary requests.
fn default_max_per_source() -> usize {
    64
}

impl Default for WaitLimits {
    fn default() -> Self {
        Self {
            max_wait_ms: default_max_wait_ms(),
            max_total: default_max_total(),
            max_per_source: default_max_per_source(),
        }
    }
}

/// Who a wait is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitSource {
    /// The listed node that relayed the onion request (the last relay of the client's path).
    Relay(Ed25519PublicKey),
    /// A direct client, by address.
    Client(IpAddr),
}

/// The held waits of one node and their wake-ups.
#[derive(Debug)]
pub struct Waits {
    limits: WaitLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// One wake-up channel per (account, namespace) someone waits on, with its waiter count.
    channels: HashMap<(Owner, i16), (watch::Sender<u64>, usize)>,
    per_source: HashMap<WaitSource, usize>,
    total: usize,
    closed: bool,
}

/// A held wait: its slot and its wake-up; both released when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    waits: &'a Waits,
    key: (Owner, i16),
    source: WaitSource,
    wakeup: watch::Receiver<u64>,
}

impl Waits {
    /// No waits held yet, with `limits`.
    pub fn new(limits: WaitLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// The caps.
    pub fn limits(&self) -> WaitLimits {
        self.limits
    }

    /// Waits held now.
    pub fn held(&self) -> usize {
        self.state.lock().map(|s| s.total).unwrap_or(0)
    }

    /// Takes a wait slot for `source` on `owner`'s `namespace`; 429 past a cap, 503 once the
    /// node is shutting down. Taken before the first look at the messages, so a store that
    /// lands between that look and the wait still wakes it.
    pub fn hold(
        &self,
        owner: &Owner,
        namespace: i16,
        source: WaitSource,
    ) -> Result<Held<'_>, RpcError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| RpcError::new(500, "wait registry unavailable"))?;
        if state.closed {
            return Err(RpcError::new(503, "the node is shutting down"));
        }
        if state.total >= self.limits.max_total {
            return Err(RpcError::new(
                429,
                format!(
                    "too many waiting retrieves on this node (at most {}); retrieve without wait_ms",
                    self.limits.max_total
                ),
            ));
        }
        let mine = state.per_source.get(&source).copied().unwrap_or(0);
        if mine >= self.limits.max_per_source {
            return Err(RpcError::new(
                429,
                format!(
                    "too many waiting retrieves from this source (at most {}); retrieve without wait_ms",
                    self.limits.max_per_source
                ),
            ));
        }
        state.total += 1;
        state.per_source.insert(source, mine + 1);
        let key = (*owner, namespace);
        let channel = state
            .channels
            .entry(key)
            .or_insert_with(|| (watch::channel(0).0, 0));
        channel.1 += 1;
        let wakeup = channel.0.subscribe();
        Ok(Held {
            waits: self,
            key,
            source,
            wakeup,
        })
    }

    /// Wakes every wait on `owner`'s `namespace` (a message was committed there).
    pub fn wake(&self, owner: &Owner, namespace: i16) {
        if let Ok(state) = self.state.lock() {
            if let Some((sender, _)) = state.channels.get(&(*owner, namespace)) {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Ends every held wait (they answer at once) and refuses new ones: the node stops.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
            for (sender, _) in state.channels.values() {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

impl Held<'_> {
    /// Returns when a store wakes this wait, or the node stops.
    pub async fn woken(&mut self) {
        // An error means the sender is gone, which cannot happen while this wait is counted
        // in its channel; return either way.
        let _ = self.wakeup.changed().await;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Ok(mut state) = self.waits.state.lock() else {
            return;
        };
        state.total = state.total.saturating_sub(1);
        if let Some(count) = state.per_source.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.per_source.remove(&self.source);
            }
        }
        if let Some(channel) = state.channels.get_mut(&self.key) {
            channel.1 = channel.1.saturating_sub(1);
            if channel.1 == 0 {
                state.channels.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Owner = [5; 33];
    const BOB: Owner = [7; 33];

    fn client(last: u8) -> WaitSource {
        WaitSource::Client(IpAddr::from([10, 0, 0, last]))
    }

    #[tokio::test]
    async fn a_store_wakes_only_its_account_and_namespace() {
        let waits = Waits::new(WaitLimits::default());
        let mut alice = waits.hold(&ALICE, 0, client(1)).unwrap();
        let mut other_ns = waits.hold(&ALICE, 2, client(1)).unwrap();
        waits.wake(&BOB, 0);
        waits.wake(&ALICE, 0);
        tokio::time::timeout(std::time::Duration::from_secs(1), alice.woken())
            .await
            .unwrap();
        let idle = tokio::time::timeout(std::time::Duration::from_millis(50), other_ns.woken());
        assert!(idle.await.is_err(), "namespace 2 was not stored to");
    }

    #[tokio::test]
    async fn a_store_before_the_wait_starts_still_wakes_it() {
        let waits = Waits::new(WaitLimits::default());
        let mut held = waits.hold(&ALICE, 0, client(1)).unwrap();
        waits.wake(&ALICE, 0);
        tokio::time::timeout(std::time::Duration::from_secs(1), held.woken())
            .await
            .unwrap();
    }

    #[test]
    fn caps_per_source_and_in_total_and_slots_come_back() {
        let waits = Waits::new(WaitLimits {
            max_wait_ms: 1000,
            max_total: 3,
            max_per_source: 2,
        });
        let a = waits.hold(&ALICE, 0, client(1)).unwrap();
        let _b = waits.hold(&BOB, 0, client(1)).unwrap();
        let refused = waits.hold(&ALICE, 0, client(1)).unwrap_err();
        assert_eq!(refused.status, 429);
        assert!(refused.message.contains("from this source"));
        let _c = waits.hold(&ALICE, 0, client(2)).unwrap();
        let full = waits.hold(&ALICE, 0, client(3)).unwrap_err();
        assert!(full.message.contains("on this node"));
        drop(a);
        assert_eq!(waits.held(), 2);
        let _d = waits.hold(&ALICE, 0, client(1)).unwrap();
        assert_eq!(waits.held(), 3);
    }

    #[test]
    fn the_registry_forgets_an_account_when_its_last_wait_ends() {
        let waits = Waits::new(WaitLimits::default());
        let held = waits.hold(&ALICE, 0, client(1)).unwrap();
        drop(held);
        let state = waits.state.lock().unwrap();
        assert!(state.channels.is_empty() && state.per_source.is_empty());
        assert_eq!(state.total, 0);
    }

    #[tokio::test]
    async fn closing_ends_waits_and_refuses_new_ones() {
        let waits = Waits::new(WaitLimits::default());
        let mut held = waits.hold(&ALICE, 0, client(1)).unwrap();
        waits.close();
        tokio::time::timeout(std::time::Duration::from_secs(1), held.woken())
            .await
            .unwrap();
        assert_eq!(waits.hold(&BOB, 0, client(1)).unwrap_err().status, 503);
    }
}
