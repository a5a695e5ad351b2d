//! Session Protocol v2: 1:1 messages with forward secrecy and post-quantum security
//! (libsession-util's `encrypt_for_recipient_v2`), and its no-forward-secrecy variant.
//!
//! Wire format (namespace 0): `00 02 || ki(2) || E(32) || ML-KEM-768 ciphertext(1088) ||
//! XChaCha20-Poly1305(inner, empty ad)`, the whole a multiple of 256 bytes and at least 1536.
//!
//! - `e/E` is a fresh X25519 key; `S` the recipient's long-term (identity) X25519 key; `X`/`M` the
//!   X25519 and ML-KEM halves of one of the recipient's rotating account keys
//!   ([`AccountPublicKey`]).
//! - Key indicator: `ki = M[0..2] ^ BLAKE2b-2(E || S; key = X25519(e, S), personal
//!   "Session-Msg-KISS")`: only the recipient sees which account key was used.
//! - `ss = SHA3-256(ss_mlkem || X25519(e, X) || E || X || "\.//^\")` (the X-Wing combiner);
//!   `(key 32, nonce 24) = SHAKE256("SessionV2MessageSS" || ss)`.
//! - `inner` = bt-dict `{S: sender Ed25519 key, c: content, ~: signature}` then zero bytes;
//!   `~` signs `BLAKE2b-64(dict so far; key = recipient's 33-byte Account ID, personal
//!   "SessionV2Message")` with the sender's Ed25519 key. A `~P` (Pro signature) entry is
//!   accepted on receipt and returned.
//! - No-PFS variant, for recipients that publish no account keys: `ki` and the ML-KEM slot are
//!   random; `ss = SHA3-256(X25519(e, S) || S || E || "SessionV2NonPFS")`, SHAKE domain
//!   `"SessionV2NonPFSSS"`.
//!
//! Account keys are published in namespace -21 as the signed bt-dict `{M, X, ~}`
//! ([`sign_account_key_record`], [`verify_account_key_record`]).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::bt::{decode_dict, decode_dict_prefix, DictWriter};
use crate::error::CryptoError;
use crate::hash::blake2b_keyed_personal;
use crate::keys::{AccountId, Ed25519PublicKey, IdentityKeyPair, X25519PublicKey, X25519SecretKey};
use crate::xwing::{
    sha3_256, shake256, xwing_combine, AccountKeyPair, AccountPublicKey, MLKEM_CIPHERTEXT_LEN,
};

/// The first two bytes of every v2 message.
pub const VERSION_PREFIX: [u8; 2] = [0x00, 0x02];
/// Version, key indicator, ephemeral key and ML-KEM ciphertext.
pub const HEADER_LEN: usize = 2 + 2 + 32 + MLKEM_CIPHERTEXT_LEN;
/// The Poly1305 tag.
pub const AEAD_OVERHEAD: usize = 16;
/// Bytes a v2 message adds around its inner dict.
pub const OUTER_OVERHEAD: usize = HEADER_LEN + AEAD_OVERHEAD;
/// The smallest v2 message.
pub const MIN_SIZE: usize = 1536;
/// v2 messages are a multiple of this many bytes.
pub const PAD_STEP: usize = 256;
/// Bytes needed to read the key indicator (version, indicator, ephemeral key).
pub const PREFIX_LEN: usize = 2 + 2 + 32;

const KISS_PERSONAL: &[u8; 16] = b"Session-Msg-KISS";
const SIG_PERSONAL: &[u8; 16] = b"SessionV2Message";
const SS_DOMAIN: &[u8] = b"SessionV2MessageSS";
const NONPFS_LABEL: &[u8] = b"SessionV2NonPFS";
const NONPFS_DOMAIN: &[u8] = b"SessionV2NonPFSSS";

/// Why a v2 operation failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum V2Error {
    /// A key, signature or AEAD failure shared with v1 (decryption failed, bad signature, ...).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The bytes are not a well-formed v2 message or record.
    #[error("malformed v2 data: {0}")]
    BadFormat(&'static str),
    /// A versioned message (first byte 0) of a version this code does not know.
    #[error("unknown message version {0}")]
    UnknownVersion(u8),
    /// The key indicator matches none of the account keys held, and the message is not a no-PFS
    /// one: its key has expired here (or it was meant for someone else).
    #[error("no held account key matches this message")]
    NoAccountKey,
    /// An ML-KEM-768 public key that is not a valid encoding.
    #[error("invalid ML-KEM-768 public key")]
    InvalidMlKemKey,
}

