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
    /// One round of set reconciliation (negentropy) over the messages and
    /// receipts the two peers share; answered with `Sync`.
    Sync {
        /// The initiator's negentropy message.
        round: Vec<u8>,
    },
    /// Hand over receipts the peer lacks; answered with `Ack`.
    Receipts(Vec<SignedReceipt>),
    /// Ask for receipts by their reconciliation keys; answered with
    /// `Receipts`.
    FetchReceipts {
        /// Keys found missing by reconciliation (at most
        /// [`MAX_RECEIPT_BATCH`]).
        keys: Vec<[u8; 32]>,
    },
    /// The channels we are in, as member tags bound to our peer id
    /// ([`crate::channel::member_tag`]); answered with `Channels`.
    Channels {
        /// Our tags.
        tags: Vec<[u8; 32]>,
    },
}

/// Most receipts in one `Receipts` or `FetchReceipts`.
pub const MAX_RECEIPT_BATCH: usize = 1000;

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
    /// Answer to `Sync`: the responder's negentropy message.
    Sync {
        /// The responder's negentropy message.
        round: Vec<u8>,
    },
    /// Answer to `FetchReceipts`.
    Receipts(Vec<SignedReceipt>),
    /// Answer to `Channels`: the responder's tags.
    Channels {
        /// The responder's tags.
        tags: Vec<[u8; 32]>,
    },
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

/// libp2p protocol name of live streams: a sender talking opens one to
/// each recipient online and writes [`LiveRecord`]s as it speaks.
pub const LIVE_PROTOCOL: &str = "/hark/live/1";

/// Largest encoded [`LiveRecord`]: a header with many wraps.
pub const MAX_LIVE_RECORD_BYTES: usize = 128 * 1024;

