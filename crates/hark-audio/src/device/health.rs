//! Is the stream still alive? What the error callback reported, when the
//! data callback last ran, kept in atomics so that the audio thread never
//! locks and the caller can look at any time; and how to let go of a
//! stream whose thread may be stuck.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use cpal::ErrorKind;

use super::DeviceError;

/// A running stream whose data callback has not run for this long counts
/// as lost. Periods are 40 ms, so this is 50 missed callbacks.
///
/// Needed because not every backend reports a vanished device: when the
/// PulseAudio server dies under ALSA's `pulse` plugin, the plugin
/// deadlocks inside libpulse and cpal never calls back again, data or
/// error (seen with alsa-plugins 1.2.7 and libpulse 16.1).
pub const STALL: Duration = Duration::from_secs(2);

/// How long closing a stream may take before its thread counts as stuck.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// Stream state shared between cpal's threads and the caller.
#[derive(Debug)]
pub(super) struct Health {
    /// The device went away (reported, or silent for [`STALL`]).
    lost: AtomicBool,
    /// Lost because callbacks stopped: cpal's thread may be stuck.
    stalled: AtomicBool,
    /// Overruns/underruns that the backend itself reported (ALSA xruns).
    xruns: AtomicU64,
    /// Other errors the backend reported while the stream kept running.
    ///
    /// Known shortcoming: after an xrun on ALSA's `pulse` plugin, cpal
    /// re-prepares the device and, while the plugin reconnects, spins on
    /// `snd_pcm_avail_delay` failing with EIO: thousands of errors (each
    /// message formatted, i.e. allocated, by cpal on the audio thread) in
    /// a fraction of a second. They are only counted here; the stream
    /// recovers by itself, with a gap of tens of milliseconds.
    errors: AtomicU64,
    /// The device latency the last data callback saw, in microseconds.
    latency_us: AtomicU64,
    /// When the stream was opened.
    opened: Instant,
    /// Milliseconds after `opened` of the last data callback.
    last_callback_ms: AtomicU64,
}

impl Health {
    pub(super) fn new() -> Self {
        Self {
            lost: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            xruns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            opened: Instant::now(),
            last_callback_ms: AtomicU64::new(0),
        }
    }

    /// Called by each data callback: the stream is alive, with this
    /// latency. Reads the monotonic clock and stores atomics, nothing more.
    pub(super) fn tick(&self, latency: Duration) {
        let now = self.opened.elapsed().as_millis();
        self.last_callback_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.store(micros, Ordering::Relaxed);
    }

    /// Records one error from cpal's error callback. Only atomics: the
    /// callback may run on the audio thread.
    pub(super) fn record(&self, error: &cpal::Error) {
        match error.kind() {
            ErrorKind::DeviceNotAvailable | ErrorKind::StreamInvalidated => {
                self.lost.store(true, Ordering::Release);
            }
            ErrorKind::Xrun => {
                self.xruns.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `Err(Lost)` once the device has gone away, or has not called back
    /// for [`STALL`].
    pub(super) fn check(&self) -> Result<(), DeviceError> {
        if !self.lost.load(Ordering::Acquire) && self.silent_for() > STALL {
            tracing::debug!(silent = ?self.silent_for(), "audio stream stalled, counted as lost");
            self.stalled.store(true, Ordering::Release);
            self.lost.store(true, Ordering::Release);
        }
        if self.lost.load(Ordering::Acquire) {
            return Err(DeviceError::Lost);
        }
        Ok(())
    }

    /// How long since the last data callback (or the opening, before any).
    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_callback_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Xruns reported by the backend so far.
    pub(super) fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }

    /// Non-fatal backend errors so far.
    pub(super) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The device latency the last data callback reported.
    pub(super) fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Closes the stream. Dropping a cpal stream joins its thread, and a
    /// stuck thread (see [`STALL`]) never returns; so the drop happens on a
    /// thread of its own, waited for up to [`RELEASE_WAIT`] (not at all when
    /// the stream has already stalled). If it does not
    /// finish by then, the stream counts as lost and that thread is left
    /// behind with the device handle: a leak, rather than a hung caller.
    pub(super) fn release(&self, stream: cpal::Stream) {
        // ManuallyDrop: if the thread cannot start, the closure is dropped
        // unrun, and the stream must not be joined through it.
        let stream = ManuallyDrop::new(stream);
        let (done, finished) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name("hark-audio-release".into())
            .spawn(move || {
                drop(ManuallyDrop::into_inner(stream));
                let _ = done.send(());
            });
        if let Err(error) = spawned {
            tracing::debug!(%error, "could not spawn the release thread, stream leaked");
            return;
        }
        // A stream already known to be stuck is not waited for at all.
        let _ = self.check();
        let wait = if self.stalled.load(Ordering::Acquire) {
            Duration::ZERO
        } else {
            RELEASE_WAIT
        };
        if finished.recv_timeout(wait).is_err() {
            tracing::debug!("audio stream did not close; its thread is left behind");
            self.stalled.store(true, Ordering::Release);
            self.lost.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A vanished device makes check fail; xruns and other errors only count.
    #[test]
    fn errors_are_sorted_by_kind() {
        let health = Health::new();
        health.record(&cpal::Error::new(ErrorKind::Xrun));
        health.record(&cpal::Error::new(ErrorKind::BackendError));
        assert_eq!((health.xruns(), health.errors()), (1, 1));
        assert_eq!(health.check(), Ok(()));

        health.record(&cpal::Error::new(ErrorKind::DeviceNotAvailable));
        assert_eq!(health.check(), Err(DeviceError::Lost));
    }

    // A stream that stops calling back counts as lost (and stalled) after
    // STALL; one that keeps calling back does not.
    #[test]
    fn silence_beyond_stall_is_lost() {
        let mut health = Health::new();
        health.opened = Instant::now()
            .checked_sub(STALL + Duration::from_millis(100))
            .expect("the monotonic clock has run for more than 2.1 s");
        health.tick(Duration::ZERO);
        assert_eq!(health.check(), Ok(()));

        health.last_callback_ms.store(0, Ordering::Relaxed);
        assert_eq!(health.check(), Err(DeviceError::Lost));
        assert!(health.stalled.load(Ordering::Acquire));
    }
}