/// Which protocol a namespace-0 message uses, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireVersion {
    /// A v1 sealed box (first byte not 0).
    V1,
    /// Session Protocol v2 (`00 02`).
    V2,
}

/// Classifies namespace-0 data: a first byte 0 is a versioned envelope (`00 02` = v2), anything
/// else a v1 sealed box.
pub fn classify(data: &[u8]) -> Result<WireVersion, V2Error> {
    match data {
        [] => Err(V2Error::BadFormat("empty message")),
        [0x00, 0x02, ..] => Ok(WireVersion::V2),
        [0x00, version, ..] => Err(V2Error::UnknownVersion(*version)),
        [0x00] => Err(V2Error::BadFormat("version byte missing")),
        _ => Ok(WireVersion::V1),
    }
}

/// A decrypted v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedV2 {
    /// The content (the `c` entry).
    pub content: Vec<u8>,
    /// The sender's Ed25519 key (signature checked).
    pub sender_ed25519: Ed25519PublicKey,
    /// The sender's Account ID (`05 || ed_to_x(S)`).
    pub sender: AccountId,
    /// The optional Pro signature (`~P`), not checked here.
    pub pro_signature: Option<[u8; 64]>,
    /// Whether it was encrypted to an account key (false: the no-PFS variant).
    pub forward_secret: bool,
}

/// Encrypts `content` for `recipient` under its account key `key`, signed by `sender`.
pub fn encrypt_v2(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    key: &AccountPublicKey,
    content: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, V2Error> {
    let ephemeral = X25519SecretKey::generate(rng);
    let (mlkem_ct, ss_mlkem) = key.encapsulate(rng);
    seal_pfs(
        sender, recipient, key, content, &ephemeral, &mlkem_ct, &ss_mlkem,
    )
}

/// As [`encrypt_v2`] with the ephemeral X25519 key and the 32 ML-KEM coins given: the same inputs
/// give the same bytes. For tests and vectors only.
pub fn encrypt_v2_deterministic(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    key: &AccountPublicKey,
    content: &[u8],
    ephemeral: &X25519SecretKey,
    mlkem_coins: &[u8; 32],
) -> Result<Vec<u8>, V2Error> {
    let (mlkem_ct, ss_mlkem) = key.encapsulate_with(mlkem_coins);
    seal_pfs(
        sender, recipient, key, content, ephemeral, &mlkem_ct, &ss_mlkem,
    )
}

fn seal_pfs(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    key: &AccountPublicKey,
    content: &[u8],
    ephemeral: &X25519SecretKey,
    mlkem_ct: &[u8; MLKEM_CIPHERTEXT_LEN],
    ss_mlkem: &[u8; 32],
) -> Result<Vec<u8>, V2Error> {
    let e_pub = ephemeral.public_key();
    let identity = recipient.x25519();
    let kiss = kiss(&*ephemeral.diffie_hellman(&identity)?, &e_pub, &identity);
    let indicator = key.indicator();
    let ki = [indicator[0] ^ kiss[0], indicator[1] ^ kiss[1]];
    let ss_x = ephemeral.diffie_hellman(key.x25519())?;
    let ss = xwing_combine(ss_mlkem, &ss_x, &e_pub, key.x25519());
    seal(
        sender, recipient, content, ki, &e_pub, mlkem_ct, SS_DOMAIN, &ss,
    )
}

/// Encrypts `content` for a `recipient` that publishes no account keys: the same wire format,
/// but only as secret as the recipient's long-term key (no forward secrecy, no post-quantum
/// security).
pub fn encrypt_v2_nopfs(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    content: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, V2Error> {
    let ephemeral = X25519SecretKey::generate(rng);
    let mut filler = Box::new([0u8; 2 + MLKEM_CIPHERTEXT_LEN]);
    rng.fill_bytes(filler.as_mut_slice());
    encrypt_v2_nopfs_deterministic(sender, recipient, content, &ephemeral, &filler)
}

/// As [`encrypt_v2_nopfs`] with the ephemeral key and the random key indicator and ML-KEM slot
/// (`filler`) given. For tests and vectors only.
pub fn encrypt_v2_nopfs_deterministic(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    content: &[u8],
    ephemeral: &X25519SecretKey,
    filler: &[u8; 2 + MLKEM_CIPHERTEXT_LEN],
) -> Result<Vec<u8>, V2Error> {
    let e_pub = ephemeral.public_key();
    let identity = recipient.x25519();
    let ss = nopfs_secret(&*ephemeral.diffie_hellman(&identity)?, &identity, &e_pub);
    let ki = [filler[0], filler[1]];
    let mut slot = [0u8; MLKEM_CIPHERTEXT_LEN];
    slot.copy_from_slice(&filler[2..]);
    seal(
        sender,
        recipient,
        content,
        ki,
        &e_pub,
        &slot,
        NONPFS_DOMAIN,
        &ss,
    )
}

/// `BLAKE2b-2(E || S; key = X25519 shared secret, personal "Session-Msg-KISS")`.
fn kiss(shared: &[u8; 32], ephemeral: &X25519PublicKey, identity: &X25519PublicKey) -> [u8; 2] {
    blake2b_keyed_personal::<2>(
        shared,
        KISS_PERSONAL,
        &[ephemeral.as_bytes(), identity.as_bytes()],
    )
}

fn nopfs_secret(
    shared: &[u8; 32],
    identity: &X25519PublicKey,
    ephemeral: &X25519PublicKey,
) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(sha3_256(&[
        shared,
        identity.as_bytes(),
        ephemeral.as_bytes(),
        NONPFS_LABEL,
    ]))
}

/// `(key, nonce) = SHAKE256(domain || ss)`.
fn message_key(domain: &[u8], ss: &[u8; 32]) -> (XChaCha20Poly1305, [u8; 24]) {
    let okm = shake256::<56>(&[domain, ss]);
    let cipher = XChaCha20Poly1305::new(okm[..32].into());
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&okm[32..]);
    (cipher, nonce)
}

