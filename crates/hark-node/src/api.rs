//! The node's public data types: what clients (the `hark` command over the
//! control socket, the desktop shell over Tauri commands) see. All of them are
//! serialisable so both faces share one shape.

use serde::{Deserialize, Serialize};

/// Who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// Full libp2p peer id (base58).
    pub peer_id: String,
    /// The user's display name.
    pub display_name: String,
    /// Fingerprint two people can compare aloud.
    pub safety_number: String,
    /// Addresses the node listens on, with the `/p2p/<id>` suffix.
    pub listen_addrs: Vec<String>,
    /// Directory holding the key file and the store.
    pub data_dir: String,
    /// Sealed messages this node carries for others (not readable here).
    pub carrying: u64,
    /// Bytes of those messages' frames.
    pub carrying_bytes: u64,
}

/// A peer this node knows of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Full libp2p peer id (base58).
    pub peer_id: String,
    /// The display name from the peer's signed profile.
    pub display_name: String,
    /// The peer's safety number.
    pub safety_number: String,
    /// Whether a connection to the peer is open now.
    pub online: bool,
    /// Unix time in milliseconds of the last contact.
    pub last_seen_ms: u64,
}

/// A channel this node is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Channel id, 32 hex characters.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The invite code that lets others join (it carries the key).
    pub invite: String,
    /// Whether its live messages are kept quiet here.
    pub muted: bool,
    /// Peers known to be in it.
    pub members: Vec<String>,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by this node.
    Outgoing,
    /// Received from a peer.
    Incoming,
}

/// Where a message stands, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Outgoing, stored here; no recipient has it yet.
    Queued,
    /// Outgoing, at least one recipient has it, not all.
    Sent,
    /// Outgoing, every recipient acknowledged it.
    Delivered,
    /// Outgoing, every recipient played it.
    Heard,
    /// Incoming, frames still arriving.
    Receiving,
    /// Incoming, complete and stored.
    Received,
}

/// One line of the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    /// Message id, 32 hex characters.
    pub id: String,
    /// Outgoing or incoming.
    pub direction: Direction,
    /// Sender's peer id.
    pub from: String,
    /// Sender's display name, as known here.
    pub from_name: String,
    /// Recipients' peer ids, the sender left out.
    pub to: Vec<String>,
    /// Recipients' display names, as known here, in the order of `to`.
    pub to_names: Vec<String>,
    /// The channel's name for a channel message (while this node is in it).
    pub channel: Option<String>,
    /// The channel's id (32 hex characters) for a channel message, kept
    /// after leaving the channel.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Unix time in milliseconds at which the sender made it.
    pub created_at_ms: u64,
    /// Length of the speech in milliseconds.
    pub duration_ms: u64,
    /// Delivery state.
    pub state: MessageState,
}

/// Something that happened in the node, for live views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A peer connected (or its profile changed).
    PeerOnline {
        /// The peer.
        peer: PeerInfo,
    },
    /// The last connection to a peer closed.
    PeerOffline {
        /// Full peer id.
        peer_id: String,
    },
    /// A message was stored or changed state.
    Message {
        /// The message as it stands now.
        message: MessageSummary,
    },
    /// A channel changed: a new member was found.
    ChannelChanged {
        /// The channel as it stands now.
        channel: ChannelInfo,
    },
    /// An unfinished live message was cancelled by its talker and is gone.
    MessageRemoved {
        /// The message id.
        id: String,
    },
    /// Something went wrong in the background that the user should know
    /// (a message that could not be stored, a full disk).
    Problem {
        /// What kind of trouble.
        kind: ErrorKind,
        /// One line for people.
        message: String,
    },
}

/// Machine-readable kind of a failed request, for UIs and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input file could not be read or decoded.
    BadInput,
    /// No known peer matches the recipient given.
    UnknownRecipient,
    /// The recipient name matches several peers.
    AmbiguousRecipient,
    /// An invite code or channel name that does not work.
    BadInvite,
    /// A microphone or speaker could not be used (none, denied, lost).
    Device,
    /// No message with that id.
    NotFound,
    /// The request itself is malformed.
    BadRequest,
    /// The node is shutting down or gone.
    Unavailable,
    /// Storage failed; nothing was changed.
    Storage,
    /// Anything else; the message says what.
    Internal,
}

/// A failed request as clients see it: a kind to act on and a one-line text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What went wrong, machine-readable.
    pub kind: ErrorKind,
    /// One line for people.
    pub message: String,
}

impl Error {
    /// Makes an error of `kind` with a one-line text.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}
