//! Invite codes: `N-word-word`, a rendezvous number and words of the recovery-phrase list.

use std::fmt;

use session_crypto::mnemonic::{word_index, word_list};
use session_crypto::RngCore;
use zeroize::Zeroizing;

use super::InviteError;

/// Rendezvous numbers run from 1 to this.
pub const MAX_NUMBER: u16 = 999;
/// Words in a code (1626 each: about 21 bits, of which an attacker tries one value per code).
pub const WORDS: usize = 2;

/// An invite code: the rendezvous number (public: it names the mailbox) and the words (the
/// password of the key exchange; kept out of logs and zeroized).
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    number: u16,
    words: Zeroizing<String>,
}

impl InviteCode {
    /// A fresh code with rendezvous number `number` and random words.
    pub fn generate(number: u16, rng: &mut impl RngCore) -> Self {
        let list = word_list();
        let words: Vec<&str> = (0..WORDS)
            .map(|_| {
                let index = (rng.next_u64() % list.len().max(1) as u64) as usize;
                list.get(index).copied().unwrap_or("")
            })
            .collect();
        Self {
            number,
            words: Zeroizing::new(words.join("-")),
        }
    }

    /// A random rendezvous number, 1 to [`MAX_NUMBER`].
    pub fn random_number(rng: &mut impl RngCore) -> u16 {
        u16::try_from(rng.next_u64() % u64::from(MAX_NUMBER)).unwrap_or(0) + 1
    }

    /// Parses `7-ocean-violin` (spaces may replace the dashes; words in any case, and, as in
    /// recovery phrases, recognised by their first three letters).
    pub fn parse(text: &str) -> Result<Self, InviteError> {
        let bad = |why: &str| InviteError::BadCode(why.into());
        let text = text.trim();
        let parts: Vec<&str> = text
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let Some((number, words)) = parts.split_first() else {
            return Err(bad("the code is empty (it looks like 7-ocean-violin)"));
        };
        let number: u16 = number
            .parse()
            .ok()
            .filter(|n| (1..=MAX_NUMBER).contains(n))
            .ok_or_else(|| bad("a code starts with its number, 1 to 999 (as in 7-ocean-violin)"))?;
        if words.len() != WORDS {
            return Err(bad(&format!(
                "a code has a number and {WORDS} words (as in 7-ocean-violin), this one has {} word(s)",
                words.len()
            )));
        }
        let list = word_list();
        let mut canonical = Vec::with_capacity(WORDS);
        for (position, word) in words.iter().enumerate() {
            let word = word_index(word)
                .and_then(|i| list.get(i as usize).copied())
                .ok_or_else(|| {
                    bad(&format!(
                        "word {} of the code is not a code word",
                        position + 1
                    ))
                })?;
            canonical.push(word);
        }
        Ok(Self {
            number,
            words: Zeroizing::new(canonical.join("-")),
        })
    }

    /// The rendezvous number.
    pub fn number(&self) -> u16 {
        self.number
    }

    /// The password of the key exchange: the words as the list spells them.
    pub(crate) fn password(&self) -> &[u8] {
        self.words.as_bytes()
    }

    /// A code with the same number and other words (tests: a wrong guess).
    pub fn with_other_words(&self, rng: &mut impl RngCore) -> Self {
        loop {
            let other = Self::generate(self.number, rng);
            if other.words != self.words {
                return other;
            }
        }
    }
}

impl fmt::Display for InviteCode {
    /// `7-ocean-violin`: what the inviter reads out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.number, self.words.as_str())
    }
}

impl fmt::Debug for InviteCode {
    /// The number only: the words are a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteCode({}-…)", self.number)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use session_crypto::OsRng;

    #[test]
    fn codes_round_trip_and_typed_variants_parse() {
        for _ in 0..50 {
            let number = InviteCode::random_number(&mut OsRng);
            assert!((1..=MAX_NUMBER).contains(&number));
            let code = InviteCode::generate(number, &mut OsRng);
            let text = code.to_string();
            assert_eq!(InviteCode::parse(&text).unwrap(), code, "{text}");
            let shouted = format!("  {}  ", text.to_uppercase().replace('-', " "));
            assert_eq!(InviteCode::parse(&shouted).unwrap(), code, "{shouted}");
            assert!(!format!("{code:?}").contains(&text[text.find('-').unwrap() + 1..]));
        }
    }

    #[test]
    fn bad_codes_say_why() {
        for (text, expected) in [
            ("", "empty"),
            ("ocean-violin", "starts with its number"),
            ("0-ocean-violin", "1 to 999"),
            ("1000-ocean-violin", "1 to 999"),
            ("7-ocean", "has 1 word"),
            ("7-ocean-violin-x", "has 3 word"),
            ("7-ocean-zzzz", "word 2 of the code"),
        ] {
            let error = InviteCode::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
