//! The Tauri application: starts the node in `setup`, then opens the
//! window (so the window never calls a command before the node exists),
//! and stops the node when the event loop exits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hark_node::Config;
use tauri::{App, AppHandle, Manager, RunEvent, WebviewWindowBuilder};
use tokio::signal::unix::{signal, SignalKind};

use crate::commands;
use crate::node::Running;

/// Runs the app until its window closes. Start-up failures are printed as
/// one line on stderr and give a non-zero exit code.
pub fn run(data_dir: PathBuf) -> ExitCode {
    let built = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::whoami,
            commands::peers,
            commands::inbox
        ])
        .setup(move |app| {
            setup(app, &data_dir);
            Ok(())
        })
        .build(tauri::generate_context!());

    let app = match built {
        Ok(app) => app,
        Err(e) => return fail(&format!("cannot create the app: {e}")),
    };
    let code = app.run_return(on_run_event);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Prints a start-up failure the way every one of them is printed.
pub fn fail(message: &str) -> ExitCode {
    // Only stderr: someone who started Hark from a desktop menu sees nothing
    // and the app just does not appear. A native message box is missing
    // (Tauri's core has none; the dialog plugin would bring one).
    eprintln!("hark-desktop: {message}");
    ExitCode::FAILURE
}

fn setup(app: &mut App, data_dir: &Path) {
    // A failed setup hook makes Tauri panic, so failures here ask the event
    // loop to exit with code 1 instead of returning an error.
    let running = match Running::start(Config::new(data_dir.to_path_buf())) {
        Ok(running) => running,
        Err(e) => return exit_failed(app.handle(), &format!("cannot start the Hark node: {e}")),
    };
    running.forward_events(app.handle().clone());
    app.manage(running);
    exit_on_signals(app.handle().clone());

    if let Err(e) = open_window(app) {
        exit_failed(app.handle(), &format!("cannot open the window: {e}"));
    }
}

fn open_window(app: &App) -> tauri::Result<()> {
    // tauri.conf.json describes the window with `create: false`; it is made
    // here, after the node's state exists.
    let config = app
        .config()
        .app
        .windows
        .first()
        .cloned()
        .unwrap_or_default();
    WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
    Ok(())
}

fn exit_on_signals(app: AppHandle) {
    // Ctrl-C in a terminal or a service manager's SIGTERM would otherwise
    // kill the process with the node still running; exiting through the
    // event loop stops the node first (see `on_run_event`).
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot watch SIGTERM/SIGINT; they will kill the node unclean");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::debug!("signal received; exiting");
        app.exit(0);
    });
}

fn exit_failed(app: &AppHandle, message: &str) {
    // The ExitCode is discarded: run_return reports the code given to exit.
    let _ = fail(message);
    app.exit(1);
}

fn on_run_event(app: &AppHandle, event: RunEvent) {
    if let RunEvent::Exit = event {
        if let Some(running) = app.try_state::<Running>() {
            running.stop();
        }
    }
}
