//! The records the store keeps, and how they are encoded (postcard).

use hark_proto::envelope::{SignedHeader, SignedTrailer};
use hark_proto::profile::SignedProfile;
use libp2p_identity::PeerId;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::Error;

/// Which way a stored message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Made and sealed here.
    Outgoing,
    /// Received from a peer.
    Incoming,
    /// Mail this node carries for others: sealed, unreadable here, handed
    /// only to its recipients.
    Carried,
}

/// A message as stored: its sealed header and trailer plus what the node
/// learnt while verifying them, so listings need no crypto.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The signed header, exactly as the sender made it.
    pub header: SignedHeader,
    /// The signed trailer; `None` while frames are still arriving.
    pub trailer: Option<SignedTrailer>,
    /// Outgoing or incoming.
    pub direction: Direction,
    /// The sender.
    pub sender: PeerId,
    /// Everyone the content key was wrapped for.
    pub recipients: Vec<PeerId>,
    /// The sender's clock when it made the message, in Unix milliseconds.
    pub created_at_ms: u64,
    /// This node's clock when it stored the message, in Unix milliseconds.
    pub stored_at_ms: u64,
    /// Number of sealed frames stored.
    pub frame_count: u32,
    /// True length of the speech in samples at 48 kHz.
    pub sample_count: u64,
    /// Bytes of sealed frames stored, for the carried-mail quota.
    pub bytes: u64,
    /// Carried mail whose frames were dropped (every recipient has it, or
    /// it expired): the record stays as a tombstone so the same message is
    /// not carried again, and its receipts can still travel.
    pub dropped: bool,
    /// The channel a channel message was sent in (its audience); `None`
    /// for a direct message.
    pub channel: Option<[u8; 16]>,
}

/// A channel this node is a member of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// The channel (id, name, key).
    pub channel: hark_proto::channel::Channel,
    /// Whether its live messages are kept quiet.
    pub muted: bool,
    /// When this node joined, Unix ms.
    pub joined_at_ms: u64,
}

/// Delivery of one outgoing message to one recipient. The variants are in
/// the order a message goes through them; a state never moves back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Delivery {
    /// The recipient has not acknowledged it yet.
    Pending,
    /// The recipient stored it, at this time (its clock, Unix ms).
    Delivered {
        /// When, by the recipient's clock.
        at_ms: u64,
    },
    /// The recipient played it, at this time (its clock, Unix ms).
    Heard {
        /// When, by the recipient's clock.
        at_ms: u64,
    },
}

impl Delivery {
    /// How far along: 0 pending, 1 delivered, 2 heard.
    pub fn rank(&self) -> u8 {
        match self {
            Delivery::Pending => 0,
            Delivery::Delivered { .. } => 1,
            Delivery::Heard { .. } => 2,
        }
    }
}

/// A verified receipt as kept here: what it says, and the signed original
/// to pass on unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReceipt {
    /// The reconciliation key (`hark_proto::wire::receipt_key`).
    pub key: [u8; 32],
    /// The message it acknowledges.
    pub id: hark_proto::ids::MessageId,
    /// Who signed it.
    pub recipient: PeerId,
    /// Stored, or played.
    pub heard: bool,
    /// The recipient's clock when it signed, Unix ms.
    pub at_ms: u64,
    /// The signed receipt.
    pub signed: hark_proto::receipt::SignedReceipt,
}

/// A peer this node has met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The peer's newest signed profile.
    pub profile: SignedProfile,
    /// Last contact by this node's clock, in Unix milliseconds.
    pub last_seen_ms: u64,
}

pub(crate) fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|source| Error::Encode { what, source })
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|source| Error::Corrupt { what, source })
}