/// One record on a live stream: the header first, then frames as they are
/// sealed, then the trailer once the talker lets go. Each is framed by the
/// node with an unsigned-varint length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiveRecord {
    /// The message's signed header.
    Header(SignedHeader),
    /// One sealed frame.
    Frame(SealedFrame),
    /// The signed trailer: the message is complete.
    Trailer(SignedTrailer),
    /// The talker cancelled (Esc, or a tap too short to be meant): the
    /// message will never be finished; listeners stop playing it and
    /// drop what they stored of it. Only honoured from the message's own
    /// sender on a stream it opened, and only while the message is still
    /// unfinished.
    Cancelled,
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

    mod props {
        use std::sync::OnceLock;

        use libp2p_identity::PeerId;
        use proptest::prelude::*;

        use super::super::*;
        use crate::envelope::{Audience, Codec, Header, Trailer, Wrap};
        use crate::receipt::SignedReceipt;

        /// A few real PeerIds to draw from (PeerId has no Arbitrary).
        fn peers() -> &'static [PeerId] {
            static PEERS: OnceLock<Vec<PeerId>> = OnceLock::new();
            PEERS.get_or_init(|| (0..4).map(|_| PeerId::random()).collect())
        }

        fn arb_peer() -> impl Strategy<Value = PeerId> {
            (0..4usize).prop_map(|i| peers()[i])
        }

        fn arb_id() -> impl Strategy<Value = MessageId> {
            any::<[u8; 16]>().prop_map(MessageId)
        }

        fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(any::<u8>(), 0..max)
        }

        fn arb_profile() -> impl Strategy<Value = SignedProfile> {
            (arb_bytes(40), arb_bytes(80), arb_bytes(70)).prop_map(|(k, b, s)| SignedProfile {
                signing_key: k,
                body: b,
                signature: s,
            })
        }

        fn arb_frame() -> impl Strategy<Value = SealedFrame> {
            (any::<u32>(), any::<bool>(), arb_bytes(300)).prop_map(|(index, last, ciphertext)| {
                SealedFrame {
                    index,
                    last,
                    ciphertext,
                }
            })
        }

        fn arb_request() -> impl Strategy<Value = Request> {
            prop_oneof![
                arb_profile().prop_map(Request::Hello),
                prop::collection::vec(arb_id(), 0..20).prop_map(|ids| Request::Offer { ids }),
                arb_id().prop_map(|id| Request::FetchHeader { id }),
                (arb_id(), any::<u32>(), any::<u32>())
                    .prop_map(|(id, start, max)| Request::FetchFrames { id, start, max }),
                arb_receipt().prop_map(Request::Receipt),
                arb_bytes(200).prop_map(|round| Request::Sync { round }),
                prop::collection::vec(arb_receipt(), 0..5).prop_map(Request::Receipts),
                prop::collection::vec(any::<[u8; 32]>(), 0..5)
                    .prop_map(|keys| Request::FetchReceipts { keys }),
            ]
        }

        fn arb_receipt() -> impl Strategy<Value = SignedReceipt> {
            (arb_bytes(40), arb_bytes(80), arb_bytes(70)).prop_map(|(k, b, s)| SignedReceipt {
                signing_key: k,
                body: b,
                signature: s,
            })
        }

        fn arb_reason() -> impl Strategy<Value = RefuseReason> {
            prop_oneof![
                Just(RefuseReason::TooLarge),
                Just(RefuseReason::Malformed),
                Just(RefuseReason::NotAllowed),
                Just(RefuseReason::Busy),
            ]
        }

        fn arb_response() -> impl Strategy<Value = Response> {
            let header = (
                arb_bytes(300),
                arb_bytes(70),
                prop::option::of((arb_bytes(80), arb_bytes(70))),
                any::<u32>(),
            )
                .prop_map(|(body, signature, trailer, frame_count)| Response::Header {
                    header: SignedHeader { body, signature },
                    trailer: trailer.map(|(body, signature)| SignedTrailer { body, signature }),
                    frame_count,
                });
            prop_oneof![
                arb_profile().prop_map(Response::Hello),
                Just(Response::Ack),
                header,
                prop::collection::vec(arb_frame(), 0..10).prop_map(Response::Frames),
                Just(Response::NotFound),
                arb_reason().prop_map(Response::Refused),
                arb_bytes(200).prop_map(|round| Response::Sync { round }),
                prop::collection::vec(arb_receipt(), 0..5).prop_map(Response::Receipts),
            ]
        }

        fn arb_wrap() -> impl Strategy<Value = Wrap> {
            (arb_peer(), any::<[u8; 32]>(), arb_bytes(40), arb_bytes(60)).prop_map(
                |(recipient, recipient_key, encapped_key, wrapped_key)| Wrap {
                    recipient,
                    recipient_key,
                    encapped_key,
                    wrapped_key,
                },
            )
        }

        fn arb_header() -> impl Strategy<Value = Header> {
            let codec = (any::<u32>(), any::<u32>(), any::<u16>(), any::<u32>()).prop_map(
                |(sample_rate, frame_samples, pre_skip, bitrate)| Codec {
                    sample_rate,
                    frame_samples,
                    pre_skip,
                    bitrate,
                },
            );
            let audience = prop_oneof![
                prop::collection::vec(arb_wrap(), 0..5).prop_map(Audience::Direct),
                any::<[u8; 16]>().prop_map(|channel_id| Audience::Channel { channel_id }),
            ];
            (
                any::<u16>(),
                arb_id(),
                arb_peer(),
                arb_bytes(40),
                any::<u64>(),
                codec,
                audience,
            )
                .prop_map(
                    |(version, id, sender, sender_key, created_at_ms, codec, audience)| Header {
                        version,
                        id,
                        sender,
                        sender_key,
                        created_at_ms,
                        codec,
                        audience,
                    },
                )
        }

        fn arb_trailer() -> impl Strategy<Value = Trailer> {
            (arb_id(), any::<u32>(), any::<u64>(), any::<[u8; 32]>()).prop_map(
                |(id, frame_count, sample_count, frames_hash)| Trailer {
                    id,
                    frame_count,
                    sample_count,
                    frames_hash,
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            // Requests survive encode/decode unchanged.
            #[test]
            fn request_round_trip(req in arb_request()) {
                prop_assert_eq!(decode::<Request>(&encode(&req)?)?, req);
            }

            // Responses survive encode/decode unchanged.
            #[test]
            fn response_round_trip(resp in arb_response()) {
                prop_assert_eq!(decode::<Response>(&encode(&resp)?)?, resp);
            }

            // Headers (any field values) survive encode/decode unchanged.
            #[test]
            fn header_round_trip(header in arb_header()) {
                prop_assert_eq!(decode::<Header>(&encode(&header)?)?, header);
            }

            // Trailers survive encode/decode unchanged.
            #[test]
            fn trailer_round_trip(trailer in arb_trailer()) {
                prop_assert_eq!(decode::<Trailer>(&encode(&trailer)?)?, trailer);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            // Random bytes never panic any decoder; they only return errors.
            #[test]
            fn random_bytes_never_panic(bytes in arb_bytes(600)) {
                let _ = decode::<Request>(&bytes);
                let _ = decode::<Response>(&bytes);
                let _ = decode::<Presence>(&bytes);
                let _ = decode::<Header>(&bytes);
                let _ = decode::<Trailer>(&bytes);
                let _ = decode::<crate::receipt::Receipt>(&bytes);
                let _ = decode::<crate::profile::Profile>(&bytes);
            }

            // Corrupting one byte of a valid response decodes or errors, and
            // whatever decodes re-encodes without panicking.
            #[test]
            fn corrupted_valid_bytes_never_panic(
                resp in arb_response(),
                pick in any::<prop::sample::Index>(),
                value in any::<u8>(),
            ) {
                let mut bytes = encode(&resp)?;
                let at = pick.index(bytes.len());
                bytes[at] = value;
                if let Ok(decoded) = decode::<Response>(&bytes) {
                    prop_assert!(encode(&decoded).is_ok());
                }
            }
        }
    }
}
