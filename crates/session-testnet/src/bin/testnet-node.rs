//! `testnet-node`: the service-node daemon, built with this crate so that its tests can run
//! nodes as child processes (`NodeRunner::Process`). Same code as `session-node`.

fn main() -> std::process::ExitCode {
    session_node::daemon::main_from(std::env::args_os())
}
