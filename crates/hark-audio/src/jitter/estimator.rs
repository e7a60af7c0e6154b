//! The target playout delay, measured from frame transit times.
//!
//! # Method
//!
//! A frame's *transit* is when it arrived minus when it should have arrived
//! had the network taken no time: `transit(i) = (arrived(i) - arrived(o)) -
//! (i - o) * 20 ms`, relative to the first frame `o` the buffer saw. The
//! sender and receiver clocks are never compared, so the unknown base
//! latency cancels out; only differences between transits mean anything.
//!
//! Over the last [`WINDOW`] frames the estimator keeps the fastest transit
//! (the *floor*) and the 95th percentile. A frame played `floor + d` after
//! its nominal time is on time when its transit is at most that, so
//! `d = p95 - floor` plays 95 % of frames on time. The target adds one
//! frame of headroom for the playout clock itself (the device pulls audio
//! every 20 ms at a phase unrelated to arrivals) and is clamped to the
//! configured minimum and maximum.
//!
//! # Why a percentile, not a mean deviation
//!
//! Jitter on a LAN, Wi-Fi above all, is heavy-tailed: most frames within a
//! millisecond, a few 50 to 150 ms late when the radio sleeps or retries.
//! An average of `|transit - mean|` (RFC 3550's interarrival jitter, or an
//! EWMA of it) is dominated by the many quiet frames and sits far below the
//! tail that actually makes frames late; scaling it by a factor guesses at
//! the shape of the tail. A percentile reads the tail directly and says what
//! it buys: at most about 5 % of frames later than the target. Over 100
//! frames the 95th percentile is the 6th-largest transit, so one stray frame
//! does not move it, while a changed network shows within two seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames whose transits are kept: 2 s of audio.
pub(super) const WINDOW: usize = 100;

/// Share of frames, in percent, the target delay should have on time.
const PERCENTILE: usize = 95;

/// One 20 ms frame, in microseconds.
pub(super) const FRAME_US: i64 = 20_000;

/// Transit measurements and the target delay derived from them.
#[derive(Debug, Clone)]
pub(super) struct Estimator {
    /// First frame seen: its arrival and index; transits are relative to it.
    origin: Option<(Instant, u64)>,
    /// Transits of the last [`WINDOW`] frames, in microseconds, oldest first.
    window: VecDeque<i64>,
    /// Scratch space for sorting the window, kept to avoid an allocation per frame.
    sorted: Vec<i64>,
    /// Fastest transit in the window, in microseconds.
    floor: i64,
    min_delay: Duration,
    max_delay: Duration,
    target: Duration,
}

impl Estimator {
    /// An estimator whose target starts at `min_delay` and stays within
    /// `min_delay..=max_delay` (the caller ensures `min_delay <= max_delay`).
    pub(super) fn new(min_delay: Duration, max_delay: Duration) -> Self {
        Self {
            origin: None,
            window: VecDeque::with_capacity(WINDOW),
            sorted: Vec::with_capacity(WINDOW),
            floor: 0,
            min_delay,
            max_delay,
            target: min_delay,
        }
    }

    /// Records that frame `index` arrived at `arrived` and updates the target.
    pub(super) fn observe(&mut self, index: u64, arrived: Instant) {
        let origin = *self.origin.get_or_insert((arrived, index));
        if self.window.len() == WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(transit(origin, index, arrived));

        self.sorted.clear();
        self.sorted.extend(&self.window);
        self.sorted.sort_unstable();
        self.floor = self.sorted[0];
        let rank = (self.sorted.len() * PERCENTILE).div_ceil(100) - 1;
        let jitter = self.sorted[rank] - self.floor;
        self.target = clamp(jitter + FRAME_US, self.min_delay, self.max_delay);
    }

    /// How long frame `index` will have waited beyond the fastest recent
    /// transit if it is played at `now`, in microseconds (negative: it is
    /// played before even the fastest frame could have arrived). `None`
    /// before any frame was seen.
    pub(super) fn delay_us(&self, index: u64, now: Instant) -> Option<i64> {
        let origin = self.origin?;
        Some(transit(origin, index, now).saturating_sub(self.floor))
    }

