//! The link SAS of libsession-util (src/core/link_sas.cpp), from the project's round-2 vectors
//! file (`link_sas`: no published deterministic vector exists; these examples were computed from
//! the algorithm, so they are self-consistency checks), copied here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_client::devices_link::{sas, sas_indices, sas_seed, SAS_EMOJI};

#[test]
fn the_sas_of_hello() {
    let salt: [u8; 16] = session_crypto::hash::blake2b_personal(b"SessionLinkEmoji", &[b"hello"]);
    assert_eq!(hex::encode(salt), "1fcb67f6c01edc161486498272baf358");
    let seed = sas_seed(b"hello").unwrap();
    assert_eq!(hex::encode(seed), "8e02e808564364a8581ea278e9e8e94a");
    assert_eq!(
        sas_indices(&seed),
        [14, 10, 0, 58, 8, 24, 53, 16, 36, 33, 10, 22, 30, 8, 10, 30, 41, 35, 30, 58, 10]
    );
    let shown: Vec<&str> = sas(b"hello").unwrap().iter().map(|(e, _)| *e).collect();
    assert_eq!(
        shown,
        [
            "\u{1F98B}",
            "\u{1F427}",
            "\u{1F436}",
            "\u{1F3BA}",
            "\u{1F43C}",
            "\u{1F34E}",
            "\u{2708}\u{FE0F}"
        ]
    );
}

#[test]
fn sas_indices_from_a_seed() {
    let seed: [u8; 16] = hex::decode("000102030405060708090a0b0c0d0e0f")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        sas_indices(&seed),
        [0, 4, 32, 0, 3, 16, 16, 1, 6, 28, 0, 2, 9, 40, 48, 2, 12, 52, 32, 3, 15]
    );
    let emoji: Vec<&str> = sas_indices(&seed)
        .iter()
        .map(|&i| SAS_EMOJI[usize::from(i)].0)
        .collect();
    assert_eq!(
        emoji,
        [
            "\u{1F436}",
            "\u{1F984}",
            "\u{1F3A9}",
            "\u{1F436}",
            "\u{1F40E}",
            "\u{1F333}",
            "\u{1F333}",
            "\u{1F431}",
            "\u{1F418}",
            "\u{1F382}",
            "\u{1F436}",
            "\u{1F981}",
            "\u{1F413}",
            "\u{1F381}",
            "\u{1F528}",
            "\u{1F981}",
            "\u{1F41F}",
            "\u{1F6B2}",
            "\u{1F3A9}",
            "\u{1F40E}",
            "\u{1F337}"
        ]
    );
}

#[test]
fn the_emoji_table_is_the_reference_one() {
    const EXPECTED: [&str; 64] = [
        "\u{1F436}",
        "\u{1F431}",
        "\u{1F981}",
        "\u{1F40E}",
        "\u{1F984}",
        "\u{1F437}",
        "\u{1F418}",
        "\u{1F430}",
        "\u{1F43C}",
        "\u{1F413}",
        "\u{1F427}",
        "\u{1F422}",
        "\u{1F41F}",
        "\u{1F419}",
        "\u{1F98B}",
        "\u{1F337}",
        "\u{1F333}",
        "\u{1F335}",
        "\u{1F344}",
        "\u{1F30F}",
        "\u{1F319}",
        "\u{2601}\u{FE0F}",
        "\u{1F525}",
        "\u{1F34C}",
        "\u{1F34E}",
        "\u{1F353}",
        "\u{1F33D}",
        "\u{1F355}",
        "\u{1F382}",
        "\u{2764}\u{FE0F}",
        "\u{1F600}",
        "\u{1F916}",
        "\u{1F3A9}",
        "\u{1F453}",
        "\u{1F527}",
        "\u{1F385}",
        "\u{1F44D}",
        "\u{2602}\u{FE0F}",
        "\u{231B}",
        "\u{23F0}",
        "\u{1F381}",
        "\u{1F4A1}",
        "\u{1F4D5}",
        "\u{270F}\u{FE0F}",
        "\u{1F4CE}",
        "\u{2702}\u{FE0F}",
        "\u{1F512}",
        "\u{1F511}",
        "\u{1F528}",
        "\u{260E}\u{FE0F}",
        "\u{1F3C1}",
        "\u{1F682}",
        "\u{1F6B2}",
        "\u{2708}\u{FE0F}",
        "\u{1F680}",
        "\u{1F3C6}",
        "\u{26BD}",
        "\u{1F3B8}",
        "\u{1F3BA}",
        "\u{1F514}",
        "\u{2693}",
        "\u{1F3A7}",
        "\u{1F4C1}",
        "\u{1F4CC}",
    ];
    for (i, (emoji, _)) in SAS_EMOJI.iter().enumerate() {
        assert_eq!(*emoji, EXPECTED[i], "index {i}");
    }
}
