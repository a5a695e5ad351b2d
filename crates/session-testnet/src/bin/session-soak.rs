//! `session-soak`: the soak test, run by hand for as long as wanted. Nodes are child processes
//! (this same program, started as `session-soak node --config ...`), so they can be crashed
//! (SIGKILL) and paused (SIGSTOP). Exits 0 only with nothing lost and nothing duplicated.
//!
//! Run: `cargo run --release -p session-testnet --bin session-soak -- --minutes 30`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use session_testnet::soak::{self, SoakConfig};
use session_testnet::NodeRunner;

/// Soaks a 12-node local network under faults and reports what was lost.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Minutes of sending under faults.
    #[arg(long, default_value_t = 2.0)]
    minutes: f64,
    /// Clients sending to each other.
    #[arg(long, default_value_t = 6)]
    clients: usize,
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("node") {
        return session_node::daemon::main_from(std::env::args_os().skip(1));
    }
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => {
            eprintln!("session-soak: cannot find my own program: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = SoakConfig::new(
        Duration::from_secs_f64(args.minutes.max(0.1) * 60.0),
        NodeRunner::Process {
            program,
            args: vec!["node".into()],
        },
    );
    config.clients = args.clients.max(2);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(soak::run(config)) {
        Ok(report) => {
            println!("{report}");
            if report.lost == 0 && report.duplicates == 0 && report.acknowledged > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("session-soak: {e}");
            ExitCode::FAILURE
        }
    }
}
