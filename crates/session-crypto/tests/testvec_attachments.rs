//! Attachment vectors: the size table and legacy known answers of libsession-util
//! (tests/test_attachment_encrypt.cpp), and known answers of the stream format produced with the
//! system's libsodium 1.0.18 (`crypto_secretstream_xchacha20poly1305_push` and
//! `crypto_generichash_blake2b_salt_personal` called through Python ctypes, the stream state set
//! from the derived header exactly as `init_push` sets it), since the reference publishes no
//! stream ciphertexts. Values copied here; nothing is read from outside the crate at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_crypto::attachment::{
    decrypt, decrypt_legacy_cbc, decrypt_legacy_display_picture, encrypt, encrypted_size,
    legacy_digest_matches, AttachmentError, Domain, MAX_REGULAR_SIZE,
};
use sha2::{Digest, Sha256};

const SEED: [u8; 32] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
];

/// The reference's `make_data(n)`: byte i = (i * 7) mod 256.
fn make_data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

/// (plaintext size, encrypted size, allow_large) from the reference's size table.
const SIZES: &[(usize, usize, Option<bool>)] = &[
    (0, 4096, None),
    (1, 4096, None),
    (2, 4096, None),
    (10, 4096, None),
    (100, 4096, None),
    (1000, 4096, None),
    (2000, 4096, None),
    (4000, 4096, None),
    (4053, 4096, None),
    (4054, 8192, None),
    (8149, 8192, None),
    (8150, 12288, None),
    (33333, 36864, None),
    (261982, 262144, None),
    (261983, 270336, None),
    (523990, 524288, None),
    (523991, 540672, None),
    (6543210, 6553600, None),
    (10218286, 10223616, None),
    (60000, 61440, Some(false)),
    (10000000, 10223616, Some(false)),
    (25000000, 25165824, Some(true)),
];

#[test]
fn encrypted_sizes_match_the_reference_table() {
    for &(n, size, _) in SIZES {
        assert_eq!(encrypted_size(n), size, "plaintext size {n}");
    }
}

#[test]
fn encryption_produces_the_table_sizes_and_the_regular_limit() {
    for &(n, size, allow_large) in SIZES {
        let data = make_data(n);
        let limit = (allow_large == Some(true)).then_some(usize::MAX);
        let e = encrypt(&SEED, &data, Domain::Attachment, limit).unwrap();
        assert_eq!(e.data.len(), size, "plaintext size {n}");
        assert_eq!(
            decrypt(&e.key, &e.data).unwrap(),
            data,
            "plaintext size {n}"
        );
    }
    let too_big = make_data(MAX_REGULAR_SIZE + 1);
    assert_eq!(
        encrypt(&SEED, &too_big, Domain::Attachment, None).unwrap_err(),
        AttachmentError::TooLarge {
            size: MAX_REGULAR_SIZE + 1,
            max: MAX_REGULAR_SIZE
        }
    );
}

struct Kat {
    n: usize,
    domain: Domain,
    key: &'static str,
    len: usize,
    sha256: &'static str,
}

