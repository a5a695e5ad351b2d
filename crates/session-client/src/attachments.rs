//! Attachments with no file server: the file is encrypted on this device (the deterministic
//! stream format of [`session_crypto::attachment`]), cut into storage chunks under the nodes'
//! blob limit, and each chunk is stored in the swarm nearest its hash, through onion paths. The
//! message carries a [`Manifest`] (name, media type, size, key, chunk names); a manifest too
//! large for a message is itself uploaded as an attachment and the message carries a pointer to
//! it.
//!
//! Transfers run [`PARALLEL`] requests at once (the onion client spreads them over its paths);
//! every fetched chunk is checked against its name, and a member that returns other bytes (or
//! none) is avoided for that chunk while the next member is asked. Progress is kept in a
//! transfer directory (uploaded chunk names; downloaded chunks, each written whole and renamed),
//! so an interrupted upload or download resumes where it stopped, also after a restart.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_crypto::attachment::{self, AttachmentError, Domain};
use session_crypto::{Ed25519PublicKey, IdentityKeyPair};
use session_wire::rpc::{FetchBlobParams, Request, StoreBlobParams, MAX_BLOB_BYTES};
use zeroize::Zeroizing;

use crate::onion_client::{ClientError, OnionClient};

/// Bytes of ciphertext per stored chunk: the nodes' blob (and message) limit.
pub const CHUNK_BYTES: usize = MAX_BLOB_BYTES;
/// Largest file sent by default (100 MB, ten times Session's file-server limit).
pub const DEFAULT_MAX_FILE_BYTES: usize = 100_000_000;
/// Chunk requests in flight at once.
pub const PARALLEL: usize = 8;
/// The text a manifest message starts with; what follows is the manifest, base64url JSON.
pub const MESSAGE_PREFIX: &str = "session-attachment:v1:";
/// Largest manifest carried in a message; a larger one becomes a blob itself.
const MAX_INLINE_MANIFEST: usize = 16 * 1024;
/// Most chunks an indirect manifest's own upload may have (a 100 MB file's manifest needs 2).
const MAX_MANIFEST_CHUNKS: usize = 64;
/// The media type of a manifest uploaded as an attachment.
const MANIFEST_MEDIA_TYPE: &str = "application/x-session-manifest";

