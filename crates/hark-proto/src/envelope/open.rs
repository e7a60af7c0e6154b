//! The receiving side: [`Opener`] unwraps the content key from a verified
//! header and decrypts frames; [`open_message`] does a whole message.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;

use super::{
    channel_content_key, frame_aad, frame_nonce, verify_message, wrap_context, Audience,
    EnvelopeError, Header, SealedFrame, SignedHeader, SignedTrailer, Trailer, MAX_PACKET_BYTES,
    TAG_BYTES,
};
use crate::identity::Identity;
use crate::ids::MessageId;
use crate::suite;
use zeroize::Zeroizing;

/// The content key of a verified Direct message, from the wrap naming both
/// `identity`'s PeerId and its current agreement key.
pub(super) fn unwrap_own(
    identity: &Identity,
    decoded: &Header,
) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
    let Audience::Direct(wraps) = &decoded.audience else {
        return Err(EnvelopeError::AudienceMismatch);
    };

    let me = identity.peer_id();
    let ours = identity.agreement_public();
    let wrap = wraps
        .iter()
        .find(|w| w.recipient == me && w.recipient_key == ours)
        .ok_or(EnvelopeError::NotARecipient)?;

    let (info, aad) = wrap_context(&decoded.sender, &decoded.id);
    let secret = identity.agreement_secret();
    let key = suite::unwrap(secret, &wrap.encapped_key, &wrap.wrapped_key, &info, &aad)
        .ok_or(EnvelopeError::Unwrap)?;
    tracing::debug!(id = %decoded.id, "unwrapped content key");
    Ok(key)
}

/// Decrypts the frames of one message.
///
/// Frames can be opened one by one as they arrive (for playback while
/// fetching); each is authenticated on its own, but only
/// [`verify_message`] proves that none is missing at the end.
pub struct Opener {
    /// Message id (first 16 nonce bytes).
    id: MessageId,
    /// Hash of the signed header, part of every frame's AAD.
    header_hash: [u8; 32],
    /// XChaCha20Poly1305 under the content key; wiped on drop.
    cipher: XChaCha20Poly1305,
}

impl Opener {
    /// Verifies `header` and unwraps the content key from the wrap naming
    /// both our PeerId and our current agreement key.
    ///
    /// Errors: whatever [`SignedHeader::verify`] reports;
    /// [`EnvelopeError::NotARecipient`] without such a wrap;
    /// [`EnvelopeError::Unwrap`] if it does not decrypt;
    /// [`EnvelopeError::AudienceMismatch`] for channel messages.
    pub fn new(
        identity: &Identity,
        header: &SignedHeader,
    ) -> Result<(Opener, Header), EnvelopeError> {
        let decoded = header.verify()?;
        let key = unwrap_own(identity, &decoded)?;
        let opener = Opener::with_key(&decoded, header.hash(), &key);
        Ok((opener, decoded))
    }

    /// Verifies a channel message's header and derives its content key from
    /// `channel_key`. A wrong channel key is only noticed when the first
    /// frame fails with [`EnvelopeError::FrameAuth`].
    pub fn for_channel(
        header: &SignedHeader,
        channel_key: &[u8; 32],
    ) -> Result<(Opener, Header), EnvelopeError> {
        let decoded = header.verify()?;
        let Audience::Channel { channel_id } = &decoded.audience else {
            return Err(EnvelopeError::AudienceMismatch);
        };

        let key = channel_content_key(channel_key, channel_id, &decoded.id);
        let opener = Opener::with_key(&decoded, header.hash(), &key);
        Ok((opener, decoded))
    }

    /// Builds the frame cipher.
    fn with_key(header: &Header, header_hash: [u8; 32], key: &[u8; 32]) -> Opener {
        Opener {
            id: header.id,
            header_hash,
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The message id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// Decrypts one frame back to its Opus packet. Fails with
    /// [`EnvelopeError::FrameAuth`] if the frame was altered, renumbered,
    /// had its last flag changed, or belongs to another message.
    pub fn open_frame(&self, frame: &SealedFrame) -> Result<Vec<u8>, EnvelopeError> {
        if frame.ciphertext.len() > MAX_PACKET_BYTES + TAG_BYTES {
            return Err(EnvelopeError::Malformed("frame too large".into()));
        }

        decrypt_frame(&self.cipher, &self.id, &self.header_hash, frame)
    }
}

/// Decrypts one frame of message `id` under `cipher`, checking its index,
/// last flag and header binding (the AAD).
pub(super) fn decrypt_frame(
    cipher: &XChaCha20Poly1305,
    id: &MessageId,
    header_hash: &[u8; 32],
    frame: &SealedFrame,
) -> Result<Vec<u8>, EnvelopeError> {
    let nonce = frame_nonce(id, frame.index);
    let aad = frame_aad(header_hash, frame.index, frame.last);
    let payload = Payload {
        msg: &frame.ciphertext,
        aad: &aad,
    };
    cipher
        .decrypt(&nonce.into(), payload)
        .map_err(|_| EnvelopeError::FrameAuth { index: frame.index })
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Checks a complete message ([`verify_message`]) and decrypts every
/// frame, returning the Opus packets in order.
pub fn open_message(
    identity: &Identity,
    header: &SignedHeader,
    frames: &[SealedFrame],
    trailer: &SignedTrailer,
) -> Result<(Header, Trailer, Vec<Vec<u8>>), EnvelopeError> {
    let (decoded, trailer) = verify_message(header, frames, trailer)?;
    let (opener, _) = Opener::new(identity, header)?;

    let packets = frames
        .iter()
        .map(|frame| opener.open_frame(frame))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((decoded, trailer, packets))
}
