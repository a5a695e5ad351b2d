//! Recovery phrases: the Electrum/Monero mnemonic scheme Session uses.
//!
//! Every 4 seed bytes (a little-endian `u32` `v`) become three words with indices
//! `a = v % 1626`, `b = (v / 1626 + a) % 1626`, `c = (v / 1626 / 1626 + b) % 1626`. A last word is a
//! checksum: `words[crc32(first three letters of each word) % word_count]`. A 16-byte legacy seed
//! gives 13 words; a 32-byte seed gives 25. Words are matched on their first three letters, in any
//! case, so users may type prefixes.

#[path = "mnemonic/english.rs"]
mod english;

use zeroize::Zeroizing;

use crate::error::PhraseError;
use crate::keys::Ed25519Seed;
use english::WORDS;

/// Number of words in the list.
const N: u32 = 1626;
/// Letters that identify a word.
const PREFIX_LEN: usize = 3;

/// Encodes seed bytes (a non-zero multiple of 4 bytes) as words, checksum word last.
pub fn encode(seed: &[u8]) -> Result<Zeroizing<String>, PhraseError> {
    if seed.is_empty() || !seed.len().is_multiple_of(4) {
        return Err(PhraseError::BadSeedLength(seed.len()));
    }
    let mut indices = Zeroizing::new(Vec::with_capacity(seed.len() / 4 * 3 + 1));
    for chunk in seed.chunks_exact(4) {
        let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        indices.extend(triplet(v));
    }
    let checksum = indices[checksum_position(&indices)];
    indices.push(checksum);
    let mut phrase = Zeroizing::new(String::with_capacity(indices.len() * 9));
    for (i, index) in indices.iter().enumerate() {
        if i > 0 {
            phrase.push(' ');
        }
        phrase.push_str(word(*index));
    }
    Ok(phrase)
}

/// Decodes a phrase of 13 or 25 words into its 16- or 32-byte seed.
///
/// Distinguishes a wrong word count, an unknown word, an overflowing group of three, two swapped
/// neighbours (when swapping them back fixes the checksum) and any other checksum mismatch.
pub fn decode(phrase: &str) -> Result<Zeroizing<Vec<u8>>, PhraseError> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    if words.len() != 13 && words.len() != 25 {
        return Err(PhraseError::WrongWordCount(words.len()));
    }
    let mut indices = Zeroizing::new(Vec::with_capacity(words.len()));
    for (position, text) in words.iter().enumerate() {
        indices.push(lookup(text).ok_or(PhraseError::UnknownWord(position + 1))?);
    }
    let Some((&checksum, data)) = indices.split_last() else {
        return Err(PhraseError::WrongWordCount(0));
    };
    let mut seed = Zeroizing::new(Vec::with_capacity(data.len() / 3 * 4));
    for (group, three) in data.chunks_exact(3).enumerate() {
        let v = untriplet([three[0], three[1], three[2]]).ok_or(PhraseError::TripletOverflow {
            first_word: group * 3 + 1,
        })?;
        seed.extend_from_slice(&v.to_le_bytes());
    }
    if data[checksum_position(data)] != checksum {
        return Err(find_transposition(data, checksum)
            .map_or(PhraseError::BadChecksum, |first_word| {
                PhraseError::Transposed { first_word }
            }));
    }
    Ok(seed)
}

impl Ed25519Seed {
    /// The recovery phrase: 25 words, or the 13-word legacy form for a seed restored from one.
    pub fn to_phrase(&self) -> Zeroizing<String> {
        let bytes = self.as_bytes();
        let seed: &[u8] = if self.is_legacy() {
            &bytes[..16]
        } else {
            bytes
        };
        // A 16- or 32-byte seed is always a valid length, so this cannot fail.
        encode(seed).unwrap_or_default()
    }

