//! Real audio through a private PulseAudio (scripts/pulse-test-env.sh): a
//! 48 kHz null sink is the default output and its monitor the default
//! input, reached by cpal through ALSA's `pulse` plugin. No mocks: speech
//! goes through the sound server and comes back.
//!
//! Each test starts its own server and stops it at the end. The tests take
//! one lock for their whole run: they share the process environment (where
//! libpulse finds the server) and would hear each other through the sink.
//! Run with `--nocapture` to see the measured distances and latencies.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use hark_audio::device::{self, Capture, DeviceError, Playback};
use hark_audio::quality::{log_spectral_distance, SAME_SPEECH_MAX_LSD_DB};
use hark_audio::{import, Pcm, FRAME_SAMPLES, SAMPLE_RATE};
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

type TestResult<T = ()> = Result<T, Box<dyn Error>>;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The speech every test plays: 10.8 s, 48 kHz mono 16-bit.
const SPEECH: &str = "tests/fixtures/audio/speech-48k-mono-s16.wav";

/// Longest a test may wait for audio to go through the server.
const DEADLINE: Duration = Duration::from_secs(18);

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the lock every test here holds; a failed test does not poison it
/// for the others.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running private PulseAudio; stopped (by its pid) when dropped.
struct Pulse {
    pid: String,
    sink: String,
    _dir: tempfile::TempDir,
}

impl Pulse {
    /// Starts the server in a fresh temp dir and exports its environment
    /// into this process, so that cpal (through libpulse) and the paplay
    /// and parec children find it.
    fn start() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let output = Command::new(script())
            .arg("start")
            .arg(dir.path().join("run"))
            .output()?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("pulse-test-env.sh start failed: {stderr}").into());
        }

        let (mut pid, mut sink) = (None, None);
        for line in String::from_utf8(output.stdout)?.lines() {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "PULSE_PID" => pid = Some(value.to_owned()),
                "PULSE_SINK" => sink = Some(value.to_owned()),
                _ => {}
            }
            // Tests hold `serial()`, so no other test thread reads the
            // environment while it changes.
            std::env::set_var(key, value);
        }
        let pid = pid.ok_or("no PULSE_PID printed")?;
        let sink = sink.ok_or("no PULSE_SINK printed")?;
        Ok(Self {
            pid,
            sink,
            _dir: dir,
        })
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        stop_server(&self.pid);
    }
}

/// Stops the server with that pid (a no-op once it is gone). Its folder
/// stays until the `Pulse` is dropped: libpulse, finding XDG_RUNTIME_DIR
/// missing, would make itself one under ~/.config.
fn stop_server(pid: &str) {
    let stopped = Command::new(script()).arg("stop").arg(pid).status();
    if !matches!(stopped, Ok(status) if status.success()) {
        eprintln!("could not stop pulseaudio {pid}: {stopped:?}");
    }
}

fn script() -> PathBuf {
    Path::new(ROOT).join("scripts/pulse-test-env.sh")
}

fn speech() -> TestResult<Pcm> {
    Ok(import::read_file(&Path::new(ROOT).join(SPEECH))?.pcm)
}

// ---------------------------------------------------------------------------
// Capture

