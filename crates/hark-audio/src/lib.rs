//! Audio for Hark: files in, 48 kHz mono Opus packets out, and back again.
//!
//! Everything inside the crate works on one shape of audio, [`Pcm`]: mono
//! `f32` samples at [`SAMPLE_RATE`] (48 kHz), cut into 20 ms frames of
//! [`FRAME_SAMPLES`] for Opus.
//!
//! | module | what it does |
//! |---|---|
//! | [`import`] | sniffs and decodes WAV (via `symphonia`) and Ogg Opus (via `ogg` + libopus), down-mixes to mono, resamples to 48 kHz (via `rubato`) |
//! | [`codec`] | Opus encoder/decoder for 20 ms mono frames, and whole-clip [`codec::encode_pcm`] / [`codec::decode_packets`] with the pre-skip convention |
//! | [`export`] | writes packets as an Ogg Opus file (RFC 7845) and PCM as a 16-bit WAV |
//! | [`quality`] | objective comparison of decoded speech with its original (log-spectral distance) |
//! | [`jitter`] | the adaptive, bounded jitter buffer and [`jitter::Player`] for live playout |
//! | [`device`] | microphone capture and speaker playback through cpal, with a lock-free ring between the audio callback and the rest |
//! | `opus_head` (private) | the RFC 7845 identification header, shared by import and export |
//!
//! There is no network or crypto here; sealing packets is the node's job.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod codec;
pub mod device;
pub mod export;
pub mod import;
pub mod jitter;
mod opus_head;
pub mod quality;

use std::time::Duration;

pub use import::MAX_SECONDS;

/// The one sample rate used everywhere after import (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;

/// Samples in one 20 ms Opus frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 960;

/// Mono audio at [`SAMPLE_RATE`], nominally in `-1.0..=1.0`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pcm {
    /// The samples, one per 1/48000 s.
    pub samples: Vec<f32>,
}

impl Pcm {
    /// Wraps samples that are already mono at [`SAMPLE_RATE`].
    pub fn new(samples: Vec<f32>) -> Self {
        Self { samples }
    }

    /// How long the audio plays.
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.samples.len() as u64)
    }
}

/// Converts a count of 48 kHz samples to a duration, exactly to the
/// nanosecond (1/48000 s is not a whole number of nanoseconds).
pub(crate) fn samples_to_duration(samples: u64) -> Duration {
    let rate = u64::from(SAMPLE_RATE);
    let whole = samples / rate;
    let nanos = (samples % rate) * 1_000_000_000 / rate;
    Duration::new(whole, nanos as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A second and a half of samples lasts 1.5 s; a single sample 20833 ns.
    #[test]
    fn duration_counts_samples_at_48k() {
        let pcm = Pcm::new(vec![0.0; 72_000]);
        assert_eq!(pcm.duration(), Duration::from_millis(1500));
        assert_eq!(samples_to_duration(1), Duration::from_nanos(20_833));
    }
}
