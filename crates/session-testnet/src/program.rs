//! For programs that run a network of child processes of themselves (the benchmark suite, the
//! chaos runs): the node entry point, the runner, logging and the runtime.

use std::process::ExitCode;

use crate::NodeRunner;

/// The first argument that makes such a program run as a node.
const NODE_ARGUMENT: &str = "node";

/// If this process was started as `PROGRAM node ...`, runs the node daemon with the rest of the
/// arguments and returns its exit code; otherwise `None`.
pub fn run_as_node_if_asked() -> Option<ExitCode> {
    (std::env::args().nth(1).as_deref() == Some(NODE_ARGUMENT))
        .then(|| session_node::daemon::main_from(std::env::args_os().skip(1)))
}

/// A runner whose nodes are child processes of this program (see [`run_as_node_if_asked`]).
pub fn self_runner() -> std::io::Result<NodeRunner> {
    Ok(NodeRunner::Process {
        program: std::env::current_exe()?,
        args: vec![NODE_ARGUMENT.into()],
    })
}

/// Logs to stderr at `default` level (or as `RUST_LOG` says), and builds a runtime.
pub fn logging_and_runtime(default: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Runtime::new()
}
