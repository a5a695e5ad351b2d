//! JSON types of the storage RPC (`POST /storage_rpc/v1`), with the reference storage server's
//! method names, parameter names and response shapes.
//!
//! Parameters keep the client's text (hex keys, base64 data and signatures) as strings: the node
//! decodes and validates each one itself, so that every problem gets an error naming the field.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::WireError;

/// Most sub-requests a `batch` or `sequence` may carry.
pub const MAX_SUBREQUESTS: usize = 20;
/// Largest message `data`, in bytes before base64.
pub const MAX_MESSAGE_BYTES: usize = 76_800;
/// Largest total of message data one `retrieve` returns.
pub const MAX_RETRIEVE_BYTES: usize = 7_800_000;
/// Shortest TTL a message may be stored with, in milliseconds.
pub const MIN_TTL_MS: u64 = 10_000;
/// Longest TTL in public namespaces (14 days), in milliseconds.
pub const MAX_TTL_MS: u64 = 14 * 24 * 3600 * 1000;
/// Longest TTL in private namespaces (30 days), in milliseconds.
pub const MAX_PRIVATE_TTL_MS: u64 = 30 * 24 * 3600 * 1000;
/// How far a signature timestamp may be from the node's clock, in milliseconds.
pub const SIGNATURE_WINDOW_MS: u64 = 60_000;
/// How far in the future a stored message's timestamp may be, in milliseconds.
pub const STORE_FUTURE_TOLERANCE_MS: u64 = 10_000;

/// One storage RPC request: `{"method": M, "params": {...}}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Request {
    /// `store`: deposit a message.
    Store(StoreParams),
    /// `retrieve`: fetch messages after `last_hash`.
    Retrieve(RetrieveParams),
    /// `delete`: delete messages by hash.
    Delete(DeleteParams),
    /// `delete_all`: delete every message of a namespace (or all namespaces).
    DeleteAll(DeleteAllParams),
    /// `delete_before`: delete messages stored at or before a time.
    DeleteBefore(DeleteBeforeParams),
    /// `expire`: change the expiry of messages by hash.
    Expire(ExpireParams),
    /// `expire` with one expiry per message (`"expiry"` a list of two or more).
    ExpireEach(ExpireEachParams),
    /// `expire_all`: shorten the expiry of every message of a namespace.
    ExpireAll(ExpireAllParams),
    /// `get_expiries`: current expiries of messages by hash.
    GetExpiries(GetExpiriesParams),
    /// `get_swarm` (alias `get_snodes_for_pubkey`): the swarm of an account.
    GetSwarm(GetSwarmParams),
    /// `info`: node version and time.
    Info,
    /// `batch`: up to 20 independent sub-requests.
    Batch(BatchParams),
    /// `sequence`: up to 20 sub-requests, stopping at the first failure.
    Sequence(BatchParams),
    /// `ifelse`: a conditional request.
    IfElse(Box<IfElseParams>),
    /// `revoke_subaccount`: add subaccount tokens to the revocation list.
    RevokeSubaccount(RevokeParams),
    /// `unrevoke_subaccount`: remove subaccount tokens from the revocation list.
    UnrevokeSubaccount(UnrevokeParams),
    /// `revoked_subaccounts`: the account's revoked subaccount tokens.
    RevokedSubaccounts(RevokedSubaccountsParams),
    /// `store_blob`: keep a content-addressed blob (an attachment chunk) in the swarm nearest
    /// its name.
    StoreBlob(StoreBlobParams),
    /// `fetch_blob`: a blob by name, no signature needed.
    FetchBlob(FetchBlobParams),
}

/// The raw `{"method", "params"}` envelope of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRequest {
    /// The method name.
    pub method: String,
    /// The method's parameters (absent means none).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
}

impl Request {
    /// Parses a request body.
    pub fn from_json(body: &[u8]) -> Result<Self, WireError> {
        let raw: RawRequest =
            serde_json::from_slice(body).map_err(|e| WireError::BadJson(e.to_string()))?;
        Self::from_raw(raw)
    }

