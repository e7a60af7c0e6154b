//! A LAN of test hosts: network namespaces joined by veth pairs to a bridge
//! that lives in a namespace of its own, so nothing touches the machine's
//! own network. Needs root and `ip` (iproute2).

use std::process::Command;

use anyhow::{bail, Context, Result};

/// A bridge namespace and hosts attached to it; removed on drop.
pub struct Lan {
    prefix: String,
    hosts: Vec<String>,
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("`ip` (iproute2) is missing")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Lan {
    /// Makes the bridge namespace. Names carry the test process id so
    /// parallel runs do not collide.
    pub fn new(tag: &str) -> Result<Lan> {
        let prefix = format!("hk{}{}", tag, std::process::id() % 100_000);
        let lan = Lan {
            prefix,
            hosts: Vec::new(),
        };
        let hub = lan.hub();
        ip(&["netns", "add", &hub]).context("creating a network namespace needs root")?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        Ok(lan)
    }

    fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    /// Adds host number `n` (1..=250) with address 10.213.0.n/24 on `eth0`,
    /// and returns its namespace name.
    pub fn add_host(&mut self, n: u8) -> Result<String> {
        let ns = format!("{}h{n}", self.prefix);
        let (near, far) = (
            format!("{}v{n}", self.prefix),
            format!("{}p{n}", self.prefix),
        );
        ip(&["netns", "add", &ns])?;
        self.hosts.push(ns.clone());

        ip(&["link", "add", &near, "type", "veth", "peer", "name", &far])?;
        ip(&["link", "set", &near, "netns", &ns])?;
        ip(&["link", "set", &far, "netns", &self.hub()])?;
        ip(&[
            "-n",
            &self.hub(),
            "link",
            "set",
            &far,
            "master",
            "br0",
            "up",
        ])?;

        ip(&["-n", &ns, "link", "set", &near, "name", "eth0"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.213.0.{n}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up", "multicast", "on"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Cuts host `ns` off the LAN (its cable pulled) or plugs it back.
    pub fn set_link(&self, ns: &str, up: bool) -> Result<()> {
        ip(&[
            "-n",
            ns,
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ])
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends inside it.
        for ns in self.hosts.iter().chain(std::iter::once(&self.hub())) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
