//! Streaming sample-rate conversion for devices: audio arrives in pieces of
//! any size, goes through rubato's FFT resampler one fixed input chunk at a
//! time, and comes out without the resampler's start-up delay. At the end,
//! [`Converter::flush`] pushes out the tail so the output lasts exactly as
//! long as the input.
//!
//! This runs on the caller's thread, never in a device callback: it
//! allocates.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::DeviceError;

/// Input frames per resampler call; rubato rounds it to suit the rate pair
/// (44.1 kHz: 1029 frames, 23 ms).
///
/// Known shortcoming: for a rate sharing few factors with 48 kHz (say
/// 44 101 Hz) the rounded chunk grows to about a second, which is then the
/// capture's latency; devices offer standard rates, where it is 10 to 25 ms.
const CHUNK_FRAMES: usize = 1024;

/// Converts a mono stream from one rate to another.
pub(super) struct Converter {
    /// `None` when both rates are equal: samples pass through untouched.
    fft: Option<Fft<f32>>,
    from: u32,
    to: u32,
    /// Input collected towards the next whole chunk.
    input: Vec<f32>,
    /// Room for one chunk's output.
    output: Vec<f32>,
    /// Output samples still to drop: the resampler's delay.
    skip: usize,
    /// Input samples taken since the start (or the last flush).
    consumed: u64,
    /// Output samples emitted since the start (or the last flush).
    produced: u64,
}

impl Converter {
    /// A converter from `from` Hz to `to` Hz.
    pub(super) fn new(from: u32, to: u32) -> Result<Self, DeviceError> {
        let fft = if from == to {
            None
        } else {
            let fft = Fft::new(
                from as usize,
                to as usize,
                CHUNK_FRAMES,
                1,
                FixedSync::Input,
            )
            .map_err(|e| DeviceError::Unsupported(format!("resampling {from} to {to} Hz: {e}")))?;
            Some(fft)
        };
        let (input, output, skip) = match &fft {
            Some(fft) => (
                Vec::with_capacity(fft.input_frames_max()),
                vec![0.0; fft.output_frames_max()],
                fft.output_delay(),
            ),
            None => (Vec::new(), Vec::new(), 0),
        };
        Ok(Self {
            fft,
            from,
            to,
            input,
            output,
            skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// Converts `samples`, appending whatever output is ready to `out`.
    pub(super) fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), DeviceError> {
        self.consumed += samples.len() as u64;
        let Some(chunk) = self.fft.as_ref().map(|f| f.input_frames_next()) else {
            self.produced += samples.len() as u64;
            out.extend_from_slice(samples);
            return Ok(());
        };

        let mut rest = samples;
        while !rest.is_empty() {
            let room = chunk - self.input.len();
            let (taken, tail) = rest.split_at(room.min(rest.len()));
            self.input.extend_from_slice(taken);
            rest = tail;
            if self.input.len() == chunk {
                self.run(None, out)?;
            }
        }
        Ok(())
    }

    /// Emits the rest of the stream so that, in total, the output lasts as
    /// long as the input (to the nearest sample), then starts afresh.
    pub(super) fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), DeviceError> {
        let target = self.expected_output();
        let before = out.len();
        if self.fft.is_some() {
            // The partial chunk, then silence until the delayed tail is out.
            let partial = self.input.len();
            self.run(Some(partial), out)?;
            while self.produced < target {
                self.run(Some(0), out)?;
            }
        }

        // rubato works in whole chunks: cut what lies past the true end.
        let excess = self.produced.saturating_sub(target) as usize;
        out.truncate(out.len() - excess.min(out.len() - before));
        self.reset();
        Ok(())
    }

    /// Output samples lasting as long as the input consumed so far.
    fn expected_output(&self) -> u64 {
        let (from, to) = (u128::from(self.from), u128::from(self.to));
        ((u128::from(self.consumed) * to + from / 2) / from) as u64
    }

    /// Resamples the collected input (`partial`: only that many samples of
    /// it are real, the rest counts as silence) and appends the output.
    fn run(&mut self, partial: Option<usize>, out: &mut Vec<f32>) -> Result<(), DeviceError> {
        let failed = |e: &dyn std::fmt::Display| DeviceError::Backend(format!("resampling: {e}"));
        let Some(fft) = self.fft.as_mut() else {
            return Ok(());
        };
        let input =
            InterleavedSlice::new(&self.input[..], 1, self.input.len()).map_err(|e| failed(&e))?;
        let frames = self.output.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.output[..], 1, frames).map_err(|e| failed(&e))?;
        let indexing = Indexing {
            partial_len: partial,
            ..Indexing::default()
        };
        let (_, written) = fft
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| failed(&e))?;
        self.input.clear();

        let dropped = self.skip.min(written);
        self.skip -= dropped;
        out.extend_from_slice(&self.output[dropped..written]);
        self.produced += (written - dropped) as u64;
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(fft) = self.fft.as_mut() {
            fft.reset();
            self.skip = fft.output_delay();
        }
        self.input.clear();
        self.consumed = 0;
        self.produced = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn tone(freq: f32, rate: u32, samples: usize) -> Vec<f32> {
        (0..samples)
            .map(|i| 0.5 * (TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Feeds `input` in uneven pieces (7, 480, 1, 2000, ...) and flushes.
    fn convert(from: u32, to: u32, input: &[f32]) -> Result<Vec<f32>, DeviceError> {
        let mut converter = Converter::new(from, to)?;
        let mut out = Vec::new();
        let sizes = [7, 480, 1, 2000, 333].iter().cycle();
        let mut rest = input;
        for &size in sizes {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            converter.push(piece, &mut out)?;
            rest = tail;
        }
        converter.flush(&mut out)?;
        Ok(out)
    }

    // Streaming 44.1 kHz to 48 kHz in odd pieces keeps the duration exactly
    // and lines up with the same tone generated at 48 kHz (no delay left).
    #[test]
    fn streams_without_delay_or_drift() -> Result<(), DeviceError> {
        let out = convert(44_100, 48_000, &tone(440.0, 44_100, 44_100))?;
        assert_eq!(out.len(), 48_000);

        let reference = tone(440.0, 48_000, 48_000);
        let error: f32 = out[4_800..43_200]
            .iter()
            .zip(&reference[4_800..43_200])
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            / 38_400.0;
        assert!(error < 1e-4, "mean squared error {error}");
        Ok(())
    }

    // Down to 16 kHz and back up: same length, and the flush resets the
    // converter so a second clip comes out just as long.
    #[test]
    fn flush_resets_for_the_next_clip() -> Result<(), DeviceError> {
        let mut converter = Converter::new(48_000, 16_000)?;
        for _ in 0..2 {
            let mut out = Vec::new();
            converter.push(&tone(300.0, 48_000, 12_345), &mut out)?;
            converter.flush(&mut out)?;
            assert_eq!(out.len(), 4_115);
        }
        Ok(())
    }

    // Equal rates pass samples through unchanged.
    #[test]
    fn equal_rates_pass_through() -> Result<(), DeviceError> {
        let input = tone(1_000.0, 48_000, 5_000);
        assert_eq!(convert(48_000, 48_000, &input)?, input);
        Ok(())
    }
}
