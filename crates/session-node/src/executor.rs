//! Runs requests the way a swarm member must: route (421 for accounts of other swarms), apply
//! locally, and forward writes to every other member of the swarm before replying, listing each
//! member's own signed result. Batches, sequences and `ifelse` are unpacked here.

use std::sync::Arc;

use serde_json::{json, Value};
use session_wire::rpc::{
    BatchParams, IfElseParams, RawRequest, Request, RetrieveParams, MAX_SUBREQUESTS,
};

use crate::auth::AccountKey;
use crate::error::{Refusal, RpcError};
use crate::network::{Network, Route};
use crate::peer::Peers;
use crate::rpc::{
    account_of, is_replicated, RpcContext, RpcResult, CHAIN_HEIGHT, HARD_FORK, VERSION,
};
use crate::server::now_ms;
use crate::waits::WaitSource;
use session_crypto::Ed25519PublicKey;

/// Path peers forward replicated writes to.
pub const FORWARD_PATH: &str = "/swarm/v1/forward";
/// How long a write waits for the other swarm members before answering the client with the
/// members that confirmed; slower ones still get the copy, and catch up by pulling anyway.
pub const REPLICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The request runner of one node.
pub struct Executor {
    /// Local handlers.
    pub rpc: Arc<RpcContext>,
    /// The node list.
    pub network: Arc<Network>,
    /// Node-to-node client.
    pub peers: Arc<Peers>,
}

impl Executor {
    /// Runs a client request (`forwarded` when a swarm peer passed it on: then it is applied
    /// here only).
    pub async fn execute(&self, request: Request, forwarded: bool) -> RpcResult {
        match request {
            Request::Batch(p) => self.batch(p, false, forwarded).await,
            Request::Sequence(p) => self.batch(p, true, forwarded).await,
            Request::IfElse(p) => self.if_else(*p, forwarded).await,
            single => self.single(single, forwarded).await,
        }
    }

    /// Runs a client request that came from `source`: a `retrieve` with `wait_ms` is held
    /// until a message arrives (see [`crate::waits`]); anything else runs as
    /// [`execute`](Self::execute). Only a top-level retrieve waits (in a batch it answers at
    /// once).
    pub async fn execute_from(&self, request: Request, source: WaitSource) -> RpcResult {
        match request {
            Request::Retrieve(p) if p.wait_ms.is_some_and(|ms| ms > 0) => {
                self.retrieve_waiting(p, source).await
            }
            other => self.execute(other, false).await,
        }
    }

    /// A waiting retrieve: the slot is taken before the first look, so a store that lands in
    /// between still wakes it; the second look uses the first one's time, so a signature
    /// that was fresh when the wait began stays valid (the answer's `t` is the time it leaves).
    async fn retrieve_waiting(&self, p: RetrieveParams, source: WaitSource) -> RpcResult {
        let account = AccountKey::parse(&p.pubkey)?;
        if let Route::Elsewhere(body) = self.network.route(&account.key()) {
            return Err(RpcError::new(421, body.to_string()));
        }
        let waits = self.rpc.storage.waits();
        let wait_ms = p.wait_ms.unwrap_or(0).min(waits.limits().max_wait_ms);
        let mut held = waits.hold(&account.0, p.namespace.unwrap_or(0), source)?;
        let now = now_ms();
        let look = || {
            let (rpc, request) = (self.rpc.clone(), Request::Retrieve(p.clone()));
            crate::blocking::run(move || rpc.handle(request, now))
        };
        let mut body = look().await??;
        let empty = |body: &Value| {
            body.get("messages")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        };
        if empty(&body) {
            let wait = std::time::Duration::from_millis(wait_ms);
            if tokio::time::timeout(wait, held.woken()).await.is_ok() {
                body = look().await??;
            }
        }
        drop(held);
        if let Some(object) = body.as_object_mut() {
            object.insert("wait_ms".into(), wait_ms.into());
            object.insert("t".into(), now_ms().into());
        }
        Ok(body)
    }

    /// Runs a write a swarm peer forwarded (replication): only a single write, and only from a
    /// member of the account's current (or recent) swarm; it is then checked like the client's
    /// own request, signature and time window included.
    pub async fn execute_forwarded(&self, request: Request, from: &Ed25519PublicKey) -> RpcResult {
        if !is_replicated(&request) {
            return Err(RpcError::bad_request("only single writes are forwarded"));
        }
        // A blob certifies itself (its name is its hash) and anyone may store one, so any listed
        // node may pass one on (a hand-over comes from the old swarm, which a new member may
        // never have seen listed); it is still routed: only the blob's own swarm takes it.
        if let Some(name) = crate::blobs::routing_key(&request) {
            name?;
            return self.single(request, true).await;
        }
        let pubkey = account_of(&request)
            .ok_or_else(|| RpcError::bad_request("only single writes are forwarded"))?;
        let account = AccountKey::parse(pubkey)?;
        if !self.network.in_account_swarm(from, &account.key(), true) {
            return Err(RpcError::new(
                403,
                "the sender is not a member of this account's swarm",
            ));
        }
        self.single(request, true).await
    }