#[allow(clippy::too_many_arguments)]
fn seal(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    content: &[u8],
    ki: [u8; 2],
    e_pub: &X25519PublicKey,
    slot: &[u8; MLKEM_CIPHERTEXT_LEN],
    domain: &[u8],
    ss: &[u8; 32],
) -> Result<Vec<u8>, V2Error> {
    let inner = inner_dict(sender, recipient, content);
    let final_size = padded_size(inner.len());
    let mut plaintext = Zeroizing::new(Vec::with_capacity(final_size - OUTER_OVERHEAD));
    plaintext.extend_from_slice(&inner);
    plaintext.resize(final_size - OUTER_OVERHEAD, 0);

    let mut out = Vec::with_capacity(final_size);
    out.extend_from_slice(&VERSION_PREFIX);
    out.extend_from_slice(&ki);
    out.extend_from_slice(e_pub.as_bytes());
    out.extend_from_slice(slot);
    let (cipher, nonce) = message_key(domain, ss);
    let sealed = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: &plaintext,
                aad: b"",
            },
        )
        .map_err(|_| CryptoError::EncryptFailed)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The size of a v2 message whose inner dict is `inner_len` bytes.
pub fn padded_size(inner_len: usize) -> usize {
    (OUTER_OVERHEAD + inner_len)
        .max(MIN_SIZE)
        .div_ceil(PAD_STEP)
        * PAD_STEP
}

/// `{S, c, ~}`, signed for `recipient`.
fn inner_dict(
    sender: &IdentityKeyPair,
    recipient: &AccountId,
    content: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut dict = DictWriter::with_capacity(content.len() + 128);
    dict.bytes(b"S", sender.ed25519_public().as_bytes())
        .bytes(b"c", content);
    let digest = signed_digest(recipient, dict.so_far());
    dict.bytes(b"~", &sender.sign(&digest));
    Zeroizing::new(dict.finish())
}

fn signed_digest(recipient: &AccountId, dict_so_far: &[u8]) -> [u8; 64] {
    blake2b_keyed_personal::<64>(&recipient.to_bytes33(), SIG_PERSONAL, &[dict_so_far])
}

