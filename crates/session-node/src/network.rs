//! The node's view of the network: the current signed node list, which swarm owns an account,
//! and who this node's swarm peers are.
//!
//! A node configured with a registry key accepts a list only if that key signed it, it is newer
//! than the one held, and it assigns every node to exactly one swarm; anything else is refused and
//! the held list stays. The accepted list is saved in the data directory, so a restarted node
//! knows the network at once. Without a registry key a node is a network of one.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};
use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;
use session_swarm::{NodeEntry, NodeList, NodeListError, SignedNodeList, SwarmEntry};
use session_wire::rpc::SnodeInfo;
use tokio::sync::watch;

/// File name of the saved node list inside the data directory.
pub const NODE_LIST_FILE: &str = "node_list.json";
/// Lists kept after they were replaced: a node of an account's earlier swarm may still hand
/// that account over.
const EARLIER_LISTS: usize = 4;
/// Oldest earlier list a hand-over may cite (by its issue time).
pub const HAND_OVER_LIST_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

/// Where requests for an account belong.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// This node's swarm owns the account.
    Local,
    /// Another swarm owns it: the 421 body naming that swarm.
    Elsewhere(Value),
}

/// The current list and what follows from it.
pub struct Network {
    me: Ed25519PublicKey,
    own_listing: SnodeInfo,
    registry: Option<Ed25519PublicKey>,
    path: PathBuf,
    current: RwLock<Option<(Arc<NodeList>, SignedNodeList)>>,
    /// Lists replaced recently (or cited by a hand-over), newest first.
    earlier: RwLock<Vec<(Arc<NodeList>, SignedNodeList)>>,
    changed: watch::Sender<u64>,
}

impl Network {
    /// Starts from the list saved in `data_dir`, if there is a valid one.
    pub fn load(
        me: Ed25519PublicKey,
        own_listing: SnodeInfo,
        registry: Option<Ed25519PublicKey>,
        data_dir: &std::path::Path,
    ) -> Self {
        let path = data_dir.join(NODE_LIST_FILE);
        let saved = registry.and_then(|key| {
            let text = std::fs::read(&path).ok()?;
            let signed: SignedNodeList = serde_json::from_slice(&text).ok()?;
            let list = signed.verify(&key, None).ok()?;
            // The node's own newest list is used whatever its age (a newer one from the seeds
            // replaces it at once); an old one is worth a word to the operator.
            let age_ms = crate::server::now_ms().saturating_sub(list.issued_ms);
            if age_ms > session_swarm::MAX_FIRST_LIST_AGE_MS {
                tracing::warn!(
                    age_days = age_ms / (24 * 3600 * 1000),
                    version = list.version,
                    "the saved node list is old; waiting for a newer one from the seed nodes"
                );
            }
            Some((Arc::new(list), signed))
        });
        let version = saved.as_ref().map_or(0, |(l, _)| l.version);
        Self {
            me,
            own_listing,
            registry,
            path,
            current: RwLock::new(saved),
            earlier: RwLock::new(Vec::new()),
            changed: watch::channel(version).0,
        }
    }

    /// The current list, if any.
    pub fn list(&self) -> Option<Arc<NodeList>> {
        self.current.read().ok()?.as_ref().map(|(l, _)| l.clone())
    }

    /// The current list in its signed form (what seeds serve).
    pub fn signed(&self) -> Option<SignedNodeList> {
        self.current.read().ok()?.as_ref().map(|(_, s)| s.clone())
    }

