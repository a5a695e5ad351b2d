//! The storage RPC: one function per method, each taking the parsed request and the node's time.
//!
//! Handlers are synchronous (they run SQLite statements) and are called off the async runtime.
//! Every failure is an [`RpcError`] with the reference's status code and a message naming the
//! problem; nothing a client sends can panic a handler.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use session_crypto::IdentityKeyPair;
use session_wire::rpc::{
    Auth, DeleteAllParams, DeleteBeforeParams, DeleteParams, ExpireAllParams, ExpireParams,
    GetExpiriesParams, GetSwarmParams, NamespaceSelector, Request, RetrieveParams, RevokeParams,
    StoreParams, UnrevokeParams, MAX_MESSAGE_BYTES, MAX_PRIVATE_TTL_MS, MAX_RETRIEVE_BYTES,
    MAX_TTL_MS, MIN_TTL_MS, SIGNATURE_WINDOW_MS, STORE_FUTURE_TOLERANCE_MS,
};

use crate::auth::{
    check_window, decode_b64_or_hex, parse_token, verify, AccountKey, PERMISSION_DELETE,
    PERMISSION_READ, PERMISSION_WRITE,
};
use crate::error::RpcError;
use crate::storage::{ExpireMode, Hash, Storage, StoreOutcome};

/// This node's version, reported by `info` and compared by `ifelse`.
pub const VERSION: [u16; 3] = [0, 1, 0];
/// The network hard fork reported in responses.
pub const HARD_FORK: [u16; 2] = [19, 3];
/// Most hashes one `delete`, `expire` or `get_expiries` may name.
pub const MAX_HASHES_PER_REQUEST: usize = 1000;
/// Default `retrieve` size limit: a fifth of the network maximum.
const DEFAULT_MAX_SIZE: i64 = -5;

/// What the handlers need: storage, the node's identity (to sign results), its public listing.
pub struct RpcContext {
    /// The message database.
    pub storage: std::sync::Arc<Storage>,
    /// The node's identity, which signs replicated-write results.
    pub identity: std::sync::Arc<IdentityKeyPair>,
    /// The network, for `get_swarm`.
    pub network: std::sync::Arc<crate::network::Network>,
}

/// A change to an owner's revocation list (`Storage::revoke` or `Storage::unrevoke`).
type RevocationChange =
    fn(&Storage, &crate::storage::Owner, &[Vec<u8>]) -> Result<u64, crate::storage::StorageError>;

/// A successful reply: HTTP 200 with a JSON body.
pub type RpcResult = Result<Value, RpcError>;

impl RpcContext {
    /// Runs one request at time `now` (Unix milliseconds).
    pub fn handle(&self, request: Request, now: u64) -> RpcResult {
        match request {
            Request::Store(p) => self.store(p, now),
            Request::Retrieve(p) => self.retrieve(p, now),
            Request::Delete(p) => self.delete(p, now),
            Request::DeleteAll(p) => self.delete_all(p, now),
            Request::DeleteBefore(p) => self.delete_before(p, now),
            Request::Expire(p) => self.expire(p, now),
            Request::ExpireAll(p) => self.expire_all(p, now),
            Request::GetExpiries(p) => self.get_expiries(p, now),
            Request::GetSwarm(p) => self.get_swarm(p, now),
            Request::Info => Ok(with_time(
                json!({"version": VERSION, "timestamp": now}),
                now,
            )),
            Request::Batch(_) | Request::Sequence(_) | Request::IfElse(_) => Err(
                RpcError::bad_request("batch, sequence and ifelse cannot be nested"),
            ),
            Request::RevokeSubaccount(p) => self.revoke(p, now),
            Request::UnrevokeSubaccount(p) => self.unrevoke(p, now),
            // `Request` is non-exhaustive across crates; a method added there and not here is
            // refused rather than mishandled.
            #[allow(unreachable_patterns)]
            other => Err(RpcError::bad_request(format!(
                "method {} is not supported by this node",
                other.method()
            ))),
        }
    }

