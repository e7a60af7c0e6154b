//! Playing incoming live messages: one at a time, in the order they began,
//! never this node's own. A message that starts while another plays waits
//! its turn (its frames are kept), so two people talking at once are heard
//! one after the other, not mixed: each stays intelligible, and the order
//! is the order they began speaking.
//!
//! Each message goes through its own jitter buffer
//! (`hark_audio::jitter::Player`), which conceals lost frames; the 20 ms
//! blocks go to a [`Sink`].

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hark_audio::jitter::{Config as JitterConfig, Player};
use hark_audio::Pcm;
use hark_proto::ids::MessageId;
use libp2p::PeerId;
use tokio::sync::mpsc;

/// Where played audio goes.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Write what would be played, one 48 kHz WAV per message named after
    /// its id, into this directory (headless nodes, tests).
    Files(PathBuf),
    /// Hand each 20 ms block to a speaker as it is due (the desktop app).
    Speaker(Arc<dyn Speaker>),
}

/// Something that plays live messages as they are due: one message at a
/// time, in 20 ms blocks of 48 kHz mono, every 20 ms. Called from the
/// playout task, so no method may block: queue the audio and return.
pub trait Speaker: Send + Sync + std::fmt::Debug {
    /// Message `id` starts playing.
    fn started(&self, id: &MessageId);
    /// The next 20 ms of the message playing now.
    fn block(&self, id: &MessageId, pcm: &[f32]);
    /// The message ended (played to its end, or cancelled by its talker).
    fn ended(&self, id: &MessageId);
}

