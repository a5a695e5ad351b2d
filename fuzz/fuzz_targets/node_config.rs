//! A node's TOML configuration: any text gives a config or a clear error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = session_node::NodeConfig::parse(text) {
            let _ = config.validate();
        }
    }
});
