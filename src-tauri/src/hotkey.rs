//! The global push-to-talk hotkey: pressing starts a recording, releasing
//! sends it to the conversation open in the window after a short tail, so
//! the last word is not cut.
//!
//! Under X11 the key is grabbed (tauri-plugin-global-shortcut). Under
//! Wayland a grab only sees keys typed into X11 windows, so the app also
//! asks the desktop portal's GlobalShortcuts ([`crate::portal`]); once the
//! portal has bound it, the grab is dropped and the portal's presses and
//! releases drive the same code. Without such a portal, settings says the
//! hotkey works only while a Hark window has focus.
//!
//! Key repeat: X11 repeats a held key either as extra presses or as
//! release/press pairs. Every press cancels a pending stop, and a press
//! while recording does nothing, so neither kind ends or restarts the
//! recording. A real release is one not followed by a press within the
//! tail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ashpd::zbus;
use serde::Serialize;
use specta::Type;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutEvent, ShortcutState};

use crate::audio::Audio;
use crate::node::emit;
use crate::types::{Notice, SettingsChanged};

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
    /// Bound through the desktop portal's GlobalShortcuts (Wayland).
    pub portal: bool,
}

/// The hotkey's state, managed by the app.
#[derive(Default)]
pub struct Hotkey {
    /// Bumped by every press: a stop scheduled before it is stale.
    presses: AtomicU64,
    status: Mutex<Option<HotkeyStatus>>,
    /// The task holding the portal session (Wayland); replaced, and so
    /// closed, by the next registration.
    portal: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl Hotkey {
    /// The last registration's outcome.
    pub fn status(&self) -> Option<HotkeyStatus> {
        lock(&self.status).clone()
    }
}

/// (Re)registers `shortcut` as the push-to-talk key, replacing any
/// earlier one, and records the outcome.
pub fn register<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> HotkeyStatus {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some();
    let problem = grab(app, shortcut);
    let status = HotkeyStatus {
        shortcut: shortcut.to_string(),
        registered: problem.is_none(),
        problem,
        wayland,
        portal: false,
    };
    if let Some(problem) = &status.problem {
        tracing::warn!(problem, "push-to-talk hotkey not registered");
    }
    if let Some(hotkey) = app.try_state::<Hotkey>() {
        set_status(&hotkey, status.clone());
        let task = wayland.then(|| {
            tauri::async_runtime::spawn(through_portal(app.clone(), shortcut.to_string()))
        });
        let old = std::mem::replace(&mut *lock(&hotkey.portal), task);
        if let Some(old) = old {
            old.abort();
        }
    }
    status
}

/// Grabs `shortcut` through X11, replacing any earlier grab; says why not
/// if it cannot.
fn grab<R: Runtime>(app: &AppHandle<R>, shortcut: &str) -> Option<String> {
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::debug!(error = %e, "cannot unregister the old hotkey");
    }
    match shortcut.parse::<Shortcut>() {
        Err(e) => Some(format!("\"{shortcut}\" is not a shortcut: {e}")),
        Ok(parsed) => shortcuts
            .on_shortcut(parsed, on_event)
            .err()
            .map(|e| e.to_string()),
    }
}

fn set_status(hotkey: &Hotkey, status: HotkeyStatus) {
    *lock(&hotkey.status) = Some(status);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds the hotkey through the desktop portal and feeds its presses and
/// releases to push-to-talk for as long as the session lasts. On failure
/// the X11 grab stays, and the status says why the portal did not work.
async fn through_portal<R: Runtime>(app: AppHandle<R>, shortcut: String) {
    let bound = match zbus::Connection::session().await {
        Ok(bus) => crate::portal::bind(bus, &shortcut)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("no session bus: {e}")),
    };
    let Some(hotkey) = app.try_state::<Hotkey>() else {
        return;
    };
    let mut status = hotkey.status().unwrap_or_else(|| HotkeyStatus {
        shortcut: shortcut.clone(),
        registered: false,
        problem: None,
        wayland: true,
        portal: false,
    });
    let bound = match bound {
        Ok(bound) => bound,
        Err(e) => {
            tracing::warn!(error = %e, "no desktop portal for the hotkey");
            status.problem = Some(e);
            set_status(&hotkey, status);
            return emit(&app, SettingsChanged);
        }
    };

    // The portal has it: the grab would only double the presses.
    if let Err(e) = app.global_shortcut().unregister_all() {
        tracing::debug!(error = %e, "cannot drop the X11 grab");
    }
    status.shortcut = bound.trigger.clone().unwrap_or(shortcut.clone());
    (status.registered, status.portal, status.problem) = (true, true, None);
    set_status(&hotkey, status.clone());
    emit(&app, SettingsChanged);
    tracing::info!("push-to-talk bound through the desktop portal");

    // Forwarded in this task, so aborting it (a new registration) also
    // drops the session and its connection.
    let (edges, mut rx) = tokio::sync::mpsc::channel(16);
    let forward = bound.forward(edges);
    tokio::pin!(forward);
    loop {
        tokio::select! {
            ended = &mut forward => {
                // The portal went away (restarted, crashed): back to the
                // X11 grab, and settings says so.
                let why = ended.err().map_or("it closed the session".to_string(), |e| e.to_string());
                tracing::warn!(error = %why, "the desktop portal's shortcut stopped");
                let grabbed = grab(&app, &shortcut);
                status.registered = grabbed.is_none();
                status.portal = false;
                status.problem = Some(format!("the desktop portal stopped ({why})"));
                set_status(&hotkey, status);
                return emit(&app, SettingsChanged);
            }
            Some(edge) = rx.recv() => match edge {
                crate::portal::Edge::Pressed => pressed(&app),
                crate::portal::Edge::Released => released(&app),
            },
        }
    }
}

fn on_event<R: Runtime>(app: &AppHandle<R>, _shortcut: &Shortcut, event: ShortcutEvent) {
    match event.state() {
        ShortcutState::Pressed => pressed(app),
        ShortcutState::Released => released(app),
    }
}

/// The key went down: start talking, unless already (a held key repeats).
fn pressed<R: Runtime>(app: &AppHandle<R>) {
    let Some(hotkey) = app.try_state::<Hotkey>() else {
        return;
    };
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

/// The key went up: stop after the tail, unless pressed again meanwhile.
fn released<R: Runtime>(app: &AppHandle<R>) {
    let Some(hotkey) = app.try_state::<Hotkey>() else {
        return;
    };
    let seen = hotkey.presses.load(Ordering::SeqCst);
    tauri::async_runtime::spawn(stop_after_tail(app.clone(), seen));
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
