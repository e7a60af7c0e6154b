//! Channels between real nodes: made and joined with an invite code; a
//! member's message (stored and live) reaches the other members and
//! nobody else; a muted channel keeps its messages but does not play them.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_e2e::{fixture, TestNode};

const DONE: Duration = Duration::from_secs(60);

fn invite(node: &TestNode, name: &str) -> Result<String> {
    let out = node.cli(&["channel", "create", name])?;
    ensure!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let code = text
        .split_whitespace()
        .last()
        .context("no invite printed")?;
    Ok(code.to_string())
}

fn join(node: &TestNode, code: &str) -> Result<()> {
    let out = node.cli(&["channel", "join", code])?;
    ensure!(
        out.status.success(),
        "join failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

// Members get the channel's messages, sent or live; a peer without the
// invite, connected all along, gets none; a bad invite is refused.
#[test]
fn channel_messages_reach_members_only() -> Result<()> {
    let out = tempfile::tempdir()?;
    let out_arg = out.path().to_string_lossy().to_string();
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start_with("bob", &[&a.addr], &["--live-out", &out_arg])?;
    let c = TestNode::start("carol", &[&a.addr, &b.addr])?;
    a.await_peer(&b)?;
    a.await_peer(&c)?;

    let code = invite(&a, "Team Radio")?;
    join(&b, &code)?;
    let bad = a.cli(&["channel", "join", "hark-channel:notavalidcode"])?;
    ensure!(!bad.status.success(), "a damaged invite was accepted");

    // Membership is learnt when tags are exchanged after joining.
    hark_e2e::wait_until(DONE, "bob to be a known member", || {
        let list = a.json(&["channel", "list"])?;
        Ok(list[0]["members"].as_array().is_some_and(|m| !m.is_empty()))
    })?;
    let stored = a.send("#team radio", &fixture("audio/speech-16k-mono-s16.wav"))?;
    b.await_state(&stored, "received", DONE)?;

    let out_live = a.cli(&[
        "send",
        "--live",
        "--to",
        "#Team Radio",
        &fixture("audio/speech-96k-stereo-s24-extensible.wav").to_string_lossy(),
    ])?;
    ensure!(out_live.status.success(), "live send failed");
    let live_id = String::from_utf8(out_live.stdout)?.trim().to_string();
    b.await_state(&live_id, "received", DONE)?;
    hark_e2e::wait_until(DONE, "bob to play it", || {
        Ok(out.path().join(format!("{live_id}.wav")).exists())
    })?;

    let inbox = b.json(&["inbox"])?;
    ensure!(
        inbox[0]["channel"] == "Team Radio",
        "no channel name in {inbox}"
    );
    for id in [&stored, &live_id] {
        ensure!(c.message(id)?.is_none(), "carol, not a member, got {id}");
    }
    Ok(())
}

// A muted channel's live messages are kept but not played.
#[test]
fn muted_channel_is_kept_not_played() -> Result<()> {
    let out = tempfile::tempdir()?;
    let out_arg = out.path().to_string_lossy().to_string();
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start_with("bob", &[&a.addr], &["--live-out", &out_arg])?;
    a.await_peer(&b)?;
    let code = invite(&a, "quiet")?;
    join(&b, &code)?;
    let muted = b.cli(&["channel", "mute", "quiet"])?;
    ensure!(muted.status.success());
    hark_e2e::wait_until(DONE, "bob to be a known member", || {
        let list = a.json(&["channel", "list"])?;
        Ok(list[0]["members"].as_array().is_some_and(|m| !m.is_empty()))
    })?;

    let file = fixture("audio/speech-96k-stereo-s24-extensible.wav");
    let sent = a.cli(&["send", "--live", "--to", "#quiet", &file.to_string_lossy()])?;
    ensure!(sent.status.success(), "live send failed");
    let id = String::from_utf8(sent.stdout)?.trim().to_string();
    b.await_state(&id, "received", DONE)?;
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        !out.path().join(format!("{id}.wav")).exists(),
        "a muted channel was played"
    );
    Ok(())
}
