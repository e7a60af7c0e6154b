//! Crashes: a receiver killed with SIGKILL at random points while messages
//! stream in, and a sender killed right after `hark send` returned. Nothing
//! acknowledged is lost, nothing arrives twice, everything arrives in the end.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use hark_e2e::offline::{stored_messages, write_wav, Launch, Rng};
use hark_e2e::TestNode;
use hark_store::Direction;

const DELIVERY: Duration = Duration::from_secs(120);

fn tempdir(name: &str) -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("hark-{name}-"))
        .tempdir()?)
}

/// After B was killed: B's store opens, and every message A shows as
/// delivered (or heard) is in it as an incoming message. Returns how many
/// messages B holds.
fn check_after_kill(a: &TestNode, dir_b: &Path) -> Result<usize> {
    let lines = a.inbox_lines()?;
    let stored = stored_messages(dir_b)?;
    for (id, line) in &lines {
        if line.state == "delivered" || line.state == "heard" {
            ensure!(
                stored.get(id) == Some(&Direction::Incoming),
                "A shows {id} delivered but B's store lacks it"
            );
        }
    }
    Ok(stored.len())
}

// A sends a stream of short and longer messages while B is killed with
// SIGKILL at seeded random moments (HARK_KILL_CYCLES times, 50 by default)
// and restarted on the same data dir; after each kill B's store opens and
// holds everything A counts as delivered; at the end every message is in
// B's inbox exactly once and delivered at A.
#[test]
fn receiver_killed_at_random_points_loses_and_repeats_nothing() -> Result<()> {
    let cycles: u32 = std::env::var("HARK_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut rng = Rng::from_env("receiver_killed");
    let (dir_a, dir_b) = (tempdir("alice")?, tempdir("bob")?);
    let a = Launch::local("alice").start(dir_a.path())?;
    let launch_b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    };
    let mut b = launch_b.start(dir_b.path())?;
    a.await_peer(&b)?;

    let wavs = [
        dir_a.path().join("short.wav"),
        dir_a.path().join("long.wav"),
    ];
    write_wav(&wavs[0], 300, 1)?;
    write_wav(&wavs[1], 4000, 2)?;
    let sent = Mutex::new(Vec::new());
    let done = AtomicBool::new(false);

    let started = Instant::now();
    let mut growing = 0;
    std::thread::scope(|s| -> Result<()> {
        let sender = s.spawn(|| keep_sending(&a, &wavs, &sent, &done));
        let mut held = 0;
        for cycle in 0..cycles {
            // Once B is connected again it fetches the backlog A queued
            // while it was down: a kill in the next second lands anywhere
            // in that transfer (or just after it).
            b.await_peer(&a)?;
            std::thread::sleep(Duration::from_millis(rng.below(1000)));
            b.kill()?;
            let now = check_after_kill(&a, dir_b.path())
                .with_context(|| format!("after kill {cycle}"))?;
            eprintln!("cycle {cycle}: B's store holds {now}");
            growing += usize::from(now > held);
            held = now;
            b = launch_b.start(dir_b.path())?;
        }
        done.store(true, Ordering::Relaxed);
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))?
    })?;
    let sent = sent.into_inner().map_err(|_| anyhow::anyhow!("poisoned"))?;
    eprintln!(
        "{cycles} kills in {:?}; {} messages sent; B gained messages in {growing} cycles",
        started.elapsed(),
        sent.len()
    );

    // Watched in A's log (cheap; B may have stored a message and died
    // before logging it); then each inbox is read once.
    a.await_logged("message delivered", &sent, DELIVERY)?;
    let lines = b.inbox_lines()?;
    ensure!(
        lines.len() == sent.len(),
        "B lists {} of {}",
        lines.len(),
        sent.len()
    );
    ensure!(sent.iter().all(|id| lines.contains_key(id)), "B lacks some");
    let at_a = a.inbox_lines()?;
    ensure!(
        sent.iter()
            .all(|id| at_a.get(id).is_some_and(|l| l.state == "delivered")),
        "A shows some undelivered"
    );
    ensure!(growing >= 5, "B gained messages in only {growing} cycles");
    Ok(())
}

/// Sends alternately short and long messages from A to B until `done`.
fn keep_sending(
    a: &TestNode,
    wavs: &[std::path::PathBuf; 2],
    sent: &Mutex<Vec<String>>,
    done: &AtomicBool,
) -> Result<()> {
    let mut n = 0usize;
    while !done.load(Ordering::Relaxed) {
        // One long message in four, so some kills land mid-fetch.
        let wav = &wavs[usize::from(n % 4 == 3)];
        let id = a.send("bob", wav)?;
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(id);
        n += 1;
        // About three a second: enough to keep B busy without an inbox
        // so long that listing it dominates each cycle.
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

// A is killed with SIGKILL the moment `hark send` returns, three times with
// B connected and once with B away; the message is on A's disk, and after
// A restarts it is delivered, once.
#[test]
fn sender_killed_right_after_send_delivers_after_restart() -> Result<()> {
    let (dir_a, dir_b) = (tempdir("alice")?, tempdir("bob")?);
    let mut b = Launch::local("bob").start(dir_b.path())?;
    let launch_a = |peers: Vec<String>| Launch {
        peers,
        ..Launch::local("alice")
    };
    let mut a = launch_a(vec![b.addr.clone()]).start(dir_a.path())?;
    a.await_peer(&b)?;
    let wav = dir_a.path().join("m.wav");
    write_wav(&wav, 3000, 3)?;

    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = a.send("bob", &wav)?;
        a.kill()?;
        ensure!(
            stored_messages(dir_a.path())?.get(&id) == Some(&Direction::Outgoing),
            "{id} not on A's disk after send returned"
        );
        a = launch_a(vec![b.addr.clone()]).start(dir_a.path())?;
        a.await_state(&id, "delivered", DELIVERY)?;
        ids.push(id);
    }

    b.stop()?;
    let id = a.send("bob", &wav)?;
    a.kill()?;
    let a = launch_a(Vec::new()).start(dir_a.path())?;
    let b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    }
    .start(dir_b.path())?;
    a.await_state(&id, "delivered", DELIVERY)?;
    ids.push(id);

    let lines = b.inbox_lines()?;
    ensure!(lines.len() == 4, "B lists {} messages, not 4", lines.len());
    ensure!(ids.iter().all(|id| lines.contains_key(id)), "B lacks one");
    Ok(())
}