/// A measurement hook for the live benchmark (`tests/benches/live.rs`):
/// with `HARK_LIVE_TIMING=<file>` set in a node's environment, the node
/// appends one line per event to that file, `<event> <message id>
/// <index> <unix time in µs>`:
///
/// - `start <msg> 0 <t>`: `LiveSender::start` began (the key press);
/// - `send <msg> <i> <t>`: frame `i` was pushed (for a paced file, the
///   moment its last sample is "spoken");
/// - `wire <msg> <i> <t>`: frame `i` was written to a recipient's stream
///   (one line per recipient);
/// - `recv <msg> <i> <t>`: frame `i` arrived on a live stream (every copy,
///   duplicates included);
/// - `play <msg> <i> <t>`: frame `i` was decoded for playout.
///
/// Unset (the default), it costs one check of a cached `None` per event.
/// Lines hold no keys, audio or plaintext. Writes are blocking but small
/// (one `write` of under 80 bytes on an append-mode file).
pub(crate) mod timing {
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};
    use std::time::{SystemTime, UNIX_EPOCH};

    use hark_proto::ids::MessageId;

    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();

    fn file() -> Option<&'static Mutex<std::fs::File>> {
        FILE.get_or_init(|| {
            let path = std::env::var_os("HARK_LIVE_TIMING")?;
            let file = std::fs::File::options()
                .create(true)
                .append(true)
                .open(&path);
            file.map_err(|e| tracing::debug!(error = %e, "timing file cannot open"))
                .ok()
                .map(Mutex::new)
        })
        .as_ref()
    }

    /// Now, in µs since the Unix epoch (one clock for every process on
    /// the machine).
    pub(crate) fn now_us() -> u128 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    }

    /// Whether the hook is on.
    pub(crate) fn enabled() -> bool {
        file().is_some()
    }

    /// Appends one event line stamped `at_us` if the hook is on.
    pub(crate) fn record(event: &str, id: &MessageId, index: u32, at_us: u128) {
        let Some(file) = file() else { return };
        let line = format!("{event} {id} {index} {at_us}\n");
        if let Ok(mut file) = file.lock() {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// The smallest playout delay on a LAN: one frame. The buffer's target
/// grows from there with the jitter it measures (p95 of transit), so a
/// Wi-Fi link gets more; the jitter crate's own default (40 ms) cost 1.9x
/// the latency floor on a wired LAN (docs/benchmarks.md), 20 ms 1.24x.
const LAN_MIN_DELAY: Duration = Duration::from_millis(20);

/// The jitter buffer's settings for each message. The benchmark knob
/// `HARK_LIVE_MIN_DELAY_MS` (whole ms) replaces the minimum delay so the
/// latency it costs can be measured; nothing else sets it.
fn jitter_config() -> JitterConfig {
    let default = JitterConfig {
        min_delay: LAN_MIN_DELAY,
        ..JitterConfig::default()
    };
    let min_ms = std::env::var("HARK_LIVE_MIN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    match min_ms {
        Some(ms) => JitterConfig {
            min_delay: Duration::from_millis(ms),
            ..default
        },
        None => default,
    }
}

/// How many playout events may wait; the readers wait when it is full.
const QUEUE: usize = 1024;

/// Messages waiting to play beyond this are dropped from the queue (they
/// stay stored and can be played from the inbox).
const MAX_WAITING: usize = 32;

#[derive(Debug)]
enum Step {
    Begin {
        id: MessageId,
    },
    Frame {
        id: MessageId,
        index: u32,
        packet: Vec<u8>,
        arrived: Instant,
    },
    End {
        id: MessageId,
        last: Option<u32>,
    },
    Cancel {
        id: MessageId,
    },
}

/// A handle to the playout task.
#[derive(Debug, Clone)]
pub(crate) struct Playout {
    steps: mpsc::Sender<Step>,
}

impl Playout {
    /// Starts the playout task.
    pub(crate) fn start(sink: Sink) -> Playout {
        let (steps, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(rx, sink));
        Playout { steps }
    }

    /// A live message from `sender` began.
    pub(crate) async fn begin(&self, id: MessageId, _sender: PeerId) {
        let _ = self.steps.send(Step::Begin { id }).await;
    }

    /// One opened frame arrived.
    pub(crate) async fn frame(&self, id: MessageId, index: u32, packet: Vec<u8>, arrived: Instant) {
        let _ = self
            .steps
            .send(Step::Frame {
                id,
                index,
                packet,
                arrived,
            })
            .await;
    }

    /// The stream ended; `last` is the final index if known.
    pub(crate) async fn end(&self, id: MessageId, last: Option<u32>) {
        let _ = self.steps.send(Step::End { id, last }).await;
    }

    /// The talker cancelled: stop playing it now, keep nothing.
    pub(crate) async fn cancel(&self, id: MessageId) {
        let _ = self.steps.send(Step::Cancel { id }).await;
    }
}

/// Frames beyond this many in a jitter buffer wait in the message's
/// backlog, so a burst (a late joiner's catch-up, a message waiting its
/// turn) plays in full instead of overflowing the bounded buffer.
const BUFFER_ROOM: usize = 40;

struct Playing {
    player: Player,
    backlog: VecDeque<(u32, Vec<u8>)>,
    out: Vec<f32>,
    last: Option<u32>,
    ended: bool,
    /// Whether the sink was told it started playing.
    started: bool,
}

impl Playing {
    fn push(&mut self, index: u32, packet: Vec<u8>, arrived: Instant) {
        if self.backlog.is_empty() && self.player.buffer().len() < BUFFER_ROOM {
            self.player.push(index, packet, arrived);
        } else {
            self.backlog.push_back((index, packet));
        }
    }

    /// Moves backlog into the buffer as it drains.
    fn refill(&mut self, now: Instant) {
        while self.player.buffer().len() < BUFFER_ROOM {
            let Some((index, packet)) = self.backlog.pop_front() else {
                return;
            };
            self.player.push(index, packet, now);
        }
    }

    /// No more frames will come and none are left to play.
    fn done(&self) -> bool {
        self.ended && self.backlog.is_empty() && self.player.buffer().is_empty()
    }
}

async fn run(mut steps: mpsc::Receiver<Step>, sink: Sink) {
    let mut order: VecDeque<MessageId> = VecDeque::new();
    let mut messages: HashMap<MessageId, Playing> = HashMap::new();
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            step = steps.recv() => match step {
                Some(step) => take(step, &mut order, &mut messages, &sink),
                None => return,
            },
            _ = clock.tick() => tick(&mut order, &mut messages, &sink),
        }
    }
}

fn take(
    step: Step,
    order: &mut VecDeque<MessageId>,
    messages: &mut HashMap<MessageId, Playing>,
    sink: &Sink,
) {
    match step {
        Step::Begin { id } => {
            if order.len() >= MAX_WAITING || messages.contains_key(&id) {
                return;
            }
            let Ok(player) = Player::new(jitter_config()) else {
                return;
            };
            order.push_back(id);
            let playing = Playing {
                player,
                backlog: VecDeque::new(),
                out: Vec::new(),
                last: None,
                ended: false,
                started: false,
            };
            messages.insert(id, playing);
        }
        Step::Frame {
            id,
            index,
            packet,
            arrived,
        } => {
            if let Some(m) = messages.get_mut(&id) {
                m.push(index, packet, arrived);
            }
        }
        Step::End { id, last } => {
            if let Some(m) = messages.get_mut(&id) {
                m.ended = true;
                m.last = last.or(m.last);
                if let Some(last) = m.last {
                    m.player.finish(last);
                }
            }
        }
        Step::Cancel { id } => {
            order.retain(|o| *o != id);
            if let Some(m) = messages.remove(&id) {
                if let (Sink::Speaker(speaker), true) = (sink, m.started) {
                    speaker.ended(&id);
                }
            }
        }
    }
}

