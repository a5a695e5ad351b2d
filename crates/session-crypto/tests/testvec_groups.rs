//! Groups v2 vectors published by libsession-util (tests/test_group_keys.cpp,
//! tests/test_multi_encrypt.cpp), copied here from the project's vector kit; nothing is read
//! from outside the crate at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_crypto::bt;
use session_crypto::group_keys::{
    build_keys_message, build_supplement, parse_keys_message, GroupId, GroupIdentity, GroupKey,
    KEY_COPY_BYTES, MEMBER_KEY_MULTIPLE,
};
use session_crypto::group_message::{
    decrypt_group_message, encrypt_for_group_with_nonce, GROUP_PADDING,
};
use session_crypto::group_multi::{decrypt_for_multiple, encrypt_for_multiple};
use session_crypto::group_subaccount::{make_subaccount, Subaccount};
use session_crypto::{CryptoError, Ed25519PublicKey, Ed25519Seed, IdentityKeyPair};

fn seed(text: &str) -> Ed25519Seed {
    Ed25519Seed::from_bytes(hex::decode(text).unwrap().try_into().unwrap())
}

fn keys(text: &str) -> IdentityKeyPair {
    seed(text).key_pair()
}

const ADMIN1: &str = "0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210";
const ADMIN2: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const GROUP_SEED: &str = "0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210";

#[test]
fn seeds_give_the_published_session_ids() {
    let cases = [
        (
            ADMIN1,
            "05f1e8b64bbf761edf8f7b47e3a1f369985644cce0a62adb8e21604474bdd49627",
        ),
        (
            ADMIN2,
            "05c5ba413c336f2fe1fb9a2c525f8a86a412a1db128a7841b4e0e217fa9eb7fd5e",
        ),
        (
            "000111222333444555666777888999aaabbbcccdddeeefff0123456789abcdef",
            "05ece06dd8e02fb2f7d9497f956a1996e199953c651f4016a2f79a3b3e38d55628",
        ),
        (
            "00011122435111155566677788811263446552465222efff0123456789abcdef",
            "053ac269b71512776b0bd4a1234aaf93e67b4e9068a2c252f3b93a20acb590ae3c",
        ),
        (
            "00011129824754185548239498168169316979583253efff0123456789abcdef",
            "05a2b03abdda4df8316f9d7aed5d2d1e483e9af269d0b39191b08321b8495bc118",
        ),
        (
            "0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff",
            "050a41669a06c098f22633aee2eba03764ef6813bd4f770a3a2b9033b868ca470d",
        ),
        (
            "3333333333333333333333333333333333333333333333333333333333333333",
            "054eb4fafee2bd3018a24e310de8106333c2b364eaed029a7f05d7b45ccc77683a",
        ),
        (
            "4444444444444444444444444444444444444444444444444444444444444444",
            "057ce31baa9a04b5cfb83ab7ccdd7b669b911a082d29883d6aad3256294a0a5e0c",
        ),
    ];
    for (s, id) in cases {
        assert_eq!(keys(s).account_id().to_string(), id);
    }
    assert_eq!(
        keys(ADMIN1).ed25519_public().to_string(),
        "cbd569f56fb13ea95a3f0c05c331cc24139c0090feb412069dc49fab34406ece"
    );
}

#[test]
fn group_identity_from_seed() {
    let group = GroupIdentity::from_seed(seed(GROUP_SEED));
    assert_eq!(
        group.id().ed25519().to_string(),
        "c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625"
    );
    let id = "03c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625";
    assert_eq!(group.id().to_string(), id);
    assert_eq!(id.parse::<GroupId>().unwrap(), group.id());
    assert!(
        "05c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625"
            .parse::<GroupId>()
            .is_err()
    );
}

