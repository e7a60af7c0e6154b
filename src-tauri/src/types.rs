//! What crosses into the window, with `specta::Type` so the TypeScript
//! bindings are generated from these very definitions.
//!
//! They mirror `hark_node::api`, whose types cannot carry a foreign derive,
//! and they differ in one way: times and durations are `f64` milliseconds,
//! since JavaScript numbers hold integers exactly only up to 2^53 and
//! specta refuses `u64`. specta also types every float as `number | null`
//! (serde writes NaN as null); these are never NaN, so they are declared
//! to specta with `#[specta(type = i32)]`, which TypeScript sees as a
//! plain `number`. Each `From` destructures the node's type without
//! `..`, so a field added there fails to compile here until it is mirrored.

use hark_node::api;
use serde::{Deserialize, Serialize};
use specta::Type;

/// Who this node is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Me {
    /// Full libp2p peer id.
    pub peer_id: String,
    /// The user's display name.
    pub display_name: String,
    /// Fingerprint two people can compare aloud.
    pub safety_number: String,
    /// Addresses the node listens on.
    pub listen_addrs: Vec<String>,
    /// Where the key, the store and the logs live.
    pub data_dir: String,
    /// Sealed messages this node carries for others (not readable here).
    #[specta(type = i32)]
    pub carrying: f64,
    /// Bytes of those messages' frames.
    #[specta(type = i32)]
    pub carrying_bytes: f64,
}

impl From<api::WhoAmI> for Me {
    fn from(who: api::WhoAmI) -> Me {
        let api::WhoAmI {
            peer_id,
            display_name,
            safety_number,
            listen_addrs,
            data_dir,
            carrying,
            carrying_bytes,
        } = who;
        Me {
            peer_id,
            display_name,
            safety_number,
            listen_addrs,
            data_dir,
            carrying: carrying as f64,
            carrying_bytes: carrying_bytes as f64,
        }
    }
}

/// A peer this node knows of, online or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Peer {
    /// Full libp2p peer id.
    pub peer_id: String,
    /// The name from the peer's signed profile.
    pub display_name: String,
    /// The peer's safety number.
    pub safety_number: String,
    /// Whether a connection is open now.
    pub online: bool,
    /// Unix time in milliseconds of the last contact.
    #[specta(type = i32)]
    pub last_seen_ms: f64,
}

impl From<api::PeerInfo> for Peer {
    fn from(peer: api::PeerInfo) -> Peer {
        let api::PeerInfo {
            peer_id,
            display_name,
            safety_number,
            online,
            last_seen_ms,
        } = peer;
        Peer {
            peer_id,
            display_name,
            safety_number,
            online,
            last_seen_ms: last_seen_ms as f64,
        }
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by this node.
    Outgoing,
    /// Received from a peer.
    Incoming,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Outgoing, stored here, no recipient has it yet.
    Queued,
    /// Outgoing, some recipients have it.
    Sent,
    /// Outgoing, every recipient acknowledged it.
    Delivered,
    /// Outgoing, every recipient played it.
    Heard,
    /// Incoming, still arriving.
    Receiving,
    /// Incoming, complete.
    Received,
}

/// One voice message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Message {
    /// Message id, 32 hex characters.
    pub id: String,
    /// Outgoing or incoming.
    pub direction: Direction,
    /// Sender's peer id.
    pub from: String,
    /// Sender's display name as known here.
    pub from_name: String,
    /// Recipients' peer ids, the sender left out.
    pub to: Vec<String>,
    /// Recipients' names, in the order of `to`.
    pub to_names: Vec<String>,
    /// The channel's name for a channel (group) message.
    pub channel: Option<String>,
    /// The channel's id for a channel message (kept after leaving it).
    pub channel_id: Option<String>,
    /// Unix time in milliseconds at which the sender made it.
    #[specta(type = i32)]
    pub created_at_ms: f64,
    /// Length of the speech in milliseconds.
    #[specta(type = i32)]
    pub duration_ms: f64,
    /// Delivery state.
    pub state: MessageState,
}

impl From<api::MessageSummary> for Message {
    fn from(m: api::MessageSummary) -> Message {
        let api::MessageSummary {
            id,
            direction,
            from,
            from_name,
            to,
            to_names,
            channel,
            channel_id,
            created_at_ms,
            duration_ms,
            state,
        } = m;
        Message {
            id,
            direction: match direction {
                api::Direction::Outgoing => Direction::Outgoing,
                api::Direction::Incoming => Direction::Incoming,
            },
            from,
            from_name,
            to,
            to_names,
            channel,
            channel_id,
            created_at_ms: created_at_ms as f64,
            duration_ms: duration_ms as f64,
            state: state.into(),
        }
    }
}

impl From<api::MessageState> for MessageState {
    fn from(state: api::MessageState) -> MessageState {
        match state {
            api::MessageState::Queued => MessageState::Queued,
            api::MessageState::Sent => MessageState::Sent,
            api::MessageState::Delivered => MessageState::Delivered,
            api::MessageState::Heard => MessageState::Heard,
            api::MessageState::Receiving => MessageState::Receiving,
            api::MessageState::Received => MessageState::Received,
        }
    }
}

/// A channel this node is in (`api::ChannelInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ChannelInfo {
    /// Channel id, 32 hex characters.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The invite code that lets others join (it carries the key).
    pub invite: String,
    /// Whether its live messages are kept quiet here.
    pub muted: bool,
    /// Peer ids of the members known here.
    pub members: Vec<String>,
}

