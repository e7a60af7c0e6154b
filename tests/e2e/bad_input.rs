//! Bad input through the real `hark` command: broken files, unknown
//! recipients, a second node on a used data dir, no node at all. Each gets
//! a clear one-line error and a non-zero exit, and nothing stored changes.
//! A recipient who is known but away is not an error: the message waits.

use std::time::Duration;

use anyhow::{ensure, Result};
use hark_e2e::{fixture, fixtures_in, TestNode};

// Every broken fixture is refused with one line naming the file; the
// inboxes at both ends stay exactly as they were.
#[test]
fn broken_files_are_refused_and_nothing_is_stored() -> Result<()> {
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start("bob", &[&a.addr])?;
    a.await_peer(&b)?;
    let before = (a.json(&["inbox"])?, b.json(&["inbox"])?);

    for file in fixtures_in("bad")? {
        let out = a.cli(&["send", "--to", &b.peer_id, &file.to_string_lossy()])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        ensure!(!out.status.success(), "{name} was accepted");
        ensure!(
            stderr.trim().lines().count() == 1,
            "{name}: not one line: {stderr}"
        );
        ensure!(
            stderr.contains(name),
            "{name}: error does not name the file: {stderr}"
        );
        ensure!(out.stdout.is_empty(), "{name}: printed a message id");
    }

    std::thread::sleep(Duration::from_millis(500));
    ensure!(a.json(&["inbox"])? == before.0, "alice's inbox changed");
    ensure!(b.json(&["inbox"])? == before.1, "bob's inbox changed");
    Ok(())
}

// An unknown recipient is an error; a known one who is away is not: the
// message is queued and delivered when he comes back.
#[test]
fn unknown_recipient_fails_and_absent_one_gets_it_later() -> Result<()> {
    let speech = fixture("audio/speech-16k-mono-s16.wav");
    let a = TestNode::start("alice", &[])?;
    let mut b = TestNode::start("bob", &[&a.addr])?;
    a.await_peer(&b)?;

    let out = a.cli(&["send", "--to", "nobody", &speech.to_string_lossy()])?;
    ensure!(
        !out.status.success(),
        "sending to an unknown peer succeeded"
    );
    ensure!(String::from_utf8_lossy(&out.stderr).contains("nobody"));

    b.stop()?;
    let id = a.send(&b.peer_id, &speech)?;
    a.await_state(&id, "queued", Duration::from_secs(5))?;

    let b2 = TestNode::start_in("bob", b.dir(), &[&a.addr])?;
    b2.await_state(&id, "received", Duration::from_secs(60))?;
    a.await_state(&id, "delivered", Duration::from_secs(60))?;
    Ok(())
}

// A second node on a data dir in use fails at once with a clear message.
#[test]
fn second_node_on_same_data_dir_is_refused() -> Result<()> {
    let a = TestNode::start("alice", &[])?;
    let out = a.cli(&["node", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "second node started");
    ensure!(stderr.contains("already using"), "unclear error: {stderr}");
    ensure!(a.json(&["whoami"]).is_ok(), "the first node was disturbed");
    Ok(())
}
