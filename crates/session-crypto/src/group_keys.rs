//! Groups v2 identity and keys (libsession-util `groups::Keys`): a group is an Ed25519 key pair,
//! its ID `03` + the public key; admins hold its seed. The symmetric group key that encrypts
//! messages travels in signed *keys messages*: one copy for admins (`K`) and one per member
//! (`k`, an [`encrypt_for_multiple`](crate::group_multi::encrypt_for_multiple) list padded with
//! junk entries to a multiple of [`MEMBER_KEY_MULTIPLE`]); *supplemental* messages (`+`) give the
//! keys that exist to members added since, without a new key.

use std::fmt;
use std::str::FromStr;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use zeroize::{Zeroize, Zeroizing};

use crate::bt::{self, BtValue, DictWriter};
use crate::group_multi::{self, TAG_BYTES};
use crate::hash::{blake2b, fixed_key_hash};
use crate::{
    AccountId, CryptoError, Ed25519PublicKey, Ed25519Seed, IdentityKeyPair, X25519PublicKey,
    X25519SecretKey,
};

/// The prefix byte of a group ID.
pub const GROUP_ID_PREFIX: u8 = 0x03;
/// Member copies are padded with junk entries to a multiple of this many (the newest
/// reference; older code used 75).
pub const MEMBER_KEY_MULTIPLE: usize = 45;
/// A group key stays usable this long after a newer one exists (60 days, in milliseconds).
pub const KEY_EXPIRY_MS: u64 = 60 * 24 * 3600 * 1000;
/// The domain of the member copies' key derivation.
pub const MEMBER_KEY_DOMAIN: &[u8] = b"SessionGroupKeyMemberKey";
/// Length of one encrypted copy of a 32-byte key.
pub const KEY_COPY_BYTES: usize = 32 + TAG_BYTES;

const ADMIN_KEY_DOMAIN: &[u8] = b"SessionGroupKeyAdminKey";
const KEY_GEN_DOMAIN: &[u8] = b"SessionGroupKeyGen";
const KEY_SEED_DOMAIN: &[u8] = b"SessionGroupKeySeed";
const JUNK_DOMAIN: &[u8] = b"SessionGroupJunkMembers";

/// A group's public identity: its Ed25519 public key, shown as `03` + 64 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(Ed25519PublicKey);

impl GroupId {
    /// The group whose key is `key`.
    pub fn from_ed25519(key: Ed25519PublicKey) -> Self {
        Self(key)
    }

    /// The group's Ed25519 public key.
    pub fn ed25519(&self) -> Ed25519PublicKey {
        self.0
    }

    /// The group's key converted to X25519 (the sender key of the member copies).
    pub fn x25519(&self) -> Result<X25519PublicKey, CryptoError> {
        self.0.to_x25519()
    }

    /// `03` followed by the key.
    pub fn to_bytes33(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = GROUP_ID_PREFIX;
        out[1..].copy_from_slice(self.0.as_bytes());
        out
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "03{}", hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({self})")
    }
}

impl FromStr for GroupId {
    type Err = CryptoError;

    /// Parses `03` + 64 hex characters naming a valid Ed25519 key.
    fn from_str(text: &str) -> Result<Self, CryptoError> {
        let key = text
            .strip_prefix("03")
            .filter(|rest| rest.len() == 64)
            .ok_or(CryptoError::Malformed("group ID (03 + 64 hex characters)"))?;
        let key = Ed25519PublicKey::from_hex(key)?;
        key.to_x25519()?;
        Ok(Self(key))
    }
}

/// What an admin holds: the group's seed and key pair.
pub struct GroupIdentity {
    keys: IdentityKeyPair,
    seed: Ed25519Seed,
}

impl GroupIdentity {
    /// The group of `seed`.
    pub fn from_seed(seed: Ed25519Seed) -> Self {
        Self {
            keys: seed.key_pair(),
            seed,
        }
    }

    /// The seed (what makes a member an admin).
    pub fn seed(&self) -> &Ed25519Seed {
        &self.seed
    }

    /// The group's ID.
    pub fn id(&self) -> GroupId {
        GroupId(self.keys.ed25519_public())
    }

