//! `session devices`, `export` and `import`, run as a user would, on a local network of real
//! nodes: a new device linked with the SAS flow (no phrase typed), its device list, the
//! history it gets, an export merged without duplicates, and a removal it is told of.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::time::Duration;

use session_testnet::{Testnet, TestnetConfig};

mod common;

use common::cli::{command, fails, ok, run as session};

/// The SAS line of a command's output: emoji, then their names in brackets.
fn sas_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.ends_with(')') && l.contains("  (") && !l.is_ascii())
        .unwrap_or_else(|| panic!("no SAS in {text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_linked_without_the_phrase_syncs_exports_and_is_removed() {
    let net = Testnet::start(TestnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = dir.path().join("network.json");
    std::fs::write(&network, net.network_file().to_json()).unwrap();
    let network = network.to_str().unwrap();
    let (alice, bob, tablet) = (
        dir.path().join("alice"),
        dir.path().join("bob"),
        dir.path().join("tablet"),
    );
    let id_of = |text: &str| {
        text.split_whitespace()
            .find(|w| w.len() == 66 && w.starts_with("05"))
            .unwrap()
            .to_string()
    };
    let init = ok(session(
        &alice,
        &["--network", network, "init", "--name", "Alice"],
        "",
        &[],
    ));
    let alice_id = id_of(&init);
    let phrase = init
        .lines()
        .map(str::trim)
        .find(|l| l.split_whitespace().count() == 25)
        .unwrap()
        .to_string();
    let bob_id = id_of(&ok(session(
        &bob,
        &["--network", network, "init", "--name", "Bob"],
        "",
        &[],
    )));
    ok(session(
        &alice,
        &["contacts", "add", &bob_id, "bob"],
        "",
        &[],
    ));
    ok(session(
        &alice,
        &["send", "bob", "before the tablet"],
        "",
        &[],
    ));

    // The new device shows a link request and waits; the old one approves it after the
    // user compares the emoji.
    let mut link = command(
        &tablet,
        &["--network", network, "devices", "link", "--name", "tablet"],
        &[],
    )
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(link.stdout.take().unwrap()).lines();
    let mut shown = String::new();
    let request = loop {
        let line = lines.next().unwrap().unwrap();
        shown.push_str(&line);
        shown.push('\n');
        if let Some(at) = line.find("session-link:") {
            break line[at..].trim().to_string();
        }
    };
    while !shown.contains("Waiting for approval") {
        shown.push_str(&lines.next().unwrap().unwrap());
        shown.push('\n');
    }
    let refused = session(&alice, &["devices", "approve", &request], "n\n", &[]);
    assert!(!refused.status.success());
    let refused = String::from_utf8_lossy(&refused.stdout);
    assert!(refused.contains("Not approved"), "{refused}");
    let approved = ok(session(
        &alice,
        &["devices", "approve", &request],
        "y\n",
        &[],
    ));
    assert_eq!(
        sas_in(&approved),
        sas_in(&shown),
        "both devices show the same SAS"
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(link.wait().unwrap().success(), "{rest:?}");
    let rest = rest.join("\n");
    assert!(
        rest.contains(&format!("Linked to account {alice_id}")),
        "{rest}"
    );
    assert!(rest.contains("1 contact(s)"), "{rest}");

    // The linked device has the contact, the sent message (as sent) and the list.
    let history = ok(session(&tablet, &["history", "bob"], "", &[]));
    assert!(
        history.contains("you -> bob") && history.contains("before the tablet"),
        "{history}"
    );
    ok(session(
        &tablet,
        &["send", "bob", "from the tablet"],
        "",
        &[],
    ));
    let got = ok(session(&bob, &["sync"], "", &[]));
    assert!(
        got.contains("before the tablet") && got.contains("from the tablet"),
        "{got}"
    );
    ok(session(&alice, &["sync"], "", &[]));
    let list = ok(session(&tablet, &["devices", "list"], "", &[]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.lines()
            .next()
            .unwrap()
            .contains("tablet [cli] (this device)"),
        "{list}"
    );

    // Export on one device, import on the other: nothing twice; errors said plainly.
    let file = dir.path().join("alice.export");
    let file = file.to_str().unwrap();
    let pass = [("SESSION_EXPORT_PASSPHRASE", "a long export passphrase")];
    let exported = ok(session(&alice, &["export", file], "", &pass));
    assert!(
        exported.contains("Exported 2 message(s) and 1 contact(s)"),
        "{exported}"
    );
    let imported = ok(session(&tablet, &["import", file], "", &pass));
    assert!(imported.contains("Imported 0 message(s)"), "{imported}");
    assert!(imported.contains("2 already here"), "{imported}");
    let wrong = [("SESSION_EXPORT_PASSPHRASE", "not the passphrase")];
    let err = fails(session(&tablet, &["import", file], "", &wrong));
    assert!(err.contains("wrong passphrase"), "{err}");
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(file, &bytes).unwrap();
    let err = fails(session(&tablet, &["import", file], "", &pass));
    assert!(err.contains("damaged"), "{err}");

    // A fresh restore from the phrase brings back the contact, the name and both messages.
    let restored = dir.path().join("restored");
    let out = ok(session(
        &restored,
        &["--network", network, "restore"],
        &phrase,
        &[],
    ));
    assert!(
        out.contains("From the account's swarm: 1 contact(s), 2 message(s)"),
        "{out}"
    );
    assert_eq!(ok(session(&restored, &["name"], "", &[])).trim(), "Alice");
    let history = ok(session(&restored, &["history", "bob"], "", &[]));
    assert!(
        history.contains("before the tablet") && history.contains("from the tablet"),
        "{history}"
    );

    // Alice removes the tablet; the tablet is told and stops syncing.
    let tablet_id = list.split_whitespace().next().unwrap();
    let removed = ok(session(
        &alice,
        &["devices", "remove", &tablet_id[..8]],
        "",
        &[],
    ));
    assert!(removed.contains("Removed"), "{removed}");
    let err = fails(session(&tablet, &["sync"], "", &[]));
    assert!(err.contains("removed from the account"), "{err}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    net.shutdown().await;
}