    /// Restores a seed from a 25-word phrase, or a 13-word legacy Session phrase.
    pub fn from_phrase(phrase: &str) -> Result<Self, PhraseError> {
        let seed = decode(phrase)?;
        if let Ok(legacy) = <[u8; 16]>::try_from(seed.as_slice()) {
            return Ok(Self::from_legacy(legacy));
        }
        let full = <[u8; 32]>::try_from(seed.as_slice())
            .map_err(|_| PhraseError::BadSeedLength(seed.len()))?;
        Ok(Self::from_bytes(full))
    }
}

/// The three word indices of a 32-bit value.
pub fn triplet(v: u32) -> [u32; 3] {
    let a = v % N;
    let b = (v / N + a) % N;
    let c = (v / N / N + b) % N;
    [a, b, c]
}

/// The 32-bit value of three word indices (each below 1626), or `None` when it does not fit in
/// 32 bits.
pub fn untriplet([a, b, c]: [u32; 3]) -> Option<u32> {
    let (a, b, c) = (u64::from(a), u64::from(b), u64::from(c));
    let n = u64::from(N);
    let value = a + n * ((n + b - a) % n) + n * n * ((n + c - b) % n);
    u32::try_from(value).ok()
}

/// Where in `data` the checksum word is taken from.
fn checksum_position(data: &[u32]) -> usize {
    let mut crc = crc32fast::Hasher::new();
    for index in data {
        crc.update(prefix(word(*index)).as_bytes());
    }
    // Widening u32 to usize is lossless on every supported target.
    crc.finalize() as usize % data.len().max(1)
}

/// The first neighbour pair whose swap makes the checksum match, if any.
fn find_transposition(data: &[u32], checksum: u32) -> Option<usize> {
    let mut trial = Zeroizing::new(data.to_vec());
    (0..data.len().saturating_sub(1))
        .find(|&i| {
            trial.swap(i, i + 1);
            let fixed = trial.get(checksum_position(&trial)) == Some(&checksum)
                && trial
                    .chunks_exact(3)
                    .all(|t| untriplet([t[0], t[1], t[2]]).is_some());
            trial.swap(i, i + 1);
            fixed
        })
        .map(|i| i + 1)
}

/// What may explain a phrase whose words are all in the list but whose checksum does not
/// match. The checksum is weak (it picks one of the data words), so a fitting swap proves
/// little: one different word somewhere fits about as often. A hint therefore lists every
/// explanation, and a caller claims a swap only when no single word could explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumHint {
    /// 1-based positions where one different word would make the checksum match (the last,
    /// the checksum word itself, always qualifies).
    pub suspect_words: Vec<usize>,
    /// 1-based first positions of neighbour pairs whose swap makes the checksum match.
    pub swaps: Vec<usize>,
    /// The number of words in the phrase.
    pub words: usize,
}

impl ChecksumHint {
    /// Whether one different word among the data words (not the checksum word) would fit.
    pub fn a_data_word_may_be_wrong(&self) -> bool {
        self.suspect_words.iter().any(|&p| p < self.words)
    }
}

/// The explanations of a checksum mismatch, or `None` when the phrase is not a complete list of
/// known words (other errors come first) or its checksum matches.
pub fn checksum_hint(phrase: &str) -> Option<ChecksumHint> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    if words.len() != 13 && words.len() != 25 {
        return None;
    }
    let indices: Zeroizing<Vec<u32>> = Zeroizing::new(
        words
            .iter()
            .map(|w| lookup(w))
            .collect::<Option<Vec<u32>>>()?,
    );
    let (&checksum, data) = indices.split_last()?;
    let triplets_ok = |d: &[u32]| {
        d.chunks_exact(3)
            .all(|t| untriplet([t[0], t[1], t[2]]).is_some())
    };
    let fits = |d: &[u32]| d.get(checksum_position(d)) == Some(&checksum) && triplets_ok(d);
    if fits(data) {
        return None;
    }
    let mut trial = Zeroizing::new(data.to_vec());
    let mut suspect_words = Vec::new();
    for position in 0..data.len() {
        let original = trial[position];
        let fitting = (0..N).any(|candidate| {
            if candidate == original {
                return false;
            }
            trial[position] = candidate;
            fits(&trial)
        });
        trial[position] = original;
        if fitting {
            suspect_words.push(position + 1);
        }
    }
    // Any checksum word can be replaced by the right one.
    suspect_words.push(words.len());
    let mut swaps = Vec::new();
    for i in 0..data.len().saturating_sub(1) {
        trial.swap(i, i + 1);
        if trial[i] != trial[i + 1] && fits(&trial) {
            swaps.push(i + 1);
        }
        trial.swap(i, i + 1);
    }
    Some(ChecksumHint {
        suspect_words,
        swaps,
        words: words.len(),
    })
}