    /// The group's key pair (it signs keys messages, state and node requests).
    pub fn key_pair(&self) -> &IdentityKeyPair {
        &self.keys
    }

    /// Signs `message` with the group key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.keys.sign(message)
    }

    /// `BLAKE2b-32(seed; key = domain)` (the reference's `seed_hash`).
    pub fn seed_hash(&self, domain: &[u8]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(fixed_key_hash(domain, &[self.seed.as_bytes()]))
    }

    /// The 64-byte libsodium secret key, seed followed by public key.
    fn secret_key64(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(self.seed.as_bytes());
        out[32..].copy_from_slice(self.keys.ed25519_public().as_bytes());
        out
    }
}

impl fmt::Debug for GroupIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupIdentity")
            .field("id", &self.id())
            .field("seed", &"[redacted]")
            .finish()
    }
}

/// One group key with its generation (0 for the first, one more at each rekey).
#[derive(Clone, PartialEq, Eq)]
pub struct GroupKey {
    /// The generation.
    pub generation: u64,
    key: Zeroizing<[u8; 32]>,
}

impl GroupKey {
    /// Wraps a key of `generation`.
    pub fn new(generation: u64, key: [u8; 32]) -> Self {
        Self {
            generation,
            key: Zeroizing::new(key),
        }
    }

    /// The key bytes (XChaCha20-Poly1305 key of group messages).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupKey(generation {}, [redacted])", self.generation)
    }
}

/// A member's Account ID as the key derivation hashes it: 66 lower-case hex characters.
fn sid_hex(member: &AccountId) -> String {
    member.to_string()
}

/// The keys message of a new key: `#` nonce, `G` generation, `K` admin copy, `k` member copies,
/// `~` the group's signature over everything before it. Returns the message and the key.
///
/// The key and nonce are `BLAKE2b-56` of the members' Account IDs (sorted, admins included),
/// the generation in decimal and the group's seed hash, as in the reference: the same group,
/// members and generation give the same message.
pub fn build_keys_message(
    group: &GroupIdentity,
    generation: u64,
    members: &[AccountId],
) -> Result<(Vec<u8>, GroupKey), CryptoError> {
    let mut sorted: Vec<&AccountId> = members.iter().collect();
    sorted.sort_by_key(|m| m.to_string());
    sorted.dedup();
    let sids: Vec<String> = sorted.iter().map(|m| sid_hex(m)).collect();
    let generation_text = generation.to_string();
    let seed_hash = group.seed_hash(KEY_SEED_DOMAIN);
    let mut parts: Vec<&[u8]> = sids.iter().map(|s| s.as_bytes()).collect();
    parts.push(generation_text.as_bytes());
    parts.push(seed_hash.as_ref());
    let h1 = Zeroizing::new(blake2b::<56>(KEY_GEN_DOMAIN, &parts)?);
    let mut key = [0u8; 32];
    key.copy_from_slice(&h1[..32]);
    let group_key = GroupKey::new(generation, key);
    key.zeroize();
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&h1[32..56]);

    let admin_key = group.seed_hash(ADMIN_KEY_DOMAIN);
    let admin_copy = group_multi::seal(&admin_key, &nonce, group_key.bytes())?;

    let recipients: Vec<X25519PublicKey> = sorted.iter().map(|m| m.x25519()).collect();
    let group_x = group.key_pair().x25519_secret();
    let mut copies = group_multi::encrypt_for_multiple(
        &[group_key.bytes()],
        &recipients,
        &nonce,
        group_x,
        MEMBER_KEY_DOMAIN,
    )?;
    let junk_count =
        copies.len().div_ceil(MEMBER_KEY_MULTIPLE) * MEMBER_KEY_MULTIPLE - copies.len();
    copies.extend(junk_entries(group, &h1, junk_count));

    let mut dict = DictWriter::new();
    dict.bytes(b"#", &nonce)
        .int(
            b"G",
            i64::try_from(generation).map_err(|_| CryptoError::EncryptFailed)?,
        )
        .bytes(b"K", &admin_copy)
        .entry(
            b"k",
            &BtValue::List(copies.into_iter().map(BtValue::Bytes).collect()),
        );
    let signature = group.sign(dict.so_far());
    dict.bytes(b"~", &signature);
    Ok((dict.finish(), group_key))
}

