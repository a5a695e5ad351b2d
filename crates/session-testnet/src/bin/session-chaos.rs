//! `session-chaos`: the long fault and hostile-input runs, by hand. Nodes are child processes
//! (this same program, started as `session-chaos node --config ...`), so they can be crashed
//! (SIGKILL) and paused (SIGSTOP), and their memory read.
//!
//! - `cargo run --release -p session-testnet --bin session-chaos -- soak --minutes 30`
//! - `cargo run --release -p session-testnet --bin session-chaos -- hostile --minutes 5`
//!
//! Exits 0 only if nothing acknowledged was lost or duplicated (soak), or if the node stayed up
//! and answered the well-behaved client correctly throughout (hostile).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use session_testnet::soak::{self, SoakConfig};
use session_testnet::{hostile, program, Testnet, TestnetConfig};

/// Fault and hostile-input runs against a local network of node processes.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    run: Run,
}

/// Which run.
#[derive(Subcommand, Debug)]
enum Run {
    /// Clients message each other while nodes crash, restart and pause and a clock jumps.
    Soak {
        /// Minutes of sending under faults.
        #[arg(long, default_value_t = 2.0)]
        minutes: f64,
        /// Clients sending to each other.
        #[arg(long, default_value_t = 6)]
        clients: usize,
    },
    /// Random and mutated requests, bad bodies and slow connections against one node.
    Hostile {
        /// Minutes of attack.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// Concurrent hostile clients.
        #[arg(long, default_value_t = 8)]
        attackers: usize,
    },
}

fn main() -> ExitCode {
    if let Some(code) = program::run_as_node_if_asked() {
        return code;
    }
    let args = Args::parse();
    let runtime = match program::logging_and_runtime("warn") {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-chaos: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args.run)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("session-chaos: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(run: Run) -> Result<bool, Box<dyn std::error::Error>> {
    let runner = program::self_runner()?;
    match run {
        Run::Soak { minutes, clients } => {
            let mut config = SoakConfig::new(minutes_of(minutes), runner);
            config.clients = clients.max(2);
            let report = soak::run(config).await?;
            println!("{report}");
            Ok(report.lost == 0
                && report.duplicates == 0
                && report.acknowledged > 0
                && report.forge.applied_changes == 0)
        }
        Run::Hostile { minutes, attackers } => {
            let net = Testnet::start(TestnetConfig {
                nodes: 4,
                runner,
                account_quota: session_node::storage::AccountQuota::default(),
                ..TestnetConfig::default()
            })
            .await?;
            let report = hostile::run(&net, 0, minutes_of(minutes), attackers.max(1)).await?;
            net.shutdown().await;
            println!("{report}");
            Ok(report.node_alive
                && report.good_failed == 0
                && report.good_ok > 0
                && report.forge.applied_changes == 0)
        }
    }
}

fn minutes_of(minutes: f64) -> Duration {
    Duration::from_secs_f64(minutes.clamp(0.05, 24.0 * 60.0) * 60.0)
}
