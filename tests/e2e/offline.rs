//! Offline delivery on real nodes: a mailbox carries mail between two peers
//! who are never online together and the receipt finds its way back; a
//! partition heals with every message delivered exactly once; a peer back
//! after 1,000 missed messages catches up by itself.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hark_e2e::netns::Lan;
use hark_e2e::offline::{faketime_env, write_wav, Launch};
use hark_e2e::{fixture, wait_until, TestNode};

const DELIVERY: Duration = Duration::from_secs(90);

/// Waits until `node` no longer shows `other` as online.
fn await_offline(node: &TestNode, other: &TestNode) -> Result<()> {
    wait_until(Duration::from_secs(30), "peer to go offline", || {
        let peers = node.json(&["peers"])?;
        let list = peers.as_array().context("peers is not a list")?;
        Ok(list
            .iter()
            .any(|p| p["peer_id"] == other.peer_id.as_str() && p["online"] == false))
    })
}

fn tempdir(name: &str) -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("hark-{name}-"))
        .tempdir()?)
}

// A sends to B while B is away; M (a mailbox) takes the sealed message; A
// leaves; B returns and gets it from M (the only node up); B leaves; A
// returns and, with only M there, sees it delivered; M has dropped its copy.
#[test]
fn mailbox_carries_mail_and_receipt_between_peers_never_online_together() -> Result<()> {
    let mut lan = Lan::new("o")?;
    let (ns_a, ns_b, ns_m) = (lan.add_host(1)?, lan.add_host(2)?, lan.add_host(3)?);
    let (dir_a, dir_b, dir_m) = (tempdir("alice")?, tempdir("bob")?, tempdir("mbox")?);
    let launch_a = Launch::in_netns("alice", &ns_a);
    let launch_b = Launch::in_netns("bob", &ns_b);
    let launch_m = Launch {
        mailbox: true,
        ..Launch::in_netns("mbox", &ns_m)
    };

    let mut a = launch_a.start(dir_a.path())?;
    let mut b = launch_b.start(dir_b.path())?;
    let m = launch_m.start(dir_m.path())?;
    for (x, y) in [(&a, &b), (&a, &m), (&b, &m)] {
        x.await_peer(y)?;
        y.await_peer(x)?;
    }

    b.stop()?;
    await_offline(&a, &b)?;
    let id = a.send("bob", &fixture("audio/speech-8k-mono-u8.wav"))?;
    let state = a.message(&id)?.context("sent message not listed")?["state"].clone();
    ensure!(state == "queued", "with bob away the message is {state}");
    wait_until(DELIVERY, "mailbox to carry the message", || {
        Ok(m.carrying()? == 1)
    })
    .with_context(|| m.log())?;
    ensure!(m.message(&id)?.is_none(), "the mailbox lists mail for bob");

    a.stop()?;
    let mut b = launch_b.start(dir_b.path())?;
    b.await_state(&id, "received", DELIVERY)?;
    b.stop()?;

    let a = launch_a.start(dir_a.path())?;
    a.await_state(&id, "delivered", DELIVERY)?;
    ensure!(b.message(&id).is_err(), "bob should be down");
    wait_until(DELIVERY, "mailbox to drop its copy", || {
        Ok(m.carrying()? == 0)
    })?;
    Ok(())
}

/// A message sent by `from` to `to` during the partition test.
struct Sent {
    id: String,
    from: usize,
    to: usize,
}

// Three hosts exchange messages in every direction; B's cable is pulled
// while messages (one of them 72 s long, so mid-transfer) flow both ways and
// more are sent on both sides of the cut; after it heals every message is
// received exactly once and every sender sees it delivered.
#[test]
fn partition_heals_with_every_message_delivered_exactly_once() -> Result<()> {
    let mut lan = Lan::new("p")?;
    let hosts = [lan.add_host(1)?, lan.add_host(2)?, lan.add_host(3)?];
    let names = ["alice", "bob", "carol"];
    let dirs = [tempdir("alice")?, tempdir("bob")?, tempdir("carol")?];
    let nodes: Vec<TestNode> = (0..3)
        .map(|i| Launch::in_netns(names[i], &hosts[i]).start(dirs[i].path()))
        .collect::<Result<_>>()?;
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                nodes[i].await_peer(&nodes[j])?;
            }
        }
    }

    let short = fixture("audio/speech-8k-mono-u8.wav");
    let long = fixture("audio/speech-long-80s.opus");
    let mut sent = Vec::new();
    let mut send_round = |file: &Path| -> Result<()> {
        for (from, node) in nodes.iter().enumerate() {
            for (to, name) in names.iter().enumerate() {
                if from != to {
                    let id = node.send(name, file)?;
                    sent.push(Sent { id, from, to });
                }
            }
        }
        Ok(())
    };

    send_round(&short)?;
    send_round(&long)?;
    lan.set_link(&hosts[1], false)?;
    send_round(&short)?;
    std::thread::sleep(Duration::from_secs(3));
    send_round(&short)?;
    lan.set_link(&hosts[1], true)?;
    send_round(&short)?;

    for s in &sent {
        nodes[s.to].await_state(&s.id, "received", DELIVERY)?;
        nodes[s.from].await_state(&s.id, "delivered", DELIVERY)?;
    }
    check_counts(&nodes, &sent)
}

