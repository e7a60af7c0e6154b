//! Live messages: while someone talks, each sealed frame goes at once to
//! every recipient online over a stream of its own (`/hark/live/1`), and is
//! stored at both ends as it goes. When the talker lets go, the trailer
//! completes the message; a recipient that missed frames fetches just the
//! gaps, and one that was away gets the whole message the usual way.
//!
//! - [`send`]: [`LiveSender`], sealing, storing and fanning frames out to a
//!   writer task per recipient (late joiners get the backlog first);
//! - [`receive`]: accepting streams, checking and storing what arrives,
//!   handing frames to the [`crate::playout`] queue;
//! - this file: the stream protocol and record framing.
//!
//! Why streams and not gossipsub: gossipsub signs and ids every message and
//! sends it to every mesh peer, several times the 60-byte Opus payload per
//! frame; a stream per recipient costs the frame, its index and a length
//! byte, plus transport framing (see docs/benchmarks.md).

pub(crate) mod receive;
pub(crate) mod send;

use libp2p::StreamProtocol;

pub use send::LiveSender;

/// The live stream protocol.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new(hark_proto::wire::LIVE_PROTOCOL);
