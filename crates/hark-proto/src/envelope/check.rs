//! Checks anyone can run without the content key: header and trailer
//! signatures, structure, and completeness of a message's frames.

use std::collections::HashSet;

use super::{
    frames_hasher, Audience, Codec, EnvelopeError, Header, SealedFrame, SignedHeader,
    SignedTrailer, Trailer, FORMAT_VERSION, HEADER_CONTEXT, MAX_FRAMES, MAX_HEADER_BYTES,
    MAX_PACKET_BYTES, MAX_RECIPIENTS, TAG_BYTES, TRAILER_CONTEXT,
};
use crate::identity::{decode_signing_key, verify_with};
use crate::suite::{ENCAPPED_LEN, WRAPPED_LEN};

/// Output rates an Opus decoder supports.
const OPUS_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// Longest Opus packet duration (120 ms) in samples at 48 kHz.
const MAX_FRAME_SAMPLES: u32 = 5760;

/// Full header check; see [`SignedHeader::verify`].
pub(super) fn verify_header(signed: &SignedHeader) -> Result<Header, EnvelopeError> {
    if signed.body.len() > MAX_HEADER_BYTES {
        return Err(malformed("header body too large"));
    }
    check_version(&signed.body)?;

    let header: Header = crate::wire::decode_exact(&signed.body)
        .map_err(|e| EnvelopeError::Malformed(format!("header: {e}")))?;
    let key = decode_signing_key(&header.sender_key).ok_or(malformed("sender key"))?;
    if key.to_peer_id() != header.sender {
        return Err(EnvelopeError::SignerMismatch);
    }
    if !verify_with(&key, HEADER_CONTEXT, &signed.body, &signed.signature) {
        return Err(EnvelopeError::BadSignature);
    }

    check_codec(&header.codec)?;
    check_audience(&header.audience)?;
    Ok(header)
}

/// Reads just the leading version field, so a future layout is reported
/// as unsupported rather than as garbage.
fn check_version(body: &[u8]) -> Result<(), EnvelopeError> {
    let (version, _) =
        postcard::take_from_bytes::<u16>(body).map_err(|_| malformed("header version"))?;
    if version != FORMAT_VERSION {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    Ok(())
}

/// Codec values a decoder can be set up with.
pub(super) fn check_codec(codec: &Codec) -> Result<(), EnvelopeError> {
    if !OPUS_RATES.contains(&codec.sample_rate) {
        return Err(malformed("codec sample rate"));
    }
    if codec.frame_samples == 0 || codec.frame_samples > MAX_FRAME_SAMPLES {
        return Err(malformed("codec frame size"));
    }
    Ok(())
}

/// Direct audiences: 1..=256 wraps with HPKE-sized fields, no repeats.
fn check_audience(audience: &Audience) -> Result<(), EnvelopeError> {
    let Audience::Direct(wraps) = audience else {
        return Ok(());
    };
    if wraps.is_empty() || wraps.len() > MAX_RECIPIENTS {
        return Err(EnvelopeError::RecipientCount(wraps.len()));
    }

    let mut seen = HashSet::with_capacity(wraps.len());
    for wrap in wraps {
        if wrap.encapped_key.len() != ENCAPPED_LEN || wrap.wrapped_key.len() != WRAPPED_LEN {
            return Err(malformed("wrap field length"));
        }
        // One wrap per (peer, key): otherwise an opener might pick a
        // different wrap than another recipient with the same key.
        if !seen.insert((wrap.recipient, wrap.recipient_key)) {
            return Err(malformed("duplicate wrap"));
        }
    }
    Ok(())
}

/// Trailer check against an already verified header and its hash.
pub(super) fn verify_trailer(
    signed: &SignedTrailer,
    header: &Header,
    header_hash: &[u8; 32],
) -> Result<Trailer, EnvelopeError> {
    let key = decode_signing_key(&header.sender_key).ok_or(malformed("sender key"))?;
    let covered = [&header_hash[..], &signed.body].concat();
    if !verify_with(&key, TRAILER_CONTEXT, &covered, &signed.signature) {
        return Err(EnvelopeError::BadSignature);
    }

    let trailer: Trailer = crate::wire::decode_exact(&signed.body)
        .map_err(|e| EnvelopeError::Malformed(format!("trailer: {e}")))?;
    if trailer.id != header.id {
        return Err(EnvelopeError::IdMismatch);
    }
    if trailer.frame_count > MAX_FRAMES {
        return Err(EnvelopeError::TooManyFrames { max: MAX_FRAMES });
    }
    check_sample_count(trailer.sample_count, trailer.frame_count, &header.codec)?;
    Ok(trailer)
}

/// The real length must fit in the frames (the last one may be padded).
pub(super) fn check_sample_count(
    sample_count: u64,
    frame_count: u32,
    codec: &Codec,
) -> Result<(), EnvelopeError> {
    let max = u64::from(frame_count) * u64::from(codec.frame_samples);
    if sample_count > max {
        return Err(EnvelopeError::SampleCount { sample_count, max });
    }
    Ok(())
}

/// Checks a complete message without the content key: header, trailer,
/// and that `frames` are exactly the frames the sender sealed, in order
/// (indices 0..n, only the last marked last, n = frame_count, chained
/// frame hashes equal `frames_hash`).
///
/// A node storing or forwarding messages it cannot read runs this before
/// accepting a message as complete.
pub fn verify_message(
    header: &SignedHeader,
    frames: &[SealedFrame],
    trailer: &SignedTrailer,
) -> Result<(Header, Trailer), EnvelopeError> {
    let decoded = header.verify()?;
    let trailer = verify_trailer(trailer, &decoded, &header.hash())?;

    check_frames(frames, &trailer)?;
    Ok((decoded, trailer))
}

/// The frame half of [`verify_message`], against an already verified
/// trailer: sequence, count, and the chained hash.
pub(crate) fn check_frames(frames: &[SealedFrame], trailer: &Trailer) -> Result<(), EnvelopeError> {
    check_frame_sequence(frames, trailer.frame_count)?;
    if frames_hash(frames) != trailer.frames_hash {
        tracing::debug!(id = %trailer.id, "frames do not match the trailer hash");
        return Err(EnvelopeError::HashMismatch);
    }
    Ok(())
}

/// Indices 0..n in order, `last` only on the final frame, n = expected.
fn check_frame_sequence(frames: &[SealedFrame], expected: u32) -> Result<(), EnvelopeError> {
    for (position, frame) in frames.iter().enumerate() {
        let is_final = position + 1 == frames.len();
        if u32::try_from(position) != Ok(frame.index) || (frame.last && !is_final) {
            return Err(EnvelopeError::FrameOrder);
        }
        if frame.ciphertext.len() > MAX_PACKET_BYTES + TAG_BYTES {
            return Err(malformed("frame too large"));
        }
    }

    if !frames.last().is_some_and(|f| f.last) {
        return Err(EnvelopeError::Truncated);
    }
    match frames.len().cmp(&(expected as usize)) {
        std::cmp::Ordering::Less => Err(EnvelopeError::Truncated),
        std::cmp::Ordering::Greater => Err(EnvelopeError::FrameOrder),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// The chained hash of `frames`, as the trailer records it.
fn frames_hash(frames: &[SealedFrame]) -> [u8; 32] {
    let mut hasher = frames_hasher();
    for frame in frames {
        hasher.update(&frame.hash());
    }
    *hasher.finalize().as_bytes()
}

/// Shorthand for [`EnvelopeError::Malformed`].
fn malformed(what: &str) -> EnvelopeError {
    EnvelopeError::Malformed(what.to_string())
}
