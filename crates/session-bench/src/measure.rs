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

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| "bad stat".to_string())
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks_per_second())
}

/// Kernel clock ticks per second (USER_HZ), 100 on Linux unless `getconf` says otherwise.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process in bytes (VmRSS), and its peak (VmHWM).
pub fn resident_bytes(pid: u32) -> Result<(u64, u64), String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
