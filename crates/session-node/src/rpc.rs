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
    check_window, decode_b64_or_hex, parse_token, verify, verify_in, AccountKey, Mode,
    PERMISSION_DELETE, PERMISSION_READ, PERMISSION_WRITE,
};
use crate::error::RpcError;
use crate::storage::{ExpireMode, Hash, NewMessage, Source, Storage, StoreOutcome};

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
        let authenticated = authorize_store(&self.storage, &p, now, false)?;
        let hash_text = session_wire::message_hash(&account.0, namespace, &data);
        let hash = decode_hash(&hash_text)?;
        // Peers need the owner's authorisation of stores that needed one; not the data again.
        let proof = (!is_public_inbox(namespace)).then(|| {
            let mut request = p.clone();
            request.data = String::new();
            proof_text(&Request::Store(request))
        });
        let message = NewMessage {
            owner: account.0,
            namespace,
            hash,
            timestamp,
            expiry,
            data,
            replace_namespace: is_public_outbox(namespace),
            proof,
            source: if authenticated {
                Source::Owner
            } else {
                Source::Deposit { now }
            },
        };
        let outcome = self
            .storage
            .store_many(vec![message])
            .map_err(RpcError::storage)?
            .pop()
            .ok_or_else(|| RpcError::new(500, "internal storage error"))?
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
        authorize_delete(&self.storage, &p, false)?;
        let proof = proof_text(&Request::Delete(p.clone()));
        let deleted = self
            .storage
            .delete_hashes(&account.0, &hashes, Some(&proof))
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
        let account = authorize_delete_all(&self.storage, &p, now, false)?;
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let proof = proof_text(&Request::DeleteAll(p.clone()));
        let hashes = self
            .storage
            .delete_all(
                &account.0,
                selector_namespace(selector),
                delete_all_horizon(p.timestamp),
                Some(&proof),
            )
            .map_err(RpcError::storage)?;
        Ok(self.namespaced_reply("deleted", &account, p.timestamp, selector, &hashes, now))
    }

    fn delete_before(&self, p: DeleteBeforeParams, now: u64) -> RpcResult {
        let account = authorize_delete_before(&self.storage, &p, now, false)?;
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let proof = proof_text(&Request::DeleteBefore(p.clone()));
        let hashes = self
            .storage
            .delete_before(
                &account.0,
                selector_namespace(selector),
                p.before,
                Some(&proof),
            )
            .map_err(RpcError::storage)?;
        Ok(self.namespaced_reply("deleted", &account, p.before, selector, &hashes, now))
    }

    fn expire(&self, p: ExpireParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        let hashes = decode_hash_list(&p.messages)?;
        authorize_expire(&self.storage, &p, now, false)?;
        let expiry = p.expiry.min(now.saturating_add(MAX_PRIVATE_TTL_MS));
        let mode = expire_mode(&p);
        let proof = proof_text(&Request::Expire(p.clone()));
        let outcome = self
            .storage
            .expire(&account.0, &hashes, expiry, mode, now, Some(&proof))
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
        let account = authorize_expire_all(&self.storage, &p, now, false)?;
        let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
        let proof = proof_text(&Request::ExpireAll(p.clone()));
        let hashes = self
            .storage
            .expire_all(
                &account.0,
                selector_namespace(selector),
                p.expiry,
                Some(&proof),
            )
            .map_err(RpcError::storage)?;
        Ok(self.namespaced_reply("updated", &account, p.expiry, selector, &hashes, now))
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
        let (account, tokens) = authorize_revocation(
            &self.storage,
            "revoke_subaccount",
            &p.pubkey,
            p.revoke.as_slice(),
            p.timestamp,
            &p.auth,
            now,
            false,
        )?;
        let proof = proof_text(&Request::RevokeSubaccount(p.clone()));
        self.revocation(&account, &tokens, true, p.timestamp, &proof, now)
    }

    fn unrevoke(&self, p: UnrevokeParams, now: u64) -> RpcResult {
        let (account, tokens) = authorize_revocation(
            &self.storage,
            "unrevoke_subaccount",
            &p.pubkey,
            p.unrevoke.as_slice(),
            p.timestamp,
            &p.auth,
            now,
            false,
        )?;
        let proof = proof_text(&Request::UnrevokeSubaccount(p.clone()));
        self.revocation(&account, &tokens, false, p.timestamp, &proof, now)
    }

    /// Applies an authenticated (un)revocation and answers with the count changed.
    fn revocation(
        &self,
        account: &AccountKey,
        tokens: &[Vec<u8>],
        revoked: bool,
        timestamp: u64,
        proof: &str,
        now: u64,
    ) -> RpcResult {
        let count = self
            .storage
            .set_revocations(&account.0, tokens, revoked, timestamp, Some(proof))
            .map_err(RpcError::storage)?;
        Ok(self.revocation_reply(account, timestamp, tokens, count, now))
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

/// How far past a `delete_all`'s signed timestamp the messages it deleted can be timestamped:
/// the node that ran it held nothing stored later than its own clock plus the store tolerance,
/// and its clock was within the signature window of the timestamp.
pub const DELETE_ALL_HORIZON_MS: u64 = SIGNATURE_WINDOW_MS + STORE_FUTURE_TOLERANCE_MS;

/// The newest message timestamp a `delete_all` signed at `timestamp` covers.
pub fn delete_all_horizon(timestamp: u64) -> u64 {
    timestamp.saturating_add(DELETE_ALL_HORIZON_MS)
}

/// The proof a change carries to swarm peers: the owner's request, as JSON text.
pub fn proof_text(request: &Request) -> String {
    String::from_utf8(request.to_json()).unwrap_or_default()
}

/// How an `expire` request may move expiries.
pub fn expire_mode(p: &ExpireParams) -> ExpireMode {
    match (p.shorten, p.extend) {
        (true, _) => ExpireMode::Shorten,
        (_, true) => ExpireMode::Extend,
        _ => ExpireMode::Set,
    }
}

/// The mode a signature is judged in: a client's request now, or a peer's change as of
/// `signed_at` (0 when the request carries no time: then no revoked delegate's signature counts).
fn judge(from_peer: bool, signed_at: u64) -> Mode {
    if from_peer {
        Mode::Replica { signed_at }
    } else {
        Mode::Client
    }
}

/// Authenticates a `store` where its namespace needs it (or a signature is given anyway);
/// returns whether it was authenticated. `from_peer`: a change passed on by a swarm peer, whose
/// times are not checked against the node's clock.
pub fn authorize_store(
    storage: &Storage,
    p: &StoreParams,
    now: u64,
    from_peer: bool,
) -> Result<bool, RpcError> {
    let account = AccountKey::parse(&p.pubkey)?;
    let namespace = p.namespace.unwrap_or(0);
    if is_public_inbox(namespace) && p.auth.signature.is_none() {
        return Ok(false);
    }
    let timestamp = p
        .timestamp
        .ok_or_else(|| RpcError::bad_request("missing timestamp"))?;
    let sig_timestamp = p.sig_timestamp.unwrap_or(timestamp);
    if !from_peer {
        check_window(sig_timestamp, now, "sig_timestamp")?;
    }
    let signed = format!("store{}{}", namespace_text(namespace), sig_timestamp);
    verify_in(
        storage,
        &account,
        &p.auth,
        signed.as_bytes(),
        PERMISSION_WRITE,
        judge(from_peer, sig_timestamp),
    )?;
    Ok(true)
}

/// Authenticates a `delete` of named hashes.
pub fn authorize_delete(
    storage: &Storage,
    p: &DeleteParams,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    let account = AccountKey::parse(&p.pubkey)?;
    let signed = format!("delete{}", p.messages.concat());
    verify_in(
        storage,
        &account,
        &p.auth,
        signed.as_bytes(),
        PERMISSION_DELETE,
        judge(from_peer, 0),
    )?;
    Ok(account)
}

/// Authenticates a `delete_all`.
pub fn authorize_delete_all(
    storage: &Storage,
    p: &DeleteAllParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    if !from_peer {
        check_window(p.timestamp, now, "timestamp")?;
    }
    let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
    let signed = format!("delete_all{}{}", selector.signature_text(), p.timestamp);
    authorize_owner_write(
        storage,
        &p.pubkey,
        &p.auth,
        &signed,
        judge(from_peer, p.timestamp),
    )
}

/// Authenticates a `delete_before`, in the reference's form or the timestamped one.
pub fn authorize_delete_before(
    storage: &Storage,
    p: &DeleteBeforeParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    if !from_peer {
        if p.before > now.saturating_add(SIGNATURE_WINDOW_MS) {
            return Err(RpcError::not_acceptable(format!(
                "before {} is in the future (node time {now})",
                p.before
            )));
        }
        if let Some(timestamp) = p.timestamp {
            check_window(timestamp, now, "timestamp")?;
        }
    }
    let signed_at = p.timestamp.unwrap_or(0);
    authorize_owner_write(
        storage,
        &p.pubkey,
        &p.auth,
        &p.signature_text(),
        judge(from_peer, signed_at),
    )
}

/// Authenticates an `expire`, in the reference's form or the timestamped one.
pub fn authorize_expire(
    storage: &Storage,
    p: &ExpireParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    let account = AccountKey::parse(&p.pubkey)?;
    if p.shorten && p.extend {
        return Err(RpcError::bad_request(
            "shorten and extend cannot both be given",
        ));
    }
    if !from_peer {
        if p.expiry.saturating_add(SIGNATURE_WINDOW_MS) < now {
            return Err(RpcError::not_acceptable(format!(
                "expiry {} is in the past (node time {now})",
                p.expiry
            )));
        }
        if let Some(timestamp) = p.timestamp {
            check_window(timestamp, now, "timestamp")?;
        }
    }
    let permission = if p.extend {
        PERMISSION_WRITE
    } else {
        PERMISSION_WRITE | PERMISSION_DELETE
    };
    verify_in(
        storage,
        &account,
        &p.auth,
        p.signature_text().as_bytes(),
        permission,
        judge(from_peer, p.timestamp.unwrap_or(0)),
    )?;
    Ok(account)
}

/// Authenticates an `expire_all`.
pub fn authorize_expire_all(
    storage: &Storage,
    p: &ExpireAllParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    if !from_peer && p.expiry.saturating_add(SIGNATURE_WINDOW_MS) < now {
        return Err(RpcError::not_acceptable(format!(
            "expiry {} is in the past (node time {now})",
            p.expiry
        )));
    }
    let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
    let signed = format!("expire_all{}{}", selector.signature_text(), p.expiry);
    authorize_owner_write(storage, &p.pubkey, &p.auth, &signed, judge(from_peer, 0))
}

/// The owner's (or a delegate's) signature with delete permission over `signed`.
fn authorize_owner_write(
    storage: &Storage,
    pubkey: &str,
    auth: &Auth,
    signed: &str,
    mode: Mode,
) -> Result<AccountKey, RpcError> {
    let account = AccountKey::parse(pubkey)?;
    verify_in(
        storage,
        &account,
        auth,
        signed.as_bytes(),
        PERMISSION_DELETE,
        mode,
    )?;
    Ok(account)
}

/// Parses and authenticates a (un)revocation: only the owner may sign it. Returns the account
/// and the tokens.
#[allow(clippy::too_many_arguments)]
pub fn authorize_revocation(
    storage: &Storage,
    method: &str,
    pubkey: &str,
    token_texts: &[String],
    timestamp: u64,
    auth: &Auth,
    now: u64,
    from_peer: bool,
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
    if !from_peer {
        check_window(timestamp, now, "timestamp")?;
    }
    let mut signed = format!("{method}{timestamp}").into_bytes();
    for token in &tokens {
        signed.extend_from_slice(token);
    }
    verify_in(
        storage,
        &account,
        auth,
        &signed,
        0,
        judge(from_peer, timestamp),
    )?;
    Ok((account, tokens))
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

pub(crate) fn decode_hash(text: &str) -> Result<Hash, RpcError> {
    decode_b64_or_hex(text, 32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RpcError::bad_request("invalid message hash"))
}

pub(crate) fn decode_hash_list(texts: &[String]) -> Result<Vec<Hash>, RpcError> {
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