    /// The current target delay.
    pub(super) fn target(&self) -> Duration {
        self.target
    }

    /// The current target delay in microseconds.
    pub(super) fn target_us(&self) -> i64 {
        micros(self.target)
    }
}

/// Transit of frame `index` observed at `at`, relative to `origin`, in µs.
/// Indices are at most 2^32, so the products fit an `i64` with room to spare.
fn transit((origin_at, origin_index): (Instant, u64), index: u64, at: Instant) -> i64 {
    let elapsed = signed_micros(at, origin_at);
    let frames = index as i64 - origin_index as i64;
    elapsed.saturating_sub(frames.saturating_mul(FRAME_US))
}

/// `a - b` in microseconds, negative when `a` is earlier.
fn signed_micros(a: Instant, b: Instant) -> i64 {
    match a.checked_duration_since(b) {
        Some(after) => micros(after),
        None => -micros(b.duration_since(a)),
    }
}

/// A duration in whole microseconds, saturating (`i64` holds 292,000 years).
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// `us` microseconds as a duration within `min..=max`.
fn clamp(us: i64, min: Duration, max: Duration) -> Duration {
    let us = u64::try_from(us).unwrap_or(0);
    Duration::from_micros(us).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(40);
    const MAX: Duration = Duration::from_millis(300);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // Frames exactly 20 ms apart have no jitter: the target is the minimum.
    #[test]
    fn steady_arrivals_keep_the_minimum() {
        let t0 = Instant::now();
        let mut estimator = Estimator::new(MIN, MAX);
        for i in 0..50 {
            estimator.observe(i, t0 + ms(20 * i));
        }
        assert_eq!(estimator.target(), MIN);
        assert_eq!(estimator.delay_us(50, t0 + ms(1_040)), Some(40_000));
    }

    // Every 10th frame 100 ms late (10 % > 5 %): the target covers them,
    // plus one frame of headroom.
    #[test]
    fn tail_sets_the_target() {
        let t0 = Instant::now();
        let mut estimator = Estimator::new(MIN, MAX);
        for i in 0..100 {
            let late = if i % 10 == 5 { 100 } else { 0 };
            estimator.observe(i, t0 + ms(20 * i + late));
        }
        assert_eq!(estimator.target(), ms(120));
    }

    // One stray frame in a full window does not move the 95th percentile.
    #[test]
    fn one_outlier_is_ignored_in_a_full_window() {
        let t0 = Instant::now();
        let mut estimator = Estimator::new(MIN, MAX);
        for i in 0..100 {
            let late = if i == 70 { 250 } else { 0 };
            estimator.observe(i, t0 + ms(20 * i + late));
        }
        assert_eq!(estimator.target(), MIN);
    }

    // Jitter beyond the maximum is clamped to it.
    #[test]
    fn target_is_clamped_to_the_maximum() {
        let t0 = Instant::now();
        let mut estimator = Estimator::new(MIN, MAX);
        estimator.observe(0, t0);
        estimator.observe(1, t0 + ms(2_000));
        assert_eq!(estimator.target(), MAX);
    }

    // An arrival before the origin, and indices at the ends of u32, give
    // finite transits instead of overflowing.
    #[test]
    fn extreme_inputs_stay_finite() {
        let t0 = Instant::now() + ms(1_000);
        let mut estimator = Estimator::new(MIN, MAX);
        estimator.observe(u64::from(u32::MAX), t0);
        estimator.observe(0, t0 - ms(500));
        assert_eq!(estimator.delay_us(u64::from(u32::MAX), t0), Some(0));
        let early = u64::from(u32::MAX) * 20_000 - 500_000;
        assert_eq!(estimator.delay_us(0, t0 - ms(500)), Some(early as i64));
        assert_eq!(estimator.target(), MAX);
    }
}