impl From<api::ChannelInfo> for ChannelInfo {
    fn from(c: api::ChannelInfo) -> ChannelInfo {
        let api::ChannelInfo {
            id,
            name,
            invite,
            muted,
            members,
        } = c;
        ChannelInfo {
            id,
            name,
            invite,
            muted,
            members,
        }
    }
}

/// A live change in the node (`api::Event`), tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    /// A peer connected or changed its profile.
    PeerOnline {
        /// The peer.
        peer: Peer,
    },
    /// The last connection to a peer closed.
    PeerOffline {
        /// Its peer id.
        peer_id: String,
    },
    /// A message was stored or changed state.
    Message {
        /// The message as it stands now.
        message: Message,
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
    /// Something went wrong in the background (a message that could not
    /// be stored, a full disk).
    Problem {
        /// What kind of trouble.
        kind: ErrorKind,
        /// One line for people.
        message: String,
    },
}

impl From<api::Event> for NodeEvent {
    fn from(event: api::Event) -> NodeEvent {
        match event {
            api::Event::PeerOnline { peer } => NodeEvent::PeerOnline { peer: peer.into() },
            api::Event::PeerOffline { peer_id } => NodeEvent::PeerOffline { peer_id },
            api::Event::Message { message } => NodeEvent::Message {
                message: message.into(),
            },
            api::Event::ChannelChanged { channel } => NodeEvent::ChannelChanged {
                channel: channel.into(),
            },
            api::Event::MessageRemoved { id } => NodeEvent::MessageRemoved { id },
            api::Event::Problem { kind, message } => NodeEvent::Problem {
                kind: ApiError::from(api::Error::new(kind, "")).kind,
                message,
            },
        }
    }
}

/// Sent when the window missed node events and must reload its lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct Resync;

/// A short note for the user that is not a reply to a command: the hotkey
/// could not be registered, a recording from the hotkey failed or was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct Notice {
    /// Whether it reports a failure.
    pub error: bool,
    /// One line for people.
    pub text: String,
}

/// Sent when the settings changed outside the settings screen (the tray's
/// mute item): the window reloads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct SettingsChanged;

/// Machine-readable kind of a failed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input (a file, a recording) could not be read or was empty.
    BadInput,
    /// No known peer matches the recipient.
    UnknownRecipient,
    /// Several peers have that name.
    AmbiguousRecipient,
    /// An invite code or channel name that does not work.
    BadInvite,
    /// No such message.
    NotFound,
    /// The request itself is malformed.
    BadRequest,
    /// The node is shutting down or gone.
    Unavailable,
    /// Storage failed; nothing changed.
    Storage,
    /// No usable sound device, or it failed.
    Device,
    /// Anything else.
    Internal,
}

/// A failed command as the window receives it (`api::Error` plus the
/// shell's own kinds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What went wrong, machine-readable.
    pub kind: ErrorKind,
    /// One line for people.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with a one-line text.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }
}

impl From<api::Error> for ApiError {
    fn from(e: api::Error) -> ApiError {
        let kind = match e.kind {
            api::ErrorKind::BadInput => ErrorKind::BadInput,
            api::ErrorKind::UnknownRecipient => ErrorKind::UnknownRecipient,
            api::ErrorKind::AmbiguousRecipient => ErrorKind::AmbiguousRecipient,
            api::ErrorKind::BadInvite => ErrorKind::BadInvite,
            api::ErrorKind::Device => ErrorKind::Device,
            api::ErrorKind::NotFound => ErrorKind::NotFound,
            api::ErrorKind::BadRequest => ErrorKind::BadRequest,
            api::ErrorKind::Unavailable => ErrorKind::Unavailable,
            api::ErrorKind::Storage => ErrorKind::Storage,
            // `api::ErrorKind` is non-exhaustive: a kind added there reads
            // as internal here until it is mirrored.
            _ => ErrorKind::Internal,
        };
        ApiError::new(kind, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The node's error kinds keep their meaning and text on the way to the window.
    #[test]
    fn node_errors_keep_kind_and_text() -> Result<(), serde_json::Error> {
        let e: ApiError = api::Error::new(api::ErrorKind::UnknownRecipient, "no bob").into();
        let json = serde_json::to_value(&e)?;
        assert_eq!(json["kind"], "unknown_recipient");
        assert_eq!(json["message"], "no bob");
        Ok(())
    }

    // Every kind the node has today reaches the window under the same
    // name, none of them as `internal` by accident.
    #[test]
    fn every_node_kind_is_mirrored() -> Result<(), serde_json::Error> {
        use api::ErrorKind as K;
        let kinds = [
            K::BadInput,
            K::UnknownRecipient,
            K::AmbiguousRecipient,
            K::BadInvite,
            K::Device,
            K::NotFound,
            K::BadRequest,
            K::Unavailable,
            K::Storage,
            K::Internal,
        ];
        for kind in kinds {
            let node = serde_json::to_value(kind)?;
            let shell: ApiError = api::Error::new(kind, "x").into();
            assert_eq!(serde_json::to_value(shell.kind)?, node, "{kind:?}");
        }
        Ok(())
    }

    // Events keep the node's `type` tag and field names.
    #[test]
    fn events_are_tagged_like_the_node() -> Result<(), serde_json::Error> {
        let event: NodeEvent = api::Event::PeerOffline {
            peer_id: "p".into(),
        }
        .into();
        let json = serde_json::to_value(&event)?;
        assert_eq!(
            json,
            serde_json::json!({"type": "peer_offline", "peer_id": "p"})
        );
        Ok(())
    }
}