/// The word list (1626 words with unique three-letter prefixes, in index order), for other
/// codes made of its words (invite codes, safety codes).
pub fn word_list() -> &'static [&'static str] {
    &WORDS
}

/// The index of a typed word in [`word_list`], matched on its first three letters in any case.
pub fn word_index(text: &str) -> Option<u32> {
    lookup(text)
}

/// The word at `index` (always below 1626 here).
fn word(index: u32) -> &'static str {
    WORDS.get(index as usize).copied().unwrap_or("")
}

/// The letters that identify a word.
fn prefix(text: &str) -> &str {
    text.get(..PREFIX_LEN).unwrap_or(text)
}

/// The index of a typed word, matched on its first three letters in any case (as the reference
/// does: the rest of the word is not checked).
fn lookup(text: &str) -> Option<u32> {
    if text.len() < PREFIX_LEN || !text.is_ascii() {
        return None;
    }
    let typed = prefix(text).to_ascii_lowercase();
    WORDS
        .binary_search_by(|w| prefix(w).cmp(typed.as_str()))
        .ok()
        .and_then(|index| u32::try_from(index).ok())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn word_list_is_sorted_with_unique_prefixes() {
        assert_eq!(WORDS.len(), 1626);
        for pair in WORDS.windows(2) {
            assert!(prefix(pair[0]) < prefix(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn every_word_round_trips_through_lookup() {
        for (i, w) in WORDS.iter().enumerate() {
            assert_eq!(lookup(w), Some(i as u32));
            assert_eq!(lookup(&w.to_uppercase()), Some(i as u32));
            assert_eq!(lookup(prefix(w)), Some(i as u32));
        }
        assert_eq!(lookup("ab"), None);
        assert_eq!(lookup("zzz"), None);
        assert_eq!(lookup("ébé"), None);
    }

    #[test]
    fn a_wrong_word_is_always_among_the_suspects() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut claimed_swaps = 0;
        for round in 0..12 {
            let seed: Vec<u8> = (0..32).map(|_| next() as u8).collect();
            let phrase = encode(&seed).unwrap();
            let mut words: Vec<&str> = phrase.split_whitespace().collect();
            let position = (next() % 25) as usize;
            let replacement = loop {
                let w = WORDS[(next() % 1626) as usize];
                if prefix(w) != prefix(words[position]) {
                    break w;
                }
            };
            words[position] = replacement;
            let typed = words.join(" ");
            if decode(&typed).is_ok() {
                continue; // the rare wrong word that still fits: nothing can tell
            }
            let Some(hint) = checksum_hint(&typed) else {
                continue; // an overflowing group, reported as such by decode
            };
            assert!(
                hint.suspect_words.contains(&(position + 1)),
                "round {round}: word {} not suspected in {hint:?}",
                position + 1
            );
            if !hint.swaps.is_empty() && !hint.a_data_word_may_be_wrong() {
                claimed_swaps += 1;
            }
        }
        assert_eq!(claimed_swaps, 0, "a swap was claimed for a wrong word");
        let good = encode(&[7u8; 32]).unwrap();
        assert_eq!(checksum_hint(&good), None);
        assert_eq!(checksum_hint("abbey abbey"), None);
    }

    #[test]
    fn wrong_seed_lengths_are_refused() {
        assert_eq!(encode(&[]).err(), Some(PhraseError::BadSeedLength(0)));
        assert_eq!(
            encode(&[1, 2, 3]).err(),
            Some(PhraseError::BadSeedLength(3))
        );
    }
}
