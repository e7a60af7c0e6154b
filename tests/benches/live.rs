//! Live push-to-talk benchmark with real `hark node` processes and real
//! sockets (not a timed test): latency, key press to wire, bytes on the
//! wire, and fan-out to 20 listeners, each printed beside its floor
//! measured or computed in the same run. Results go to docs/benchmarks.md
//! ("Live push-to-talk").
//!
//! Run: `cargo build --release -p hark-cli && cargo bench -p hark-e2e
//! --bench live` (it runs `target/release/hark`, or `HARK_BIN`). The
//! network namespace part needs root and iproute2; without them it is
//! skipped and says so.
//!
//! Timestamps come from the nodes' `HARK_LIVE_TIMING` hook (see
//! `hark_node::playout::timing`): `start`, `send`, `wire`, `recv` and
//! `play` lines with Unix µs. Sender and receivers run on this machine, so
//! they share one clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use hark_e2e::netns::Lan;
use hark_e2e::{fixture, hark_bin, wait_until};
use serde_json::Value;

/// Frame duration plus Opus look-ahead (312 samples at 48 kHz).
const LATENCY_FLOOR_MS: f64 = 20.0 + 6.5;

/// The time a 20 ms frame takes to fill before it can be sent.
const FRAME_FILL_MS: f64 = 20.0;

/// The bitrate nodes use by default (`hark_node::DEFAULT_BITRATE`).
const BITRATE: u32 = 24_000;

/// Messages per latency setting: each message meets the receiver's
/// playout clock at a new phase, so several give a spread.
const LATENCY_MESSAGES: usize = 4;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether part `n` (1-4) is to run: `HARK_BENCH_PARTS=34` runs parts 3
/// and 4 only; unset, all run. (`cargo bench` passes `--bench`; filter
/// arguments are not supported.)
fn wanted(n: char) -> bool {
    std::env::var("HARK_BENCH_PARTS").map_or(true, |parts| parts.contains(n))
}

