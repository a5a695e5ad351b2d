//! Safety codes: words computed from two Account IDs, the same on both sides, to compare in
//! person or by voice; and the record of which contacts were verified that way.
//!
//! The code is two halves of [`WORDS_PER_ID`] words, one per Account ID (a BLAKE2b hash of it
//! under a domain of its own, read as word indices), the half of the smaller ID first, so both
//! sides see the same words. Halves rather than one hash of the pair: an attacker in the middle
//! shows Alice `code(Alice, M1)` and Bob `code(M2, Bob)`; with one hash of the pair, grinding M1
//! and M2 until those collide is a birthday search (half the bits), while with halves each of M1
//! and M2 must match a fixed target (a second preimage: all the bits of a half, about 53).
//!
//! A verified contact whose keys change is flagged: [`key_changed`] is the hook the
//! multi-device and v2-key work calls when it learns new keys for a contact (with the v1
//! protocol the Account ID is the only key, so nothing calls it yet).

use rusqlite::{params, Connection, OptionalExtension as _};
use session_crypto::hash::blake2b_32;
use session_crypto::mnemonic::word_list;
use session_crypto::AccountId;

use crate::{MessageStore, StoreError};

/// Words per Account ID in a safety code (10.67 bits a word).
pub const WORDS_PER_ID: usize = 5;
/// Domain of the per-ID hash.
const DOMAIN: &[u8] = b"session-rs safety code v1";

/// The table of verified contacts (created by the store's open).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS verified_contacts (
    account_id     TEXT PRIMARY KEY,
    verified_ms    INTEGER NOT NULL,
    code           TEXT NOT NULL,
    key_changed_ms INTEGER
);
";

/// Creates the table of verified contacts; called by [`MessageStore`]'s open.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// The safety code of the pair `a`, `b` (order does not matter): `2 * WORDS_PER_ID` words.
pub fn safety_code(a: &AccountId, b: &AccountId) -> Vec<&'static str> {
    let (a, b) = (a.to_bytes33(), b.to_bytes33());
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let mut words = half(&first);
    words.extend(half(&second));
    words
}

/// The safety code as one line: halves separated by ` / `.
pub fn safety_code_text(a: &AccountId, b: &AccountId) -> String {
    let words = safety_code(a, b);
    let (first, second) = words.split_at(WORDS_PER_ID.min(words.len()));
    format!("{} / {}", first.join(" "), second.join(" "))
}

/// The words of one Account ID: its hash read as a big number, digit by digit in base 1626.
fn half(id: &[u8; 33]) -> Vec<&'static str> {
    let list = word_list();
    let digest = blake2b_32(&[DOMAIN, id]);
    let mut value = u128::from_le_bytes(digest[..16].try_into().unwrap_or([0; 16]));
    let base = list.len().max(1) as u128;
    (0..WORDS_PER_ID)
        .map(|_| {
            let index = usize::try_from(value % base).unwrap_or(0);
            value /= base;
            list.get(index).copied().unwrap_or("")
        })
        .collect()
}

/// How a contact stands with respect to verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Never verified.
    Unverified,
    /// Verified at this time (Unix milliseconds), keys unchanged since.
    Verified {
        /// When.
        at_ms: u64,
    },
    /// Verified, but the contact's keys changed afterwards: compare the code again.
    KeyChanged {
        /// When it was verified.
        verified_ms: u64,
        /// When the change was seen.
        changed_ms: u64,
    },
}

/// Marks `contact` verified by the code of the pair (`me`, `contact`) (again, after a key
/// change: the flag is cleared).
pub fn mark_verified(
    store: &MessageStore,
    me: &AccountId,
    contact: &AccountId,
    now_ms: u64,
) -> Result<(), StoreError> {
    store.conn().execute(
        "INSERT INTO verified_contacts (account_id, verified_ms, code, key_changed_ms)
         VALUES (?1, ?2, ?3, NULL)
         ON CONFLICT (account_id) DO UPDATE SET verified_ms = excluded.verified_ms,
             code = excluded.code, key_changed_ms = NULL",
        params![
            contact.to_string(),
            to_i64(now_ms),
            safety_code_text(me, contact)
        ],
    )?;
    Ok(())
}

/// Whether `contact` was verified, and whether its keys changed since.
pub fn verification(store: &MessageStore, contact: &AccountId) -> Result<Verification, StoreError> {
    let row: Option<(i64, Option<i64>)> = store
        .conn()
        .query_row(
            "SELECT verified_ms, key_changed_ms FROM verified_contacts WHERE account_id = ?1",
            [contact.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        None => Verification::Unverified,
        Some((at, None)) => Verification::Verified { at_ms: to_u64(at) },
        Some((at, Some(changed))) => Verification::KeyChanged {
            verified_ms: to_u64(at),
            changed_ms: to_u64(changed),
        },
    })
}

/// The hook for whoever learns new keys for a contact (multi-device, v2 keys): a verified
/// contact is flagged until verified again. Returns whether the contact was verified (and is
/// now flagged).
pub fn key_changed(
    store: &MessageStore,
    contact: &AccountId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let changed = store.conn().execute(
        "UPDATE verified_contacts SET key_changed_ms = ?2
         WHERE account_id = ?1 AND key_changed_ms IS NULL",
        params![contact.to_string(), to_i64(now_ms)],
    )?;
    Ok(changed > 0
        || matches!(
            verification(store, contact)?,
            Verification::KeyChanged { .. }
        ))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    fn account() -> AccountId {
        Ed25519Seed::generate(&mut OsRng).key_pair().account_id()
    }

    #[test]
    fn verification_is_recorded_and_a_key_change_flags_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(&dir.path().join("db")).unwrap();
        let (me, bob, carol) = (account(), account(), account());
        assert_eq!(
            verification(&store, &bob).unwrap(),
            Verification::Unverified
        );
        assert!(!key_changed(&store, &carol, 5).unwrap(), "never verified");
        mark_verified(&store, &me, &bob, 10).unwrap();
        assert_eq!(
            verification(&store, &bob).unwrap(),
            Verification::Verified { at_ms: 10 }
        );
        assert!(key_changed(&store, &bob, 20).unwrap());
        assert!(key_changed(&store, &bob, 30).unwrap(), "still flagged");
        assert_eq!(
            verification(&store, &bob).unwrap(),
            Verification::KeyChanged {
                verified_ms: 10,
                changed_ms: 20
            }
        );
        mark_verified(&store, &me, &bob, 40).unwrap();
        assert_eq!(
            verification(&store, &bob).unwrap(),
            Verification::Verified { at_ms: 40 }
        );
        assert_eq!(
            verification(&store, &carol).unwrap(),
            Verification::Unverified
        );
    }

    #[test]
    fn the_code_is_ten_words_of_the_list() {
        let (a, b) = (account(), account());
        let code = safety_code(&a, &b);
        assert_eq!(code.len(), 2 * WORDS_PER_ID);
        assert!(code.iter().all(|w| word_list().contains(w)));
        let text = safety_code_text(&a, &b);
        assert_eq!(text.split(" / ").count(), 2, "{text}");
    }
}
