//! `hark-desktop`: Hark's desktop window, a thin Tauri 2 shell over the
//! `hark-node` library. The window itself is the web front end in `ui/`.
//!
//! - [`args`] reads `--data-dir` / `HARK_DATA_DIR`.
//! - [`shell`] builds the Tauri app: starts the node in `setup`, opens the
//!   window, stops the node on exit.
//! - [`node`] holds the running node as managed state and forwards its
//!   events to the window as `hark://event`.
//! - [`commands`] are what the window calls: `whoami`, `peers`, `inbox`.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(missing_docs)]

mod args;
mod commands;
mod node;
mod shell;

use std::process::ExitCode;

use args::Request;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    init_logging();

    let request = args::parse(
        std::env::args_os().skip(1),
        std::env::var_os("HARK_DATA_DIR"),
        hark_node::Config::default_data_dir(),
    );
    match request {
        Ok(Request::Run { data_dir }) => start(data_dir),
        Ok(Request::Help) => {
            println!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Request::Version) => {
            println!("hark-desktop {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Err(e) => shell::fail(&e.to_string()),
    }
}

fn start(data_dir: std::path::PathBuf) -> ExitCode {
    // Without a display GTK would abort deep inside Tauri; say what to do
    // instead.
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return shell::fail(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             for a headless node run `hark node`",
        );
    }
    shell::run(data_dir)
}

fn init_logging() {
    // RUST_LOG overrides; by default only warnings, which never carry keys,
    // plaintext or audio.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
