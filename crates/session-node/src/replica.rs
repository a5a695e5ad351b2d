//! Checks on the changes a swarm peer passes on (catch-up pulls and hand-over pushes).
//!
//! Being a listed node, or even a member of the account's swarm, entitles a peer to nothing
//! beyond what a client could ask for itself: a node applies a peer's change only if it could
//! have received that change from the owner directly. So every change but a deposit into a
//! public inbox carries its proof, the owner's signed request, and [`admit`] checks the
//! signature (without the freshness window: catch-up is late by design) and that the change is
//! one the request asked for: the named hash, a message inside the deleted range, the signed
//! expiry, the signed token. Deposits are checked against the limits a client's store gets.

use session_wire::rpc::{
    NamespaceSelector, Request, MAX_PRIVATE_TTL_MS, MAX_TTL_MS, STORE_FUTURE_TOLERANCE_MS,
};

use crate::auth::AccountKey;
use crate::error::RpcError;
use crate::rpc::{
    authorize_delete, authorize_delete_all, authorize_delete_before, authorize_expire,
    authorize_expire_all, authorize_expire_each, authorize_revocation, authorize_store,
    decode_hash_list, delete_all_horizon, expire_each_mode, expire_mode, is_public_inbox,
};
use crate::storage::{Admitted, Change, ExpireMode, Hash, Owner, Storage, StoredMessage};

/// Checks a peer's change to `owner`'s data at `now`. `Ok(None)`: nothing to do here (the
/// change concerns a message this node does not hold, or one already expired).
pub fn admit(
    storage: &Storage,
    owner: &Owner,
    change: Change,
    now: u64,
) -> Result<Option<Admitted>, RpcError> {
    match change {
        Change::Skip => Ok(None),
        Change::Store(message) => admit_store(storage, owner, message, now),
        Change::Delete {
            hash,
            expiry,
            proof,
        } => {
            let proof = proof.ok_or_else(|| refused("a delete without the owner's request"))?;
            admit_delete(storage, owner, hash, expiry, proof, now)
        }
        Change::Expire {
            hash,
            expiry,
            proof,
        } => {
            let proof = proof.ok_or_else(|| refused("an expiry without the owner's request"))?;
            admit_expire(storage, owner, hash, expiry, proof, now)
        }
        Change::Revocation {
            token,
            revoked,
            proof,
        } => {
            let proof = proof.ok_or_else(|| refused("a revocation without the owner's request"))?;
            let (method, pubkey, texts, timestamp, auth) = match (parse(&proof)?, revoked) {
                (Request::RevokeSubaccount(p), true) => {
                    ("revoke_subaccount", p.pubkey, p.revoke, p.timestamp, p.auth)
                }
                (Request::UnrevokeSubaccount(p), false) => (
                    "unrevoke_subaccount",
                    p.pubkey,
                    p.unrevoke,
                    p.timestamp,
                    p.auth,
                ),
                _ => return Err(refused("the request does not match the revocation")),
            };
            let (account, tokens) = authorize_revocation(
                storage,
                method,
                &pubkey,
                texts.as_slice(),
                timestamp,
                &auth,
                now,
                true,
            )?;
            same_owner(&account, owner)?;
            if !tokens.contains(&token) {
                return Err(refused("the request does not name this token"));
            }
            Ok(Some(Admitted::Revocation {
                token,
                revoked,
                timestamp,
                proof,
            }))
        }
    }
}

/// A store: within the namespace's time limits, and signed by the owner (or a delegate that
/// was not revoked when it signed) where the namespace needs it.
fn admit_store(
    storage: &Storage,
    owner: &Owner,
    mut message: StoredMessage,
    now: u64,
) -> Result<Option<Admitted>, RpcError> {
    if message.timestamp > now.saturating_add(STORE_FUTURE_TOLERANCE_MS) {
        return Err(refused("a store timestamped in the future"));
    }
    if is_public_inbox(message.namespace) {
        // Anyone may deposit here; a deposit lives at most the public TTL from now.
        message.proof = None;
        message.expiry = message.expiry.min(now.saturating_add(MAX_TTL_MS));
    } else {
        let proof = message
            .proof
            .as_deref()
            .ok_or_else(|| refused("a store to a private namespace without the owner's request"))?;
        let Request::Store(p) = parse(proof)? else {
            return Err(refused("the request is not a store"));
        };
        same_owner(&AccountKey::parse(&p.pubkey)?, owner)?;
        if p.namespace.unwrap_or(0) != message.namespace || p.timestamp != Some(message.timestamp) {
            return Err(refused("the request is for another message"));
        }
        if !authorize_store(storage, &p, now, true)? {
            return Err(refused("the request is not signed"));
        }
        message.expiry = message.expiry.min(now.saturating_add(MAX_PRIVATE_TTL_MS));
    }
    if message.expiry <= now {
        return Ok(None);
    }
    Ok(Some(Admitted::Store(message)))
}