    /// Types a parsed `{"method", "params"}` pair.
    pub fn from_raw(raw: RawRequest) -> Result<Self, WireError> {
        fn params<T: serde::de::DeserializeOwned>(
            method: &str,
            value: serde_json::Value,
        ) -> Result<T, WireError> {
            let value = if value.is_null() {
                serde_json::Value::Object(Default::default())
            } else {
                value
            };
            serde_json::from_value(value).map_err(|e| WireError::BadParams {
                method: method.to_owned(),
                reason: e.to_string(),
            })
        }
        let RawRequest { method, params: p } = raw;
        let m = method.as_str();
        Ok(match m {
            "store" => Self::Store(params(m, p)?),
            "retrieve" => Self::Retrieve(params(m, p)?),
            "delete" => Self::Delete(params(m, p)?),
            "delete_all" => Self::DeleteAll(params(m, p)?),
            "delete_before" => Self::DeleteBefore(params(m, p)?),
            "expire" => {
                let list = p
                    .get("expiry")
                    .and_then(serde_json::Value::as_array)
                    .map(|l| (l.len(), l.first().cloned()));
                match list {
                    // A list of one is the single form (it signs the same text).
                    Some((1, Some(only))) => {
                        let mut p = p;
                        p["expiry"] = only;
                        Self::Expire(params(m, p)?)
                    }
                    Some(_) => Self::ExpireEach(params(m, p)?),
                    None => Self::Expire(params(m, p)?),
                }
            }
            "expire_all" => Self::ExpireAll(params(m, p)?),
            "get_expiries" => Self::GetExpiries(params(m, p)?),
            "get_swarm" | "get_snodes_for_pubkey" => Self::GetSwarm(params(m, p)?),
            "info" => Self::Info,
            "batch" => Self::Batch(params(m, p)?),
            "sequence" => Self::Sequence(params(m, p)?),
            "ifelse" => Self::IfElse(Box::new(params(m, p)?)),
            "revoke_subaccount" => Self::RevokeSubaccount(params(m, p)?),
            "unrevoke_subaccount" => Self::UnrevokeSubaccount(params(m, p)?),
            "revoked_subaccounts" => Self::RevokedSubaccounts(params(m, p)?),
            "store_blob" => Self::StoreBlob(params(m, p)?),
            "fetch_blob" => Self::FetchBlob(params(m, p)?),
            _ => return Err(WireError::UnknownMethod(method.chars().take(64).collect())),
        })
    }

    /// The method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Store(_) => "store",
            Self::Retrieve(_) => "retrieve",
            Self::Delete(_) => "delete",
            Self::DeleteAll(_) => "delete_all",
            Self::DeleteBefore(_) => "delete_before",
            Self::Expire(_) | Self::ExpireEach(_) => "expire",
            Self::ExpireAll(_) => "expire_all",
            Self::GetExpiries(_) => "get_expiries",
            Self::GetSwarm(_) => "get_swarm",
            Self::Info => "info",
            Self::Batch(_) => "batch",
            Self::Sequence(_) => "sequence",
            Self::IfElse(_) => "ifelse",
            Self::RevokeSubaccount(_) => "revoke_subaccount",
            Self::UnrevokeSubaccount(_) => "unrevoke_subaccount",
            Self::RevokedSubaccounts(_) => "revoked_subaccounts",
            Self::StoreBlob(_) => "store_blob",
            Self::FetchBlob(_) => "fetch_blob",
        }
    }

    /// The `{"method", "params"}` form of this request.
    pub fn to_raw(&self) -> RawRequest {
        let params = match self {
            Self::Store(p) => serde_json::to_value(p),
            Self::Retrieve(p) => serde_json::to_value(p),
            Self::Delete(p) => serde_json::to_value(p),
            Self::DeleteAll(p) => serde_json::to_value(p),
            Self::DeleteBefore(p) => serde_json::to_value(p),
            Self::Expire(p) => serde_json::to_value(p),
            Self::ExpireEach(p) => serde_json::to_value(p),
            Self::ExpireAll(p) => serde_json::to_value(p),
            Self::GetExpiries(p) => serde_json::to_value(p),
            Self::GetSwarm(p) => serde_json::to_value(p),
            Self::Info => Ok(serde_json::Value::Null),
            Self::Batch(p) | Self::Sequence(p) => serde_json::to_value(p),
            Self::IfElse(p) => serde_json::to_value(p),
            Self::RevokeSubaccount(p) => serde_json::to_value(p),
            Self::UnrevokeSubaccount(p) => serde_json::to_value(p),
            Self::RevokedSubaccounts(p) => serde_json::to_value(p),
            Self::StoreBlob(p) => serde_json::to_value(p),
            Self::FetchBlob(p) => serde_json::to_value(p),
        };
        RawRequest {
            method: self.method().to_owned(),
            // Plain structs of strings and numbers always serialize.
            params: params.unwrap_or(serde_json::Value::Null),
        }
    }

    /// The JSON body of this request.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_raw()).unwrap_or_default()
    }
}