/// What can go wrong with an attachment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentTransferError {
    /// The file is larger than the configured limit.
    #[error("the file is {size} bytes; the limit is {max} bytes")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Encryption or decryption failed.
    #[error(transparent)]
    Crypto(#[from] AttachmentError),
    /// No member of a chunk's swarm would store it or return its bytes.
    #[error("chunk {index} could not be {action}: {reason}")]
    Chunk {
        /// The chunk's position.
        index: usize,
        /// `stored` or `fetched`.
        action: &'static str,
        /// The last failure.
        reason: String,
    },
    /// The manifest in a message is malformed.
    #[error("malformed attachment manifest: {0}")]
    Manifest(String),
    /// The transfer directory could not be used.
    #[error("transfer state in {path}: {source}")]
    State {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// Everything a recipient needs to fetch and open a file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The file name (as the sender gave it: treat as untrusted text).
    #[serde(rename = "n")]
    pub name: String,
    /// The media type (`image/png`, ...).
    #[serde(rename = "t")]
    pub media_type: String,
    /// Plaintext size in bytes.
    #[serde(rename = "s")]
    pub size: u64,
    /// The attachment key, base64.
    #[serde(rename = "k")]
    key: String,
    /// Names of the stored chunks of the ciphertext, in order, hex.
    #[serde(rename = "c")]
    pub chunks: Vec<String>,
    /// True when the chunks hold another manifest (the real one was too large for a message).
    #[serde(rename = "m", default, skip_serializing_if = "std::ops::Not::not")]
    pub indirect: bool,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("size", &self.size)
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

impl Manifest {
    /// The message text that carries this manifest.
    pub fn to_message(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{MESSAGE_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// The manifest in a message's text, if it carries one.
    pub fn from_message(text: &str) -> Option<Result<Self, AttachmentTransferError>> {
        let rest = text.trim().strip_prefix(MESSAGE_PREFIX)?;
        let parsed = URL_SAFE_NO_PAD
            .decode(rest)
            .map_err(|e| e.to_string())
            .and_then(|json| serde_json::from_slice::<Self>(&json).map_err(|e| e.to_string()))
            .map_err(AttachmentTransferError::Manifest)
            .and_then(|m| m.checked());
        Some(parsed)
    }

    fn checked(self) -> Result<Self, AttachmentTransferError> {
        let bad = |what: &str| Err(AttachmentTransferError::Manifest(what.into()));
        if self.chunks.is_empty() {
            return bad("no chunks");
        }
        if self
            .chunks
            .iter()
            .any(|c| session_wire::parse_blob_name(c).is_none())
        {
            return bad("a chunk name is not 64 hex characters");
        }
        if self.key_bytes().is_none() {
            return bad("the key is not 32 bytes of base64");
        }
        Ok(self)
    }

    fn key_bytes(&self) -> Option<Zeroizing<[u8; 32]>> {
        let raw = Zeroizing::new(STANDARD.decode(&self.key).ok()?);
        let mut key = Zeroizing::new([0u8; 32]);
        (raw.len() == 32).then(|| key.copy_from_slice(&raw))?;
        Some(key)
    }

    /// A short stable id of this attachment (names its transfer state; reveals nothing).
    pub fn id(&self) -> String {
        let first = self.chunks.first().map_or("", String::as_str);
        first.chars().take(16).collect()
    }
}

/// How far a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Chunks done (stored or fetched and verified).
    pub done: usize,
    /// Chunks in all.
    pub total: usize,
    /// Ciphertext bytes done.
    pub bytes: u64,
    /// Ciphertext bytes in all.
    pub total_bytes: u64,
}

/// What a download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The file.
    pub data: Vec<u8>,
    /// Chunks fetched from the network by this call (the rest were on disk from before).
    pub fetched: usize,
    /// Chunks whose bytes a node returned wrongly (they were fetched from another member).
    pub bad_copies: usize,
}

/// Sends and fetches attachments through one onion client, keeping transfer state in a
/// directory (one per profile).
pub struct Attachments<'a> {
    client: &'a OnionClient,
    state_dir: PathBuf,
    max_file_bytes: usize,
    parallel: usize,
    max_inline_manifest: usize,
}

impl<'a> Attachments<'a> {
    /// Transfers through `client`, with state kept under `state_dir`.
    pub fn new(client: &'a OnionClient, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            client,
            state_dir: state_dir.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            parallel: PARALLEL,
            max_inline_manifest: MAX_INLINE_MANIFEST,
        }
    }

    /// Sets the largest file accepted (the default is [`DEFAULT_MAX_FILE_BYTES`]).
    pub fn with_max_file_bytes(mut self, max: usize) -> Self {
        self.max_file_bytes = max;
        self
    }

    /// Sets the largest manifest sent inside a message (default 16 KB); a larger one is
    /// uploaded itself and the message points at it.
    pub fn with_max_inline_manifest(mut self, bytes: usize) -> Self {
        self.max_inline_manifest = bytes;
        self
    }

    /// Sets how many chunk requests run at once (at least 1).
    pub fn with_parallel(mut self, parallel: usize) -> Self {
        self.parallel = parallel.max(1);
        self
    }

    /// Encrypts `data` under the sender's seed and stores its chunks; returns the manifest to
    /// send (already made indirect when too large for a message). Chunks stored by an earlier,
    /// interrupted call for the same file are not sent again.
    pub async fn upload(
        &self,
        keys: &IdentityKeyPair,
        data: &[u8],
        name: &str,
        media_type: &str,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Manifest, AttachmentTransferError> {
        if data.len() > self.max_file_bytes {
            return Err(AttachmentTransferError::TooLarge {
                size: data.len(),
                max: self.max_file_bytes,
            });
        }
        let manifest = self
            .upload_bytes(keys, data, name, media_type, progress)
            .await?;
        let message = manifest.to_message();
        if message.len() <= self.max_inline_manifest {
            return Ok(manifest);
        }
        let inner = serde_json::to_vec(&manifest).unwrap_or_default();
        let mut outer = self
            .upload_bytes(keys, &inner, "", MANIFEST_MEDIA_TYPE, &|_| {})
            .await?;
        // The outer manifest shows the file's name, type and size; its chunks hold the inner one.
        outer.indirect = true;
        outer.name = manifest.name;
        outer.media_type = manifest.media_type;
        outer.size = manifest.size;
        Ok(outer)
    }

    async fn upload_bytes(
        &self,
        keys: &IdentityKeyPair,
        data: &[u8],
        name: &str,
        media_type: &str,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Manifest, AttachmentTransferError> {
        let seed = keys.seed_bytes();
        let encrypted = attachment::encrypt(&seed, data, Domain::Attachment, Some(usize::MAX))?;
        let chunks: Vec<&[u8]> = encrypted.data.chunks(CHUNK_BYTES).collect();
        let names: Vec<String> = chunks
            .iter()
            .map(|c| session_wire::blob_name_hex(c))
            .collect();
        let manifest = Manifest {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            size: data.len() as u64,
            key: STANDARD.encode(*encrypted.key),
            chunks: names.clone(),
            indirect: false,
        };
        let journal = self.state_dir.join(format!("up-{}.done", manifest.id()));
        let done = read_lines(&journal)?;
        let sizes: Vec<u64> = chunks.iter().map(|c| c.len() as u64).collect();
        let work: Vec<usize> = (0..chunks.len())
            .filter(|i| !done.contains(&names[*i]))
            .collect();
        let tracker = Tracker::new(&sizes, |i| !work.contains(&i), progress);
        let journal_lock = Mutex::new(());
        self.run_parallel(&work, |i| {
            let (chunk, name, journal, journal_lock, tracker) =
                (chunks[i], &names[i], &journal, &journal_lock, &tracker);
            async move {
                self.store_chunk(i, name, chunk).await?;
                let _guard = journal_lock.lock();
                append_line(journal, name)?;
                tracker.finished(i);
                Ok(())
            }
        })
        .await?;
        let _ = std::fs::remove_file(&journal);
        Ok(manifest)
    }

    async fn store_chunk(
        &self,
        index: usize,
        name: &str,
        chunk: &[u8],
    ) -> Result<(), AttachmentTransferError> {
        let key = session_wire::parse_blob_name(name).unwrap_or_default();
        let data = STANDARD.encode(chunk);
        let build = |_now: u64, _to: &Ed25519PublicKey| {
            Request::StoreBlob(StoreBlobParams {
                name: name.to_owned(),
                data: data.clone(),
                ttl: None,
            })
        };
        self.client
            .request_keyed(&key, &[], build)
            .await
            .map(|_| ())
            .map_err(|e| AttachmentTransferError::Chunk {
                index,
                action: "stored",
                reason: e.to_string(),
            })
    }

    /// Fetches, verifies and decrypts the file a manifest points at (following an indirect
    /// manifest). Chunks already on disk from an earlier call are not fetched again.
    pub async fn download(
        &self,
        manifest: &Manifest,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Downloaded, AttachmentTransferError> {
        // Sizes come from the sender: refuse before fetching what this client would not take.
        if manifest.size > self.max_file_bytes as u64 {
            return Err(AttachmentTransferError::TooLarge {
                size: usize::try_from(manifest.size).unwrap_or(usize::MAX),
                max: self.max_file_bytes,
            });
        }
        if !manifest.indirect {
            let size = usize::try_from(manifest.size).unwrap_or(usize::MAX);
            let expected = attachment::encrypted_size(size).div_ceil(CHUNK_BYTES);
            if manifest.chunks.len() != expected {
                return Err(AttachmentTransferError::Manifest(format!(
                    "{} chunks for {} bytes (expected {expected})",
                    manifest.chunks.len(),
                    manifest.size
                )));
            }
            return self
                .download_direct(manifest, Some(manifest.size), progress)
                .await;
        }
        if manifest.chunks.len() > MAX_MANIFEST_CHUNKS {
            return Err(AttachmentTransferError::Manifest(
                "too many manifest chunks".into(),
            ));
        }
        let outer = self.download_direct(manifest, None, &|_| {}).await?;
        let inner: Manifest = serde_json::from_slice(&outer.data)
            .map_err(|e| AttachmentTransferError::Manifest(e.to_string()))
            .and_then(Manifest::checked)?;
        if inner.indirect || inner.size != manifest.size {
            return Err(AttachmentTransferError::Manifest(
                "the inner manifest does not match the outer one".into(),
            ));
        }
        let mut got = Box::pin(self.download(&inner, progress)).await?;
        got.fetched += outer.fetched;
        got.bad_copies += outer.bad_copies;
        Ok(got)
    }

    async fn download_direct(
        &self,
        manifest: &Manifest,
        expected_size: Option<u64>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Downloaded, AttachmentTransferError> {
        let key = manifest
            .key_bytes()
            .ok_or_else(|| AttachmentTransferError::Manifest("bad key".into()))?;
        let dir = self.state_dir.join(format!("down-{}", manifest.id()));
        std::fs::create_dir_all(&dir).map_err(|source| AttachmentTransferError::State {
            path: dir.clone(),
            source,
        })?;
        let names: Vec<[u8; 32]> = manifest
            .chunks
            .iter()
            .map(|c| session_wire::parse_blob_name(c).unwrap_or_default())
            .collect();
        let chunk_path = |i: usize| dir.join(format!("{i:06}"));
        let have: Vec<bool> = (0..names.len())
            .map(|i| {
                std::fs::read(chunk_path(i)).is_ok_and(|b| session_wire::blob_name(&b) == names[i])
            })
            .collect();
        // Sizes are known only once fetched; every chunk but the last is full.
        let sizes: Vec<u64> = vec![CHUNK_BYTES as u64; names.len()];
        let work: Vec<usize> = (0..names.len()).filter(|i| !have[*i]).collect();
        let tracker = Tracker::new(&sizes, |i| have[i], progress);
        let bad_copies = std::sync::atomic::AtomicUsize::new(0);
        self.run_parallel(&work, |i| {
            let (name, path, tracker, bad_copies) =
                (&names[i], chunk_path(i), &tracker, &bad_copies);
            async move {
                let (bytes, bad) = self.fetch_chunk(i, name).await?;
                bad_copies.fetch_add(bad, std::sync::atomic::Ordering::Relaxed);
                write_whole(&path, &bytes)?;
                tracker.finished(i);
                Ok(())
            }
        })
        .await?;
        let mut ciphertext = Vec::with_capacity(names.len() * CHUNK_BYTES);
        for i in 0..names.len() {
            let path = chunk_path(i);
            let bytes = std::fs::read(&path)
                .map_err(|source| AttachmentTransferError::State { path, source })?;
            ciphertext.extend_from_slice(&bytes);
        }
        let data = attachment::decrypt(&key, &ciphertext)?;
        if expected_size.is_some_and(|size| data.len() as u64 != size) {
            return Err(AttachmentTransferError::Manifest(format!(
                "the file is {} bytes, the manifest says {}",
                data.len(),
                manifest.size
            )));
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Downloaded {
            data,
            fetched: work.len(),
            bad_copies: bad_copies.into_inner(),
        })
    }

    /// Fetches one chunk from members of its swarm until one returns the named bytes; returns
    /// them and how many members answered with other bytes.
    async fn fetch_chunk(
        &self,
        index: usize,
        name: &[u8; 32],
    ) -> Result<(Vec<u8>, usize), AttachmentTransferError> {
        let name_hex = session_wire::blob_name_hex_of(name);
        let members = self
            .client
            .list()
            .and_then(|l| l.swarm_for(name).map(|s| s.members.len()))
            .unwrap_or(1);
        let mut avoid: Vec<Ed25519PublicKey> = Vec::new();
        let mut bad = 0;
        let mut last = String::from("no member answered");
        // A member that lacks the chunk answers 404 without being named; the next attempt goes
        // to a member picked at random again, so a few more attempts than members reach them.
        let mut attempts = 0;
        while avoid.len() < members && attempts < 2 * members + 1 {
            attempts += 1;
            let build = |_now: u64, _to: &Ed25519PublicKey| {
                Request::FetchBlob(FetchBlobParams {
                    name: name_hex.clone(),
                })
            };
            match self.client.request_keyed(name, &avoid, build).await {
                Ok(routed) => {
                    let bytes = routed
                        .body
                        .get("data")
                        .and_then(Value::as_str)
                        .and_then(|d| STANDARD.decode(d).ok());
                    match bytes {
                        Some(b) if session_wire::blob_name(&b) == *name => return Ok((b, bad)),
                        _ => {
                            bad += 1;
                            last = "a node returned bytes that do not match the name".into();
                            tracing::debug!(
                                chunk = index,
                                "wrong bytes for a chunk; asking another member"
                            );
                        }
                    }
                    avoid.push(routed.route.destination.key);
                }
                Err(ClientError::Rejected { status, message }) => {
                    last = format!("HTTP {status}: {message}");
                }
                Err(e) => {
                    last = e.to_string();
                    break;
                }
            }
        }
        Err(AttachmentTransferError::Chunk {
            index,
            action: "fetched",
            reason: last,
        })
    }

    /// Runs `job` for every index in `work`, at most `self.parallel` at once; the first error
    /// stops the rest (what finished is kept in the transfer state).
    async fn run_parallel<F, Fut>(
        &self,
        work: &[usize],
        job: F,
    ) -> Result<(), AttachmentTransferError>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<(), AttachmentTransferError>>,
    {
        let next = Mutex::new(work.iter().copied());
        let failed: Mutex<Option<AttachmentTransferError>> = Mutex::new(None);
        let worker = || async {
            loop {
                if failed.lock().map_or(true, |f| f.is_some()) {
                    return;
                }
                let Some(i) = next.lock().ok().and_then(|mut n| n.next()) else {
                    return;
                };
                if let Err(e) = job(i).await {
                    if let Ok(mut f) = failed.lock() {
                        f.get_or_insert(e);
                    }
                    return;
                }
            }
        };
        let workers: Vec<_> = (0..self.parallel.min(work.len()).max(1))
            .map(|_| worker())
            .collect();
        join_all(workers).await;
        match failed.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Awaits every future (they run concurrently on this task).
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// Counts finished chunks and reports progress.
struct Tracker<'p> {
    sizes: Vec<u64>,
    done: Mutex<(usize, u64)>,
    progress: &'p (dyn Fn(Progress) + Sync),
}

impl<'p> Tracker<'p> {
    fn new(
        sizes: &[u64],
        already: impl Fn(usize) -> bool,
        progress: &'p (dyn Fn(Progress) + Sync),
    ) -> Self {
        let done = (0..sizes.len()).filter(|i| already(*i));
        let (count, bytes) = done.fold((0, 0), |(c, b), i| (c + 1, b + sizes[i]));
        let tracker = Self {
            sizes: sizes.to_vec(),
            done: Mutex::new((count, bytes)),
            progress,
        };
        tracker.report(count, bytes);
        tracker
    }

    fn finished(&self, i: usize) {
        let (count, bytes) = match self.done.lock() {
            Ok(mut d) => {
                d.0 += 1;
                d.1 += self.sizes[i];
                *d
            }
            Err(_) => return,
        };
        self.report(count, bytes);
    }

    fn report(&self, done: usize, bytes: u64) {
        (self.progress)(Progress {
            done,
            total: self.sizes.len(),
            bytes,
            total_bytes: self.sizes.iter().sum(),
        });
    }
}

fn state_error(path: &Path) -> impl FnOnce(std::io::Error) -> AttachmentTransferError + '_ {
    move |source| AttachmentTransferError::State {
        path: path.to_owned(),
        source,
    }
}

fn read_lines(path: &Path) -> Result<Vec<String>, AttachmentTransferError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(state_error(path)(e)),
    }
}

fn append_line(path: &Path, line: &str) -> Result<(), AttachmentTransferError> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(state_error(parent))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(state_error(path))?;
    writeln!(file, "{line}").map_err(state_error(path))
}

/// Writes a file whole: to a temporary name, then renamed, so a crash leaves no half chunk.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), AttachmentTransferError> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(state_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(state_error(path))
}