/// A deletion: of a hash the owner named, or of a held message inside a range the owner
/// deleted (a range never plants a tombstone for a message this node has not seen: it could
/// be one stored after the deletion).
fn admit_delete(
    storage: &Storage,
    owner: &Owner,
    hash: Hash,
    expiry: u64,
    proof: String,
    now: u64,
) -> Result<Option<Admitted>, RpcError> {
    let (account, range) = match parse(&proof)? {
        Request::Delete(p) => {
            let account = authorize_delete(storage, &p, true)?;
            if !decode_hash_list(&p.messages)?.contains(&hash) {
                return Err(refused("the request does not name this message"));
            }
            (account, None)
        }
        Request::DeleteAll(p) => (
            authorize_delete_all(storage, &p, now, true)?,
            Some((p.namespace, delete_all_horizon(p.timestamp))),
        ),
        Request::DeleteBefore(p) => (
            authorize_delete_before(storage, &p, now, true)?,
            Some((p.namespace, p.before)),
        ),
        _ => return Err(refused("the request is not a deletion")),
    };
    same_owner(&account, owner)?;
    let Some((selector, up_to)) = range else {
        return Ok(Some(Admitted::Delete {
            hash,
            expiry,
            proof,
            range: None,
        }));
    };
    let namespace = namespace_of(selector);
    let Some(held) = storage
        .message(owner, &hash, now)
        .map_err(RpcError::storage)?
    else {
        return Ok(None);
    };
    if namespace.is_some_and(|ns| ns != held.namespace) || held.timestamp > up_to {
        return Err(refused("the message lies outside the deleted range"));
    }
    Ok(Some(Admitted::Delete {
        hash,
        expiry,
        proof,
        range: Some((namespace, up_to)),
    }))
}

/// An expiry change: of a hash the owner named, to no later than it signed, moving the way it
/// allowed; or, for `expire_all`, a held message of the namespace, shortened only.
fn admit_expire(
    storage: &Storage,
    owner: &Owner,
    hash: Hash,
    expiry: u64,
    proof: String,
    now: u64,
) -> Result<Option<Admitted>, RpcError> {
    let (account, signed_expiry, mode) = match parse(&proof)? {
        Request::Expire(p) => {
            let account = authorize_expire(storage, &p, now, true)?;
            if !decode_hash_list(&p.messages)?.contains(&hash) {
                return Err(refused("the request does not name this message"));
            }
            (account, p.expiry, expire_mode(&p))
        }
        Request::ExpireEach(p) => {
            let account = authorize_expire_each(storage, &p, now, true)?;
            let hashes = decode_hash_list(&p.messages)?;
            let signed = hashes
                .iter()
                .zip(&p.expiry)
                .filter(|(h, _)| **h == hash)
                .map(|(_, e)| *e)
                .max()
                .ok_or_else(|| refused("the request does not name this message"))?;
            (account, signed, expire_each_mode(&p))
        }
        Request::ExpireAll(p) => {
            let account = authorize_expire_all(storage, &p, now, true)?;
            let Some(held) = storage
                .message(owner, &hash, now)
                .map_err(RpcError::storage)?
            else {
                return Ok(None);
            };
            if namespace_of(p.namespace).is_some_and(|ns| ns != held.namespace) {
                return Err(refused("the message lies outside the namespace"));
            }
            (account, p.expiry, ExpireMode::Shorten)
        }
        _ => return Err(refused("the request is not an expiry change")),
    };
    same_owner(&account, owner)?;
    if expiry > signed_expiry || expiry > now.saturating_add(MAX_PRIVATE_TTL_MS) {
        return Err(refused("the expiry is later than the owner asked for"));
    }
    Ok(Some(Admitted::Expire {
        hash,
        expiry,
        mode,
        proof,
    }))
}

/// The namespace a selector names, `None` for all of them.
fn namespace_of(selector: Option<NamespaceSelector>) -> Option<i16> {
    match selector.unwrap_or(NamespaceSelector::One(0)) {
        NamespaceSelector::One(ns) => Some(ns),
        NamespaceSelector::All => None,
    }
}

fn parse(proof: &str) -> Result<Request, RpcError> {
    Request::from_json(proof.as_bytes()).map_err(|e| refused(&format!("unreadable proof: {e}")))
}

fn same_owner(account: &AccountKey, owner: &Owner) -> Result<(), RpcError> {
    if account.0 == *owner {
        Ok(())
    } else {
        Err(refused("the request is for another account"))
    }
}

/// A refused change: 403, naming why.
fn refused(why: &str) -> RpcError {
    RpcError::new(403, format!("change refused: {why}"))
}
