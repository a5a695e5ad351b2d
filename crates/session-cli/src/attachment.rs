//! `session send-file` and `session save`, and how an attachment shows in `history`/`chat`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use session_client::attachments::{Attachments, Manifest, Progress};
use session_client::inert::neutralise;
use session_client::{MessageState, Profile, StoredMessage};

use crate::commands::{messenger, messenger_with, open_store, peer_label, unlock, Result};

/// Where a profile keeps the state of unfinished transfers.
fn transfers(profile: &Profile) -> PathBuf {
    profile.dir().join("transfers")
}

/// The media type for a file name's extension (the common ones; others are octet streams).
fn media_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("mp4") => "video/mp4",
        Some("mp3") => "audio/mpeg",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

/// A progress bar on stderr: `[#####...............]  25%  3.1 of 12.4 MB`.
fn bar(verb: &'static str) -> impl Fn(Progress) + Sync {
    move |p: Progress| {
        let total = p.total_bytes.max(1);
        let filled = (p.bytes.min(total) * 30 / total) as usize;
        let line = format!(
            "\r{verb} [{}{}] {:3}%  {:.1} of {:.1} MB",
            "#".repeat(filled),
            ".".repeat(30 - filled),
            p.bytes.min(total) * 100 / total,
            p.bytes as f64 / 1e6,
            total as f64 / 1e6
        );
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        if p.done == p.total {
            let _ = err.write_all(b"\n");
        }
        let _ = err.flush();
    }
}

/// Encrypts and uploads a file to the swarms, then sends its manifest to `to`.
pub async fn send_file(profile: &Profile, to: &str, path: &Path, max_mb: u64) -> Result<ExitCode> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_owned();
    let seed = unlock(profile)?;
    let keys = seed.key_pair();
    let messenger = messenger_with(profile, &seed, open_store(profile, &seed)?).await?;
    let peer = messenger.store().resolve(to)?;
    let max = usize::try_from(max_mb.saturating_mul(1_000_000)).unwrap_or(usize::MAX);
    let attachments =
        Attachments::new(messenger.client(), transfers(profile)).with_max_file_bytes(max);
    let started = std::time::Instant::now();
    let manifest = attachments
        .upload(&keys, &data, &name, media_type(path), &bar("uploading"))
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let delivery = messenger.send(&peer, &manifest.to_message()).await?;
    let label = peer_label(&messenger.store(), &peer);
    println!(
        "{} ({:.1} MB) uploaded in {seconds:.1} s ({:.2} MB/s) as {} chunks; to {label}: {}",
        neutralise(&name),
        data.len() as f64 / 1e6,
        data.len() as f64 / 1e6 / seconds.max(0.001),
        manifest.chunks.len(),
        delivery.message.state.describe()
    );
    Ok(match delivery.message.state {
        MessageState::Stored { .. } => ExitCode::SUCCESS,
        _ => {
            println!("{}", crate::commands::SAVED_FOR_RETRY);
            ExitCode::FAILURE
        }
    })
}

/// Downloads the attachment of message `id` into `dir` (the current directory by default).
pub async fn save(profile: &Profile, id: i64, dir: Option<PathBuf>) -> Result<ExitCode> {
    let messenger = messenger(profile).await?;
    let message = messenger.store().message(id)?;
    let manifest = Manifest::from_message(&message.text)
        .ok_or_else(|| format!("message {id} has no attachment"))??;
    let attachments = Attachments::new(messenger.client(), transfers(profile));
    let got = attachments.download(&manifest, &bar("downloading")).await?;
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let path = free_path(&dir, &safe_name(&manifest.name));
    std::fs::write(&path, &got.data)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("saved {} ({} bytes)", path.display(), got.data.len());
    Ok(ExitCode::SUCCESS)
}

/// The sender's file name made safe to create: its last component only, control characters and
/// separators replaced, never empty, hidden or `..`.
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

/// `dir/name`, or `dir/name (2)` ... when that exists: never overwrite.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{name} ({n})")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// How a message carrying an attachment shows in `history` and `chat`; `None` for others.
pub fn describe(message: &StoredMessage) -> Option<String> {
    let shown = match Manifest::from_message(&message.text)? {
        Ok(m) => format!(
            "[attachment] {} ({}, {:.1} MB): session save {}",
            neutralise(&m.name),
            neutralise(&m.media_type),
            m.size as f64 / 1e6,
            message.id
        ),
        Err(e) => format!("[attachment, unreadable: {e}]"),
    };
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_network_cannot_escape_the_directory() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\x.exe"), "x.exe");
        assert_eq!(safe_name(".."), "attachment");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a\u{1b}[2Jb.png"), "a_[2Jb.png");
        assert_eq!(safe_name(""), "attachment");
    }
}
