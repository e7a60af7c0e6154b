//! The encrypted voice message envelope: a signed [`Header`] (who sent it,
//! codec, and the content key wrapped for each recipient), a sequence of
//! [`SealedFrame`]s (one Opus packet each, XChaCha20Poly1305 under the
//! content key) and a signed [`Trailer`] that fixes the frame count and a
//! hash over all frames.
//!
//! docs/envelope.md describes every byte and what each check defends
//! against. Submodules: `seal` ([`Sealer`]), `open` ([`Opener`],
//! [`open_message`]), `check` ([`verify_message`] and header checks).

mod check;
mod open;
mod seal;
#[cfg(test)]
mod tests;

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::ids::MessageId;

pub use check::verify_message;
pub use open::{open_message, Opener};
pub use seal::Sealer;

/// Envelope format version written into every header.
pub const FORMAT_VERSION: u16 = 1;

/// Signature context of header bodies.
pub const HEADER_CONTEXT: &str = "hark/v1/header";

/// Signature context of trailers (signed together with the header hash).
pub const TRAILER_CONTEXT: &str = "hark/v1/trailer";

/// HPKE `info` prefix for wrapping the content key; the message id follows.
pub const WRAP_INFO: &[u8] = b"hark/v1/content-key";

/// Most recipients one Direct message may have.
pub const MAX_RECIPIENTS: usize = 256;

/// Largest Opus packet a frame may carry. Opus itself never exceeds 1275
/// bytes per 20 ms frame; this leaves room for longer frames while a full
/// batch of [`MAX_FRAME_BATCH`](crate::wire::MAX_FRAME_BATCH) frames still
/// fits one wire message.
pub const MAX_PACKET_BYTES: usize = 2000;

/// Most frames one message may have: thirty minutes of 20 ms frames (the
/// longest recording or file Hark takes) plus one second, because the
/// encoder's look-ahead and the padded last frame add a frame or two to
/// a recording of exactly thirty minutes. Senders and receivers share this
/// one number so that nothing sent is refused on arrival.
pub const MAX_FRAMES: u32 = (30 * 60 + 1) * 50;

/// Largest header body accepted (256 wraps take about 40 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Poly1305 tag length added to every frame.
pub const TAG_BYTES: usize = 16;

/// blake3 derive_key contexts for the hashes below.
const HEADER_HASH_CONTEXT: &str = "hark v1 header hash";
const FRAME_HASH_CONTEXT: &str = "hark v1 frame hash";
const FRAMES_HASH_CONTEXT: &str = "hark v1 frames hash";
const CHANNEL_KEY_CONTEXT: &str = "hark v1 channel content key";

/// How the audio was encoded, so any recipient can set up its decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Codec {
    /// Decoder output rate in Hz; Hark uses 48000.
    pub sample_rate: u32,
    /// Samples per channel in each frame at 48 kHz; 960 = 20 ms.
    pub frame_samples: u32,
    /// Encoder look-ahead to drop from the decoder's start, in samples.
    pub pre_skip: u16,
    /// Target bitrate in bits per second (informational).
    pub bitrate: u32,
}

/// The content key wrapped (HPKE base mode) for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Wrap {
    /// Who this wrap is for.
    #[serde(with = "crate::ids::peer_serde")]
    pub recipient: PeerId,
    /// The recipient's X25519 key it was wrapped to (lets recipients rotate
    /// keys and still find the right secret).
    pub recipient_key: [u8; 32],
    /// HPKE encapsulated key (32 bytes).
    pub encapped_key: Vec<u8>,
    /// HPKE ciphertext of the 32-byte content key (48 bytes with the tag).
    pub wrapped_key: Vec<u8>,
}

/// Who can read a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Audience {
    /// The listed recipients, each with its own wrap of the content key.
    Direct(Vec<Wrap>),
    /// Everyone holding the channel's key; the content key is derived from
    /// it (see docs/envelope.md); the key travels in invite codes
    /// ([`crate::channel`]).
    Channel {
        /// Which channel.
        channel_id: [u8; 16],
    },
}

/// Everything a recipient needs before the first frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`] when written by this code.
    pub version: u16,
    /// Message id, random per message.
    pub id: MessageId,
    /// Sender's PeerId; must be derived from `sender_key`.
    #[serde(with = "crate::ids::peer_serde")]
    pub sender: PeerId,
    /// Protobuf-encoded libp2p public key that signs header and trailer.
    pub sender_key: Vec<u8>,
    /// Sender's clock when recording started (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Encoder settings.
    pub codec: Codec,
    /// Recipients or channel.
    pub audience: Audience,
}

