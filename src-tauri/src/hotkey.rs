//! The global push-to-talk hotkey: pressing starts a recording, releasing
//! sends it to the conversation open in the window after a short tail, so
//! the last word is not cut.
//!
//! Key repeat: X11 repeats a held key either as extra presses or as
//! release/press pairs. Every press cancels a pending stop, and a press
//! while recording does nothing, so neither kind ends or restarts the
//! recording. A real release is one not followed by a press within the
//! tail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use specta::Type;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutEvent, ShortcutState};

use crate::audio::Audio;
use crate::node::emit;
use crate::types::Notice;

/// Recording goes on this long after the key is released.
pub const TAIL: Duration = Duration::from_millis(300);

/// Whether the hotkey works, for the settings screen.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
pub struct HotkeyStatus {
    /// The shortcut as set, e.g. "Ctrl+Shift+Space".
    pub shortcut: String,
    /// Whether it is registered with the system now.
    pub registered: bool,
    /// Why not, in one line.
    pub problem: Option<String>,
    /// The session is Wayland, where X11 key grabs only see keys typed
    /// into X11 windows.
    pub wayland: bool,
}

/// The hotkey's state, managed by the app.
#[derive(Default)]
pub struct Hotkey {
    /// Bumped by every press: a stop scheduled before it is stale.
    presses: AtomicU64,
    status: Mutex<Option<HotkeyStatus>>,
}

impl Hotkey {
    /// The last registration's outcome.
    pub fn status(&self) -> Option<HotkeyStatus> {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// (Re)registers `shortcut` as the push-to-talk key, replacing any
/// earlier one, and records the outcome.
pub fn register<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> HotkeyStatus {
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::debug!(error = %e, "cannot unregister the old hotkey");
    }
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some();
    let problem = match shortcut.parse::<Shortcut>() {
        Err(e) => Some(format!("\"{shortcut}\" is not a shortcut: {e}")),
        Ok(parsed) => shortcuts
            .on_shortcut(parsed, on_event)
            .err()
            .map(|e| e.to_string()),
    };
    let status = HotkeyStatus {
        shortcut: shortcut.to_string(),
        registered: problem.is_none(),
        problem,
        wayland,
    };
    if let Some(problem) = &status.problem {
        tracing::warn!(problem, "push-to-talk hotkey not registered");
    }
    if let Some(hotkey) = app.try_state::<Hotkey>() {
        *hotkey.status.lock().unwrap_or_else(PoisonError::into_inner) = Some(status.clone());
    }
    status
}

fn on_event<R: Runtime>(app: &AppHandle<R>, _shortcut: &Shortcut, event: ShortcutEvent) {
    let Some(hotkey) = app.try_state::<Hotkey>() else {
        return;
    };
    match event.state() {
        ShortcutState::Pressed => {
            hotkey.presses.fetch_add(1, Ordering::SeqCst);
            if !app.state::<Audio>().is_recording() {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let to = app.state::<crate::desktop::Desktop>().active();
                    if let Err(e) = crate::ptt::start(&app, to).await {
                        notice(&app, true, e.message);
                    }
                });
            }
        }
        ShortcutState::Released => {
            let seen = hotkey.presses.load(Ordering::SeqCst);
            tauri::async_runtime::spawn(stop_after_tail(app.clone(), seen));
        }
    }
}

async fn stop_after_tail<R: Runtime>(app: AppHandle<R>, seen: u64) {
    tokio::time::sleep(TAIL).await;
    let stale = app
        .try_state::<Hotkey>()
        .is_none_or(|h| h.presses.load(Ordering::SeqCst) != seen);
    if stale {
        return;
    }
    match crate::ptt::finish(&app, true).await {
        Ok(Some(_)) => notice(&app, false, "Voice message sent".into()),
        Ok(None) => {}
        Err(e) => notice(&app, true, e.message),
    }
}

fn notice<R: Runtime>(app: &AppHandle<R>, error: bool, text: String) {
    emit(app, Notice { error, text });
}
