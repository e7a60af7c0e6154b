//! Playing to an output device.
//!
//! The mirror image of capture: the caller side, [`Playback`], resamples
//! 48 kHz mono to the device rate and fills a lock-free SPSC ring (`rtrb`);
//! the device side, [`Reader`], runs in cpal's data callback, takes from
//! the ring into a fixed scratch buffer, fills any shortfall with silence
//! (counted as an underrun while more audio is expected) and copies each
//! sample to every channel in the device's sample format. The callback
//! never allocates, locks or blocks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, OutputCallbackInfo, SampleFormat, SizedSample, StreamConfig};
use rtrb::{Consumer, Producer, RingBuffer};

use super::health::Health;
use super::resample::Converter;
use super::{find_device, DeviceConfig, DeviceError, Direction};
use crate::{Pcm, SAMPLE_RATE};

/// Milliseconds of audio the ring holds ahead of the device.
const RING_MS: u32 = 500;

/// Frames the callback fills at a time; see `capture::SCRATCH_FRAMES`.
const SCRATCH_FRAMES: usize = 4_096;

/// How often [`Playback::play_pcm`] tops up the ring and checks progress.
const POLL: Duration = Duration::from_millis(5);

/// What the audio thread reports to the caller, and the one flag it reads.
#[derive(Debug)]
struct Shared {
    health: Health,
    /// Callbacks that had to play silence while audio was expected.
    underruns: AtomicU64,
    /// Samples (at the device rate) taken from the ring and played.
    played: AtomicU64,
    /// More audio is expected: set by `push`, cleared once the audio of a
    /// [`Playback::finish`] has all gone into the ring.
    open: AtomicBool,
}

impl Shared {
    fn new() -> Self {
        Self {
            health: Health::new(),
            underruns: AtomicU64::new(0),
            played: AtomicU64::new(0),
            open: AtomicBool::new(false),
        }
    }
}

/// The device side: everything cpal's output callback touches.
struct Reader {
    ring: Consumer<f32>,
    /// Mono samples of the current pass. Allocated once before the stream
    /// starts; the callback only writes into it, so it never allocates.
    scratch: Box<[f32]>,
    channels: usize,
    shared: Arc<Shared>,
}

impl Reader {
    fn new(ring: Consumer<f32>, channels: usize, shared: Arc<Shared>) -> Self {
        let scratch = vec![0.0; SCRATCH_FRAMES].into_boxed_slice();
        Self {
            ring,
            scratch,
            channels,
            shared,
        }
    }

    /// The data callback body: mono from the ring out to every channel.
    /// Real-time safe: no allocation, no lock, no blocking call.
    fn fill<T>(&mut self, out: &mut [T], info: &OutputCallbackInfo)
    where
        T: SizedSample + FromSample<f32>,
    {
        let stamp = info.timestamp();
        let latency = stamp.playback.saturating_duration_since(stamp.callback);
        self.shared.health.tick(latency);

        for block in out.chunks_mut(self.scratch.len() * self.channels) {
            let frames = block.len() / self.channels;
            let mono = &mut self.scratch[..frames];
            let (taken, missing) = self.ring.pop_partial_slice(mono);
            let taken = taken.len();
            missing.fill(0.0);
            self.account(taken, frames);
            up_mix(&self.scratch[..frames], self.channels, block);
        }
    }

