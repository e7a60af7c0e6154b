//! Catch-up benchmark (`cargo bench -p hark-e2e --bench catchup`; needs the
//! release `hark`: `cargo build --release -p hark-cli`).
//!
//! Real release nodes on loopback: B meets A and leaves; A's user sends the
//! same 30 s speech file N times (1,000 unless `HARK_BENCH_MESSAGES` says
//! otherwise) through the CLI; B comes back. Measured: time from B's start
//! to its first backlog message stored, and until all N are stored. Beside
//! it, in the same run, the floors for the same bytes: a raw loopback TCP
//! copy, and a raw sequential write to B's disk with one fsync at the end
//! and with an fsync per message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use hark_e2e::offline::{write_pcm_wav, Launch};
use hark_e2e::{fixture, TestNode};

/// Seconds of speech per message.
const SECONDS: usize = 30;

fn main() -> Result<()> {
    let n: usize = std::env::var("HARK_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let work = tempfile::Builder::new().prefix("hark-bench-").tempdir()?;
    let (wav, payload) = speech_file(work.path())?;
    eprintln!("{n} messages of {SECONDS} s, {payload} bytes of sealed frames each");

    let (dir_a, dir_b) = (work.path().join("alice"), work.path().join("bob"));
    let a = Launch::local("alice").start(&dir_a)?;
    let launch_b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    };
    let mut b = launch_b.start(&dir_b)?;
    a.await_peer(&b)?;
    b.stop()?;

    let sending = Instant::now();
    send_all(&a, &wav, n)?;
    let sending = sending.elapsed();
    eprintln!("sent {n} in {sending:?}");

    let (first, all) = catch_up(&launch_b, &dir_b, n)?;
    let total = (payload * n) as u64;
    let tcp = tcp_copy(total, payload)?;
    let disk_once = disk_write(&work.path().join("raw-once"), total, payload, false)?;
    let disk_each = disk_write(&work.path().join("raw-each"), total, payload, true)?;
    report(n, total, sending, first, all, tcp, disk_once, disk_each);
    Ok(())
}

/// The first 30 s of the 72 s speech fixture as a 48 kHz WAV, and the bytes
/// of sealed frames a message of it holds (Opus packets plus each frame's
/// 16-byte tag), from encoding it once here as the node does.
fn speech_file(dir: &Path) -> Result<(std::path::PathBuf, usize)> {
    let pcm = hark_e2e::read_audio(&fixture("audio/speech-long-80s.opus"))?;
    let samples = &pcm.samples[..SECONDS * hark_audio::SAMPLE_RATE as usize];
    let wav = dir.join("speech-30s.wav");
    write_pcm_wav(&wav, samples, hark_audio::SAMPLE_RATE)?;

    let encoded = hark_audio::codec::encode_pcm(&hark_audio::Pcm::new(samples.to_vec()), 24_000)?;
    let payload = encoded.packets.iter().map(|p| p.len() + 16).sum();
    Ok((wav, payload))
}

/// Sends `wav` `n` times from two CLI processes at a time.
fn send_all(a: &TestNode, wav: &Path, n: usize) -> Result<()> {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                s.spawn(move || -> Result<()> {
                    for _ in (w..n).step_by(2) {
                        a.send("bob", wav)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("sender panicked"))??;
        }
        Ok(())
    })
}

/// Restarts B; returns the time from its start to the first message
/// stored, and to all `n`.
fn catch_up(launch_b: &Launch, dir_b: &Path, n: usize) -> Result<(Duration, Duration)> {
    let start = Instant::now();
    let b = launch_b.start(dir_b)?;
    let mut first = None;
    loop {
        let have = b.json(&["inbox"])?.as_array().map_or(0, Vec::len);
        if have > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if have >= n {
            let first = first.context("no first message")?;
            return Ok((first, start.elapsed()));
        }
        ensure!(
            start.elapsed() < Duration::from_secs(3600),
            "catch-up stalled"
        );
        // Fine-grained until the first message, then gentler on the node.
        let pause = if first.is_none() { 20 } else { 500 };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// Copies `total` bytes over loopback TCP in `chunk`-sized writes.
fn tcp_copy(total: u64, chunk: usize) -> Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> Result<u64> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(got),
                k => got += k as u64,
            }
        }
    });
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr)?;
    let data = vec![0x42u8; chunk];
    let mut sent = 0u64;
    while sent < total {
        conn.write_all(&data)?;
        sent += chunk as u64;
    }
    drop(conn);
    let got = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))??;
    ensure!(got == sent, "copied {got} of {sent}");
    Ok(start.elapsed())
}

/// Writes `total` bytes to `path` in `chunk`-sized writes, with an fsync
/// after each chunk or once at the end.
fn disk_write(path: &Path, total: u64, chunk: usize, each: bool) -> Result<Duration> {
    let data = vec![0x42u8; chunk];
    let start = Instant::now();
    let mut file = std::fs::File::create(path)?;
    let mut written = 0u64;
    while written < total {
        file.write_all(&data)?;
        if each {
            file.sync_data()?;
        }
        written += chunk as u64;
    }
    file.sync_all()?;
    let took = start.elapsed();
    std::fs::remove_file(path)?;
    Ok(took)
}

#[allow(clippy::too_many_arguments)]
fn report(
    n: usize,
    total: u64,
    sending: Duration,
    first: Duration,
    all: Duration,
    tcp: Duration,
    disk_once: Duration,
    disk_each: Duration,
) {
    let mb = total as f64 / 1e6;
    let row = |what: &str, t: Duration| {
        println!(
            "| {what} | {:.2} s | {:.1} MB/s | {:.1} |",
            t.as_secs_f64(),
            mb / t.as_secs_f64(),
            all.as_secs_f64() / t.as_secs_f64()
        );
    };
    println!("{n} messages, {mb:.1} MB of sealed frames; sending took {sending:.1?}");
    println!("| job | time | throughput | hark catch-up is … × slower |");
    println!("|---|---|---|---|");
    row("hark catch-up (B start to all stored)", all);
    row("raw loopback TCP copy", tcp);
    row("raw sequential write, one fsync", disk_once);
    row("raw sequential write, fsync per message", disk_each);
    println!("time from B's start to its first backlog message stored: {first:.2?}");
}
