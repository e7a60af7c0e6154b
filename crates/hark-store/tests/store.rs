//! The store on a real sled dir: messages kept whole and exactly once,
//! delivery tracked per recipient, state surviving a reopen.

use anyhow::Result;
use hark_proto::envelope::{Codec, SealedFrame, Sealer, SignedHeader, SignedTrailer};
use hark_proto::identity::Identity;
use hark_proto::ids::MessageId;
use hark_store::{Delivery, Direction, MessageRecord, OpenError, Store};

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

// Pending until the receipt, delivered after, and a repeated receipt is
// not a change.
#[test]
fn delivery_moves_from_pending_to_delivered_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let s = sample(&alice, &bob, 3)?;
    store.insert_message(&s.id, &s.record, &s.frames, &[bob.peer_id()])?;

    assert_eq!(store.pending_for(&bob.peer_id())?, vec![s.id]);
    assert!(store.pending_for(&alice.peer_id())?.is_empty());
    assert!(store.mark_delivered(&s.id, &bob.peer_id(), 77)?);
    assert!(!store.mark_delivered(&s.id, &bob.peer_id(), 78)?);

    assert!(store.pending_for(&bob.peer_id())?.is_empty());
    assert_eq!(
        store.deliveries(&s.id)?,
        vec![(bob.peer_id(), Delivery::Delivered { at_ms: 77 })]
    );
    // A receipt from someone who was never a recipient changes nothing.
    assert!(!store.mark_delivered(&s.id, &Identity::generate().peer_id(), 79)?);
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
