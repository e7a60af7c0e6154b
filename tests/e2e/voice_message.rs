//! A voice message from real speech crosses real sockets: three `hark`
//! nodes on 127.0.0.1, each with its own sled dir. A sends every valid
//! fixture to B; B's exports match the original; C, not a recipient, learns
//! nothing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_audio::quality::{log_spectral_distance, SAME_SPEECH_MAX_LSD_DB};
use hark_audio::{Pcm, FRAME_SAMPLES};
use hark_e2e::{fixtures_in, output_dir, read_audio, TestNode};

const DELIVERY: Duration = Duration::from_secs(60);

// Every valid fixture goes from A to B, whole and recognisably the same
// speech; C, connected to both, never holds it in the clear.
#[test]
fn every_fixture_arrives_whole_and_sounds_the_same() -> Result<()> {
    let out = output_dir("voice_message")?;
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start("bob", &[&a.addr])?;
    let c = TestNode::start("carol", &[&a.addr, &b.addr])?;
    a.await_peer(&b)?;
    a.await_peer(&c)?;

    let mut sent = Vec::new();
    for file in fixtures_in("audio")? {
        // Once by display name, otherwise by peer id.
        let to = if sent.is_empty() {
            "bob"
        } else {
            b.peer_id.as_str()
        };
        let id = a
            .send(to, &file)
            .with_context(|| file.display().to_string())?;
        sent.push((file, id));
    }

    for (file, id) in &sent {
        check_delivery(&a, &b, file, id, &out).with_context(|| file.display().to_string())?;
    }
    check_measure_rejects_other_speech(&out)?;

    for (_, id) in &sent {
        ensure!(
            c.message(id)?.is_none(),
            "carol, not a recipient, lists {id}"
        );
    }
    let (mut a, mut b, mut c) = (a, b, c);
    a.stop()?;
    b.stop()?;
    c.stop()?;
    check_no_plaintext_at(&b, &c, &sent)
}

/// The message reached B, A saw the receipt, and both exports match.
fn check_delivery(a: &TestNode, b: &TestNode, file: &Path, id: &str, out: &Path) -> Result<()> {
    let original = read_audio(file)?;
    let received = b.await_state(id, "received", DELIVERY)?;
    a.await_state(id, "delivered", DELIVERY)?;

    let want_ms = original.samples.len() as i64 * 1000 / 48_000;
    let got_ms = received["duration_ms"].as_i64().context("no duration")?;
    ensure!(
        (got_ms - want_ms).abs() <= 20,
        "inbox says {got_ms} ms, source has {want_ms} ms"
    );

    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .context("bad name")?;
    let wav = out.join(format!("{stem}.wav"));
    let opus = out.join(format!("{stem}.opus"));
    export(b, id, &wav)?;
    export(b, id, &opus)?;

    compare(&original, &read_audio(&wav)?, "exported WAV")?;
    check_with_opus_tools(&opus, &original, out, stem)
}

