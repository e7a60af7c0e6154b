//! Audio devices through cpal: list them, record from one as 48 kHz mono
//! 20 ms frames, play 48 kHz mono to one.
//!
//! | module | what it does |
//! |---|---|
//! | this one | [`list_inputs`] / [`list_outputs`], device lookup by name |
//! | `capture` | [`Capture`]: device callback → lock-free ring → resampler → frames |
//! | `playback` | [`Playback`]: samples → resampler → lock-free ring → device callback |
//! | `resample` | streaming rate conversion (rubato FFT) that keeps durations exact |
//! | `health` | is the stream alive: reported errors, xruns, a callback watchdog ([`STALL`]) |
//! | `error` | [`DeviceError`], [`StopError`] |
//!
//! Devices are opened in the configuration they prefer (any rate, channel
//! count and sample format cpal knows); conversion to and from 48 kHz mono
//! happens here. The device callbacks run on cpal's audio thread and only
//! move samples between a fixed scratch buffer and an `rtrb` ring: they
//! never allocate, lock or block. Resampling and framing happen on the
//! caller's thread.
//!
//! On Linux cpal uses ALSA; with PulseAudio or PipeWire running, ALSA's
//! `default` and `pulse` devices reach the sound server through the `pulse`
//! plugin (package libasound2-plugins).

mod capture;
mod error;
mod health;
mod playback;
mod resample;

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{
    BufferSize, SampleFormat, StreamConfig, SupportedBufferSize, SupportedStreamConfig,
    SupportedStreamConfigRange,
};

pub use capture::{Capture, Level, RING_SECONDS};
pub use error::{DeviceError, StopError};
pub use health::STALL;
pub use playback::Playback;

/// Milliseconds per device period the streams ask for. ALSA buffers two
/// periods, so the audio thread may be held up for up to 80 ms on a busy
/// machine without a gap; for recorded messages the latency is irrelevant,
/// and a level meter still moves 25 times a second.
const PERIOD_MS: u32 = 40;

/// Rates listed in [`DeviceInfo::sample_rates`] when a device accepts a range.
const COMMON_RATES: [u32; 11] = [
    8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
];

/// One device as [`list_inputs`] or [`list_outputs`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// What to pass to [`Capture::start`] or [`Playback::start`]: the
    /// backend's stable id (with ALSA, the PCM name such as `pulse` or
    /// `hw:CARD=0,DEV=0`).
    pub name: String,
    /// A human-readable description for a device picker.
    pub description: String,
    /// Whether this is the system's default device in that direction.
    pub is_default: bool,
    /// Sample rates the device accepts, ascending (common rates within the
    /// ranges it advertises, or the range ends when none is common).
    pub sample_rates: Vec<u32>,
    /// Channel counts the device accepts, ascending.
    pub channels: Vec<u16>,
}

/// How an open device delivers or takes audio, before conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// The sample format as cpal names it (`i16`, `u16`, `f32`, ...).
    pub sample_format: String,
    /// Frames per period requested from the device (two periods are
    /// buffered); `None` when the device left it at its own default.
    pub period_frames: Option<u32>,
}

impl DeviceConfig {
    fn new(config: StreamConfig, format: SampleFormat) -> Self {
        Self {
            channels: config.channels,
            sample_rate: config.sample_rate,
            sample_format: format.to_string(),
            period_frames: match config.buffer_size {
                BufferSize::Fixed(frames) => Some(frames),
                _ => None,
            },
        }
    }
}

/// The input devices that can be opened, default first.
///
/// Known shortcoming: with ALSA this opens every PCM the configuration
/// names, and some plugins (`jack`, `oss`) print their failure to stderr
/// themselves; cpal offers no way to quiet them. Those devices are left out.
pub fn list_inputs() -> Result<Vec<DeviceInfo>, DeviceError> {
    list(Direction::Input)
}

/// The output devices that can be opened, default first (same caveat as
/// [`list_inputs`]).
pub fn list_outputs() -> Result<Vec<DeviceInfo>, DeviceError> {
    list(Direction::Output)
}

/// Which way audio flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

impl Direction {
    fn default_device(self, host: &cpal::Host) -> Option<cpal::Device> {
        match self {
            Self::Input => host.default_input_device(),
            Self::Output => host.default_output_device(),
        }
    }

    fn supported_by(self, device: &cpal::Device) -> bool {
        match self {
            Self::Input => device.supports_input(),
            Self::Output => device.supports_output(),
        }
    }

    fn configs(
        self,
        device: &cpal::Device,
    ) -> Result<Vec<SupportedStreamConfigRange>, cpal::Error> {
        Ok(match self {
            Self::Input => device.supported_input_configs()?.collect(),
            Self::Output => device.supported_output_configs()?.collect(),
        })
    }
}

fn list(direction: Direction) -> Result<Vec<DeviceInfo>, DeviceError> {
    let host = cpal::default_host();
    let default_id = direction.default_device(&host).and_then(|d| d.id().ok());
    let devices = host.devices().map_err(DeviceError::from_cpal)?;

    let mut infos: Vec<DeviceInfo> = devices
        .filter(|device| direction.supported_by(device))
        .filter_map(|device| describe(&device, direction, default_id.as_ref()))
        .collect();
    infos.sort_by_key(|info| !info.is_default);
    Ok(infos)
}

