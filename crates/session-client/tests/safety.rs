//! Safety codes: the same on both sides of a pair, different for any other pair.
#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use session_client::safety::{safety_code, safety_code_text};
use session_crypto::{AccountId, Ed25519Seed};

fn id(seed: [u8; 32]) -> AccountId {
    Ed25519Seed::from_bytes(seed).key_pair().account_id()
}

fn pair(x: &AccountId, y: &AccountId) -> [[u8; 33]; 2] {
    let mut p = [x.to_bytes33(), y.to_bytes33()];
    p.sort();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn both_sides_see_the_same_code(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        let (a, b) = (id(a), id(b));
        prop_assert_eq!(safety_code(&a, &b), safety_code(&b, &a));
        prop_assert_eq!(safety_code_text(&a, &b), safety_code_text(&b, &a));
    }

    #[test]
    fn another_pair_has_another_code(
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
        c in any::<[u8; 32]>(),
        d in any::<[u8; 32]>(),
    ) {
        let (a, b, c, d) = (id(a), id(b), id(c), id(d));
        prop_assume!(pair(&a, &b) != pair(&c, &d));
        prop_assert_ne!(safety_code(&a, &b), safety_code(&c, &d));
    }

    #[test]
    fn a_substituted_side_changes_the_code(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), m in any::<[u8; 32]>()) {
        // What an attacker in the middle does: one side sees another key for the peer.
        let (a, b, m) = (id(a), id(b), id(m));
        prop_assume!(m != b);
        prop_assert_ne!(safety_code(&a, &b), safety_code(&a, &m));
    }
}
