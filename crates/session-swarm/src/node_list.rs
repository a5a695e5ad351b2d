//! The signed node list: which service nodes exist, where they listen, and which swarm each is in.
//!
//! A registry key (the stand-in for staking) signs each version of the list. Nodes and clients
//! accept a list only if it is signed by the registry key they were configured with, is newer than
//! the one they hold, and assigns every listed node to exactly one swarm. The signature covers the
//! exact bytes of the list's JSON, so no canonical encoding is needed.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use session_crypto::{Ed25519PublicKey, IdentityKeyPair, X25519PublicKey};

use crate::assignment::Assignment;
use crate::space::{select_swarm, swarm_space, SwarmId};

/// One service node as the list describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Ed25519 identity key, hex.
    pub pubkey_ed25519: String,
    /// X25519 key (for onion layers), hex.
    pub pubkey_x25519: String,
    /// HTTPS address.
    pub https: SocketAddr,
}

impl NodeEntry {
    /// The identity key.
    pub fn ed25519(&self) -> Result<Ed25519PublicKey, NodeListError> {
        Ed25519PublicKey::from_hex(&self.pubkey_ed25519).map_err(|_| {
            NodeListError::Invalid(format!("bad pubkey_ed25519 {:?}", self.pubkey_ed25519))
        })
    }

    /// The X25519 key.
    pub fn x25519(&self) -> Result<X25519PublicKey, NodeListError> {
        X25519PublicKey::from_hex(&self.pubkey_x25519).map_err(|_| {
            NodeListError::Invalid(format!("bad pubkey_x25519 {:?}", self.pubkey_x25519))
        })
    }
}

/// One swarm: its id and members (hex Ed25519 keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmEntry {
    /// The swarm id.
    pub id: SwarmId,
    /// Members' Ed25519 keys, hex.
    pub members: Vec<String>,
}

/// A version of the network's node list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// Increases with every new list.
    pub version: u64,
    /// When the registry issued it, Unix milliseconds.
    pub issued_ms: u64,
    /// Every node.
    pub nodes: Vec<NodeEntry>,
    /// Every swarm.
    pub swarms: Vec<SwarmEntry>,
}

/// A node list with the registry's signature over its JSON bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedNodeList {
    /// The list's JSON, base64.
    pub list: String,
    /// Ed25519 signature of the registry over the list's JSON bytes, base64.
    pub signature: String,
}

/// Why a node list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeListError {
    /// No signature, or not one of the registry key.
    #[error("node list signature is missing or not the registry's")]
    BadSignature,
    /// Not newer than the list already held.
    #[error("node list version {got} is not newer than {have}")]
    Stale {
        /// The version offered.
        got: u64,
        /// The version held.
        have: u64,
    },
    /// Malformed: bad encoding, bad keys, or an assignment that is not a partition.
    #[error("invalid node list: {0}")]
    Invalid(String),
    /// Older than anyone without a list should trust: it may be a replay of a list from long
    /// ago, whose nodes are gone or were taken over.
    #[error(
        "node list too old: issued {age_days} days ago, the limit for a first list is \
         {max_days} days (the network's registry has not issued a newer one, or an old list is \
         being replayed)"
    )]
    TooOld {
        /// Its age in days.
        age_days: u64,
        /// The limit in days.
        max_days: u64,
    },
}

/// Oldest list (by its issue time) that a node or client holding no list accepts as its first:
/// with a list held, a newer version is always accepted whatever its age.
pub const MAX_FIRST_LIST_AGE_MS: u64 = 30 * 24 * 3600 * 1000;

impl NodeList {
    /// A list for `nodes`, with swarms assigned from `assignment`.
    pub fn new(
        version: u64,
        issued_ms: u64,
        nodes: Vec<NodeEntry>,
        assignment: &Assignment,
    ) -> Self {
        let swarms = assignment
            .swarms()
            .map(|(id, members)| SwarmEntry {
                id,
                members: members.iter().map(ToString::to_string).collect(),
            })
            .collect();
        Self {
            version,
            issued_ms,
            nodes,
            swarms,
        }
    }

    /// Signs the list with the registry key.
    pub fn sign(&self, registry: &IdentityKeyPair) -> SignedNodeList {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        SignedNodeList {
            signature: STANDARD.encode(registry.sign(&bytes)),
            list: STANDARD.encode(bytes),
        }
    }

