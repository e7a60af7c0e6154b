//! Messages of the node-to-node request-response protocol
//! [`PROTOCOL`] and the gossipsub [`Presence`] payload, with bounded
//! postcard [`encode`]/[`decode`].
//!
//! The node frames each body with an unsigned-varint length prefix; this
//! module sees only the body. New variants may only be appended: postcard
//! numbers enum variants by position.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::envelope::{SealedFrame, SignedHeader, SignedTrailer};
use crate::ids::MessageId;
use crate::profile::SignedProfile;
use crate::receipt::SignedReceipt;

/// libp2p protocol name of the request-response protocol.
pub const PROTOCOL: &str = "/hark/msg/1";

/// Most frames a peer may ask for (and send) in one `FetchFrames`.
pub const MAX_FRAME_BATCH: u32 = 500;

/// Largest encoded request or response body.
pub const MAX_WIRE_BYTES: usize = 1 << 20;

/// What one peer asks another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Introduce ourselves; answered with the peer's own `Hello`.
    Hello(SignedProfile),
    /// "I have these messages for you"; answered with `Ack`.
    Offer {
        /// Ids the sender can serve.
        ids: Vec<MessageId>,
    },
    /// Ask for a message's header (and trailer, if recording has ended).
    FetchHeader {
        /// Which message.
        id: MessageId,
    },
    /// Ask for frames `start..start + max` (max <= [`MAX_FRAME_BATCH`]).
    FetchFrames {
        /// Which message.
        id: MessageId,
        /// First frame index.
        start: u32,
        /// Most frames wanted.
        max: u32,
    },
    /// Deliver a receipt to the message's sender; answered with `Ack`.
    Receipt(SignedReceipt),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to `Hello`.
    Hello(SignedProfile),
    /// Accepted (`Offer`, `Receipt`).
    Ack,
    /// Answer to `FetchHeader`.
    Header {
        /// The signed header.
        header: SignedHeader,
        /// The trailer once the sender finished the message.
        trailer: Option<SignedTrailer>,
        /// Frames the responder holds (contiguous from 0).
        frame_count: u32,
    },
    /// Answer to `FetchFrames`, in index order.
    Frames(Vec<SealedFrame>),
    /// The responder does not have that message.
    NotFound,
    /// The responder will not answer; see the reason.
    Refused(RefuseReason),
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefuseReason {
    /// The request or its answer would exceed the size limits.
    TooLarge,
    /// The request did not decode or broke a rule.
    Malformed,
    /// The requester may not have this (not a recipient, unknown peer).
    NotAllowed,
    /// Try again later.
    Busy,
}

/// Gossipsub presence announcement: who is on the LAN right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The announcing peer's current profile.
    pub profile: SignedProfile,
}

/// Why bytes could not be encoded or decoded. Retrying the same bytes gives
/// the same result; the peer sent something this version cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// More than [`MAX_WIRE_BYTES`]: refused before (decode) or after
    /// (encode) serialisation. Send fewer frames per batch.
    #[error("{len} bytes exceeds the {max}-byte wire limit")]
    TooLarge {
        /// Actual size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A complete value was followed by extra bytes (a framing bug or a
    /// newer peer appending fields).
    #[error("{extra} unexpected bytes after the message")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The bytes are not a valid postcard encoding of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// postcard-encodes `value`; refuses results over [`MAX_WIRE_BYTES`].
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    let bytes = postcard::to_allocvec(value).map_err(|e| WireError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_WIRE_BYTES {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: MAX_WIRE_BYTES,
        });
    }
    Ok(bytes)
}

/// Decodes a postcard body of at most [`MAX_WIRE_BYTES`] that holds
/// exactly one `T`.
///
/// Allocation is bounded by the input: postcard reads length prefixes
/// against the remaining bytes, and serde caps pre-allocation for
/// sequences, so a huge length field fails instead of allocating.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_WIRE_BYTES {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: MAX_WIRE_BYTES,
        });
    }
    decode_exact(bytes)
}

/// postcard decode that rejects trailing bytes (used for signed bodies,
/// so that one signature cannot cover two different-looking encodings).
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes { extra: rest.len() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{MAX_PACKET_BYTES, TAG_BYTES};

    // A full batch of maximum-size frames still fits the wire limit.
    #[test]
    fn full_frame_batch_fits() -> Result<(), WireError> {
        let frame = SealedFrame {
            index: u32::MAX,
            last: true,
            ciphertext: vec![0xaa; MAX_PACKET_BYTES + TAG_BYTES],
        };
        let batch = Response::Frames(vec![frame; MAX_FRAME_BATCH as usize]);
        let bytes = encode(&batch)?;
        assert!(bytes.len() <= MAX_WIRE_BYTES, "{} bytes", bytes.len());
        assert_eq!(decode::<Response>(&bytes)?, batch);
        Ok(())
    }

    // Over-size values are refused on both sides.
    #[test]
    fn size_limit_both_ways() {
        let big = Response::Frames(vec![
            SealedFrame {
                index: 0,
                last: false,
                ciphertext: vec![0; 4096],
            };
            300
        ]);
        assert!(matches!(encode(&big), Err(WireError::TooLarge { .. })));
        let raw = vec![0u8; MAX_WIRE_BYTES + 1];
        assert!(matches!(
            decode::<Response>(&raw),
            Err(WireError::TooLarge { .. })
        ));
    }

    // Trailing bytes after a valid request are an error.
    #[test]
    fn trailing_bytes_refused() -> Result<(), WireError> {
        let mut bytes = encode(&Request::FetchHeader {
            id: MessageId([1; 16]),
        })?;
        bytes.push(0);
        assert_eq!(
            decode::<Request>(&bytes),
            Err(WireError::TrailingBytes { extra: 1 })
        );
        Ok(())
    }

    // A length prefix claiming 2^32 ids fails fast without allocating it.
    #[test]
    fn huge_length_prefix_is_an_error() {
        // Variant 1 (Offer), then varint 0xffff_ffff as the Vec length.
        let bytes = [1u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            decode::<Request>(&bytes),
            Err(WireError::Malformed(_))
        ));
    }

    // The variant order is part of the protocol: pin the tags.
    #[test]
    fn variant_tags_are_stable() -> Result<(), WireError> {
        assert_eq!(encode(&Response::Ack)?, vec![1]);
        assert_eq!(encode(&Response::NotFound)?, vec![4]);
        assert_eq!(encode(&Response::Refused(RefuseReason::Busy))?, vec![5, 3]);
        Ok(())
    }
}
