//! The sound devices behind the player and the recorder, as two small
//! traits so the audio threads do not care where samples go or come from.
//! The real ones are `hark_audio::device` (cpal): [`Capture`] and
//! [`Playback`] convert whatever the device offers to 48 kHz mono.
//!
//! `HARK_AUDIO=null` replaces the devices for tests on machines without
//! sound: output is discarded at real-time pace, and input is read from
//! the WAV or Ogg Opus file named by `HARK_TEST_INPUT` at real-time pace
//! (silence when unset).

use std::path::Path;
use std::time::{Duration, Instant};

use hark_audio::device::{self, Capture, Playback};
use hark_audio::SAMPLE_RATE;

use crate::types::{ApiError, ErrorKind};

/// Samples per input block (20 ms).
const BLOCK: usize = 960;

/// Where played samples go (48 kHz mono blocks).
pub trait Output: Send {
    /// Queues a block; blocks while the device's buffer is full.
    fn write(&mut self, block: &[f32]) -> Result<(), ApiError>;
    /// Waits until everything queued has been heard.
    fn drain(&mut self);
}

/// Where recorded samples come from (48 kHz mono).
pub trait Input: Send {
    /// The next block of samples; waits until one is there.
    fn read(&mut self) -> Result<Vec<f32>, ApiError>;
    /// Stops the device and returns what it captured that `read` has not
    /// returned yet (also after a failure).
    fn close(&mut self) -> Vec<f32>;
}

/// The names of the input and output devices, for settings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, specta::Type)]
pub struct Devices {
    /// Microphones.
    pub inputs: Vec<String>,
    /// Speakers and headphones.
    pub outputs: Vec<String>,
}

fn null_mode() -> bool {
    std::env::var_os("HARK_AUDIO").is_some_and(|v| v == "null")
}

/// Opens the output named `name` (the system default when `None`).
pub fn open_output(name: Option<&str>) -> Result<Box<dyn Output>, ApiError> {
    if null_mode() {
        return Ok(Box::new(Paced::new()));
    }
    device_output(name)
}

/// Opens the input named `name` (the system default when `None`).
pub fn open_input(name: Option<&str>) -> Result<Box<dyn Input>, ApiError> {
    if null_mode() {
        let samples = match std::env::var_os("HARK_TEST_INPUT") {
            Some(path) => read_test_input(Path::new(&path))?,
            None => Vec::new(),
        };
        return Ok(Box::new(FileInput {
            samples,
            at: 0,
            pace: Paced::new(),
        }));
    }
    device_input(name)
}

/// The devices there are now.
pub fn devices() -> Devices {
    if null_mode() {
        return Devices {
            inputs: vec!["Test input".into()],
            outputs: vec!["Null output".into()],
        };
    }
    device_list()
}

fn device_output(name: Option<&str>) -> Result<Box<dyn Output>, ApiError> {
    let playback = Playback::start(name).map_err(|e| device_error("speakers", &e))?;
    Ok(Box::new(DeviceOutput {
        playback,
        pushed: 0,
    }))
}

fn device_input(name: Option<&str>) -> Result<Box<dyn Input>, ApiError> {
    let capture = Capture::start(name).map_err(|e| device_error("microphone", &e))?;
    Ok(Box::new(DeviceInput {
        capture: Some(capture),
    }))
}

fn device_list() -> Devices {
    let names = |list: Result<Vec<device::DeviceInfo>, device::DeviceError>| {
        list.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "cannot list sound devices");
            Vec::new()
        })
        .into_iter()
        .map(|d| d.name)
        .collect()
    };
    Devices {
        inputs: names(device::list_inputs()),
        outputs: names(device::list_outputs()),
    }
}