/// Authentication fields shared by signed requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auth {
    /// Base64 Ed25519 signature over the method's signed string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Hex Ed25519 key of a `05` account (the node checks it converts to `pubkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey_ed25519: Option<String>,
    /// Base64 or hex 36-byte subaccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<String>,
    /// Base64 signature of the token by the account owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_sig: Option<String>,
}

/// Parameters of `store`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreParams {
    /// The recipient, 66 hex characters.
    #[serde(alias = "pubKey")]
    pub pubkey: String,
    /// The namespace (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<i16>,
    /// The message, base64.
    pub data: String,
    /// Lifetime in milliseconds from `timestamp` (or give `expiry`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "int_or_string"
    )]
    pub ttl: Option<u64>,
    /// Expiry time in Unix milliseconds (instead of `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
    /// The message timestamp in Unix milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "int_or_string"
    )]
    pub timestamp: Option<u64>,
    /// The signature timestamp (defaults to `timestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig_timestamp: Option<u64>,
    /// Authentication (required outside public namespaces).
    #[serde(flatten)]
    pub auth: Auth,
}

/// Longest a node holds a waiting retrieve (`wait_ms`), in milliseconds (ours).
pub const MAX_WAIT_MS: u64 = 25_000;

/// Parameters of `retrieve`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveParams {
    /// The account, 66 hex characters.
    #[serde(alias = "pubKey")]
    pub pubkey: String,
    /// The namespace (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<i16>,
    /// Return messages stored after this one.
    #[serde(default, alias = "lastHash", skip_serializing_if = "Option::is_none")]
    pub last_hash: Option<String>,
    /// Most messages to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i64>,
    /// Most bytes to return; negative `-n` means 1/n of the network maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    /// Newest messages first (and, with `last_hash`, those stored before it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverse_direction: bool,
    /// Ours: when nothing newer than `last_hash` is held, hold the request up to this many
    /// milliseconds (the node caps it) and answer as soon as a message arrives. A node that
    /// waits says so with `wait_ms` in its answer; the reference ignores the field and answers
    /// at once. Not signed: it changes when the answer comes, not what it may contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// Signature timestamp in Unix milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "int_or_string"
    )]
    pub timestamp: Option<u64>,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteParams {
    /// The account.
    pub pubkey: String,
    /// Hashes of the messages to delete.
    pub messages: Vec<String>,
    /// Fail with 404 when nothing was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `delete_all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAllParams {
    /// The account.
    pub pubkey: String,
    /// A namespace, or `"all"` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<NamespaceSelector>,
    /// Signature timestamp in Unix milliseconds.
    pub timestamp: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `delete_before`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBeforeParams {
    /// The account.
    pub pubkey: String,
    /// A namespace, or `"all"` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<NamespaceSelector>,
    /// Delete messages with timestamps at or before this, in Unix milliseconds.
    pub before: u64,
    /// When the request was signed (Unix milliseconds). The reference's form has none; with
    /// it, the signature covers it and a node accepts the request only within the signature
    /// window, so a captured request cannot be replayed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `expire`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireParams {
    /// The account.
    pub pubkey: String,
    /// Hashes of the messages to update.
    pub messages: Vec<String>,
    /// The new expiry in Unix milliseconds.
    pub expiry: u64,
    /// Only shorten expiries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shorten: bool,
    /// Only extend expiries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extend: bool,
    /// When the request was signed (Unix milliseconds); as for `delete_before`, optional, and
    /// when given it is signed and checked against the signature window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `expire` with one expiry per message, as the reference takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireEachParams {
    /// The account.
    pub pubkey: String,
    /// Hashes of the messages to update.
    pub messages: Vec<String>,
    /// The new expiry of each message, in the order of `messages`, Unix milliseconds.
    pub expiry: Vec<u64>,
    /// Only shorten expiries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shorten: bool,
    /// Only extend expiries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extend: bool,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

impl ExpireEachParams {
    /// What the owner signs: `"expire" || ("shorten"|"extend"|"") || expiries... || hashes...`.
    pub fn signature_text(&self) -> String {
        let mode = expire_mode_text(self.shorten, self.extend);
        let expiries: String = self.expiry.iter().map(u64::to_string).collect();
        format!("expire{mode}{expiries}{}", self.messages.concat())
    }
}

/// Parameters of `expire_all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireAllParams {
    /// The account.
    pub pubkey: String,
    /// A namespace, or `"all"` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<NamespaceSelector>,
    /// The new (earlier) expiry in Unix milliseconds.
    pub expiry: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `get_expiries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetExpiriesParams {
    /// The account.
    pub pubkey: String,
    /// Hashes of the messages asked about.
    pub messages: Vec<String>,
    /// Signature timestamp in Unix milliseconds.
    pub timestamp: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `get_swarm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSwarmParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: String,
}

/// Parameters of `batch` and `sequence`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchParams {
    /// The sub-requests, 1 to 20.
    pub requests: Vec<RawRequest>,
}

