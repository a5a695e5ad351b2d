//! Token buckets per client IP, per previous hop and per node.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitConfig;

/// Buckets kept before full (idle) ones are dropped.
const MAX_TRACKED: usize = 100_000;

/// A token bucket per key (a client IP by default, or a node key): `requests_per_second`
/// sustained, `burst` at once.
pub struct RateLimiter<K = IpAddr> {
    state: Mutex<State<K>>,
}

/// The rate (changed by a reload) and the buckets, under one lock.
struct State<K> {
    config: RateLimitConfig,
    buckets: HashMap<K, Bucket>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter with the given rate.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            state: Mutex::new(State {
                config,
                buckets: HashMap::new(),
            }),
        }
    }

    /// The rate in force.
    pub fn config(&self) -> RateLimitConfig {
        self.state.lock().map_or_else(
            |poisoned| poisoned.into_inner().config,
            |state| state.config,
        )
    }

    /// Changes the rate (a reload): buckets keep their tokens, cut to the new burst.
    pub fn set_config(&self, config: RateLimitConfig) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.config = config;
        for bucket in state.buckets.values_mut() {
            bucket.tokens = bucket.tokens.min(config.burst);
        }
    }

    /// Takes one token for `key` at time `now`; false when the bucket is empty.
    pub fn allow(&self, key: K, now: Instant) -> bool {
        self.allow_n(key, 1, now)
    }

    /// Takes `count` tokens for `key` at time `now` (a batch of `count` sub-requests); false,
    /// taking none, when the bucket holds fewer.
    pub fn allow_n(&self, key: K, count: usize, now: Instant) -> bool {
        let count = count as f64;
        let Ok(mut state) = self.state.lock() else {
            // A poisoned lock means a bug elsewhere; serving beats refusing everyone.
            return true;
        };
        let State { config, buckets } = &mut *state;
        let (rate, burst) = (config.requests_per_second, config.burst);
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.refilled(now, rate, burst) < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.tokens = bucket.refilled(now, rate, burst);
        bucket.updated = now;
        if bucket.tokens >= count {
            bucket.tokens -= count;
            true
        } else {
            false
        }
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, rate: f64, burst: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        (self.tokens + elapsed * rate).min(burst)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_empties_and_refills() {
        let limiter = RateLimiter::new(RateLimitConfig {
            requests_per_second: 10.0,
            burst: 5.0,
        });
        let ip: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        let start = Instant::now();
        assert!((0..5).all(|_| limiter.allow(ip, start)));
        assert!(!limiter.allow(ip, start));
        assert!(limiter.allow(other, start));
        assert!(limiter.allow(ip, start + Duration::from_millis(100)));
        assert!(!limiter.allow(ip, start + Duration::from_millis(100)));
    }

    #[test]
    fn a_batch_costs_one_token_per_sub_request() {
        let limiter: RateLimiter<u8> = RateLimiter::new(RateLimitConfig {
            requests_per_second: 1.0,
            burst: 20.0,
        });
        let start = Instant::now();
        assert!(limiter.allow_n(1, 15, start));
        assert!(!limiter.allow_n(1, 6, start), "only 5 tokens are left");
        assert!(
            limiter.allow_n(1, 5, start),
            "a refused batch takes nothing"
        );
        assert!(!limiter.allow(1, start));
        assert!(
            limiter.allow_n(2, 20, start),
            "another key has its own bucket"
        );
    }

    #[test]
    fn a_new_rate_applies_to_held_buckets() {
        let limiter: RateLimiter<u8> = RateLimiter::new(RateLimitConfig {
            requests_per_second: 1.0,
            burst: 100.0,
        });
        let start = Instant::now();
        assert!(limiter.allow_n(1, 10, start));
        let lower = RateLimitConfig {
            requests_per_second: 1.0,
            burst: 3.0,
        };
        limiter.set_config(lower);
        assert_eq!(limiter.config(), lower);
        assert!(
            limiter.allow_n(1, 3, start),
            "the held bucket is cut to the new burst"
        );
        assert!(!limiter.allow(1, start));
        assert!(limiter.allow_n(2, 3, start) && !limiter.allow(2, start));
    }
}
