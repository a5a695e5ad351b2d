//! A profile: one user's directory, holding the account, the message database, the network
//! file it joins and the cached node list. Two profiles let two users share a machine.

use std::path::{Path, PathBuf};

use session_crypto::Ed25519Seed;

use crate::{
    AccountFile, ClientConfig, DatabaseKey, MessageStore, NetworkFile, NetworkFileError, StoreError,
};

/// One user's directory.
#[derive(Debug, Clone)]
pub struct Profile {
    dir: PathBuf,
}

impl Profile {
    /// The profile in `dir`, created (mode 0700) if missing.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The account (identity seed) file.
    pub fn account(&self) -> AccountFile {
        AccountFile::new(self.dir.join("identity.key"))
    }

    /// Opens the message database of an account without a passphrase (encrypted under the
    /// key its account file holds). A protected account needs
    /// [`message_store_for`](Self::message_store_for).
    pub fn message_store(&self) -> Result<MessageStore, StoreError> {
        let seed = self
            .account()
            .load_seed(None)
            .map_err(|e| StoreError::NoKey(e.to_string()))?;
        self.message_store_for(&seed)
    }

    /// Opens the message database encrypted under the key of the account with `seed`.
    pub fn message_store_for(&self, seed: &Ed25519Seed) -> Result<MessageStore, StoreError> {
        MessageStore::open_encrypted(&self.message_store_path(), &DatabaseKey::from_seed(seed))
    }

    /// Where the message database is.
    pub fn message_store_path(&self) -> PathBuf {
        self.dir.join("messages.sqlite")
    }

    /// Where the network file this profile joins is kept.
    pub fn network_path(&self) -> PathBuf {
        self.dir.join("network.json")
    }

    /// Remembers the network this profile joins.
    pub fn save_network(&self, network: &NetworkFile) -> std::io::Result<()> {
        std::fs::write(self.network_path(), network.to_json())
    }

    /// The network this profile joined last, if any.
    pub fn saved_network(&self) -> Result<Option<NetworkFile>, NetworkFileError> {
        let path = self.network_path();
        if !path.exists() {
            return Ok(None);
        }
        NetworkFile::read(&path).map(Some)
    }

    /// A client configuration for `network` that caches the node list in this profile.
    pub fn client_config(&self, network: &NetworkFile) -> Result<ClientConfig, NetworkFileError> {
        let mut config = network
            .client_config()
            .map_err(|reason| NetworkFileError::Invalid {
                path: self.network_path().display().to_string(),
                reason,
            })?;
        config.cache_file = Some(self.dir.join("nodes.json"));
        Ok(config)
    }
}
