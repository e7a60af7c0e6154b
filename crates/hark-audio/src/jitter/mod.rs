//! Live playout of a message's Opus frames as they arrive: an adaptive
//! jitter buffer, and a [`Player`] that couples it to a [`Decoder`].
//!
//! While a sender holds push-to-talk, each 20 ms frame (index 0, 1, 2, ...)
//! is sent at once. Receivers get them with jitter, sometimes reordered,
//! duplicated or lost. [`JitterBuffer::push`] takes them as they come;
//! [`JitterBuffer::pop`] is called once per 20 ms of audio the device plays
//! and says what fills that slot ([`Playout`]).
//!
//! # Playout model
//!
//! The device clock drives playout: after the start, every `pop` is one
//! slot, and the index advances by one per slot except when the buffer
//! *stretches*. There is no wall-clock gate on slots, so the caller's
//! audio clock, not a timer, decides the playback rate.
//!
//! - **Start.** `pop` returns `None` until the lowest buffered frame has
//!   waited the target delay (measured against the fastest recent transit,
//!   see `estimator`; in any case no longer than `max_delay` since it
//!   arrived), or until [`JitterBuffer::finish`] says no more frames come.
//!   Playout starts at the lowest index that arrived: there is nothing to
//!   conceal before the first frame.
//! - **Frame present:** [`Playout::Frame`].
//! - **Frame missing, buffer at or above its target delay:** the frame is
//!   lost for playout: [`Playout::Recover`] when the following frame is
//!   here (its Opus in-band FEC, if any, rebuilds the missing one), else
//!   [`Playout::Lost`]. If it arrives later it is dropped and counted late.
//! - **Frame missing, buffer below its target delay:** [`Playout::Stretch`]:
//!   the slot is concealed but the index is kept, so the delay grows by one
//!   frame toward the target. Stretching only happens in slots that would
//!   be concealed anyway, so it never cuts into audio that is present; the
//!   price is that a live message plays a little longer than it was. It
//!   stops once the next buffered frame has waited `max_delay`.
//! - **Stalled:** when nothing is buffered and nothing arrived for
//!   `max_delay`, the sender stopped or the network is down: `pop` returns
//!   `None` and the buffer goes back to buffering (a new start after the
//!   target delay if frames come again).
//! - **End:** after [`JitterBuffer::finish`]`(last)`, frames up to `last`
//!   play out and then `pop` returns `None`. Missing frames are concealed
//!   by the rules above; a missing tail is concealed until the stall rule
//!   ends it.
//!
//! Memory is bounded by [`Config::max_frames`], whatever arrives: pushing
//! into a full buffer drops its oldest frame.
//!
//! The delay never shrinks within a message: after a burst of jitter, the
//! extra delay (at most `max_delay`) stays until the message ends, because
//! shrinking means dropping audio that is present or time-scaling it, and
//! neither is implemented. To carry what one message taught into the
//! sender's next one, start the next buffer with
//! `Config { min_delay: previous.stats().target_delay, .. }`.
//!
//! | item | role |
//! |---|---|
//! | [`JitterBuffer`] | reorders, deduplicates and schedules packets |
//! | `estimator` (private) | target delay from the 95th percentile of transit times |
//! | [`Player`] | buffer + decoder: 960 samples per slot, concealment included |
//! | [`Slot`] | one slot of [`Player`] output, with the index it decoded |

mod estimator;
mod player;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use estimator::Estimator;
pub use player::{Player, Slot};

#[cfg(doc)]
use crate::codec::Decoder;

/// Bits of played-frame history, to tell a duplicate of a played frame
/// from a late one.
const HISTORY: u64 = 64;

/// Limits of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Shortest delay the target may have, and the delay of the first start.
    pub min_delay: Duration,
    /// Longest delay the target may have; also how long a buffer with nothing
    /// in it waits for the next frame before it counts as stalled. Raised to
    /// `min_delay` if smaller.
    pub max_delay: Duration,
    /// Most frames held at once (at least 1). Should cover `max_delay`
    /// (15 frames for 300 ms) plus bursts; a full buffer drops its oldest frame.
    pub max_frames: usize,
}

impl Default for Config {
    /// 40 ms to 300 ms of delay, at most 50 frames (1 s of audio).
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(300),
            max_frames: 50,
        }
    }
}

