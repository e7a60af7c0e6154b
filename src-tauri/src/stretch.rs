//! Faster playback that keeps the voice's pitch: a waveform-similarity
//! overlap-add (WSOLA) time-stretch, written for speech at 48 kHz.
//!
//! Output is built from 20 ms Hann-windowed grains placed every 10 ms. The
//! grain for output step `k` is read near input position `k * 10 ms *
//! speed`; within ±2.5 ms of that point the start that best continues the
//! previous grain (highest cross-correlation on a decimated window) is
//! taken, so periods line up and no pitch change or phasing is heard.
//! Hann windows at 50 % overlap sum to one, so the level is unchanged.

use std::f32::consts::PI;

/// Grain length in samples (20 ms).
const GRAIN: usize = 960;
/// Output hop (10 ms): half a grain.
const HOP: usize = GRAIN / 2;
/// How far the grain start may move to match the previous grain (2.5 ms).
const TOLERANCE: usize = 120;
/// Samples compared when matching, and the stride through them: enough to
/// catch a voice period, cheap enough for a debug build.
const MATCH_LEN: usize = 240;
const MATCH_STRIDE: usize = 4;

/// Streams a clip at `speed` (1.0 = as recorded), one 10 ms block at a time.
pub struct Stretcher<'a> {
    input: &'a [f32],
    speed: f64,
    window: Vec<f32>,
    /// The second half of the previous grain, still to be added.
    tail: Vec<f32>,
    /// Output steps taken so far.
    step: u64,
    /// Where output step 0 started in the input.
    origin: usize,
    /// Input position of the previous grain's start.
    previous: Option<usize>,
}

impl<'a> Stretcher<'a> {
    /// Starts playing `input` from sample `start` at `speed` (clamped to
    /// 0.5..=3.0).
    pub fn new(input: &'a [f32], start: usize, speed: f64) -> Stretcher<'a> {
        let window = (0..GRAIN)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / GRAIN as f32).cos())
            .collect();
        Stretcher {
            input,
            speed: speed.clamp(0.5, 3.0),
            window,
            tail: vec![0.0; HOP],
            step: 0,
            origin: start.min(input.len()),
            previous: None,
        }
    }

    /// The input position (in samples) being heard now.
    pub fn position(&self) -> usize {
        self.nominal(self.step).min(self.input.len())
    }

    /// The next 10 ms of output, or `None` at the end of the clip.
    pub fn next_block(&mut self) -> Option<Vec<f32>> {
        let nominal = self.nominal(self.step);
        if nominal >= self.input.len() {
            return None;
        }
        let start = self.best_start(nominal);
        let grain = self.grain(start);

        let mut out = std::mem::take(&mut self.tail);
        for (o, g) in out.iter_mut().zip(&grain[..HOP]) {
            *o += g;
        }
        self.tail = grain[HOP..].to_vec();
        self.previous = Some(start);
        self.step += 1;
        Some(out)
    }

    fn nominal(&self, step: u64) -> usize {
        self.origin + (step as f64 * HOP as f64 * self.speed) as usize
    }

    /// The windowed grain starting at input sample `start`, zero past the end.
    fn grain(&self, start: usize) -> Vec<f32> {
        (0..GRAIN)
            .map(|i| self.input.get(start + i).copied().unwrap_or(0.0) * self.window[i])
            .collect()
    }

    /// The start near `nominal` that best continues the previous grain.
    fn best_start(&self, nominal: usize) -> usize {
        let Some(previous) = self.previous else {
            return nominal;
        };
        if self.speed == 1.0 {
            return previous + HOP;
        }
        // What would have followed the previous grain in the input.
        let target = previous + HOP;
        let low = nominal.saturating_sub(TOLERANCE);
        let high = nominal + TOLERANCE;
        (low..=high)
            .step_by(2)
            .max_by(|a, b| {
                self.similarity(target, *a)
                    .total_cmp(&self.similarity(target, *b))
            })
            .unwrap_or(nominal)
    }

    fn similarity(&self, a: usize, b: usize) -> f32 {
        (0..MATCH_LEN)
            .step_by(MATCH_STRIDE)
            .map(|i| {
                let x = self.input.get(a + i).copied().unwrap_or(0.0);
                let y = self.input.get(b + i).copied().unwrap_or(0.0);
                x * y
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, seconds: f32) -> Vec<f32> {
        let n = (48_000.0 * seconds) as usize;
        (0..n)
            .map(|i| 0.5 * (2.0 * PI * freq * i as f32 / 48_000.0).sin())
            .collect()
    }

    fn play(input: &[f32], speed: f64) -> Vec<f32> {
        let mut s = Stretcher::new(input, 0, speed);
        std::iter::from_fn(|| s.next_block()).flatten().collect()
    }

    /// Upward zero crossings per second: the pitch of a pure tone.
    fn pitch(samples: &[f32]) -> f32 {
        let body = &samples[4_800..samples.len() - 4_800];
        let ups = body
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        ups as f32 * 48_000.0 / body.len() as f32
    }

    // At 1.5x and 2x the clip lasts 1/1.5 and 1/2 as long.
    #[test]
    fn faster_is_shorter() {
        let input = sine(220.0, 3.0);
        for speed in [1.0, 1.5, 2.0] {
            let out = play(&input, speed);
            let expected = input.len() as f64 / speed;
            let error = (out.len() as f64 - expected).abs();
            assert!(
                error <= HOP as f64,
                "speed {speed}: {} vs {expected}",
                out.len()
            );
        }
    }

    // A 220 Hz tone stays at 220 Hz (within 3 %) at 2x.
    #[test]
    fn pitch_is_kept() {
        let out = play(&sine(220.0, 3.0), 2.0);
        let heard = pitch(&out);
        assert!((heard - 220.0).abs() < 6.6, "pitch {heard} Hz");
    }

    // The level stays the same: windows at 50 % overlap sum to one.
    #[test]
    fn level_is_kept() {
        let input = sine(220.0, 2.0);
        let out = play(&input, 1.5);
        let rms = |s: &[f32]| (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt();
        let ratio = rms(&out[4_800..out.len() - 4_800]) / rms(&input);
        assert!((ratio - 1.0).abs() < 0.05, "level ratio {ratio}");
    }

    // Starting mid-clip reports that position and ends at the clip's end.
    #[test]
    fn start_and_position() {
        let input = vec![0.1; 48_000];
        let mut s = Stretcher::new(&input, 24_000, 2.0);
        assert_eq!(s.position(), 24_000);
        let blocks = std::iter::from_fn(|| s.next_block()).count();
        assert_eq!(blocks, 25);
        assert_eq!(s.position(), 48_000);
    }
}
