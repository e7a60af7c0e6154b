//! Recording from a microphone straight into a live message: the device
//! runs on a thread of its own (cpal streams stay on the thread that made
//! them), hands 20 ms frames over a bounded channel, and each frame is
//! encoded, sealed, stored and streamed as soon as it arrives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hark_audio::codec::Encoder;
use hark_audio::device::{Capture, DeviceError};
use hark_audio::FRAME_SAMPLES;
use tokio::sync::mpsc;

use crate::api::{self, ErrorKind};
use crate::NodeHandle;

/// Frames that may wait between the device thread and the encoder: two
/// seconds. The device thread waits when it is full (its own ring keeps
/// the audio meanwhile).
const HANDOFF: usize = 100;

/// How often the device thread takes frames from the capture ring.
const POLL: Duration = Duration::from_millis(10);

/// What the device thread hands over.
enum Captured {
    Frames(Vec<[f32; FRAME_SAMPLES]>),
    /// The rest after stopping, and the device error if it failed.
    Tail(Vec<f32>, Option<DeviceError>),
    /// The device could not be opened: nothing was recorded.
    Failed(DeviceError),
}

/// A recording under way. Stop it to send it.
#[derive(Debug)]
pub struct Recording {
    stop: Arc<AtomicBool>,
    done: tokio::task::JoinHandle<Result<Recorded, api::Error>>,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// The message id.
    pub id: String,
    /// Length in milliseconds.
    pub duration_ms: u64,
    /// Set when the device failed mid-recording: what was recorded until
    /// then was still sent.
    pub warning: Option<String>,
}

impl Recording {
    /// Stops recording, finishes the message and returns it. Not safe to
    /// cancel: a cancelled stop leaves the message unfinished until the
    /// node restarts.
    pub async fn stop(self) -> Result<Recorded, api::Error> {
        self.stop.store(true, Ordering::Relaxed);
        self.done
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?
    }
}

impl NodeHandle {
    /// Starts recording from input `device` (`None`: the default) as a live
    /// message to `to`. Fails at once, with nothing sent, if the device
    /// cannot be opened.
    pub async fn start_recording(
        &self,
        to: Vec<String>,
        device: Option<String>,
    ) -> Result<Recording, api::Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, mut rx) = mpsc::channel(HANDOFF);
        let flag = stop.clone();
        std::thread::spawn(move || capture(device, flag, tx));

        // The first hand-over says whether the device opened.
        let first = rx.recv().await;
        if let Some(Captured::Failed(e)) = first {
            return Err(device_error(&e));
        }
        let handle = self.clone();
        let done = tokio::spawn(async move { handle.stream_recording(to, first, rx).await });
        Ok(Recording { stop, done })
    }

    /// Records for `duration` and sends it; returns the message.
    pub async fn record(
        &self,
        to: Vec<String>,
        device: Option<String>,
        duration: Duration,
    ) -> Result<Recorded, api::Error> {
        let recording = self.start_recording(to, device).await?;
        tokio::time::sleep(duration).await;
        recording.stop().await
    }

    async fn stream_recording(
        &self,
        to: Vec<String>,
        first: Option<Captured>,
        mut rx: mpsc::Receiver<Captured>,
    ) -> Result<Recorded, api::Error> {
        let internal =
            |e: &dyn std::fmt::Display| api::Error::new(ErrorKind::Internal, e.to_string());
        let mut encoder = Encoder::new(self.bitrate()).map_err(|e| internal(&e))?;
        let mut live = self.start_live(to, encoder.lookahead()).await?;

        // One packet is held back: only the next hand-over tells whether it
        // is the last.
        let mut held: Option<Vec<u8>> = None;
        let mut samples = 0u64;
        let mut next = first;
        let (tail, warning) = loop {
            match next {
                Some(Captured::Frames(frames)) => {
                    for frame in frames {
                        samples += FRAME_SAMPLES as u64;
                        let packet = encoder.encode_frame(&frame).map_err(|e| internal(&e))?;
                        if let Some(previous) = held.replace(packet) {
                            live.push(&previous, false).await?;
                        }
                    }
                }
                Some(Captured::Tail(rest, error)) => break (rest, error),
                Some(Captured::Failed(e)) => break (Vec::new(), Some(e)),
                None => break (Vec::new(), Some(DeviceError::Lost)),
            }
            next = rx.recv().await;
        };

        // The rest, then the encoder's look-ahead in zeros so the last
        // sample survives the decoder dropping its pre-skip.
        samples += tail.len() as u64;
        let mut rest = tail;
        rest.resize(rest.len() + usize::from(encoder.lookahead()), 0.0);
        let padded = rest.len().div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES;
        rest.resize(padded, 0.0);
        for chunk in rest.chunks(FRAME_SAMPLES) {
            let packet = encoder.encode_frame(chunk).map_err(|e| internal(&e))?;
            if let Some(previous) = held.replace(packet) {
                live.push(&previous, false).await?;
            }
        }
        if let Some(last) = held {
            live.push(&last, true).await?;
        }

        let id = live.finish(samples).await?;
        self.announce(id).await?;
        let warning = warning.map(|e| format!("the recording stopped early: {e}"));
        if let Some(w) = &warning {
            tracing::warn!(msg = %id, "{w}");
        }
        Ok(Recorded {
            id: id.to_string(),
            duration_ms: samples * 1000 / u64::from(hark_audio::SAMPLE_RATE),
            warning,
        })
    }
}

/// The device thread: opens the input, hands frames over until stopped or
/// the device fails, then hands over the rest.
fn capture(device: Option<String>, stop: Arc<AtomicBool>, tx: mpsc::Sender<Captured>) {
    let mut capture = match Capture::start(device.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.blocking_send(Captured::Failed(e));
            return;
        }
    };
    let _ = tx.blocking_send(Captured::Frames(Vec::new()));

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        match capture.read_frames() {
            Ok(frames) if frames.is_empty() => {}
            Ok(frames) => {
                if tx.blocking_send(Captured::Frames(frames)).is_err() {
                    return;
                }
            }
            // Lost: what was captured is kept, and returned by stop.
            Err(_) => break,
        }
    }
    let tail = match capture.stop() {
        Ok(pcm) => Captured::Tail(pcm.samples, None),
        Err(e) => Captured::Tail(e.captured.samples, Some(e.error)),
    };
    let _ = tx.blocking_send(tail);
}

fn device_error(e: &DeviceError) -> api::Error {
    api::Error::new(ErrorKind::Device, format!("microphone: {e}"))
}
