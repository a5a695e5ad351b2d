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
    config: RateLimitConfig,
    buckets: Mutex<HashMap<K, Bucket>>,
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
            config,
            buckets: Mutex::new(HashMap::new()),
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
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a bug elsewhere; serving beats refusing everyone.
            return true;
        };
        if buckets.len() >= MAX_TRACKED {
            let (rate, burst) = (self.config.requests_per_second, self.config.burst);
            buckets.retain(|_, b| b.refilled(now, rate, burst) < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.config.burst,
            updated: now,
        });
        bucket.tokens = bucket.refilled(now, self.config.requests_per_second, self.config.burst);
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
}
