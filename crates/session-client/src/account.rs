//! The account store: the identity seed on disk, mode 0600, encrypted under a passphrase when
//! the user sets one (Argon2id + XChaCha20-Poly1305).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use session_crypto::{Ed25519Seed, IdentityKeyPair, OsRng, RngCore};
use zeroize::Zeroizing;

/// File magic and format version.
const MAGIC: &[u8; 6] = b"SRSID1";
const PLAIN: u8 = 0;
const SEALED: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Header of a sealed file: magic, kind, three u32 parameters, salt, nonce.
const SEALED_HEADER: usize = MAGIC.len() + 1 + 12 + SALT_LEN + NONCE_LEN;

/// Argon2id cost parameters, stored in the file so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Within what any honest file holds (at most 4 GiB, 64 passes, 16 lanes): a damaged or
    /// forged file cannot make the client allocate without bound or spin for hours.
    pub fn is_plausible(&self) -> bool {
        (8..=4 * 1024 * 1024).contains(&self.memory_kib)
            && (1..=64).contains(&self.iterations)
            && (1..=16).contains(&self.parallelism)
    }

    /// 64 MiB, 3 passes, 1 lane: about a third of a second on a laptop core, costly to guess.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };
}

/// Why the account cannot be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// There is no account in this profile.
    #[error("no account in {0} (create one with `session init` or `session restore`)")]
    Missing(PathBuf),
    /// An account exists already and would be overwritten.
    #[error("an account already exists in {0}; refusing to overwrite it")]
    Exists(PathBuf),
    /// The file is protected by a passphrase and none was given.
    #[error("the account is protected by a passphrase; none was given")]
    PassphraseNeeded,
    /// The passphrase does not open the file.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The file is not an account file, or is damaged.
    #[error("the account file {path} is damaged: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The KDF parameters are unusable.
    #[error("bad key derivation parameters: {0}")]
    Kdf(String),
    /// Reading or writing failed.
    #[error("account file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The identity seed's file.
#[derive(Debug, Clone)]
pub struct AccountFile {
    path: PathBuf,
}

impl AccountFile {
    /// The account file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an account exists here.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Whether the file needs a passphrase to open.
    pub fn is_protected(&self) -> Result<bool, AccountError> {
        let bytes = self.read_bytes()?;
        Ok(self.kind(&bytes)? == SEALED)
    }

    /// Saves a new account: the seed in the clear (still mode 0600) or sealed under
    /// `passphrase`. Refuses to replace an existing account.
    pub fn create(
        &self,
        seed: &Ed25519Seed,
        passphrase: Option<&str>,
        params: KdfParams,
    ) -> Result<(), AccountError> {
        if self.exists() {
            return Err(AccountError::Exists(self.path.clone()));
        }
        if passphrase.is_some() && !params.is_plausible() {
            return Err(AccountError::Kdf(format!(
                "parameters out of range: {params:?}"
            )));
        }
        let mut bytes = Zeroizing::new(MAGIC.to_vec());
        match passphrase {
            None => {
                bytes.push(PLAIN);
                bytes.extend_from_slice(seed.as_bytes());
            }
            Some(passphrase) => {
                bytes.push(SEALED);
                for value in [params.memory_kib, params.iterations, params.parallelism] {
                    bytes.extend_from_slice(&value.to_le_bytes());
                }
                let mut salt = [0u8; SALT_LEN];
                let mut nonce = [0u8; NONCE_LEN];
                OsRng.fill_bytes(&mut salt);
                OsRng.fill_bytes(&mut nonce);
                bytes.extend_from_slice(&salt);
                bytes.extend_from_slice(&nonce);
                let key = derive_key(passphrase, &salt, params)?;
                let sealed = XChaCha20Poly1305::new((&*key).into())
                    .encrypt(
                        XNonce::from_slice(&nonce),
                        Payload {
                            msg: seed.as_bytes(),
                            aad: &bytes,
                        },
                    )
                    .map_err(|_| AccountError::Kdf("encryption failed".into()))?;
                bytes.extend_from_slice(&sealed);
            }
        }
        self.write_private(&bytes)
    }

    /// Loads the account's keys, opening the seed with `passphrase` if it is sealed.
    pub fn load(&self, passphrase: Option<&str>) -> Result<IdentityKeyPair, AccountError> {
        Ok(self.load_seed(passphrase)?.key_pair())
    }

    /// Loads the account's seed (to show its recovery phrase again), opening it with
    /// `passphrase` if it is sealed.
    pub fn load_seed(&self, passphrase: Option<&str>) -> Result<Ed25519Seed, AccountError> {
        self.open_seed(&self.read_bytes()?, passphrase)
    }

    /// The permission bits of the file (Unix), to warn when others can read it.
    pub fn mode(&self) -> Option<u32> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(&self.path)
                .ok()
                .map(|m| m.permissions().mode() & 0o777)
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Opens the bytes of an account file (as read from this file): the keys, or why not.
    /// Damaged or hostile bytes give an error, never a panic or an unbounded allocation.
    pub fn open(
        &self,
        bytes: &[u8],
        passphrase: Option<&str>,
    ) -> Result<IdentityKeyPair, AccountError> {
        Ok(self.open_seed(bytes, passphrase)?.key_pair())
    }

