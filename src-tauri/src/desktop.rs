//! The desktop around the window: the app's own state (settings, read
//! marks, the conversation push-to-talk sends to), notifications for new
//! messages, start and stop sounds, and a per-data-dir single instance.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use hark_node::api;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::logging::LogControl;
use crate::settings::{ReadMarks, Settings};
use crate::sound;
use crate::tray::{self, TrayState};

/// The request a second launch sends to the first.
const SHOW: &str = "show";

/// Start and stop sounds: short 48 kHz mono 16-bit WAVs made by
/// `scripts/desktop-sounds.sh`.
const START_SOUND: &[u8] = include_bytes!("../../assets/start.wav");
const STOP_SOUND: &[u8] = include_bytes!("../../assets/stop.wav");

/// Which of the two sounds to play.
#[derive(Debug, Clone, Copy)]
pub enum Cue {
    /// Recording started.
    Start,
    /// Recording stopped.
    Stop,
}

/// The desktop app's state beside the node.
pub struct Desktop {
    data_dir: PathBuf,
    settings: Mutex<Settings>,
    marks: Mutex<ReadMarks>,
    /// The peers push-to-talk sends to: the conversation open in the window.
    active: Mutex<Vec<String>>,
    /// Incoming messages still arriving, for the tray's receiving icon.
    receiving: Mutex<HashSet<String>>,
    /// Messages already announced with a notification: a message is
    /// listed as received again when anything about it changes (a receipt
    /// sent, an offer answered), and must not pop up twice.
    ///
    /// Known shortcoming: it keeps one id per message received since the
    /// app started (about 40 bytes each) and is never trimmed.
    notified: Mutex<HashSet<String>>,
    log: LogControl,
}

impl Desktop {
    /// The state for `data_dir`, with settings already loaded.
    pub fn new(data_dir: &Path, settings: Settings, log: LogControl) -> Desktop {
        Desktop {
            data_dir: data_dir.to_path_buf(),
            marks: Mutex::new(ReadMarks::load(data_dir)),
            settings: Mutex::new(settings),
            active: Mutex::new(Vec::new()),
            receiving: Mutex::new(HashSet::new()),
            notified: Mutex::new(HashSet::new()),
            log,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Replaces the settings in force and on disk.
    pub fn set_settings(&self, settings: Settings) -> Result<(), crate::types::ApiError> {
        settings.save(&self.data_dir)?;
        self.log.set_level(settings.log_level);
        *lock(&self.settings) = settings;
        Ok(())
    }

    /// The read marks.
    pub fn marks(&self) -> ReadMarks {
        lock(&self.marks).clone()
    }

    /// Marks the conversation with `peer` read up to `up_to_ms`.
    pub fn mark_read(
        &self,
        peer: &str,
        up_to_ms: f64,
    ) -> Result<ReadMarks, crate::types::ApiError> {
        let mut marks = lock(&self.marks);
        marks.mark(peer, up_to_ms);
        marks.save(&self.data_dir)?;
        Ok(marks.clone())
    }

    /// Sets the peers push-to-talk sends to.
    pub fn set_active(&self, peers: Vec<String>) {
        *lock(&self.active) = peers;
    }

    /// The peers push-to-talk sends to.
    pub fn active(&self) -> Vec<String> {
        lock(&self.active).clone()
    }

    /// The folder with the log files.
    pub fn log_dir(&self) -> &Path {
        self.log.dir()
    }
}

/// Reacts to a node event outside the window: notification, tray icon.
pub fn on_node_event<R: Runtime>(app: &AppHandle<R>, event: &api::Event) {
    if let api::Event::MessageRemoved { id } = event {
        return no_longer_receiving(app, id);
    }
    let api::Event::Message { message } = event else {
        return;
    };
    if message.direction != api::Direction::Incoming {
        return;
    }
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    let settings = desktop.settings();
    let arriving = {
        let mut receiving = lock(&desktop.receiving);
        match message.state {
            api::MessageState::Receiving => receiving.insert(message.id.clone()),
            _ => receiving.remove(&message.id),
        };
        !receiving.is_empty()
    };
    let icon = if arriving && !settings.mute_incoming {
        TrayState::Receiving
    } else {
        TrayState::Idle
    };
    tray::show_state(app, icon);

    if message.state == api::MessageState::Received
        && settings.notifications
        && !settings.mute_incoming
        && lock(&desktop.notified).insert(message.id.clone())
    {
        notify(app, message);
    }
}

/// A message being received was cancelled: the tray stops showing it.
fn no_longer_receiving<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    let idle = {
        let mut receiving = lock(&desktop.receiving);
        receiving.remove(id);
        receiving.is_empty()
    };
    if idle {
        tray::show_state(app, TrayState::Idle);
    }
}

fn notify<R: Runtime>(app: &AppHandle<R>, message: &api::MessageSummary) {
    let seconds = message.duration_ms / 1000;
    let body = format!("Voice message, {}:{:02}", seconds / 60, seconds % 60);
    let shown = app
        .notification()
        .builder()
        .title(format!("{} on Hark", message.from_name))
        .body(body)
        .show();
    // No notification server (no D-Bus session) is common on headless
    // machines; the window and the tray still show the message.
    if let Err(e) = shown {
        tracing::debug!(error = %e, "cannot show a notification");
    }
}

/// Plays a start or stop cue on the chosen output, unless sounds are off.
/// Returns at once; the sound plays on its own thread.
pub fn cue(settings: &Settings, which: Cue) {
    if !settings.sounds {
        return;
    }
    let bytes = match which {
        Cue::Start => START_SOUND,
        Cue::Stop => STOP_SOUND,
    };
    let device = settings.output_device.clone();
    let played = std::thread::Builder::new()
        .name("hark-cue".into())
        .spawn(move || play_cue(bytes, device.as_deref()));
    if let Err(e) = played {
        tracing::debug!(error = %e, "cannot start the cue thread");
    }
}

fn play_cue(bytes: &[u8], device: Option<&str>) {
    let samples = wav_samples(bytes);
    let result = sound::open_output(device).and_then(|mut out| {
        for block in samples.chunks(480) {
            out.write(block)?;
        }
        out.drain();
        Ok(())
    });
    if let Err(e) = result {
        tracing::debug!(error = %e, "cannot play a cue");
    }
}

/// The samples of a 16-bit PCM WAV's `data` chunk, as f32. Anything else
/// (these are our own files) gives silence.
pub fn wav_samples(bytes: &[u8]) -> Vec<f32> {
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body = at + 8;
        let end = body.saturating_add(size as usize).min(bytes.len());
        if id == b"data" {
            return bytes[body..end]
                .chunks_exact(2)
                .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                .collect();
        }
        at = end + (size as usize & 1);
    }
    Vec::new()
}

