//! A node's life: private files on first start, Ctrl-C shutting down in
//! order, and everything back after a restart.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::{ensure, Result};
use hark_e2e::{fixture, TestNode};

fn mode(path: &std::path::Path) -> Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

// The key file and control socket are private to the user.
#[test]
fn data_dir_files_are_private() -> Result<()> {
    let a = TestNode::start("alice", &[])?;
    ensure!(mode(a.dir())? == 0o700, "data dir is {:o}", mode(a.dir())?);
    ensure!(
        mode(&a.dir().join("identity.key"))? == 0o600,
        "key file is not 0600"
    );
    ensure!(
        mode(&a.dir().join("control.sock"))? == 0o600,
        "socket is not 0600"
    );
    ensure!(
        !a.log().contains(&hex_of_key(a.dir())?),
        "the log contains key bytes"
    );
    Ok(())
}

fn hex_of_key(dir: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(dir.join("identity.key"))?;
    Ok(bytes[bytes.len() - 32..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

// Ctrl-C stops the node cleanly (exit 0, socket removed); after a restart
// the identity, the contacts and the received message are all there.
#[test]
fn ctrl_c_shuts_down_in_order_and_restart_keeps_everything() -> Result<()> {
    let a = TestNode::start("alice", &[])?;
    let mut b = TestNode::start("bob", &[&a.addr])?;
    a.await_peer(&b)?;
    let id = a.send("bob", &fixture("audio/speech-22k05-mono-s16.wav"))?;
    b.await_state(&id, "received", Duration::from_secs(60))?;

    let status = b.interrupt()?;
    ensure!(status.success(), "node exited with {status} on SIGINT");
    ensure!(
        b.log().contains("node stopped"),
        "no orderly stop in the log"
    );
    ensure!(
        !b.dir().join("control.sock").exists(),
        "control socket left behind"
    );

    let b2 = TestNode::start_in("bob", b.dir(), &[&a.addr])?;
    ensure!(b2.peer_id == b.peer_id, "identity changed across restart");
    ensure!(
        b2.message(&id)?.is_some_and(|m| m["state"] == "received"),
        "message lost"
    );
    let peers = b2.json(&["peers"])?;
    ensure!(peers
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["display_name"] == "alice")));
    Ok(())
}

/// How `node` lists `other`: (display name, online).
fn listed(node: &TestNode, other: &TestNode) -> Result<Option<(String, bool)>> {
    let peers = node.json(&["peers"])?;
    Ok(peers.as_array().and_then(|list| {
        list.iter()
            .find(|p| p["peer_id"] == other.peer_id.as_str())
            .map(|p| {
                let name = p["display_name"].as_str().unwrap_or_default().to_string();
                (name, p["online"] == true)
            })
    }))
}

// A rename reaches a connected peer at once, without the connection being
// dropped; later messages carry the new name; an empty name is refused;
// the new name is stored.
#[test]
fn rename_reaches_peers_without_reconnecting() -> Result<()> {
    let mut a = TestNode::start("alice", &[])?;
    let b = TestNode::start("bob", &[&a.addr])?;
    a.await_peer(&b)?;
    b.await_peer(&a)?;

    let out = a.cli(&["rename", "Alice Liddell"])?;
    ensure!(out.status.success(), "rename failed: {out:?}");
    hark_e2e::wait_until(Duration::from_secs(15), "bob to see the new name", || {
        Ok(listed(&b, &a)? == Some(("Alice Liddell".into(), true)))
    })?;
    ensure!(
        !b.log().contains("peer left"),
        "the rename dropped the connection"
    );

    let id = a.send("bob", &fixture("audio/speech-22k05-mono-s16.wav"))?;
    let received = b.await_state(&id, "received", Duration::from_secs(60))?;
    ensure!(received["from_name"] == "Alice Liddell", "{received}");

    let bad = a.cli(&["rename", "   "])?;
    ensure!(!bad.status.success(), "an empty name was taken");

    a.stop()?;
    let store = hark_store::Store::open(&a.dir().join("store"))?;
    let stored = store.display_name()?;
    ensure!(
        stored.as_deref() == Some("Alice Liddell"),
        "stored {stored:?}"
    );
    Ok(())
}
