//! Push-to-talk, shared by the window's record button and the global
//! hotkey. Pressing starts a live message to the open conversation: each
//! 20 ms block from the microphone is encoded, sealed and streamed to the
//! recipients online as it is recorded, so they hear it while it is
//! spoken. Releasing finishes the message (whoever was not listening gets
//! it from the outbox or any peer holding it); Esc, dragging away, or a
//! tap shorter than [`MIN_LENGTH`] cancels it, and listeners drop what
//! they heard of it.
//!
//! Start and finish are serialised by [`Talk`]'s lock, so a release that
//! comes while the start is still opening the device and the message
//! waits for it instead of finding nothing to finish.

use std::time::Duration;

use hark_node::LivePcm;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::mpsc;

use crate::audio::Audio;
use crate::desktop::{self, Cue, Desktop};
use crate::node::Running;
use crate::tray::{self, TrayState};
use crate::types::{ApiError, ErrorKind};

/// Recordings shorter than this are dropped as accidental taps.
pub const MIN_LENGTH: Duration = Duration::from_millis(300);

/// Blocks that may wait between the recording thread and the encoder: two
/// seconds of speech.
const BLOCKS: usize = 100;

/// What the recording feeds: the live message, and the first error in
/// feeding it.
type Pump = JoinHandle<(LivePcm, Result<(), hark_node::api::Error>)>;

/// The live message being recorded, as managed state.
#[derive(Default)]
pub struct Talk {
    pump: tokio::sync::Mutex<Option<Pump>>,
}

/// Starts a live message to `to`, recorded from the input chosen in
/// settings. Does nothing while a recording is under way (a held key
/// repeats its press).
pub async fn start<R: Runtime>(app: &AppHandle<R>, to: Vec<String>) -> Result<(), ApiError> {
    let talk = app.state::<Talk>();
    let mut pump = talk.pump.lock().await;
    let audio = app.state::<Audio>();
    if audio.is_recording() {
        return Ok(());
    }
    if to.is_empty() {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "choose a conversation first, then hold to talk",
        ));
    }
    let handle = app.state::<Running>().handle()?;
    let settings = app.state::<Desktop>().settings();

    // The device first: a missing microphone fails before anything is
    // sent to anyone.
    let (blocks, rx) = mpsc::channel(BLOCKS);
    audio.start_recording(settings.input_device.clone(), blocks)?;
    let live = match handle.start_live_pcm(to).await {
        Ok(live) => live,
        Err(e) => {
            // Nobody will read the blocks: let the capture thread go.
            drop(rx);
            stop_capture(app).await;
            return Err(e.into());
        }
    };
    *pump = Some(tauri::async_runtime::spawn(feed(live, rx)));
    drop(pump);

    // After the lock: the tray waits for the main thread, which at quit
    // waits for this lock.
    desktop::cue(&settings, Cue::Start);
    tray::show_state(app, TrayState::Recording);
    Ok(())
}

/// Stops the capture thread and waits for it, off the async workers (it
/// may first have to hand over its last blocks). `None` when nothing was
/// being recorded.
async fn stop_capture<R: Runtime>(app: &AppHandle<R>) -> Option<Duration> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || app.state::<Audio>().stop_recording())
        .await
        .ok()
        .flatten()
}

/// Streams each recorded block into the live message until the recording
/// ends. After a failure the rest is drained, so the recording thread
/// never waits on a dead pump.
async fn feed(
    mut live: LivePcm,
    mut blocks: mpsc::Receiver<Vec<f32>>,
) -> (LivePcm, Result<(), hark_node::api::Error>) {
    let mut fed = Ok(());
    while let Some(block) = blocks.recv().await {
        if fed.is_ok() {
            fed = live.push(&block).await;
        }
    }
    (live, fed)
}

/// Ends the recording. With `send`, finishes the message and returns its
/// id; without, cancels it (as does a recording shorter than
/// [`MIN_LENGTH`], which is an error). `None` when nothing was recorded.
pub async fn finish<R: Runtime>(
    app: &AppHandle<R>,
    send: bool,
) -> Result<Option<String>, ApiError> {
    let talk = app.state::<Talk>();
    let mut pump = talk.pump.lock().await;
    let Some(length) = stop_capture(app).await else {
        return Ok(None);
    };
    let feeding = pump.take();
    drop(pump);

    // After the lock (see `start`).
    let settings = app.state::<Desktop>().settings();
    desktop::cue(&settings, Cue::Stop);
    tray::show_state(app, TrayState::Idle);
    let Some(feeding) = feeding else {
        return Ok(None);
    };
    let (live, fed) = feeding
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("recording task: {e}")))?;

    if let Err(e) = fed {
        cancel(live).await;
        return Err(e.into());
    }
    if !send {
        cancel(live).await;
        return Ok(None);
    }
    if length < MIN_LENGTH {
        cancel(live).await;
        return Err(ApiError::new(
            ErrorKind::BadInput,
            "too short to send: hold the button while you speak",
        ));
    }
    let recorded = live.finish(None).await?;
    Ok(Some(recorded.id))
}

async fn cancel(live: LivePcm) {
    let id = live.id();
    if let Err(e) = live.cancel().await {
        tracing::warn!(msg = %id, error = %e, "cannot cancel the recording");
    }
}
