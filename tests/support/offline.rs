//! Helpers for the offline-delivery tests: nodes started with chosen options
//! on a data dir the test keeps (so they can be restarted, killed, moved
//! into a network namespace or run as a mailbox), the store read directly
//! while its node is down, a small tmpfs, and generated WAV files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use hark_store::{Direction, Store};
use serde_json::Value;

use crate::{hark_bin, TestNode};

/// How to start a node; [`Launch::start`] runs it on a given data dir.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Display name.
    pub name: String,
    /// Network namespace to run in (mDNS on, every address); `None` runs
    /// on 127.0.0.1 with mDNS off.
    pub netns: Option<String>,
    /// Run with `--mailbox`.
    pub mailbox: bool,
    /// `--peer` addresses.
    pub peers: Vec<String>,
    /// Extra environment for the node process (e.g. libfaketime's).
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// A node called `name` on loopback.
    pub fn local(name: &str) -> Launch {
        Launch {
            name: name.to_string(),
            ..Launch::default()
        }
    }

    /// A node called `name` in network namespace `ns`.
    pub fn in_netns(name: &str, ns: &str) -> Launch {
        Launch {
            name: name.to_string(),
            netns: Some(ns.to_string()),
            ..Launch::default()
        }
    }

    /// Starts the node on `dir` (created if missing; kept after the node
    /// ends, so the same dir makes a restart) and waits until it answers.
    pub fn start(&self, dir: &Path) -> Result<TestNode> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(hark_bin()?);
                cmd
            }
            None => Command::new(hark_bin()?),
        };
        cmd.arg("--data-dir").arg(dir);
        cmd.args(["node", "--name", &self.name]);
        match self.netns {
            Some(_) => cmd.args(["--listen", "/ip4/0.0.0.0/tcp/0"]),
            None => cmd.args(["--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"]),
        };
        if self.mailbox {
            cmd.arg("--mailbox");
        }
        for p in &self.peers {
            cmd.args(["--peer", p]);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        TestNode::spawn(&self.name, dir, cmd)
    }
}

/// One line of a node's inbox, as the tests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// `queued`, `sent`, `delivered`, `heard`, `received`, …
    pub state: String,
}

impl TestNode {
    /// Kills the node with SIGKILL (no flush, no goodbye) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("node {} is not running", self.name);
        };
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// How many messages this node carries for others (`whoami`).
    pub fn carrying(&self) -> Result<u64> {
        let me = self.json(&["whoami"])?;
        me["carrying"].as_u64().context("whoami has no carrying")
    }

    /// The inbox by message id. Fails if an id is listed twice.
    pub fn inbox_lines(&self) -> Result<HashMap<String, Line>> {
        let inbox = self.json(&["inbox"])?;
        let list = inbox.as_array().context("inbox is not a list")?;
        let mut lines = HashMap::new();
        for m in list {
            let id = text(&m["id"])?;
            let line = Line {
                direction: text(&m["direction"])?,
                state: text(&m["state"])?,
            };
            ensure!(
                lines.insert(id.clone(), line).is_none(),
                "{} lists message {id} twice",
                self.name
            );
        }
        Ok(lines)
    }

    /// Ids of the inbox lines in `state`.
    pub fn ids_in_state(&self, state: &str) -> Result<Vec<String>> {
        let lines = self.inbox_lines()?;
        Ok(lines
            .into_iter()
            .filter(|(_, l)| l.state == state)
            .map(|(id, _)| id)
            .collect())
    }

    /// Waits until every id in `ids` is in `state` here.
    pub fn await_all(&self, ids: &[String], state: &str, timeout: Duration) -> Result<()> {
        let mut missing = ids.len();
        wait_until_logged(timeout, self, || {
            // Listing a big inbox costs the node; once a second is enough.
            std::thread::sleep(Duration::from_millis(900));
            let lines = self.inbox_lines()?;
            missing = ids
                .iter()
                .filter(|id| lines.get(*id).is_none_or(|l| l.state != state))
                .count();
            Ok(missing == 0)
        })
        .with_context(|| format!("{missing} of {} never {state} at {}", ids.len(), self.name))
    }
}

impl TestNode {
    /// Waits until the node's log has recorded `event` (e.g. "message
    /// received", "message delivered") for every id in `ids`. Cheap where
    /// listing a big inbox every second would slow the node under test.
    pub fn await_logged(&self, event: &str, ids: &[String], timeout: Duration) -> Result<()> {
        let mut missing = ids.len();
        wait_until_logged(timeout, self, || {
            std::thread::sleep(Duration::from_millis(400));
            let seen = logged_ids(&self.log(), event);
            missing = ids.iter().filter(|id| !seen.contains(*id)).count();
            Ok(missing == 0)
        })
        .with_context(|| format!("{missing} of {} never logged '{event}'", ids.len()))
    }
}

