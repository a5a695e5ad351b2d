//! Prometheus metrics: requests by method and status, latency histograms, storage gauges.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::storage::Storage;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    rate_limited: u64,
    connections_refused: BTreeMap<&'static str, u64>,
}

/// The node's counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, method: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        *inner.requests.entry((method, status)).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let histogram = inner.latency.entry(method).or_default();
        histogram.count += 1;
        histogram.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    /// Counts a request refused by the rate limiter.
    pub fn record_rate_limited(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.rate_limited += 1;
        }
    }

    /// Counts a connection refused at accept (`reason`: `per_ip` or `full`).
    pub fn record_connection_refused(&self, reason: &'static str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.connections_refused.entry(reason).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, storage: &Storage) -> String {
        let mut out = String::new();
        write_gauge(
            &mut out,
            "session_node_stored_messages",
            "Messages in the database.",
            "",
            storage.message_count(),
        );
        write_gauge(
            &mut out,
            "session_node_stored_bytes",
            "Bytes of message data in the database.",
            "",
            storage.message_bytes(),
        );
        let Ok(inner) = self.inner.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP session_node_rate_limited_total Requests refused by a rate limit (per client IP, per previous hop or per node)."
        );
        let _ = writeln!(out, "# TYPE session_node_rate_limited_total counter");
        let _ = writeln!(
            out,
            "session_node_rate_limited_total {}",
            inner.rate_limited
        );
        let _ = writeln!(
            out,
            "# HELP session_node_connections_refused_total Connections closed at accept, by reason."
        );
        let _ = writeln!(out, "# TYPE session_node_connections_refused_total counter");
        for (reason, count) in &inner.connections_refused {
            let _ = writeln!(
                out,
                "session_node_connections_refused_total{{reason=\"{reason}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP session_node_requests_total Requests by RPC method and HTTP status."
        );
        let _ = writeln!(out, "# TYPE session_node_requests_total counter");
        for ((method, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "session_node_requests_total{{method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP session_node_request_duration_seconds Request latency by RPC method."
        );
        let _ = writeln!(
            out,
            "# TYPE session_node_request_duration_seconds histogram"
        );
        for (method, h) in &inner.latency {
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "session_node_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "session_node_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "session_node_request_duration_seconds_sum{{method=\"{method}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "session_node_request_duration_seconds_count{{method=\"{method}\"}} {}",
                h.count
            );
        }
        out
    }
}

/// Writes one gauge in the text exposition: its help, its type and one sample (`labels` is
/// empty or `{name="value",...}`).
pub fn write_gauge(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name}{labels} {value}");
}