impl Header {
    /// PeerIds this message is addressed to, in wrap order, without
    /// repeats. Empty for channel messages.
    pub fn recipients(&self) -> Vec<PeerId> {
        let Audience::Direct(wraps) = &self.audience else {
            return Vec::new();
        };
        let mut peers: Vec<PeerId> = Vec::with_capacity(wraps.len());
        for wrap in wraps {
            if !peers.contains(&wrap.recipient) {
                peers.push(wrap.recipient);
            }
        }
        peers
    }
}

/// A [`Header`] as sent: postcard body and the sender's ed25519 signature
/// over `"hark/v1/header" || 0x00 || body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedHeader {
    /// postcard-encoded [`Header`].
    pub body: Vec<u8>,
    /// Signature by `Header::sender_key`.
    pub signature: Vec<u8>,
}

impl SignedHeader {
    /// Checks version, sender binding, signature and structure; returns the
    /// decoded header.
    pub fn verify(&self) -> Result<Header, EnvelopeError> {
        check::verify_header(self)
    }

    /// Identifies this exact signed header: blake3 derive_key
    /// ("hark v1 header hash") over `len(body) as u64 LE || body ||
    /// signature`. Frames and the trailer are bound to it.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_derive_key(HEADER_HASH_CONTEXT);
        hasher.update(&(self.body.len() as u64).to_le_bytes());
        hasher.update(&self.body);
        hasher.update(&self.signature);
        *hasher.finalize().as_bytes()
    }
}

/// One Opus packet, encrypted and authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SealedFrame {
    /// Position in the message, from 0, without gaps.
    pub index: u32,
    /// True only on the final frame.
    pub last: bool,
    /// XChaCha20Poly1305 ciphertext with the 16-byte tag appended.
    pub ciphertext: Vec<u8>,
}

impl SealedFrame {
    /// blake3 derive_key ("hark v1 frame hash") over `index as u32 LE ||
    /// last as u8 || ciphertext`; the trailer's `frames_hash` chains these.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_derive_key(FRAME_HASH_CONTEXT);
        hasher.update(&self.index.to_le_bytes());
        hasher.update(&[u8::from(self.last)]);
        hasher.update(&self.ciphertext);
        *hasher.finalize().as_bytes()
    }
}

/// Fixes the end of a message once recording stops.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trailer {
    /// Same id as the header.
    pub id: MessageId,
    /// Number of frames.
    pub frame_count: u32,
    /// Real audio length in samples at 48 kHz (the last frame is padded).
    pub sample_count: u64,
    /// blake3 derive_key ("hark v1 frames hash") over each frame's
    /// [`SealedFrame::hash`], in order.
    pub frames_hash: [u8; 32],
}

/// A [`Trailer`] as sent: postcard body and the sender's signature over
/// `"hark/v1/trailer" || 0x00 || header hash || body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedTrailer {
    /// postcard-encoded [`Trailer`].
    pub body: Vec<u8>,
    /// Signature by the header's sender, bound to the header hash.
    pub signature: Vec<u8>,
}

impl SignedTrailer {
    /// Checks this trailer against its (verified here too) header: signed
    /// by the header's sender for exactly that header, same message id,
    /// plausible sample count. Frames are not checked; see
    /// [`verify_message`].
    pub fn verify(&self, header: &SignedHeader) -> Result<(Header, Trailer), EnvelopeError> {
        let decoded = header.verify()?;
        let trailer = check::verify_trailer(self, &decoded, &header.hash())?;
        Ok((decoded, trailer))
    }
}

/// Hash chain over frame hashes, as stored in [`Trailer::frames_hash`].
pub(crate) fn frames_hasher() -> blake3::Hasher {
    blake3::Hasher::new_derive_key(FRAMES_HASH_CONTEXT)
}

/// XChaCha20 nonce of a frame: message id || index LE || 4 zero bytes.
/// Unique per (content key, frame) because each message has its own key
/// and id, and indices never repeat within a message.
pub(crate) fn frame_nonce(id: &MessageId, index: u32) -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(&id.0);
    nonce[16..20].copy_from_slice(&index.to_le_bytes());
    nonce
}

/// Frame AAD: header hash || index LE || last flag.
pub(crate) fn frame_aad(header_hash: &[u8; 32], index: u32, last: bool) -> [u8; 37] {
    let mut aad = [0u8; 37];
    aad[..32].copy_from_slice(header_hash);
    aad[32..36].copy_from_slice(&index.to_le_bytes());
    aad[36] = u8::from(last);
    aad
}

