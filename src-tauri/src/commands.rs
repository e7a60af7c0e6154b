//! The Tauri commands the window calls, each typed for the generated
//! bindings. Failures reach the window as [`ApiError`] `{kind, message}`.
//! Streams (playback position, recording level) go over channels the
//! window passes in.

use std::path::PathBuf;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_dialog::DialogExt;

use crate::audio::{Audio, PlaybackUpdate, RecorderUpdate};
use crate::desktop::Desktop;
use crate::hotkey::{self, Hotkey, HotkeyStatus};
use crate::node::Running;
use crate::settings::{ReadMarks, Settings};
use crate::sound::{self, Devices};
use crate::types::{ApiError, ErrorKind, Me, Message, Peer};

/// Result of every command.
type Reply<T> = Result<T, ApiError>;

/// Who this node is: name, peer id, safety number, addresses.
#[tauri::command]
#[specta::specta]
pub async fn whoami(node: State<'_, Running>) -> Reply<Me> {
    Ok(node.handle()?.whoami().await?.into())
}

/// Every peer this node knows of, online or not.
#[tauri::command]
#[specta::specta]
pub async fn peers(node: State<'_, Running>) -> Reply<Vec<Peer>> {
    let peers = node.handle()?.peers().await?;
    Ok(peers.into_iter().map(Peer::from).collect())
}

/// Every message sent or received.
#[tauri::command]
#[specta::specta]
pub async fn inbox(node: State<'_, Running>) -> Reply<Vec<Message>> {
    let messages = node.handle()?.inbox().await?;
    Ok(messages.into_iter().map(Message::from).collect())
}

/// The loudness outline of a message: `buckets` peaks in 0..=1.
#[tauri::command]
#[specta::specta]
pub async fn waveform(node: State<'_, Running>, id: String, buckets: u32) -> Reply<Waveform> {
    let peaks = node.handle()?.waveform(id, buckets as usize).await?;
    Ok(Waveform { peaks })
}

/// A message's loudness outline.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct Waveform {
    /// Peaks in 0..=1, one per bucket (never NaN: see `types`).
    #[specta(type = Vec<i32>)]
    pub peaks: Vec<f32>,
}

/// Plays message `id` from `start_ms` at `speed` (1, 1.5 or 2; the pitch
/// stays), reporting the position on `updates`. Stops any other playback.
#[tauri::command]
#[specta::specta]
pub async fn play(
    node: State<'_, Running>,
    audio: State<'_, Audio>,
    desktop: State<'_, Desktop>,
    id: String,
    start_ms: f64,
    speed: f64,
    updates: Channel<PlaybackUpdate>,
) -> Reply<()> {
    if !(0.5..=3.0).contains(&speed) {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            format!("speed {speed}"),
        ));
    }
    let ticket = audio.ticket();
    let handle = node.handle()?;
    let pcm = handle.message_pcm(id.clone()).await?;
    let output = desktop.settings().output_device;
    audio.play(ticket, pcm, start_ms, speed, output, updates)?;

    // Playing a received message is hearing it: its sender gets a "heard"
    // receipt. Our own messages are not received ones (not_found).
    if let Err(e) = handle.mark_heard(id).await {
        if e.kind != hark_node::api::ErrorKind::NotFound {
            tracing::debug!(error = %e, "cannot mark a message heard");
        }
    }
    Ok(())
}

/// Pauses (stops) playback; the player reports where.
#[tauri::command]
#[specta::specta]
pub fn stop_playback(audio: State<'_, Audio>) {
    audio.stop_playback();
}

/// Sends recorder updates (started, level, ended, failed) to `updates`,
/// whether the recording was started by the window or the hotkey.
#[tauri::command]
#[specta::specta]
pub fn watch_recorder(audio: State<'_, Audio>, updates: Channel<RecorderUpdate>) {
    audio.watch_recorder(updates);
}

/// Starts a live message to `to` (peer ids, or one channel as #name),
/// recorded from the input chosen in settings: recipients online hear it
/// as it is spoken.
#[tauri::command]
#[specta::specta]
pub async fn start_recording<R: Runtime>(app: AppHandle<R>, to: Vec<String>) -> Reply<()> {
    crate::ptt::start(&app, to).await
}