/// Produced with libsodium (see the module comment).
const KATS: &[Kat] = &[
    Kat {
        n: 0,
        domain: Domain::Attachment,
        key: "c811e82fa9a353e0e9814faaa362e3563af2ba3300d31d6e7ea8319b4b17b8d5",
        len: 4096,
        sha256: "28ca9a9e248a6bb759a44e4a9921d46313fa8a7ff4887120af8f15c1fcc803b9",
    },
    Kat {
        n: 1,
        domain: Domain::Attachment,
        key: "84c58d3911f1944d040597939b4bec9012285399781282c90e490c76246379ba",
        len: 4096,
        sha256: "c51cf048ea036db5f0c005e038ace2ed3ace41b5197fe3b4731b76973cf38f4c",
    },
    Kat {
        n: 100,
        domain: Domain::Attachment,
        key: "6bc2549f32011221c4c9f3efc94c296e03da1b3a2c765ee10ee2fbe8bee4922d",
        len: 4096,
        sha256: "f70622a96fa99f0bcd9b9a1768f2f19d5a09ce89129432800edaccbf03e457dc",
    },
    Kat {
        n: 4053,
        domain: Domain::Attachment,
        key: "057b689aef46706673ad72408fe4954f5741b1ce9c083a4e5660b58b11231f4a",
        len: 4096,
        sha256: "923a24e6f97a1a4283829c2d56db70c674fc38107e7fe1a74d93940ac265cfb9",
    },
    Kat {
        n: 4054,
        domain: Domain::Attachment,
        key: "a7f34e51cd910e930e99b0b9b771b30de45d5843a801b3c95168b56635687fb2",
        len: 8192,
        sha256: "ae4f15337d52cdbe18f4046082f70b4a484ebfe4ef197bfb89daa25abaabc14b",
    },
    Kat {
        n: 33333,
        domain: Domain::Attachment,
        key: "4ce68ba1f085312eae658f147058210a9c05771ece2c8ced686d54544be1e945",
        len: 36864,
        sha256: "672f3bc44b2b1915b527d6429c86dd0b462a958aa1cad9afae0ad971e660002b",
    },
    Kat {
        n: 70000,
        domain: Domain::Attachment,
        key: "44e8f333e40d8678efdeb8ae919a9a489f67ed0618acff52ffa3cab3b342e699",
        len: 73728,
        sha256: "4de07e0c846ed4aa15fcee467fcf2740e696741898c52dac5ec063a025f06f8b",
    },
    Kat {
        n: 261983,
        domain: Domain::Attachment,
        key: "a0087302f62b20e59a38780bbce248fe13a531ec2f0242a36bdbb2e123d0e91d",
        len: 270336,
        sha256: "e9ad75009cae45fa85fd80324ef43b8c6f69aaf0fa49567db8fe7852bbbd3541",
    },
    Kat {
        n: 100,
        domain: Domain::ProfilePicture,
        key: "09d26213504543523bcdf5c65d4071866e0ba9ee0f164808b271ce399a11171b",
        len: 4096,
        sha256: "3bb2e0ae495c1ee06e9735bfd9d0cde05ee6fc7ffad9f428dfd4cccea0bb336b",
    },
];

