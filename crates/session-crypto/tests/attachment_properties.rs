//! Properties of the attachment stream format: round trip, any flipped bit fails, truncation
//! fails.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use session_crypto::attachment::{decrypt, encrypt, Domain};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn round_trip(seed in any::<[u8; 32]>(), data in prop::collection::vec(any::<u8>(), 0..80_000)) {
        let e = encrypt(&seed, &data, Domain::Attachment, None).unwrap();
        prop_assert_eq!(decrypt(&e.key, &e.data).unwrap(), data);
    }

    #[test]
    fn a_flipped_bit_fails(data in prop::collection::vec(any::<u8>(), 0..70_000), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let e = encrypt(&[3; 32], &data, Domain::Attachment, None).unwrap();
        let mut bad = e.data.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(decrypt(&e.key, &bad).is_err());
    }

    #[test]
    fn truncation_fails(data in prop::collection::vec(any::<u8>(), 0..70_000), cut in any::<prop::sample::Index>()) {
        let e = encrypt(&[4; 32], &data, Domain::Attachment, None).unwrap();
        let keep = cut.index(e.data.len());
        prop_assert!(decrypt(&e.key, &e.data[..keep]).is_err());
    }
}