// paplay plays the speech into the sink while Capture records the default
// input (the sink's monitor): the recording, aligned by cross-correlation
// and trimmed, is the same speech (LSD under the threshold) with the same
// speech duration (within 100 ms), and nothing overran.
#[test]
fn capture_records_what_is_played() -> TestResult {
    let _serial = serial();
    let pulse = Pulse::start()?;
    let original = speech()?;

    let mut capture = Capture::start(None)?;
    let started = Instant::now();
    // A quarter second of buffer: with less, paplay itself underruns when
    // the machine is busy, and the sink plays gaps that no capture can undo.
    let mut paplay = Command::new("paplay")
        .args(["--latency-msec=250", "-d", &pulse.sink])
        .arg(Path::new(ROOT).join(SPEECH))
        .spawn()?;
    let spawned = started.elapsed();

    let (recorded, loudest) = record_until_exit(&mut capture, &mut paplay)?;
    let (device_latency, overruns, xruns, config) = (
        capture.latency(),
        capture.overruns(),
        capture.xruns(),
        capture.device_config(),
    );
    let mut recorded = recorded;
    recorded.extend(capture.stop()?.samples);

    let offset = find_offset(&original.samples, &recorded)?;
    let distance = compare(&original, &recorded, offset)?;
    // The recording starts when Capture does; the clip when paplay is spawned.
    let delay = offset as f64 / 48.0 - spawned.as_secs_f64() * 1e3;
    eprintln!(
        "capture: device {config:?}, LSD {distance:.2} dB, paplay spawn to capture {delay:.0} \
         ms, device-reported input latency {:.1} ms, peak level {loudest:.2}, xruns {xruns}",
        device_latency.as_secs_f64() * 1e3,
    );
    assert_eq!(overruns, 0);
    assert!(loudest > 0.1, "level meter never rose: peak {loudest}");
    Ok(())
}

