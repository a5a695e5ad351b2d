//! The `[waits]` section of the node configuration: the example's values load, and a bad value
//! is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_node::waits::WaitLimits;
use session_node::NodeConfig;

fn example() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node.example.toml");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_example_sets_the_default_wait_caps() {
    let config = NodeConfig::parse(&example()).unwrap();
    assert_eq!(config.waits, WaitLimits::default());
    let without = example().replace("[waits]", "[unused_waits]");
    let error = NodeConfig::parse(&without).unwrap_err().to_string();
    assert!(error.contains("unused_waits"), "{error}");
}

#[test]
fn a_hold_longer_than_relays_wait_or_more_waits_than_node_slots_is_refused() {
    let text = example();
    let bad = text.replace("max_wait_ms = 25000", "max_wait_ms = 60000");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(error.contains("waits.max_wait_ms"), "{error}");
    let bad = text.replace("max_total = 512", "max_total = 5000");
    let error = NodeConfig::parse(&bad).unwrap_err().to_string();
    assert!(error.contains("waits.max_total"), "{error}");
    let bad = text.replace("max_per_source = 64", "max_per_source = \"many\"");
    assert!(NodeConfig::parse(&bad).is_err());
}
