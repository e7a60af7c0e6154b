//! Recording from an input device.
//!
//! Two sides meet at a lock-free single-producer single-consumer ring
//! (`rtrb`) of mono samples at the device's own rate:
//!
//! - the device side, [`Writer`], runs inside cpal's data callback on the
//!   audio thread: it converts and down-mixes each period into a fixed
//!   scratch buffer, updates the level meter and pushes into the ring. It
//!   never allocates, locks or blocks; when the ring is full it drops the
//!   samples and counts them as overruns.
//! - the caller side, [`Capture`], drains the ring, resamples to 48 kHz and
//!   cuts 20 ms frames.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, InputCallbackInfo, Sample, SampleFormat, SizedSample, StreamConfig};
use rtrb::{Consumer, Producer, RingBuffer};

use super::error::StopError;
use super::health::Health;
use super::resample::Converter;
use super::{find_device, DeviceConfig, DeviceError, Direction};
use crate::{Pcm, FRAME_SAMPLES, SAMPLE_RATE};

/// Seconds of audio the ring holds: how long the caller may go without
/// calling [`Capture::read_frames`] before samples are dropped.
pub const RING_SECONDS: u32 = 4;

/// Frames the callback converts at a time; a longer period is handled in
/// several passes, so no period size can make it allocate.
const SCRATCH_FRAMES: usize = 4_096;

/// The recent loudness of the input, for a level meter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Level {
    /// Root mean square of the last device period, 0.0 to 1.0.
    pub rms: f32,
    /// Largest absolute sample of the last device period, 0.0 to 1.0 (more
    /// if the device delivers out-of-range floats).
    pub peak: f32,
}

/// What the audio thread reports to the caller: only atomics.
#[derive(Debug)]
struct Shared {
    health: Health,
    /// Samples (at the device rate) dropped because the ring was full.
    overruns: AtomicU64,
    /// [`Level::rms`] as `f32` bits.
    rms: AtomicU32,
    /// [`Level::peak`] as `f32` bits.
    peak: AtomicU32,
}

/// The device side: everything cpal's input callback touches.
struct Writer {
    ring: Producer<f32>,
    /// Down-mixed samples of the current pass. Allocated once, before the
    /// stream starts; the callback only writes into it, so it never
    /// allocates (checked by the allocation test in `tests/device.rs`).
    scratch: Box<[f32]>,
    channels: usize,
    shared: Arc<Shared>,
}

impl Writer {
    fn new(ring: Producer<f32>, channels: usize, shared: Arc<Shared>) -> Self {
        let scratch = vec![0.0; SCRATCH_FRAMES].into_boxed_slice();
        Self {
            ring,
            scratch,
            channels,
            shared,
        }
    }

    /// The data callback body: interleaved device samples in, mono into the
    /// ring. Real-time safe: no allocation, no lock, no blocking call.
    fn write<T>(&mut self, data: &[T], info: &InputCallbackInfo)
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let stamp = info.timestamp();
        let latency = stamp.callback.saturating_duration_since(stamp.capture);
        self.shared.health.tick(latency);

