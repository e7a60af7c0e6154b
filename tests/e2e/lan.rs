//! A real LAN of test hosts (network namespaces on a bridge): nodes started
//! with no addresses find each other by mDNS, show each other's names, and
//! carry a voice message across.

use std::time::Duration;

use anyhow::Result;
use hark_e2e::netns::Lan;
use hark_e2e::{fixture, TestNode};

// Two nodes with no configuration on one LAN meet by mDNS and exchange a
// message; the display names come through.
#[test]
fn nodes_on_a_lan_find_each_other_without_configuration() -> Result<()> {
    let mut lan = Lan::new("d")?;
    let (ns1, ns2) = (lan.add_host(1)?, lan.add_host(2)?);
    let a = TestNode::start_in_netns("alice", &ns1)?;
    let b = TestNode::start_in_netns("bob", &ns2)?;

    a.await_peer(&b)?;
    b.await_peer(&a)?;
    let peers = a.json(&["peers"])?;
    anyhow::ensure!(peers[0]["display_name"] == "bob", "alice sees {peers}");

    let id = a.send("bob", &fixture("audio/speech-8k-mono-u8.wav"))?;
    b.await_state(&id, "received", Duration::from_secs(60))?;
    a.await_state(&id, "delivered", Duration::from_secs(60))?;
    Ok(())
}
