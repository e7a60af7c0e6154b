//! A full disk: on a small tmpfs, sending fails with one clear line before
//! sled meets the full disk, and the node works on once space is freed; a
//! receiver whose disk is filled to the last byte acknowledges nothing, and
//! once space is freed (and the node restarted: sled 0.34 refuses every
//! write after one met a full disk) everything sent arrives exactly once.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_e2e::offline::{Launch, Tmpfs};
use hark_e2e::{fixture, TestNode};

const DELIVERY: Duration = Duration::from_secs(60);

fn tempdir(name: &str) -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("hark-{name}-"))
        .tempdir()?)
}

/// Writes a file that takes all the free space left in `dir`.
fn fill(dir: &Path) -> Result<()> {
    let mut file = std::fs::File::create(dir.join("filler"))?;
    let chunk = vec![0x5a; 64 << 10];
    while file.write_all(&chunk).is_ok() {}
    // Whatever did not fit in the last chunk, byte by byte.
    while file.write_all(&[0]).is_ok() {}
    Ok(())
}

/// Starts `name`, meets `other`, and stops again, so each knows the other.
fn introduce(launch: &Launch, dir: &Path, other: &TestNode) -> Result<()> {
    let mut node = launch.start(dir)?;
    other.await_peer(&node)?;
    node.stop()
}

// A sender on a 3 MiB disk sends 10 s messages until one fails: the CLI
// exits 1 with one line naming the full disk, the node still answers and
// lists exactly the messages whose send returned an id; once the disk
// grows, the next send works without a restart, and every message sent
// reaches the receiver.
#[test]
fn sending_on_a_full_disk_fails_clearly_and_acknowledges_nothing_unstored() -> Result<()> {
    let disk = Tmpfs::mount(3 << 20)?;
    let dir_a = disk.path().join("alice");
    let dir_b = tempdir("bob")?;
    let launch_a = Launch::local("alice");
    let a = launch_a.start(&dir_a)?;
    let launch_b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    };
    introduce(&launch_b, dir_b.path(), &a)?;

    let wav = fixture("audio/speech-22k05-mono-s16.wav");
    let wav = wav.to_string_lossy();
    let (mut ids, mut failure) = (Vec::new(), None);
    for _ in 0..100 {
        let out = a.cli(&["send", "--to", "bob", &wav])?;
        if !out.status.success() {
            failure = Some(out);
            break;
        }
        ids.push(String::from_utf8(out.stdout)?.trim().to_string());
    }
    let out = failure.context("100 sends fit on a 3 MiB disk")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1), "send exited {}", out.status);
    ensure!(
        stderr.lines().count() == 1 && stderr.contains("the disk is full"),
        "unclear error: {stderr}"
    );
    ensure!(out.stdout.is_empty(), "a failed send printed an id");
    if let Err(e) = a.json(&["whoami"]) {
        anyhow::bail!("node stopped answering: {e:#}; log: {}", a.log());
    }
    ensure!(!ids.is_empty(), "not even one message fitted");
    let lines = a.inbox_lines()?;
    ensure!(
        lines.len() == ids.len(),
        "{} listed, {} sent",
        lines.len(),
        ids.len()
    );

    // The store refused before sled met the full disk: room is enough.
    disk.resize(64 << 20)?;
    ids.push(a.send("bob", &fixture("audio/speech-22k05-mono-s16.wav"))?);
    let lines = a.inbox_lines()?;
    ensure!(
        lines.values().all(|l| l.state == "queued"),
        "bob is away, yet {lines:?}"
    );

    let b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    }
    .start(dir_b.path())?;
    b.await_all(&ids, "received", DELIVERY)?;
    a.await_all(&ids, "delivered", DELIVERY)?;
    ensure!(
        b.inbox_lines()?.len() == ids.len(),
        "bob has extra messages"
    );
    Ok(())
}

// B's disk is full when A's message comes: B stores nothing and sends no
// receipt, so A keeps it undelivered, also after a reconciliation period and
// after A restarts and offers it again while B's store is still failing;
// once space is freed and B restarts, B gets it and A sees it delivered.
#[test]
fn receiver_with_full_disk_does_not_acknowledge_and_gets_it_later() -> Result<()> {
    let disk = Tmpfs::mount(4 << 20)?;
    let dir_b = disk.path().join("bob");
    let dir_a = tempdir("alice")?;
    let launch_b = Launch::local("bob");
    let mut b = launch_b.start(&dir_b)?;
    let launch_a = Launch {
        peers: vec![b.addr.clone()],
        ..Launch::local("alice")
    };
    let mut a = launch_a.start(dir_a.path())?;
    b.await_peer(&a)?;

    fill(&disk.path())?;
    let id = a.send("bob", &fixture("audio/speech-22k05-mono-s16.wav"))?;
    // Longer than one reconciliation period (20 s), so a resync had its go.
    std::thread::sleep(Duration::from_secs(22));
    ensure_undelivered(&a, &id)?;
    // Filled to the last byte, sled itself may have met the full disk
    // (a contact update, its flusher): then reads fail too, until the
    // restart below, and that is the answer.
    let whoami = b.cli(&["whoami"])?;
    let said = String::from_utf8_lossy(&whoami.stderr);
    ensure!(
        whoami.status.success() || said.contains("the disk is full"),
        "bob stopped answering: {said}"
    );
    ensure!(
        b.log().contains("fetched message not stored"),
        "bob never tried and failed to store it; log: {}",
        b.log()
    );

    // A comes back and offers it again to B, whose store is still failing.
    a.stop()?;
    let a = launch_a.start(dir_a.path())?;
    a.await_peer(&b)?;
    std::thread::sleep(Duration::from_secs(5));
    ensure_undelivered(&a, &id)?;

    std::fs::remove_file(disk.path().join("filler"))?;
    b.stop().ok();
    let b = Launch {
        peers: vec![a.addr.clone()],
        ..launch_b
    }
    .start(&dir_b)?;
    b.await_state(&id, "received", DELIVERY)?;
    a.await_state(&id, "delivered", DELIVERY)?;
    ensure!(b.inbox_lines()?.len() == 1, "bob lists more than one");
    Ok(())
}

fn ensure_undelivered(a: &TestNode, id: &str) -> Result<()> {
    let state = a.message(id)?.context("message gone at A")?["state"].clone();
    ensure!(
        state == "queued" || state == "sent",
        "with bob's disk full the message is {state}"
    );
    Ok(())
}