/// The whole ciphertext of `make_data(1)` from libsodium.
const CT_1: &str = concat!(
    "537f0bc060e25f3af08264796714405064a810ba9c518d924c8cf9fb1d6a3afffddc70989fb2bff3865a675fe3d85a65",
    "f574e3d45a9be6f2306abbf48f8fc061f3e9f1c33ff073e040886eaf29185405f960c252d54facc56bd69c2b6829a8d8",
    "4fb93020238ab931b68dcac21009430b339bb1a7738b8240fa0d92dda98fd1ed61b7494ba0389a8020d14e2610eda240",
    "c09525152e7cc6bbc20f02c73d8da6da2d8603283a306dedce8a8927c644bd295986dc68539a20857813ea047ac1a7e9",
    "e62c9cf263f183182ea0de2c16e86c04eca655e5e01ae6c64283bb4b8b30b854674ebb86e7530c0074994915578e1901",
    "3cf55691ef6b8dd747b3948d3ee497905fb3d4e3f52d2c58eed366bf09900e07541a6993c685d9dc66bea55d053c7847",
    "74f0244427cbc36060b73d131a1333ef6cc9c6a19186a6d0a690b2d6d7ff09bddbce9e138daf6d4d980dae1281f2e42e",
    "ba05a1e0b7c34520160e248013b19adad53fbcbaa7842e7e9f78b2425a10b6d54f63abba1d25acc239664f09c4ce6194",
    "0ad43fe219114561e330b74cace1e4a929496123e55c93da3531bb372f05da030b2c463bdb99d0a58ef9fb22e62b2c42",
    "900c886f3313d313157b775d30ca8a06b5d69b7d04d7f9bf8f834b8550c1338bae8365588a573a9e01619108a6eeb78f",
    "73091b5fb477bbefbf4a6dd2899f9d34cd9fa3ebac42cbf83de2d4915bff42409b36a80d158fafb56053146e62b3be39",
    "b52035156d91d440545c6fb339ca31675212ffedd691eb5faa5645b674429ed5380909d9a159bd409d430bdf2d836247",
    "7f7eb3ed90e5f915d2904faf07a21ffd14081d49e9dcac1ebdba35790b5fb87208dbd940e305b277298e77f810f48b61",
    "0f4c4d99bf2686f1efa8cc4432705f76e77cae5d9d6fa8fa2962faf96acdcb27e5221f9785b8c305439e7aa09257191d",
    "d72447344cd04457461164db9bd572ac9df56c0cb8552e1b897fc33c016934192eb4264b1b8ee1fc18aca6770fd9f784",
    "1ed7f51c84cb412314d79d5f799cf6ff5cfd2d3dc311205e20eef967b9c38179813917662d65684e9ebae011df7cd0dd",
    "29620dd1c3a44ca89ddaf13cb7b86a45671ee16d74676344c1339aa002d0bdf0b7eca29528f73508d9555f3f113ae0f2",
    "0fc91571526d1718f02e9498d6bd6422200a8467f1d964002e2d46b29201ffaa79f56f144b0ab178a798040b2e59767d",
    "e26dd856618bc20c11b5abb21b95ff3fc96612cb443ce7ee7ba8c81983a1c1e24a1b40b0c2c7400704ac05b5af48e95b",
    "3c95ad871e9c16b896c0772507a264f753b6d7cf1fb870d27fe314b84b926c03463651fb1e55f67b5902e2e77ee2450c",
    "e34c95bb53dd1f16dd85e7df711083bed43995517e1305535f9efb91d93b5a9f4c6ac28f739dc00b88f0ff11d08e0b48",
    "f9edb9f1d16e8891ce19a79ff01d0edecc9f24d8dd32339dbcb1d6379c8170f07b3dfb4888cc1e162e724cdd161ffe43",
    "8a62c48c2ca339952b7fafdb2a271050758bd592c712a88a9fd9ce7c72ed29b89a9cc236cc8ade9cd2a081f4ce21886c",
    "21d3b3e3232e282416682aefe167654bbc117a0556a8a2624019879d3dec414d87788e540f549ff27499ddf38ee3db52",
    "6a44052c4060076e4b6837621ead35ae24fcf19bb147be6f41926d6e449947cbb2fe5b3a76557c1f57f6292f1af6fdb7",
    "f4cf3bab7526cc43d1f1f2b816bf35b2d761666383c81f0cea5c360ed97742775b3d4d52d92e0a90e4c3ed2b65d18b3c",
    "f6f93a871adb762efe228bb2916f0ac765713e09735a302b2dead74bacc7124ef8a40770ac5610eef8bebcd2b0dfd2e1",
    "1a0e1c7cb7d3fdb4c078def6852596e6b749fec6bbab0afa59e5c1f754a14d64d58cddb9d2dbc59e1ee313375f735330",
    "bb9df59790e4afebabc0b1449575259d488b857f191a83d7bf8696ca2c0e8db4171c50dc8c661e85ddc8cc284f727e68",
    "2141fc8c8536dbc1832df27fc18357131433d007b8d0d3a4accc5814a10f32c0e0004168a4b3b3ba5395b80f8d7d9c71",
    "db18c9e8fa3f32297018b76b59f774e2ec359d60f9210d1a900207b51f8f00cab9aef4c4848fccaba06d320cee132f13",
    "a6f7753673ec8150f92c4bc81539554db3f9012648515efe061b8656cd0ac6fc6e4b4a3ba6a7871a6c6c40b00a80fd98",
    "d37a430df0b2d6087775ac3418c3fc87e6f60be550895a0b4b2d17cc084136543438360a9cde52c1a631f2dd29c30cfc",
    "9d1e497cff07b963ec363f2b55935524e4a72a5c71258fba38685d1510e6ace56a74b1d529254961fbcd6d58ef58b3bc",
    "d494d384cfbc7e95866814e25a10cdca77efc793480f50ae808cc2569922a2b7820ab07672ade9b0f2f1881813648fd4",
    "ae577309d21537d001f177e5ffb32eef5c614b02eb6fa259ff8a6eccda631af2d12535abaa838a73df1d62291853fb10",
    "09428097f3963467a860061e5e3dc62534005d4c6c3330b121930eb23d3c1c483cb58f11e5ba81806da8d1729ce310c9",
    "024ff13e25f9b89a0e99a8493f3cfc85c6204c5ccbbeec634edbad594feece69c2b1dceaa585c82fc5b916e0ea311615",
    "1061361faf140c571957537d63eeae6191e920defa77901fbd4f034dd81c92ca8399f339deabc53042d2233fe1e0006b",
    "aeb6781796812b7ed040227a146d96132f776b5837318fe6def51e0ff581b906efd2fcf6f32e833f28c2d0310b855968",
    "b6b83cadfedc5a5338113164b08494b1278fb88f1b881f414b69dd6eaaed980669a8ba3d724f3e547d83ff2fe9989a8d",
    "9cdae2ac4ccc1e9c7f7719a4f1fed7bdb5472b77c0279053b160b6998ee9e8e6e3bbf6616f1131d4b88e2a190a7b1a76",
    "495a9b05bbeee0865db021c0ef3fecd0ef159d996df791f5baae9b0bfb1390216b15d8ad005bae44b637f54dc03be3c8",
    "b061df76a18a0c75b1764b60f072cf5f60743789bee58a36fe619681524fc4a57376cba54b00b63ad62bd36892ed9ec3",
    "6d8d884bd2181d7f68f14b1cfe3a8db1a11e8b16af274968decd4e2c142f72fc43a489509e3ebb7a502beab6c2a98762",
    "89dfe13d59c02ab71904f148706de3c20bb8724c430043ef32097bf604fbb9e0036cb953b937e893b2af564645fb160a",
    "61974e9bab97ade5a06fd12b0c76e1637edff0bb57ef66d112bb9b47f5a8fe4faa1cdca0b543d51524e7fc0f23090c28",
    "22faab453de799f95dd52419b40d5895eff4169406b3605f51cbeea14ddc7b1fa7a4b5ec4f461013954f507cd2540ca5",
    "a28fbfd9b3c0f5bcf79f8d85d9adc5a4816e9cafe530b19df1828a81b7ea6090e64121b5f3fc444c8f98433d70fa9275",
    "5d309b20e65a9a06d7b04592079e4755b80fc95ad8d1eeb7776a9424a0f58b35b5112e1454104347fbb2b86b4450bfb1",
    "3aaa9772e2e8e764488335cb6cdf49cb6f3094e62e6c60b77bef79699e2c00a45060619731066dd1e0b8ca9e90667b8f",
    "0ce70e12df33d2182b821904dbf55ea9524242b52f205a61d1944ac3eccf6e6cfb72d04457eed9362568ea116051fda3",
    "30c3d04fffc097c3fff5947c33a7b852b4170d588119a03d99a87dbf4a171fb041408f89f434730dbfa1de5e904630da",
    "481ee52a92063c4ec89709f11bfaca4349c8de1bd16e8d3038b4f06d8205db7289082364441d045f1aacddb8e3a8dfb9",
    "f50a728c890a66027c59e3209e936eca63bb96e6e63f1a503ae25610df35bb16cbf73f9f4a7097d7acbd3e0b37eeddef",
    "4b2e93155dea51d8ba17e5e0f85040439068d7086252a50fcf66ba038143b9dcf6d2d6358e50cb810ba703ffe529c798",
    "d48193ebc387aa7120efdce88541691cd0a2620055333405bf11b73df7e560ae39a7f816bc27c1154e2c63e7000ad2bb",
    "0b7cc57957584b836ab3b84ebd0a7be7876b343e3f07f163d91cdf966e6cbe0aacb9b2211bb23e724e096b993b616519",
    "775b0ce45375fb61decaddb32123c5a9c39919206974ee9d83328aa48ed10c3a61f50a4269b6dbc4779b5d955034ac52",
    "9e01e37f736737d6834a4c66c53de5e12b57b1ab9f9b25d4dc086e9fbdc302aa41b985ce7c1219d0eacf550d426b6ca8",
    "27e4dd796ee86824e22ebac4b27f5feef1c86bcdbb4e16d4c978e6f975f75eece0736a7d22e0ddf265a5890cd73da83e",
    "d2b39cc302278f23df72626c8c2ba3f1a9483cf5608d9852f4c7fe8f3aa8cdbf2680d7216c55d2f55cd734aeee8a00be",
    "9af803414c8610d148bd3902f79e6315a3d55a70582002007a4398d60d5350a957fa7517f8d04119c3ca6af9c00b4495",
    "c46472dd4bfe9c9f7981399137ca4396f49448d2bc703d04960592910a88ae40458aafb42c4fb3632be9fa2a7dd87ec5",
    "a5888bd76bfbc4f1d5e86756db93c920100c95f05936ad155a4a45c8ebb73464e27caff7460152061874508e1ee19ced",
    "1ff71ff32dcee48f8b222125ea485f9bd61ca73bf931fed2ae9e0e37b9a13ae48793c8ce2dbe7b0fd6a4c677f3bec29a",
    "899acbf8b988f1a54e0b98604867c93ca188c6ab75a2c1df2e66e7edcf51d0565c0f48130f04a1a0aef7a4ed7ca251b2",
    "f87bfd936c1936e567400d1a77bfcf3abfe4638f5673016f22e1169a5c75066b708f4cad512b7e359f5b097b0f03b38f",
    "132b8eab8811ff314bc5a4ed6aa1fb08b9654421b44d6c7b6f8f34c36fec7070a2df572cf0f0600922aae9013fb2ad91",
    "7280f9ba26f6b54ed5a10731bbf39288633b58a6c98d929eb0226cae7b1ed30279a6d565b98bc80d8a46f51044a4ea28",
    "c19a39ef45cc4ddc66d02a864cc5172fc73550e55a04028c580e968a9c36c5e50c12b15428ac9ef3bea2028830b728f2",
    "3694528867851971ddc69eb9e674654fa8ea34405793fff442b6c7562f56128b685f7a40cb5eb50eab31d3a6e94b97db",
    "5d81a48a06f5cca5cba8ef86b840109fa2cd84f7610f61b13209409423eb993d57307dd76819656ea9b9875bbc4192d2",
    "6ee6689d64eecdc4d9d0d05efc1e95e7ef3d78e7fa64e03b4cf22ed38c40352eff2ffee87a64135441a312eccd942caf",
    "2a34a4d408dd8117473e2d42d57087e9953bfb8e10d17fd6b349409bb0e4c8d77db33794548ddc6a9959a339758b1826",
    "5c086bd58cfdf24cf761446b79ce9af8bb5abd2dd1e4e1289f3fcfbe96e705c7e25b98606d5e1364e2eb01a2ea035bb9",
    "f38602d875dbd211070443262af82613fd96e0487ed9fc1a43257669bc535396d77d26eb3adabbf4507467a03c13d1dc",
    "4e7501a4cd5a91a7ab86454d0ed3a1a906061fdedd1f6531856e57b1d6c054231757aa59006920bb6caa12f5c8247ddf",
    "ed6047fda5fafeb7296bb671c979a62d8918c55cf4ce1524c2ca61210e931a5a607e4c26cf5baf7e340fc7153fbb1803",
    "6ea08b03c98965523cb037157f6ff01fc3cdea3870f2445d73298608a12e2fb14cd45ddc604aa189505a23bf103c4f3a",
    "ba841ffa0cd7b7edd2baff7f4597747ed61b8d80a50e7728b9e0cd850549527171b963940f96722fb5ffef0284f5db3f",
    "41f99709bb9002fe0e1b5d98a3e7551bdbfc45d2f796aa0c59388f2f97bb4583bcb2412226ec270eca2a191927173b5d",
    "c31a36cf5e66e8063d6a9f7f3c958a02be721f3e67eb4e0f64d699e9f6f81bd155ab074b92d6ee2afdf95939cbba7065",
    "e236bb3d699630992c3f31e6e40fbcc95d6f93d759e9d778f51753bf1a6a4356306dc53e50916e8fe9b96bb74df04bdc",
    "dab7be8fc5b4c7740fab1ad66e0ed883a934d0e3ca58f7ef8e180a9d95e8c94fa5757bb329a7167c65451f9185982c96",
    "2b6b1c9bf63ac1c106d935e976650baf",
);

