//! Per-client-IP token buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitConfig;

/// Buckets kept before full (idle) ones are dropped.
const MAX_TRACKED: usize = 100_000;

/// A token bucket per client IP: `requests_per_second` sustained, `burst` at once.
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter with the given rate.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip` at time `now`; false when the bucket is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a bug elsewhere; serving beats refusing everyone.
            return true;
        };
        if buckets.len() >= MAX_TRACKED {
            let (rate, burst) = (self.config.requests_per_second, self.config.burst);
            buckets.retain(|_, b| b.refilled(now, rate, burst) < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.config.burst,
            updated: now,
        });
        bucket.tokens = bucket.refilled(now, self.config.requests_per_second, self.config.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
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
}
