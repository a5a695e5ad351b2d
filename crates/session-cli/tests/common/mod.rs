//! Shared by the messenger and CLI tests: people with profiles of their own on a local network.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cli;
use std::path::{Path, PathBuf};

use session_client::{KdfParams, Messenger, OnionClient, PathPolicy, Profile};
use session_crypto::{AccountId, Ed25519Seed, OsRng};
use session_testnet::Testnet;

/// Argon2 parameters that keep tests fast (the CLI uses the real ones).
pub const FAST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// A user with a profile directory.
pub struct Party {
    pub profile: Profile,
    pub id: AccountId,
}

impl Party {
    /// A new account named `name` in `dir/name`.
    pub fn new(dir: &Path, name: &str) -> Self {
        Self::from_seed(dir, name, &Ed25519Seed::generate(&mut OsRng))
    }

    /// An account from `seed` in a fresh profile `dir/name`.
    pub fn from_seed(dir: &Path, name: &str, seed: &Ed25519Seed) -> Self {
        let profile = Profile::open(dir.join(name)).unwrap();
        profile.account().create(seed, None, FAST_KDF).unwrap();
        profile
            .message_store()
            .unwrap()
            .set_setting("display_name", name)
            .unwrap();
        let id = seed.key_pair().account_id();
        Self { profile, id }
    }

    /// Adds `other` as a contact named `nickname`.
    pub fn add_contact(&self, other: &Party, nickname: &str) {
        self.profile
            .message_store()
            .unwrap()
            .add_contact(&other.id, nickname, 1)
            .unwrap();
    }

    /// Comes online: a messenger on this profile.
    pub async fn online(&self, net: &Testnet) -> Messenger {
        let mut config = self.profile.client_config(&net.network_file()).unwrap();
        config.path_policy = PathPolicy::DistinctNodes;
        let client = OnionClient::connect(config).await.unwrap();
        Messenger::new(
            self.profile.account().load(None).unwrap(),
            self.profile.message_store().unwrap(),
            client,
        )
    }

    pub fn dir(&self) -> PathBuf {
        self.profile.dir().to_path_buf()
    }
}
