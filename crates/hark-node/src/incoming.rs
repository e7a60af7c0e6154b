//! Messages being fetched from a peer: the header first, then the frames in
//! batches (only the missing ones, for a live message that arrived in
//! part), then a check of the whole before it counts as stored.

use std::collections::VecDeque;

use hark_proto::envelope::{Header, SealedFrame, SignedHeader, SignedTrailer, MAX_FRAMES};
use hark_proto::ids::MessageId;
use hark_proto::wire::MAX_FRAME_BATCH;
use hark_store::{Direction, MessageRecord};
use libp2p::PeerId;

use crate::handle::Shared;
use crate::outgoing::now_ms;

/// Why a fetch was given up. The message stays with its sender, who offers
/// it again on the next meeting.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("header does not verify: {0}")]
    Header(hark_proto::envelope::EnvelopeError),
    #[error("this node is not a recipient")]
    NotForUs,
    #[error("the message is not complete at the peer")]
    Incomplete,
    #[error("the peer claims {0} frames, more than allowed")]
    TooLong(u32),
    #[error("the peer sent frames out of order")]
    OutOfOrder,
    #[error("the message does not open: {0}")]
    Open(hark_proto::envelope::EnvelopeError),
    #[error("the message does not open: {0}")]
    Channel(String),
    #[error("store: {0}")]
    Store(#[from] hark_store::Error),
}

/// One message being fetched.
#[derive(Debug)]
pub(crate) struct Fetch {
    pub(crate) id: MessageId,
    pub(crate) from: PeerId,
    header: SignedHeader,
    parsed: Header,
    trailer: SignedTrailer,
    frame_count: u32,
    /// Ranges (start, count) still to fetch, each at most a batch.
    ranges: VecDeque<(u32, u32)>,
    /// Frames fetched so far.
    frames: Vec<SealedFrame>,
    /// Part of the message is stored already (a live message with gaps).
    partial: bool,
    /// Mail for others, kept sealed, not opened.
    pub(crate) carried: bool,
}

impl Fetch {
    /// Starts a fetch from a header response, after checking the header.
    /// A message for this node is fetched to be read; one for others only
    /// if `may_carry`, to be carried sealed. `missing` lists the frames to
    /// fetch when part of the message is stored already; `None` fetches all.
    pub(crate) fn begin(
        for_me: impl Fn(&Header) -> bool,
        from: PeerId,
        header: SignedHeader,
        trailer: Option<SignedTrailer>,
        frame_count: u32,
        may_carry: bool,
        missing: Option<Vec<u32>>,
    ) -> Result<Fetch, FetchError> {
        let parsed = header.verify().map_err(FetchError::Header)?;
        let carried = !for_me(&parsed);
        // Channel mail is not carried: a carrier cannot tell its members.
        let channel = crate::channels::channel_of(&parsed);
        if carried && (!may_carry || channel.is_some()) {
            return Err(FetchError::NotForUs);
        }
        let Some(trailer) = trailer else {
            return Err(FetchError::Incomplete);
        };
        if frame_count == 0 || frame_count > MAX_FRAMES {
            return Err(FetchError::TooLong(frame_count));
        }

        Ok(Fetch {
            id: parsed.id,
            from,
            header,
            parsed,
            trailer,
            frame_count,
            ranges: match &missing {
                Some(list) => ranges_of(list),
                None => ranges_of(&(0..frame_count).collect::<Vec<_>>()),
            },
            frames: Vec::new(),
            partial: missing.is_some(),
            carried,
        })
    }

    /// Who made the message.
    pub(crate) fn sender(&self) -> PeerId {
        self.parsed.sender
    }

    /// The next range to ask for (start, count); `None` when all is here.
    pub(crate) fn next_batch(&self) -> Option<(u32, u32)> {
        self.ranges.front().copied()
    }

    /// Adds the answer to the range asked for; returns whether every
    /// missing frame is here now.
    pub(crate) fn add(&mut self, batch: Vec<SealedFrame>) -> Result<bool, FetchError> {
        let Some((start, count)) = self.ranges.front().copied() else {
            return Err(FetchError::OutOfOrder);
        };
        let exact = batch.len() == count as usize
            && batch
                .iter()
                .enumerate()
                .all(|(i, f)| f.index == start + i as u32);
        if !exact {
            return Err(FetchError::OutOfOrder);
        }

        self.ranges.pop_front();
        self.frames.extend(batch);
        Ok(self.ranges.is_empty())
    }

    /// Estimated bytes this message takes in the store.
    pub(crate) fn estimated_bytes(frame_count: u32) -> u64 {
        // A 24 kbit/s frame is 60 bytes of Opus, 16 of tag, plus framing.
        u64::from(frame_count) * 100
    }