        for block in data.chunks(self.scratch.len() * self.channels) {
            let frames = block.len() / self.channels;
            let mono = &mut self.scratch[..frames];
            down_mix(block, self.channels, mono);
            self.shared.store_level(mono);

            let (pushed, _) = self.ring.push_partial_slice(mono);
            let dropped = frames - pushed.len();
            if dropped > 0 {
                self.shared
                    .overruns
                    .fetch_add(dropped as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Averages the channels of each interleaved frame of `block` into `mono`.
fn down_mix<T>(block: &[T], channels: usize, mono: &mut [f32])
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let scale = 1.0 / channels as f32;
    for (frame, out) in block.chunks_exact(channels).zip(mono.iter_mut()) {
        let sum: f32 = frame.iter().map(|&s| f32::from_sample(s)).sum();
        *out = sum * scale;
    }
}

impl Shared {
    fn new() -> Self {
        Self {
            health: Health::new(),
            overruns: AtomicU64::new(0),
            rms: AtomicU32::new(0),
            peak: AtomicU32::new(0),
        }
    }

    fn store_level(&self, samples: &[f32]) {
        let (squares, peak) = samples.iter().fold((0.0f32, 0.0f32), |(sq, pk), &s| {
            (sq + s * s, pk.max(s.abs()))
        });
        let rms = (squares / samples.len().max(1) as f32).sqrt();
        self.rms.store(rms.to_bits(), Ordering::Relaxed);
        self.peak.store(peak.to_bits(), Ordering::Relaxed);
    }
}

/// A running recording from an input device, delivering 48 kHz mono.
///
/// Call [`Capture::read_frames`] regularly (well within [`RING_SECONDS`];
/// every 20 to 100 ms suits a live encoder) to take the audio out as 20 ms
/// frames, and
/// [`Capture::stop`] to end the recording and get the rest. Dropping a
/// `Capture` stops the device too, discarding what was not read.
pub struct Capture {
    /// `None` only once `stop` has released it.
    stream: Option<cpal::Stream>,
    ring: Consumer<f32>,
    converter: Converter,
    /// Resampled 48 kHz audio not yet returned as whole frames.
    pending: Vec<f32>,
    shared: Arc<Shared>,
    config: StreamConfig,
    format: SampleFormat,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("config", &self.config)
            .field("format", &self.format)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Opens the input device called `device` (a name from
    /// [`super::list_inputs`]; `None`: the default input) in whatever
    /// configuration it prefers, and starts recording.
    pub fn start(device: Option<&str>) -> Result<Self, DeviceError> {
        let device = find_device(Direction::Input, device)?;
        let supported = device
            .default_input_config()
            .map_err(DeviceError::from_cpal)?;
        let (config, format) = (super::stream_config(&supported), supported.sample_format());
        let channels = super::check_config(&config)?;

        let (producer, ring) = RingBuffer::new((config.sample_rate * RING_SECONDS) as usize);
        let shared = Arc::new(Shared::new());
        let writer = Writer::new(producer, channels, Arc::clone(&shared));
        let stream = build_stream(&device, config, format, writer, &shared)?;
        stream.play().map_err(DeviceError::from_cpal)?;
        tracing::debug!(?config, %format, "capture started");

        let converter = Converter::new(config.sample_rate, SAMPLE_RATE)?;
        Ok(Self {
            stream: Some(stream),
            ring,
            converter,
            pending: Vec::new(),
            shared,
            config,
            format,
        })
    }

    /// Takes the whole 20 ms frames captured since the last call, resampled
    /// to 48 kHz. The remainder waits for the next call or for [`stop`](Self::stop).
    ///
    /// After the device is lost this returns [`DeviceError::Lost`]; the
    /// audio captured until then stays here for `stop` to return.
    pub fn read_frames(&mut self) -> Result<Vec<[f32; FRAME_SAMPLES]>, DeviceError> {
        self.drain_ring()?;
        self.shared.health.check()?;

        let (frames, _) = self.pending.as_chunks::<FRAME_SAMPLES>();
        let frames = frames.to_vec();
        self.pending.drain(..frames.len() * FRAME_SAMPLES);
        Ok(frames)
    }

    /// The loudness of the most recent device period.
    pub fn level(&self) -> Level {
        Level {
            rms: f32::from_bits(self.shared.rms.load(Ordering::Relaxed)),
            peak: f32::from_bits(self.shared.peak.load(Ordering::Relaxed)),
        }
    }

    /// Samples dropped so far (at the device rate) because the caller did
    /// not read for longer than [`RING_SECONDS`].
    pub fn overruns(&self) -> u64 {
        self.shared.overruns.load(Ordering::Relaxed)
    }

    /// Overruns the backend itself reported (the audio thread was not
    /// scheduled in time; ALSA restarts the stream and a short stretch of
    /// input is missing).
    pub fn xruns(&self) -> u64 {
        self.shared.health.xruns()
    }

    /// Other transient errors the backend reported while recording on.
    pub fn stream_errors(&self) -> u64 {
        self.shared.health.errors()
    }

    /// The device's own input latency (capture to callback) as last
    /// reported by the backend.
    pub fn latency(&self) -> Duration {
        self.shared.health.latency()
    }

    /// The device configuration in use: channels and rate as the device
    /// delivers them, before down-mixing and resampling.
    pub fn device_config(&self) -> DeviceConfig {
        DeviceConfig::new(self.config, self.format)
    }

    /// Stops the device and returns everything captured that
    /// [`read_frames`](Self::read_frames) has not returned, including the
    /// partial last frame. If the device was lost, the error carries that
    /// audio.
    pub fn stop(mut self) -> Result<Pcm, StopError> {
        // Releasing the stream joins cpal's thread (or gives up on a stuck
        // one, which writes nothing): nothing enters the ring after this.
        self.release();
        if self.shared.health.errors() > 0 {
            let errors = self.shared.health.errors();
            tracing::debug!(errors, "capture had backend errors");
        }

        let mut pending = std::mem::take(&mut self.pending);
        let drained = drain(&mut self.ring, &mut self.converter, &mut pending)
            .and_then(|()| self.converter.flush(&mut pending))
            .and_then(|()| self.shared.health.check());
        let captured = Pcm::new(pending);
        match drained {
            Ok(()) => Ok(captured),
            Err(error) => Err(StopError { error, captured }),
        }
    }

    fn release(&mut self) {
        if let Some(stream) = self.stream.take() {
            self.shared.health.release(stream);
        }
    }

    fn drain_ring(&mut self) -> Result<(), DeviceError> {
        drain(&mut self.ring, &mut self.converter, &mut self.pending)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.release();
    }
}

/// Moves everything in the ring through the resampler into `out`.
fn drain(
    ring: &mut Consumer<f32>,
    converter: &mut Converter,
    out: &mut Vec<f32>,
) -> Result<(), DeviceError> {
    let chunk = ring
        .read_chunk(ring.slots())
        .map_err(|e| DeviceError::Backend(format!("capture ring: {e}")))?;
    let (first, second) = chunk.as_slices();
    let converted = converter
        .push(first, out)
        .and_then(|()| converter.push(second, out));
    chunk.commit_all();
    converted
}

/// Builds the input stream for the device's sample format.
fn build_stream(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    writer: Writer,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, DeviceError> {
    match format {
        SampleFormat::I8 => typed_stream::<i8>(device, config, writer, shared),
        SampleFormat::I16 => typed_stream::<i16>(device, config, writer, shared),
        SampleFormat::I24 => typed_stream::<cpal::I24>(device, config, writer, shared),
        SampleFormat::I32 => typed_stream::<i32>(device, config, writer, shared),
        SampleFormat::U8 => typed_stream::<u8>(device, config, writer, shared),
        SampleFormat::U16 => typed_stream::<u16>(device, config, writer, shared),
        SampleFormat::U32 => typed_stream::<u32>(device, config, writer, shared),
        SampleFormat::F32 => typed_stream::<f32>(device, config, writer, shared),
        SampleFormat::F64 => typed_stream::<f64>(device, config, writer, shared),
        other => Err(DeviceError::Unsupported(format!("sample format {other}"))),
    }
}

fn typed_stream<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut writer: Writer,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, DeviceError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let errors = Arc::clone(shared);
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data, info| writer.write(data, info),
            move |error| errors.health.record(&error),
            None,
        )
        .map_err(DeviceError::from_cpal)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Stereo i16 down-mixes to the mean of both channels, scaled to -1..1.
    #[test]
    fn down_mix_averages_channels() {
        let stereo: [i16; 6] = [16_384, 0, -32_768, -32_768, 0, 16_384];
        let mut mono = [0.0f32; 3];
        down_mix(&stereo, 2, &mut mono);
        assert_eq!(mono, [0.25, -1.0, 0.25]);
    }

    // u16 is offset binary: 32768 is silence.
    #[test]
    fn down_mix_handles_unsigned() {
        let mut mono = [1.0f32; 2];
        down_mix(&[32_768u16, 49_152], 1, &mut mono);
        assert_eq!(mono, [0.0, 0.5]);
    }

    fn writer_with_ring(capacity: usize, channels: usize) -> (Writer, Consumer<f32>, Arc<Shared>) {
        let (producer, consumer) = RingBuffer::new(capacity);
        let shared = Arc::new(Shared::new());
        (
            Writer::new(producer, channels, Arc::clone(&shared)),
            consumer,
            shared,
        )
    }

    fn info() -> InputCallbackInfo {
        let now = cpal::StreamInstant::from_millis(100);
        let then = cpal::StreamInstant::from_millis(90);
        InputCallbackInfo::new(cpal::InputStreamTimestamp {
            callback: now,
            capture: then,
        })
    }

    // A full ring drops the excess and counts it; the meter shows the block.
    #[test]
    fn full_ring_counts_overruns() {
        let (mut writer, mut ring, shared) = writer_with_ring(100, 2);
        let data = vec![0.5f32; 2 * 150];
        writer.write(&data, &info());
        assert_eq!(ring.slots(), 100);
        assert_eq!(shared.overruns.load(Ordering::Relaxed), 50);
        assert_eq!(ring.pop(), Ok(0.5));
        assert_eq!(f32::from_bits(shared.peak.load(Ordering::Relaxed)), 0.5);
        assert_eq!(shared.health.latency(), Duration::from_millis(10));
    }

    // A period longer than the scratch buffer is handled in passes, whole.
    #[test]
    fn long_period_is_split_not_truncated() {
        let (mut writer, ring, shared) = writer_with_ring(3 * SCRATCH_FRAMES, 1);
        let data: Vec<f32> = (0..2 * SCRATCH_FRAMES + 5)
            .map(|i| (i % 7) as f32 / 10.0)
            .collect();
        writer.write(&data, &info());
        assert_eq!(ring.slots(), data.len());
        assert_eq!(shared.overruns.load(Ordering::Relaxed), 0);
    }
}
