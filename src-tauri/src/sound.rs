//! The sound devices behind the player and the recorder, as two small
//! traits so the audio threads do not care where samples go or come from.
//!
//! `HARK_AUDIO=null` replaces the devices for tests on machines without
//! sound: output is discarded at real-time pace, and input is read from
//! the WAV or Ogg Opus file named by `HARK_TEST_INPUT` at real-time pace
//! (silence when unset).

use std::path::Path;
use std::time::{Duration, Instant};

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
    /// Stops the device.
    fn close(&mut self);
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

fn device_output(_name: Option<&str>) -> Result<Box<dyn Output>, ApiError> {
    Err(no_device("no sound output: device support is not built yet"))
}

fn device_input(_name: Option<&str>) -> Result<Box<dyn Input>, ApiError> {
    Err(no_device("no microphone: device support is not built yet"))
}

fn device_list() -> Devices {
    Devices::default()
}

fn no_device(message: &str) -> ApiError {
    ApiError::new(ErrorKind::Device, message)
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

    fn close(&mut self) {}
}