    fn store(&self, p: StoreParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let namespace = p.namespace.unwrap_or(0);
        let data = STANDARD
            .decode(&p.data)
            .map_err(|_| RpcError::bad_request("invalid data: not valid base64"))?;
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(RpcError::too_large(format!(
                "data is {} bytes, the limit is {MAX_MESSAGE_BYTES}",
                data.len()
            )));
        }
        let timestamp = p
            .timestamp
            .ok_or_else(|| RpcError::bad_request("missing timestamp"))?;
        if timestamp > now.saturating_add(STORE_FUTURE_TOLERANCE_MS) {
            return Err(RpcError::not_acceptable(format!(
                "timestamp {timestamp} is in the future (node time {now})"
            )));
        }
        let max_ttl = if is_public_inbox(namespace) {
            MAX_TTL_MS
        } else {
            MAX_PRIVATE_TTL_MS
        };
        let expiry = match (p.ttl, p.expiry) {
            (Some(ttl), _) => {
                if !(MIN_TTL_MS..=max_ttl).contains(&ttl) {
                    return Err(RpcError::bad_request(format!(
                        "ttl {ttl} ms is outside {MIN_TTL_MS}..={max_ttl} ms"
                    )));
                }
                timestamp.saturating_add(ttl)
            }
            (None, Some(expiry)) => {
                if expiry > now.saturating_add(max_ttl) {
                    return Err(RpcError::bad_request(format!(
                        "expiry {expiry} is more than {max_ttl} ms after the node's time"
                    )));
                }
                expiry
            }
            (None, None) => return Err(RpcError::bad_request("missing ttl or expiry")),
        };
        if expiry <= now {
            return Err(RpcError::not_acceptable("the message has already expired"));
        }
        let authenticated = !is_public_inbox(namespace) || p.auth.signature.is_some();
        if authenticated {
            let sig_timestamp = p.sig_timestamp.unwrap_or(timestamp);
            check_window(sig_timestamp, now, "sig_timestamp")?;
            let signed = format!("store{}{}", namespace_text(namespace), sig_timestamp);
            verify(
                &self.storage,
                &account,
                &p.auth,
                signed.as_bytes(),
                PERMISSION_WRITE,
            )?;
        }
        let hash_text = session_wire::message_hash(&account.0, namespace, &data);
        let hash = decode_hash(&hash_text)?;
        let outcome = self
            .storage
            .store(
                &account.0,
                namespace,
                &hash,
                timestamp,
                expiry,
                &data,
                is_public_outbox(namespace),
            )
            .map_err(RpcError::storage)?;
        let mut result = Map::new();
        result.insert("hash".into(), hash_text.clone().into());
        result.insert("signature".into(), self.sign(hash_text.as_bytes()).into());
        if outcome == StoreOutcome::AlreadyStored {
            result.insert("already".into(), true.into());
        }
        let mut body = self.swarm_reply(Value::Object(result), now);
        if let Some(object) = body.as_object_mut() {
            object.insert("hash".into(), hash_text.into());
        }
        Ok(body)
    }

    fn retrieve(&self, p: RetrieveParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let namespace = p.namespace.unwrap_or(0);
        if !is_public_outbox(namespace) {
            let timestamp = p
                .timestamp
                .ok_or_else(|| RpcError::bad_request("missing timestamp"))?;
            check_window(timestamp, now, "timestamp")?;
            let signed = format!("retrieve{}{}", namespace_text(namespace), timestamp);
            verify(
                &self.storage,
                &account,
                &p.auth,
                signed.as_bytes(),
                PERMISSION_READ,
            )?;
        }
        let after = match p.last_hash.as_deref() {
            None | Some("") => None,
            Some(text) => Some(decode_hash(text).map_err(|_| {
                RpcError::bad_request("invalid last_hash: expected a message hash")
            })?),
        };
        let max_count = match p.max_count {
            None => usize::MAX,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => return Err(RpcError::bad_request(format!("invalid max_count {n}"))),
        };
        let max_bytes = match p.max_size.unwrap_or(DEFAULT_MAX_SIZE) {
            0 => return Err(RpcError::bad_request("invalid max_size 0")),
            n if n > 0 => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(MAX_RETRIEVE_BYTES),
            n => MAX_RETRIEVE_BYTES / usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
        };
        let (messages, more) = self
            .storage
            .retrieve(
                &account.0,
                namespace,
                after.as_ref(),
                max_count,
                max_bytes,
                now,
            )
            .map_err(RpcError::storage)?;
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|m| {
                json!({
                    "hash": encode_hash(&m.hash),
                    "timestamp": m.timestamp,
                    "expiration": m.expiry,
                    "data": STANDARD.encode(&m.data),
                })
            })
            .collect();
        Ok(with_time(json!({"messages": messages, "more": more}), now))
    }

    fn delete(&self, p: DeleteParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let hashes = decode_hash_list(&p.messages)?;
        let signed = format!("delete{}", p.messages.concat());
        verify(
            &self.storage,
            &account,
            &p.auth,
            signed.as_bytes(),
            PERMISSION_DELETE,
        )?;
        let deleted = self
            .storage
            .delete_hashes(&account.0, &hashes)
            .map_err(RpcError::storage)?;
        if p.required && deleted.is_empty() {
            return Err(RpcError::not_found("none of the messages were found"));
        }
        let deleted: Vec<String> = deleted.iter().map(encode_hash).collect();
        let signature = self.sign(
            format!(
                "{}{}{}",
                account.to_hex(),
                p.messages.concat(),
                deleted.concat()
            )
            .as_bytes(),
        );
        Ok(self.swarm_reply(json!({"deleted": deleted, "signature": signature}), now))
    }

    fn delete_all(&self, p: DeleteAllParams, now: u64) -> RpcResult {
        check_window(p.timestamp, now, "timestamp")?;
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let signed = format!("delete_all{}{}", selector.signature_text(), p.timestamp);
        self.namespaced_write(
            &p.pubkey,
            &p.auth,
            &signed,
            selector,
            "deleted",
            p.timestamp,
            now,
            |s, account, ns| s.delete_all(account, ns),
        )
    }

    fn delete_before(&self, p: DeleteBeforeParams, now: u64) -> RpcResult {
        if p.before > now.saturating_add(SIGNATURE_WINDOW_MS) {
            return Err(RpcError::not_acceptable(format!(
                "before {} is in the future (node time {now})",
                p.before
            )));
        }
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let signed = format!("delete_before{}{}", selector.signature_text(), p.before);
        self.namespaced_write(
            &p.pubkey,
            &p.auth,
            &signed,
            selector,
            "deleted",
            p.before,
            now,
            |s, account, ns| s.delete_before(account, ns, p.before),
        )
    }

    fn expire(&self, p: ExpireParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let hashes = decode_hash_list(&p.messages)?;
        if p.shorten && p.extend {
            return Err(RpcError::bad_request(
                "shorten and extend cannot both be given",
            ));
        }
        if p.expiry.saturating_add(SIGNATURE_WINDOW_MS) < now {
            return Err(RpcError::not_acceptable(format!(
                "expiry {} is in the past (node time {now})",
                p.expiry
            )));
        }
        let mode_text = if p.shorten {
            "shorten"
        } else if p.extend {
            "extend"
        } else {
            ""
        };
        let signed = format!("expire{mode_text}{}{}", p.expiry, p.messages.concat());
        let permission = if p.extend {
            PERMISSION_WRITE
        } else {
            PERMISSION_WRITE | PERMISSION_DELETE
        };
        verify(
            &self.storage,
            &account,
            &p.auth,
            signed.as_bytes(),
            permission,
        )?;
        let expiry = p.expiry.min(now.saturating_add(MAX_PRIVATE_TTL_MS));
        let mode = match (p.shorten, p.extend) {
            (true, _) => ExpireMode::Shorten,
            (_, true) => ExpireMode::Extend,
            _ => ExpireMode::Set,
        };
        let outcome = self
            .storage
            .expire(&account.0, &hashes, expiry, mode, now)
            .map_err(RpcError::storage)?;
        let updated: Vec<String> = outcome.updated.iter().map(encode_hash).collect();
        let mut signed_result = format!(
            "{}{}{}{}",
            account.to_hex(),
            expiry,
            p.messages.concat(),
            updated.concat()
        );
        let mut result = Map::new();
        if mode != ExpireMode::Set {
            let mut unchanged = BTreeMap::new();
            for (hash, current) in &outcome.unchanged {
                unchanged.insert(encode_hash(hash), *current);
            }
            for (hash, current) in &unchanged {
                signed_result.push_str(hash);
                signed_result.push_str(&current.to_string());
            }
            result.insert("unchanged".into(), json!(unchanged));
        }
        result.insert("updated".into(), json!(updated));
        result.insert("expiry".into(), expiry.into());
        result.insert(
            "signature".into(),
            self.sign(signed_result.as_bytes()).into(),
        );
        Ok(self.swarm_reply(Value::Object(result), now))
    }

    fn expire_all(&self, p: ExpireAllParams, now: u64) -> RpcResult {
        if p.expiry.saturating_add(SIGNATURE_WINDOW_MS) < now {
            return Err(RpcError::not_acceptable(format!(
                "expiry {} is in the past (node time {now})",
                p.expiry
            )));
        }
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let signed = format!("expire_all{}{}", selector.signature_text(), p.expiry);
        self.namespaced_write(
            &p.pubkey,
            &p.auth,
            &signed,
            selector,
            "updated",
            p.expiry,
            now,
            |s, account, ns| s.expire_all(account, ns, p.expiry),
        )
    }

    /// The common path of `delete_all`, `delete_before` and `expire_all`: authenticate the
    /// owner's signature over `signed` (delete permission), change the selected namespaces, and
    /// reply with the hashes touched, signed over `pubkey_hex || value || hashes`.
    #[allow(clippy::too_many_arguments)]
    fn namespaced_write(
        &self,
        pubkey: &str,
        auth: &Auth,
        signed: &str,
        selector: NamespaceSelector,
        field: &str,
        value: u64,
        now: u64,
        change: impl FnOnce(
            &Storage,
            &crate::storage::Owner,
            Option<i16>,
        ) -> Result<Vec<(i16, Hash)>, crate::storage::StorageError>,
    ) -> RpcResult {
        let account = AccountKey::parse(pubkey)?;
        verify(
            &self.storage,
            &account,
            auth,
            signed.as_bytes(),
            PERMISSION_DELETE,
        )?;
        let hashes = change(&self.storage, &account.0, selector_namespace(selector))
            .map_err(RpcError::storage)?;
        Ok(self.namespaced_reply(field, &account, value, selector, &hashes, now))
    }

    fn get_expiries(&self, p: GetExpiriesParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let hashes = decode_hash_list(&p.messages)?;
        check_window(p.timestamp, now, "timestamp")?;
        let signed = format!("get_expiries{}{}", p.timestamp, p.messages.concat());
        verify(
            &self.storage,
            &account,
            &p.auth,
            signed.as_bytes(),
            PERMISSION_READ,
        )?;
        let expiries: BTreeMap<String, u64> = self
            .storage
            .get_expiries(&account.0, &hashes, now)
            .map_err(RpcError::storage)?
            .into_iter()
            .map(|(hash, expiry)| (encode_hash(&hash), expiry))
            .collect();
        Ok(with_time(json!({"expiries": expiries}), now))
    }

    fn get_swarm(&self, p: GetSwarmParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        Ok(with_time(
            self.network.swarm_of_account(&account.key()),
            now,
        ))
    }

    fn revoke(&self, p: RevokeParams, now: u64) -> RpcResult {
        let tokens = p.revoke.as_slice();
        self.revocation(
            "revoke_subaccount",
            &p.pubkey,
            tokens,
            p.timestamp,
            &p.auth,
            now,
            Storage::revoke,
        )
    }

    fn unrevoke(&self, p: UnrevokeParams, now: u64) -> RpcResult {
        let tokens = p.unrevoke.as_slice();
        self.revocation(
            "unrevoke_subaccount",
            &p.pubkey,
            tokens,
            p.timestamp,
            &p.auth,
            now,
            Storage::unrevoke,
        )
    }

    /// A (un)revocation: checked, applied with `apply`, and answered with the count changed.
    #[allow(clippy::too_many_arguments)]
    fn revocation(
        &self,
        method: &str,
        pubkey: &str,
        token_texts: &[String],
        timestamp: u64,
        auth: &Auth,
        now: u64,
        apply: RevocationChange,
    ) -> RpcResult {
        let (account, tokens) =
            self.check_revocation(method, pubkey, token_texts, timestamp, auth, now)?;
        let count = apply(&self.storage, &account.0, &tokens).map_err(RpcError::storage)?;
        Ok(self.revocation_reply(&account, timestamp, &tokens, count, now))
    }

    /// Parses and authenticates a (un)revocation: only the owner may sign it.
    fn check_revocation(
        &self,
        method: &str,
        pubkey: &str,
        token_texts: &[String],
        timestamp: u64,
        auth: &Auth,
        now: u64,
    ) -> Result<(AccountKey, Vec<Vec<u8>>), RpcError> {
        let account = AccountKey::parse(pubkey)?;
        if token_texts.is_empty() || token_texts.len() > MAX_HASHES_PER_REQUEST {
            return Err(RpcError::bad_request(format!(
                "{method} needs 1 to {MAX_HASHES_PER_REQUEST} tokens"
            )));
        }
        if auth.subaccount.is_some() {
            return Err(RpcError::unauthorized(format!(
                "{method} must be signed by the account owner, not a subaccount"
            )));
        }
        let tokens = token_texts
            .iter()
            .map(|t| parse_token(t).map(|b| b.to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        check_window(timestamp, now, "timestamp")?;
        let mut signed = format!("{method}{timestamp}").into_bytes();
        for token in &tokens {
            signed.extend_from_slice(token);
        }
        verify(&self.storage, &account, auth, &signed, 0)?;
        Ok((account, tokens))
    }

    fn revocation_reply(
        &self,
        account: &AccountKey,
        timestamp: u64,
        tokens: &[Vec<u8>],
        count: u64,
        now: u64,
    ) -> Value {
        let mut signed = format!("{}{}", account.to_hex(), timestamp).into_bytes();
        for token in tokens {
            signed.extend_from_slice(token);
        }
        self.swarm_reply(
            json!({"count": count, "signature": self.sign(&signed)}),
            now,
        )
    }

    /// A reply listing hashes, grouped by namespace when the request covered all namespaces,
    /// signed over `pubkey_hex || value || sorted hashes`.
    fn namespaced_reply(
        &self,
        field: &str,
        account: &AccountKey,
        value: u64,
        selector: NamespaceSelector,
        hashes: &[(i16, Hash)],
        now: u64,
    ) -> Value {
        let all: Vec<String> = hashes.iter().map(|(_, h)| encode_hash(h)).collect();
        let listed = match selector {
            NamespaceSelector::All => {
                let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (ns, hash) in hashes {
                    by_namespace
                        .entry(ns.to_string())
                        .or_default()
                        .push(encode_hash(hash));
                }
                json!(by_namespace)
            }
            NamespaceSelector::One(_) => json!(all),
        };
        let signature =
            self.sign(format!("{}{}{}", account.to_hex(), value, all.concat()).as_bytes());
        let mut result = Map::new();
        result.insert(field.into(), listed);
        result.insert("signature".into(), signature.into());
        self.swarm_reply(Value::Object(result), now)
    }

    /// `{"swarm": {own key: result}, "t", "hf"}`: the shape of replicated-write replies.
    fn swarm_reply(&self, result: Value, now: u64) -> Value {
        let me = self.identity.ed25519_public().to_string();
        with_time(json!({"swarm": {me: result}}), now)
    }

    /// The node's Ed25519 signature, base64.
    fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.identity.sign(message))
    }
}