/// Parameters of `ifelse`: run `if`; on a match run `then`, otherwise `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfElseParams {
    /// The condition.
    #[serde(rename = "if")]
    pub condition: Condition,
    /// The request run when the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<RawRequest>,
    /// The request run when it does not.
    #[serde(default, rename = "else", skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<RawRequest>,
}

/// The condition of an `ifelse`: every given bound must hold. As in the reference, version
/// and hard-fork bounds are lists of integers compared element by element (missing trailing
/// elements are 0, extra ones ignored, an empty list is no bound), and heights are integers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// The node's storage-protocol version is at least this (`[major, minor, patch]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_at_least: Option<Vec<i128>>,
    /// The node's version is below this (the reference's `v_before`).
    #[serde(
        default,
        rename = "v_before",
        alias = "v_below",
        skip_serializing_if = "Option::is_none"
    )]
    pub v_below: Option<Vec<i128>>,
    /// The network hard fork is at least this (`[major, minor]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_at_least: Option<Vec<i128>>,
    /// The network hard fork is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_before: Option<Vec<i128>>,
    /// The chain height is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_at_least: Option<i128>,
    /// The chain height is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_before: Option<i128>,
}

impl Condition {
    /// Whether the condition names at least one bound (empty lists name none).
    pub fn is_empty(&self) -> bool {
        let none = |v: &Option<Vec<i128>>| v.as_ref().is_none_or(Vec::is_empty);
        none(&self.v_at_least)
            && none(&self.v_below)
            && none(&self.hf_at_least)
            && none(&self.hf_before)
            && self.height_at_least.is_none()
            && self.height_before.is_none()
    }

    /// Evaluates the condition for a node of `version`, on hard fork `hf`, at chain `height`.
    pub fn holds(&self, version: [u16; 3], hf: [u16; 2], height: u64) -> bool {
        let version = version.map(i128::from);
        let hf = hf.map(i128::from);
        let height = i128::from(height);
        cmp_bound(&self.v_at_least, &version, |o| o.is_ge())
            && cmp_bound(&self.v_below, &version, |o| o.is_lt())
            && cmp_bound(&self.hf_at_least, &hf, |o| o.is_ge())
            && cmp_bound(&self.hf_before, &hf, |o| o.is_lt())
            && self.height_at_least.is_none_or(|h| height >= h)
            && self.height_before.is_none_or(|h| height < h)
    }
}

/// Compares `actual` with a list bound padded with zeros (or cut) to its length; no bound holds.
fn cmp_bound<const N: usize>(
    bound: &Option<Vec<i128>>,
    actual: &[i128; N],
    ok: impl Fn(std::cmp::Ordering) -> bool,
) -> bool {
    match bound {
        Some(list) if !list.is_empty() => {
            let mut padded = [0i128; N];
            for (slot, value) in padded.iter_mut().zip(list) {
                *slot = *value;
            }
            ok(actual.cmp(&padded))
        }
        _ => true,
    }
}