/// What fills one 20 ms playout slot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Playout {
    /// The packet of the next index: decode it.
    Frame(Vec<u8>),
    /// The next index is lost for playout: conceal it (Opus PLC).
    Lost,
    /// The next index is lost but the following packet is here: decode the
    /// missing frame from its in-band FEC if it carries any, else conceal.
    /// `next_packet` is a copy; it is still played at the next slot.
    Recover {
        /// The packet of the index after the missing one.
        next_packet: Vec<u8>,
    },
    /// The next frame is late and the buffer is below its target delay:
    /// conceal this slot without consuming the index, growing the delay by
    /// one frame.
    Stretch,
}

/// Counters of a [`JitterBuffer`] since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Frames handed out as [`Playout::Frame`].
    pub played: u64,
    /// Indices concealed as lost ([`Playout::Lost`] or [`Playout::Recover`]).
    pub concealed: u64,
    /// Slots filled by [`Playout::Stretch`] (each adds 20 ms of delay).
    pub stretched: u64,
    /// Frames dropped because their index was already played, concealed or
    /// skipped, or lies beyond the end announced by `finish`.
    pub late: u64,
    /// Frames dropped because the same index was already received.
    pub duplicates: u64,
    /// Frames dropped because the buffer was full.
    pub overflow: u64,
    /// The delay the buffer currently aims for.
    pub target_delay: Duration,
}

/// A buffered frame.
#[derive(Debug, Clone)]
struct Held {
    packet: Vec<u8>,
    arrived: Instant,
}

/// Whether playout has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the target delay, at the start or after a stall.
    Buffering,
    /// One slot per `pop`.
    Playing,
}

/// An adaptive jitter buffer for one message's frames; see the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: Config,
    frames: BTreeMap<u64, Held>,
    estimator: Estimator,
    state: State,
    /// Next index to play; `None` until playout first starts. Frames below
    /// it are late.
    next: Option<u64>,
    /// Bit k set: index `next - 1 - k` was played from a received frame.
    played_history: u64,
    /// Last index of the message, once announced.
    last: Option<u64>,
    last_arrival: Option<Instant>,
    stats: Stats,
}

impl JitterBuffer {
    /// An empty buffer. `config` is normalised: `max_frames` at least 1,
    /// `max_delay` at least `min_delay`.
    pub fn new(config: Config) -> Self {
        let config = Config {
            max_delay: config.max_delay.max(config.min_delay),
            max_frames: config.max_frames.max(1),
            ..config
        };
        Self {
            config,
            frames: BTreeMap::new(),
            estimator: Estimator::new(config.min_delay, config.max_delay),
            state: State::Buffering,
            next: None,
            played_history: 0,
            last: None,
            last_arrival: None,
            stats: Stats {
                target_delay: config.min_delay,
                ..Stats::default()
            },
        }
    }

    /// Takes frame `index` of the message, which arrived at `arrived`.
    /// Duplicates, late frames and frames past the announced end are
    /// dropped and counted; a full buffer drops its oldest frame.
    pub fn push(&mut self, index: u32, packet: Vec<u8>, arrived: Instant) {
        let index = u64::from(index);
        if self.is_duplicate(index) {
            tracing::trace!(index, "duplicate frame dropped");
            self.stats.duplicates += 1;
            return;
        }

        // Late frames count too: they are the evidence that the delay is short.
        self.estimator.observe(index, arrived);
        self.stats.target_delay = self.estimator.target();
        self.last_arrival = Some(self.last_arrival.map_or(arrived, |t| t.max(arrived)));
        if self.is_late(index) {
            tracing::trace!(index, "late frame dropped");
            self.stats.late += 1;
            return;
        }

        self.frames.insert(index, Held { packet, arrived });
        if self.frames.len() > self.config.max_frames {
            self.frames.pop_first();
            tracing::debug!(index, "jitter buffer full, oldest frame dropped");
            self.stats.overflow += 1;
        }
    }

    /// Announces that `last_index` is the message's last frame: the buffer
    /// drains without waiting for more. Buffered frames past it are dropped
    /// (counted late).
    pub fn finish(&mut self, last_index: u32) {
        let last = u64::from(last_index);
        self.last = Some(last);
        let beyond = self.frames.split_off(&(last + 1));
        self.stats.late += beyond.len() as u64;
    }

    /// What fills the playout slot at `now`; call once per 20 ms of played
    /// audio. `None` while buffering (at the start or after a stall) and
    /// after the last frame.
    pub fn pop(&mut self, now: Instant) -> Option<Playout> {
        if self.is_over() {
            return None;
        }
        if self.state == State::Buffering {
            self.start_if_ready(now)?;
        }
        self.play_slot(now)
    }

    /// Counters and the current target delay.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Frames held now (never more than `max_frames`).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The limits in force (after normalisation).
    pub fn config(&self) -> Config {
        self.config
    }