    /// The whole message checked: signatures and frame list, and for our
    /// own mail that every frame opens.
    fn check(&self, shared: &Shared) -> Result<hark_proto::envelope::Trailer, FetchError> {
        if self.carried {
            let checked =
                hark_proto::envelope::verify_message(&self.header, &self.frames, &self.trailer);
            Ok(checked.map_err(FetchError::Open)?.1)
        } else {
            let opened =
                crate::channels::open_message(shared, &self.header, &self.frames, &self.trailer);
            Ok(opened.map_err(|e| FetchError::Channel(e.to_string()))?.1)
        }
    }

    /// Checks the whole message (signatures, frame list, and for our own
    /// mail that every frame opens) and stores it, flushed to disk.
    /// Blocking. Returns whether it was new.
    pub(crate) fn finish(mut self, shared: &Shared) -> Result<bool, FetchError> {
        // Gaps filled: check the whole message as stored plus what came.
        // (A live stream may have completed it meanwhile: nothing to do.)
        if self.partial {
            let done = shared
                .store
                .message(&self.id)?
                .is_some_and(|r| r.trailer.is_some());
            if done {
                return Ok(false);
            }
            shared.store.put_frames(&self.id, &self.frames)?;
            self.frames = shared.store.frames(&self.id, 0, self.frame_count)?;
        }
        let checked = self.check(shared);
        if checked.is_err() && self.partial {
            // Our partial copy holds frames the finished message does not
            // (a talker that stopped mid-message lost its last unflushed
            // frames and finished without them): drop the copy, so the
            // next offer fetches the message whole.
            shared.store.delete_message(&self.id)?;
            shared.store.flush_blocking()?;
        }
        let trailer = checked?;
        let direction = match self.carried {
            true => Direction::Carried,
            false => Direction::Incoming,
        };

        let record = MessageRecord {
            header: self.header,
            trailer: Some(self.trailer),
            direction,
            sender: self.parsed.sender,
            recipients: crate::live::receive::receivers(shared, &self.parsed),
            created_at_ms: self.parsed.created_at_ms,
            stored_at_ms: now_ms(),
            frame_count: self.frame_count,
            sample_count: trailer.sample_count,
            bytes: self.frames.iter().map(|f| f.ciphertext.len() as u64).sum(),
            dropped: false,
            channel: crate::channels::channel_of(&self.parsed),
        };
        let inserted = if self.partial {
            shared.store.update_message(&self.id, &record)?;
            true
        } else {
            shared
                .store
                .insert_message(&self.id, &record, &self.frames, &[])?
        };
        shared.store.flush_blocking()?;
        Ok(inserted)
    }
}

/// What this node holds already of a message it was offered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing (or the store could not say): fetch it all.
    Nothing,
    /// A live copy with gaps: fetch these frames only.
    Part(Vec<u32>),
    /// All of it, trailer included: fetch nothing.
    Whole,
}

/// How much of message `id` (of `frame_count` frames) the store holds.
pub(crate) fn held(store: &hark_store::Store, id: &MessageId, frame_count: u32) -> Held {
    let Ok(Some(record)) = store.message(id) else {
        return Held::Nothing;
    };
    if record.trailer.is_some() {
        return Held::Whole;
    }
    match store.missing_frames(id, frame_count) {
        Ok(missing) => Held::Part(missing),
        Err(_) => Held::Nothing,
    }
}

