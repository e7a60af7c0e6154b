//! `hark-desktop`: Hark's desktop app, a thin Tauri 2 shell over the
//! `hark-node` library. The window itself is the web front end in `ui/`.
//!
//! - [`args`] reads `--data-dir` / `HARK_DATA_DIR`, `--peer` and `--no-mdns`.
//! - [`shell`] builds the Tauri app: plugins, setup (node, state, window),
//!   tray and hotkey, and the exit path that stops the node.
//! - [`bindings`] registers every command and event once, for the invoke
//!   handler and for the generated `ui/src/bindings.ts`.
//! - [`commands`] are what the window calls; [`types`] what crosses into
//!   it (mirrors of `hark_node::api` with `specta::Type`).
//! - [`node`] holds the running node as managed state and forwards its
//!   events to the window.
//! - [`audio`] plays messages (through [`stretch`] for 1.5x/2x at the same
//!   pitch) and records new ones; [`sound`] opens the devices.
//! - [`ptt`] is push-to-talk, shared by the record button and [`hotkey`].
//! - [`tray`] is the tray icon; [`desktop`] the app's state, notifications,
//!   cue sounds and single instance; [`settings`] the settings file;
//!   [`logging`] the rotating log file.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(missing_docs)]

mod args;
mod audio;
mod bindings;
mod channels;
mod commands;
mod desktop;
mod hotkey;
mod live;
mod logging;
mod node;
mod portal;

// The portal stand-in the WebDriver test runs as a program, for
// portal.rs's unit tests.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../examples/fake_portal.rs"]
mod fake_portal;
mod ptt;
mod settings;
mod shell;
mod sound;
mod stretch;
mod tray;
mod types;

use std::process::ExitCode;

use args::Request;

fn main() -> ExitCode {
    let request = args::parse(
        std::env::args_os().skip(1),
        std::env::var_os("HARK_DATA_DIR"),
        hark_node::Config::default_data_dir(),
    );
    match request {
        Ok(Request::Run { data_dir, network }) => start(data_dir, network),
        Ok(Request::Help) => {
            println!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Request::Version) => {
            println!("hark-desktop {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Request::Bindings) => match bindings::typescript() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => shell::fail(&format!("cannot generate the bindings: {e}")),
        },
        Err(e) => shell::fail(&e.to_string()),
    }
}

fn start(data_dir: std::path::PathBuf, network: args::Network) -> ExitCode {
    // Without a display GTK would abort deep inside Tauri; say what to do
    // instead.
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return shell::fail(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             for a headless node run `hark node`",
        );
    }
    // The data dir must exist before the log file can go in it; the node
    // would create it a moment later anyway.
    if let Err(e) = std::fs::create_dir_all(&data_dir) {
        return shell::fail(&format!("cannot create {}: {e}", data_dir.display()));
    }
    shell::run(data_dir, network)
}
