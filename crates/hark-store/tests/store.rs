//! The store on a real sled dir: messages kept whole and exactly once,
//! delivery tracked per recipient, state surviving a reopen.

use anyhow::Result;
use hark_proto::envelope::{Codec, SealedFrame, Sealer, SignedHeader, SignedTrailer};
use hark_proto::identity::Identity;
use hark_proto::ids::MessageId;
use hark_proto::receipt::{ReceiptKind, SignedReceipt};
use hark_store::{
    Delivery, Direction, MessageRecord, OpenError, ReceiptOutcome, Store, StoredReceipt,
};

fn receipt(by: &Identity, id: MessageId, kind: ReceiptKind, at_ms: u64) -> StoredReceipt {
    let signed = SignedReceipt::sign(by, id, kind, at_ms);
    StoredReceipt {
        key: *blake3::hash(&[&id.0[..], &[kind as u8]].concat()).as_bytes(),
        id,
        recipient: by.peer_id(),
        heard: kind == ReceiptKind::Heard,
        at_ms,
        signed,
    }
}

struct Sample {
    id: MessageId,
    record: MessageRecord,
    frames: Vec<SealedFrame>,
}

fn sample(sender: &Identity, to: &Identity, packets: usize) -> Result<Sample> {
    let codec = Codec {
        sample_rate: 48_000,
        frame_samples: 960,
        pre_skip: 312,
        bitrate: 24_000,
    };
    let (mut sealer, header): (Sealer, SignedHeader) =
        Sealer::new(sender, &[sender.public(), to.public()], codec, 1_000)?;
    let frames = (0..packets)
        .map(|i| sealer.seal_frame(&[i as u8; 40], i + 1 == packets))
        .collect::<Result<Vec<_>, _>>()?;
    let id = sealer.id();
    let trailer: SignedTrailer = sealer.finish(packets as u64 * 960)?;

    let record = MessageRecord {
        header,
        trailer: Some(trailer),
        direction: Direction::Outgoing,
        sender: sender.peer_id(),
        recipients: vec![sender.peer_id(), to.peer_id()],
        created_at_ms: 1_000,
        stored_at_ms: 1_001,
        frame_count: packets as u32,
        sample_count: packets as u64 * 960,
        bytes: frames.iter().map(|f| f.ciphertext.len() as u64).sum(),
        dropped: false,
        channel: None,
    };
    Ok(Sample { id, record, frames })
}

// A message goes in whole, comes out whole, and a second insert of the same
// id changes nothing.
#[test]
fn message_is_stored_whole_and_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 1200)?;

    assert!(store.insert_message(&s.id, &s.record, &s.frames, &[bob.peer_id()])?);
    assert!(!store.insert_message(&s.id, &s.record, &s.frames[..10], &[])?);

    assert_eq!(store.message(&s.id)?, Some(s.record.clone()));
    assert_eq!(store.frames(&s.id, 0, 5000)?, s.frames);
    assert_eq!(store.frames(&s.id, 1000, 500)?, s.frames[1000..].to_vec());
    assert_eq!(store.messages()?.len(), 1);
    Ok(())
}

// Pending until the receipt, delivered after, heard later; a repeated or
// older receipt is not a change, and the state never moves back.
#[test]
fn delivery_moves_forward_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 3)?;
    store.insert_message(&s.id, &s.record, &s.frames, &[bob.peer_id()])?;
    assert_eq!(store.pending_for(&bob.peer_id())?, vec![s.id]);
    assert!(store.pending_for(&alice.peer_id())?.is_empty());

    let delivered = receipt(&bob, s.id, ReceiptKind::Delivered, 77);
    let heard = receipt(&bob, s.id, ReceiptKind::Heard, 90);
    assert_eq!(store.record_receipt(&delivered)?, ReceiptOutcome::Advanced);
    assert_eq!(store.record_receipt(&delivered)?, ReceiptOutcome::Duplicate);
    assert!(store.pending_for(&bob.peer_id())?.is_empty());
    assert_eq!(store.record_receipt(&heard)?, ReceiptOutcome::Advanced);

    // One receipt per recipient and kind: a second, re-signed one is a
    // duplicate.
    let resigned = receipt(&bob, s.id, ReceiptKind::Delivered, 60);
    assert_eq!(store.record_receipt(&resigned)?, ReceiptOutcome::Duplicate);
    assert_eq!(
        store.deliveries(&s.id)?,
        vec![(bob.peer_id(), Delivery::Heard { at_ms: 90 })]
    );
    assert_eq!(store.receipt_by_key(&heard.key)?, Some(heard));
    Ok(())
}

