//! Support for Hark's end-to-end tests: start real `hark` nodes (the built
//! binary, each with its own sled dir, listening on 127.0.0.1), drive them
//! with the `hark` client subcommands, and compare audio.
//!
//! The tests need the `hark` binary built first; `cargo test --workspace`
//! builds it (hark-cli has integration tests of its own). Set `HARK_BIN` to
//! test another build.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub mod netns;
pub mod offline;

/// Where the speech fixtures live.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Where tests leave files worth keeping (exports, logs).
pub fn output_dir(test: &str) -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test-output")
        .join(test);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The `hark` binary under test.
pub fn hark_bin() -> Result<PathBuf> {
    if let Ok(bin) = std::env::var("HARK_BIN") {
        return Ok(bin.into());
    }
    // Test binaries live in target/<profile>/deps; `hark` one level up.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target dir")?;
    let bin = profile_dir.join("hark");
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo build --workspace` first",
            bin.display()
        );
    }
    Ok(bin)
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if check()? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `hark node` process with its own data dir.
pub struct TestNode {
    /// Display name.
    pub name: String,
    /// Full peer id.
    pub peer_id: String,
    /// A TCP listen address with `/p2p/` suffix, for others' `--peer`.
    pub addr: String,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
}

impl TestNode {
    /// Starts a node on a fresh data dir, listening on 127.0.0.1, without
    /// mDNS, dialing `peers`.
    pub fn start(name: &str, peers: &[&str]) -> Result<TestNode> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("hark-{name}-"))
            .tempdir()?;
        let dir = tmp.path().to_path_buf();
        let mut node = TestNode::start_in(name, &dir, peers)?;
        node._tmp = Some(tmp);
        Ok(node)
    }

    /// Like [`TestNode::start`], with more `hark node` arguments.
    pub fn start_with(name: &str, peers: &[&str], extra: &[&str]) -> Result<TestNode> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("hark-{name}-"))
            .tempdir()?;
        let dir = tmp.path().to_path_buf();
        let mut node = TestNode::start_in_with(name, &dir, peers, extra)?;
        node._tmp = Some(tmp);
        Ok(node)
    }

    /// Starts a node on an existing data dir (a restart).
    pub fn start_in(name: &str, dir: &Path, peers: &[&str]) -> Result<TestNode> {
        TestNode::start_in_with(name, dir, peers, &[])
    }

    /// Like [`TestNode::start_in`], with more `hark node` arguments.
    pub fn start_in_with(
        name: &str,
        dir: &Path,
        peers: &[&str],
        extra: &[&str],
    ) -> Result<TestNode> {
        let mut cmd = Command::new(hark_bin()?);
        cmd.arg("--data-dir").arg(dir);
        cmd.args(["node", "--no-mdns", "--name", name]);
        cmd.args(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        for p in peers {
            cmd.args(["--peer", p]);
        }
        cmd.args(extra);
        TestNode::spawn(name, dir, cmd)
    }

    /// Starts a node inside network namespace `ns` with mDNS on, listening
    /// on every address of the namespace, with no peer given.
    pub fn start_in_netns(name: &str, ns: &str) -> Result<TestNode> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("hark-{name}-"))
            .tempdir()?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(hark_bin()?);
        cmd.arg("--data-dir").arg(tmp.path());
        cmd.args(["node", "--name", name, "--listen", "/ip4/0.0.0.0/tcp/0"]);
        cmd.args(["--listen", "/ip4/0.0.0.0/udp/0/quic-v1"]);
        let mut node = TestNode::spawn(name, tmp.path(), cmd)?;
        node._tmp = Some(tmp);
        Ok(node)
    }

    fn spawn(name: &str, dir: &Path, mut cmd: Command) -> Result<TestNode> {
        std::fs::create_dir_all(dir)?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))?;
        cmd.env("HARK_LOG", "warn,hark_node=debug");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;

        let mut node = TestNode {
            name: name.to_string(),
            peer_id: String::new(),
            addr: String::new(),
            dir: dir.to_path_buf(),
            _tmp: None,
            child: Some(child),
        };
        node.await_ready()?;
        Ok(node)
    }

    fn await_ready(&mut self) -> Result<()> {
        let mut me = Value::Null;
        wait_until(Duration::from_secs(30), "node to answer", || {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "node {} exited early ({status}); log: {}",
                        self.name,
                        self.log()
                    );
                }
            }
            me = match self.json(&["whoami"]) {
                Ok(v) => v,
                Err(_) => return Ok(false),
            };
            Ok(me["listen_addrs"].as_array().is_some_and(|a| !a.is_empty()))
        })?;

        self.peer_id = me["peer_id"]
            .as_str()
            .context("whoami has no peer_id")?
            .to_string();
        let addrs = me["listen_addrs"].as_array().context("no listen_addrs")?;
        // Prefer loopback, where tests without namespaces listen.
        let tcp: Vec<&str> = addrs
            .iter()
            .filter_map(Value::as_str)
            .filter(|a| a.contains("/tcp/"))
            .collect();
        let addr = tcp
            .iter()
            .find(|a| a.starts_with("/ip4/127."))
            .or(tcp.first());
        self.addr = addr.context("no tcp address")?.to_string();
        Ok(())
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    /// Runs `hark --data-dir DIR <args>` and returns its output.
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        let out = Command::new(hark_bin()?)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        Ok(out)
    }

    /// Runs a client subcommand with `--json` and parses its output.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all)?;
        if !out.status.success() {
            bail!(
                "hark {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// Sends a file; returns the message id.
    pub fn send(&self, to: &str, file: &Path) -> Result<String> {
        let out = self.cli(&["send", "--to", to, &file.to_string_lossy()])?;
        if !out.status.success() {
            bail!("send failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// The inbox entry for message `id`, if any.
    pub fn message(&self, id: &str) -> Result<Option<Value>> {
        let inbox = self.json(&["inbox"])?;
        let list = inbox.as_array().context("inbox is not a list")?;
        Ok(list.iter().find(|m| m["id"] == id).cloned())
    }

    /// Waits until message `id` is in `state` here.
    pub fn await_state(&self, id: &str, state: &str, timeout: Duration) -> Result<Value> {
        let mut found = Value::Null;
        wait_until(
            timeout,
            &format!("{id} to be {state} at {}", self.name),
            || match self.message(id)? {
                Some(m) if m["state"] == state => {
                    found = m;
                    Ok(true)
                }
                _ => Ok(false),
            },
        )
        .with_context(|| self.log())?;
        Ok(found)
    }

    /// Waits until `other` shows as an online peer here.
    pub fn await_peer(&self, other: &TestNode) -> Result<()> {
        wait_until(Duration::from_secs(30), "peer to come online", || {
            let peers = self.json(&["peers"])?;
            let list = peers.as_array().context("peers is not a list")?;
            Ok(list
                .iter()
                .any(|p| p["peer_id"] == other.peer_id.as_str() && p["online"] == true))
        })
        .with_context(|| {
            format!(
                "{} never saw {}; log: {}",
                self.name,
                other.name,
                self.log()
            )
        })
    }

    /// The node's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends the node SIGINT (Ctrl-C) and returns its exit status.
    pub fn interrupt(&mut self) -> Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("node {} is not running", self.name);
        };
        let pid = child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > Duration::from_secs(15) {
                child.kill()?;
                bail!("node {} ignored SIGINT for 15 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the node cleanly (`hark stop`) and waits for it to exit.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = self.cli(&["stop"]);
        let start = Instant::now();
        while child.try_wait()?.is_none() {
            if start.elapsed() > Duration::from_secs(15) {
                child.kill()?;
                bail!("node {} did not stop within 15 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a WAV or Ogg Opus file as 48 kHz mono, as Hark imports it.
pub fn read_audio(path: &Path) -> Result<hark_audio::Pcm> {
    let imported = hark_audio::import::read_file(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(imported.pcm)
}

/// Every file in a fixtures subfolder, sorted.
pub fn fixtures_in(sub: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(sub))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
