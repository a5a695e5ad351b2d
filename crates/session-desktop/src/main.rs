//! `session-desktop`: the window.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use iced::{Subscription, Task, Theme};
use session_desktop::app::{App, Job, Message, NetworkChoice, Options};
use session_desktop::{live, notify, view};
use session_testnet::Testnet;
use tokio::sync::Mutex;

/// Session: a private messenger, in a window.
#[derive(Parser, Debug)]
#[command(name = "session-desktop", version, about)]
struct Args {
    /// The profile directory (one per user; the same as the `session` command's)
    /// [default: ~/.session-rs].
    #[arg(long, env = "SESSION_PROFILE")]
    profile: Option<PathBuf>,
    /// The network file to join (written by `session devnet`); remembered in the profile.
    #[arg(long, env = "SESSION_NETWORK", conflicts_with = "devnet")]
    network: Option<PathBuf>,
    /// Join the local test network running in DIR, or start it there.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "devnet")]
    devnet: Option<PathBuf>,
    /// Log more (repeat for more); logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    if let Some(code) = session_testnet::program::run_as_node_if_asked() {
        return code;
    }
    let args = Args::parse();
    let default_level = match args.verbose {
        0 => "warn",
        1 => "info,session_desktop=debug",
        _ => "debug,rustls=info,hyper=info,hyper_util=info,wgpu=warn,cosmic_text=info",
    };
    // Logs to stderr; the runtime runs the local network's nodes (`--devnet`) beside the window.
    let runtime = match session_testnet::program::logging_and_runtime(default_level) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("session-desktop: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(args, &runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session-desktop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    let profile = match args.profile {
        Some(dir) => dir,
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("no profile directory: pass --profile DIR or set SESSION_PROFILE")?
            .join(".session-rs"),
    };
    let (network, devnet) = match args.devnet {
        Some(dir) => {
            let (file, net) = runtime.block_on(session_desktop::devnet::start_or_join(&dir))?;
            (NetworkChoice::Devnet(file), net)
        }
        None => (NetworkChoice::File(args.network), None),
    };
    // Stopped with the window, or at Ctrl-C or SIGTERM, so that no node outlives it.
    let devnet = Arc::new(Mutex::new(devnet));
    let on_signal = Arc::clone(&devnet);
    runtime.spawn(async move {
        stop_signal().await;
        if let Some(net) = on_signal.lock().await.take() {
            net.shutdown().await;
        }
        std::process::exit(1);
    });
    let options = Options {
        profile,
        network,
        tune: |_| {},
    };
    let result = iced::application(
        move || {
            let (app, jobs) = App::new(options.clone());
            (app, tasks(jobs))
        },
        |app: &mut App, message| tasks(app.update(message)),
        view::view,
    )
    .title(App::title)
    .subscription(subscription)
    .theme(|app: &App| if app.dark { Theme::Dark } else { Theme::Light })
    .window_size((1000.0, 700.0))
    .run();
    stop_devnet(runtime, &devnet);

    result.map_err(|e| format!("the window failed: {e}"))
}

/// Stops the nodes this window runs, if any.
fn stop_devnet(runtime: &tokio::runtime::Runtime, devnet: &Mutex<Option<Testnet>>) {
    runtime.block_on(async {
        if let Some(net) = devnet.lock().await.take() {
            net.shutdown().await;
        }
    });
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (forever if they cannot be caught: closing the window
/// still stops the nodes).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = interrupt.recv() => {}
    }
}

/// The jobs of an update as iced tasks.
fn tasks(jobs: Vec<Job>) -> Task<Message> {
    Task::batch(jobs.into_iter().map(|job| {
        match job {
            Job::Run(future) => Task::future(future),
            Job::Copy(text) => iced::clipboard::write(text),
            Job::Notify(title, body) => Task::future(async move {
                notify::show(&title, &body).await;
                Message::Dismiss
            })
            .discard(),
        }
    }))
}

/// Network events while online, and the window's focus.
fn subscription(app: &App) -> Subscription<Message> {
    let focus = iced::event::listen_with(|event, _, _| match event {
        iced::Event::Window(iced::window::Event::Focused) => Some(Message::Focus(true)),
        iced::Event::Window(iced::window::Event::Unfocused) => Some(Message::Focus(false)),
        _ => None,
    });
    match app.messenger() {
        Some(messenger) => {
            Subscription::batch([focus, live::subscription(messenger).map(Message::Live)])
        }
        None => focus,
    }
}