// A delivered receipt that arrives after the heard one is kept (to pass
// on) but does not move the state back.
#[test]
fn older_receipt_does_not_move_state_back() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 3)?;
    store.insert_message(&s.id, &s.record, &s.frames, &[bob.peer_id()])?;

    let heard = receipt(&bob, s.id, ReceiptKind::Heard, 90);
    let delivered = receipt(&bob, s.id, ReceiptKind::Delivered, 77);
    assert_eq!(store.record_receipt(&heard)?, ReceiptOutcome::Advanced);
    assert_eq!(store.record_receipt(&delivered)?, ReceiptOutcome::Stored);
    assert_eq!(
        store.deliveries(&s.id)?,
        vec![(bob.peer_id(), Delivery::Heard { at_ms: 90 })]
    );
    assert_eq!(store.receipts_for(&s.id)?.len(), 2);
    Ok(())
}

// A carried message's frames can be dropped, leaving a tombstone; deleting
// removes everything about it.
#[test]
fn carried_mail_is_dropped_then_deleted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let mut s = sample(&alice, &bob, 20)?;
    s.record.direction = Direction::Carried;
    store.insert_message(&s.id, &s.record, &s.frames, &[])?;
    assert_eq!(store.carried_bytes()?, s.record.bytes);

    assert!(store.drop_frames(&s.id)?);
    assert!(store.frames(&s.id, 0, 100)?.is_empty());
    assert!(store.message(&s.id)?.is_some_and(|r| r.dropped));
    assert_eq!(store.carried_bytes()?, 0);

    store.record_receipt(&receipt(&bob, s.id, ReceiptKind::Delivered, 5))?;
    store.delete_message(&s.id)?;
    assert!(store.message(&s.id)?.is_none());
    assert!(store.receipts_for(&s.id)?.is_empty());
    Ok(())
}

// What was flushed is there after the store is closed and opened again.
#[test]
fn state_survives_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 7)?;
    {
        let store = Store::open(dir.path())?;
        store.insert_message(&s.id, &s.record, &s.frames, &[bob.peer_id()])?;
        store.set_display_name("Alice")?;
        store.flush_blocking()?;
    }

    let store = Store::open(dir.path())?;
    assert_eq!(store.message(&s.id)?, Some(s.record));
    assert_eq!(store.pending_for(&bob.peer_id())?, vec![s.id]);
    assert_eq!(store.display_name()?.as_deref(), Some("Alice"));
    Ok(())
}

// A database from a newer Hark is refused, not misread.
#[test]
fn newer_schema_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let db = sled::open(dir.path())?;
        db.open_tree("meta")?
            .insert("schema_version", &99u32.to_be_bytes())?;
        db.flush()?;
    }
    match Store::open(dir.path()) {
        Err(OpenError::NewerSchema { found: 99, .. }) => Ok(()),
        other => anyhow::bail!("expected NewerSchema, got {other:?}"),
    }
}

// A store reopened right after it was dropped opens once sled's flusher
// lets go of the lock; one held open stays refused, as Locked.
#[test]
fn reopening_waits_for_a_closing_store_and_refuses_an_open_one() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let first = Store::open(dir.path())?;
    first.set_display_name("Alice")?;
    first.flush_blocking()?;
    let closing = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(first);
    });
    let second = Store::open(dir.path())?;
    closing
        .join()
        .map_err(|_| anyhow::anyhow!("closing thread panicked"))?;
    assert_eq!(second.display_name()?.as_deref(), Some("Alice"));

    match Store::open(dir.path()) {
        Err(OpenError::Locked { .. }) => Ok(()),
        other => anyhow::bail!("expected Locked, got {other:?}"),
    }
}

