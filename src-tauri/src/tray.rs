//! The tray icon: a menu (show/hide, mute incoming, quit) and an icon for
//! each state (idle, recording, receiving). Closing the window only hides
//! it; "Quit Hark" here is how the app ends.
//!
//! Without a tray host (a bare X server, some Wayland desktops) the icon
//! is created without error and simply not seen; the window then stays
//! reachable by launching Hark again (see `desktop::show_running`).

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

use crate::audio::Audio;
use crate::desktop::Desktop;

const TRAY_ID: &str = "hark";
const TOGGLE: &str = "toggle";
const MUTE: &str = "mute";
const QUIT: &str = "quit";

const IDLE: &[u8] = include_bytes!("../../icons/tray-idle.png");
const RECORDING: &[u8] = include_bytes!("../../icons/tray-recording.png");
const RECEIVING: &[u8] = include_bytes!("../../icons/tray-receiving.png");

/// What the tray icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// Nothing going on.
    Idle,
    /// A recording is under way.
    Recording,
    /// A message is arriving.
    Receiving,
}

/// Creates the tray icon and its menu.
pub fn create<R: Runtime>(app: &AppHandle<R>, muted: bool) -> tauri::Result<()> {
    let toggle = MenuItem::with_id(app, TOGGLE, "Show or hide Hark", true, None::<&str>)?;
    let mute = CheckMenuItem::with_id(app, MUTE, "Mute incoming", true, muted, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit Hark", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&toggle, &mute, &quit])?;

    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(IDLE)?)
        .tooltip("Hark")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu)
        .on_tray_icon_event(on_click)
        .build(app)?;
    Ok(())
}

/// Shows `state` in the tray; recording wins over receiving.
pub fn show_state<R: Runtime>(app: &AppHandle<R>, state: TrayState) {
    let recording = app.try_state::<Audio>().is_some_and(|a| a.is_recording());
    let state = if recording {
        TrayState::Recording
    } else {
        state
    };
    let bytes = match state {
        TrayState::Idle => IDLE,
        TrayState::Recording => RECORDING,
        TrayState::Receiving => RECEIVING,
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let set = Image::from_bytes(bytes).and_then(|icon| tray.set_icon(Some(icon)));
    if let Err(e) = set {
        tracing::debug!(error = %e, "cannot change the tray icon");
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id.as_ref() {
        TOGGLE => toggle_window(app),
        MUTE => toggle_mute(app),
        QUIT => app.exit(0),
        _ => {}
    }
}

fn on_click<R: Runtime>(tray: &TrayIcon<R>, event: TrayIconEvent) {
    // A left click toggles the window, as most tray apps do; the right
    // click opens the menu.
    if let TrayIconEvent::Click {
        button: MouseButton::Left,
        button_state: MouseButtonState::Up,
        ..
    } = event
    {
        toggle_window(tray.app_handle());
    }
}

fn toggle_window<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    if window.is_visible().unwrap_or(false) {
        let _ = window.hide();
    } else {
        crate::shell::show_window(app);
    }
}

fn toggle_mute<R: Runtime>(app: &AppHandle<R>) {
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    let mut settings = desktop.settings();
    settings.mute_incoming = !settings.mute_incoming;
    if let Err(e) = desktop.set_settings(settings) {
        tracing::warn!(error = %e, "cannot save the mute setting");
    }
    crate::node::emit(app, crate::types::SettingsChanged);
}
