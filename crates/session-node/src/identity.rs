//! The node's Ed25519 identity, kept in `identity.key` in the data directory (mode 0600).

use std::io::{Read, Write};
use std::path::Path;

use session_crypto::{Ed25519Seed, IdentityKeyPair, OsRng};
use zeroize::Zeroizing;

use crate::error::NodeError;

/// File name of the identity seed inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Loads the identity seed from `dir`, creating it (32 random bytes, mode 0600) on first start.
pub fn load_or_create(dir: &Path) -> Result<(Ed25519Seed, IdentityKeyPair), NodeError> {
    let seed = match load(dir)? {
        Some(seed) => seed,
        None => {
            let seed = Ed25519Seed::generate(&mut OsRng);
            write_private(&dir.join(IDENTITY_FILE), seed.as_bytes())?;
            seed
        }
    };
    let keys = seed.key_pair();
    Ok((seed, keys))
}

/// Loads the identity seed from `dir`; none when the node has no identity yet.
pub fn load(dir: &Path) -> Result<Option<Ed25519Seed>, NodeError> {
    let path = dir.join(IDENTITY_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io(format!("opening {}", path.display()), e)),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(|e| NodeError::io(format!("reading {}", path.display()), e))?;
    let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        NodeError::Config(format!(
            "{} must hold exactly 32 bytes, found {}",
            path.display(),
            bytes.len()
        ))
    })?;
    Ok(Some(Ed25519Seed::from_bytes(array)))
}

/// Reads an exported identity: the 32 bytes of `identity.key`, or those bytes as 64 hex
/// characters (what `keys export --stdout` prints), surrounding whitespace ignored.
pub fn parse_export(bytes: &[u8]) -> Result<Ed25519Seed, NodeError> {
    let bad = || {
        NodeError::Config(format!(
            "an exported identity is 32 bytes or 64 hex characters; this is {} bytes",
            bytes.len()
        ))
    };
    if let Ok(array) = <[u8; 32]>::try_from(bytes) {
        return Ok(Ed25519Seed::from_bytes(array));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
    let mut array = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, array.as_mut_slice()).map_err(|_| bad())?;
    Ok(Ed25519Seed::from_bytes(*array))
}

/// Creates `path` with mode 0600 and writes `bytes`, failing if it exists.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| NodeError::io(format!("creating {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| NodeError::io(format!("writing {}", path.display()), e))
}