    async fn single(&self, request: Request, forwarded: bool) -> RpcResult {
        if let Some(name) = crate::blobs::routing_key(&request) {
            if let Route::Elsewhere(body) = self.network.route(&name?) {
                return Err(RpcError::new(421, body.to_string()));
            }
        }
        if let Some(pubkey) = account_of(&request) {
            let account = AccountKey::parse(pubkey)?;
            if let Route::Elsewhere(body) = self.network.route(&account.key()) {
                return Err(RpcError::new(421, body.to_string()));
            }
        }
        let replicate = !forwarded && is_replicated(&request);
        let body = replicate.then(|| request.to_json());
        let rpc = self.rpc.clone();
        let mut result = crate::blocking::run(move || rpc.handle(request, now_ms())).await??;
        if let Some(body) = body {
            self.replicate(body, &mut result).await;
        }
        Ok(result)
    }

    /// Forwards a write to every other swarm member at once and adds each one's result (or
    /// why it failed) to `result["swarm"]`.
    async fn replicate(&self, body: Vec<u8>, result: &mut Value) {
        let mut sends = tokio::task::JoinSet::new();
        for peer in self.network.swarm_peers() {
            let (peers, body) = (self.peers.clone(), body.clone());
            sends.spawn(async move { (peer.key, peers.post(peer, FORWARD_PATH, body).await) });
        }
        let mut answers = Vec::new();
        let deadline = tokio::time::Instant::now() + REPLICATION_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, sends.join_next()).await {
                Ok(Some(Ok(answer))) => answers.push(answer),
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    // A slow or paused member must not hold the client's answer: the copies
                    // still travel (it also pulls what it missed), it just is not counted.
                    sends.detach_all();
                    break;
                }
            }
        }
        let Some(swarm) = result.get_mut("swarm").and_then(Value::as_object_mut) else {
            return;
        };
        for peer in self.network.swarm_peers() {
            let key_hex = peer.key.to_string();
            if !answers.iter().any(|(key, _)| *key == peer.key) {
                swarm.insert(key_hex, json!({"failed": true, "timeout": true}));
            }
        }
        for (key, answer) in answers {
            let key_hex = key.to_string();
            let member = match answer {
                Ok(response) if response.status == 200 => {
                    serde_json::from_slice::<Value>(&response.body)
                        .ok()
                        .and_then(|mut v| v.get_mut("swarm")?.get_mut(&key_hex).map(Value::take))
                        .unwrap_or_else(|| json!({"failed": true, "bad_peer_response": true}))
                }
                Ok(response) => json!({
                    "failed": true,
                    "code": response.status,
                    "reason": String::from_utf8_lossy(&response.body).chars().take(200).collect::<String>(),
                }),
                Err(session_net::NetError::Timeout) => json!({"failed": true, "timeout": true}),
                Err(e) => json!({"failed": true, "reason": e.to_string()}),
            };
            swarm.insert(key_hex, member);
        }
    }

    async fn batch(&self, p: BatchParams, sequential: bool, forwarded: bool) -> RpcResult {
        let count = p.requests.len();
        if count == 0 || count > MAX_SUBREQUESTS {
            return Err(RpcError::bad_request(format!(
                "batch needs 1 to {MAX_SUBREQUESTS} requests, got {count}"
            )));
        }
        let mut results = Vec::with_capacity(count);
        for raw in p.requests {
            let (code, body) = self.sub_request(raw, forwarded, false).await;
            results.push(json!({"code": code, "body": body}));
            if sequential && !(200..300).contains(&code) {
                break;
            }
        }
        Ok(json!({"results": results}))
    }

    /// Runs a batch element or `ifelse` branch; a batch may sit in an `ifelse` branch, nothing
    /// else nests.
    async fn sub_request(
        &self,
        raw: RawRequest,
        forwarded: bool,
        allow_batch: bool,
    ) -> (u16, Value) {
        let outcome = match Request::from_raw(raw) {
            Err(e) => Err(RpcError::bad_request(e.to_string())),
            Ok(Request::Batch(p)) if allow_batch => Box::pin(self.batch(p, false, forwarded)).await,
            Ok(Request::Sequence(p)) if allow_batch => {
                Box::pin(self.batch(p, true, forwarded)).await
            }
            Ok(Request::Batch(_) | Request::Sequence(_) | Request::IfElse(_)) => Err(
                RpcError::bad_request("batch, sequence and ifelse cannot be nested in a batch"),
            ),
            Ok(request) => self.single(request, forwarded).await,
        };
        match outcome {
            Ok(body) => (200, body),
            Err(e) => (e.status, Value::String(e.message)),
        }
    }

    async fn if_else(&self, p: IfElseParams, forwarded: bool) -> RpcResult {
        if p.condition.is_empty() {
            return Err(Refusal::IfElseNoCondition.into());
        }
        if p.then.is_none() && p.otherwise.is_none() {
            return Err(Refusal::IfElseNoBranch.into());
        }
        let holds = p.condition.holds(VERSION, HARD_FORK, CHAIN_HEIGHT);
        let branch = if holds { p.then } else { p.otherwise };
        let mut body = json!({
            "hf": HARD_FORK,
            "v": VERSION,
            "height": CHAIN_HEIGHT,
            "condition": holds,
        });
        if let Some(raw) = branch {
            let (code, result) = self.sub_request(raw, forwarded, true).await;
            body["result"] = json!({"code": code, "body": result});
        }
        Ok(body)
    }
}
