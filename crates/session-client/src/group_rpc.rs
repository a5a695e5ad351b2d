//! Requests to a group's swarm: who signs them (an admin with the group's key, a member with its
//! subaccount token) and the signed `store`, `retrieve` and `revoke_subaccount` they make.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::group_keys::{GroupId, GroupIdentity};
use session_crypto::group_subaccount::Subaccount;
use session_crypto::{AccountId, IdentityKeyPair, X25519PublicKey};
use session_wire::rpc::{
    namespace_signature_text, Auth, OneOrMany, RetrieveParams, RevokeParams, StoreParams,
};

/// Group messages.
pub const GROUP_MESSAGES_NAMESPACE: i16 = 11;
/// Keys messages and supplements.
pub const GROUP_KEYS_NAMESPACE: i16 = 12;
/// Group info (name, description, deleted).
pub const GROUP_INFO_NAMESPACE: i16 = 13;
/// The member list.
pub const GROUP_MEMBERS_NAMESPACE: i16 = 14;
/// Notices to removed members (readable with a revoked token).
pub const GROUP_REVOKED_NAMESPACE: i16 = -11;

/// Who signs requests to the group's swarm.
pub(crate) enum Signer {
    /// An admin, with the group's own key.
    Admin(Box<GroupIdentity>),
    /// A member, with its subaccount.
    Member(Subaccount),
}

impl Signer {
    /// The authentication fields of a request whose signed string is `text`.
    pub(crate) fn auth(&self, me: &IdentityKeyPair, text: &[u8]) -> Auth {
        match self {
            Self::Admin(group) => Auth {
                signature: Some(STANDARD.encode(group.sign(text))),
                ..Auth::default()
            },
            Self::Member(sub) => Auth {
                signature: Some(STANDARD.encode(sub.sign(me, text))),
                pubkey_ed25519: None,
                subaccount: Some(STANDARD.encode(sub.token)),
                subaccount_sig: Some(STANDARD.encode(sub.token_signature)),
            },
        }
    }

    /// The group's identity, for an admin.
    pub(crate) fn admin(&self) -> Option<&GroupIdentity> {
        match self {
            Self::Admin(group) => Some(group),
            Self::Member(_) => None,
        }
    }
}

/// The key the group's swarm is found by: its 32 key bytes, as for any account (the client's
/// router takes an [`AccountId`] and reads only those bytes).
pub(crate) fn swarm_route(group: &GroupId) -> AccountId {
    AccountId::from_x25519(X25519PublicKey(*group.ed25519().as_bytes()))
}

/// A signed `store` into the group's `namespace`.
pub(crate) fn store(
    group: &GroupId,
    signer: &Signer,
    me: &IdentityKeyPair,
    namespace: i16,
    data: &[u8],
    now: u64,
    ttl: u64,
) -> StoreParams {
    let text = format!("store{}{now}", namespace_signature_text(namespace));
    StoreParams {
        pubkey: group.to_string(),
        namespace: Some(namespace),
        data: STANDARD.encode(data),
        ttl: Some(ttl),
        expiry: None,
        timestamp: Some(now),
        sig_timestamp: None,
        auth: signer.auth(me, text.as_bytes()),
    }
}

/// A signed `retrieve` of the group's `namespace` after `last_hash`.
pub(crate) fn retrieve(
    group: &GroupId,
    signer: &Signer,
    me: &IdentityKeyPair,
    namespace: i16,
    now: u64,
    last_hash: Option<String>,
) -> RetrieveParams {
    let text = format!("retrieve{}{now}", namespace_signature_text(namespace));
    RetrieveParams {
        pubkey: group.to_string(),
        namespace: Some(namespace),
        last_hash,
        max_count: None,
        max_size: None,
        reverse_direction: false,
        wait_ms: None,
        timestamp: Some(now),
        auth: signer.auth(me, text.as_bytes()),
    }
}

/// A `revoke_subaccount` of `tokens`, signed by the group's key.
pub(crate) fn revoke(group: &GroupIdentity, tokens: &[[u8; 36]], now: u64) -> RevokeParams {
    let mut signed = format!("revoke_subaccount{now}").into_bytes();
    for token in tokens {
        signed.extend_from_slice(token);
    }
    RevokeParams {
        pubkey: group.id().to_string(),
        revoke: OneOrMany::Many(tokens.iter().map(|t| STANDARD.encode(t)).collect()),
        timestamp: now,
        auth: Auth {
            signature: Some(STANDARD.encode(group.sign(&signed))),
            ..Auth::default()
        },
    }
}
