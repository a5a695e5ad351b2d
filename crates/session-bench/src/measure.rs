//! Samples, rows and the table; reading a process's CPU time and memory from /proc.

use std::time::Duration;

use serde::Serialize;

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Its median.
    pub median: f64,
    /// Its 99th percentile, where it applies.
    pub p99: Option<f64>,
    /// The unit of `median` and `p99`.
    pub unit: String,
    /// What it is compared with.
    pub reference_name: String,
    /// The reference's value, measured in the same run (same unit as `reference_unit`).
    pub reference: f64,
    /// The unit of the reference.
    pub reference_unit: String,
    /// Measured against the reference, oriented so that 1.0 is the limit and higher is better.
    pub ratio: f64,
    /// The goal, in words.
    pub target: String,
    /// Whether the goal is met.
    pub meets_target: bool,
}

/// The report as a markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measurement | median | p99 | reference (same run) | ratio | target |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let p99 = r
            .p99
            .map_or_else(|| "-".to_string(), |p| format!("{} {}", fmt(p), r.unit));
        out.push_str(&format!(
            "| {} | {} {} | {} | {}: {} {} | {:.3} | {} {} |\n",
            r.name,
            fmt(r.median),
            r.unit,
            p99,
            r.reference_name,
            fmt(r.reference),
            r.reference_unit,
            r.ratio,
            r.target,
            if r.meets_target { "(met)" } else { "(NOT met)" }
        ));
    }
    out
}

fn fmt(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The `q` quantile (0..=1) of `values`, which it sorts.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    let index = ((values.len() as f64) * q).floor() as usize;
    values[index.min(values.len() - 1)]
}

/// Median and p99 of durations, in milliseconds.
pub fn millis(samples: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    (quantile(&mut ms, 0.5), quantile(&mut ms, 0.99))
}