    fn open_seed(
        &self,
        bytes: &[u8],
        passphrase: Option<&str>,
    ) -> Result<Ed25519Seed, AccountError> {
        let seed: [u8; SEED_LEN] = match self.kind(bytes)? {
            PLAIN => bytes
                .get(MAGIC.len() + 1..)
                .and_then(|s| <[u8; SEED_LEN]>::try_from(s).ok())
                .ok_or_else(|| self.corrupt("wrong length"))?,
            _ => {
                let passphrase = passphrase.ok_or(AccountError::PassphraseNeeded)?;
                if bytes.len() != SEALED_HEADER + SEED_LEN + TAG_LEN {
                    return Err(self.corrupt("wrong length"));
                }
                let (header, sealed) = bytes.split_at(SEALED_HEADER);
                let word = |i: usize| {
                    let at = MAGIC.len() + 1 + 4 * i;
                    header
                        .get(at..at + 4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map_or(0, u32::from_le_bytes)
                };
                let params = KdfParams {
                    memory_kib: word(0),
                    iterations: word(1),
                    parallelism: word(2),
                };
                if !params.is_plausible() {
                    return Err(self.corrupt("implausible key derivation parameters"));
                }
                let salt = &header[MAGIC.len() + 13..MAGIC.len() + 13 + SALT_LEN];
                let nonce = &header[SEALED_HEADER - NONCE_LEN..];
                let key = derive_key(passphrase, salt, params)?;
                let opened = Zeroizing::new(
                    XChaCha20Poly1305::new((&*key).into())
                        .decrypt(
                            XNonce::from_slice(nonce),
                            Payload {
                                msg: sealed,
                                aad: header,
                            },
                        )
                        .map_err(|_| AccountError::WrongPassphrase)?,
                );
                <[u8; SEED_LEN]>::try_from(opened.as_slice())
                    .map_err(|_| self.corrupt("wrong seed length"))?
            }
        };
        Ok(Ed25519Seed::from_bytes(seed))
    }

    fn read_bytes(&self) -> Result<Zeroizing<Vec<u8>>, AccountError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Zeroizing::new(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(AccountError::Missing(self.path.clone()))
            }
            Err(source) => Err(AccountError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn kind(&self, bytes: &[u8]) -> Result<u8, AccountError> {
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(self.corrupt("not a session-rs account file"));
        }
        match bytes.get(MAGIC.len()) {
            Some(&kind) if kind == PLAIN || kind == SEALED => Ok(kind),
            _ => Err(self.corrupt("unknown kind")),
        }
    }

    fn corrupt(&self, reason: &str) -> AccountError {
        AccountError::Corrupt {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Writes the file with mode 0600 from the start (never readable by others, not even
    /// briefly), through a temporary file renamed into place.
    fn write_private(&self, bytes: &[u8]) -> Result<(), AccountError> {
        let io = |source| AccountError::Io {
            path: self.path.clone(),
            source,
        };
        let temp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&temp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, &self.path).map_err(io)
    }
}

fn derive_key(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, AccountError> {
    let argon_params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| AccountError::Kdf(e.to_string()))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut *key)
        .map_err(|e| AccountError::Kdf(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn plain_and_sealed_files_restore_the_same_account() {
        let dir = tempfile::tempdir().unwrap();
        let seed = Ed25519Seed::generate(&mut OsRng);
        let id = seed.key_pair().account_id();

        let plain = AccountFile::new(dir.path().join("plain"));
        plain.create(&seed, None, FAST).unwrap();
        assert!(!plain.is_protected().unwrap());
        assert_eq!(plain.load(None).unwrap().account_id(), id);

        let sealed = AccountFile::new(dir.path().join("sealed"));
        sealed.create(&seed, Some("correct horse"), FAST).unwrap();
        assert!(sealed.is_protected().unwrap());
        let raw = std::fs::read(sealed.path()).unwrap();
        assert!(
            !raw.windows(32).any(|w| w == seed.as_bytes()),
            "seed in the clear"
        );
        assert!(matches!(
            sealed.load(None),
            Err(AccountError::PassphraseNeeded)
        ));
        assert!(matches!(
            sealed.load(Some("wrong horse")),
            Err(AccountError::WrongPassphrase)
        ));
        assert_eq!(sealed.load(Some("correct horse")).unwrap().account_id(), id);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = AccountFile::new(dir.path().join("identity"));
        let first = Ed25519Seed::generate(&mut OsRng);
        file.create(&first, None, FAST).unwrap();
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = Ed25519Seed::generate(&mut OsRng);
        assert!(matches!(
            file.create(&second, None, FAST),
            Err(AccountError::Exists(_))
        ));
        assert_eq!(
            file.load(None).unwrap().account_id(),
            first.key_pair().account_id()
        );
    }

    #[test]
    fn forged_kdf_parameters_are_refused_before_any_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let file = AccountFile::new(dir.path().join("identity"));
        let seed = Ed25519Seed::generate(&mut OsRng);
        file.create(&seed, Some("pw"), FAST).unwrap();
        let mut bytes = std::fs::read(file.path()).unwrap();
        // 4 TiB of memory asked by the file header.
        bytes[MAGIC.len() + 1..MAGIC.len() + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            file.open(&bytes, Some("pw")),
            Err(AccountError::Corrupt { .. })
        ));
    }

    #[test]
    fn damaged_files_are_reported_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let file = AccountFile::new(dir.path().join("identity"));
        assert!(matches!(file.load(None), Err(AccountError::Missing(_))));
        std::fs::write(file.path(), b"garbage").unwrap();
        assert!(matches!(file.load(None), Err(AccountError::Corrupt { .. })));
        let seed = Ed25519Seed::generate(&mut OsRng);
        std::fs::remove_file(file.path()).unwrap();
        file.create(&seed, Some("pw"), FAST).unwrap();
        let mut bytes = std::fs::read(file.path()).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(file.path(), bytes).unwrap();
        assert!(matches!(
            file.load(Some("pw")),
            Err(AccountError::Corrupt { .. })
        ));
    }
}