#[test]
fn stream_format_matches_libsodium() {
    for kat in KATS {
        let data = make_data(kat.n);
        let e = encrypt(&SEED, &data, kat.domain, None).unwrap();
        assert_eq!(hex::encode(*e.key), kat.key, "key, n = {}", kat.n);
        assert_eq!(e.data.len(), kat.len, "length, n = {}", kat.n);
        assert_eq!(
            hex::encode(Sha256::digest(&e.data)),
            kat.sha256,
            "bytes, n = {}",
            kat.n
        );
        assert_eq!(decrypt(&e.key, &e.data).unwrap(), data);
    }
    let e = encrypt(&SEED, &make_data(1), Domain::Attachment, None).unwrap();
    assert_eq!(hex::encode(&e.data), CT_1);
}

#[test]
fn determinism_and_its_inputs() {
    let data = make_data(5000);
    let a = encrypt(&SEED, &data, Domain::Attachment, None).unwrap();
    let b = encrypt(&SEED, &data, Domain::Attachment, None).unwrap();
    assert_eq!((a.data.clone(), *a.key), (b.data.clone(), *b.key));
    let mut seed2 = SEED;
    seed2[31] ^= 1;
    let mut data2 = data.clone();
    data2[4999] ^= 1;
    for other in [
        encrypt(&seed2, &data, Domain::Attachment, None).unwrap(),
        encrypt(&SEED, &data, Domain::ProfilePicture, None).unwrap(),
        encrypt(&SEED, &data2, Domain::Attachment, None).unwrap(),
    ] {
        assert_ne!(*other.key, *a.key);
        assert_ne!(other.data[1..25], a.data[1..25]);
        assert_ne!(other.data[25..], a.data[25..]);
    }
    let mut wrong = *a.key;
    wrong[0] ^= 1;
    let err = decrypt(&wrong, &a.data).unwrap_err();
    assert_eq!(err, AttachmentError::DecryptFailed);
    assert_eq!(
        err.to_string(),
        "attachment decryption failed: invalid key or corrupted data"
    );
}