#[test]
fn swarm_subaccount_reproduces_the_published_token_and_signatures() {
    let group = GroupIdentity::from_seed(seed(GROUP_SEED));
    let member = keys(ADMIN2);
    assert_eq!(
        member.account_id().to_string(),
        "05c5ba413c336f2fe1fb9a2c525f8a86a412a1db128a7841b4e0e217fa9eb7fd5e"
    );
    let auth = make_subaccount(&group, &member.x25519_public(), true, false).unwrap();
    assert_eq!(
        hex::encode(auth),
        "03030000013cb83a207d36c574aefe7dc51a5d1c3ad69d17f6c8d1c9398bee1180f8770a\
         e9baefbffda37dc88100979128c1927a93492ee965cab5551e28f254313ef060b939cf3d50dc6336bab5\
         9155753fea6450844339ec36e2048b1602d97dd97e05"
    );
    let sub = Subaccount::from_auth_data(&group.id(), &member, &auth).unwrap();
    assert_eq!(
        STANDARD.encode(sub.token),
        "AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5"
    );
    assert_eq!(
        STANDARD.encode(sub.token_signature),
        "6brvv/2jfciBAJeRKMGSepNJLullyrVVHijyVDE+8GC5Oc89UNxjNrq1kVV1P+pkUIRDOew24gSLFgLZfdl+BQ=="
    );
    let message = b"retrieve9991693340111000";
    let signature = sub.sign(&member, message);
    assert_eq!(
        STANDARD.encode(signature),
        "c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ=="
    );
    // It verifies as a plain Ed25519 signature under kT, as the node checks it.
    let mut kt = [0u8; 32];
    kt.copy_from_slice(&sub.token[4..]);
    Ed25519PublicKey(kt).verify(message, &signature).unwrap();
    // Any flipped bit of the auth data is refused, but the sign bit of k's top byte
    // (absorbed by the X->Ed sign ambiguity, as the reference notes).
    for byte in 0..auth.len() {
        for bit in 0..8 {
            if byte == 35 && bit == 7 {
                continue;
            }
            let mut bad = auth;
            bad[byte] ^= 1 << bit;
            let refused = Subaccount::from_auth_data(&group.id(), &member, &bad).is_err();
            assert!(refused, "bit {bit} of byte {byte}");
        }
    }
}

const MULTI_SEEDS: [&str; 5] = [
    "0123456789abcdef0123456789abcdef00000000000000000000000000000000",
    "0123456789abcdef000000000000000000000000000000000000000000000000",
    "0123456789abcdef111111111111111100000000000000000000000000000000",
    "0123456789abcdef222222222222222200000000000000000000000000000000",
    "0123456789abcdef333333333333333300000000000000000000000000000000",
];
const MULTI_NONCE: &str = "32ab4bb45d6df5cc14e1c330fb1a8b68ea3826a8c2213a49";