/// The message ids of the log lines that record `event`.
fn logged_ids(log: &str, event: &str) -> std::collections::HashSet<String> {
    log.lines()
        .map(strip_ansi)
        .filter(|line| line.contains(event))
        .filter_map(|line| {
            let at = line.find("msg=")? + 4;
            line.get(at..at + 32).map(str::to_string)
        })
        .collect()
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the end of the escape sequence (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// [`crate::wait_until`] that adds the node's log tail when it times out.
fn wait_until_logged(
    timeout: Duration,
    node: &TestNode,
    check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    crate::wait_until(timeout, "a condition", check).with_context(|| {
        let log = node.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("log tail of {}:\n{}", node.name, tail.join("\n"))
    })
}

fn text(v: &Value) -> Result<String> {
    Ok(v.as_str().context("expected a string")?.to_string())
}

/// Opens the store of a node that is not running (as a restart would) and
/// lists the ids of the messages it holds with their direction.
pub fn stored_messages(data_dir: &Path) -> Result<HashMap<String, Direction>> {
    let store = Store::open(&data_dir.join("store"))
        .with_context(|| format!("store in {} does not open", data_dir.display()))?;
    let messages = store.messages()?;
    Ok(messages
        .into_iter()
        .map(|(id, record)| (id.to_string(), record.direction))
        .collect())
}

/// Writes a 16 kHz mono 16-bit WAV of `millis` ms: a tone whose pitch
/// depends on `seed`, so messages are not all alike.
pub fn write_wav(path: &Path, millis: u32, seed: u32) -> Result<()> {
    let rate = 16_000u32;
    let freq = 200.0 + f64::from(seed % 600);
    let samples: Vec<f32> = (0..rate / 1000 * millis)
        .map(|n| {
            let t = f64::from(n) / f64::from(rate);
            ((t * freq * std::f64::consts::TAU).sin() * 0.25) as f32
        })
        .collect();
    write_pcm_wav(path, &samples, rate)
}

/// Writes mono samples (-1.0..1.0) as a 16-bit WAV at `rate` Hz.
pub fn write_pcm_wav(path: &Path, pcm: &[f32], rate: u32) -> Result<()> {
    let samples = u32::try_from(pcm.len()).context("too long for a WAV")?;
    let mut bytes = Vec::with_capacity(44 + pcm.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(samples * 2).to_le_bytes());
    for v in pcm {
        let v = (v.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// A tmpfs of a fixed size mounted on a temporary dir; unmounted on drop.
/// Needs root.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` bytes.
    pub fn mount(bytes: u64) -> Result<Tmpfs> {
        let dir = tempfile::Builder::new().prefix("hark-tmpfs-").tempdir()?;
        let size = format!("size={bytes}");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir.path())
            .status()
            .context("`mount` is missing")?;
        ensure!(status.success(), "mounting a tmpfs failed (needs root)");
        Ok(Tmpfs { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Grows (or shrinks) it to `bytes` bytes, keeping its files.
    pub fn resize(&self, bytes: u64) -> Result<()> {
        let opts = format!("remount,size={bytes}");
        let status = Command::new("mount")
            .args(["-o", &opts])
            .arg(self.dir.path())
            .status()?;
        ensure!(status.success(), "remounting the tmpfs failed");
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so a file still open somewhere does not keep it mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A small seeded generator (xorshift64*), so a failing run can be
/// replayed from the seed it printed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// From `HARK_SEED` if set, else from the clock; prints the seed.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("HARK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.map(|d| d.as_nanos() as u64).unwrap_or(1)
            });
        eprintln!("{test}: seed {seed} (rerun with HARK_SEED={seed})");
        Rng(seed.max(1))
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Environment that runs a process with its wall clock shifted by
/// `offset` (libfaketime syntax, e.g. `-1h`), monotonic time untouched so
/// timers still run true; `None` if libfaketime is not installed.
pub fn faketime_env(offset: &str) -> Option<Vec<(String, String)>> {
    let lib = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"]
        .into_iter()
        .chain(["/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"])
        .find(|p| Path::new(p).exists())?;
    let pairs = [
        ("LD_PRELOAD", lib),
        ("FAKETIME", offset),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}
