//! Live messages heard as they arrive: the node's playout hands this
//! speaker 20 ms blocks of the message playing now (one at a time, in the
//! order they began), and a thread of its own writes them to the output
//! chosen in settings.
//!
//! The playout task must never wait on a device, so steps cross to the
//! thread over a channel that never blocks; blocks beyond two seconds'
//! worth waiting are dropped (the thread is then stuck on a broken
//! device; what is lost is heard as a gap, the message itself stays
//! stored), but a message's start and end never are. The device is opened
//! when a message starts and closed when it ends, so Hark holds no output
//! while nobody talks.
//!
//! With auto-play off, or incoming muted, nothing is played: the message
//! is kept and listed as usual, to be played from the window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use hark_node::playout::Speaker;
use hark_node::MessageId;
use tauri::{AppHandle, Manager, Runtime};

use crate::desktop::Desktop;
use crate::sound::{self, Output};

/// Blocks that may wait for the thread: two seconds of speech.
const QUEUE: usize = 100;

enum Step {
    Start(Option<String>),
    Block(Vec<f32>),
    End,
}

/// The desktop's speaker for live messages.
pub struct LiveSpeaker<R: Runtime> {
    app: AppHandle<R>,
    steps: Sender<Step>,
    /// Blocks sent and not yet taken by the thread.
    queued: Arc<AtomicUsize>,
}

impl<R: Runtime> std::fmt::Debug for LiveSpeaker<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSpeaker").finish_non_exhaustive()
    }
}

impl<R: Runtime> LiveSpeaker<R> {
    /// Starts the playing thread.
    pub fn start(app: AppHandle<R>) -> std::io::Result<LiveSpeaker<R>> {
        let (steps, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        std::thread::Builder::new()
            .name("hark-live-out".into())
            .spawn(move || play(&rx, &taken))?;
        Ok(LiveSpeaker { app, steps, queued })
    }

    /// Whether live messages are played now, and on which output.
    fn wanted(&self) -> Option<Option<String>> {
        let settings = self.app.try_state::<Desktop>()?.settings();
        (settings.auto_play && !settings.mute_incoming).then_some(settings.output_device)
    }

    fn pass(&self, step: Step) {
        if matches!(step, Step::Block(_)) {
            if self.queued.load(Ordering::Relaxed) >= QUEUE {
                return tracing::debug!("live output is behind; block dropped");
            }
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
        if self.steps.send(step).is_err() {
            tracing::debug!("live output thread is gone");
        }
    }
}

impl<R: Runtime> Speaker for LiveSpeaker<R> {
    fn started(&self, id: &MessageId) {
        tracing::debug!(msg = %id, "live message playing");
        if let Some(output) = self.wanted() {
            self.pass(Step::Start(output));
        }
    }

    fn block(&self, _id: &MessageId, pcm: &[f32]) {
        self.pass(Step::Block(pcm.to_vec()));
    }

    fn ended(&self, id: &MessageId) {
        tracing::debug!(msg = %id, "live message over");
        self.pass(Step::End);
    }
}

/// The thread: opens the output at each start, writes blocks, drains and
/// closes it at each end. Blocks with no device open (auto-play off, or a
/// device that would not open) are dropped.
fn play(steps: &Receiver<Step>, queued: &AtomicUsize) {
    let mut output: Option<Box<dyn Output>> = None;
    while let Ok(step) = steps.recv() {
        if matches!(step, Step::Block(_)) {
            queued.fetch_sub(1, Ordering::Relaxed);
        }
        match step {
            Step::Start(device) => {
                output = sound::open_output(device.as_deref())
                    .map_err(|e| tracing::warn!(error = %e.message, "cannot play live message"))
                    .ok();
            }
            Step::Block(pcm) => {
                if let Some(out) = output.as_mut() {
                    if let Err(e) = out.write(&pcm) {
                        tracing::warn!(error = %e.message, "live playback failed");
                        output = None;
                    }
                }
            }
            Step::End => {
                if let Some(mut out) = output.take() {
                    out.drain();
                }
            }
        }
    }
}