/// Parameters of `revoke_subaccount`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeParams {
    /// The account.
    pub pubkey: String,
    /// The token or tokens to revoke (base64 or hex).
    pub revoke: OneOrMany,
    /// Signature timestamp in Unix milliseconds.
    pub timestamp: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `unrevoke_subaccount`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnrevokeParams {
    /// The account.
    pub pubkey: String,
    /// The token or tokens to unrevoke (base64 or hex).
    pub unrevoke: OneOrMany,
    /// Signature timestamp in Unix milliseconds.
    pub timestamp: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `revoked_subaccounts`, signed by the owner over
/// `"revoked_subaccounts" || timestamp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedSubaccountsParams {
    /// The account.
    pub pubkey: String,
    /// Signature timestamp in Unix milliseconds.
    pub timestamp: u64,
    /// Authentication.
    #[serde(flatten)]
    pub auth: Auth,
}

/// Parameters of `store_blob`. Unsigned: the name is the data's hash ([`crate::blob_name`]),
/// which the node checks, so nobody can store anything but what the name says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreBlobParams {
    /// The blob's name: BLAKE2b-256 of the data, 64 hex characters.
    pub name: String,
    /// The data, base64; at most [`MAX_BLOB_BYTES`] bytes decoded.
    pub data: String,
    /// Time to live in milliseconds (default and most [`MAX_TTL_MS`]); a re-store extends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// Parameters of `fetch_blob`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchBlobParams {
    /// The blob's name, 64 hex characters.
    pub name: String,
}

/// Largest blob, in bytes before base64: a message's limit.
pub const MAX_BLOB_BYTES: usize = MAX_MESSAGE_BYTES;

/// A string, or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl OneOrMany {
    /// The values as a list.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// A namespace, or every namespace (`"all"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceSelector {
    /// One namespace.
    One(i16),
    /// All namespaces.
    All,
}

impl NamespaceSelector {
    /// The text signed for this selector: empty for 0, `"all"`, or the decimal number.
    pub fn signature_text(self) -> String {
        match self {
            Self::One(0) => String::new(),
            Self::One(ns) => ns.to_string(),
            Self::All => "all".to_owned(),
        }
    }
}

impl Serialize for NamespaceSelector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(ns) => serializer.serialize_i16(*ns),
            Self::All => serializer.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for NamespaceSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NamespaceSelector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer namespace from -32768 to 32767, or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                i16::try_from(v)
                    .map(NamespaceSelector::One)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i16::try_from(v)
                    .map(NamespaceSelector::One)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "all" {
                    Ok(NamespaceSelector::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Integers that older clients send as strings (`timestamp`, `ttl`).
mod int_or_string {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;
    use std::fmt;

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_u64(*v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer (or a string holding one)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(Some)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse()
                    .map(Some)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Fields every successful response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTime {
    /// The node's clock, Unix milliseconds.
    pub t: u64,
    /// The network hard fork `[major, minor]`.
    pub hf: [u16; 2],
}

/// One stored message as `retrieve` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievedMessage {
    /// The message hash.
    pub hash: String,
    /// When the message was stored (its timestamp), Unix milliseconds.
    pub timestamp: u64,
    /// When it expires, Unix milliseconds.
    pub expiration: u64,
    /// The message, base64.
    pub data: String,
}

/// The response to `retrieve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveResponse {
    /// The messages, oldest first.
    pub messages: Vec<RetrievedMessage>,
    /// Whether more messages remain after the last one returned.
    pub more: bool,
    /// Ours: how long a node that waits would have held this retrieve (absent from the
    /// reference's answers, and when no wait was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// Node time.
    #[serde(flatten)]
    pub time: NodeTime,
}

/// The response to `info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// The node's version, `[major, minor, patch]`.
    pub version: [u16; 3],
    /// The node's clock, Unix milliseconds (as the reference names it).
    pub timestamp: u64,
    /// Node time.
    #[serde(flatten)]
    pub time: NodeTime,
}

/// One swarm member as `get_swarm` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnodeInfo {
    /// IPv4 address.
    pub ip: String,
    /// HTTPS port.
    pub port_https: u16,
    /// Node-to-node port.
    pub port_omq: u16,
    /// Hex Ed25519 key.
    pub pubkey_ed25519: String,
    /// Hex X25519 key.
    pub pubkey_x25519: String,
    /// Hex legacy key (the Ed25519 key here).
    pub pubkey_legacy: String,
}