/// A device failure in words for the window, naming which device.
fn device_error(what: &str, e: &device::DeviceError) -> ApiError {
    let advice = match e {
        device::DeviceError::NoDevice => "; is one plugged in and the sound server running?",
        device::DeviceError::NotFound(_) => "; pick another in Settings",
        device::DeviceError::Denied => "; allow Hark to use it in the system settings",
        _ => "",
    };
    ApiError::new(ErrorKind::Device, format!("{what}: {e}{advice}"))
}

/// Queued audio the player keeps ahead of the device: enough to ride out
/// a scheduling hiccup, little enough that pause and seek feel immediate.
const AHEAD: u64 = 4_800;

/// How long draining waits at most for the device to play what is queued.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

struct DeviceOutput {
    playback: Playback,
    /// 48 kHz samples pushed so far.
    pushed: u64,
}

impl Output for DeviceOutput {
    fn write(&mut self, block: &[f32]) -> Result<(), ApiError> {
        let failed = |e: device::DeviceError| device_error("speakers", &e);
        self.playback.push(block).map_err(failed)?;
        self.pushed += block.len() as u64;
        // Hold the caller back to real time, topping up the device's ring.
        while self.pushed.saturating_sub(self.playback.position()) > AHEAD {
            std::thread::sleep(Duration::from_millis(5));
            self.playback.push(&[]).map_err(failed)?;
        }
        Ok(())
    }

    fn drain(&mut self) {
        if let Err(e) = self.playback.finish() {
            tracing::debug!(error = %e, "speakers failed at the end");
            return;
        }
        let started = Instant::now();
        while self.playback.position() < self.pushed && started.elapsed() < DRAIN_LIMIT {
            std::thread::sleep(Duration::from_millis(10));
            if self.playback.push(&[]).is_err() {
                return;
            }
        }
    }
}

struct DeviceInput {
    /// Taken by `close`.
    capture: Option<Capture>,
}

impl Input for DeviceInput {
    fn read(&mut self) -> Result<Vec<f32>, ApiError> {
        let Some(capture) = self.capture.as_mut() else {
            return Ok(Vec::new());
        };
        loop {
            let frames = capture
                .read_frames()
                .map_err(|e| device_error("microphone", &e))?;
            if !frames.is_empty() {
                return Ok(frames.concat());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn close(&mut self) -> Vec<f32> {
        let Some(capture) = self.capture.take() else {
            return Vec::new();
        };
        match capture.stop() {
            Ok(rest) => rest.samples,
            // The device was lost: what it captured before is still ours.
            Err(e) => e.captured.samples,
        }
    }
}

fn read_test_input(path: &Path) -> Result<Vec<f32>, ApiError> {
    hark_audio::import::read_file(path)
        .map(|imported| imported.pcm.samples)
        .map_err(|e| ApiError::new(ErrorKind::Device, format!("{}: {e}", path.display())))
}

/// Keeps real-time pace: each call waits until the audio handed over so
/// far would have played.
struct Paced {
    started: Instant,
    samples: u64,
}

impl Paced {
    fn new() -> Paced {
        Paced {
            started: Instant::now(),
            samples: 0,
        }
    }

    fn advance(&mut self, samples: usize) {
        self.samples += samples as u64;
        let due = Duration::from_secs_f64(self.samples as f64 / f64::from(SAMPLE_RATE));
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

impl Output for Paced {
    fn write(&mut self, block: &[f32]) -> Result<(), ApiError> {
        self.advance(block.len());
        Ok(())
    }

    fn drain(&mut self) {}
}

/// A file played as if it were a microphone, then silence.
struct FileInput {
    samples: Vec<f32>,
    at: usize,
    pace: Paced,
}

impl Input for FileInput {
    fn read(&mut self) -> Result<Vec<f32>, ApiError> {
        let end = (self.at + BLOCK).min(self.samples.len());
        let mut block = self.samples.get(self.at..end).unwrap_or_default().to_vec();
        block.resize(BLOCK, 0.0);
        self.at = end;
        self.pace.advance(BLOCK);
        Ok(block)
    }

    fn close(&mut self) -> Vec<f32> {
        Vec::new()
    }
}