/// Every 20 ms: the message at the front plays one block; when it is
/// done, it goes to the sink and the next one starts.
fn tick(order: &mut VecDeque<MessageId>, messages: &mut HashMap<MessageId, Playing>, sink: &Sink) {
    let Some(id) = order.front().copied() else {
        return;
    };
    let Some(m) = messages.get_mut(&id) else {
        order.pop_front();
        return;
    };
    let now = Instant::now();
    m.refill(now);
    if let Some(slot) = m.player.next_slot(now) {
        if let Some(index) = slot.index {
            timing::record("play", &id, index, timing::now_us());
        }
        match sink {
            Sink::Files(_) => m.out.extend_from_slice(&slot.pcm),
            Sink::Speaker(speaker) => {
                if !m.started {
                    m.started = true;
                    speaker.started(&id);
                }
                speaker.block(&id, &slot.pcm);
            }
        }
    }
    if m.done() {
        order.pop_front();
        if let Some(m) = messages.remove(&id) {
            deliver(sink, &id, m);
        }
    }
}

fn deliver(sink: &Sink, id: &MessageId, m: Playing) {
    let stats = m.player.stats();
    tracing::debug!(msg = %id, played = stats.played, concealed = stats.concealed, "played");
    match sink {
        Sink::Speaker(speaker) => {
            if m.started {
                speaker.ended(id);
            }
        }
        Sink::Files(dir) => {
            // Written under a temporary name and renamed, so a reader that
            // sees `<id>.wav` never reads it half written.
            let path = dir.join(format!("{id}.wav"));
            let part = dir.join(format!("{id}.wav.part"));
            let written = std::fs::File::create(&part)
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    let mut w = std::io::BufWriter::new(f);
                    hark_audio::export::write_wav(&mut w, &Pcm::new(m.out))
                        .map_err(|e| e.to_string())?;
                    std::io::Write::flush(&mut w).map_err(|e| e.to_string())
                })
                .and_then(|()| std::fs::rename(&part, &path).map_err(|e| e.to_string()));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), error = %e, "cannot write played audio");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(n: usize) -> Vec<Vec<u8>> {
        let pcm = Pcm::new(vec![0.1; n * 960 - 400]);
        let encoded = hark_audio::codec::encode_pcm(&pcm, 24_000).expect("encodes");
        encoded.packets
    }

    // A late joiner's burst (everything said so far at once) plays in full,
    // then the message is done and written.
    #[tokio::test]
    async fn burst_plays_in_full() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let sink = Sink::Files(dir.path().to_path_buf());
        let (mut order, mut messages) = (VecDeque::new(), HashMap::new());
        let id = MessageId([1; 16]);
        let all = packets(150);
        let last = all.len() as u32 - 1;

        take(Step::Begin { id }, &mut order, &mut messages, &sink);
        for (i, p) in all.into_iter().enumerate() {
            let step = Step::Frame {
                id,
                index: i as u32,
                packet: p,
                arrived: Instant::now(),
            };
            take(step, &mut order, &mut messages, &sink);
        }
        take(
            Step::End {
                id,
                last: Some(last),
            },
            &mut order,
            &mut messages,
            &sink,
        );

        let mut ticks = 0;
        while !order.is_empty() && ticks < 1000 {
            tick(&mut order, &mut messages, &sink);
            std::thread::sleep(Duration::from_millis(2));
            ticks += 1;
        }
        assert!(order.is_empty(), "still playing after {ticks} ticks");
        let written = read(&dir.path().join(format!("{id}.wav")))?;
        assert!(written >= 150 * 960, "played only {written} samples");
        Ok(())
    }

    /// What a speaker was told, in order.
    #[derive(Debug, Default)]
    struct Heard(std::sync::Mutex<Vec<(String, MessageId)>>);

    impl Speaker for Heard {
        fn started(&self, id: &MessageId) {
            self.note("started", id);
        }
        fn block(&self, id: &MessageId, pcm: &[f32]) {
            assert_eq!(pcm.len(), 960, "a block is 20 ms");
            self.note("block", id);
        }
        fn ended(&self, id: &MessageId) {
            self.note("ended", id);
        }
    }

    impl Heard {
        fn note(&self, what: &str, id: &MessageId) {
            self.0.lock().expect("lock").push((what.to_string(), *id));
        }
        fn events(&self) -> Vec<(String, MessageId)> {
            self.0.lock().expect("lock").clone()
        }
    }

    fn feed(id: MessageId, n: usize, sink: &Sink, state: &mut State) {
        let (order, messages) = state;
        take(Step::Begin { id }, order, messages, sink);
        for (i, packet) in packets(n).into_iter().enumerate() {
            let index = i as u32;
            let arrived = Instant::now();
            let step = Step::Frame {
                id,
                index,
                packet,
                arrived,
            };
            take(step, order, messages, sink);
        }
    }

    type State = (VecDeque<MessageId>, HashMap<MessageId, Playing>);

    fn run_out(sink: &Sink, state: &mut State) {
        let mut ticks = 0;
        while !state.0.is_empty() && ticks < 1000 {
            tick(&mut state.0, &mut state.1, sink);
            std::thread::sleep(Duration::from_millis(2));
            ticks += 1;
        }
    }

    // Two talkers at once on a speaker: the second is heard only after
    // the first ended, each started and ended once, never interleaved.
    #[tokio::test]
    async fn speaker_hears_one_message_after_the_other() {
        let heard = Arc::new(Heard::default());
        let sink = Sink::Speaker(heard.clone());
        let mut state = (VecDeque::new(), HashMap::new());
        let (first, second) = (MessageId([1; 16]), MessageId([2; 16]));
        feed(first, 20, &sink, &mut state);
        feed(second, 20, &sink, &mut state);
        for id in [first, second] {
            take(
                Step::End { id, last: Some(19) },
                &mut state.0,
                &mut state.1,
                &sink,
            );
        }
        run_out(&sink, &mut state);

        let events = heard.events();
        let pos = |what: &str, id| events.iter().position(|e| e.0 == what && e.1 == id);
        let first_end = pos("ended", first).expect("first ended");
        let second_start = pos("started", second).expect("second started");
        assert_eq!(pos("started", first), Some(0));
        assert!(first_end < second_start, "overlapped: {events:?}");
        let blocks = |id| {
            events
                .iter()
                .filter(|e| e.0 == "block" && e.1 == id)
                .count()
        };
        assert!(blocks(first) >= 20 && blocks(second) >= 20, "{events:?}");
        assert_eq!(events.last().cloned(), Some(("ended".into(), second)));
    }

    // A cancelled message stops at once (the speaker is told it ended) and
    // the one waiting behind it plays next.
    #[tokio::test]
    async fn cancel_stops_the_message_and_the_next_plays() {
        let heard = Arc::new(Heard::default());
        let sink = Sink::Speaker(heard.clone());
        let mut state = (VecDeque::new(), HashMap::new());
        let (first, second) = (MessageId([1; 16]), MessageId([2; 16]));
        feed(first, 100, &sink, &mut state);
        feed(second, 10, &sink, &mut state);
        take(
            Step::End {
                id: second,
                last: Some(9),
            },
            &mut state.0,
            &mut state.1,
            &sink,
        );
        for _ in 0..5 {
            tick(&mut state.0, &mut state.1, &sink);
            std::thread::sleep(Duration::from_millis(25));
        }
        take(
            Step::Cancel { id: first },
            &mut state.0,
            &mut state.1,
            &sink,
        );
        run_out(&sink, &mut state);

        let events = heard.events();
        let blocks = |id| {
            events
                .iter()
                .filter(|e| e.0 == "block" && e.1 == id)
                .count()
        };
        assert!(
            blocks(first) < 100,
            "the cancelled message played on: {events:?}"
        );
        let ended = events.iter().position(|e| e.0 == "ended" && e.1 == first);
        let next = events
            .iter()
            .position(|e| e.0 == "started" && e.1 == second);
        assert!(ended.is_some() && ended < next, "{events:?}");
        assert!(state.1.is_empty(), "something is left playing");
    }

    fn read(path: &std::path::Path) -> Result<usize, Box<dyn std::error::Error>> {
        Ok(hark_audio::import::read_file(path)?.pcm.samples.len())
    }
}