/// `n` junk entries of [`KEY_COPY_BYTES`] from libsodium's deterministic RNG (ChaCha20, nonce
/// `"LibsodiumDRG"`) seeded with `BLAKE2b-32(h1 || group secret key; key = domain)`.
fn junk_entries(group: &GroupIdentity, h1: &[u8; 56], n: usize) -> Vec<Vec<u8>> {
    if n == 0 {
        return Vec::new();
    }
    let sk = group.secret_key64();
    let seed = Zeroizing::new(fixed_key_hash::<32>(JUNK_DOMAIN, &[h1, sk.as_ref()]));
    let mut stream = vec![0u8; n * KEY_COPY_BYTES];
    let mut cipher = chacha20::ChaCha20::new((&*seed).into(), b"LibsodiumDRG".into());
    cipher.apply_keystream(&mut stream);
    stream.chunks(KEY_COPY_BYTES).map(<[u8]>::to_vec).collect()
}

/// A keys message whose signature by the group was checked.
#[derive(Debug, Clone)]
pub struct VerifiedKeys {
    /// The shared nonce of all copies.
    pub nonce: [u8; 24],
    /// The generation of the key (the newest key of a supplement).
    pub generation: u64,
    /// The admin copy (absent in a supplement).
    pub admin_copy: Option<Vec<u8>>,
    /// The member copies (`k`), or the encrypted supplements (`+`).
    pub entries: Vec<Vec<u8>>,
    /// Whether this is a supplement (`+`): entries hold key lists, not a key.
    pub supplement: bool,
}

/// Parses a keys message or supplement and checks the group's signature over it.
pub fn parse_keys_message(group: &GroupId, bytes: &[u8]) -> Result<VerifiedKeys, CryptoError> {
    let dict = bt::decode_dict(bytes)?;
    let bad = || CryptoError::Malformed("keys message");
    let signature: [u8; 64] = dict
        .bytes(b"~")
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    let signed_len = dict.offset_of(b"~").ok_or_else(bad)?;
    if dict.entries.last().map(|(k, _, _)| k.as_slice()) != Some(b"~") {
        return Err(bad());
    }
    group.ed25519().verify(&bytes[..signed_len], &signature)?;
    let nonce: [u8; 24] = dict
        .bytes(b"#")
        .and_then(|n| n.try_into().ok())
        .ok_or_else(bad)?;
    let generation = dict
        .get(b"G")
        .and_then(BtValue::as_int)
        .and_then(|g| u64::try_from(g).ok())
        .ok_or_else(bad)?;
    let list = |key: &[u8]| -> Option<Result<Vec<Vec<u8>>, CryptoError>> {
        dict.get(key).map(|v| {
            v.as_list()
                .ok_or_else(bad)?
                .iter()
                .map(|e| e.as_bytes().map(<[u8]>::to_vec).ok_or_else(bad))
                .collect()
        })
    };
    let (entries, supplement) = match (list(b"k"), list(b"+")) {
        (Some(k), None) => (k?, false),
        (None, Some(plus)) => (plus?, true),
        _ => return Err(bad()),
    };
    let admin_copy = dict.bytes(b"K").map(<[u8]>::to_vec);
    if !supplement && admin_copy.as_ref().map(Vec::len) != Some(KEY_COPY_BYTES) {
        return Err(bad());
    }
    Ok(VerifiedKeys {
        nonce,
        generation,
        admin_copy,
        entries,
        supplement,
    })
}

impl VerifiedKeys {
    /// The key (or, for a supplement, the keys) this member can open with its X25519 secret.
    pub fn member_keys(
        &self,
        group: &GroupId,
        member: &X25519SecretKey,
    ) -> Result<Vec<GroupKey>, CryptoError> {
        let sender = group.x25519()?;
        let plain = Zeroizing::new(
            group_multi::decrypt_for_multiple(
                self.entries.iter().map(Vec::as_slice),
                &self.nonce,
                member,
                &sender,
                MEMBER_KEY_DOMAIN,
            )
            .ok_or(CryptoError::DecryptFailed)?,
        );
        if self.supplement {
            parse_key_list(&plain)
        } else {
            Ok(vec![key_from_plain(self.generation, &plain)?])
        }
    }