/// Groups sorted frame indices into ranges of at most one batch.
fn ranges_of(indices: &[u32]) -> VecDeque<(u32, u32)> {
    let mut out: VecDeque<(u32, u32)> = VecDeque::new();
    for &i in indices {
        match out.back_mut() {
            Some((start, count)) if *start + *count == i && *count < MAX_FRAME_BATCH => *count += 1,
            _ => out.push_back((i, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_proto::envelope::{Codec, Sealer};
    use hark_proto::identity::Identity;

    fn is(me: PeerId) -> impl Fn(&Header) -> bool {
        move |h: &Header| h.recipients().contains(&me)
    }

    struct Made {
        bob: Identity,
        header: SignedHeader,
        frames: Vec<SealedFrame>,
        trailer: SignedTrailer,
    }

    fn message(frames: usize) -> Result<Made, Box<dyn std::error::Error>> {
        let (alice, bob) = (Identity::generate(), Identity::generate());
        let codec = Codec {
            sample_rate: 48_000,
            frame_samples: 960,
            pre_skip: 312,
            bitrate: 24_000,
        };
        let (mut sealer, header) = Sealer::new(&alice, &[bob.public()], codec, 5)?;
        let frames = (0..frames)
            .map(|i| sealer.seal_frame(&[1, 2, 3], i + 1 == frames))
            .collect::<Result<Vec<_>, _>>()?;
        let trailer = sealer.finish(frames.len() as u64 * 960)?;
        Ok(Made {
            bob,
            header,
            frames,
            trailer,
        })
    }

    // Nothing stored, a live copy with gaps, and a whole message are told
    // apart: only the first is fetched whole, the last not at all.
    #[test]
    fn held_tells_nothing_part_and_whole_apart() -> Result<(), Box<dyn std::error::Error>> {
        let m = message(10)?;
        let dir = tempfile::tempdir()?;
        let store = hark_store::Store::open(dir.path())?;
        let parsed = m.header.verify()?;
        let id = parsed.id;
        assert_eq!(held(&store, &id, 10), Held::Nothing);

        let mut record = MessageRecord {
            header: m.header.clone(),
            trailer: None,
            direction: Direction::Incoming,
            sender: parsed.sender,
            recipients: parsed.recipients(),
            created_at_ms: 1,
            stored_at_ms: 2,
            frame_count: 0,
            sample_count: 0,
            bytes: 0,
            dropped: false,
            channel: None,
        };
        store.begin_message(&id, &record, &[])?;
        store.put_frames(&id, &m.frames[..3])?;
        store.put_frames(&id, &m.frames[5..6])?;
        assert_eq!(held(&store, &id, 10), Held::Part(vec![3, 4, 6, 7, 8, 9]));

        store.put_frames(&id, &m.frames)?;
        record.trailer = Some(m.trailer);
        record.frame_count = 10;
        store.update_message(&id, &record)?;
        assert_eq!(held(&store, &id, 10), Held::Whole);
        Ok(())
    }

    // Frames arrive in batches of at most MAX_FRAME_BATCH until complete.
    #[test]
    fn batches_cover_the_message() -> Result<(), Box<dyn std::error::Error>> {
        let m = message(1234)?;
        let from = Identity::generate().peer_id();
        let mut fetch = Fetch::begin(
            is(m.bob.peer_id()),
            from,
            m.header,
            Some(m.trailer),
            1234,
            false,
            None,
        )?;

        let mut asked = Vec::new();
        while let Some((start, max)) = fetch.next_batch() {
            asked.push((start, max));
            let batch = m.frames[start as usize..(start + max) as usize].to_vec();
            if fetch.add(batch)? {
                break;
            }
        }
        assert_eq!(asked, vec![(0, 500), (500, 500), (1000, 234)]);
        Ok(())
    }

    // A batch that skips, repeats or overruns frames abandons the fetch.
    #[test]
    fn out_of_order_batch_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let m = message(10)?;
        let from = Identity::generate().peer_id();
        let begin = || {
            Fetch::begin(
                is(m.bob.peer_id()),
                from,
                m.header.clone(),
                Some(m.trailer.clone()),
                10,
                false,
                None,
            )
        };

        assert!(begin()?.add(m.frames[1..4].to_vec()).is_err());
        assert!(begin()?.add(Vec::new()).is_err());
        let mut doubled = m.frames.clone();
        doubled.extend(m.frames.clone());
        assert!(begin()?.add(doubled).is_err());
        Ok(())
    }

    // Only the gaps of a partly stored message are asked for, in ranges.
    #[test]
    fn only_gaps_are_fetched() -> Result<(), Box<dyn std::error::Error>> {
        let m = message(1200)?;
        let bob = m.bob.peer_id();
        let mut missing: Vec<u32> = vec![3, 4, 5, 9];
        missing.extend(100..700);
        let fetch = Fetch::begin(
            is(bob),
            bob,
            m.header,
            Some(m.trailer),
            1200,
            false,
            Some(missing),
        )?;

        let ranges: Vec<(u32, u32)> = fetch.ranges.iter().copied().collect();
        assert_eq!(ranges, vec![(3, 3), (9, 1), (100, 500), (600, 100)]);
        Ok(())
    }

    // Only recipients fetch to read, others only to carry; an incomplete or absurdly long message is not
    // fetched at all.
    #[test]
    fn begin_checks_recipient_and_length() -> Result<(), Box<dyn std::error::Error>> {
        let m = message(3)?;
        let stranger = Identity::generate().peer_id();
        let bob = m.bob.peer_id();

        let not_for_us = Fetch::begin(
            is(stranger),
            bob,
            m.header.clone(),
            Some(m.trailer.clone()),
            3,
            false,
            None,
        );
        assert!(matches!(not_for_us, Err(FetchError::NotForUs)));
        let carried = Fetch::begin(
            is(stranger),
            bob,
            m.header.clone(),
            Some(m.trailer.clone()),
            3,
            true,
            None,
        )?;
        assert!(carried.carried);
        let incomplete = Fetch::begin(is(bob), bob, m.header.clone(), None, 3, false, None);
        assert!(matches!(incomplete, Err(FetchError::Incomplete)));
        let huge = Fetch::begin(
            is(bob),
            bob,
            m.header,
            Some(m.trailer),
            MAX_FRAMES + 1,
            false,
            None,
        );
        assert!(matches!(huge, Err(FetchError::TooLong(_))));
        Ok(())
    }
}