/// Each node lists exactly the messages sent to it and by it, once each.
fn check_counts(nodes: &[TestNode], sent: &[Sent]) -> Result<()> {
    for (i, node) in nodes.iter().enumerate() {
        let lines = node.inbox_lines()?;
        let mut by_direction: HashMap<&str, usize> = HashMap::new();
        for line in lines.values() {
            *by_direction.entry(line.direction.as_str()).or_default() += 1;
        }
        let to_me = sent.iter().filter(|s| s.to == i).count();
        let from_me = sent.iter().filter(|s| s.from == i).count();
        ensure!(
            by_direction.get("incoming").copied().unwrap_or(0) == to_me
                && by_direction.get("outgoing").copied().unwrap_or(0) == from_me,
            "{} lists {by_direction:?}, expected {to_me} in and {from_me} out",
            node.name
        );
    }
    Ok(())
}

// B is away while A sends 1,000 short messages; B comes back and, without
// anyone doing anything, receives all of them, and A sees all delivered.
#[test]
fn peer_back_after_1000_missed_messages_catches_up() -> Result<()> {
    let (dir_a, dir_b) = (tempdir("alice")?, tempdir("bob")?);
    let a = Launch::local("alice").start(dir_a.path())?;
    let launch_b = Launch {
        peers: vec![a.addr.clone()],
        ..Launch::local("bob")
    };
    let mut b = launch_b.start(dir_b.path())?;
    a.await_peer(&b)?;
    b.stop()?;
    await_offline(&a, &b)?;

    let wav = dir_a.path().join("short.wav");
    write_wav(&wav, 200, 7)?;
    // Four senders at once: the node stores each on its own.
    let ids: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..250)
                        .map(|_| a.send("bob", &wav))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow::anyhow!("a sender panicked"))?)
            .collect::<Result<Vec<Vec<String>>>>()
    })?
    .concat();
    ensure!(
        a.ids_in_state("queued")?.len() == 1000,
        "messages not all queued"
    );

    let b = launch_b.start(dir_b.path())?;
    // Watched in the logs: listing 1,000 messages every second would slow
    // the very nodes being measured. The inboxes are checked once at the end.
    b.await_logged("message received", &ids, Duration::from_secs(600))?;
    a.await_logged("message delivered", &ids, Duration::from_secs(120))?;
    let lines = b.inbox_lines()?;
    ensure!(lines.len() == 1000, "bob lists {}, not 1,000", lines.len());
    ensure!(
        ids.iter()
            .all(|id| lines.get(id).is_some_and(|l| l.state == "received")),
        "bob lacks some"
    );
    let sent = a.inbox_lines()?;
    ensure!(
        sent.values().all(|l| l.state == "delivered"),
        "alice shows some undelivered"
    );
    Ok(())
}

/// `created_at_ms` of message `id` as `node` lists it.
fn created_at(node: &TestNode, id: &str) -> Result<u64> {
    let m = node.message(id)?.context("message not listed")?;
    m["created_at_ms"].as_u64().context("no created_at_ms")
}

// B's wall clock is an hour behind (libfaketime, monotonic time true):
// messages both ways, live and after B was away, arrive once each and are
// delivered; each sender's messages keep their order at the other end.
#[test]
fn peer_an_hour_off_gets_everything_in_order() -> Result<()> {
    let Some(env) = faketime_env("-1h") else {
        eprintln!("SKIPPED: libfaketime is missing (Debian package faketime)");
        return Ok(());
    };
    let (dir_a, dir_b) = (tempdir("alice")?, tempdir("bob")?);
    let a = Launch::local("alice").start(dir_a.path())?;
    let launch_b = Launch {
        peers: vec![a.addr.clone()],
        env,
        ..Launch::local("bob")
    };
    let mut b = launch_b.start(dir_b.path())?;
    a.await_peer(&b)?;
    let wav = dir_a.path().join("m.wav");
    write_wav(&wav, 500, 5)?;

    let mut to_b = vec![a.send("bob", &wav)?];
    let to_a = vec![b.send("alice", &wav)?, b.send("alice", &wav)?];
    to_b.push(a.send("bob", &wav)?);
    a.await_all(&to_a, "received", DELIVERY)?;
    b.stop()?;
    await_offline(&a, &b)?;
    to_b.push(a.send("bob", &wav)?);
    to_b.push(a.send("bob", &wav)?);
    let b = launch_b.start(dir_b.path())?;

    b.await_all(&to_b, "received", DELIVERY)?;
    a.await_all(&to_b, "delivered", DELIVERY)?;
    b.await_all(&to_a, "delivered", DELIVERY)?;
    let skew = created_at(&a, &to_b[0])? as i64 - created_at(&a, &to_a[0])? as i64;
    ensure!(
        (3_000_000..4_200_000).contains(&skew),
        "B's clock is not an hour behind (skew {skew} ms)"
    );
    for (node, ids) in [(&b, &to_b), (&a, &to_a)] {
        let times: Vec<u64> = ids
            .iter()
            .map(|id| created_at(node, id))
            .collect::<Result<_>>()?;
        ensure!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "out of order at {}: {times:?}",
            node.name
        );
    }
    ensure!(
        a.inbox_lines()?.len() == 6 && b.inbox_lines()?.len() == 6,
        "extra messages"
    );
    Ok(())
}
