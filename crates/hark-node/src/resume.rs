//! Finishing our live messages that a stop cut off.
//!
//! A live message is stored frame by frame as it is spoken and gets its
//! trailer only when the talker lets go. If the node stops first (killed,
//! crashed, Ctrl-C mid-recording), the message would stay unfinished here
//! and "receiving" at every listener for good, since nothing would ever
//! offer it again. At start, each such message is finished from the
//! frames that reached the disk: one 20 ms frame of silence is sealed as
//! the last, the trailer is signed, and the message is then offered like
//! any other. Listeners whose partial copy holds frames the sender lost
//! (written after its last flush) find that copy does not match the
//! trailer, drop it and fetch the finished message whole
//! (`incoming::Fetch::finish`).

use hark_proto::envelope::{EnvelopeError, SealedFrame, Sealer, MAX_FRAMES};
use hark_proto::ids::MessageId;
use hark_store::{Direction, MessageRecord};

use crate::handle::Shared;

/// Why one message could not be finished. It is left as it was.
#[derive(Debug, thiserror::Error)]
enum ResumeError {
    #[error("store: {0}")]
    Store(#[from] hark_store::Error),
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("codec: {0}")]
    Codec(#[from] hark_audio::codec::CodecError),
    #[error("this node is no longer in the message's channel")]
    NoChannel,
}

/// Finishes every outgoing message of ours that has no trailer. Blocking;
/// run before the node takes requests, when no live message can be in
/// progress. A message that cannot be finished is logged and left.
pub(crate) fn finish_interrupted(shared: &Shared) -> Result<(), hark_store::Error> {
    let me = shared.identity.peer_id();
    let mut finished = 0;
    for (id, record) in shared.store.messages()? {
        let cut_off = record.direction == Direction::Outgoing
            && record.sender == me
            && record.trailer.is_none();
        if !cut_off {
            continue;
        }
        match finish_one(shared, &id, record) {
            Ok(frames) => {
                tracing::info!(msg = %id, frames, "finished a live message cut off by a stop");
                finished += 1;
            }
            Err(e) => tracing::warn!(msg = %id, error = %e, "cannot finish a cut-off live message"),
        }
    }
    if finished > 0 {
        shared.store.flush_blocking()?;
    }
    Ok(())
}

/// Seals a closing frame of silence after the stored frames and completes
/// the record. Returns the message's frame count.
fn finish_one(
    shared: &Shared,
    id: &MessageId,
    mut record: MessageRecord,
) -> Result<u32, ResumeError> {
    let stored = contiguous(shared.store.frames(id, 0, MAX_FRAMES)?);
    let channel_key = match record.channel {
        Some(channel) => {
            let held = shared.store.channel(&channel)?;
            Some(held.ok_or(ResumeError::NoChannel)?.channel.key)
        }
        None => None,
    };
    let mut sealer = Sealer::resume(
        &shared.identity,
        &record.header,
        channel_key.as_ref(),
        &stored,
    )?;
    let codec = sealer.codec();

    let mut encoder = hark_audio::codec::Encoder::new(codec.bitrate)?;
    let silence = encoder.encode_frame(&[0.0; hark_audio::FRAME_SAMPLES])?;
    let last = sealer.seal_frame(&silence, true)?;
    // The real audio ends with the stored frames; the decoder's delay
    // (pre-skip) comes off the front.
    let spoken = stored.len() as u64 * u64::from(codec.frame_samples);
    let sample_count = spoken.saturating_sub(u64::from(codec.pre_skip));
    let trailer = sealer.finish(sample_count)?;

    shared.store.put_frames(id, std::slice::from_ref(&last))?;
    let bytes: usize = stored
        .iter()
        .chain([&last])
        .map(|f| f.ciphertext.len())
        .sum();
    record.trailer = Some(trailer);
    record.frame_count = last.index + 1;
    record.sample_count = sample_count;
    record.bytes = bytes as u64;
    shared.store.update_message(id, &record)?;
    Ok(record.frame_count)
}

/// The frames from index 0 up to the first gap (frames are stored in
/// order, so a gap means the rest never reached the disk whole).
fn contiguous(frames: Vec<SealedFrame>) -> Vec<SealedFrame> {
    frames
        .into_iter()
        .enumerate()
        .take_while(|(i, f)| f.index as usize == *i && !f.last)
        .map(|(_, f)| f)
        .collect()
}
