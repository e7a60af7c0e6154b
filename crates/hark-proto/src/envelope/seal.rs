//! The sending side: [`Sealer`] makes the signed header, encrypts frames as
//! the encoder produces them, and signs the trailer at the end.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use libp2p_identity::Keypair;
use zeroize::Zeroizing;

use super::check::{check_codec, check_sample_count};
use super::open::{decrypt_frame, unwrap_own};
use super::{
    channel_content_key, frame_aad, frame_nonce, frames_hasher, wrap_context, Audience, Codec,
    EnvelopeError, Header, SealedFrame, SignedHeader, SignedTrailer, Trailer, Wrap, FORMAT_VERSION,
    HEADER_CONTEXT, MAX_FRAMES, MAX_PACKET_BYTES, MAX_RECIPIENTS, TRAILER_CONTEXT,
};
use crate::identity::{sign_with, Identity, PublicIdentity};
use crate::ids::{fill_random, MessageId};
use crate::suite;

/// Seals one message, frame by frame.
///
/// Holds the content key inside the frame cipher, which wipes it when the
/// sealer is dropped (the "zeroize" feature of chacha20poly1305).
pub struct Sealer {
    /// Signs the trailer.
    keypair: Keypair,
    /// Message id (also the first 16 nonce bytes).
    id: MessageId,
    /// Binds every frame and the trailer to the signed header.
    header_hash: [u8; 32],
    /// For the trailer's sample count check.
    codec: Codec,
    /// XChaCha20Poly1305 under the content key.
    cipher: XChaCha20Poly1305,
    /// Index the next frame gets.
    next_index: u32,
    /// Set once the frame with `last = true` is sealed.
    finished: bool,
    /// Running [`Trailer::frames_hash`].
    frames_hash: blake3::Hasher,
}

impl Sealer {
    /// Starts a Direct message to `recipients` with a fresh random content
    /// key and id.
    ///
    /// The sender is not added automatically: include
    /// `identity.public()` to be able to replay your own message later.
    /// Exact repeats in `recipients` are wrapped once.
    pub fn new(
        identity: &Identity,
        recipients: &[PublicIdentity],
        codec: Codec,
        created_at_ms: u64,
    ) -> Result<(Sealer, SignedHeader), EnvelopeError> {
        check_codec(&codec)?;
        let id = MessageId::random();
        let mut key = Zeroizing::new([0u8; 32]);
        fill_random(&mut key[..]);

        let wraps = wrap_for_all(identity, recipients, &id, &key)?;
        tracing::debug!(%id, recipients = wraps.len(), "sealing direct message");
        let audience = Audience::Direct(wraps);
        Sealer::start(identity, id, &key, codec, created_at_ms, audience)
    }

    /// Starts a message to a channel: the content key is derived from the
    /// channel key and the fresh message id, so every holder of the channel
    /// key can open it with [`Opener::for_channel`](super::Opener::for_channel).
    pub fn for_channel(
        identity: &Identity,
        channel_id: [u8; 16],
        channel_key: &[u8; 32],
        codec: Codec,
        created_at_ms: u64,
    ) -> Result<(Sealer, SignedHeader), EnvelopeError> {
        check_codec(&codec)?;
        let id = MessageId::random();
        let key = channel_content_key(channel_key, &channel_id, &id);

        tracing::debug!(%id, "sealing channel message");
        let audience = Audience::Channel { channel_id };
        Sealer::start(identity, id, &key, codec, created_at_ms, audience)
    }

    /// Takes up a message of ours that stopped part-way (the process ended
    /// mid-recording) so that it can be finished: `frames` are what was
    /// stored, from index 0 with no gap and no last frame, and each must
    /// open under the message's key. The next frame sealed gets the next
    /// index. `channel_key` is needed for a channel message.
    ///
    /// Errors: the header's own checks; [`EnvelopeError::Malformed`] if
    /// the message is not `identity`'s; [`EnvelopeError::FrameOrder`] for
    /// gaps or a last frame; [`EnvelopeError::FrameAuth`] for a frame that
    /// does not open; [`EnvelopeError::AudienceMismatch`] for a channel
    /// message without its key.
    pub fn resume(
        identity: &Identity,
        header: &SignedHeader,
        channel_key: Option<&[u8; 32]>,
        frames: &[SealedFrame],
    ) -> Result<Sealer, EnvelopeError> {
        let decoded = header.verify()?;
        if decoded.sender != identity.peer_id() {
            return Err(EnvelopeError::Malformed("not a message of ours".into()));
        }
        let key = match (&decoded.audience, channel_key) {
            (Audience::Direct(_), _) => unwrap_own(identity, &decoded)?,
            (Audience::Channel { channel_id }, Some(k)) => {
                channel_content_key(k, channel_id, &decoded.id)
            }
            (Audience::Channel { .. }, None) => return Err(EnvelopeError::AudienceMismatch),
        };

        let mut sealer = Sealer {
            keypair: identity.keypair().clone(),
            id: decoded.id,
            header_hash: header.hash(),
            codec: decoded.codec,
            cipher: XChaCha20Poly1305::new((&*key).into()),
            next_index: 0,
            finished: false,
            frames_hash: frames_hasher(),
        };
        for frame in frames {
            if frame.index != sealer.next_index || frame.last {
                return Err(EnvelopeError::FrameOrder);
            }
            sealer.check_opens(frame)?;
            sealer.frames_hash.update(&frame.hash());
            sealer.next_index += 1;
        }
        Ok(sealer)
    }

    /// Fails unless `frame` decrypts under this message's key.
    fn check_opens(&self, frame: &SealedFrame) -> Result<(), EnvelopeError> {
        decrypt_frame(&self.cipher, &self.id, &self.header_hash, frame).map(drop)
    }