fn run() -> Result<()> {
    let started = Instant::now();
    let long = fixture("audio/speech-22k05-mono-s16.wav");
    let short = fixture("audio/speech-96k-stereo-s24-extensible.wav");
    let payload = Payload::of(&long)?;
    println!(
        "speech: {} frames, {:.1} s, Opus payload {} B ({:.1} B/frame, {:.0} B/s)",
        payload.frames,
        payload.seconds(),
        payload.bytes,
        payload.per_frame(),
        payload.per_second()
    );

    let scratch = tempfile::Builder::new().prefix("hark-bench-").tempdir()?;
    let mut key_press = Vec::new();
    if wanted('1') || wanted('2') {
        println!("\n## 1. latency, last sample sent -> decoded for playout (loopback, TCP)");
        println!(
            "floor: frame + look-ahead = {LATENCY_FLOOR_MS} ms; goals p50 <= 1.25x, p99 <= 1.75x"
        );
        for min_delay in [None, Some(0)] {
            key_press.extend(latency(scratch.path(), &short, min_delay, 1)?);
        }
        key_press.extend(latency(scratch.path(), &short, None, 2)?);
        println!("\n## 2. key press -> first frame written to a stream");
        report_key_press(&key_press);
    }

    if wanted('3') {
        println!("\n## 3. bytes on the wire per second of speech / Opus payload (netns)");
        if let Err(e) = wire_bytes(&long, &payload) {
            println!("skipped: {e:#}");
        }
    }

    if wanted('4') {
        println!("\n## 4. fan-out: copies per listener and talker CPU (loopback)");
        for listeners in [1, 20] {
            fan_out(scratch.path(), &long, listeners)?;
        }
    }
    println!("\nwhole bench: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The Opus packets the node sends for a file, encoded the same way.
struct Payload {
    frames: usize,
    bytes: usize,
}

impl Payload {
    fn of(file: &Path) -> Result<Payload> {
        let pcm = hark_audio::import::read_file(file)?.pcm;
        let encoded = hark_audio::codec::encode_pcm(&pcm, BITRATE)?;
        Ok(Payload {
            frames: encoded.packets.len(),
            bytes: encoded.packets.iter().map(Vec::len).sum(),
        })
    }

    fn seconds(&self) -> f64 {
        self.frames as f64 * 0.02
    }

    fn per_frame(&self) -> f64 {
        self.bytes as f64 / self.frames as f64
    }

    fn per_second(&self) -> f64 {
        self.bytes as f64 / self.seconds()
    }
}

/// How a bench node runs.
#[derive(Default, Clone)]
struct Spec<'a> {
    /// Network namespace to run in.
    netns: Option<&'a str>,
    /// `--listen` addresses (default: TCP on 127.0.0.1).
    listen: Vec<&'a str>,
    /// `--peer` addresses.
    peers: Vec<String>,
    /// Write timing lines here.
    timing: Option<PathBuf>,
    /// Play incoming live messages into this directory.
    live_out: Option<PathBuf>,
    /// `HARK_LIVE_MIN_DELAY_MS`.
    min_delay_ms: Option<u64>,
    /// `--live-batch` (frames per packet).
    live_batch: Option<u8>,
}

/// A `hark node` process with its own data dir; killed on drop.
struct Node {
    name: String,
    peer_id: String,
    addrs: Vec<String>,
    dir: tempfile::TempDir,
    child: Child,
}

impl Node {
    /// Starts a node without mDNS; does not wait for it (see `ready`).
    fn spawn(name: &str, spec: &Spec) -> Result<Node> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hark-bench-{name}-"))
            .tempdir()?;
        let mut cmd = match spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(hark_bin()?);
                c
            }
            None => Command::new(hark_bin()?),
        };
        cmd.arg("--data-dir").arg(dir.path());
        cmd.args(["node", "--no-mdns", "--name", name]);
        let listen = match spec.listen.is_empty() {
            true => vec!["/ip4/127.0.0.1/tcp/0"],
            false => spec.listen.clone(),
        };
        for l in listen {
            cmd.args(["--listen", l]);
        }
        for p in &spec.peers {
            cmd.args(["--peer", p]);
        }
        if let Some(out) = &spec.live_out {
            cmd.arg("--live-out").arg(out);
        }
        if let Some(t) = &spec.timing {
            cmd.env("HARK_LIVE_TIMING", t);
        }
        if let Some(n) = spec.live_batch {
            cmd.args(["--live-batch", &n.to_string()]);
        }
        if let Some(ms) = spec.min_delay_ms {
            cmd.env("HARK_LIVE_MIN_DELAY_MS", ms.to_string());
        }
        let log = std::fs::File::create(dir.path().join("node.log"))?;
        let child = cmd
            .env("HARK_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Node {
            name: name.to_string(),
            peer_id: String::new(),
            addrs: Vec::new(),
            dir,
            child,
        })
    }

    /// Starts a node and waits until it answers with its addresses.
    fn start(name: &str, spec: &Spec) -> Result<Node> {
        let mut node = Node::spawn(name, spec)?;
        node.ready()?;
        Ok(node)
    }

    /// Waits until the node answers `whoami` with listen addresses.
    fn ready(&mut self) -> Result<()> {
        let mut me = Value::Null;
        wait_until(Duration::from_secs(60), "node to answer", || {
            if let Some(status) = self.child.try_wait()? {
                bail!("node {} exited ({status})", self.name);
            }
            me = self.json(&["whoami"]).unwrap_or(Value::Null);
            Ok(me["listen_addrs"].as_array().is_some_and(|a| !a.is_empty()))
        })?;
        self.peer_id = me["peer_id"].as_str().context("no peer_id")?.to_string();
        let addrs = me["listen_addrs"].as_array().context("no listen_addrs")?;
        self.addrs = addrs
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        Ok(())
    }

    /// The first listen address whose text contains `part`.
    fn addr(&self, part: &str) -> Result<String> {
        let found = self.addrs.iter().find(|a| a.contains(part));
        found
            .cloned()
            .with_context(|| format!("{} has no address with {part}", self.name))
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let out = Command::new(hark_bin()?)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .output()?;
        ensure!(out.status.success(), "hark {args:?} failed");
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Waits until every one of `others` shows online here.
    fn await_peers(&self, others: &[Node]) -> Result<()> {
        let want: HashSet<&str> = others.iter().map(|n| n.peer_id.as_str()).collect();
        wait_until(Duration::from_secs(90), "peers to come online", || {
            let peers = self.json(&["peers"])?;
            let online = peers.as_array().context("peers is not a list")?;
            let seen = online
                .iter()
                .filter(|p| p["online"] == true)
                .filter_map(|p| p["peer_id"].as_str())
                .filter(|p| want.contains(p))
                .count();
            Ok(seen == want.len())
        })
    }

    /// `hark send --live FILE` to `to`; returns the message id when the
    /// whole file has been spoken.
    fn talk(&self, to: &[Node], file: &Path) -> Result<String> {
        let mut cmd = Command::new(hark_bin()?);
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(["send", "--live"]);
        for t in to {
            cmd.args(["--to", &t.peer_id]);
        }
        let out = cmd.arg(file).stdin(Stdio::null()).output()?;
        ensure!(
            out.status.success(),
            "send --live failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// This process's CPU time so far (user + system), from /proc.
    fn cpu_time(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which may hold spaces), from 3 on.
        let rest = stat.rsplit_once(") ").context("odd /proc stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks()?))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kernel clock ticks per second (`getconf CLK_TCK`).
fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// Timing lines of one node: event -> message -> index -> times (µs).
#[derive(Default)]
struct Timing(HashMap<String, HashMap<String, BTreeMap<u32, Vec<i64>>>>);

impl Timing {
    fn read(path: &Path) -> Result<Timing> {
        let mut t = Timing::default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            let [event, msg, index, at] = parts[..] else {
                bail!("odd timing line {line:?}");
            };
            let by_msg = t.0.entry(event.to_string()).or_default();
            let by_index = by_msg.entry(msg.to_string()).or_default();
            by_index
                .entry(index.parse()?)
                .or_default()
                .push(at.parse()?);
        }
        Ok(t)
    }

    /// Index -> times of `event` for message `msg`.
    fn of(&self, event: &str, msg: &str) -> BTreeMap<u32, Vec<i64>> {
        let by_msg = self.0.get(event).and_then(|m| m.get(msg));
        by_msg.cloned().unwrap_or_default()
    }

    /// The first time of `event` for `msg`, over every index.
    fn first(&self, event: &str, msg: &str) -> Option<i64> {
        self.of(event, msg).values().flatten().min().copied()
    }
}

/// The `p`-th percentile (0-100) of sorted values, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds between the first time of `a` and `b` per index, sorted.
fn deltas_ms(from: &BTreeMap<u32, Vec<i64>>, to: &BTreeMap<u32, Vec<i64>>) -> Vec<f64> {
    let mut d: Vec<f64> = from
        .iter()
        .filter_map(|(i, a)| Some((to.get(i)?.first()? - a.first()?) as f64 / 1000.0))
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

/// A talker and one listener on loopback; several live messages with the
/// listener's jitter buffer at `min_delay` ms (None: the default). Prints
/// the latency split; returns the key press to wire times (ms).
fn latency(
    scratch: &Path,
    file: &Path,
    min_delay: Option<u64>,
    live_batch: u8,
) -> Result<Vec<(f64, f64)>> {
    let tag = min_delay.map_or("default".to_string(), |ms| format!("{ms}ms"));
    let tag = format!("{tag}, {live_batch} frame(s) per packet");
    let file_tag = tag.replace([' ', ',', '(', ')'], "");
    let (a_timing, b_timing) = (
        scratch.join(format!("lat-{file_tag}-a")),
        scratch.join(format!("lat-{file_tag}-b")),
    );
    let out = scratch.join(format!("lat-{file_tag}-out"));
    std::fs::create_dir_all(&out)?;
    let talker = Node::start(
        "alice",
        &Spec {
            timing: Some(a_timing.clone()),
            live_batch: Some(live_batch),
            ..Spec::default()
        },
    )?;
    let listener = Node::start(
        "bob",
        &Spec {
            peers: vec![talker.addr("/tcp/")?],
            timing: Some(b_timing.clone()),
            live_out: Some(out.clone()),
            min_delay_ms: min_delay,
            ..Spec::default()
        },
    )?;
    talker.await_peers(std::slice::from_ref(&listener))?;

    let mut ids = Vec::new();
    for _ in 0..LATENCY_MESSAGES {
        let id = talker.talk(std::slice::from_ref(&listener), file)?;
        let played = out.join(format!("{id}.wav"));
        wait_until(Duration::from_secs(30), "playout to end", || {
            Ok(played.exists())
        })?;
        ids.push(id);
    }

    let (a, b) = (Timing::read(&a_timing)?, Timing::read(&b_timing)?);
    let (mut total, mut transit, mut key) = (Vec::new(), Vec::new(), Vec::new());
    for id in &ids {
        total.extend(deltas_ms(&a.of("send", id), &b.of("play", id)));
        transit.extend(deltas_ms(&a.of("send", id), &b.of("recv", id)));
        key.push(key_press_ms(&a, id)?);
    }
    total.sort_by(f64::total_cmp);
    transit.sort_by(f64::total_cmp);
    print_latency(&tag, &total, &transit);
    Ok(key)
}

fn print_latency(tag: &str, total: &[f64], transit: &[f64]) {
    if total.is_empty() || transit.is_empty() {
        return println!("jitter min delay {tag}: no frames timed");
    }
    let (p50, p99) = (percentile(total, 50.0), percentile(total, 99.0));
    println!(
        "jitter min delay {tag:>7}: {} frames; p50 {p50:5.1} ms = {:.2}x floor, p99 {p99:5.1} ms = {:.2}x floor \
         (transit to receiver p50 {:.2} ms, p99 {:.2} ms)",
        total.len(),
        p50 / LATENCY_FLOOR_MS,
        p99 / LATENCY_FLOOR_MS,
        percentile(transit, 50.0),
        percentile(transit, 99.0),
    );
}

/// (start -> first frame pushed, start -> first frame on a stream), ms.
fn key_press_ms(t: &Timing, id: &str) -> Result<(f64, f64)> {
    let start = t.first("start", id).context("no start line")?;
    let send = t.first("send", id).context("no send line")?;
    let wire = t.first("wire", id).context("no wire line")?;
    Ok((
        (send - start) as f64 / 1000.0,
        (wire - start) as f64 / 1000.0,
    ))
}

fn report_key_press(samples: &[(f64, f64)]) {
    if samples.is_empty() {
        return println!("no samples");
    }
    let mut wire: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let mut push: Vec<f64> = samples.iter().map(|s| s.0).collect();
    wire.sort_by(f64::total_cmp);
    push.sort_by(f64::total_cmp);
    println!(
        "{} presses: start -> first push median {:.2} ms; start -> first frame on the stream \
         median {:.2} ms, max {:.2} ms; floor: a frame takes {FRAME_FILL_MS} ms to fill \
         (a paced file's first frame is full at once, a microphone adds those {FRAME_FILL_MS} ms)",
        samples.len(),
        percentile(&push, 50.0),
        percentile(&wire, 50.0),
        percentile(&wire, 100.0),
    );
}

/// `eth0` byte and packet counters of a namespace: (tx, rx, tx packets,
/// rx packets).
fn counters(ns: &str) -> Result<[u64; 4]> {
    let mut out = [0; 4];
    for (i, name) in ["tx_bytes", "rx_bytes", "tx_packets", "rx_packets"]
        .iter()
        .enumerate()
    {
        let path = format!("/sys/class/net/eth0/statistics/{name}");
        let o = Command::new("ip")
            .args(["netns", "exec", ns, "cat", &path])
            .output()?;
        ensure!(o.status.success(), "cannot read {path} in {ns}");
        out[i] = String::from_utf8(o.stdout)?.trim().parse()?;
    }
    Ok(out)
}

fn minus(a: [u64; 4], b: [u64; 4]) -> [i64; 4] {
    [0, 1, 2, 3].map(|i| a[i] as i64 - b[i] as i64)
}

/// Sender and receiver in two namespaces, one transport at a time.
fn wire_bytes(file: &Path, payload: &Payload) -> Result<()> {
    let mut lan = Lan::new("lb")?;
    let (ns_a, ns_b) = (lan.add_host(1)?, lan.add_host(2)?);
    for batch in [1, 2] {
        for (transport, listen, part) in [
            ("TCP", "/ip4/0.0.0.0/tcp/0", "/tcp/"),
            ("QUIC", "/ip4/0.0.0.0/udp/0/quic-v1", "/quic-v1"),
        ] {
            let how = (transport, batch);
            wire_bytes_over(how, (&ns_a, &ns_b), (listen, part), file, payload)?;
        }
    }
    Ok(())
}

fn wire_bytes_over(
    (transport, batch): (&str, u8),
    (ns_a, ns_b): (&str, &str),
    (listen, part): (&str, &str),
    file: &Path,
    payload: &Payload,
) -> Result<()> {
    let talker = Node::start(
        "alice",
        &Spec {
            netns: Some(ns_a),
            listen: vec![listen],
            live_batch: Some(batch),
            ..Spec::default()
        },
    )?;
    let peer = talker
        .addrs
        .iter()
        .find(|a| a.contains("10.213.") && a.contains(part))
        .context("talker has no LAN address")?
        .clone();
    let listener = Node::start(
        "bob",
        &Spec {
            netns: Some(ns_b),
            listen: vec![listen],
            peers: vec![peer],
            ..Spec::default()
        },
    )?;
    talker.await_peers(std::slice::from_ref(&listener))?;
    std::thread::sleep(Duration::from_secs(2));

    let window = Duration::from_secs_f64(payload.seconds() + 1.0);
    let before_idle = counters(ns_a)?;
    std::thread::sleep(window);
    let idle = minus(counters(ns_a)?, before_idle);

    let before = counters(ns_a)?;
    let t0 = Instant::now();
    talker.talk(std::slice::from_ref(&listener), file)?;
    std::thread::sleep(window.saturating_sub(t0.elapsed()));
    let busy = minus(counters(ns_a)?, before);
    print_wire(
        &format!("{transport}, {batch} frame(s) per packet"),
        busy,
        idle,
        payload,
    );
    Ok(())
}

fn print_wire(transport: &str, busy: [i64; 4], idle: [i64; 4], payload: &Payload) {
    let net = minus_i(busy, idle);
    let frames = payload.frames as f64;
    let ratio = |bytes: i64| bytes as f64 / payload.bytes as f64;
    println!(
        "{transport}: sender tx {} B + rx {} B (idle {} B + {} B subtracted); \
         tx/payload = {:.2}, (tx+rx)/payload = {:.2}; goal <= 2.5",
        net[0],
        net[1],
        idle[0],
        idle[1],
        ratio(net[0]),
        ratio(net[0] + net[1]),
    );
    println!(
        "  per frame: {:.1} B out in {:.2} packets, {:.1} B back in {:.2} packets \
         (Opus {:.1} B); {:.0} B/s on the wire per {:.0} B/s of Opus",
        net[0] as f64 / frames,
        net[2] as f64 / frames,
        net[1] as f64 / frames,
        net[3] as f64 / frames,
        payload.per_frame(),
        (net[0] + net[1]) as f64 / payload.seconds(),
        payload.per_second(),
    );
}

fn minus_i(a: [i64; 4], b: [i64; 4]) -> [i64; 4] {
    [0, 1, 2, 3].map(|i| a[i] - b[i])
}

/// One talker, `n` listeners on loopback, one live message of `file`:
/// copies of each frame per listener and the talker's CPU.
fn fan_out(scratch: &Path, file: &Path, n: usize) -> Result<()> {
    let talker = Node::start("talker", &Spec::default())?;
    let peer = talker.addr("/tcp/")?;
    let mut listeners = Vec::new();
    for i in 0..n {
        let spec = Spec {
            peers: vec![peer.clone()],
            timing: Some(scratch.join(format!("fan{n}-{i}"))),
            live_out: Some(scratch.join(format!("fan{n}-out-{i}"))),
            ..Spec::default()
        };
        std::fs::create_dir_all(scratch.join(format!("fan{n}-out-{i}")))?;
        listeners.push(Node::spawn(&format!("l{i}"), &spec)?);
    }
    for l in &mut listeners {
        l.ready()?;
    }
    talker.await_peers(&listeners)?;
    std::thread::sleep(Duration::from_secs(1));

    let (cpu0, t0) = (talker.cpu_time()?, Instant::now());
    let id = talker.talk(&listeners, file)?;
    let (cpu, wall) = (talker.cpu_time()? - cpu0, t0.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    print_fan_out(scratch, n, &id, cpu, wall)
}

fn print_fan_out(scratch: &Path, n: usize, id: &str, cpu: Duration, wall: Duration) -> Result<()> {
    let mut copies = Vec::new();
    for i in 0..n {
        let t = Timing::read(&scratch.join(format!("fan{n}-{i}")))?;
        let recv = t.of("recv", id);
        let total: usize = recv.values().map(Vec::len).sum();
        copies.push((total as f64 / recv.len().max(1) as f64, recv.len()));
    }
    let worst = copies.iter().map(|c| c.0).fold(0.0, f64::max);
    let fewest = copies.iter().map(|c| c.1).min().unwrap_or(0);
    println!(
        "{n:>2} listener(s): copies per frame per listener max {worst:.2} (goal <= 1.2), \
         fewest distinct frames at a listener {fewest}; talker CPU {:.2} s over {:.1} s = {:.1}% of one core",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
    );
    Ok(())
}