    /// The key, opened with the admin copy (admins only).
    pub fn admin_key(&self, group: &GroupIdentity) -> Result<GroupKey, CryptoError> {
        let copy = self
            .admin_copy
            .as_deref()
            .ok_or(CryptoError::DecryptFailed)?;
        let key = group.seed_hash(ADMIN_KEY_DOMAIN);
        let plain = Zeroizing::new(group_multi::open(&key, &self.nonce, copy)?);
        key_from_plain(self.generation, &plain)
    }
}

fn key_from_plain(generation: u64, plain: &[u8]) -> Result<GroupKey, CryptoError> {
    let key: [u8; 32] = plain
        .try_into()
        .map_err(|_| CryptoError::Malformed("group key"))?;
    Ok(GroupKey::new(generation, key))
}

/// The plaintext of a supplement: a list of `{g: generation, k: key, t: time}` dictionaries.
fn parse_key_list(plain: &[u8]) -> Result<Vec<GroupKey>, CryptoError> {
    let bad = || CryptoError::Malformed("key supplement");
    let value = bt::decode(plain)?;
    value
        .as_list()
        .ok_or_else(bad)?
        .iter()
        .map(|entry| {
            let dict = entry.as_dict().ok_or_else(bad)?;
            let generation = dict
                .get(b"g".as_slice())
                .and_then(BtValue::as_int)
                .and_then(|g| u64::try_from(g).ok())
                .ok_or_else(bad)?;
            let key = dict
                .get(b"k".as_slice())
                .and_then(BtValue::as_bytes)
                .ok_or_else(bad)?;
            key_from_plain(generation, key)
        })
        .collect()
}

/// A supplemental keys message giving `keys` (with the times they were made) to `new_members`
/// without a new key: `#` nonce, `+` the key list encrypted for each new member, `G` the
/// newest generation, `~` the group's signature. The nonce is `BLAKE2b-24` of the members'
/// IDs, the plaintext list and the seed hash, as in the reference.
pub fn build_supplement(
    group: &GroupIdentity,
    keys: &[(GroupKey, u64)],
    new_members: &[AccountId],
) -> Result<Vec<u8>, CryptoError> {
    let newest = keys
        .iter()
        .map(|(k, _)| k.generation)
        .max()
        .ok_or(CryptoError::Malformed("key supplement without keys"))?;
    let mut plain = Zeroizing::new(Vec::new());
    plain.push(b'l');
    for (key, made_ms) in keys {
        let mut entry = DictWriter::new();
        entry
            .int(
                b"g",
                i64::try_from(key.generation).map_err(|_| CryptoError::EncryptFailed)?,
            )
            .bytes(b"k", key.bytes())
            .int(
                b"t",
                i64::try_from(*made_ms).map_err(|_| CryptoError::EncryptFailed)?,
            );
        plain.extend_from_slice(&Zeroizing::new(entry.finish()));
    }
    plain.push(b'e');
    let mut sorted: Vec<String> = new_members.iter().map(sid_hex).collect();
    sorted.sort();
    sorted.dedup();
    let seed_hash = group.seed_hash(KEY_SEED_DOMAIN);
    let mut parts: Vec<&[u8]> = sorted.iter().map(|s| s.as_bytes()).collect();
    parts.push(&plain);
    parts.push(seed_hash.as_ref());
    let nonce = blake2b::<24>(KEY_GEN_DOMAIN, &parts)?;
    let recipients: Vec<X25519PublicKey> = new_members.iter().map(AccountId::x25519).collect();
    let entries = group_multi::encrypt_for_multiple(
        &[&plain],
        &recipients,
        &nonce,
        group.key_pair().x25519_secret(),
        MEMBER_KEY_DOMAIN,
    )?;
    let mut dict = DictWriter::new();
    dict.bytes(b"#", &nonce)
        .entry(
            b"+",
            &BtValue::List(entries.into_iter().map(BtValue::Bytes).collect()),
        )
        .int(
            b"G",
            i64::try_from(newest).map_err(|_| CryptoError::EncryptFailed)?,
        );
    let signature = group.sign(dict.so_far());
    dict.bytes(b"~", &signature);
    Ok(dict.finish())
}
