//! Test vectors from session-storage-server unit_test/swarm.cpp (swarm space and
//! `get_swarm_by_pk`). Values are copied here; nothing is read from outside the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_swarm::{select_swarm, swarm_space, swarm_space_of_account};

fn space_of(prefixed_hex: &str) -> u64 {
    let bytes = hex::decode(prefixed_hex).unwrap();
    swarm_space(&bytes[1..].try_into().unwrap())
}

#[test]
fn swarm_space_cases() {
    let cases: [(&str, u64); 11] = [
        (
            "053506f4a71324b7dd114eddbf4e311f39dde243e1f2cb97c40db1961f70ebaae8",
            17589930838143112648,
        ),
        (
            "05cf27da303a50ac8c4b2d43d27259505c9bcd73fc21cf2a57902c3d050730b604",
            10370619079776428163,
        ),
        (
            "03d3511706b8b34f6e8411bf07bd22ba6b2435ca56846fbccf6eb1e166a6cd15cc",
            2144983569669512198,
        ),
        (
            "ff0f06693428fca9102a451e3f28d9cc743d8ea60a89ab6aa69eb119470c11cbd3",
            9690840703409570833,
        ),
        (
            "05ffba630924aa1224bb930dde21c0d11bf004608f2812217f8ac812d6c7e3ad48",
            4532060000165252872,
        ),
        (
            "05eeeeeeeeeeeeeeee777777777777777711111111111111118888888888888888",
            0,
        ),
        (
            "050123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            0,
        ),
        (
            "05fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe",
            1,
        ),
        (
            "05ffffffffffffffffffffffffffffffffffffffffffffffff7fffffffffffffff",
            9223372036854775808,
        ),
        (
            "05000000000000000000000000000000000000000000000000ffffffffffffffff",
            18446744073709551615,
        ),
        (
            "050000000000000000000000000000000000000000000000000123456789abcdef",
            81985529216486895,
        ),
    ];
    for (key, space) in cases {
        assert_eq!(space_of(key), space, "{key}");
    }
    let account = "053506f4a71324b7dd114eddbf4e311f39dde243e1f2cb97c40db1961f70ebaae8"
        .parse()
        .unwrap();
    assert_eq!(swarm_space_of_account(&account), 17589930838143112648);
}

#[test]
fn swarm_selection_cases() {
    let mut ids = vec![100u64, 200, 300, 399, 498, 596, 694];
    let cases: [(u64, u64); 27] = [
        (0x64, 100),
        (0xc8, 200),
        (0x1f2, 498),
        (0x0, 100),
        (0x1, 100),
        (0x8000000000000000, 694),
        (0xa000000000000000, 100),
        (0xffffffffffffffff, 100),
        (0xfffffffffffffffe, 100),
        (0x95, 100),
        (0x96, 100),
        (0x97, 200),
        (0xf9, 200),
        (0xfa, 200),
        (0xfb, 300),
        (0x15d, 300),
        (0x15e, 399),
        (0x1c0, 399),
        (0x1c1, 498),
        (0x222, 498),
        (0x223, 498),
        (0x224, 596),
        (0x285, 596),
        (0x286, 694),
        (0x800000000000018c, 694),
        (0x800000000000018d, 694),
        (0x800000000000018e, 100),
    ];
    for (space, swarm) in cases {
        assert_eq!(select_swarm(&ids, space), Some(swarm), "space {space:#x}");
    }

    ids.push(18446744073709551596);
    for (space, swarm) in [
        (0x27, 18446744073709551596),
        (0x28, 18446744073709551596),
        (0x29, 100),
    ] {
        assert_eq!(select_swarm(&ids, space), Some(swarm), "space {space:#x}");
    }

    ids.insert(0, 0);
    for (space, swarm) in [(0xffffffffffffffff, 0), (0xfffffffffffffffe, 0)] {
        assert_eq!(select_swarm(&ids, space), Some(swarm), "space {space:#x}");
    }
}

#[test]
fn selection_edge_cases() {
    assert_eq!(select_swarm(&[], 5), None);
    assert_eq!(select_swarm(&[42], 0), Some(42));
    assert_eq!(select_swarm(&[42], u64::MAX), Some(42));
}