/// The account key indicator of a v2 message, unmasked with the recipient's long-term key:
/// the first two bytes of the ML-KEM key it was encrypted to (for a no-PFS message, noise).
pub fn decrypt_v2_prefix(
    recipient: &IdentityKeyPair,
    ciphertext: &[u8],
) -> Result<[u8; 2], V2Error> {
    if classify(ciphertext)? != WireVersion::V2 {
        return Err(V2Error::BadFormat("not a v2 message"));
    }
    let prefix = ciphertext
        .get(..PREFIX_LEN)
        .ok_or(V2Error::BadFormat("shorter than the v2 prefix"))?;
    let e_pub = X25519PublicKey::from_slice(&prefix[4..36])?;
    let identity = recipient.x25519_public();
    let shared = recipient
        .x25519_secret()
        .diffie_hellman(&e_pub)
        .map_err(|_| CryptoError::DecryptFailed)?;
    let kiss = kiss(&shared, &e_pub, &identity);
    Ok([prefix[2] ^ kiss[0], prefix[3] ^ kiss[1]])
}

/// Decrypts a v2 message: tries every held account key whose indicator matches, then the no-PFS
/// variant. `keys` are the recipient's account keys still held.
pub fn decrypt_v2<'a>(
    recipient: &IdentityKeyPair,
    keys: impl IntoIterator<Item = &'a AccountKeyPair>,
    ciphertext: &[u8],
) -> Result<DecryptedV2, V2Error> {
    let prefix = decrypt_v2_prefix(recipient, ciphertext)?;
    check_length(ciphertext)?;
    let mut matched = false;
    for key in keys {
        if key.public().indicator() == prefix {
            matched = true;
            if let Ok(message) = decrypt_v2_with(recipient, key, ciphertext) {
                return Ok(message);
            }
        }
    }
    match decrypt_v2_nopfs(recipient, ciphertext) {
        Ok(message) => Ok(message),
        Err(_) if matched => Err(CryptoError::DecryptFailed.into()),
        Err(_) => Err(V2Error::NoAccountKey),
    }
}

/// Decrypts a v2 message with one account key, ignoring the key indicator.
pub fn decrypt_v2_with(
    recipient: &IdentityKeyPair,
    key: &AccountKeyPair,
    ciphertext: &[u8],
) -> Result<DecryptedV2, V2Error> {
    let parts = Parts::split(ciphertext)?;
    let ss_mlkem = key.decapsulate(parts.slot);
    let ss_x = key
        .x25519_secret()
        .diffie_hellman(&parts.e_pub)
        .map_err(|_| CryptoError::DecryptFailed)?;
    let ss = xwing_combine(&ss_mlkem, &ss_x, &parts.e_pub, key.public().x25519());
    open(recipient, parts.body, SS_DOMAIN, &ss, true)
}

/// Decrypts a no-PFS v2 message with the recipient's long-term key.
pub fn decrypt_v2_nopfs(
    recipient: &IdentityKeyPair,
    ciphertext: &[u8],
) -> Result<DecryptedV2, V2Error> {
    let parts = Parts::split(ciphertext)?;
    let identity = recipient.x25519_public();
    let shared = recipient
        .x25519_secret()
        .diffie_hellman(&parts.e_pub)
        .map_err(|_| CryptoError::DecryptFailed)?;
    let ss = nopfs_secret(&shared, &identity, &parts.e_pub);
    open(recipient, parts.body, NONPFS_DOMAIN, &ss, false)
}

fn check_length(ciphertext: &[u8]) -> Result<(), V2Error> {
    if ciphertext.len() < OUTER_OVERHEAD + 2 {
        return Err(CryptoError::CiphertextTooShort {
            got: ciphertext.len(),
            min: OUTER_OVERHEAD + 2,
        }
        .into());
    }
    Ok(())
}

/// A v2 message split into its fields.
struct Parts<'a> {
    e_pub: X25519PublicKey,
    slot: &'a [u8; MLKEM_CIPHERTEXT_LEN],
    body: &'a [u8],
}

impl<'a> Parts<'a> {
    fn split(ciphertext: &'a [u8]) -> Result<Self, V2Error> {
        match classify(ciphertext)? {
            WireVersion::V2 => {}
            WireVersion::V1 => return Err(V2Error::BadFormat("not a v2 message")),
        }
        check_length(ciphertext)?;
        let e_pub = X25519PublicKey::from_slice(&ciphertext[4..36])?;
        let slot = ciphertext[36..HEADER_LEN]
            .try_into()
            .map_err(|_| V2Error::BadFormat("ML-KEM ciphertext"))?;
        Ok(Self {
            e_pub,
            slot,
            body: &ciphertext[HEADER_LEN..],
        })
    }
}

