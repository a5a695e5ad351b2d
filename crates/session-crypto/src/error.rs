//! The error type of this crate.

/// Everything that can go wrong in `session-crypto`.
///
/// Variants are grouped by what a caller can do about them: fix the input (a malformed key, Account
/// ID or phrase), or treat the message as undeliverable (decryption or signature failure).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// An Account ID string could not be parsed.
    #[error("invalid Account ID: {0}")]
    AccountId(#[from] AccountIdError),
    /// A recovery phrase could not be decoded.
    #[error("invalid recovery phrase: {0}")]
    Phrase(#[from] PhraseError),
    /// A byte string had the wrong length for the key or value it should hold.
    #[error("{what} must be {expected} bytes, got {got}")]
    WrongLength {
        /// What was being parsed.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// Bytes that should be an Ed25519 public key are not a valid curve point.
    #[error("not a valid Ed25519 public key")]
    InvalidEd25519Key,
    /// A ciphertext is shorter than the smallest valid one.
    #[error("ciphertext too short: {got} bytes, at least {min} needed")]
    CiphertextTooShort {
        /// The length received.
        got: usize,
        /// The minimum length.
        min: usize,
    },
    /// Authenticated decryption failed: wrong key, or the ciphertext was altered.
    #[error("decryption failed (wrong key or tampered ciphertext)")]
    DecryptFailed,
    /// The decrypted message's signature does not verify against its claimed sender.
    #[error("signature verification failed")]
    BadSignature,
    /// The shared secret of a key exchange was all zeros (the peer sent a low-order point).
    #[error("key exchange produced a degenerate shared secret")]
    DegenerateSharedSecret,
    /// Encryption failed (only possible for inputs beyond the cipher's limits).
    #[error("encryption failed")]
    EncryptFailed,
    /// Decrypted or signed data does not have the structure its format requires.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Why an Account ID string was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountIdError {
    /// The string does not have 66 characters.
    #[error("expected 66 hex characters, got {0}")]
    WrongLength(usize),
    /// The string does not start with `05`.
    #[error("expected the prefix \"05\", got {0:?}")]
    WrongPrefix(String),
    /// A character is not a hex digit.
    #[error("character {position} ({character:?}) is not a hex digit")]
    NotHex {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character.
        character: char,
    },
}

/// Why a recovery phrase was rejected. Positions are 1-based word numbers; words themselves are
/// never echoed, since they are secret.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhraseError {
    /// Not 13 (legacy) or 25 words.
    #[error("expected 13 or 25 words, got {0}")]
    WrongWordCount(usize),
    /// A word is not in the word list (matched on its first three letters).
    #[error("word {0} is not in the word list")]
    UnknownWord(usize),
    /// A group of three words encodes a number that does not fit in 32 bits.
    #[error("words {first_word} to {} do not form a valid group", first_word + 2)]
    TripletOverflow {
        /// 1-based position of the group's first word.
        first_word: usize,
    },
    /// Two neighbouring words appear to be swapped: swapping them back makes the checksum match.
    #[error("words {first_word} and {} appear to be swapped", first_word + 1)]
    Transposed {
        /// 1-based position of the first of the two words.
        first_word: usize,
    },
    /// The last word does not match the checksum of the others.
    #[error("the checksum word does not match (a word is wrong or missing)")]
    BadChecksum,
    /// Seed bytes to encode are not a multiple of 4 bytes long, or empty.
    #[error("seed length {0} is not a non-zero multiple of 4")]
    BadSeedLength(usize),
}
