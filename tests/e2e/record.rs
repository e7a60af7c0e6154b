//! Recording from a real (virtual) microphone: a private PulseAudio with a
//! null sink stands in for the sound card; speech played into the sink is
//! what `hark record` captures through cpal, streams live and stores. The
//! listener's copy is compared with the original speech.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_audio::quality::{log_spectral_distance, SAME_SPEECH_MAX_LSD_DB};
use hark_audio::Pcm;
use hark_e2e::{fixture, read_audio, TestNode};

/// A private PulseAudio, stopped on drop.
struct Pulse {
    pid: String,
    _dir: tempfile::TempDir,
}

impl Pulse {
    /// Starts it and points this process (and the nodes it starts) at it.
    fn start() -> Result<Pulse> {
        let dir = tempfile::tempdir()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pulse-test-env.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .output()?;
        ensure!(
            out.status.success(),
            "pulseaudio: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut pid = String::new();
        for line in String::from_utf8(out.stdout)?.lines() {
            let line = line.trim_start_matches("export ");
            let (key, value) = line.split_once('=').context("odd line from the script")?;
            let value = value.trim_matches('\'').trim_matches('"');
            match key {
                "PULSE_PID" => pid = value.to_string(),
                // One test in this binary: no other thread reads the env.
                _ => std::env::set_var(key, value),
            }
        }
        Ok(Pulse { pid, _dir: dir })
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pulse-test-env.sh");
        let _ = Command::new(script).args(["stop", &self.pid]).output();
    }
}

/// The offset (in samples) at which `part` best lines up inside `whole`:
/// first on 1 ms loudness envelopes, then sample-exact nearby.
fn align(whole: &[f32], part: &[f32]) -> usize {
    let envelope = |x: &[f32]| -> Vec<f32> {
        x.chunks(48)
            .map(|c| c.iter().map(|s| s.abs()).sum::<f32>() / 48.0)
            .collect()
    };
    let (w, p) = (envelope(whole), envelope(part));
    let score = |off: usize| -> f32 { p.iter().zip(&w[off..]).map(|(a, b)| a * b).sum() };
    let coarse =
        (0..w.len().saturating_sub(p.len() / 2)).max_by(|a, b| score(*a).total_cmp(&score(*b)));
    let coarse = coarse.unwrap_or(0) * 48;

    let fine = |off: usize| -> f32 { part.iter().zip(&whole[off..]).map(|(a, b)| a * b).sum() };
    let lo = coarse.saturating_sub(96);
    let hi = (coarse + 96).min(whole.len().saturating_sub(1));
    (lo..hi)
        .max_by(|a, b| fine(*a).total_cmp(&fine(*b)))
        .unwrap_or(coarse)
}

// Speech played into the virtual microphone while `hark record` runs comes
// out at the listener as the same speech.
#[test]
fn recording_from_the_microphone_reaches_the_listener() -> Result<()> {
    let _pulse = Pulse::start()?;
    let speech = fixture("audio/speech-48k-mono-s16.wav");
    let out = tempfile::tempdir()?;
    let out_arg = out.path().to_string_lossy().to_string();
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start_with("bob", &[&a.addr], &["--live-out", &out_arg])?;
    a.await_peer(&b)?;

    let player = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        Command::new("paplay").arg(&speech).status()
    });
    let rec = a.cli(&["record", "--to", "bob", "--seconds", "12.5"])?;
    ensure!(
        rec.status.success(),
        "record failed: {}",
        String::from_utf8_lossy(&rec.stderr)
    );
    let id = String::from_utf8(rec.stdout)?.trim().to_string();
    let played = player
        .join()
        .map_err(|_| anyhow::anyhow!("paplay thread"))??;
    ensure!(played.success(), "paplay failed");

    b.await_state(&id, "received", Duration::from_secs(60))?;
    let wav = out.path().join("export.wav");
    let export = b.cli(&["export", &id, &wav.to_string_lossy()])?;
    ensure!(export.status.success(), "export failed");
    let got = read_audio(&wav)?;
    ensure!(
        (got.samples.len() as i64 - 12 * 48_000).abs() < 48_000,
        "recorded {} samples",
        got.samples.len()
    );

    let original = read_audio(&fixture("audio/speech-48k-mono-s16.wav"))?;
    let at = align(&got.samples, &original.samples);
    let end = (at + original.samples.len()).min(got.samples.len());
    let heard = Pcm::new(got.samples[at..end].to_vec());
    ensure!(
        heard.samples.len() + 4800 > original.samples.len(),
        "the speech was cut"
    );
    let lsd = log_spectral_distance(&original, &heard);
    ensure!(
        lsd < SAME_SPEECH_MAX_LSD_DB,
        "recorded speech scored {lsd:.2} dB"
    );
    Ok(())
}