fn open(
    recipient: &IdentityKeyPair,
    body: &[u8],
    domain: &[u8],
    ss: &[u8; 32],
    forward_secret: bool,
) -> Result<DecryptedV2, V2Error> {
    let (cipher, nonce) = message_key(domain, ss);
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: body,
                    aad: b"",
                },
            )
            .map_err(|_| CryptoError::DecryptFailed)?,
    );
    let (dict, used) = decode_dict_prefix(&plaintext)
        .map_err(|_| V2Error::BadFormat("the inner dict is not bencoded"))?;
    if plaintext[used..].iter().any(|&b| b != 0) {
        return Err(V2Error::BadFormat("non-zero padding"));
    }
    let mut sender = None;
    let mut content = None;
    let mut signature = None;
    let mut pro_signature = None;
    for (key, value, start) in &dict.entries {
        let value = value.as_bytes().ok_or(V2Error::BadFormat(
            "a value of the inner dict is not a string",
        ))?;
        match key.as_slice() {
            b"S" => sender = Some(Ed25519PublicKey::from_slice(value)?),
            b"c" => content = Some(value),
            b"~" => signature = Some((*start, value)),
            b"~P" => pro_signature = Some(sig64(value)?),
            _ => return Err(V2Error::BadFormat("unexpected key in the inner dict")),
        }
    }
    let sender = sender.ok_or(V2Error::BadFormat("no sender key"))?;
    let content = content.ok_or(V2Error::BadFormat("no content"))?;
    let (signed_len, signature) = signature.ok_or(V2Error::BadFormat("no signature"))?;
    let own_id = recipient.account_id();
    let digest = signed_digest(&own_id, &plaintext[..signed_len]);
    sender.verify(&digest, &sig64(signature)?)?;
    Ok(DecryptedV2 {
        content: content.to_vec(),
        sender: AccountId::from_x25519(sender.to_x25519()?),
        sender_ed25519: sender,
        pro_signature,
        forward_secret,
    })
}

fn sig64(bytes: &[u8]) -> Result<[u8; 64], V2Error> {
    bytes
        .try_into()
        .map_err(|_| V2Error::BadFormat("signature is not 64 bytes"))
}

/// The namespace -21 record of an account key: bt-dict `{M: ML-KEM key, X: X25519 key, ~:
/// Ed25519 signature of the dict so far by the account's identity key}`.
pub fn sign_account_key_record(identity: &IdentityKeyPair, key: &AccountPublicKey) -> Vec<u8> {
    let mut dict = DictWriter::with_capacity(1300);
    dict.bytes(b"M", key.mlkem())
        .bytes(b"X", key.x25519().as_bytes());
    let signature = identity.sign(dict.so_far());
    dict.bytes(b"~", &signature);
    dict.finish()
}

/// Parses a namespace -21 record and checks it was signed by `account`: the signer's Ed25519
/// key is recovered from the Account ID (either sign of the Edwards point; only the account's
/// owner holds a secret for either), so the Account ID alone suffices.
pub fn verify_account_key_record(
    account: &AccountId,
    record: &[u8],
) -> Result<AccountPublicKey, V2Error> {
    let dict =
        decode_dict(record).map_err(|_| V2Error::BadFormat("a key record is one bencoded dict"))?;
    let not_a_record = V2Error::BadFormat("a key record has exactly M, X and ~");
    let [(m_key, m, _), (x_key, x, _), (sig_key, sig, sig_start)] = dict.entries.as_slice() else {
        return Err(not_a_record);
    };
    if (m_key.as_slice(), x_key.as_slice(), sig_key.as_slice()) != (&b"M"[..], &b"X"[..], &b"~"[..])
    {
        return Err(not_a_record);
    }
    let (Some(m), Some(x), Some(sig)) = (m.as_bytes(), x.as_bytes(), sig.as_bytes()) else {
        return Err(not_a_record);
    };
    let signature = sig64(sig)?;
    let signed = &record[..*sig_start];
    let montgomery = MontgomeryPoint(account.x25519().0);
    let verified = [0u8, 1].iter().any(|&sign| {
        montgomery
            .to_edwards(sign)
            .map(|point| Ed25519PublicKey(point.compress().to_bytes()))
            .is_some_and(|key| key.verify(signed, &signature).is_ok())
    });
    if !verified {
        return Err(CryptoError::BadSignature.into());
    }
    AccountPublicKey::new(X25519PublicKey::from_slice(x)?, m)
}
