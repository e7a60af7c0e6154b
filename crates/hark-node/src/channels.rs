//! Channels at the node: who is in which channel (learnt from member tags
//! exchanged when peers meet), and opening messages whatever their audience
//! (wrapped for us, or sealed under a channel key we hold).

use hark_proto::channel::{member_tag, Channel};
use hark_proto::envelope::{
    Audience, EnvelopeError, Header, Opener, SealedFrame, SignedHeader, SignedTrailer, Trailer,
};
use hark_store::ChannelRecord;
use libp2p::PeerId;

use crate::api::{self, ErrorKind};
use crate::handle::Shared;

/// Why a message could not be opened here.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("not a member of the message's channel")]
    NoChannel,
    #[error("store: {0}")]
    Store(#[from] hark_store::Error),
}

/// The channel a header is addressed to, if any.
pub(crate) fn channel_of(header: &Header) -> Option<[u8; 16]> {
    match header.audience {
        Audience::Channel { channel_id } => Some(channel_id),
        _ => None,
    }
}

/// Whether this node can read a message: a recipient of a direct one, a
/// member of a channel one's channel.
pub(crate) fn is_for_me(shared: &Shared, header: &Header) -> bool {
    match channel_of(header) {
        Some(id) => matches!(shared.store.channel(&id), Ok(Some(_))),
        None => header.recipients().contains(&shared.identity.peer_id()),
    }
}

/// An opener for a message's frames, however it is addressed.
pub(crate) fn opener(
    shared: &Shared,
    header: &SignedHeader,
) -> Result<(Opener, Header), OpenError> {
    let parsed = header.verify()?;
    match channel_of(&parsed) {
        Some(id) => {
            let record = shared.store.channel(&id)?.ok_or(OpenError::NoChannel)?;
            Ok(Opener::for_channel(header, &record.channel.key)?)
        }
        None => Ok(Opener::new(&shared.identity, header)?),
    }
}

/// Checks a whole message and opens every frame.
pub(crate) fn open_message(
    shared: &Shared,
    header: &SignedHeader,
    frames: &[SealedFrame],
    trailer: &SignedTrailer,
) -> Result<(Header, Trailer, Vec<Vec<u8>>), OpenError> {
    let (parsed, checked) = hark_proto::envelope::verify_message(header, frames, trailer)?;
    let (opener, _) = opener(shared, header)?;
    let packets = frames
        .iter()
        .map(|f| opener.open_frame(f))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((parsed, checked, packets))
}

/// Our member tags for every channel we are in, to show a peer.
pub(crate) fn my_tags(shared: &Shared) -> Vec<[u8; 32]> {
    let me = shared.identity.peer_id();
    let channels = shared.store.channels().unwrap_or_default();
    channels.iter().map(|c| c.channel.member_tag(&me)).collect()
}

/// Takes a peer's member tags: every channel of ours whose tag for that
/// peer is among them has the peer as a member.
pub(crate) fn learn_members(shared: &Shared, peer: &PeerId, tags: &[[u8; 32]]) {
    let channels = shared.store.channels().unwrap_or_default();
    for record in channels {
        if !tags.contains(&member_tag(&record.channel.key, peer)) {
            continue;
        }
        if let Ok(true) = shared.store.add_member(&record.channel.id, peer) {
            let channel = info(shared, &record);
            shared.emit(crate::api::Event::ChannelChanged { channel });
        }
    }
}

/// Finds one of our channels by hex id or by name (one leading `#`
/// ignored, letters compared without case). No match is an error of
/// kind `missing`; two channels of that name are ambiguous.
pub(crate) fn find(
    shared: &Shared,
    name: &str,
    missing: ErrorKind,
) -> Result<ChannelRecord, api::Error> {
    let wanted = name.trim();
    let wanted = wanted.strip_prefix('#').unwrap_or(wanted);
    let channels = shared.store.channels().map_err(crate::handle::storage)?;
    if let Some(record) = channels.iter().find(|c| c.channel.id_hex() == wanted) {
        return Ok(record.clone());
    }

    let mut matches: Vec<ChannelRecord> = channels
        .into_iter()
        .filter(|c| same_name(&c.channel.name, wanted))
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(api::Error::new(
            missing,
            format!("not in a channel called '{wanted}'"),
        )),
        n => {
            let ids: Vec<String> = matches.iter().map(|c| c.channel.id_hex()).collect();
            Err(api::Error::new(
                ErrorKind::AmbiguousRecipient,
                format!(
                    "{n} channels are called '{wanted}'; use one of their ids: {}",
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// Whether two names are the same for a person typing them: equal after
/// Unicode lower-casing (so `ÇAROL` finds `çarol`, not only ASCII).
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// The summary the API shows for a channel.
pub(crate) fn info(shared: &Shared, record: &ChannelRecord) -> crate::api::ChannelInfo {
    let members = shared.store.members(&record.channel.id).unwrap_or_default();
    crate::api::ChannelInfo {
        id: record.channel.id_hex(),
        name: record.channel.name.clone(),
        invite: record.channel.invite(),
        muted: record.muted,
        members: members.iter().map(|p| p.to_string()).collect(),
    }
}

/// Makes a channel record for a channel just created or joined.
pub(crate) fn record(channel: Channel) -> ChannelRecord {
    ChannelRecord {
        channel,
        muted: false,
        joined_at_ms: crate::outgoing::now_ms(),
    }
}