#[test]
fn multi_encrypt_reproduces_the_published_ciphertexts() {
    let parties: Vec<IdentityKeyPair> = MULTI_SEEDS.iter().map(|s| keys(s)).collect();
    let x_pubs = [
        "d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
        "d673a8fb4800d2a252d2fc4e3342a88cdfa9412853934e8993d12d593be13371",
        "afd9716ea69ab8c7f475e1b250c86a6539e260804faecf2a803e9281a4160738",
        "03be14feabd59122349614b88bdc90db1d1af4c230e9a73c898beec833d51f11",
        "27b5c1ea87cef76284c752fa6ee1b9186b1a95e74e8f5b88f8b47e5191ce6f08",
    ];
    for (p, x) in parties.iter().zip(x_pubs) {
        assert_eq!(p.x25519_public().to_string(), x);
    }
    let nonce: [u8; 24] = hex::decode(MULTI_NONCE).unwrap().try_into().unwrap();
    let recipients: Vec<_> = parties[1..4].iter().map(|p| p.x25519_public()).collect();
    let sender = parties[0].x25519_secret();
    let domain = b"test suite";
    let all = encrypt_for_multiple(&[b"hello"], &recipients, &nonce, sender, domain).unwrap();
    let expected_all = [
        "e64937e5ea201b84f4e88a976dad900d91caaf6a17",
        "b7a15bcd9f7b09445defcae2f1dc5085dd75cb085b",
        "01c4fc2156327735f3fb5063b11ea95f6ebcc5b6cc",
    ];
    assert_eq!(
        all.iter().map(hex::encode).collect::<Vec<_>>(),
        expected_all
    );
    let each = encrypt_for_multiple(
        &[b"hello", b"cruel", b"world"],
        &recipients,
        &nonce,
        sender,
        domain,
    )
    .unwrap();
    let expected_each = [
        "e64937e5ea201b84f4e88a976dad900d91caaf6a17",
        "bcb642c49c6da03f70cdaab2ed6666721318afd631",
        "1ecee2215d226817edfdb097f05037eb799309103a",
    ];
    assert_eq!(
        each.iter().map(hex::encode).collect::<Vec<_>>(),
        expected_each
    );
    let from = parties[0].x25519_public();
    for (i, word) in [b"hello", b"cruel", b"world"].iter().enumerate() {
        let opened = decrypt_for_multiple(
            each.iter().map(Vec::as_slice),
            &nonce,
            parties[i + 1].x25519_secret(),
            &from,
            domain,
        );
        assert_eq!(opened.as_deref(), Some(&word[..]));
    }
    let entries = || each.iter().map(Vec::as_slice);
    assert!(decrypt_for_multiple(
        entries(),
        &nonce,
        parties[3].x25519_secret(),
        &from,
        b"not test suite"
    )
    .is_none());
    assert!(
        decrypt_for_multiple(entries(), &nonce, parties[4].x25519_secret(), &from, domain)
            .is_none()
    );
    assert!(encrypt_for_multiple(&[b"a", b"b"], &recipients, &nonce, sender, domain).is_err());
    // The reference's simple interface wraps the entries as `d 1:# nonce 1:e l ... e e`.
    let mut dict = std::collections::BTreeMap::new();
    dict.insert(b"#".to_vec(), bt::BtValue::Bytes(nonce.to_vec()));
    dict.insert(
        b"e".to_vec(),
        bt::BtValue::List(each.into_iter().map(bt::BtValue::Bytes).collect()),
    );
    assert_eq!(
        hex::encode(bt::BtValue::Dict(dict).encode()),
        "64313a2332343a32ab4bb45d6df5cc14e1c330fb1a8b68ea3826a8c2213a49313a656c32313ae64937e5ea\
         201b84f4e88a976dad900d91caaf6a1732313abcb642c49c6da03f70cdaab2ed6666721318afd63132313a\
         1ecee2215d226817edfdb097f05037eb799309103a6565"
    );
}

fn tomato() -> Vec<u8> {
    let mut text = b"hello to all my friends sitting in the tomato sauce".to_vec();
    for _ in 0..5 {
        text.extend_from_slice(&text.clone());
    }
    assert_eq!(text.len(), 1632);
    text
}

#[test]
fn group_message_sizes_match_the_reference() {
    let admin = keys(ADMIN1);
    let group = GroupIdentity::from_seed(seed(GROUP_SEED)).id();
    let key = GroupKey::new(0, [7u8; 32]);
    let nonce = [9u8; 24];
    let plain = tomato();
    let compressed =
        encrypt_for_group_with_nonce(&admin, &group, &key, &plain, true, GROUP_PADDING, &nonce)
            .unwrap();
    assert_eq!(compressed.len(), 256);
    let raw =
        encrypt_for_group_with_nonce(&admin, &group, &key, &plain, false, GROUP_PADDING, &nonce)
            .unwrap();
    assert_eq!(raw.len(), 2048);
    for ciphertext in [&compressed, &raw] {
        let opened =
            decrypt_group_message([&GroupKey::new(3, [1u8; 32]), &key], &group, ciphertext)
                .unwrap();
        assert_eq!(opened.plaintext, plain);
        assert_eq!(opened.generation, 0);
        assert_eq!(
            opened.sender.to_string(),
            "05f1e8b64bbf761edf8f7b47e3a1f369985644cce0a62adb8e21604474bdd49627"
        );
    }
    // The reference's failure case: bit 2 of the last byte of the compressed ciphertext.
    let mut bad = compressed.clone();
    *bad.last_mut().unwrap() ^= 0x04;
    assert_eq!(
        decrypt_group_message([&key], &group, &bad),
        Err(CryptoError::DecryptFailed)
    );
    // The inner dictionary of the uncompressed one is 1,755 bytes, as computed for the vectors.
    let opened = session_crypto::group_multi::open(key.bytes(), &nonce, &raw[24..]).unwrap();
    let end = opened.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert_eq!(end, 1755);
}