fn export(node: &TestNode, id: &str, path: &Path) -> Result<()> {
    let result = node.cli(&["export", id, &path.to_string_lossy()])?;
    ensure!(
        result.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    Ok(())
}

/// Same length within one frame, and the same speech by spectral distance
/// (or both silent).
fn compare(original: &Pcm, decoded: &Pcm, what: &str) -> Result<()> {
    let delta = original.samples.len().abs_diff(decoded.samples.len());
    ensure!(
        delta <= FRAME_SAMPLES,
        "{what}: length differs by {delta} samples"
    );

    let peak = |p: &Pcm| p.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    if peak(original) < 1e-4 {
        ensure!(peak(decoded) < 1e-2, "{what}: silence came out loud");
        return Ok(());
    }
    let lsd = log_spectral_distance(original, decoded);
    ensure!(
        lsd < SAME_SPEECH_MAX_LSD_DB,
        "{what}: spectral distance {lsd:.2} dB is too high"
    );
    Ok(())
}

/// `opusinfo` accepts the Ogg Opus export; `opusdec` decodes it to the
/// right length and the same speech.
fn check_with_opus_tools(opus: &Path, original: &Pcm, out: &Path, stem: &str) -> Result<()> {
    let info = Command::new("opusinfo")
        .arg(opus)
        .output()
        .context("opusinfo (opus-tools) missing")?;
    let text =
        String::from_utf8_lossy(&info.stdout).to_string() + &String::from_utf8_lossy(&info.stderr);
    ensure!(
        info.status.success(),
        "opusinfo rejects {}: {text}",
        opus.display()
    );
    ensure!(
        !text.to_lowercase().contains("warning"),
        "opusinfo warns: {text}"
    );

    let decoded = out.join(format!("{stem}.opusdec.wav"));
    let dec = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000"])
        .arg(opus)
        .arg(&decoded)
        .output()
        .context("opusdec (opus-tools) missing")?;
    ensure!(
        dec.status.success(),
        "opusdec failed: {}",
        String::from_utf8_lossy(&dec.stderr)
    );
    compare(original, &read_audio(&decoded)?, "opusdec output")
}

/// The distance used above must fail on different speech: the same voice
/// played backwards has the same long-term spectrum but not the same words.
fn check_measure_rejects_other_speech(out: &Path) -> Result<()> {
    let original = read_audio(&hark_e2e::fixture("audio/speech-48k-mono-s16.wav"))?;
    let received = read_audio(&out.join("speech-48k-mono-s16.wav"))?;
    let reversed = Pcm {
        samples: received.samples.iter().rev().copied().collect(),
    };

    let same = log_spectral_distance(&original, &received);
    let other = log_spectral_distance(&original, &reversed);
    ensure!(
        other > SAME_SPEECH_MAX_LSD_DB,
        "reversed speech scored {other:.2} dB (same: {same:.2})"
    );
    Ok(())
}

/// C stored none of the messages and no plaintext Opus packet appears
/// anywhere in its data dir; B's copy opens for B but not with C's key.
fn check_no_plaintext_at(
    b: &TestNode,
    c: &TestNode,
    sent: &[(std::path::PathBuf, String)],
) -> Result<()> {
    let b_id = load_identity(b.dir())?;
    let c_id = load_identity(c.dir())?;
    let b_store = hark_store::Store::open(&b.dir().join("store"))?;
    let c_store = hark_store::Store::open(&c.dir().join("store"))?;
    let c_bytes = read_all_files(c.dir())?;

    for (_, id) in sent {
        let id: hark_proto::ids::MessageId = id.parse()?;
        ensure!(!c_store.contains(&id)?, "carol stored {id}");
        let record = b_store.message(&id)?.context("bob lost the message")?;
        let frames = b_store.frames(&id, 0, record.frame_count)?;
        let trailer = record.trailer.context("no trailer")?;

        let opened = hark_proto::envelope::open_message(&b_id, &record.header, &frames, &trailer)?;
        let denied = hark_proto::envelope::open_message(&c_id, &record.header, &frames, &trailer);
        ensure!(denied.is_err(), "carol's key opens {id}");
        // A sample of packets keeps the scan short; any one found fails.
        let sample = opened
            .2
            .iter()
            .filter(|p| p.len() >= 24)
            .step_by(97)
            .take(8);
        for packet in sample {
            let found = memchr::memmem::find(&c_bytes, packet).is_some();
            ensure!(!found, "a plaintext packet of {id} is in carol's dir");
        }
    }
    Ok(())
}

fn load_identity(dir: &Path) -> Result<hark_proto::identity::Identity> {
    let bytes = std::fs::read(dir.join("identity.key"))?;
    Ok(hark_proto::identity::Identity::from_bytes(&bytes)?)
}

fn read_all_files(dir: &Path) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            all.extend(read_all_files(&path)?);
        } else if path.is_file() {
            all.extend(std::fs::read(&path)?);
        }
    }
    Ok(all)
}