// A live message grows frame by frame; gaps are found exactly.
#[test]
fn live_message_grows_and_gaps_are_found() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 10)?;
    let mut record = s.record.clone();
    record.trailer = None;

    assert!(store.begin_message(&s.id, &record, &[])?);
    assert!(!store.begin_message(&s.id, &record, &[])?);
    let some: Vec<_> = s
        .frames
        .iter()
        .filter(|f| ![2, 3, 7].contains(&f.index))
        .cloned()
        .collect();
    store.put_frames(&s.id, &some)?;
    assert_eq!(store.missing_frames(&s.id, 10)?, vec![2, 3, 7]);
    assert_eq!(store.missing_frames(&s.id, 12)?, vec![2, 3, 7, 10, 11]);

    store.put_frames(&s.id, &s.frames)?;
    assert!(store.missing_frames(&s.id, 10)?.is_empty());
    store.update_message(&s.id, &s.record)?;
    assert_eq!(store.frames(&s.id, 0, 100)?, s.frames);
    assert_eq!(store.message(&s.id)?, Some(s.record));
    Ok(())
}

// Frames are kept in groups of 50: windows across group edges, gaps in
// several groups and two writers filling one group at once all come out
// exactly.
#[test]
fn frames_across_groups_and_concurrent_writers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 130)?;
    let mut record = s.record.clone();
    record.trailer = None;
    assert!(store.begin_message(&s.id, &record, &[])?);

    let gaps = [0, 49, 50, 99, 129];
    let (evens, odds): (Vec<SealedFrame>, Vec<SealedFrame>) = s
        .frames
        .iter()
        .filter(|f| !gaps.contains(&f.index))
        .cloned()
        .partition(|f| f.index % 2 == 0);
    let results = std::thread::scope(|scope| {
        let a = scope.spawn(|| store.put_frames(&s.id, &evens));
        let b = scope.spawn(|| store.put_frames(&s.id, &odds));
        [a.join(), b.join()]
    });
    for result in results {
        result.map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    assert_eq!(store.missing_frames(&s.id, 130)?, gaps);

    store.put_frames(&s.id, &s.frames)?;
    let window = store.frames(&s.id, 45, 10)?;
    let indices: Vec<u32> = window.iter().map(|f| f.index).collect();
    assert_eq!(indices, (45..55).collect::<Vec<_>>());
    assert_eq!(store.frames(&s.id, 0, 130)?, s.frames);
    assert!(store.frames(&s.id, 7, 0)?.is_empty());
    Ok(())
}

// A version 1 store (one key per frame) opens as version 2 with every
// frame in place and the old tree gone; opening again changes nothing.
#[test]
fn version_1_frames_are_grouped_on_open() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 120)?;
    {
        let db = sled::open(dir.path())?;
        db.open_tree("meta")?
            .insert("schema_version", &1u32.to_be_bytes())?;
        let frames = db.open_tree("frames")?;
        for f in &s.frames {
            let key = [&s.id.0[..], &f.index.to_be_bytes()].concat();
            frames.insert(key, postcard::to_stdvec(f)?)?;
        }
        db.flush()?;
    }

    for _ in 0..2 {
        let store = Store::open(dir.path())?;
        assert_eq!(store.frames(&s.id, 0, 200)?, s.frames);
        assert!(store.missing_frames(&s.id, 120)?.is_empty());
    }
    // sled's flusher lets go of the lock shortly after the store drops.
    let started = std::time::Instant::now();
    let db = loop {
        match sled::open(dir.path()) {
            Ok(db) => break db,
            Err(_) if started.elapsed().as_secs() < 2 => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => return Err(e.into()),
        }
    };
    let version = db.open_tree("meta")?.get("schema_version")?;
    assert_eq!(version.as_deref(), Some(&2u32.to_be_bytes()[..]));
    assert!(!db.tree_names().iter().any(|n| n == b"frames".as_slice()));
    Ok(())
}