const LEGACY_KEY64: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

/// (blob, digest, claimed size, plaintext)
const LEGACY: &[(&str, &str, u64, &str)] = &[
    (
        concat!(
            "6465666768696a6b6c6d6e6f7071727339c6cadce50e036612224f681bbbe3f31acc5779dfe5367b",
            "18c6272231f4eb139a9b56725e81236c469883304bc53999311ae9c035bf6ed5d2fbd6fb24777de2",
            "d1368b650f24d5c454208af7610238a9ff4892a7b4b5e54a9b99e78d73d65f335fc5c5559dd3d4c8",
            "94401d0c7f7ce95b",
        ),
        "68af9ac56f2c7d90a984f9edccdd538765b0e3ba2c1958ce7c0071212c0beccb",
        70,
        "the quick brown fox jumps over the lazy dog, repeatedly and at length.",
    ),
    (
        concat!(
            "6465666768696a6b6c6d6e6f70717273e85b4762c96dc9f8ec01d8cce057ce81f52ba3a6d5b7b612",
            "14a1000d827532b1c36cc1beb5454eb154e159508cd627f5349d55e9a583df1ad46401d07805608c",
            "89ba1ca437e93067b91a18efc3af88e78247d47fb3562ee73b5e9de5c538caebeeb6e36787f98745",
            "414735371311d90a6a169349eb0ecc93b5b45076f95daef493d7663ef1e538e7b28c60aff8e5528c",
            "c221d7c1e1ce092184b140a68a9adfe1738ae283e50701d83e370d75f57e6f3f7fcb2a0f410ac341",
            "87e414c3bb6d5cf38399b89cafa402e061c675ab409b9eb0849ead65dbccc86863b3b1817d37cd6e",
            "b8b50dc259e90fbb4971620dd09eabb9",
        ),
        "da2680f942213633344c39c0690c652beed7e1c50f6ceef45e113dc0f007fd33",
        20,
        "twenty bytes exactly",
    ),
];