    /// The index the next slot will play (or conceal); `None` before
    /// playout first starts.
    pub fn next_index(&self) -> Option<u64> {
        self.next
    }

    /// Whether `index` was received already: buffered, or recently played.
    fn is_duplicate(&self, index: u64) -> bool {
        if self.frames.contains_key(&index) {
            return true;
        }
        let Some(next) = self.next else { return false };
        let age = next.wrapping_sub(index);
        (1..=HISTORY).contains(&age) && self.played_history & (1 << (age - 1)) != 0
    }

    /// Whether `index` can no longer be played.
    fn is_late(&self, index: u64) -> bool {
        self.next.is_some_and(|next| index < next) || self.last.is_some_and(|last| index > last)
    }

    /// Whether every index up to the announced last one is done.
    fn is_over(&self) -> bool {
        match (self.last, self.next) {
            (Some(last), Some(next)) => next > last,
            _ => false,
        }
    }

    /// Starts playout at the lowest buffered frame once it has waited the
    /// target delay (or at once when the end is known).
    fn start_if_ready(&mut self, now: Instant) -> Option<()> {
        let (&lowest, _) = self.frames.first_key_value()?;
        let waited = self.estimator.delay_us(lowest, now)?;
        let early = waited < self.estimator.target_us() && !self.held_too_long(now);
        if self.last.is_none() && early {
            return None;
        }
        tracing::debug!(index = lowest, waited_us = waited, "playout starts");
        self.skip_to(lowest);
        self.state = State::Playing;
        Some(())
    }

    /// Fills one slot while playing.
    fn play_slot(&mut self, now: Instant) -> Option<Playout> {
        let next = self.next?;
        if let Some(frame) = self.take(next) {
            return Some(frame);
        }

        if self.frames.is_empty() && self.is_stalled(now) {
            tracing::debug!(index = next, "no frames for max_delay, playout stalls");
            self.state = State::Buffering;
            return None;
        }
        let waited = self.estimator.delay_us(next, now)?;
        if waited < self.estimator.target_us() && !self.held_too_long(now) {
            self.stats.stretched += 1;
            return Some(Playout::Stretch);
        }
        Some(self.conceal(next))
    }

    /// Plays buffered frame `index`, the next one, if it is here.
    fn take(&mut self, index: u64) -> Option<Playout> {
        let held = self.frames.remove(&index)?;
        self.advance(true);
        self.stats.played += 1;
        Some(Playout::Frame(held.packet))
    }

    /// Gives up on the missing index `next`.
    fn conceal(&mut self, next: u64) -> Playout {
        // A gap wider than the buffer is not a loss to conceal frame by
        // frame (it cannot come from real-time sending); resume at the frame.
        if let Some(&lowest) = self.frames.keys().next() {
            if lowest.saturating_sub(next) > self.config.max_frames as u64 {
                tracing::debug!(from = next, to = lowest, "index gap too wide, skipped");
                self.skip_to(lowest);
                if let Some(frame) = self.take(lowest) {
                    return frame;
                }
            }
        }

        self.stats.concealed += 1;
        let following = self.frames.get(&(next + 1)).map(|h| h.packet.clone());
        self.advance(false);
        match following {
            Some(next_packet) => Playout::Recover { next_packet },
            None => Playout::Lost,
        }
    }

    /// Whether the lowest buffered frame has waited `max_delay` since it
    /// arrived. The transit estimate can lag (its window may hold frames
    /// from a different network regime); this caps every wait, at the start
    /// or while stretching, at `max_delay` regardless.
    fn held_too_long(&self, now: Instant) -> bool {
        self.frames.first_key_value().is_some_and(|(_, held)| {
            now.saturating_duration_since(held.arrived) >= self.config.max_delay
        })
    }

    /// Whether nothing arrived for longer than `max_delay`.
    fn is_stalled(&self, now: Instant) -> bool {
        self.last_arrival
            .is_none_or(|at| now.saturating_duration_since(at) > self.config.max_delay)
    }

    /// Moves past the next index; `played` says whether it was received.
    fn advance(&mut self, played: bool) {
        self.played_history = (self.played_history << 1) | u64::from(played);
        self.next = Some(self.next.map_or(0, |next| next + 1));
    }

    /// Jumps forward to `index` (never back), shifting the history.
    fn skip_to(&mut self, index: u64) {
        let gap = self.next.map_or(HISTORY, |next| index.saturating_sub(next));
        self.played_history = u32::try_from(gap)
            .ok()
            .and_then(|gap| self.played_history.checked_shl(gap))
            .unwrap_or(0);
        self.next = Some(self.next.map_or(index, |next| next.max(index)));
    }
}
