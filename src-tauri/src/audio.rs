//! Playing messages and recording new ones, as managed state.
//!
//! Playback decodes the whole message (voice notes are short), then a
//! thread streams it through [`Stretcher`] at the chosen speed to the
//! output in 10 ms blocks and reports the position on the caller's
//! channel. One message plays at a time; starting another, or seeking,
//! replaces the current one.
//!
//! Recording reads 20 ms blocks from the input on a thread, reports the
//! level on the window's recorder channel, and hands each block on at once
//! (push-to-talk streams it live, see [`ptt`](crate::ptt)); a device that
//! fails mid-way leaves what was recorded until then.
//!
//! The sound devices come from `hark_audio::device` through the
//! [`sound`](crate::sound) module.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hark_audio::{Pcm, SAMPLE_RATE};
use serde::Serialize;
use specta::Type;
use tauri::ipc::Channel;

use crate::sound::{self, Input, Output};
use crate::stretch::Stretcher;
use crate::types::{ApiError, ErrorKind};

/// How often the playback position and the recording level are reported.
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// Longest recording kept: after this the recording stops by itself.
pub const MAX_RECORDING: Duration = Duration::from_secs(15 * 60);

/// What the player tells the window about one message playing.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlaybackUpdate {
    /// Playing, at this point of the message.
    Position {
        /// Milliseconds into the message.
        #[specta(type = i32)]
        position_ms: f64,
        /// The message's length in milliseconds.
        #[specta(type = i32)]
        duration_ms: f64,
    },
    /// Reached the end.
    Ended,
    /// Stopped because another message or position was chosen, or pause.
    Stopped {
        /// Where it stopped, in milliseconds.
        #[specta(type = i32)]
        position_ms: f64,
    },
    /// The output device failed.
    Failed {
        /// One line for people.
        message: String,
    },
}

/// What the recorder tells the window.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecorderUpdate {
    /// A recording started (from the window's button or the hotkey).
    Started,
    /// The input level and time recorded so far.
    Level {
        /// Loudness of the last 50 ms, 0 (silence) to 1 (full scale), on
        /// a logarithmic scale from -60 dBFS.
        #[specta(type = i32)]
        level: f32,
        /// Milliseconds recorded.
        #[specta(type = i32)]
        elapsed_ms: f64,
    },
    /// The recording ended: sent, cancelled or failed.
    Ended,
    /// The input device failed; what was recorded so far is kept.
    Failed {
        /// One line for people.
        message: String,
    },
}

/// The player and the recorder.
#[derive(Default)]
pub struct Audio {
    /// The newest play request; an older one that finishes decoding later
    /// must not replace it.
    requests: AtomicU64,
    playing: Mutex<Option<Playing>>,
    recording: Mutex<Option<Recording>>,
    recorder_updates: Mutex<Option<Channel<RecorderUpdate>>>,
}

struct Playing {
    stop: Arc<AtomicBool>,
}

struct Recording {
    stop: Arc<AtomicBool>,
    /// Returns how many samples were recorded.
    thread: std::thread::JoinHandle<u64>,
}

/// Where recorded blocks go, in order; the recording thread waits when it
/// is full (the device's own ring keeps the audio meanwhile).
pub type Blocks = tokio::sync::mpsc::Sender<Vec<f32>>;