/// Describes a device, or `None` when it cannot be opened in `direction`
/// (ALSA lists plugins that only work in some setups, e.g. `jack`).
fn describe(
    device: &cpal::Device,
    direction: Direction,
    default_id: Option<&cpal::DeviceId>,
) -> Option<DeviceInfo> {
    let id = device.id().ok()?;
    let ranges = match direction.configs(device) {
        Ok(ranges) if !ranges.is_empty() => ranges,
        Ok(_) => return None,
        Err(error) => {
            tracing::debug!(device = id.id(), %error, "device skipped: cannot query configs");
            return None;
        }
    };
    let description = device
        .description()
        .map_or_else(|_| id.id().to_owned(), |d| d.name().to_owned());

    let mut channels: Vec<u16> = ranges.iter().map(|r| r.channels()).collect();
    channels.sort_unstable();
    channels.dedup();
    Some(DeviceInfo {
        name: id.id().to_owned(),
        description,
        is_default: default_id == Some(&id),
        sample_rates: sample_rates(&ranges),
        channels,
    })
}

/// The common rates inside any of `ranges`, or the range ends if none is.
fn sample_rates(ranges: &[SupportedStreamConfigRange]) -> Vec<u32> {
    let mut rates: Vec<u32> = COMMON_RATES
        .into_iter()
        .filter(|&rate| ranges.iter().any(|r| r.contains_rate(rate)))
        .collect();
    if rates.is_empty() {
        rates = ranges
            .iter()
            .flat_map(|r| [r.min_sample_rate(), r.max_sample_rate()])
            .collect();
    }
    rates.sort_unstable();
    rates.dedup();
    rates
}

/// The device named `name` (by id, or by description), or the default one.
fn find_device(direction: Direction, name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let default = direction.default_device(&host);
    let Some(name) = name else {
        return default.ok_or(DeviceError::NoDevice);
    };

    let devices = host.devices().map_err(DeviceError::from_cpal)?;
    default
        .into_iter()
        .chain(devices.filter(|device| direction.supported_by(device)))
        .find(|device| is_named(device, name))
        .ok_or_else(|| DeviceError::NotFound(name.to_owned()))
}

fn is_named(device: &cpal::Device, name: &str) -> bool {
    device.id().is_ok_and(|id| id.id() == name)
        || device.description().is_ok_and(|d| d.name() == name)
}

/// The device's preferred configuration, with a [`PERIOD_MS`] period when
/// the device says which periods it accepts (else its default period).
fn stream_config(supported: &SupportedStreamConfig) -> StreamConfig {
    let mut config = supported.config();
    if let SupportedBufferSize::Range { min, max } = *supported.buffer_size() {
        let wanted = config.sample_rate / 1_000 * PERIOD_MS;
        if min <= max {
            config.buffer_size = BufferSize::Fixed(wanted.clamp(min, max));
        }
    }
    config
}

/// Highest device rate accepted: rings are sized by the rate, and no
/// real device goes beyond this.
const MAX_RATE: u32 = 768_000;

/// Refuses configurations the callbacks cannot work with; returns the
/// channel count.
fn check_config(config: &StreamConfig) -> Result<usize, DeviceError> {
    if config.channels == 0 || config.sample_rate == 0 || config.sample_rate > MAX_RATE {
        return Err(DeviceError::Unsupported(format!(
            "device offers {} channels at {} Hz",
            config.channels, config.sample_rate
        )));
    }
    Ok(usize::from(config.channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supported(rate: u32, buffer: SupportedBufferSize) -> SupportedStreamConfig {
        SupportedStreamConfig::new(2, rate, buffer, SampleFormat::F32)
    }

    // A 40 ms period is asked for within what the device accepts; a device
    // that does not say keeps its default.
    #[test]
    fn period_is_clamped_to_the_device_range() {
        let wide = supported(
            48_000,
            SupportedBufferSize::Range {
                min: 64,
                max: 8_192,
            },
        );
        assert_eq!(stream_config(&wide).buffer_size, BufferSize::Fixed(1_920));
        let narrow = supported(
            48_000,
            SupportedBufferSize::Range {
                min: 64,
                max: 1_024,
            },
        );
        assert_eq!(stream_config(&narrow).buffer_size, BufferSize::Fixed(1_024));
        let unknown = supported(44_100, SupportedBufferSize::Unknown);
        assert_eq!(stream_config(&unknown).buffer_size, BufferSize::Default);
    }

    // Zero channels, zero or absurd rates are refused before any buffer is sized.
    #[test]
    fn impossible_configs_are_refused() {
        let config = |channels, sample_rate| StreamConfig {
            channels,
            sample_rate,
            buffer_size: BufferSize::Default,
        };
        assert_eq!(check_config(&config(2, 48_000)), Ok(2));
        assert!(matches!(
            check_config(&config(0, 48_000)),
            Err(DeviceError::Unsupported(_))
        ));
        assert!(matches!(
            check_config(&config(1, 0)),
            Err(DeviceError::Unsupported(_))
        ));
        assert!(matches!(
            check_config(&config(1, 1_000_000_000)),
            Err(DeviceError::Unsupported(_))
        ));
    }
}