    fn account(&self, taken: usize, wanted: usize) {
        self.shared
            .played
            .fetch_add(taken as u64, Ordering::Relaxed);
        if taken < wanted && self.shared.open.load(Ordering::Acquire) {
            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes each mono sample to all `channels` of a frame of `block`,
/// clamped to the -1..1 range the integer formats can hold.
fn up_mix<T>(mono: &[f32], channels: usize, block: &mut [T])
where
    T: SizedSample + FromSample<f32>,
{
    for (frame, &sample) in block.chunks_exact_mut(channels).zip(mono) {
        frame.fill(T::from_sample(sample.clamp(-1.0, 1.0)));
    }
}

/// A running output device playing 48 kHz mono audio.
///
/// [`push`](Self::push) queues audio; anything beyond what the ring holds
/// (half a second) waits in a queue here and moves on at the next `push`
/// (an empty slice only tops up), [`finish`](Self::finish) or
/// [`play_pcm`](Self::play_pcm). Dropping a `Playback` stops the device at
/// once.
///
/// Known shortcoming: there is no feeder thread, so a caller that pushes
/// a long clip and then neither pushes again nor waits in `play_pcm` hears
/// only its first half second; the rest stays queued until the next call.
pub struct Playback {
    /// Only held; `Drop` releases it, which stops the device.
    stream: Option<cpal::Stream>,
    ring: Producer<f32>,
    converter: Converter,
    /// Device-rate audio waiting for room in the ring.
    queue: VecDeque<f32>,
    /// Set by `finish`: the queue's end is the end of the audio.
    finishing: bool,
    /// Device-rate samples handed to the ring so far.
    written: u64,
    shared: Arc<Shared>,
    config: StreamConfig,
    format: SampleFormat,
}

impl std::fmt::Debug for Playback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playback")
            .field("config", &self.config)
            .field("format", &self.format)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Playback {
    /// Opens the output device called `device` (a name from
    /// [`super::list_outputs`]; `None`: the default output) in whatever
    /// configuration it prefers, and starts it playing silence.
    pub fn start(device: Option<&str>) -> Result<Self, DeviceError> {
        let device = find_device(Direction::Output, device)?;
        let supported = device
            .default_output_config()
            .map_err(DeviceError::from_cpal)?;
        let (config, format) = (super::stream_config(&supported), supported.sample_format());
        let channels = super::check_config(&config)?;

        let (ring, consumer) = RingBuffer::new((config.sample_rate * RING_MS / 1_000) as usize);
        let shared = Arc::new(Shared::new());
        let reader = Reader::new(consumer, channels, Arc::clone(&shared));
        let stream = build_stream(&device, config, format, reader, &shared)?;
        stream.play().map_err(DeviceError::from_cpal)?;
        tracing::debug!(?config, %format, "playback started");

        let converter = Converter::new(SAMPLE_RATE, config.sample_rate)?;
        Ok(Self {
            stream: Some(stream),
            ring,
            converter,
            queue: VecDeque::new(),
            finishing: false,
            written: 0,
            shared,
            config,
            format,
        })
    }

    /// Queues 48 kHz mono samples for playing after those already queued.
    /// Returns at once; call it (or [`finish`](Self::finish)) again well
    /// within half a second so the device does not run dry.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), DeviceError> {
        self.shared.health.check()?;
        self.finishing = false;
        self.shared.open.store(true, Ordering::Release);

        let mut converted = Vec::new();
        self.converter.push(samples, &mut converted)?;
        self.queue.extend(converted);
        self.top_up();
        Ok(())
    }

    /// Marks the end of the pushed audio: the resampler's tail is queued,
    /// and the device running dry after it is the end, not an underrun.
    pub fn finish(&mut self) -> Result<(), DeviceError> {
        let mut tail = Vec::new();
        self.converter.flush(&mut tail)?;
        self.queue.extend(tail);
        self.finishing = true;
        self.top_up();
        Ok(())
    }

    /// Plays a whole clip after whatever is queued, and returns once it has
    /// left the device (the device's own buffer included).
    pub fn play_pcm(&mut self, pcm: &Pcm) -> Result<(), DeviceError> {
        self.push(&pcm.samples)?;
        self.finish()?;
        self.wait_drained()
    }

    /// How far playback has got, in 48 kHz samples handed to the device
    /// since the start (silence for underruns not counted), for a progress bar.
    pub fn position(&self) -> u64 {
        let played = u128::from(self.shared.played.load(Ordering::Relaxed));
        (played * u128::from(SAMPLE_RATE) / u128::from(self.config.sample_rate)) as u64
    }

    /// Device periods that had to be padded with silence because the queue
    /// ran dry while more audio was expected (the caller pushed too late).
    pub fn underruns(&self) -> u64 {
        self.shared.underruns.load(Ordering::Relaxed)
    }

    /// Underruns the backend itself reported (the audio thread was not
    /// scheduled in time; ALSA restarts the stream, a short gap is heard).
    pub fn xruns(&self) -> u64 {
        self.shared.health.xruns()
    }

    /// Other transient errors the backend reported while playing on.
    pub fn stream_errors(&self) -> u64 {
        self.shared.health.errors()
    }

    /// The device's output latency (callback to sound) as last reported by
    /// the backend.
    pub fn latency(&self) -> Duration {
        self.shared.health.latency()
    }

    /// The device configuration in use, before resampling and up-mixing.
    pub fn device_config(&self) -> DeviceConfig {
        DeviceConfig::new(self.config, self.format)
    }

    /// Moves as much of the queue into the ring as fits.
    fn top_up(&mut self) {
        let (first, _) = self.queue.as_slices();
        let (moved, _) = self.ring.push_partial_slice(first);
        let mut count = moved.len();
        if count == first.len() {
            let (_, second) = self.queue.as_slices();
            count += self.ring.push_partial_slice(second).0.len();
        }
        self.queue.drain(..count);
        self.written += count as u64;

        if self.finishing && self.queue.is_empty() {
            self.shared.open.store(false, Ordering::Release);
        }
    }

    /// Tops up until everything written has been played, then waits out
    /// the device's own latency. A device that stops calling back counts
    /// as lost after `health::STALL`.
    fn wait_drained(&mut self) -> Result<(), DeviceError> {
        loop {
            self.top_up();
            self.shared.health.check()?;
            let played = self.shared.played.load(Ordering::Relaxed);
            if self.queue.is_empty() && played >= self.written {
                break;
            }
            thread::sleep(POLL);
        }
        thread::sleep(self.latency());
        Ok(())
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            self.shared.health.release(stream);
        }
    }
}

/// Builds the output stream for the device's sample format.
fn build_stream(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    reader: Reader,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, DeviceError> {
    match format {
        SampleFormat::I8 => typed_stream::<i8>(device, config, reader, shared),
        SampleFormat::I16 => typed_stream::<i16>(device, config, reader, shared),
        SampleFormat::I24 => typed_stream::<cpal::I24>(device, config, reader, shared),
        SampleFormat::I32 => typed_stream::<i32>(device, config, reader, shared),
        SampleFormat::U8 => typed_stream::<u8>(device, config, reader, shared),
        SampleFormat::U16 => typed_stream::<u16>(device, config, reader, shared),
        SampleFormat::U32 => typed_stream::<u32>(device, config, reader, shared),
        SampleFormat::F32 => typed_stream::<f32>(device, config, reader, shared),
        SampleFormat::F64 => typed_stream::<f64>(device, config, reader, shared),
        other => Err(DeviceError::Unsupported(format!("sample format {other}"))),
    }
}

fn typed_stream<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut reader: Reader,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, DeviceError>
where
    T: SizedSample + FromSample<f32>,
{
    let errors = Arc::clone(shared);
    device
        .build_output_stream::<T, _, _>(
            config,
            move |data, info| reader.fill(data, info),
            move |error| errors.health.record(&error),
            None,
        )
        .map_err(DeviceError::from_cpal)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Mono goes to both channels of i16 stereo, clamped at full scale.
    #[test]
    fn up_mix_copies_and_clamps() {
        let mut block = [0i16; 6];
        up_mix(&[0.5, -2.0, 0.0], 2, &mut block);
        assert_eq!(block, [16_384, 16_384, -32_768, -32_768, 0, 0]);
    }

    // u16 output: silence is the midpoint.
    #[test]
    fn up_mix_handles_unsigned() {
        let mut block = [0u16; 2];
        up_mix(&[0.0, 0.5], 1, &mut block);
        assert_eq!(block, [32_768, 49_152]);
    }

    fn info() -> OutputCallbackInfo {
        let now = cpal::StreamInstant::from_millis(100);
        let later = cpal::StreamInstant::from_millis(130);
        OutputCallbackInfo::new(cpal::OutputStreamTimestamp {
            callback: now,
            playback: later,
        })
    }

    // A short ring plays what it has, pads with silence and counts one
    // underrun while audio is expected; none once the stream is closed.
    #[test]
    fn dry_ring_is_silence_and_counted_only_when_open() {
        let (mut producer, consumer) = RingBuffer::new(16);
        let shared = Arc::new(Shared::new());
        let mut reader = Reader::new(consumer, 2, Arc::clone(&shared));
        assert_eq!(producer.push_partial_slice(&[0.25, 0.25]).0.len(), 2);
        shared.open.store(true, Ordering::Release);

        let mut out = [1.0f32; 8];
        reader.fill(&mut out, &info());
        assert_eq!(out, [0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(shared.underruns.load(Ordering::Relaxed), 1);
        assert_eq!(shared.played.load(Ordering::Relaxed), 2);
        assert_eq!(shared.health.latency(), Duration::from_millis(30));

        shared.open.store(false, Ordering::Release);
        reader.fill(&mut out, &info());
        assert_eq!(shared.underruns.load(Ordering::Relaxed), 1);
    }
}