impl Audio {
    /// A ticket for a play request, taken before the message is decoded.
    pub fn ticket(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Plays `pcm` from `start_ms` at `speed` on `output_device`, reporting
    /// on `updates`, and stops whatever was playing; unless a newer ticket
    /// was taken meanwhile (the user already asked for something else),
    /// in which case it does nothing.
    pub fn play(
        &self,
        ticket: u64,
        pcm: Pcm,
        start_ms: f64,
        speed: f64,
        output_device: Option<String>,
        updates: Channel<PlaybackUpdate>,
    ) -> Result<(), ApiError> {
        let mut playing = lock(&self.playing);
        if self.requests.load(Ordering::SeqCst) != ticket {
            return Ok(());
        }
        if let Some(old) = playing.take() {
            old.stop.store(true, Ordering::Relaxed);
        }
        let output = sound::open_output(output_device.as_deref())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let start = ms_to_samples(start_ms).min(pcm.samples.len());
        spawn("hark-playback", move || {
            play_loop(&pcm.samples, start, speed, output, &flag, &updates)
        })?;
        *playing = Some(Playing { stop });
        Ok(())
    }

    /// Stops playback; the player reports where it stopped.
    pub fn stop_playback(&self) {
        // A play request still decoding must not start after this.
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(playing) = lock(&self.playing).take() {
            playing.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Where recorder updates go from now on (the window calls this once
    /// when it loads; a reload replaces the channel).
    pub fn watch_recorder(&self, updates: Channel<RecorderUpdate>) {
        *lock(&self.recorder_updates) = Some(updates);
    }

    /// Whether a recording is under way.
    pub fn is_recording(&self) -> bool {
        lock(&self.recording).is_some()
    }

    /// Starts recording from `input_device`, handing blocks to `blocks`
    /// until stopped. Fails if the device cannot be opened or a recording
    /// is already under way.
    pub fn start_recording(
        &self,
        input_device: Option<String>,
        blocks: Blocks,
    ) -> Result<(), ApiError> {
        let mut recording = lock(&self.recording);
        if recording.is_some() {
            return Err(ApiError::new(ErrorKind::BadRequest, "already recording"));
        }
        let input = sound::open_input(input_device.as_deref())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let updates = lock(&self.recorder_updates).clone();
        let thread = std::thread::Builder::new()
            .name("hark-capture".into())
            .spawn(move || record_loop(input, &flag, updates.as_ref(), &blocks))
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("recording thread: {e}")))?;
        *recording = Some(Recording { stop, thread });
        self.tell_recorder(RecorderUpdate::Started);
        Ok(())
    }

    /// Ends the recording once its last block was handed on, and returns
    /// how long it was (`None` when nothing was being recorded).
    pub fn stop_recording(&self) -> Option<Duration> {
        let recording = lock(&self.recording).take()?;
        recording.stop.store(true, Ordering::Relaxed);
        let samples = recording.thread.join().unwrap_or_else(|_| {
            tracing::warn!("the recording thread panicked; the recording ends here");
            0
        });
        self.tell_recorder(RecorderUpdate::Ended);
        Some(Duration::from_secs_f64(
            samples as f64 / f64::from(SAMPLE_RATE),
        ))
    }

    fn tell_recorder(&self, update: RecorderUpdate) {
        if let Some(channel) = lock(&self.recorder_updates).as_ref() {
            send(channel, update);
        }
    }
}

fn play_loop(
    samples: &[f32],
    start: usize,
    speed: f64,
    mut output: Box<dyn Output>,
    stop: &AtomicBool,
    updates: &Channel<PlaybackUpdate>,
) {
    let duration_ms = samples_to_ms(samples.len());
    let mut stretcher = Stretcher::new(samples, start, speed);
    let mut reported = Instant::now() - REPORT_EVERY;

    while !stop.load(Ordering::Relaxed) {
        if reported.elapsed() >= REPORT_EVERY {
            reported = Instant::now();
            let position_ms = samples_to_ms(stretcher.position());
            send(
                updates,
                PlaybackUpdate::Position {
                    position_ms,
                    duration_ms,
                },
            );
        }
        let Some(block) = stretcher.next_block() else {
            output.drain();
            send(updates, PlaybackUpdate::Ended);
            return;
        };
        if let Err(e) = output.write(&block) {
            send(updates, PlaybackUpdate::Failed { message: e.message });
            return;
        }
    }
    let position_ms = samples_to_ms(stretcher.position());
    send(updates, PlaybackUpdate::Stopped { position_ms });
}

fn record_loop(
    mut input: Box<dyn Input>,
    stop: &AtomicBool,
    updates: Option<&Channel<RecorderUpdate>>,
    blocks: &Blocks,
) -> u64 {
    let max = ms_to_samples(MAX_RECORDING.as_millis() as f64) as u64;
    let report = ms_to_samples(REPORT_EVERY.as_millis() as f64);
    let mut recorded = 0u64;
    let mut since_report: Vec<f32> = Vec::with_capacity(report * 2);

    while !stop.load(Ordering::Relaxed) && recorded < max {
        let block = match input.read() {
            Ok(block) => block,
            Err(e) => {
                // What was handed on stays: the user may still send it.
                if let Some(updates) = updates {
                    send(updates, RecorderUpdate::Failed { message: e.message });
                }
                break;
            }
        };
        recorded += block.len() as u64;
        since_report.extend_from_slice(&block);
        if blocks.blocking_send(block).is_err() {
            // Whoever took the blocks gave up (its error is reported there).
            break;
        }
        if since_report.len() >= report {
            let level = level(&since_report);
            since_report.clear();
            if let Some(updates) = updates {
                let elapsed_ms = samples_to_ms(recorded as usize);
                send(updates, RecorderUpdate::Level { level, elapsed_ms });
            }
        }
    }
    // The device's last partial frame, or what it held when it failed.
    let rest = input.close();
    recorded += rest.len() as u64;
    let _ = blocks.blocking_send(rest);
    recorded
}

/// Loudness for a meter: RMS in dBFS mapped from -60..0 to 0..1.
pub fn level(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    let db = 10.0 * mean_square.max(1e-10).log10();
    ((db + 60.0) / 60.0).clamp(0.0, 1.0)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), ApiError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("{name} thread: {e}")))
}

fn send<T: tauri::ipc::IpcResponse + Clone>(channel: &Channel<T>, update: T) {
    // Fails only when the window went away; the work goes on without it.
    if let Err(e) = channel.send(update) {
        tracing::trace!(error = %e, "a window channel is gone");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ms_to_samples(ms: f64) -> usize {
    (ms.max(0.0) * f64::from(SAMPLE_RATE) / 1000.0) as usize
}

fn samples_to_ms(samples: usize) -> f64 {
    samples as f64 * 1000.0 / f64::from(SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Silence reads 0, full-scale 1, and -30 dBFS half way.
    #[test]
    fn meter_scale() {
        assert_eq!(level(&[0.0; 100]), 0.0);
        assert!((level(&[1.0; 100]) - 1.0).abs() < 1e-6);
        let quiet = 10f32.powf(-30.0 / 20.0);
        assert!((level(&[quiet; 100]) - 0.5).abs() < 1e-3);
    }

    // Milliseconds and 48 kHz samples convert both ways.
    #[test]
    fn conversions() {
        assert_eq!(ms_to_samples(1000.0), 48_000);
        assert_eq!(samples_to_ms(24_000), 500.0);
        assert_eq!(ms_to_samples(-5.0), 0);
    }
}