/// Adds the node time `t` and hard fork `hf` to a JSON object.
pub fn with_time(mut body: Value, now: u64) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.insert("t".into(), now.into());
        object.insert("hf".into(), json!(HARD_FORK));
    }
    body
}

/// Namespaces anyone may deposit into (`ns % 10 == 0`).
pub fn is_public_inbox(namespace: i16) -> bool {
    namespace % 10 == 0
}

/// Namespaces anyone may read, holding one message (`ns < 0 && -ns % 20 == 1`).
pub fn is_public_outbox(namespace: i16) -> bool {
    namespace < 0 && (-i32::from(namespace)) % 20 == 1
}

/// The namespace as signed: empty for 0, decimal otherwise.
fn namespace_text(namespace: i16) -> String {
    if namespace == 0 {
        String::new()
    } else {
        namespace.to_string()
    }
}

fn selector_namespace(selector: NamespaceSelector) -> Option<i16> {
    match selector {
        NamespaceSelector::One(ns) => Some(ns),
        NamespaceSelector::All => None,
    }
}

fn encode_hash(hash: &Hash) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
}

fn decode_hash(text: &str) -> Result<Hash, RpcError> {
    decode_b64_or_hex(text, 32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RpcError::bad_request("invalid message hash"))
}

fn decode_hash_list(texts: &[String]) -> Result<Vec<Hash>, RpcError> {
    if texts.is_empty() || texts.len() > MAX_HASHES_PER_REQUEST {
        return Err(RpcError::bad_request(format!(
            "messages must list 1 to {MAX_HASHES_PER_REQUEST} hashes, got {}",
            texts.len()
        )));
    }
    texts
        .iter()
        .map(|t| {
            decode_hash(t).map_err(|_| RpcError::bad_request("invalid message hash in messages"))
        })
        .collect()
}

/// The account a request is about (its `pubkey`), for routing; `None` for `info` and the
/// requests that carry others.
pub fn account_of(request: &Request) -> Option<&str> {
    Some(match request {
        Request::Store(p) => &p.pubkey,
        Request::Retrieve(p) => &p.pubkey,
        Request::Delete(p) => &p.pubkey,
        Request::DeleteAll(p) => &p.pubkey,
        Request::DeleteBefore(p) => &p.pubkey,
        Request::Expire(p) => &p.pubkey,
        Request::ExpireAll(p) => &p.pubkey,
        Request::GetExpiries(p) => &p.pubkey,
        Request::RevokeSubaccount(p) => &p.pubkey,
        Request::UnrevokeSubaccount(p) => &p.pubkey,
        _ => return None,
    })
}

/// Whether every member of the swarm must apply this request too.
pub fn is_replicated(request: &Request) -> bool {
    matches!(
        request,
        Request::Store(_)
            | Request::Delete(_)
            | Request::DeleteAll(_)
            | Request::DeleteBefore(_)
            | Request::Expire(_)
            | Request::ExpireAll(_)
            | Request::RevokeSubaccount(_)
            | Request::UnrevokeSubaccount(_)
    )
}
