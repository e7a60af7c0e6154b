//! Live messages between real nodes on 127.0.0.1: one talks (a speech file
//! streamed in real time), the others hear it as it goes, and every copy
//! ends up whole and equal to the sender's, frame for frame, even when
//! frames were lost on the way or a listener joined mid-message.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_audio::quality::{log_spectral_distance, SAME_SPEECH_MAX_LSD_DB};
use hark_audio::Pcm;
use hark_e2e::{fixture, hark_bin, read_audio, TestNode};
use hark_proto::ids::MessageId;

const DONE: Duration = Duration::from_secs(60);

/// A node that writes what it plays to a directory.
fn listener(name: &str, peers: &[&str], out: &Path) -> Result<TestNode> {
    let out = out.to_string_lossy().to_string();
    TestNode::start_with(name, peers, &["--live-out", &out])
}

/// `hark send --live` in the background (it returns when the file is said).
fn talk(from: &TestNode, to: &[&str], file: &Path, drop: f32) -> Result<Child> {
    talk_with(from, to, file, drop, &[])
}

fn talk_with(
    from: &TestNode,
    to: &[&str],
    file: &Path,
    drop: f32,
    extra: &[&str],
) -> Result<Child> {
    let mut cmd = Command::new(hark_bin()?);
    cmd.arg("--data-dir")
        .arg(from.dir())
        .args(["send", "--live"]);
    for t in to {
        cmd.args(["--to", t]);
    }
    if drop > 0.0 {
        cmd.args(["--drop-frames", &drop.to_string()]);
    }
    Ok(cmd
        .args(extra)
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

fn finish(talker: Child) -> Result<String> {
    let out = talker.wait_with_output()?;
    ensure!(
        out.status.success(),
        "send --live failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// What the listener played, with the codec's pre-skip (encoder delay)
/// trimmed so it lines up with the original.
fn played(dir: &Path, id: &str) -> Result<Pcm> {
    let path = dir.join(format!("{id}.wav"));
    hark_e2e::wait_until(DONE, "played audio", || Ok(path.exists()))?;
    std::thread::sleep(Duration::from_millis(300));
    let pcm = read_audio(&path)?;
    Ok(Pcm::new(
        pcm.samples.get(312..).unwrap_or_default().to_vec(),
    ))
}

/// The frames of message `id` in a node's store (the node stopped).
fn stored_frames(node: &TestNode, id: &str) -> Result<Vec<hark_proto::envelope::SealedFrame>> {
    let store = hark_store::Store::open(&node.dir().join("store"))?;
    let id: MessageId = id.parse()?;
    let record = store.message(&id)?.context("message not stored")?;
    ensure!(record.trailer.is_some(), "stored message is not complete");
    Ok(store.frames(&id, 0, record.frame_count)?)
}

// Two listeners hear a live message as it is spoken, and it sounds like the
// original; their stored copies equal the sender's frame for frame.
#[test]
fn listeners_hear_it_live_and_keep_the_same_message() -> Result<()> {
    let speech = fixture("audio/speech-22k05-mono-s16.wav");
    let out = tempfile::tempdir()?;
    let mut a = TestNode::start("alice", &[])?;
    let mut b = listener("bob", &[&a.addr], out.path())?;
    let mut c = listener("carol", &[&a.addr], out.path())?;
    a.await_peer(&b)?;
    a.await_peer(&c)?;

    let id = finish(talk(&a, &["bob", "carol"], &speech, 0.0)?)?;
    let original = read_audio(&speech)?;
    for node in [&b, &c] {
        node.await_state(&id, "received", DONE)?;
        let heard = played(out.path(), &id)?;
        let lsd = log_spectral_distance(&original, &heard);
        ensure!(
            lsd < SAME_SPEECH_MAX_LSD_DB,
            "{} heard it at {lsd:.2} dB",
            node.name
        );
        let extra = heard.samples.len() as i64 - original.samples.len() as i64;
        ensure!(
            (-960..=960 * 15).contains(&extra),
            "played length off by {extra} samples"
        );
    }
    a.await_state(&id, "delivered", DONE)?;

    a.stop()?;
    b.stop()?;
    c.stop()?;
    let sent = stored_frames(&a, &id)?;
    ensure!(
        stored_frames(&b, &id)? == sent,
        "bob's copy differs from alice's"
    );
    ensure!(
        stored_frames(&c, &id)? == sent,
        "carol's copy differs from alice's"
    );
    Ok(())
}

// A talker sending two frames per packet (--live-batch 2): the listener
// hears the same speech, and its copy equals the sender's.
#[test]
fn two_frames_per_packet_sound_and_store_the_same() -> Result<()> {
    let speech = fixture("audio/speech-22k05-mono-s16.wav");
    let out = tempfile::tempdir()?;
    let mut a = TestNode::start_with("alice", &[], &["--live-batch", "2"])?;
    let mut b = listener("bob", &[&a.addr], out.path())?;
    a.await_peer(&b)?;

    let id = finish(talk(&a, &["bob"], &speech, 0.0)?)?;
    b.await_state(&id, "received", DONE)?;
    let lsd = log_spectral_distance(&read_audio(&speech)?, &played(out.path(), &id)?);
    ensure!(lsd < SAME_SPEECH_MAX_LSD_DB, "bob heard it at {lsd:.2} dB");

    a.stop()?;
    b.stop()?;
    ensure!(
        stored_frames(&b, &id)? == stored_frames(&a, &id)?,
        "bob's copy differs from alice's"
    );
    Ok(())
}

// With 10% and 30% of the live frames lost, the listener conceals them
// while playing and repairs its stored copy to the sender's, frame for frame.
#[test]
fn lost_frames_are_repaired() -> Result<()> {
    let speech = fixture("audio/speech-96k-stereo-s24-extensible.wav");
    let out = tempfile::tempdir()?;
    let mut a = TestNode::start("alice", &[])?;
    let mut b = listener("bob", &[&a.addr], out.path())?;
    a.await_peer(&b)?;

    let mut ids = Vec::new();
    for drop in [0.1, 0.3] {
        let id = finish(talk(&a, &["bob"], &speech, drop)?)?;
        b.await_state(&id, "received", DONE)?;
        a.await_state(&id, "delivered", DONE)?;
        ids.push(id);
    }

    a.stop()?;
    b.stop()?;
    for id in &ids {
        ensure!(
            stored_frames(&b, id)? == stored_frames(&a, id)?,
            "{id} not repaired"
        );
    }
    Ok(())
}

// A listener who comes online mid-message gets what was said so far, then
// the rest live, and ends with the whole message.
#[test]
fn listener_joining_mid_message_gets_all_of_it() -> Result<()> {
    let speech = fixture("audio/speech-22k05-mono-s16.wav");
    let out = tempfile::tempdir()?;
    let a = TestNode::start("alice", &[])?;
    let mut b = listener("bob", &[&a.addr], out.path())?;
    a.await_peer(&b)?;
    b.stop()?;

    let talker = talk(&a, &["bob"], &speech, 0.0)?;
    std::thread::sleep(Duration::from_secs(3));
    let out_arg = out.path().to_string_lossy().to_string();
    let b2 = TestNode::start_in_with("bob", b.dir(), &[&a.addr], &["--live-out", &out_arg])?;
    let id = finish(talker)?;

    b2.await_state(&id, "received", DONE)?;
    let heard = played(out.path(), &id)?;
    let original = read_audio(&speech)?;
    let lsd = log_spectral_distance(&original, &heard);
    ensure!(
        lsd < SAME_SPEECH_MAX_LSD_DB,
        "the late listener heard it at {lsd:.2} dB"
    );
    ensure!(
        heard.samples.len() + 960 >= original.samples.len(),
        "the start is missing"
    );
    Ok(())
}

/// Ids of the messages a node lists.
fn inbox_ids(node: &TestNode) -> Result<Vec<String>> {
    let inbox = node.json(&["inbox"])?;
    let list = inbox.as_array().context("inbox is not a list")?;
    Ok(list
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect())
}

// A talker who gives up mid-message (Esc in the window): the listener was
// hearing it, then stops; the message is gone at both ends, nothing of it
// is played out or stored, and the next message goes through as usual.
#[test]
fn cancelled_message_is_gone_at_both_ends() -> Result<()> {
    let speech = fixture("audio/speech-22k05-mono-s16.wav");
    let out = tempfile::tempdir()?;
    let mut a = TestNode::start("alice", &[])?;
    let mut b = listener("bob", &[&a.addr], out.path())?;
    a.await_peer(&b)?;

    let talker = talk_with(&a, &["bob"], &speech, 0.0, &["--cancel-after", "2"])?;
    let mut hearing = Vec::new();
    hark_e2e::wait_until(DONE, "bob to list the live message", || {
        hearing = inbox_ids(&b)?;
        Ok(!hearing.is_empty())
    })?;
    let id = finish(talker)?;
    ensure!(
        hearing == vec![id.clone()],
        "bob listed {hearing:?}, not {id}"
    );
    hark_e2e::wait_until(DONE, "bob to drop the cancelled message", || {
        Ok(inbox_ids(&b)?.is_empty())
    })?;
    ensure!(
        inbox_ids(&a)?.is_empty(),
        "alice kept the cancelled message"
    );

    // The next message plays and arrives whole: nothing was left stuck.
    let next = finish(talk(&a, &["bob"], &speech, 0.0)?)?;
    b.await_state(&next, "received", DONE)?;
    played(out.path(), &next)?;
    ensure!(
        !out.path().join(format!("{id}.wav")).exists(),
        "the cancelled message was played out in full"
    );

    a.stop()?;
    b.stop()?;
    for node in [&a, &b] {
        let store = hark_store::Store::open(&node.dir().join("store"))?;
        ensure!(
            store.message(&id.parse()?)?.is_none(),
            "{} still stores the cancelled message",
            node.name
        );
    }
    Ok(())
}
