//! Turning an audio file into a sealed, stored message.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hark_proto::envelope::{Codec, SealedFrame, Sealer, SignedHeader, SignedTrailer};
use hark_proto::identity::PublicIdentity;
use hark_proto::ids::MessageId;
use hark_store::{Direction, MessageRecord};
use libp2p::PeerId;

use crate::api::{self, ErrorKind};
use crate::handle::{storage, Shared};

/// A message sealed and ready to store.
pub(crate) struct Sealed {
    pub(crate) id: MessageId,
    pub(crate) header: SignedHeader,
    pub(crate) frames: Vec<SealedFrame>,
    pub(crate) trailer: SignedTrailer,
    /// Everyone but this node.
    pub(crate) recipients: Vec<PeerId>,
    pub(crate) sample_count: u64,
    pub(crate) created_at_ms: u64,
    pub(crate) channel: Option<[u8; 16]>,
}

/// Imports, encodes and seals `path` for `recipients` and this node (so the
/// sender can play and export its own message). Blocking: run it off the
/// async threads.
pub(crate) fn seal_file(
    shared: &Shared,
    target: &Target,
    path: &Path,
) -> Result<Sealed, api::Error> {
    let span = tracing::debug_span!("seal_file");
    let _guard = span.enter();

    let bitrate = shared.bitrate();
    let encoded = encode_file(path, bitrate)?;
    seal_encoded(shared, target, &encoded, bitrate)
}

/// Seals Opus packets made by `hark_audio::codec` (a file or a recording)
/// at `bitrate` as one message from this node. Blocking.
pub(crate) fn seal_encoded(
    shared: &Shared,
    target: &Target,
    encoded: &hark_audio::codec::Encoded,
    bitrate: u32,
) -> Result<Sealed, api::Error> {
    let codec = codec(encoded.pre_skip, bitrate);
    seal_packets(
        shared,
        target,
        codec,
        &encoded.packets,
        encoded.sample_count,
    )
}

/// The codec description of Hark's messages: 48 kHz, 20 ms frames.
pub(crate) fn codec(pre_skip: u16, bitrate: u32) -> Codec {
    Codec {
        sample_rate: hark_audio::SAMPLE_RATE,
        frame_samples: hark_audio::FRAME_SAMPLES as u32,
        pre_skip,
        bitrate,
    }
}

/// Whom a message is for: people (the key wrapped for each), or a channel
/// (sealed under its key; `members` are those known to be in it, who are
/// offered it).
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Direct(Vec<PublicIdentity>),
    Channel {
        record: hark_store::ChannelRecord,
        members: Vec<PeerId>,
    },
}

impl Target {
    /// A fresh sealer for this target, and the peers to deliver to (this
    /// node left out).
    pub(crate) fn sealer(
        &self,
        shared: &Shared,
        codec: Codec,
        created_at_ms: u64,
    ) -> Result<(Sealer, SignedHeader, Vec<PeerId>), api::Error> {
        let internal =
            |e: &dyn std::fmt::Display| api::Error::new(ErrorKind::Internal, e.to_string());
        let me = shared.identity.public();
        match self {
            Target::Direct(recipients) => {
                let mut audience: Vec<PublicIdentity> = vec![me.clone()];
                let others = recipients.iter().filter(|r| r.peer_id != me.peer_id);
                audience.extend(others.cloned());
                let (sealer, header) =
                    Sealer::new(&shared.identity, &audience, codec, created_at_ms)
                        .map_err(|e| internal(&e))?;
                Ok((
                    sealer,
                    header,
                    audience[1..].iter().map(|p| p.peer_id).collect(),
                ))
            }
            Target::Channel { record, members } => {
                let channel = &record.channel;
                let (sealer, header) = Sealer::for_channel(
                    &shared.identity,
                    channel.id,
                    &channel.key,
                    codec,
                    created_at_ms,
                )
                .map_err(|e| internal(&e))?;
                let others = members
                    .iter()
                    .filter(|p| **p != me.peer_id)
                    .copied()
                    .collect();
                Ok((sealer, header, others))
            }
        }
    }

    /// The channel id of a channel target.
    pub(crate) fn channel_id(&self) -> Option<[u8; 16]> {
        match self {
            Target::Channel { record, .. } => Some(record.channel.id),
            Target::Direct(_) => None,
        }
    }
}

/// Imports and encodes `path`. Blocking.
pub(crate) fn encode_file(
    path: &Path,
    bitrate: u32,
) -> Result<hark_audio::codec::Encoded, api::Error> {
    let bad_input = |e: &dyn std::fmt::Display| {
        api::Error::new(ErrorKind::BadInput, format!("{}: {e}", path.display()))
    };
    let imported = hark_audio::import::read_file(path).map_err(|e| bad_input(&e))?;
    // A damaged file (cut short, a bad page) could be sent in part, but the
    // sender would not know what the recipient hears: refuse it instead.
    if let Some(warning) = imported.warnings.first() {
        return Err(bad_input(&format!("damaged audio file: {warning}")));
    }
    let encoded =
        hark_audio::codec::encode_pcm(&imported.pcm, bitrate).map_err(|e| bad_input(&e))?;
    if encoded.packets.is_empty() {
        return Err(bad_input(&"the file holds no audio"));
    }
    Ok(encoded)
}

/// Seals Opus packets as one message from this node.
pub(crate) fn seal_packets(
    shared: &Shared,
    target: &Target,
    codec: Codec,
    packets: &[Vec<u8>],
    sample_count: u64,
) -> Result<Sealed, api::Error> {
    let internal = |e: &dyn std::fmt::Display| api::Error::new(ErrorKind::Internal, e.to_string());
    let created_at_ms = now_ms();
    let (mut sealer, header, recipients) = target.sealer(shared, codec, created_at_ms)?;
    let last = packets.len().saturating_sub(1);
    let frames = packets
        .iter()
        .enumerate()
        .map(|(i, p)| sealer.seal_frame(p, i == last))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal(&e))?;

    let id = sealer.id();
    let trailer = sealer.finish(sample_count).map_err(|e| internal(&e))?;
    Ok(Sealed {
        id,
        header,
        frames,
        trailer,
        recipients,
        sample_count,
        created_at_ms,
        channel: target.channel_id(),
    })
}

/// Stores a sealed outgoing message, pending for every recipient, and
/// flushes it to disk before returning its id.
pub(crate) async fn store(shared: &Shared, sealed: &Sealed) -> Result<MessageId, api::Error> {
    let me = shared.identity.peer_id();
    let record = MessageRecord {
        header: sealed.header.clone(),
        trailer: Some(sealed.trailer.clone()),
        direction: Direction::Outgoing,
        sender: me,
        recipients: std::iter::once(me)
            .chain(sealed.recipients.iter().copied())
            .collect(),
        created_at_ms: sealed.created_at_ms,
        stored_at_ms: now_ms(),
        frame_count: sealed.frames.len() as u32,
        sample_count: sealed.sample_count,
        bytes: sealed
            .frames
            .iter()
            .map(|f| f.ciphertext.len() as u64)
            .sum(),
        dropped: false,
        channel: sealed.channel,
    };

    let store = &shared.store;
    store
        .insert_message(&sealed.id, &record, &sealed.frames, &sealed.recipients)
        .map_err(storage)?;
    store.flush().await.map_err(storage)?;
    tracing::debug!(msg = %sealed.id, frames = sealed.frames.len(), "message stored");
    Ok(sealed.id)
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
