#![doc = include_str!("../README.md")]

mod attachments;
mod groups;
mod live;
mod measure;
mod suite;
mod v2;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Benchmarks session-rs against the limits of this machine.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The short suite (under a minute): fewer samples, 100,000 stored messages.
    #[arg(long)]
    quick: bool,
    /// Only the groups figures (a 12-node network, a 100-member group, 1,000-member costs).
    #[arg(long)]
    groups: bool,
    /// Only the attachment rows (a 12-node network, a 20 MB file through the swarms).
    #[arg(long)]
    attachments: bool,
    /// Also write the table as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    // The suite runs its nodes as child processes of this same program.
    if let Some(code) = session_testnet::program::run_as_node_if_asked() {
        return code;
    }
    let args = Args::parse();
    let runtime = match session_testnet::program::logging_and_runtime("error") {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let suite = async {
        if args.groups {
            groups::run(args.quick).await
        } else if args.attachments {
            attachments::run_alone().await
        } else {
            suite::run(args.quick).await
        }
    };
    let rows = match runtime.block_on(suite) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("session-bench: a benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", measure::markdown(&rows));
    if let Some(path) = args.json {
        let written = serde_json::to_vec_pretty(&rows)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&path, bytes));
        if let Err(e) = written {
            eprintln!("session-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let broken: Vec<&str> = rows
        .iter()
        .filter(|r| !(r.median > 0.0 && r.reference > 0.0 && r.ratio.is_finite()))
        .map(|r| r.name.as_str())
        .collect();
    if broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("session-bench: broken measurements (zero or missing): {broken:?}");
        ExitCode::FAILURE
    }
}