    /// The swarm assignment the list carries.
    pub fn assignment(&self) -> Result<Assignment, NodeListError> {
        let mut swarms = Vec::with_capacity(self.swarms.len());
        for swarm in &self.swarms {
            let members = swarm
                .members
                .iter()
                .map(|m| {
                    Ed25519PublicKey::from_hex(m)
                        .map_err(|_| NodeListError::Invalid(format!("bad swarm member {m:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            swarms.push((swarm.id, members));
        }
        Ok(Assignment::from_swarms(swarms))
    }

    /// Checks keys and that every listed node is in exactly one swarm, and no one else is.
    pub fn validate(&self) -> Result<(), NodeListError> {
        let mut listed = BTreeSet::new();
        for node in &self.nodes {
            node.x25519()?;
            if !listed.insert(node.ed25519()?) {
                return Err(NodeListError::Invalid(format!(
                    "node {} listed twice",
                    node.pubkey_ed25519
                )));
            }
        }
        let mut placed = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for (id, members) in self.assignment()?.swarms() {
            ids.insert(id);
            for member in members {
                if !placed.insert(*member) {
                    return Err(NodeListError::Invalid(format!(
                        "node {member} is in two swarms"
                    )));
                }
            }
        }
        if ids.len() != self.swarms.len() {
            return Err(NodeListError::Invalid(
                "a swarm id appears twice, or a swarm is empty".into(),
            ));
        }
        if placed != listed {
            return Err(NodeListError::Invalid(
                "swarms do not cover exactly the listed nodes".into(),
            ));
        }
        Ok(())
    }

    /// The node with this identity key.
    pub fn node(&self, key: &Ed25519PublicKey) -> Option<&NodeEntry> {
        let hex = key.to_string();
        self.nodes.iter().find(|n| n.pubkey_ed25519 == hex)
    }

    /// The swarm responsible for a 32-byte account key (without prefix).
    pub fn swarm_for(&self, account_key: &[u8; 32]) -> Option<&SwarmEntry> {
        let ids: Vec<SwarmId> = {
            let mut ids: Vec<SwarmId> = self.swarms.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            ids
        };
        let id = select_swarm(&ids, swarm_space(account_key))?;
        self.swarms.iter().find(|s| s.id == id)
    }

    /// The swarm a node is in.
    pub fn swarm_of(&self, key: &Ed25519PublicKey) -> Option<&SwarmEntry> {
        let hex = key.to_string();
        self.swarms.iter().find(|s| s.members.contains(&hex))
    }

    /// The entries of a swarm's members.
    pub fn members<'a>(
        &'a self,
        swarm: &'a SwarmEntry,
    ) -> impl Iterator<Item = &'a NodeEntry> + 'a {
        swarm
            .members
            .iter()
            .filter_map(|m| self.nodes.iter().find(|n| &n.pubkey_ed25519 == m))
    }
}

impl SignedNodeList {
    /// Verifies the registry signature and the list's consistency, and that it is newer than
    /// `held_version` (if any list is held). Returns the list.
    pub fn verify(
        &self,
        registry: &Ed25519PublicKey,
        held_version: Option<u64>,
    ) -> Result<NodeList, NodeListError> {
        let bytes = STANDARD
            .decode(&self.list)
            .map_err(|_| NodeListError::Invalid("list is not base64".into()))?;
        let signature: [u8; 64] = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(NodeListError::BadSignature)?;
        registry
            .verify(&bytes, &signature)
            .map_err(|_| NodeListError::BadSignature)?;
        let list: NodeList =
            serde_json::from_slice(&bytes).map_err(|e| NodeListError::Invalid(e.to_string()))?;
        if let Some(have) = held_version {
            if list.version <= have {
                return Err(NodeListError::Stale {
                    got: list.version,
                    have,
                });
            }
        }
        list.validate()?;
        Ok(list)
    }

    /// [`verify`](Self::verify) for a holder with no list yet (a fresh node, a client whose
    /// cache is empty or unusable): the list must also have been issued at most `max_age_ms`
    /// before `now_ms`.
    pub fn verify_first(
        &self,
        registry: &Ed25519PublicKey,
        now_ms: u64,
        max_age_ms: u64,
    ) -> Result<NodeList, NodeListError> {
        let list = self.verify(registry, None)?;
        let age = now_ms.saturating_sub(list.issued_ms);
        if age > max_age_ms {
            const DAY_MS: u64 = 24 * 3600 * 1000;
            return Err(NodeListError::TooOld {
                age_days: age / DAY_MS,
                max_days: max_age_ms / DAY_MS,
            });
        }
        Ok(list)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_first_list_must_be_recent() {
        let registry = Ed25519Seed::from_bytes([9; 32]).key_pair();
        let day = 24 * 3600 * 1000;
        let now = 100 * day;
        let list = NodeList::new(
            1,
            now - 31 * day,
            Vec::new(),
            &assign(&Assignment::default(), &[], SwarmConfig::REFERENCE),
        );
        let signed = list.sign(&registry);
        assert_eq!(
            signed.verify_first(&registry.ed25519_public(), now, MAX_FIRST_LIST_AGE_MS),
            Err(NodeListError::TooOld {
                age_days: 31,
                max_days: 30
            })
        );
        // Held lists are replaced by newer versions whatever their age.
        assert!(signed.verify(&registry.ed25519_public(), Some(0)).is_ok());
        assert!(signed
            .verify_first(
                &registry.ed25519_public(),
                now - 2 * day,
                MAX_FIRST_LIST_AGE_MS
            )
            .is_ok());
    }
    use crate::{assign, SwarmConfig};
    use session_crypto::Ed25519Seed;

    fn entries(n: u8) -> Vec<NodeEntry> {
        (0..n)
            .map(|i| {
                let keys = Ed25519Seed::from_bytes([i + 1; 32]).key_pair();
                NodeEntry {
                    pubkey_ed25519: keys.ed25519_public().to_string(),
                    pubkey_x25519: keys.x25519_public().to_string(),
                    https: SocketAddr::from(([127, 0, 0, 1], 20000 + u16::from(i))),
                }
            })
            .collect()
    }

    fn list(version: u64, n: u8) -> NodeList {
        let nodes = entries(n);
        let keys: Vec<_> = nodes.iter().map(|n| n.ed25519().unwrap()).collect();
        let assignment = assign(
            &Assignment::empty(),
            &keys,
            SwarmConfig::new(3, 4, 6).unwrap(),
        );
        NodeList::new(version, 0, nodes, &assignment)
    }

    #[test]
    fn signed_lists_verify_and_tampering_is_refused() {
        let registry = Ed25519Seed::from_bytes([99; 32]).key_pair();
        let signed = list(2, 12).sign(&registry);
        let got = signed.verify(&registry.ed25519_public(), Some(1)).unwrap();
        assert_eq!(got.swarms.len(), 3);

        // Stale.
        assert_eq!(
            signed.verify(&registry.ed25519_public(), Some(2)),
            Err(NodeListError::Stale { got: 2, have: 2 })
        );
        // Signed by someone else.
        let other = Ed25519Seed::from_bytes([98; 32]).key_pair();
        assert_eq!(
            list(3, 12)
                .sign(&other)
                .verify(&registry.ed25519_public(), None),
            Err(NodeListError::BadSignature)
        );
        // Unsigned.
        let mut unsigned = signed.clone();
        unsigned.signature = String::new();
        assert_eq!(
            unsigned.verify(&registry.ed25519_public(), None),
            Err(NodeListError::BadSignature)
        );
        // Tampered bytes.
        let mut bytes = STANDARD.decode(&signed.list).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        let tampered = SignedNodeList {
            list: STANDARD.encode(bytes),
            signature: signed.signature.clone(),
        };
        assert_eq!(
            tampered.verify(&registry.ed25519_public(), None),
            Err(NodeListError::BadSignature)
        );
        // Signed but inconsistent: a node in no swarm.
        let mut broken = list(4, 12);
        broken.swarms[0].members.pop();
        assert!(matches!(
            broken
                .sign(&registry)
                .verify(&registry.ed25519_public(), None),
            Err(NodeListError::Invalid(_))
        ));
    }

    #[test]
    fn accounts_map_to_swarms() {
        let l = list(1, 12);
        let swarm = l.swarm_for(&[7; 32]).unwrap();
        assert_eq!(l.members(swarm).count(), swarm.members.len());
        let first = l.nodes[0].ed25519().unwrap();
        assert!(l
            .swarm_of(&first)
            .unwrap()
            .members
            .contains(&first.to_string()));
    }
}