    /// Signs the header and sets up the frame cipher.
    fn start(
        identity: &Identity,
        id: MessageId,
        key: &[u8; 32],
        codec: Codec,
        created_at_ms: u64,
        audience: Audience,
    ) -> Result<(Sealer, SignedHeader), EnvelopeError> {
        let header = Header {
            version: FORMAT_VERSION,
            id,
            sender: identity.peer_id(),
            sender_key: identity.keypair().public().encode_protobuf(),
            created_at_ms,
            codec,
            audience,
        };
        let signed = sign_header(identity, &header)?;

        let sealer = Sealer {
            keypair: identity.keypair().clone(),
            id,
            header_hash: signed.hash(),
            codec,
            cipher: XChaCha20Poly1305::new(key.into()),
            next_index: 0,
            finished: false,
            frames_hash: frames_hasher(),
        };
        Ok((sealer, signed))
    }

    /// The message id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The codec the header names.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Encrypts the next Opus packet. Indices are assigned in call order;
    /// pass `last = true` with the final packet. Errors after the last
    /// frame ([`EnvelopeError::AlreadyFinished`]), for packets over
    /// [`MAX_PACKET_BYTES`] and past [`MAX_FRAMES`] frames.
    pub fn seal_frame(&mut self, packet: &[u8], last: bool) -> Result<SealedFrame, EnvelopeError> {
        if self.finished {
            return Err(EnvelopeError::AlreadyFinished);
        }
        if packet.len() > MAX_PACKET_BYTES {
            return Err(EnvelopeError::PacketTooLarge {
                len: packet.len(),
                max: MAX_PACKET_BYTES,
            });
        }

        let index = self.next_index;
        if index >= MAX_FRAMES {
            return Err(EnvelopeError::TooManyFrames { max: MAX_FRAMES });
        }
        let frame = SealedFrame {
            index,
            last,
            ciphertext: self.encrypt(index, last, packet)?,
        };
        self.next_index = index + 1;
        self.finished = last;
        self.frames_hash.update(&frame.hash());
        Ok(frame)
    }

    /// XChaCha20Poly1305 with the frame's nonce and AAD.
    fn encrypt(&self, index: u32, last: bool, packet: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let nonce = frame_nonce(&self.id, index);
        let aad = frame_aad(&self.header_hash, index, last);
        let payload = Payload {
            msg: packet,
            aad: &aad,
        };
        self.cipher
            .encrypt(&nonce.into(), payload)
            .map_err(|_| EnvelopeError::Malformed("frame encryption failed".into()))
    }

    /// Signs the trailer. `sample_count` is the real audio length at 48 kHz
    /// (without the padding of the last frame). Errors if no last frame was
    /// sealed ([`EnvelopeError::Unfinished`]) or if `sample_count` exceeds
    /// what the frames hold.
    pub fn finish(self, sample_count: u64) -> Result<SignedTrailer, EnvelopeError> {
        if !self.finished {
            return Err(EnvelopeError::Unfinished);
        }
        check_sample_count(sample_count, self.next_index, &self.codec)?;

        let trailer = Trailer {
            id: self.id,
            frame_count: self.next_index,
            sample_count,
            frames_hash: *self.frames_hash.finalize().as_bytes(),
        };
        let body = postcard::to_allocvec(&trailer)
            .map_err(|e| EnvelopeError::Malformed(format!("trailer: {e}")))?;
        let covered = [&self.header_hash[..], &body].concat();
        let signature = sign_with(&self.keypair, TRAILER_CONTEXT, &covered);
        Ok(SignedTrailer { body, signature })
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("id", &self.id)
            .field("next_index", &self.next_index)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// One HPKE wrap of `key` per distinct recipient.
fn wrap_for_all(
    identity: &Identity,
    recipients: &[PublicIdentity],
    id: &MessageId,
    key: &[u8; 32],
) -> Result<Vec<Wrap>, EnvelopeError> {
    let mut unique: Vec<&PublicIdentity> = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        if !unique.iter().any(|u| same_target(u, recipient)) {
            unique.push(recipient);
        }
    }
    if unique.is_empty() || unique.len() > MAX_RECIPIENTS {
        return Err(EnvelopeError::RecipientCount(unique.len()));
    }

    let (info, aad) = wrap_context(&identity.peer_id(), id);
    unique
        .into_iter()
        .map(|r| wrap_one(r, &info, &aad, key))
        .collect()
}

/// Same PeerId and agreement key, i.e. the header would repeat the wrap.
fn same_target(a: &PublicIdentity, b: &PublicIdentity) -> bool {
    a.peer_id == b.peer_id && a.agreement_key == b.agreement_key
}

/// HPKE base-mode seal of the content key to one recipient.
fn wrap_one(
    recipient: &PublicIdentity,
    info: &[u8],
    aad: &[u8],
    key: &[u8; 32],
) -> Result<Wrap, EnvelopeError> {
    let (encapped_key, wrapped_key) = suite::wrap(&recipient.agreement_key, info, aad, key)
        .map_err(|_| EnvelopeError::BadRecipientKey {
            peer: recipient.peer_id,
        })?;
    Ok(Wrap {
        recipient: recipient.peer_id,
        recipient_key: recipient.agreement_key,
        encapped_key,
        wrapped_key,
    })
}

/// postcard-encodes and signs a header.
fn sign_header(identity: &Identity, header: &Header) -> Result<SignedHeader, EnvelopeError> {
    let body = postcard::to_allocvec(header)
        .map_err(|e| EnvelopeError::Malformed(format!("header: {e}")))?;
    let signature = identity.sign(HEADER_CONTEXT, &body);
    Ok(SignedHeader { body, signature })
}
