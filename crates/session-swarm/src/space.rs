//! Swarm space and swarm selection (session-storage-server `pubkey_to_swarm_space` and
//! `get_swarm_by_pk`).

use session_crypto::AccountId;

/// A swarm's position on the 64-bit ring.
pub type SwarmId = u64;

/// The swarm-space position of a 32-byte public key (without its prefix): the big-endian `u64` of
/// `x[j] = pk[j] ^ pk[8 + j] ^ pk[16 + j] ^ pk[24 + j]`.
pub fn swarm_space(pubkey: &[u8; 32]) -> u64 {
    let mut x = [0u8; 8];
    for chunk in pubkey.chunks_exact(8) {
        for (acc, byte) in x.iter_mut().zip(chunk) {
            *acc ^= byte;
        }
    }
    u64::from_be_bytes(x)
}

/// The swarm-space position of an Account ID.
pub fn swarm_space_of_account(account: &AccountId) -> u64 {
    swarm_space(account.x25519().as_bytes())
}

/// The swarm responsible for `space`: the id nearest on the ring (with wrap-around); on a tie,
/// the one to the left (the lower id, or the last id when `space` lies below the first).
/// `sorted_ids` must be sorted ascending; `None` when it is empty.
pub fn select_swarm(sorted_ids: &[SwarmId], space: u64) -> Option<SwarmId> {
    let first = *sorted_ids.first()?;
    let last = *sorted_ids.last()?;
    let index = sorted_ids.partition_point(|id| *id < space);
    let right = sorted_ids.get(index).copied().unwrap_or(first);
    let left = index
        .checked_sub(1)
        .and_then(|i| sorted_ids.get(i).copied())
        .unwrap_or(last);
    let to_right = right.wrapping_sub(space);
    let to_left = space.wrapping_sub(left);
    Some(if to_right < to_left { right } else { left })
}