/// Ends the recording: with `send`, finishes the message and returns its
/// id; without (Esc, dragging away), cancels it everywhere it went.
#[tauri::command]
#[specta::specta]
pub async fn finish_recording<R: Runtime>(app: AppHandle<R>, send: bool) -> Reply<Option<String>> {
    crate::ptt::finish(&app, send).await
}

/// Asks for an audio file with the system dialog and sends it to `to`.
/// `null` when the user closed the dialog.
#[tauri::command]
#[specta::specta]
pub async fn send_file<R: Runtime>(
    app: AppHandle<R>,
    node: State<'_, Running>,
    to: Vec<String>,
) -> Reply<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Send an audio file")
        .add_filter("Audio (WAV, Ogg Opus)", &["wav", "opus", "ogg"])
        .pick_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    Ok(Some(node.handle()?.send_file(to, path).await?))
}

/// Asks where to save message `id` with the system dialog and writes it
/// there (Ogg Opus, or WAV for a `.wav` name). Returns the path, or `null`
/// when the user closed the dialog.
#[tauri::command]
#[specta::specta]
pub async fn export_message<R: Runtime>(
    app: AppHandle<R>,
    node: State<'_, Running>,
    id: String,
) -> Reply<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let short: String = id.chars().take(8).collect();
    app.dialog()
        .file()
        .set_title("Export voice message")
        .set_file_name(format!("hark-{short}.opus"))
        .add_filter("Ogg Opus", &["opus", "ogg"])
        .add_filter("WAV", &["wav"])
        .save_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    let Some(path): Option<PathBuf> = rx.await.ok().flatten() else {
        return Ok(None);
    };
    node.handle()?.export(id, path.clone()).await?;
    Ok(Some(path.display().to_string()))
}

/// The settings in force.
#[tauri::command]
#[specta::specta]
pub fn get_settings(desktop: State<'_, Desktop>) -> Settings {
    desktop.settings()
}

/// Checks, saves and applies new settings; returns them as stored. A new
/// display name reaches the peers online at once; a new bitrate applies to
/// the next message.
#[tauri::command]
#[specta::specta]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    node: State<'_, Running>,
    desktop: State<'_, Desktop>,
    settings: Settings,
) -> Reply<Settings> {
    let new = settings.validated()?;
    let old = desktop.settings();
    desktop.set_settings(new.clone())?;

    if new.hotkey != old.hotkey {
        hotkey::register(&app, &new.hotkey);
    }
    if new.start_with_system != old.start_with_system {
        set_autostart(&app, new.start_with_system)?;
    }
    let handle = node.handle()?;
    if new.bitrate != old.bitrate {
        handle.set_bitrate(new.bitrate)?;
    }
    if let (Some(name), true) = (&new.display_name, new.display_name != old.display_name) {
        handle.set_display_name(name).await?;
    }
    Ok(new)
}

fn set_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) -> Reply<()> {
    let autostart = app.autolaunch();
    let done = if on {
        autostart.enable()
    } else {
        autostart.disable()
    };
    done.map_err(|e| ApiError::new(ErrorKind::Internal, format!("start with the system: {e}")))
}

/// The sound devices there are now.
#[tauri::command]
#[specta::specta]
pub fn devices() -> Devices {
    sound::devices()
}

/// Whether the hotkey works, and why not.
#[tauri::command]
#[specta::specta]
pub fn hotkey_status(hotkey: State<'_, Hotkey>) -> Option<HotkeyStatus> {
    hotkey.status()
}

/// Tells the shell which conversation is open: push-to-talk sends there.
#[tauri::command]
#[specta::specta]
pub fn set_active_conversation(desktop: State<'_, Desktop>, peers: Vec<String>) {
    desktop.set_active(peers);
}

/// For each conversation, the newest message time the user has seen.
#[tauri::command]
#[specta::specta]
pub fn read_marks(desktop: State<'_, Desktop>) -> ReadMarks {
    desktop.marks()
}

/// Marks the conversation with `peer_id` read up to `up_to_ms`.
#[tauri::command]
#[specta::specta]
pub fn mark_read(desktop: State<'_, Desktop>, peer_id: String, up_to_ms: f64) -> Reply<ReadMarks> {
    desktop.mark_read(&peer_id, up_to_ms)
}

/// Where the log files are.
#[tauri::command]
#[specta::specta]
pub fn log_dir(desktop: State<'_, Desktop>) -> String {
    desktop.log_dir().display().to_string()
}