const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const GCM_BLOB: &str = "000102030405060708090a0b2622b272b695ae7af461e7e2d29d0d1fe6faa7559c173a1b5d0389fc903a65df450ae8c0b3070d5d413b790c";
const GCM_PLAIN: &str = "a display picture, allegedly";
fn key64() -> [u8; 64] {
    hex::decode(LEGACY_KEY64).unwrap().try_into().unwrap()
}

#[test]
fn legacy_cbc_known_answers() {
    for &(blob, digest, claimed, plain) in LEGACY {
        let blob = hex::decode(blob).unwrap();
        assert!(legacy_digest_matches(&blob, &hex::decode(digest).unwrap()));
        assert_eq!(
            decrypt_legacy_cbc(&key64(), &blob, claimed).unwrap(),
            plain.as_bytes()
        );
    }
    // Claimed size 0 keeps everything: the second case is 20 bytes then 180 zero bytes.
    let blob = hex::decode(LEGACY[1].0).unwrap();
    let all = decrypt_legacy_cbc(&key64(), &blob, 0).unwrap();
    assert_eq!(all.len(), 200);
    assert_eq!(&all[..20], b"twenty bytes exactly");
    assert!(all[20..].iter().all(|&b| b == 0));
    // A smaller claim truncates.
    let blob = hex::decode(LEGACY[0].0).unwrap();
    assert_eq!(decrypt_legacy_cbc(&key64(), &blob, 69).unwrap().len(), 69);
}

