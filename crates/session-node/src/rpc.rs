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
    Auth, DeleteAllParams, DeleteBeforeParams, DeleteParams, ExpireAllParams, ExpireEachParams,
    ExpireParams, GetExpiriesParams, GetSwarmParams, NamespaceSelector, Request, RetrieveParams,
    RevokeParams, RevokedSubaccountsParams, StoreParams, UnrevokeParams, MAX_MESSAGE_BYTES,
    MAX_PRIVATE_TTL_MS, MAX_RETRIEVE_BYTES, MAX_TTL_MS, MIN_TTL_MS, SIGNATURE_WINDOW_MS,
    STORE_FUTURE_TOLERANCE_MS,
};

use crate::auth::{
    decode_b64_or_hex, parse_token, verify_in, AccountKey, Mode, PERMISSION_DELETE,
    PERMISSION_READ, PERMISSION_WRITE,
};
use crate::error::{Refusal, RpcError};
use crate::storage::{Change, ExpireMode, Hash, NewMessage, Source, Storage, StoreOutcome};

/// The storage-protocol version this node's API matches, reported by `info` and compared by
/// `ifelse`: the reference storage server's 2.8.0 (not this crate's version), so that clients
/// that test the server's version take the paths they would with the reference.
pub const VERSION: [u16; 3] = [2, 8, 0];
/// The chain height `ifelse` height conditions are judged at: there is no chain here, so 0, as
/// the reference judges them on a node at height 0.
pub const CHAIN_HEIGHT: u64 = 0;
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
            Request::ExpireEach(p) => self.expire_each(p, now),
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
            Request::RevokedSubaccounts(p) => self.revoked_subaccounts(p, now),
            Request::StoreBlob(p) => self.store_blob(p, now),
            Request::FetchBlob(p) => self.fetch_blob(p, now),
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
            .map_err(|_| Refusal::DataNotBase64)?;
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(RpcError::too_large(format!(
                "data is {} bytes, the limit is {MAX_MESSAGE_BYTES}",
                data.len()
            )));
        }
        let timestamp = p.timestamp.ok_or(Refusal::RequiredField("timestamp"))?;
        if timestamp > now.saturating_add(STORE_FUTURE_TOLERANCE_MS) {
            return Err(Refusal::StoreClock.into());
        }
        let max_ttl = if is_public_inbox(namespace) {
            MAX_TTL_MS
        } else {
            MAX_PRIVATE_TTL_MS
        };
        let expiry = match (p.ttl, p.expiry) {
            (Some(ttl), _) => {
                if !(MIN_TTL_MS..=max_ttl).contains(&ttl) {
                    return Err(Refusal::StoreTtl.into());
                }
                timestamp.saturating_add(ttl)
            }
            (None, Some(expiry)) => {
                if expiry > now.saturating_add(max_ttl) {
                    return Err(Refusal::StoreTtl.into());
                }
                expiry
            }
            (None, None) => return Err(Refusal::RequiredField("expiry").into()),
        };
        if expiry <= now {
            return Err(Refusal::StoreClock.into());
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
        // As the reference: a request that carries any of the signature fields is checked,
        // and only the unauthenticated namespaces may be read without them.
        let signed =
            p.auth.signature.is_some() || p.auth.pubkey_ed25519.is_some() || p.timestamp.is_some();
        if !signed && !is_noauth_retrieve(namespace) {
            return Err(Refusal::RetrieveSignatureRequired.into());
        }
        if signed {
            let timestamp = p.timestamp.ok_or(Refusal::RequiredField("timestamp"))?;
            if p.auth.signature.is_none() {
                return Err(Refusal::RequiredField("signature").into());
            }
            if !in_window(timestamp, now) {
                return Err(Refusal::TimestampTooFar("retrieve").into());
            }
            let text = format!("retrieve{}{}", namespace_text(namespace), timestamp);
            let mode = if is_unrevocable(namespace) {
                Mode::IgnoreRevocation
            } else {
                Mode::Client
            };
            verify_in(
                &self.storage,
                &account,
                &p.auth,
                text.as_bytes(),
                PERMISSION_READ,
                mode,
            )
            .map_err(signature_failed("retrieve"))?;
        }
        let after = match p.last_hash.as_deref() {
            None | Some("") => None,
            Some(text) => {
                if text.len() != 43 {
                    return Err(Refusal::LastHashLength.into());
                }
                if !is_base64_alphabet(text) {
                    return Err(Refusal::LastHashNotBase64.into());
                }
                // A hash that is not canonical base64 names no message: start from the first,
                // as the reference does for any unknown hash.
                Some(decode_canonical_hash(text).unwrap_or([0u8; 32]))
            }
        };
        // As the reference: 0 means "not given"; with neither limit, a fifth of the maximum;
        // a negative size is a fraction of the maximum; anything else is capped at it.
        let max_count = p.max_count.filter(|&n| n != 0);
        let max_size = p.max_size.filter(|&n| n != 0);
        let max_size = match (max_count, max_size) {
            (None, None) => Some(DEFAULT_MAX_SIZE),
            (_, size) => size,
        };
        let max_bytes = match max_size {
            Some(n) if n < 0 => {
                MAX_RETRIEVE_BYTES / usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX)
            }
            Some(n) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(MAX_RETRIEVE_BYTES),
            None => MAX_RETRIEVE_BYTES,
        };
        let max_count = match max_count {
            None => usize::MAX,
            Some(n) => usize::try_from(n.max(1)).unwrap_or(usize::MAX),
        };
        let (messages, more) = self
            .storage
            .retrieve_in(
                &account.0,
                namespace,
                after.as_ref(),
                max_count,
                max_bytes,
                p.reverse_direction,
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
        let deleted = sorted_base64(&deleted);
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
        let updated = sorted_base64(&outcome.updated);
        let mut signed_result = format!(
            "{}{}{}{}",
            account.to_hex(),
            expiry,
            p.messages.concat(),
            updated.concat()
        );
        let mut result = Map::new();
        if p.shorten || p.extend {
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

    /// `expire` with one expiry per message. As the reference: the reply's `expiry` lists the
    /// expiries applied, one per `updated` hash (sorted as text), and the node signs
    /// `pubkey || applied expiries || requested hashes || updated hashes || unchanged`.
    fn expire_each(&self, p: ExpireEachParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        if p.messages.is_empty() {
            return Err(Refusal::NoMessageHashes.into());
        }
        if p.expiry.is_empty() {
            return Err(Refusal::NoExpiries.into());
        }
        if p.expiry.len() != p.messages.len() {
            return Err(Refusal::ExpiryCount.into());
        }
        if p.messages.len() > MAX_HASHES_PER_REQUEST {
            return Err(RpcError::bad_request(format!(
                "messages must list 1 to {MAX_HASHES_PER_REQUEST} hashes, got {}",
                p.messages.len()
            )));
        }
        let hashes = p
            .messages
            .iter()
            .map(|text| decode_hash_text(text))
            .collect::<Result<Vec<_>, _>>()?;
        authorize_expire_each(&self.storage, &p, now, false)?;
        let mode = expire_each_mode(&p);
        let proof = proof_text(&Request::ExpireEach(p.clone()));
        let mut updated: Vec<(String, u64)> = Vec::new();
        let mut unchanged: BTreeMap<String, u64> = BTreeMap::new();
        for (hash, requested) in hashes.iter().zip(&p.expiry) {
            let Some(hash) = hash else { continue };
            let expiry = (*requested).min(now.saturating_add(MAX_PRIVATE_TTL_MS));
            let outcome = self
                .storage
                .expire(&account.0, &[*hash], expiry, mode, now, Some(&proof))
                .map_err(RpcError::storage)?;
            for h in &outcome.updated {
                updated.push((encode_hash(h), expiry));
            }
            for (h, current) in &outcome.unchanged {
                unchanged.insert(encode_hash(h), *current);
            }
        }
        updated.sort();
        let expiries: Vec<u64> = updated.iter().map(|(_, e)| *e).collect();
        let updated: Vec<String> = updated.into_iter().map(|(h, _)| h).collect();
        let mut signed = account.to_hex();
        for expiry in &expiries {
            signed.push_str(&expiry.to_string());
        }
        signed.push_str(&p.messages.concat());
        signed.push_str(&updated.concat());
        let mut result = Map::new();
        if p.shorten || p.extend {
            for (hash, current) in &unchanged {
                signed.push_str(hash);
                signed.push_str(&current.to_string());
            }
            result.insert("unchanged".into(), json!(unchanged));
        }
        result.insert("updated".into(), json!(updated));
        result.insert("expiry".into(), json!(expiries));
        result.insert("signature".into(), self.sign(signed.as_bytes()).into());
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
        if !in_window(p.timestamp, now) {
            return Err(Refusal::TimestampTooFar("get_expiries").into());
        }
        let signed = format!("get_expiries{}{}", p.timestamp, p.messages.concat());
        verify_in(
            &self.storage,
            &account,
            &p.auth,
            signed.as_bytes(),
            PERMISSION_READ,
            Mode::Client,
        )
        .map_err(signature_failed("get_expiries"))?;
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

    /// The account's revoked tokens (base64), for the owner only: `{"revoked": [...]}`.
    fn revoked_subaccounts(&self, p: RevokedSubaccountsParams, now: u64) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        if p.auth.subaccount.is_some() {
            return Err(RpcError::unauthorized(
                "revoked_subaccounts must be signed by the account owner, not a subaccount",
            ));
        }
        if !in_window(p.timestamp, now) {
            return Err(Refusal::TimestampTooFar("revoked_subaccounts").into());
        }
        let signed = format!("revoked_subaccounts{}", p.timestamp);
        verify_in(
            &self.storage,
            &account,
            &p.auth,
            signed.as_bytes(),
            0,
            Mode::Client,
        )
        .map_err(signature_failed("revoked_subaccounts"))?;
        let mut revoked: Vec<String> = self
            .storage
            .owner_revocations(&account.0)
            .map_err(RpcError::storage)?
            .into_iter()
            .filter_map(|change| match change {
                Change::Revocation {
                    token,
                    revoked: true,
                    ..
                } => Some(STANDARD.encode(token)),
                _ => None,
            })
            .collect();
        revoked.sort();
        revoked.dedup();
        Ok(with_time(json!({"revoked": revoked}), now))
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
        // Sorted by the base64 text, as the reference sorts (and signs) them.
        let mut encoded: Vec<(String, i16)> =
            hashes.iter().map(|(ns, h)| (encode_hash(h), *ns)).collect();
        encoded.sort();
        let all: Vec<String> = encoded.iter().map(|(h, _)| h.clone()).collect();
        let listed = match selector {
            NamespaceSelector::All => {
                let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (hash, ns) in &encoded {
                    by_namespace
                        .entry(ns.to_string())
                        .or_default()
                        .push(hash.clone());
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

/// How an `expire` request may move expiries: as it says, except that a delegate without
/// delete permission only extends (as the reference: shortening is nearly deleting).
pub fn expire_mode(p: &ExpireParams) -> ExpireMode {
    mode_of(p.shorten, p.extend, &p.auth)
}

/// How an `expire` with one expiry per message may move expiries.
pub fn expire_each_mode(p: &ExpireEachParams) -> ExpireMode {
    mode_of(p.shorten, p.extend, &p.auth)
}

fn mode_of(shorten: bool, extend: bool, auth: &Auth) -> ExpireMode {
    match (shorten, extend) {
        (true, _) => ExpireMode::Shorten,
        (_, true) => ExpireMode::Extend,
        _ if !may_delete(auth) => ExpireMode::Extend,
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
    if p.auth.signature.is_none() {
        if is_public_inbox(namespace) {
            return Ok(false);
        }
        return Err(Refusal::StoreSignatureRequired(namespace).into());
    }
    if p.auth.subaccount.is_some() && crate::groups::store_needs_group_key(&account, namespace) {
        return Err(RpcError::unauthorized(format!(
            "namespace {namespace} of a group is written by its admins only, not a subaccount"
        )));
    }
    let timestamp = p.timestamp.ok_or(Refusal::RequiredField("timestamp"))?;
    let sig_timestamp = p.sig_timestamp.unwrap_or(timestamp);
    if !from_peer && !in_window(sig_timestamp, now) {
        return Err(Refusal::StoreSignatureTimestamp.into());
    }
    // A store to a public outbox replaces what it holds: a delegate needs delete too.
    let permission = if is_public_outbox(namespace) {
        PERMISSION_WRITE | PERMISSION_DELETE
    } else {
        PERMISSION_WRITE
    };
    let signed = format!("store{}{}", namespace_text(namespace), sig_timestamp);
    verify_in(
        storage,
        &account,
        &p.auth,
        signed.as_bytes(),
        permission,
        judge(from_peer, sig_timestamp),
    )
    .map_err(signature_failed("store"))?;
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
    )
    .map_err(signature_failed("delete"))?;
    Ok(account)
}

/// Authenticates a `delete_all`.
pub fn authorize_delete_all(
    storage: &Storage,
    p: &DeleteAllParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    if !from_peer && !in_window(p.timestamp, now) {
        return Err(Refusal::TimestampTooFar("delete_all").into());
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
    .map_err(signature_failed("delete_all"))
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
            return Err(Refusal::DeleteBeforeFuture.into());
        }
        if p.timestamp.is_some_and(|t| !in_window(t, now)) {
            return Err(Refusal::TimestampTooFar("delete_before").into());
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
    .map_err(signature_failed("delete_before"))
}

/// Authenticates an `expire`, in the reference's form or the timestamped one.
pub fn authorize_expire(
    storage: &Storage,
    p: &ExpireParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    authorize_expire_parts(
        storage,
        ExpireRequest {
            pubkey: &p.pubkey,
            auth: &p.auth,
            shorten: p.shorten,
            extend: p.extend,
            expiries: std::slice::from_ref(&p.expiry),
            timestamp: p.timestamp,
            signed: &p.signature_text(),
        },
        now,
        from_peer,
    )
}

/// Authenticates an `expire` with one expiry per message.
pub fn authorize_expire_each(
    storage: &Storage,
    p: &ExpireEachParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    authorize_expire_parts(
        storage,
        ExpireRequest {
            pubkey: &p.pubkey,
            auth: &p.auth,
            shorten: p.shorten,
            extend: p.extend,
            expiries: &p.expiry,
            timestamp: None,
            signed: &p.signature_text(),
        },
        now,
        from_peer,
    )
}

/// The parts of an `expire` (one expiry, or one per message) that its checks need.
struct ExpireRequest<'a> {
    pubkey: &'a str,
    auth: &'a Auth,
    shorten: bool,
    extend: bool,
    expiries: &'a [u64],
    timestamp: Option<u64>,
    signed: &'a str,
}

/// As the reference: a delegate needs write permission; without delete as well it may not
/// `shorten`, and its other requests only extend (see [`expire_mode`]).
fn authorize_expire_parts(
    storage: &Storage,
    r: ExpireRequest<'_>,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    let account = AccountKey::parse(r.pubkey)?;
    if r.shorten && r.extend {
        return Err(Refusal::ShortenAndExtend.into());
    }
    if !from_peer {
        if r.expiries
            .iter()
            .any(|e| e.saturating_add(SIGNATURE_WINDOW_MS) < now)
        {
            return Err(Refusal::ExpirePast.into());
        }
        if r.timestamp.is_some_and(|t| !in_window(t, now)) {
            return Err(Refusal::TimestampTooFar("expire").into());
        }
    }
    verify_in(
        storage,
        &account,
        r.auth,
        r.signed.as_bytes(),
        PERMISSION_WRITE,
        judge(from_peer, r.timestamp.unwrap_or(0)),
    )
    .map_err(signature_failed("expire"))?;
    if r.shorten && !may_delete(r.auth) {
        return Err(Refusal::ExpireShortenWithoutDelete.into());
    }
    Ok(account)
}

/// Whether the request's signer may delete: the owner, or a delegate whose token has the
/// delete flag.
fn may_delete(auth: &Auth) -> bool {
    match auth.subaccount.as_deref() {
        None => true,
        Some(text) => {
            parse_token(text).is_ok_and(|token| token[1] & PERMISSION_DELETE == PERMISSION_DELETE)
        }
    }
}

/// Authenticates an `expire_all`.
pub fn authorize_expire_all(
    storage: &Storage,
    p: &ExpireAllParams,
    now: u64,
    from_peer: bool,
) -> Result<AccountKey, RpcError> {
    if !from_peer && p.expiry.saturating_add(SIGNATURE_WINDOW_MS) < now {
        return Err(Refusal::ExpireAllPast.into());
    }
    let selector = p.namespace.unwrap_or(NamespaceSelector::One(0));
    let signed = format!("expire_all{}{}", selector.signature_text(), p.expiry);
    authorize_owner_write(storage, &p.pubkey, &p.auth, &signed, judge(from_peer, 0))
        .map_err(signature_failed("expire_all"))
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
    if !from_peer && !in_window(timestamp, now) {
        return Err(RpcError::not_acceptable(format!(
            "{method} timestamp too far from current time"
        )));
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
    )
    .map_err(|e| {
        if e.status == 401 {
            RpcError::unauthorized(format!("{method} signature verification failed"))
        } else {
            e
        }
    })?;
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

/// The hash a 43-character base64 text names, if it is the canonical (unpadded, zero trailing
/// bits) encoding of 32 bytes; every hash this node hands out is.
fn decode_canonical_hash(text: &str) -> Option<Hash> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
}

/// Whether every character is of the standard base64 alphabet (as the reference checks).
fn is_base64_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The hashes a `messages` list names. As the reference, a hash must be 43 base64 characters
/// (we also take 64 hex digits); one that is well formed but not the canonical encoding of a
/// hash names no message held here, so it is left out (the request still signs its text).
pub(crate) fn decode_hash_list(texts: &[String]) -> Result<Vec<Hash>, RpcError> {
    if texts.is_empty() {
        return Err(Refusal::NoMessageHashes.into());
    }
    if texts.len() > MAX_HASHES_PER_REQUEST {
        return Err(RpcError::bad_request(format!(
            "messages must list 1 to {MAX_HASHES_PER_REQUEST} hashes, got {}",
            texts.len()
        )));
    }
    let mut hashes = Vec::with_capacity(texts.len());
    for text in texts {
        hashes.extend(decode_hash_text(text)?);
    }
    Ok(hashes)
}

/// One hash of a `messages` list: `None` for a well-formed text that names no message.
fn decode_hash_text(text: &str) -> Result<Option<Hash>, RpcError> {
    if text.len() == 43 && is_base64_alphabet(text) {
        return Ok(decode_canonical_hash(text));
    }
    (text.len() == 64)
        .then(|| hex::decode(text).ok())
        .flatten()
        .and_then(|b| Hash::try_from(b).ok())
        .map(Some)
        .ok_or_else(|| Refusal::InvalidMessageHash(text.to_owned()).into())
}

/// Hashes as base64 text, sorted as text (the order the reference lists and signs them in).
fn sorted_base64(hashes: &[Hash]) -> Vec<String> {
    let mut texts: Vec<String> = hashes.iter().map(encode_hash).collect();
    texts.sort();
    texts
}

/// Whether `timestamp` is within the signature window around `now`.
fn in_window(timestamp: u64, now: u64) -> bool {
    timestamp.abs_diff(now) <= SIGNATURE_WINDOW_MS
}

/// Turns a failed signature check (401) into the reference's text for `method`; other
/// refusals (malformed fields, 400) pass unchanged.
fn signature_failed(method: &'static str) -> impl Fn(RpcError) -> RpcError {
    move |error| {
        if error.status == 401 {
            Refusal::SignatureFailed(method).into()
        } else {
            error
        }
    }
}

/// Namespaces anyone may retrieve from without a signature: the public outboxes and the
/// legacy closed-group namespace -10, as in the reference.
pub fn is_noauth_retrieve(namespace: i16) -> bool {
    namespace == LEGACY_CLOSED_GROUP_NAMESPACE || is_public_outbox(namespace)
}

/// The legacy closed-group namespace.
pub const LEGACY_CLOSED_GROUP_NAMESPACE: i16 = -10;

/// Namespaces a revoked (otherwise valid) subaccount may still retrieve from: negative ones
/// ending in 11 (-11, -211, ...), as in the reference.
pub fn is_unrevocable(namespace: i16) -> bool {
    namespace < 0 && (-i32::from(namespace)) % 100 == 11
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
        Request::ExpireEach(p) => &p.pubkey,
        Request::ExpireAll(p) => &p.pubkey,
        Request::GetExpiries(p) => &p.pubkey,
        Request::RevokeSubaccount(p) => &p.pubkey,
        Request::UnrevokeSubaccount(p) => &p.pubkey,
        Request::RevokedSubaccounts(p) => &p.pubkey,
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
            | Request::ExpireEach(_)
            | Request::ExpireAll(_)
            | Request::RevokeSubaccount(_)
            | Request::UnrevokeSubaccount(_)
            | Request::StoreBlob(_)
    )
}
