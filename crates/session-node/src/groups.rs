//! Groups v2 rules (`03` accounts): the group's keys, info and member list, and the notices to
//! removed members, are written by admins only (the group's own key); members' subaccount
//! tokens may store and read messages (namespace 11) and read everything else.

use crate::auth::AccountKey;

/// Namespaces of a group only its own key may store into: keys (12), info (13), members (14)
/// and the revoked-retrievable notices (-11).
pub const ADMIN_ONLY_NAMESPACES: [i16; 4] = [12, 13, 14, -11];

/// Whether a store into `namespace` of `account` must be signed by the group's key (a
/// subaccount is refused).
pub fn store_needs_group_key(account: &AccountKey, namespace: i16) -> bool {
    account.prefix() == 0x03 && ADMIN_ONLY_NAMESPACES.contains(&namespace)
}
