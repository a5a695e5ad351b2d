//! `session-node`: the service node daemon (see [`session_node::daemon`]).

fn main() -> std::process::ExitCode {
    session_node::daemon::main_from(std::env::args_os())
}