/// HPKE info and AAD for the wrap of message `id` by `sender`.
pub(crate) fn wrap_context(sender: &PeerId, id: &MessageId) -> (Vec<u8>, Vec<u8>) {
    let info = [WRAP_INFO, &id.0[..]].concat();
    let aad = [sender.to_bytes().as_slice(), &id.0[..]].concat();
    (info, aad)
}

/// Content key of a channel message: blake3 derive_key ("hark v1 channel
/// content key") over channel key || channel id || message id.
pub(crate) fn channel_content_key(
    channel_key: &[u8; 32],
    channel_id: &[u8; 16],
    id: &MessageId,
) -> zeroize::Zeroizing<[u8; 32]> {
    let mut hasher = blake3::Hasher::new_derive_key(CHANNEL_KEY_CONTEXT);
    hasher.update(channel_key);
    hasher.update(channel_id);
    hasher.update(&id.0);
    zeroize::Zeroizing::new(*hasher.finalize().as_bytes())
}

/// Why sealing, checking or opening a message (or a receipt) failed.
///
/// Unless a variant says otherwise, retrying with the same bytes gives the
/// same error: the data is forged, damaged, or not meant for us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A header, trailer or receipt signature does not verify: forged or
    /// damaged in transit. Fetching it again from another peer may help.
    #[error("signature does not verify")]
    BadSignature,
    /// The PeerId named in a signed structure (header sender, receipt
    /// recipient) is not the PeerId of the key that signed it.
    #[error("named peer does not match the signing key")]
    SignerMismatch,
    /// The header has a format version this code cannot read; upgrading
    /// Hark may help.
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u16),
    /// No wrap in the header names our PeerId and current agreement key.
    /// Normal for messages we only carry for others.
    #[error("not a recipient of this message")]
    NotARecipient,
    /// Our wrap did not decrypt (HPKE open failed): damaged or made for
    /// another key. The sender would have to re-send.
    #[error("could not unwrap the content key")]
    Unwrap,
    /// A frame failed authentication: damaged, from another message or
    /// position, or its last flag was changed. Refetching it may help.
    #[error("frame {index} failed authentication")]
    FrameAuth {
        /// The index the frame claims.
        index: u32,
    },
    /// Frames are not numbered 0..n in order, or a frame before the end
    /// claims to be last (dropped, duplicated or reordered frames).
    #[error("frames are missing, repeated or out of order")]
    FrameOrder,
    /// The message ends before its last frame (or has fewer frames than
    /// the trailer says). Fetching the rest may help.
    #[error("message is truncated")]
    Truncated,
    /// The frames do not hash to the trailer's `frames_hash`: some frame
    /// was altered or swapped. Refetching from another peer may help.
    #[error("frames do not match the trailer's hash")]
    HashMismatch,
    /// The trailer belongs to a different message id than the header.
    #[error("trailer and header have different message ids")]
    IdMismatch,
    /// The trailer claims more samples than the frames can hold.
    #[error("sample count {sample_count} exceeds the {max} samples the frames hold")]
    SampleCount {
        /// Samples claimed.
        sample_count: u64,
        /// frame_count * frame_samples.
        max: u64,
    },
    /// Bytes do not decode, or decode to values outside the format's
    /// limits (codec, key lengths, duplicate wraps, sizes).
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// A message would have more than [`MAX_FRAMES`] frames.
    #[error("message is longer than {max} frames")]
    TooManyFrames {
        /// The limit.
        max: u32,
    },
    /// `seal_frame` was called after the last frame was sealed.
    #[error("message already has its last frame")]
    AlreadyFinished,
    /// `finish` was called before a frame with `last = true` was sealed.
    #[error("message has no last frame yet")]
    Unfinished,
    /// An Opus packet is longer than [`MAX_PACKET_BYTES`].
    #[error("packet of {len} bytes exceeds the {max}-byte limit")]
    PacketTooLarge {
        /// Packet length.
        len: usize,
        /// [`MAX_PACKET_BYTES`].
        max: usize,
    },
    /// A Direct message needs 1..=[`MAX_RECIPIENTS`] recipients.
    #[error("{0} recipients; a message needs 1 to 256")]
    RecipientCount(usize),
    /// A recipient's agreement key is a low-order X25519 point, so HPKE
    /// refuses to wrap to it. Their profile is broken; leave them out.
    #[error("recipient {peer} has an unusable agreement key")]
    BadRecipientKey {
        /// The recipient concerned.
        peer: PeerId,
    },
    /// A Direct message was opened as a channel message or the reverse.
    #[error("the message audience does not match the opener used")]
    AudienceMismatch,
}
