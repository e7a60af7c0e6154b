//! Bad input through the real `hark` command: broken files, unknown
//! recipients, a second node on a used data dir, no node at all. Each gets
//! a clear one-line error and a non-zero exit, and nothing stored changes.
//! A recipient who is known but away is not an error: the message waits.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Result};
use hark_e2e::{fixture, fixtures_in, hark_bin, TestNode};

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

// Commands used the wrong way get clear errors and leave no debris:
// exports into a folder that is not there or onto a folder, two exports
// of one message at once, a reader that closes the pipe early, names
// that could never be used, a recipient named twice.
#[test]
fn misused_commands_fail_cleanly() -> Result<()> {
    let speech = fixture("audio/speech-16k-mono-s16.wav");
    let a = TestNode::start("alice", &[])?;
    let b = TestNode::start("bob", &[&a.addr])?;
    a.await_peer(&b)?;
    let sent = a.cli(&[
        "send",
        "--to",
        "Bob",
        "--to",
        "bob",
        &speech.to_string_lossy(),
    ])?;
    ensure!(sent.status.success(), "send: {sent:?}");
    let id = String::from_utf8(sent.stdout)?.trim().to_string();
    let to = a.message(&id)?.map(|m| m["to_names"].clone());
    ensure!(to == Some(serde_json::json!(["bob"])), "recipients: {to:?}");

    let out = tempfile::tempdir()?;
    exports_fail_cleanly(&a, &id, out.path())?;
    concurrent_exports_do_not_mix(&a, &id, out.path())?;
    closed_pipe_is_not_a_crash(&a)?;
    unusable_names_are_refused(&a)?;
    Ok(())
}

fn exports_fail_cleanly(a: &TestNode, id: &str, dir: &Path) -> Result<()> {
    let folder = dir.join("folder.wav");
    std::fs::create_dir(&folder)?;
    let missing = dir.join("no-such-folder/x.wav");
    for target in [&folder, &missing] {
        let out = a.cli(&["export", id, &target.to_string_lossy()])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "export to {target:?} succeeded");
        ensure!(
            stderr.contains(&*target.to_string_lossy()),
            "error does not name {target:?}: {stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    ensure!(left.len() == 1, "failed exports left files: {left:?}");
    std::fs::remove_dir(&folder)?;
    Ok(())
}

fn concurrent_exports_do_not_mix(a: &TestNode, id: &str, dir: &Path) -> Result<()> {
    let (wav, opus) = (dir.join("x.wav"), dir.join("x.opus"));
    let spawn = |path: &Path| {
        std::process::Command::new(hark_bin()?)
            .arg("--data-dir")
            .arg(a.dir())
            .args(["export", id])
            .arg(path)
            .spawn()
            .map_err(anyhow::Error::from)
    };
    let (mut one, mut two) = (spawn(&wav)?, spawn(&opus)?);
    ensure!(
        one.wait()?.success() && two.wait()?.success(),
        "an export failed"
    );
    ensure!(
        std::fs::read(&wav)?.starts_with(b"RIFF"),
        "x.wav is not WAV"
    );
    ensure!(
        std::fs::read(&opus)?.starts_with(b"OggS"),
        "x.opus is not Ogg"
    );
    let names: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    ensure!(names.len() == 2, "temporary files left: {names:?}");
    Ok(())
}

// The pipe's reading end is closed before `hark` starts, so its first
// write fails with EPIPE every time.
fn closed_pipe_is_not_a_crash(a: &TestNode) -> Result<()> {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let out = std::process::Command::new(hark_bin()?)
        .arg("--data-dir")
        .arg(a.dir())
        .arg("inbox")
        .stdout(writer)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!stderr.contains("panicked"), "hark panicked: {stderr}");
    ensure!(out.status.code() == Some(0), "exit {:?}", out.status);
    Ok(())
}

fn unusable_names_are_refused(a: &TestNode) -> Result<()> {
    for name in ["", "a\u{1b}[31mred", &"n".repeat(65)] {
        let out = a.cli(&["node", "--name", name])?;
        ensure!(out.status.code() == Some(2), "--name {name:?}: {out:?}");
    }

    let create = |name: &str| a.cli(&["channel", "create", name]);
    ensure!(!create("#Hash")?.status.success(), "'#Hash' was made");
    ensure!(create("Radio")?.status.success(), "'Radio' was not made");
    let again = create("RADIO")?;
    ensure!(!again.status.success(), "a second 'Radio' was made");
    let channels = a.json(&["channel", "list"])?;
    let count = channels.as_array().map_or(0, Vec::len);
    ensure!(count == 1, "channels: {channels}");
    Ok(())
}

// A second node asked for a TCP port another node listens on stops at
// once with the reason (libp2p's own listener would share the port).
#[test]
fn a_pinned_port_in_use_is_refused() -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let pinned = format!("/ip4/127.0.0.1/tcp/{port}");
    let _a = TestNode::start_with("alice", &[], &["--listen", &pinned])?;

    let dir = tempfile::tempdir()?;
    let mut second = std::process::Command::new(hark_bin()?)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["node", "--no-mdns", "--listen", &pinned])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            second.kill()?;
            anyhow::bail!("the second node kept running on a port in use");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = second.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr)?;
    }
    ensure!(!status.success(), "second node exited {status}");
    ensure!(
        stderr.contains("cannot listen on") && stderr.contains("in use"),
        "unclear error: {stderr}"
    );
    Ok(())
}