#[test]
fn legacy_cbc_rejects_bad_input() {
    let blob = hex::decode(LEGACY[0].0).unwrap();
    for offset in [0, 20, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[offset] ^= 1;
        assert_eq!(
            decrypt_legacy_cbc(&key64(), &bad, 70),
            Err(AttachmentError::BadMac)
        );
    }
    for claimed in [71, u64::MAX] {
        assert!(matches!(
            decrypt_legacy_cbc(&key64(), &blob, claimed),
            Err(AttachmentError::ClaimedSizeTooLarge { .. })
        ));
    }
    assert!(decrypt_legacy_cbc(&key64(), &blob[..40], 0).is_err());
    assert!(decrypt_legacy_cbc(&key64(), &blob[..blob.len() - 1], 0).is_err());
    // The digest is a separate check (the reference's newest version no longer makes it).
    assert!(!legacy_digest_matches(&blob, &[0u8; 32]));
}

#[test]
fn legacy_display_picture() {
    let key: [u8; 32] = hex::decode(GCM_KEY).unwrap().try_into().unwrap();
    let blob = hex::decode(GCM_BLOB).unwrap();
    assert_eq!(
        decrypt_legacy_display_picture(&key, &blob).unwrap(),
        GCM_PLAIN.as_bytes()
    );
    let mut bad = blob.clone();
    bad[20] ^= 1;
    assert!(decrypt_legacy_display_picture(&key, &bad).is_err());
    let other: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    assert!(decrypt_legacy_display_picture(&other, &blob).is_err());
    assert!(decrypt_legacy_display_picture(&key, &blob[..27]).is_err());
}
