//! The file a client joins a network with: the registry key and the seed nodes.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use session_crypto::Ed25519PublicKey;
use session_net::NodeAddress;

use crate::ClientConfig;

/// What a client needs to join a network (written by `session devnet`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFile {
    /// The registry's Ed25519 key, hex: it signs the node list.
    pub registry_key: String,
    /// Seed nodes serving the signed list.
    pub seed_nodes: Vec<NetworkSeed>,
}

/// One seed node: its HTTPS address and the Ed25519 key its TLS certificate must prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSeed {
    /// Where it listens.
    pub https: SocketAddr,
    /// Its Ed25519 key, hex.
    pub pubkey_ed25519: String,
}

/// Why a network file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkFileError {
    /// The file cannot be read.
    #[error("cannot read the network file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a network file.
    #[error("the network file {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl NetworkFile {
    /// Reads and checks a network file.
    pub fn read(path: &Path) -> Result<Self, NetworkFileError> {
        let bytes = std::fs::read(path).map_err(|source| NetworkFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes).map_err(|reason| NetworkFileError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses and checks the JSON of a network file.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let file: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        file.client_config()?;
        Ok(file)
    }

    /// The JSON text of the file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A client configuration for this network (default policies).
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let registry = Ed25519PublicKey::from_hex(&self.registry_key)
            .map_err(|e| format!("registry_key: {e}"))?;
        if self.seed_nodes.is_empty() {
            return Err("seed_nodes is empty".into());
        }
        let seeds = self
            .seed_nodes
            .iter()
            .enumerate()
            .map(|(i, seed)| {
                Ok(NodeAddress {
                    addr: seed.https,
                    key: Ed25519PublicKey::from_hex(&seed.pubkey_ed25519)
                        .map_err(|e| format!("seed_nodes[{i}].pubkey_ed25519: {e}"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ClientConfig::new(registry, seeds))
    }
}