/// The response to `get_swarm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSwarmResponse {
    /// The swarm's members.
    pub snodes: Vec<SnodeInfo>,
    /// The swarm id, 16 hex digits.
    pub swarm: String,
    /// Node time.
    #[serde(flatten)]
    pub time: NodeTime,
}

/// A swarm member's answer to a replicated write: its own result, or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberResult<T> {
    /// The member could not apply the request.
    Failed(MemberFailure),
    /// The member's result.
    Ok(T),
}

/// Why a swarm member failed a replicated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFailure {
    /// Always true.
    pub failed: bool,
    /// The request timed out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
    /// The member's HTTP status, when it answered with an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// A human-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A replicated write's response: `{"swarm": {ed25519 hex: result}, "t", "hf"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmResponse<T> {
    /// Each member's result, by hex Ed25519 key.
    pub swarm: BTreeMap<String, MemberResult<T>>,
    /// Node time.
    #[serde(flatten)]
    pub time: NodeTime,
}

/// One member's answer to `store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreResult {
    /// The message hash.
    pub hash: String,
    /// The member's Ed25519 signature over the hash, base64.
    pub signature: String,
    /// The message was already stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
}

/// One member's answer to `delete`, `delete_all` and `delete_before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResult {
    /// Hashes deleted, sorted (a map by namespace when deleting from all namespaces).
    pub deleted: serde_json::Value,
    /// The member's signature over the result, base64.
    pub signature: String,
}

/// One member's answer to `expire` and `expire_all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireResult {
    /// Hashes whose expiry changed, sorted.
    pub updated: serde_json::Value,
    /// Hashes found but left unchanged by `shorten`/`extend`, with their expiries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<BTreeMap<String, u64>>,
    /// The expiry applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
    /// The member's signature over the result, base64.
    pub signature: String,
}

/// The response to `get_expiries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetExpiriesResponse {
    /// Expiry of each message found, by hash.
    pub expiries: BTreeMap<String, u64>,
    /// Node time.
    #[serde(flatten)]
    pub time: NodeTime,
}

/// One sub-response of `batch`/`sequence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubResponse {
    /// The sub-request's HTTP status.
    pub code: u16,
    /// Its body: JSON, or an error text.
    pub body: serde_json::Value,
}

/// The response to `batch`/`sequence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// One result per sub-request run, in order.
    pub results: Vec<SubResponse>,
}

/// How an `expire` signs its mode: `"shorten"`, `"extend"` or nothing.
fn expire_mode_text(shorten: bool, extend: bool) -> &'static str {
    if shorten {
        "shorten"
    } else if extend {
        "extend"
    } else {
        ""
    }
}

/// The namespace as it appears in signed strings: empty for 0, decimal otherwise.
pub fn namespace_signature_text(namespace: i16) -> String {
    NamespaceSelector::One(namespace).signature_text()
}

impl Auth {
    /// Owner authentication: `signature` by `keys` over `signed`, and `pubkey_ed25519`.
    pub fn signed_by(keys: &session_crypto::IdentityKeyPair, signed: &[u8]) -> Self {
        use base64::Engine as _;
        Self {
            signature: Some(base64::engine::general_purpose::STANDARD.encode(keys.sign(signed))),
            pubkey_ed25519: Some(keys.ed25519_public().to_string()),
            subaccount: None,
            subaccount_sig: None,
        }
    }
}