/// Reads frames every 20 ms until `player` exits and its tail has come
/// through; returns the samples and the highest peak the meter showed.
fn record_until_exit(capture: &mut Capture, player: &mut Child) -> TestResult<(Vec<f32>, f32)> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut loudest = 0.0f32;
    let mut exited_at = None;
    while exited_at.is_none_or(|at: Instant| at.elapsed() < Duration::from_millis(500)) {
        if started.elapsed() > DEADLINE {
            player.kill()?;
            return Err("player did not finish in time".into());
        }
        for frame in capture.read_frames()? {
            samples.extend_from_slice(&frame);
        }
        loudest = loudest.max(capture.level().peak);
        if exited_at.is_none() {
            if let Some(status) = player.try_wait()? {
                assert!(status.success(), "player failed: {status}");
                exited_at = Some(Instant::now());
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok((samples, loudest))
}

// ---------------------------------------------------------------------------
// Playback

// Playback plays the speech to the default output (the sink) while parec
// records the sink's monitor: the recording is the same speech, position
// ends at the clip's length, and there were no underruns.
#[test]
fn playback_plays_the_clip() -> TestResult {
    let _serial = serial();
    let pulse = Pulse::start()?;
    let original = speech()?;

    let mut playback = Playback::start(None)?;
    let monitor = format!("{}.monitor", pulse.sink);
    let mut parec = Command::new("parec")
        .args(["--latency-msec=20", "-d", &monitor])
        .args(["--format=float32le", "--rate=48000", "--channels=1"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = parec.stdout.take().ok_or("parec has no stdout")?;
    let reader = thread::spawn(move || read_floats(stdout));
    thread::sleep(Duration::from_millis(500));

    let play_started = Instant::now();
    playback.play_pcm(&original)?;
    let play_took = play_started.elapsed();
    let (position, underruns, xruns, config) = (
        playback.position(),
        playback.underruns(),
        playback.xruns(),
        playback.device_config(),
    );
    let device_latency = playback.latency();
    drop(playback);
    thread::sleep(Duration::from_millis(300));
    parec.kill()?;
    parec.wait()?;
    let (recorded, first_bytes) = reader.join().map_err(|_| "parec reader panicked")??;

    let offset = find_offset(&original.samples, &recorded)?;
    let distance = compare(&original, &recorded, offset)?;
    // parec delivers 20 ms fragments: its sample 0 was heard 20 ms before
    // the first bytes arrived. Speech starts 630 samples into the clip.
    let heard = first_bytes.ok_or("parec delivered nothing")? - Duration::from_millis(20)
        + Duration::from_secs_f64(offset as f64 / 48_000.0);
    let delay = heard.saturating_duration_since(play_started);
    eprintln!(
        "playback: device {config:?}, LSD {distance:.2} dB, play_pcm took {:.0} ms for a \
         {:.0} ms clip, push to monitor {:.0} ms (+-20), device-reported output latency \
         {:.1} ms, position {position}, xruns {xruns}",
        play_took.as_secs_f64() * 1e3,
        original.duration().as_secs_f64() * 1e3,
        delay.as_secs_f64() * 1e3,
        device_latency.as_secs_f64() * 1e3,
    );
    let expected = original.samples.len() as u64;
    assert!(
        position.abs_diff(expected) <= 48,
        "position {position} of {expected}"
    );
    assert_eq!(underruns, 0);
    assert!(
        play_took >= original.duration(),
        "returned before the clip could play"
    );
    Ok(())
}

/// Reads raw float32le samples until the stream ends; also returns when
/// the first bytes arrived.
fn read_floats(mut from: impl Read) -> Result<(Vec<f32>, Option<Instant>), std::io::Error> {
    let (mut bytes, mut first) = (Vec::new(), None);
    let mut buffer = [0u8; 16_384];
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
        bytes.extend_from_slice(&buffer[..n]);
    }
    let samples = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((samples, first))
}

// ---------------------------------------------------------------------------
// Names

// The listing shows the server's devices with the default first; a name
// from it opens; a name that does not exist is NotFound, not a panic.
#[test]
fn devices_are_found_by_name_or_not_found() -> TestResult {
    let _serial = serial();
    let _pulse = Pulse::start()?;

    let inputs = device::list_inputs()?;
    let outputs = device::list_outputs()?;
    for (direction, list) in [("inputs", &inputs), ("outputs", &outputs)] {
        let names: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
        eprintln!("{direction}: {names:?}");
        let first = list.first().ok_or("no devices listed")?;
        assert!(first.is_default, "default not first: {first:?}");
        assert!(names.contains(&"pulse"), "{direction}: {names:?}");
        assert!(list
            .iter()
            .all(|d| !d.sample_rates.is_empty() && !d.channels.is_empty()));
    }

    let pulse_input = inputs
        .iter()
        .find(|d| d.name == "pulse")
        .ok_or("no pulse input")?;
    assert!(
        pulse_input.sample_rates.contains(&48_000),
        "{pulse_input:?}"
    );
    Capture::start(Some("pulse"))?.stop()?;
    drop(Playback::start(Some("pulse"))?);

    let missing = "hark-no-such-device";
    let capture = Capture::start(Some(missing));
    assert!(
        matches!(&capture, Err(DeviceError::NotFound(n)) if n == missing),
        "{capture:?}"
    );
    let playback = Playback::start(Some(missing));
    assert!(
        matches!(&playback, Err(DeviceError::NotFound(n)) if n == missing),
        "{playback:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// A device that goes away

// The sound server dies a second into a recording: read_frames reports
// Lost within STALL (+1 s), and stop still hands over what was captured,
// which is the start of the speech.
#[test]
fn lost_device_keeps_what_was_captured() -> TestResult {
    let _serial = serial();
    let pulse = Pulse::start()?;
    let original = speech()?;

    let mut capture = Capture::start(None)?;
    let mut paplay = Command::new("paplay")
        .args(["--latency-msec=250", "-d", &pulse.sink])
        .arg(Path::new(ROOT).join(SPEECH))
        .spawn()?;
    let mut recorded = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_500) {
        recorded.extend(capture.read_frames()?.into_iter().flatten());
        thread::sleep(Duration::from_millis(20));
    }

    let killed = Instant::now();
    stop_server(&pulse.pid);
    paplay.wait()?;
    let lost_after = loop {
        match capture.read_frames() {
            Ok(frames) => recorded.extend(frames.into_iter().flatten()),
            Err(DeviceError::Lost) => break killed.elapsed(),
            Err(other) => return Err(other.into()),
        }
        if killed.elapsed() > device::STALL + Duration::from_secs(1) {
            return Err("loss not noticed".into());
        }
        thread::sleep(Duration::from_millis(20));
    };

    let stopped = Instant::now();
    let error = capture
        .stop()
        .err()
        .ok_or("stop succeeded on a lost device")?;
    let stop_took = stopped.elapsed();
    assert_eq!(error.error, DeviceError::Lost);
    recorded.extend(error.captured.samples);

    let prefix = &original.samples[..recorded.len().min(original.samples.len())];
    let offset = find_offset(prefix, &recorded)?;
    // The capture may start after the speech (a negative offset, as in
    // `compare`; once seen in a clean-clone run): then it is compared from
    // where it started. What this test is about is the end, so up to half
    // a second late at the start is allowed here.
    let skip = usize::try_from(-offset).unwrap_or(0);
    let start = usize::try_from(offset).unwrap_or(0);
    assert!(skip < 24_000, "recording lacks the first {skip} samples");
    let heard = (recorded.len() - start).min(original.samples.len() - skip);
    let part = Pcm::new(original.samples[skip..skip + heard].to_vec());
    let kept = Pcm::new(recorded[start..start + heard].to_vec());
    let distance = log_spectral_distance(&part, &kept);
    eprintln!(
        "lost: noticed after {lost_after:?}, stop took {stop_took:?}, kept {} ms of speech, \
         LSD {distance:.2} dB",
        heard / 48
    );
    assert!(heard > 24_000, "kept only {heard} samples");
    assert!(distance < SAME_SPEECH_MAX_LSD_DB, "LSD {distance:.2} dB");
    assert!(
        stop_took < Duration::from_millis(500),
        "stop hung for {stop_took:?}"
    );
    Ok(())
}

// The sound server dies while a clip plays: play_pcm returns Lost instead
// of waiting forever, and dropping the Playback does not hang.
#[test]
fn lost_output_ends_play_pcm() -> TestResult {
    let _serial = serial();
    let pulse = Pulse::start()?;
    let original = speech()?;

    let mut playback = Playback::start(None)?;
    let pid = pulse.pid.clone();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1_000));
        stop_server(&pid);
    });
    let started = Instant::now();
    let result = playback.play_pcm(&original);
    let returned = started.elapsed();
    killer.join().map_err(|_| "killer thread panicked")?;

    let dropping = Instant::now();
    drop(playback);
    let drop_took = dropping.elapsed();
    eprintln!(
        "lost output: play_pcm returned {result:?} after {returned:?}, drop took {drop_took:?}"
    );
    assert_eq!(result, Err(DeviceError::Lost));
    assert!(returned < Duration::from_secs(1) + device::STALL + Duration::from_secs(1));
    assert!(
        drop_took < Duration::from_millis(500),
        "drop hung for {drop_took:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// No allocation on the audio threads

/// Counts allocations made on cpal's audio threads ("cpal_alsa_in" and
/// "cpal_alsa_out", the threads that run the data callbacks) while
/// `COUNTING` is on. Everything is passed on to the system allocator.
struct AudioThreadCounter;

static COUNTING: AtomicBool = AtomicBool::new(false);
static AUDIO_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// 0: not known yet, 1: an audio thread, 2: another thread, 3: finding out.
    static ROLE: Cell<u8> = const { Cell::new(0) };
}

#[global_allocator]
static ALLOCATOR: AudioThreadCounter = AudioThreadCounter;

fn note_allocation() {
    let _ = ROLE.try_with(|role| {
        if role.get() == 0 {
            // Looking up the thread's name may itself allocate: role 3
            // makes that nested call skip this branch.
            role.set(3);
            let audio = thread::current()
                .name()
                .is_some_and(|name| name.starts_with("cpal_alsa"));
            role.set(if audio { 1 } else { 2 });
        }
        if role.get() == 1 && COUNTING.load(Ordering::Relaxed) {
            AUDIO_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counting
// touches only a const thread-local and atomics, which do not allocate.
unsafe impl GlobalAlloc for AudioThreadCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_allocation();
        unsafe { System.dealloc(ptr, layout) }
    }
}

// With a Capture and a Playback running on the same sink (the capture
// hears the playback), two seconds of callbacks on cpal's audio threads
// allocate and free nothing, while audio demonstrably flows both ways.
#[test]
fn audio_threads_do_not_allocate() -> TestResult {
    let _serial = serial();
    let _pulse = Pulse::start()?;
    let original = speech()?;

    let mut playback = Playback::start(None)?;
    let mut capture = Capture::start(None)?;
    // Warm up: the first callbacks run before counting starts.
    playback.push(&[0.0; 4_800])?;
    thread::sleep(Duration::from_millis(300));
    capture.read_frames()?;

    // cpal builds an error message (allocating) on the audio thread when
    // the backend reports an xrun, which a busy machine can cause: a
    // window with backend errors proves nothing, so it is tried again.
    for attempt in 1..=3 {
        let errors = backend_errors(&capture, &playback);
        let window = count_window(&mut playback, &mut capture, &original)?;
        if backend_errors(&capture, &playback) != errors {
            eprintln!("attempt {attempt}: backend errors during the window, again");
            continue;
        }
        eprintln!("audio threads: {window:?}");
        assert_eq!(window.allocations, 0);
        assert!(window.played > u64::from(SAMPLE_RATE), "{window:?}");
        assert!(window.frames > 50, "{window:?}");
        assert!(
            window.heard > 0.1,
            "capture did not hear the playback: {window:?}"
        );
        capture.stop()?;
        return Ok(());
    }
    Err("every window had backend errors".into())
}

#[derive(Debug)]
struct Window {
    /// Allocations and frees on cpal's audio threads.
    allocations: u64,
    /// 48 kHz samples the playback callback took.
    played: u64,
    /// 20 ms frames read from the capture.
    frames: usize,
    /// Highest peak the capture meter showed.
    heard: f32,
}

/// Streams two seconds of speech to the playback and reads the capture,
/// counting the audio threads' allocations meanwhile.
fn count_window(
    playback: &mut Playback,
    capture: &mut Capture,
    speech: &Pcm,
) -> TestResult<Window> {
    AUDIO_ALLOCATIONS.store(0, Ordering::Relaxed);
    let played_before = playback.position();
    let mut window = Window {
        allocations: 0,
        played: 0,
        frames: 0,
        heard: 0.0,
    };
    let mut chunks = speech.samples.chunks(FRAME_SAMPLES).take(100);

    COUNTING.store(true, Ordering::Relaxed);
    // 100 ms ahead, then one 20 ms frame per 20 ms.
    for chunk in chunks.by_ref().take(5) {
        playback.push(chunk)?;
    }
    for chunk in chunks {
        playback.push(chunk)?;
        window.frames += capture.read_frames()?.len();
        window.heard = window.heard.max(capture.level().peak);
        thread::sleep(Duration::from_millis(20));
    }
    COUNTING.store(false, Ordering::Relaxed);

    window.allocations = AUDIO_ALLOCATIONS.load(Ordering::Relaxed);
    window.played = playback.position() - played_before;
    Ok(window)
}

fn backend_errors(capture: &Capture, playback: &Playback) -> u64 {
    capture.xruns() + capture.stream_errors() + playback.xruns() + playback.stream_errors()
}

// Capture and Playback can move to another thread (an async task, say).
#[test]
fn handles_are_send() {
    fn is_send<T: Send>() {}
    is_send::<Capture>();
    is_send::<Playback>();
}

// ---------------------------------------------------------------------------
// Comparing recordings

/// Checks the recording against the original: the stretch where they
/// overlap at `offset` (see [`find_offset`]), trimmed to the original's
/// length, must be the same speech, and the speech in the whole recording
/// must last as long. Returns the distance.
fn compare(original: &Pcm, recorded: &[f32], offset: i64) -> TestResult<f64> {
    // A recording may start a little after the original's first sample
    // (negative offset): compare from there.
    let skip = usize::try_from(-offset).unwrap_or(0);
    let start = usize::try_from(offset).unwrap_or(0);
    assert!(skip < 4_800, "recording lacks the first {skip} samples");
    let reference = Pcm::new(original.samples[skip..].to_vec());
    let end = (start + reference.samples.len()).min(recorded.len());
    let aligned = Pcm::new(recorded[start..end].to_vec());
    let distance = log_spectral_distance(&reference, &aligned);
    assert!(
        distance < SAME_SPEECH_MAX_LSD_DB,
        "LSD {distance:.2} dB at offset {offset}"
    );

    let (want, got) = (speech_span(&original.samples), speech_span(recorded));
    let difference = want.abs_diff(got);
    eprintln!("speech lasts {want:?} in the original, {got:?} in the recording");
    assert!(
        difference <= Duration::from_millis(100),
        "speech durations differ by {difference:?}"
    );
    Ok(distance)
}

/// From the start of the first to the end of the last 10 ms window whose
/// RMS is within 40 dB of the loudest window.
fn speech_span(samples: &[f32]) -> Duration {
    let rms: Vec<f32> = samples
        .chunks(480)
        .map(|w| (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0, f32::max);
    let active = |r: &&f32| **r > loudest * 0.01;
    let first = rms.iter().position(|r| active(&r));
    let last = rms.iter().rposition(|r| active(&r));
    match (first, last) {
        (Some(first), Some(last)) => Duration::from_millis(10 * (last - first + 1) as u64),
        _ => Duration::ZERO,
    }
}

/// The lag at which `recorded` best matches `original`
/// (`recorded[lag + i] ≈ original[i]`; negative when the recording starts
/// after the original's first sample): the peak of their
/// cross-correlation, found on 4x averaged signals by FFT, then refined
/// sample by sample.
fn find_offset(original: &[f32], recorded: &[f32]) -> TestResult<i64> {
    if recorded.len() < original.len() / 2 {
        return Err(format!("recorded only {} samples", recorded.len()).into());
    }
    let coarse = 4 * correlation_peak(&decimate(original), &decimate(recorded))?;
    let best = (coarse - 8..=coarse + 8)
        .max_by(|&a, &b| dot_at(original, recorded, a).total_cmp(&dot_at(original, recorded, b)))
        .ok_or("no lag to refine")?;
    Ok(best)
}

fn decimate(samples: &[f32]) -> Vec<f32> {
    samples
        .chunks(4)
        .map(|c| c.iter().sum::<f32>() / 4.0)
        .collect()
}

/// Sum of `original[i] * recorded[lag + i]` over the overlap.
fn dot_at(original: &[f32], recorded: &[f32], lag: i64) -> f32 {
    let (original, recorded) = match usize::try_from(lag) {
        Ok(lag) => (original, recorded.get(lag..).unwrap_or_default()),
        Err(_) => (
            original
                .get(lag.unsigned_abs() as usize..)
                .unwrap_or_default(),
            recorded,
        ),
    };
    original.iter().zip(recorded).map(|(a, b)| a * b).sum()
}

/// Lag maximising the cross-correlation, computed by FFT: index `k` of the
/// circular correlation is lag `k`, index `n - k` is lag `-k`.
fn correlation_peak(original: &[f32], recorded: &[f32]) -> TestResult<i64> {
    let n = (original.len() + recorded.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let (forward, inverse) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let spectrum = |signal: &[f32]| -> TestResult<Vec<Complex<f32>>> {
        let mut input = forward.make_input_vec();
        input[..signal.len()].copy_from_slice(signal);
        let mut output = forward.make_output_vec();
        forward.process(&mut input, &mut output)?;
        Ok(output)
    };
    let (a, b) = (spectrum(original)?, spectrum(recorded)?);

    let mut cross: Vec<Complex<f32>> = b.iter().zip(&a).map(|(b, a)| b * a.conj()).collect();
    // A real signal's spectrum is real at DC and Nyquist; drop rounding.
    let last = cross.len() - 1;
    cross[0].im = 0.0;
    cross[last].im = 0.0;
    let mut correlation = inverse.make_output_vec();
    inverse.process(&mut cross, &mut correlation)?;

    let (peak, _) = correlation
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .ok_or("empty correlation")?;
    let peak = peak as i64;
    Ok(if peak > (n / 2) as i64 {
        peak - n as i64
    } else {
        peak
    })
}
