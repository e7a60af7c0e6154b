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
}

/// Delivery of one outgoing message to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// The recipient has not acknowledged it yet.
    Pending,
    /// The recipient acknowledged it at this time (its clock, Unix ms).
    Delivered {
        /// When, by the recipient's clock.
        at_ms: u64,
    },
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