impl StoreParams {
    /// An unsigned store of `data` for `recipient`, as anyone may send into a public inbox
    /// (namespace 0 holds 1:1 messages).
    pub fn deposit(
        recipient: &session_crypto::AccountId,
        namespace: i16,
        data: &[u8],
        timestamp: u64,
        ttl: u64,
    ) -> Self {
        use base64::Engine as _;
        Self {
            pubkey: recipient.to_string(),
            namespace: (namespace != 0).then_some(namespace),
            data: base64::engine::general_purpose::STANDARD.encode(data),
            ttl: Some(ttl),
            expiry: None,
            timestamp: Some(timestamp),
            sig_timestamp: None,
            auth: Auth::default(),
        }
    }

    /// Signs the store as the account owner (`"store" || namespace || timestamp`), as
    /// namespaces outside the public inboxes require.
    pub fn signed_by(mut self, keys: &session_crypto::IdentityKeyPair) -> Self {
        let namespace = self.namespace.unwrap_or(0);
        let timestamp = self.sig_timestamp.or(self.timestamp).unwrap_or(0);
        let text = format!("store{}{timestamp}", namespace_signature_text(namespace));
        self.auth = Auth::signed_by(keys, text.as_bytes());
        self
    }
}

impl ExpireParams {
    /// What the owner signs: `"expire" || ("shorten"|"extend"|"") || expiry || hashes...`,
    /// followed by the signing timestamp in the timestamped form.
    pub fn signature_text(&self) -> String {
        let mode = expire_mode_text(self.shorten, self.extend);
        let mut text = format!("expire{mode}{}{}", self.expiry, self.messages.concat());
        if let Some(timestamp) = self.timestamp {
            text.push_str(&timestamp.to_string());
        }
        text
    }

    /// A timestamped `expire` of `messages` to `expiry`, signed by the owner at `timestamp`
    /// (`shorten`/`extend` restrict which way an expiry may move).
    pub fn signed(
        keys: &session_crypto::IdentityKeyPair,
        messages: Vec<String>,
        expiry: u64,
        (shorten, extend): (bool, bool),
        timestamp: u64,
    ) -> Self {
        let mut params = Self {
            pubkey: keys.account_id().to_string(),
            messages,
            expiry,
            shorten,
            extend,
            timestamp: Some(timestamp),
            auth: Auth::default(),
        };
        params.auth = Auth::signed_by(keys, params.signature_text().as_bytes());
        params
    }
}

impl DeleteBeforeParams {
    /// What the owner signs: `"delete_before" || namespace || before`, followed by the signing
    /// timestamp in the timestamped form.
    pub fn signature_text(&self) -> String {
        let selector = self.namespace.unwrap_or(NamespaceSelector::One(0));
        let mut text = format!("delete_before{}{}", selector.signature_text(), self.before);
        if let Some(timestamp) = self.timestamp {
            text.push_str(&timestamp.to_string());
        }
        text
    }

    /// A timestamped `delete_before` signed by the owner at `timestamp`.
    pub fn signed(
        keys: &session_crypto::IdentityKeyPair,
        namespace: NamespaceSelector,
        before: u64,
        timestamp: u64,
    ) -> Self {
        let mut params = Self {
            pubkey: keys.account_id().to_string(),
            namespace: Some(namespace),
            before,
            timestamp: Some(timestamp),
            auth: Auth::default(),
        };
        params.auth = Auth::signed_by(keys, params.signature_text().as_bytes());
        params
    }
}

impl RetrieveParams {
    /// A retrieve of the owner's messages in `namespace` after `last_hash`, signed
    /// (`"retrieve" || namespace || timestamp`).
    pub fn signed(
        keys: &session_crypto::IdentityKeyPair,
        namespace: i16,
        timestamp: u64,
        last_hash: Option<String>,
    ) -> Self {
        let text = format!("retrieve{}{timestamp}", namespace_signature_text(namespace));
        Self {
            pubkey: keys.account_id().to_string(),
            namespace: (namespace != 0).then_some(namespace),
            last_hash,
            max_count: None,
            max_size: None,
            reverse_direction: false,
            wait_ms: None,
            timestamp: Some(timestamp),
            auth: Auth::signed_by(keys, text.as_bytes()),
        }
    }

    /// The same retrieve, held up to `wait_ms` by a node that waits (see
    /// [`RetrieveParams::wait_ms`]).
    pub fn waiting(mut self, wait_ms: u64) -> Self {
        self.wait_ms = Some(wait_ms);
        self
    }
}
