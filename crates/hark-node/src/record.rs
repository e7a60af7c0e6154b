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
    /// message to `to`. Fails at once, with nothing sent, if a recipient
    /// is unknown or the device cannot be opened.
    pub async fn start_recording(
        &self,
        to: Vec<String>,
        device: Option<String>,
    ) -> Result<Recording, api::Error> {
        // A wrong recipient is said before the microphone is touched.
        self.resolve(&to)?;

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
        let mut live = self.start_live_pcm(to).await?;
        let mut next = first;
        let warning = loop {
            match next {
                Some(Captured::Frames(frames)) => {
                    for frame in frames {
                        live.push(&frame).await?;
                    }
                }
                Some(Captured::Tail(rest, error)) => {
                    live.push(&rest).await?;
                    break error;
                }
                Some(Captured::Failed(e)) => break Some(e),
                None => break Some(DeviceError::Lost),
            }
            next = rx.recv().await;
        };
        let warning = warning.map(|e| format!("the recording stopped early: {e}"));
        live.finish(warning).await
    }

    /// Starts a live message to `to` fed with samples as they are
    /// captured (see [`LivePcm`]). The caller owns the device; this is how
    /// the desktop app records with its own level meter.
    pub async fn start_live_pcm(&self, to: Vec<String>) -> Result<LivePcm, api::Error> {
        let bitrate = self.bitrate();
        let encoder = Encoder::new(bitrate).map_err(|e| internal(&e))?;
        let live = self.start_live_at(to, encoder.lookahead(), bitrate).await?;
        Ok(LivePcm {
            handle: self.clone(),
            encoder,
            live,
            partial: Vec::with_capacity(FRAME_SAMPLES),
            held: None,
            samples: 0,
        })
    }
}

/// A live message fed with 48 kHz mono samples as they are captured: each
/// full 20 ms frame is encoded, sealed, stored and streamed at once.
/// End it with [`LivePcm::finish`] (release: the message is complete and
/// offered to whoever was not listening) or [`LivePcm::cancel`].
pub struct LivePcm {
    handle: NodeHandle,
    encoder: Encoder,
    live: crate::live::LiveSender,
    /// Samples of the frame being filled.
    partial: Vec<f32>,
    /// The newest packet, held back: only the next push tells whether it
    /// is the last.
    held: Option<Vec<u8>>,
    /// Samples taken so far.
    samples: u64,
}

impl std::fmt::Debug for LivePcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePcm")
            .field("id", &self.live.id())
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

impl LivePcm {
    /// The message's id.
    pub fn id(&self) -> hark_proto::ids::MessageId {
        self.live.id()
    }

    /// How much has been taken so far.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples * 1_000_000 / u64::from(hark_audio::SAMPLE_RATE))
    }

    /// Takes the next samples; every frame they complete goes out now.
    pub async fn push(&mut self, pcm: &[f32]) -> Result<(), api::Error> {
        self.samples += pcm.len() as u64;
        let mut rest = pcm;
        while !rest.is_empty() {
            let room = FRAME_SAMPLES - self.partial.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.partial.extend_from_slice(now);
            rest = later;
            if self.partial.len() == FRAME_SAMPLES {
                self.encode_partial().await?;
            }
        }
        Ok(())
    }

    async fn encode_partial(&mut self) -> Result<(), api::Error> {
        let packet = self
            .encoder
            .encode_frame(&self.partial)
            .map_err(|e| internal(&e))?;
        self.partial.clear();
        if let Some(previous) = self.held.replace(packet) {
            self.live.push(&previous, false).await?;
        }
        Ok(())
    }

    /// Ends the message with what was taken: the last partial frame and
    /// the encoder's look-ahead in zeros (so the last sample survives the
    /// decoder dropping its pre-skip) go out, the trailer is signed, and
    /// recipients who were not listening are offered it. `warning` (why it
    /// ended early, if it did) is passed on in the result.
    pub async fn finish(mut self, warning: Option<String>) -> Result<Recorded, api::Error> {
        let mut pad = vec![0.0; usize::from(self.encoder.lookahead())];
        let after_pad = self.partial.len() + pad.len();
        pad.resize(
            pad.len() + after_pad.next_multiple_of(FRAME_SAMPLES) - after_pad,
            0.0,
        );
        let samples = self.samples;
        self.push(&pad).await?;
        if let Some(last) = self.held.take() {
            self.live.push(&last, true).await?;
        }

        let id = self.live.finish(samples).await?;
        self.handle.announce(id).await?;
        if let Some(w) = &warning {
            tracing::warn!(msg = %id, "{w}");
        }
        Ok(Recorded {
            id: id.to_string(),
            duration_ms: samples * 1000 / u64::from(hark_audio::SAMPLE_RATE),
            warning,
        })
    }

    /// Abandons the message: listeners stop hearing it and drop it, and
    /// nothing of it is kept here.
    pub async fn cancel(self) -> Result<(), api::Error> {
        self.live.cancel().await
    }
}

fn internal(e: &dyn std::fmt::Display) -> api::Error {
    api::Error::new(ErrorKind::Internal, e.to_string())
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
