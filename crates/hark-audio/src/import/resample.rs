//! Sample-rate conversion to 48 kHz with rubato's FFT resampler: the rate
//! pair is fixed for a whole clip, which is what the synchronous,
//! band-limited (anti-aliased) FFT resampler is for.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::ImportError;
use crate::SAMPLE_RATE;

/// Input frames per resampler call; rubato rounds it to suit the rate pair.
const CHUNK_FRAMES: usize = 1024;

/// Resamples a mono clip from `rate` to 48 kHz, keeping its duration
/// (output length is `len * 48000 / rate`, rounded) and removing the
/// resampler's own delay.
pub(super) fn to_48k(mono: Vec<f32>, rate: u32) -> Result<Vec<f32>, ImportError> {
    if rate == SAMPLE_RATE {
        return Ok(mono);
    }
    let failed = |e: &dyn std::fmt::Display| {
        ImportError::Unsupported(format!("cannot resample from {rate} Hz: {e}"))
    };
    let mut resampler = Fft::<f32>::new(
        rate as usize,
        SAMPLE_RATE as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|e| failed(&e))?;

    let input = InterleavedSlice::new(&mono[..], 1, mono.len()).map_err(|e| failed(&e))?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| failed(&e))?;

    // rubato sizes its output with a float ceil, which can add a sample.
    let mut samples = output.take_data();
    samples.truncate(output_len(mono.len(), rate));
    Ok(samples)
}

/// Samples at 48 kHz lasting as long as `frames` at `rate`, to the nearest sample.
fn output_len(frames: usize, rate: u32) -> usize {
    let (rate, target) = (u128::from(rate), u128::from(SAMPLE_RATE));
    ((frames as u128 * target + rate / 2) / rate) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn tone(freq: f32, rate: u32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| 0.5 * (TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    // One second at 22.05 kHz becomes exactly one second at 48 kHz, and a
    // 1 kHz tone keeps its level (RMS of a 0.5 sine is 0.354).
    #[test]
    fn keeps_length_and_level() -> Result<(), ImportError> {
        let out = to_48k(tone(1_000.0, 22_050, 22_050), 22_050)?;
        assert_eq!(out.len(), 48_000);
        let middle = rms(&out[4_800..43_200]);
        assert!((middle - 0.354).abs() < 0.01, "rms {middle}");
        Ok(())
    }

    // Band-limited: a 30 kHz tone at 96 kHz is above 48 kHz's Nyquist
    // frequency and must be filtered out, not folded down as an alias.
    #[test]
    fn removes_content_above_nyquist() -> Result<(), ImportError> {
        let out = to_48k(tone(30_000.0, 96_000, 96_000), 96_000)?;
        assert_eq!(out.len(), 48_000);
        let level = rms(&out[4_800..43_200]);
        assert!(level < 0.005, "aliased rms {level}");
        Ok(())
    }

    // An awkward rate (gcd with 48000 is 1) still resamples, to the right length.
    #[test]
    fn coprime_rate_works() -> Result<(), ImportError> {
        let out = to_48k(tone(440.0, 44_101, 44_101 / 2), 44_101)?;
        assert_eq!(out.len(), 23_999);
        Ok(())
    }
}