#[test]
fn keys_messages_are_signed_padded_and_open_for_members_and_admins() {
    let group = GroupIdentity::from_seed(seed(GROUP_SEED));
    let members: Vec<IdentityKeyPair> = MULTI_SEEDS.iter().map(|s| keys(s)).collect();
    let ids: Vec<_> = members[..3]
        .iter()
        .map(IdentityKeyPair::account_id)
        .collect();
    let (message, key) = build_keys_message(&group, 0, &ids).unwrap();
    let (again, same_key) = build_keys_message(&group, 0, &ids).unwrap();
    assert_eq!(message, again, "rekey is deterministic");
    assert_eq!(key, same_key);
    let parsed = parse_keys_message(&group.id(), &message).unwrap();
    assert_eq!(parsed.entries.len(), MEMBER_KEY_MULTIPLE);
    assert!(parsed.entries.iter().all(|e| e.len() == KEY_COPY_BYTES));
    assert_eq!(parsed.admin_key(&group).unwrap(), key);
    for member in &members[..3] {
        let opened = parsed
            .member_keys(&group.id(), member.x25519_secret())
            .unwrap();
        assert_eq!(opened, vec![key.clone()]);
    }
    assert!(parsed
        .member_keys(&group.id(), members[3].x25519_secret())
        .is_err());
    // `d 1:# 24:. 1:G i0e 1:K 48:. 1:k l 48:.(x45) e 1:~ 64:. e`: 167 + 51 bytes per entry (the
    // reference's header says "about 177 + 48 * N").
    assert_eq!(message.len(), 167 + 51 * MEMBER_KEY_MULTIPLE);
    // A forged or altered message is refused.
    let mut bad = message.clone();
    bad[40] ^= 1;
    assert!(parse_keys_message(&group.id(), &bad).is_err());
    let other = GroupIdentity::from_seed(seed(ADMIN1));
    assert!(parse_keys_message(&other.id(), &message).is_err());

    // A rekey without member 2 gives a key member 2 cannot open.
    let (rekeyed, key1) = build_keys_message(&group, 1, &ids[..2]).unwrap();
    let parsed1 = parse_keys_message(&group.id(), &rekeyed).unwrap();
    assert_eq!(parsed1.generation, 1);
    assert_ne!(key1, key);
    assert!(parsed1
        .member_keys(&group.id(), members[2].x25519_secret())
        .is_err());

    // A supplement hands both keys to a new member.
    let supplement = build_supplement(
        &group,
        &[(key.clone(), 1), (key1.clone(), 2)],
        &[members[4].account_id()],
    )
    .unwrap();
    let parsed_s = parse_keys_message(&group.id(), &supplement).unwrap();
    assert!(parsed_s.supplement);
    assert_eq!(parsed_s.generation, 1);
    let got = parsed_s
        .member_keys(&group.id(), members[4].x25519_secret())
        .unwrap();
    assert_eq!(got, vec![key, key1]);
    assert!(parsed_s
        .member_keys(&group.id(), members[0].x25519_secret())
        .is_err());
}
