//! The Tauri application: plugins, the typed invoke handler, the setup
//! path (node, state, window), the tray and hotkey, and the exit path that
//! stops the node.
//!
//! [`setup`] is generic over Tauri's runtime so a unit test runs it under
//! the mock runtime; the parts that need a real desktop (tray, global
//! shortcut, autostart) are added by [`run`] only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use tauri::{App, AppHandle, Manager, RunEvent, Runtime, WebviewWindowBuilder, WindowEvent, Wry};
use tauri_specta::Builder;
use tokio::signal::unix::{signal, SignalKind};

use crate::args::Network;
use crate::audio::Audio;
use crate::desktop::{self, Desktop};
use crate::hotkey::{self, Hotkey};
use crate::logging::{self, LogControl};
use crate::node::Running;
use crate::settings::Settings;
use crate::{bindings, tray};

/// Runs the app until it is quit. Start-up failures are printed as one
/// line on stderr and give a non-zero exit code.
pub fn run(data_dir: PathBuf, network: Network) -> ExitCode {
    let settings = Settings::load(&data_dir);
    let log = logging::init(&data_dir, settings.log_level);
    if desktop::show_running(&data_dir) {
        println!(
            "Hark is already running on {}; its window is shown",
            data_dir.display()
        );
        return ExitCode::SUCCESS;
    }

    let bindings = bindings::builder();
    let autostart_args = vec!["--data-dir".to_string(), data_dir.display().to_string()];
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .args(autostart_args)
                .build(),
        )
        .invoke_handler(bindings.invoke_handler())
        .setup(move |app| {
            if setup(app, &bindings, &data_dir, &network, settings, log) {
                add_desktop_parts(app.handle());
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Hark running in the tray, as chat
            // apps do; "Quit Hark" in the tray or the window ends it.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
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
    // and the app just does not appear. A native message box is missing:
    // the dialog plugin needs a running event loop, which a failed start
    // does not have.
    eprintln!("hark-desktop: {message}");
    ExitCode::FAILURE
}

/// Starts the node, puts the app's state in place and opens the window.
/// False (and the app asked to exit with code 1) when something failed.
pub fn setup<R: Runtime>(
    app: &mut App<R>,
    bindings: &Builder<R>,
    data_dir: &Path,
    network: &Network,
    settings: Settings,
    log: LogControl,
) -> bool {
    // A failed setup hook makes Tauri panic, so failures here ask the event
    // loop to exit with code 1 instead of returning an error.
    bindings.mount_events(app);
    // Without a speaker live messages are still kept, only not heard.
    let speaker = crate::live::LiveSpeaker::start(app.handle().clone())
        .map(|s| Arc::new(s) as Arc<dyn hark_node::playout::Speaker>)
        .map_err(|e| tracing::warn!(error = %e, "no live playback thread"))
        .ok();
    let running = match Running::start(data_dir, network, &settings, speaker) {
        Ok(running) => running,
        Err(e) => {
            exit_failed(app.handle(), &format!("cannot start the Hark node: {e}"));
            return false;
        }
    };
    running.forward_events(app.handle().clone());
    app.manage(running);
    app.manage(Audio::default());
    app.manage(crate::ptt::Talk::default());
    app.manage(Hotkey::default());
    app.manage(Desktop::new(data_dir, settings, log));
    desktop::serve_instance(app.handle().clone(), data_dir);
    exit_on_signals(app.handle().clone());

    if let Err(e) = open_window(app) {
        exit_failed(app.handle(), &format!("cannot open the window: {e}"));
        return false;
    }
    true
}

/// The tray and the hotkey: each only logs when the desktop lacks it.
fn add_desktop_parts(app: &AppHandle<Wry>) {
    let settings = app.state::<Desktop>().settings();
    if let Err(e) = tray::create(app, settings.mute_incoming) {
        tracing::warn!(error = %e, "no tray icon");
    }
    hotkey::register(app, &settings.hotkey);
}

/// Shows, unminimises and focuses the main window.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

fn open_window<R: Runtime>(app: &App<R>) -> tauri::Result<()> {
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

fn exit_on_signals<R: Runtime>(app: AppHandle<R>) {
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

fn exit_failed<R: Runtime>(app: &AppHandle<R>, message: &str) {
    // The ExitCode is discarded: run_return reports the code given to exit.
    let _ = fail(message);
    app.exit(1);
}

/// How long quitting waits for a recording under way to be cancelled.
const EXIT_CANCEL: std::time::Duration = std::time::Duration::from_secs(3);

fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::Exit = event {
        if let Some(audio) = app.try_state::<Audio>() {
            audio.stop_playback();
        }
        // Quitting while talking is not a release: the message is
        // cancelled, not sent half-said.
        if app.try_state::<crate::ptt::Talk>().is_some() {
            // Bounded: quitting must not hang on a recording that is stuck.
            // The timer is made inside the block: this callback runs on the
            // event loop's thread, outside the runtime's context.
            let cancel =
                async { tokio::time::timeout(EXIT_CANCEL, crate::ptt::finish(app, false)).await };
            match tauri::async_runtime::block_on(cancel) {
                Ok(Err(e)) => tracing::debug!(error = %e.message, "recording at exit"),
                Err(_) => tracing::warn!("the recording could not be cancelled at exit"),
                Ok(Ok(_)) => {}
            }
        }
        if let Some(running) = app.try_state::<Running>() {
            running.stop();
            let _ = std::fs::remove_file(desktop::instance_socket(running.data_dir()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
    use tauri::webview::InvokeRequest;

    fn request(cmd: &str, body: serde_json::Value) -> InvokeRequest {
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("a constant URL parses"),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        }
    }

    // Under the mock runtime the setup path starts a node, manages the
    // state and opens the window; commands answer through the typed
    // handler, and a bad request comes back as {kind, message}.
    #[test]
    fn setup_runs_under_the_mock_runtime() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().to_path_buf();
        let settings = Settings {
            display_name: Some("Mock".into()),
            ..Settings::default()
        };
        let log = logging::init(&data_dir, settings.log_level);
        let bindings = bindings::mock_builder();
        let handler = bindings.invoke_handler();
        let mut app = mock_builder()
            .invoke_handler(handler)
            .setup(move |app| {
                let network = Network {
                    peers: Vec::new(),
                    no_mdns: true,
                };
                assert!(setup(app, &bindings, &data_dir, &network, settings, log));
                Ok(())
            })
            // The real context, so the real capabilities decide what the
            // window may call.
            .build(tauri::generate_context!())?;
        // Setup runs when the event loop starts: one iteration is enough
        // (the deprecation warns against calling it in a loop).
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});

        let window = app
            .get_webview_window("main")
            .ok_or("setup opened no window")?;
        let me = get_ipc_response(&window, request("whoami", serde_json::json!({})))
            .map_err(|e| format!("whoami failed: {e:?}"))?
            .deserialize::<crate::types::Me>()?;
        assert_eq!(me.display_name, "Mock");
        assert!(dir.path().join("desktop.sock").exists());

        let bad = get_ipc_response(
            &window,
            request("waveform", serde_json::json!({"id": "nope", "buckets": 10})),
        )
        .err()
        .ok_or("a bad id was accepted")?;
        assert_eq!(bad["kind"], "bad_request");

        // Quitting runs on the event loop's thread, outside the async
        // runtime's context (so on a fresh thread here): it stops the node
        // and removes the single-instance socket without panicking.
        let handle = app.handle().clone();
        std::thread::spawn(move || on_run_event(&handle, RunEvent::Exit))
            .join()
            .map_err(|_| "quitting panicked")?;
        assert!(!dir.path().join("desktop.sock").exists());
        Ok(())
    }
}
