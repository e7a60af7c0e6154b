//! Frames are stored in groups: one sled value per second of audio (50
//! frames of 20 ms) instead of one per frame.
//!
//! One key per frame made a 30 s message 1,500 keys in one transaction,
//! which was half of what a peer catching up spent, and a 30-minute
//! message 90,000 keys, which grew a node by about 400 MB. A group holds
//! the frames of indices `g * 50 .. g * 50 + 50` that are present, in index
//! order; live messages fill groups frame by frame and gaps are simply
//! absent. Even 50 frames of the largest packet
//! ([`MAX_PACKET_BYTES`](hark_proto::envelope::MAX_PACKET_BYTES)) stay far
//! below a quarter of sled's 512 KiB segment, above which sled moves a
//! value to a separate blob file.

use hark_proto::envelope::SealedFrame;
use hark_proto::ids::MessageId;

use crate::record::{decode, encode};
use crate::Error;

/// Frames per group.
const GROUP_FRAMES: u32 = 50;

/// The group holding frame `index`.
pub(crate) fn group_of(index: u32) -> u32 {
    index / GROUP_FRAMES
}

/// Groups sort by message, then by group number (big-endian so byte order
/// is numeric order).
pub(crate) fn group_key(id: &MessageId, group: u32) -> Vec<u8> {
    let mut key = id.0.to_vec();
    key.extend_from_slice(&group.to_be_bytes());
    key
}

/// Splits frames (any order, any groups) into `(group, frames)` runs,
/// each run sorted by index.
pub(crate) fn split(frames: &[SealedFrame]) -> Vec<(u32, Vec<SealedFrame>)> {
    let mut sorted: Vec<&SealedFrame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.index);

    let mut runs: Vec<(u32, Vec<SealedFrame>)> = Vec::new();
    for frame in sorted {
        let group = group_of(frame.index);
        match runs.last_mut() {
            Some((g, run)) if *g == group => run.push(frame.clone()),
            _ => runs.push((group, vec![frame.clone()])),
        }
    }
    runs
}

/// A sled key and the value to store under it.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// The entries that store `frames` of message `id` as groups.
pub(crate) fn values(id: &MessageId, frames: &[SealedFrame]) -> Result<Vec<Entry>, Error> {
    split(frames)
        .into_iter()
        .map(|(group, run)| Ok((group_key(id, group), encode_group(&run)?)))
        .collect()
}

/// A group's stored bytes.
fn encode_group(frames: &[SealedFrame]) -> Result<Vec<u8>, Error> {
    encode(&frames, "frame group")
}

/// The frames of a group's stored bytes.
pub(crate) fn decode_group(bytes: &[u8]) -> Result<Vec<SealedFrame>, Error> {
    decode(bytes, "frame group")
}

/// `stored` (a group's bytes, if any) with `new` frames added; a frame of
/// an index already present is replaced.
pub(crate) fn merge(stored: Option<&[u8]>, new: &[SealedFrame]) -> Result<Vec<u8>, Error> {
    let mut frames = match stored {
        Some(bytes) => decode_group(bytes)?,
        None => Vec::new(),
    };
    for frame in new {
        match frames.binary_search_by_key(&frame.index, |f| f.index) {
            Ok(at) => frames[at] = frame.clone(),
            Err(at) => frames.insert(at, frame.clone()),
        }
    }
    encode_group(&frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u32) -> SealedFrame {
        SealedFrame {
            index,
            last: false,
            ciphertext: vec![index as u8; 3],
        }
    }

    // Frames in any order split into sorted runs, one per group.
    #[test]
    fn split_groups_and_sorts() {
        let frames: Vec<_> = [101, 3, 49, 50, 0].into_iter().map(frame).collect();
        let runs = split(&frames);
        let shape: Vec<(u32, Vec<u32>)> = runs
            .iter()
            .map(|(g, f)| (*g, f.iter().map(|f| f.index).collect()))
            .collect();
        assert_eq!(
            shape,
            vec![(0, vec![0, 3, 49]), (1, vec![50]), (2, vec![101])]
        );
    }

    // Merging fills gaps in order and replaces a frame already present.
    #[test]
    fn merge_fills_gaps_and_replaces() -> Result<(), Error> {
        let first = merge(None, &[frame(4), frame(1)])?;
        let mut again = frame(4);
        again.ciphertext = vec![9];
        let merged = merge(Some(&first), &[frame(2), again.clone()])?;
        let frames = decode_group(&merged)?;
        let indices: Vec<u32> = frames.iter().map(|f| f.index).collect();
        assert_eq!(indices, vec![1, 2, 4]);
        assert_eq!(frames[2], again);
        Ok(())
    }

    // Keys order by group number, not by its decimal text.
    #[test]
    fn keys_sort_numerically() {
        let id = MessageId([7; 16]);
        assert!(group_key(&id, 2) < group_key(&id, 10));
        assert!(group_key(&id, 255) < group_key(&id, 256));
    }
}