/// The socket a running app listens on for a second launch.
pub fn instance_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("desktop.sock")
}

/// Asks an app already running on `data_dir` to show its window. True if
/// one answered.
pub fn show_running(data_dir: &Path) -> bool {
    tauri::async_runtime::block_on(async {
        let Ok(mut stream) = UnixStream::connect(instance_socket(data_dir)).await else {
            return false;
        };
        stream
            .write_all(format!("{SHOW}\n").as_bytes())
            .await
            .is_ok()
    })
}

/// Listens for later launches on the same data dir and shows the window
/// when one asks. Call only while holding the node's data-dir lock, which
/// makes any socket file left there stale.
pub fn serve_instance<R: Runtime>(app: AppHandle<R>, data_dir: &Path) {
    let path = instance_socket(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tauri::async_runtime::block_on(async { UnixListener::bind(&path) });
    let listener = match listener {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "no single-instance socket; a second launch will fail");
            return;
        }
    };
    tauri::async_runtime::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut line = String::new();
            // One short line; a longer or missing one is ignored.
            let mut reader = BufReader::new(stream.take(64));
            if reader.read_line(&mut line).await.is_ok() && line.trim() == SHOW {
                crate::shell::show_window(&app);
            }
        }
    });
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shipped cues are real sounds: a few hundred ms, not silent.
    #[test]
    fn cues_are_sounds() {
        for bytes in [START_SOUND, STOP_SOUND] {
            let samples = wav_samples(bytes);
            let ms = samples.len() * 1000 / 48_000;
            assert!((50..=500).contains(&ms), "{ms} ms");
            assert!(crate::audio::level(&samples) > 0.3);
        }
    }

    // A damaged WAV gives silence, not a panic.
    #[test]
    fn damaged_wav_is_silence() {
        assert!(wav_samples(b"RIFF").is_empty());
        let mut bad = b"RIFF\0\0\0\0WAVEdata\xff\xff\xff\xff".to_vec();
        bad.extend_from_slice(&[1, 0, 2]);
        assert_eq!(wav_samples(&bad).len(), 1);
    }
}
