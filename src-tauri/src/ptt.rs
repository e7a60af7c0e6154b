//! Push-to-talk, shared by the window's record button and the global
//! hotkey: start a recording with its cue and tray icon, then finish it by
//! sending it to the chosen peers or dropping it.

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

use crate::audio::Audio;
use crate::desktop::{self, Cue, Desktop};
use crate::node::Running;
use crate::tray::{self, TrayState};
use crate::types::{ApiError, ErrorKind};

/// Recordings shorter than this are dropped as accidental taps.
pub const MIN_LENGTH: Duration = Duration::from_millis(300);

/// Starts recording from the input chosen in settings.
pub fn start<R: Runtime>(app: &AppHandle<R>) -> Result<(), ApiError> {
    let settings = app.state::<Desktop>().settings();
    app.state::<Audio>()
        .start_recording(settings.input_device.clone())?;
    desktop::cue(&settings, Cue::Start);
    tray::show_state(app, TrayState::Recording);
    Ok(())
}

/// Ends the recording. With `to`, sends it and returns the message id;
/// without, drops it (cancel). `None` when nothing was recorded or it was
/// shorter than [`MIN_LENGTH`].
pub async fn finish<R: Runtime>(
    app: &AppHandle<R>,
    to: Option<Vec<String>>,
) -> Result<Option<String>, ApiError> {
    let Some(pcm) = app.state::<Audio>().stop_recording() else {
        return Ok(None);
    };
    let settings = app.state::<Desktop>().settings();
    desktop::cue(&settings, Cue::Stop);
    tray::show_state(app, TrayState::Idle);

    let Some(to) = to else { return Ok(None) };
    if pcm.duration() < MIN_LENGTH {
        return Err(ApiError::new(
            ErrorKind::BadInput,
            "too short to send: hold the button while you speak",
        ));
    }
    if to.is_empty() {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "choose a conversation first; the recording was not sent",
        ));
    }
    let handle = app.state::<Running>().handle()?;
    let id = handle.send_pcm(to, pcm).await?;
    Ok(Some(id))
}
