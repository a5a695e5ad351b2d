//! Applying a changed configuration to a running node (what SIGHUP does): the rate limits and
//! the seed nodes change at once; the log filter is the caller's (it owns the subscriber);
//! every other field needs a restart and is named as such.

use serde_json::Value;

use crate::{list_source, NodeConfig, NodeError, RunningNode};

/// Fields a reload applies without a restart.
pub const RELOADABLE: [&str; 5] = [
    "rate_limit",
    "relay_rate_limit",
    "sync_rate_limit",
    "seed_nodes",
    "log",
];

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Fields that changed and are now in force (for `log`: for the caller to apply).
    pub applied: Vec<String>,
    /// Fields that changed but keep their old value until a restart.
    pub needs_restart: Vec<String>,
}

/// The top-level fields whose values differ between `old` and `new`, in file order.
pub fn changed_fields(old: &NodeConfig, new: &NodeConfig) -> Vec<String> {
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    new.iter()
        .filter(|(key, value)| old.get(*key) != Some(value))
        .map(|(key, _)| key.clone())
        .collect()
}

impl RunningNode {
    /// Validates `new` and applies what can change without a restart; the rest is reported.
    pub fn reload(&self, new: NodeConfig) -> Result<Reloaded, NodeError> {
        new.validate()?;
        let mut current = self
            .config
            .lock()
            .map_err(|_| NodeError::Config("configuration lock poisoned".into()))?;
        let mut reloaded = Reloaded::default();
        for field in changed_fields(&current, &new) {
            // The seeds' keys are checked against the registry fixed at start.
            let reloadable = RELOADABLE.contains(&field.as_str())
                && !(field == "seed_nodes" && new.registry_key != current.registry_key);
            if reloadable {
                reloaded.applied.push(field);
            } else {
                reloaded.needs_restart.push(field);
            }
        }
        let applied = |field: &str| reloaded.applied.iter().any(|f| f == field);
        if applied("rate_limit") {
            self.service.limiter.set_config(new.rate_limit);
            current.rate_limit = new.rate_limit;
        }
        if applied("relay_rate_limit") {
            self.service.relay_limiter.set_config(new.relay_rate_limit);
            current.relay_rate_limit = new.relay_rate_limit;
        }
        if applied("sync_rate_limit") {
            self.service.sync_limiter.set_config(new.sync_rate_limit);
            current.sync_rate_limit = new.sync_rate_limit;
        }
        if applied("seed_nodes") {
            let sources = list_source::seed_sources(&new.seed_nodes, self.public_key, &self.peers);
            if let Ok(mut seeds) = self.seeds.write() {
                *seeds = sources;
            }
            current.seed_nodes = new.seed_nodes.clone();
        }
        if applied("log") {
            current.log = new.log;
        }
        Ok(reloaded)
    }

    /// The configuration in force.
    pub fn config(&self) -> NodeConfig {
        self.config
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |c| c.clone())
    }
}
