//! Creating and restoring an account, shared by every user interface: the checks on what the
//! user typed (display name, recovery phrase, with word-level hints) and the files written.

use session_crypto::{Ed25519Seed, PhraseError};

use std::path::{Path, PathBuf};

use crate::{AccountError, KdfParams, NetworkFile, Profile, StoreError};

/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The settings key of the user's display name.
pub const DISPLAY_NAME_SETTING: &str = "display_name";

/// Why an account cannot be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnboardingError {
    /// The display name is not acceptable.
    #[error("{0}")]
    Name(String),
    /// The account file cannot be written (or exists already).
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The message database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A display name the user chose: one line, no control characters, at most 64 characters.
pub fn checked_name(name: &str) -> Result<String, OnboardingError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(OnboardingError::Name("the name is empty".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(OnboardingError::Name(
            "the name contains control characters".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(OnboardingError::Name(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

/// The seed of a recovery phrase, or a sentence saying which words look wrong.
pub fn seed_from_phrase(phrase: &str) -> Result<Ed25519Seed, String> {
    Ed25519Seed::from_phrase(phrase.trim()).map_err(|e| {
        format!(
            "the recovery phrase is not valid: {}",
            phrase_problem(&e, phrase)
        )
    })
}

/// Writes the account file of `seed` into `profile` (sealed under `passphrase` if given) and
/// stores the display name, checked first, so that nothing is written for a bad name.
pub fn create_account(
    profile: &Profile,
    seed: &Ed25519Seed,
    name: Option<&str>,
    passphrase: Option<&str>,
) -> Result<(), OnboardingError> {
    let name = name.map(checked_name).transpose()?;
    profile
        .account()
        .create(seed, passphrase, KdfParams::DEFAULT)?;
    if let Some(name) = name {
        profile
            .message_store_for(seed)?
            .set_setting(DISPLAY_NAME_SETTING, &name)?;
    }
    Ok(())
}

/// Writes `network` as `dir/network.json` for clients to join with: whole under another name,
/// then renamed, so that a reader never sees half a file.
pub fn publish_network(dir: &Path, network: &NetworkFile) -> Result<PathBuf, String> {
    let file = dir.join("network.json");
    let temp = dir.join("network.json.tmp");
    std::fs::write(&temp, network.to_json())
        .and_then(|()| std::fs::rename(&temp, &file))
        .map_err(|e| format!("writing {}: {e}", file.display()))?;
    Ok(file)
}

/// Says what may be wrong with a phrase: for a checksum mismatch, every position a single wrong
/// word could be at, and a swap only as one possibility among them (the checksum picks one of
/// the data words, so a swap fits by chance about as often as not).
pub fn phrase_problem(error: &PhraseError, phrase: &str) -> String {
    if !matches!(
        error,
        PhraseError::BadChecksum | PhraseError::Transposed { .. }
    ) {
        return error.to_string();
    }
    let Some(hint) = session_crypto::mnemonic::checksum_hint(phrase) else {
        return error.to_string();
    };
    let last = hint.words;
    let swaps = hint
        .swaps
        .iter()
        .map(|&i| format!("{i} and {}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let data_suspects: Vec<String> = hint
        .suspect_words
        .iter()
        .filter(|&&p| p < last)
        .map(usize::to_string)
        .collect();
    if !hint.a_data_word_may_be_wrong() && hint.swaps.len() == 1 {
        return format!(
            "words {swaps} appear to be swapped (or the last word, the checksum word, is wrong)"
        );
    }
    let mut text = String::from("the last word (the checksum word) does not match the others. ");
    if data_suspects.len() + 1 >= last {
        text.push_str(&format!("Any one word may be wrong (1 to {last})"));
    } else {
        text.push_str(&format!(
            "One word may be wrong: word {} or {last} (the checksum word)",
            data_suspects.join(", ")
        ));
    }
    if !swaps.is_empty() {
        text.push_str(&format!(
            "; or two neighbours swapped (words {swaps} would fit, but so may a wrong word)"
        ));
    }
    text.push_str(". Compare every word with what you wrote down.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(checked_name("  Alice ").ok().as_deref(), Some("Alice"));
        assert_eq!(
            checked_name(" ")
                .map_err(|e| e.to_string())
                .err()
                .as_deref(),
            Some("the name is empty")
        );
        assert!(checked_name("a\u{1b}b").is_err());
        assert!(checked_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn a_swapped_or_wrong_word_is_located() {
        let seed = Ed25519Seed::generate(&mut session_crypto::OsRng);
        let phrase = seed.to_phrase();
        let mut words: Vec<&str> = phrase.split_whitespace().collect();
        assert!(seed_from_phrase(&words.join(" ")).is_ok());
        let (a, b) = (words[3], words[4]);
        if a != b {
            words.swap(3, 4);
            let error = seed_from_phrase(&words.join(" ")).err().unwrap_or_default();
            assert!(
                error.starts_with("the recovery phrase is not valid: "),
                "{error}"
            );
            assert!(error.contains("4 and 5"), "{error}");
        }
        let error = seed_from_phrase("abbey abbey").err().unwrap_or_default();
        assert!(
            error.starts_with("the recovery phrase is not valid: "),
            "{error}"
        );
    }
}
