//! What storing one received message costs, and what it would cost laid
//! out otherwise. The catch-up benchmark (tests/benches/catchup.rs) found
//! `Store::insert_message` to be most of a catching-up node's CPU while
//! each of a 30-second message's 1,500 sealed frames was its own sled key
//! in one multi-tree transaction (schema 1). The store now writes frames in
//! groups of 50 (schema 2). Beside it, on the same frames: schema 1's
//! layout (a transaction of 1,500 keys), the 1,500 keys through
//! `Tree::apply_batch` (atomic for one tree, no transaction), and all
//! frames as one value.
//!
//! Run: `cargo bench -p hark-store --bench insert`. No flush is timed: a
//! flush per message costs the same in every layout.

use criterion::{BatchSize, Criterion, Throughput};
use hark_proto::envelope::{Codec, SealedFrame, Sealer};
use hark_proto::identity::Identity;
use hark_proto::ids::MessageId;
use hark_store::{Direction, MessageRecord, Store};
use sled::Transactional;

/// 30 s of 20 ms frames, as in the catch-up benchmark.
const FRAMES: usize = 1_500;

/// Opus at 24 kbit/s: about 60 bytes per 20 ms frame.
const OPUS_BYTES: usize = 60;

struct Message {
    id: MessageId,
    record: MessageRecord,
    frames: Vec<SealedFrame>,
}

fn message(alice: &Identity, bob: &Identity) -> anyhow::Result<Message> {
    let codec = Codec {
        sample_rate: 48_000,
        frame_samples: 960,
        pre_skip: 312,
        bitrate: 24_000,
    };
    let (mut sealer, header) = Sealer::new(alice, &[alice.public(), bob.public()], codec, 1)?;
    let frames = (0..FRAMES)
        .map(|i| sealer.seal_frame(&[i as u8; OPUS_BYTES], i + 1 == FRAMES))
        .collect::<Result<Vec<_>, _>>()?;
    let id = sealer.id();
    let trailer = sealer.finish(FRAMES as u64 * 960)?;
    let record = MessageRecord {
        header,
        trailer: Some(trailer),
        direction: Direction::Incoming,
        sender: alice.peer_id(),
        recipients: vec![alice.peer_id(), bob.peer_id()],
        created_at_ms: 1,
        stored_at_ms: 2,
        frame_count: FRAMES as u32,
        sample_count: FRAMES as u64 * 960,
        bytes: frames.iter().map(|f| f.ciphertext.len() as u64).sum(),
        dropped: false,
        channel: None,
    };
    Ok(Message { id, record, frames })
}

/// Schema 1's frames key: message id, then the index big-endian.
fn frame_key(id: &MessageId, index: u32) -> Vec<u8> {
    [&id.0[..], &index.to_be_bytes()].concat()
}

fn bench(c: &mut Criterion) -> anyhow::Result<()> {
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("store"))?;
    let raw = sled::open(dir.path().join("raw"))?;
    let (keys, values) = (raw.open_tree("frames")?, raw.open_tree("messages")?);

    let mut group = c.benchmark_group("store one 30 s message");
    group.sample_size(20);
    group.throughput(Throughput::Elements(FRAMES as u64));
    let fresh = || message(&alice, &bob).expect("a message seals");

    group.bench_function(
        "Store::insert_message (transaction, a key per 50 frames)",
        |b| {
            b.iter_batched(
                fresh,
                |m| store.insert_message(&m.id, &m.record, &m.frames, &[]),
                BatchSize::PerIteration,
            )
        },
    );
    group.bench_function("schema 1: transaction, a key per frame", |b| {
        b.iter_batched(
            fresh,
            |m| {
                let record = postcard::to_allocvec(&m.record).expect("a record encodes");
                let frames: Vec<(Vec<u8>, Vec<u8>)> = m
                    .frames
                    .iter()
                    .map(|f| {
                        let bytes = postcard::to_allocvec(f).expect("a frame encodes");
                        (frame_key(&m.id, f.index), bytes)
                    })
                    .collect();
                (&values, &keys).transaction(|(values, keys)| {
                    values.insert(&m.id.0, record.as_slice())?;
                    for (key, bytes) in &frames {
                        keys.insert(key.as_slice(), bytes.as_slice())?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sled apply_batch, a key per frame", |b| {
        b.iter_batched(
            fresh,
            |m| {
                let mut batch = sled::Batch::default();
                for f in &m.frames {
                    let bytes = postcard::to_allocvec(f).expect("a frame encodes");
                    batch.insert(frame_key(&m.id, f.index), bytes);
                }
                keys.apply_batch(batch)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sled insert, all frames as one value", |b| {
        b.iter_batched(
            fresh,
            |m| {
                let bytes = postcard::to_allocvec(&m.frames).expect("frames encode");
                values.insert(m.id.0, bytes)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c)?;
    c.final_summary();
    Ok(())
}