// A talker killed 3 s into a live message finishes it when it starts
// again: the message ends with what reached its disk, the listener (who
// heard those seconds live) ends with the same message, the two exports
// are byte for byte equal, and the talker sees it delivered. Before, it
// stayed "receiving" at the listener and unfinished at the talker for good.
#[test]
fn talker_killed_mid_live_message_finishes_it_after_restart() -> Result<()> {
    let (dir_a, dir_b) = (tempdir("alice")?, tempdir("bob")?);
    let b = Launch::local("bob").start(dir_b.path())?;
    let launch_a = Launch {
        peers: vec![b.addr.clone()],
        ..Launch::local("alice")
    };
    let mut a = launch_a.start(dir_a.path())?;
    a.await_peer(&b)?;

    let speech = hark_e2e::fixture("audio/speech-48k-mono-s16.wav");
    let mut talker = Command::new(hark_e2e::hark_bin()?)
        .arg("--data-dir")
        .arg(dir_a.path())
        .args(["send", "--live", "--to", "bob"])
        .arg(&speech)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut id = String::new();
    hark_e2e::wait_until(DELIVERY, "bob receiving", || {
        let lines = b.inbox_lines()?;
        let receiving = lines.iter().find(|(_, l)| l.state == "receiving");
        id = receiving.map(|(id, _)| id.clone()).unwrap_or_default();
        Ok(!id.is_empty())
    })?;
    std::thread::sleep(Duration::from_secs(3));
    a.kill()?;
    talker.wait()?;

    let a = launch_a.start(dir_a.path())?;
    a.await_state(&id, "delivered", DELIVERY)?;
    b.await_state(&id, "received", DELIVERY)?;
    let ms = a.message(&id)?.context("gone at alice")?["duration_ms"].as_u64();
    let ms = ms.unwrap_or_default();
    ensure!((1_000..10_000).contains(&ms), "finished at {ms} ms");

    let out = tempdir("exports")?;
    let export = |node: &TestNode, name: &str| -> Result<Vec<u8>> {
        let path = out.path().join(name);
        let done = node.cli(&["export", &id, &path.to_string_lossy()])?;
        ensure!(done.status.success(), "export at {name} failed");
        Ok(std::fs::read(path)?)
    };
    ensure!(
        export(&a, "a.wav")? == export(&b, "b.wav")?,
        "the two copies differ"
    );
    Ok(())
}

// What a node acknowledges is synced to the disk, not only handed to the
// OS: B, traced with strace while it receives three messages, calls
// fdatasync on its store's log at least once for each. (sled's own flush
// only calls sync_file_range, which leaves the drive's cache unflushed,
// and its background fsync runs every half second, after the receipt.)
#[test]
fn received_messages_are_synced_to_disk_before_the_receipt() -> Result<()> {
    let (dir_a, dir_b, work) = (tempdir("alice")?, tempdir("bob")?, tempdir("trace")?);
    let b = Launch::local("bob").start(dir_b.path())?;
    let a = Launch {
        peers: vec![b.addr.clone()],
        ..Launch::local("alice")
    }
    .start(dir_a.path())?;
    a.await_peer(&b)?;
    let wav = work.path().join("m.wav");
    write_wav(&wav, 2000, 5)?;

    let trace = work.path().join("bob.strace");
    let tracer = Tracer::attach(b.pid().context("bob is not running")?, &trace)?;
    for _ in 0..3 {
        let id = a.send("bob", &wav)?;
        a.await_state(&id, "delivered", DELIVERY)?;
    }
    tracer.detach()?;

    let text = std::fs::read_to_string(&trace)?;
    let log = dir_b.path().join("store").join("db");
    let needle = format!("{}>", log.display());
    let syncs = text
        .lines()
        .filter(|l| l.contains("fdatasync(") && l.contains(&needle))
        .count();
    ensure!(
        syncs >= 3,
        "bob fdatasynced {} {syncs} times for 3 messages; trace:\n{text}",
        log.display()
    );
    Ok(())
}

/// strace attached to a running process and all its threads, tracing
/// fdatasync with file paths; detached (not killed) on `detach` or drop.
struct Tracer {
    child: Option<Child>,
}

impl Tracer {
    fn attach(pid: u32, out: &Path) -> Result<Tracer> {
        let mut child = Command::new("strace")
            .args(["-f", "-y", "-e", "trace=fdatasync", "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("strace did not start (is it installed?)")?;
        // strace says "Process N attached" once it is in; waiting for that
        // line keeps the first message from slipping by untraced. The rest
        // of its stderr (a line per thread) is drained, so that strace never
        // writes into a closed pipe.
        let stderr = child.stderr.take().context("no strace stderr")?;
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stderr).lines();
            let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
            let _ = first_tx.send(first);
            lines.for_each(drop);
        });
        let tracer = Tracer { child: Some(child) };
        let first = first_rx.recv_timeout(Duration::from_secs(10))?;
        ensure!(first.contains("attached"), "strace did not attach: {first}");
        Ok(tracer)
    }

    /// SIGINT makes strace detach and leave the process running.
    fn detach(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