    /// A receiver told the version of every list accepted.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Verifies and adopts a newer list; the held list stays on any error.
    pub fn accept(&self, signed: SignedNodeList) -> Result<u64, NodeListError> {
        let registry = self.registry.ok_or(NodeListError::BadSignature)?;
        let mut current = self
            .current
            .write()
            .map_err(|_| NodeListError::Invalid("node list lock poisoned".into()))?;
        let held = current.as_ref().map(|(l, _)| l.version);
        // A node with no list takes only a recent one as its first: an old list replayed to a
        // fresh node could point it at nodes long gone. With a list held, any newer one wins.
        let list = match held {
            Some(_) => signed.verify(&registry, held)?,
            None => signed.verify_first(
                &registry,
                crate::server::now_ms(),
                session_swarm::MAX_FIRST_LIST_AGE_MS,
            )?,
        };
        let version = list.version;
        if let Ok(bytes) = serde_json::to_vec(&signed) {
            let temp = self.path.with_extension("tmp");
            let saved =
                std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, &self.path));
            if let Err(e) = saved {
                tracing::warn!(error = %e, "could not save the node list");
            }
        }
        if let Some(replaced) = current.replace((Arc::new(list), signed)) {
            self.remember_earlier(replaced);
        }
        drop(current);
        self.changed.send_replace(version);
        tracing::info!(version, "adopted a new node list");
        Ok(version)
    }

    /// Where requests for the account with this 32-byte key belong.
    pub fn route(&self, account_key: &[u8; 32]) -> Route {
        let Some(list) = self.list() else {
            return Route::Local;
        };
        match list.swarm_for(account_key) {
            Some(swarm) if swarm.members.contains(&self.me.to_string()) => Route::Local,
            Some(swarm) => Route::Elsewhere(swarm_body(&list, swarm)),
            // A list with no swarms cannot place anyone; serve rather than refuse.
            None => Route::Local,
        }
    }

    /// The `get_swarm` body for an account: its swarm's members and the swarm id.
    pub fn swarm_of_account(&self, account_key: &[u8; 32]) -> Value {
        match self.list() {
            Some(list) => match list.swarm_for(account_key) {
                Some(swarm) => swarm_body(&list, swarm),
                None => json!({"snodes": [], "swarm": format!("{:016x}", 0)}),
            },
            None => json!({"snodes": [self.own_listing], "swarm": format!("{:016x}", 0)}),
        }
    }

    /// The other members of this node's swarm.
    pub fn swarm_peers(&self) -> Vec<NodeAddress> {
        let Some(list) = self.list() else {
            return Vec::new();
        };
        let Some(swarm) = list.swarm_of(&self.me) else {
            return Vec::new();
        };
        list.members(swarm)
            .filter_map(address_of)
            .filter(|a| a.key != self.me)
            .collect()
    }

    /// The members of the swarm that owns an account (possibly including this node).
    pub fn owners_of(&self, account_key: &[u8; 32]) -> Vec<NodeAddress> {
        let Some(list) = self.list() else {
            return Vec::new();
        };
        list.swarm_for(account_key)
            .map(|swarm| list.members(swarm).filter_map(address_of).collect())
            .unwrap_or_default()
    }

    /// The swarm a listed node is in.
    pub fn swarm_id_of(&self, node: &Ed25519PublicKey) -> Option<u64> {
        self.list()?.swarm_of(node).map(|s| s.id)
    }

    /// Whether `node` is a member of the swarm that owns the account, by the current list or, if
    /// `or_earlier`, by one of the lists it replaced recently (hand-over comes from the swarm
    /// that owned the account before).
    pub fn in_account_swarm(
        &self,
        node: &Ed25519PublicKey,
        account_key: &[u8; 32],
        or_earlier: bool,
    ) -> bool {
        let node = node.to_string();
        let member = |list: &NodeList| {
            list.swarm_for(account_key)
                .is_some_and(|swarm| swarm.members.contains(&node))
        };
        if self.list().is_some_and(|list| member(&list)) {
            return true;
        }
        or_earlier
            && self
                .earlier
                .read()
                .is_ok_and(|earlier| earlier.iter().any(|(list, _)| member(list)))
    }

    /// The newest earlier list (signed) in which this node was in the account's swarm: what a
    /// hand-over push cites, so that a receiver that never held that list can check it.
    pub fn earlier_membership(&self, account_key: &[u8; 32]) -> Option<SignedNodeList> {
        let me = self.me.to_string();
        let earlier = self.earlier.read().ok()?;
        earlier
            .iter()
            .find(|(list, _)| {
                list.swarm_for(account_key)
                    .is_some_and(|swarm| swarm.members.contains(&me))
            })
            .map(|(_, signed)| signed.clone())
    }

    /// Checks an earlier list that a hand-over cites: signed by the registry, older than the
    /// current list, and issued within [`HAND_OVER_LIST_AGE_MS`] of `now`. Kept for later
    /// checks once valid.
    pub fn learn_earlier(&self, signed: SignedNodeList, now: u64) -> Result<(), NodeListError> {
        let registry = self.registry.ok_or(NodeListError::BadSignature)?;
        let list = signed.verify(&registry, None)?;
        let current = self.list().map_or(0, |l| l.version);
        if list.version >= current {
            return Err(NodeListError::Invalid(
                "a hand-over cites a list that is not older than the current one".into(),
            ));
        }
        if list.issued_ms.saturating_add(HAND_OVER_LIST_AGE_MS) < now {
            return Err(NodeListError::Invalid(
                "a hand-over cites a list issued too long ago".into(),
            ));
        }
        let known = self
            .earlier
            .read()
            .is_ok_and(|e| e.iter().any(|(l, _)| l.version == list.version));
        if !known {
            self.remember_earlier((Arc::new(list), signed));
        }
        Ok(())
    }

    fn remember_earlier(&self, list: (Arc<NodeList>, SignedNodeList)) {
        if let Ok(mut earlier) = self.earlier.write() {
            earlier.push(list);
            earlier.sort_by_key(|(list, _)| std::cmp::Reverse(list.version));
            earlier.truncate(EARLIER_LISTS);
        }
    }

    /// Whether a key belongs to a listed node.
    pub fn is_listed(&self, node: &Ed25519PublicKey) -> bool {
        self.list().is_some_and(|l| l.node(node).is_some())
    }

    /// This node's key.
    pub fn me(&self) -> Ed25519PublicKey {
        self.me
    }

    /// The oxend-style `get_service_nodes` result, so that reference clients can bootstrap.
    pub fn service_node_states(&self) -> Value {
        let states: Vec<Value> = match self.list() {
            Some(list) => list
                .nodes
                .iter()
                .map(|n| {
                    let key = n.ed25519().ok();
                    json!({
                        "public_ip": n.https.ip().to_string(),
                        "storage_port": n.https.port(),
                        "storage_lmq_port": 0,
                        "pubkey_ed25519": n.pubkey_ed25519,
                        "pubkey_x25519": n.pubkey_x25519,
                        "service_node_pubkey": n.pubkey_ed25519,
                        "swarm_id": key.and_then(|k| list.swarm_of(&k)).map_or(0, |s| s.id),
                    })
                })
                .collect(),
            None => vec![json!({
                "public_ip": self.own_listing.ip,
                "storage_port": self.own_listing.port_https,
                "storage_lmq_port": 0,
                "pubkey_ed25519": self.own_listing.pubkey_ed25519,
                "pubkey_x25519": self.own_listing.pubkey_x25519,
                "service_node_pubkey": self.own_listing.pubkey_ed25519,
                "swarm_id": 0,
            })],
        };
        json!({"service_node_states": states, "status": "OK"})
    }
}

fn address_of(entry: &NodeEntry) -> Option<NodeAddress> {
    Some(NodeAddress {
        addr: entry.https,
        key: entry.ed25519().ok()?,
    })
}

fn swarm_body(list: &NodeList, swarm: &SwarmEntry) -> Value {
    let snodes: Vec<SnodeInfo> = list
        .members(swarm)
        .map(|n| SnodeInfo {
            ip: n.https.ip().to_string(),
            port_https: n.https.port(),
            port_omq: 0,
            pubkey_ed25519: n.pubkey_ed25519.clone(),
            pubkey_x25519: n.pubkey_x25519.clone(),
            pubkey_legacy: n.pubkey_ed25519.clone(),
        })
        .collect();
    json!({"snodes": snodes, "swarm": format!("{:016x}", swarm.id)})
}
