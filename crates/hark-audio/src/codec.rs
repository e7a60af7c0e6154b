//! Opus (libopus via the `opus` crate) for 48 kHz mono speech in 20 ms
//! frames, plus whole-clip helpers.
//!
//! # The pre-skip convention
//!
//! libopus delays its output by the encoder's lookahead ([`Encoder::lookahead`],
//! 312 samples = 6.5 ms for this configuration). [`encode_pcm`] therefore
//! feeds the encoder the clip followed by `pre_skip` zero samples, padded
//! with zeros to a whole number of 960-sample frames, so
//! `packets.len() == ceil((sample_count + pre_skip) / 960)`. Decoding all
//! packets, dropping the first `pre_skip` samples and keeping the next
//! `sample_count` gives back the input (up to coding loss), sample-aligned
//! and of exactly the same length. [`decode_packets`] does exactly that,
//! and it is what RFC 7845 players do with OpusHead's pre-skip and the last
//! page's granule position (`pre_skip + sample_count`).

use std::fmt;
use std::ops::RangeInclusive;

use opus::{Application, Bitrate, Channels};

use crate::{Pcm, FRAME_SAMPLES, SAMPLE_RATE};

/// Bitrate for voice messages, bits per second.
pub const DEFAULT_BITRATE: u32 = 24_000;

/// Bitrates libopus accepts, bits per second.
const BITRATES: RangeInclusive<u32> = 6_000..=510_000;

/// Buffer for one encoded packet (libopus's recommended maximum).
const MAX_PACKET_BYTES: usize = 4_000;

/// Longest audio one Opus packet can carry: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5_760;

/// Why encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// libopus refused to create or configure a codec (out of memory or an
    /// invalid setting). Retrying does not help.
    #[error("opus codec setup failed: {0}")]
    Setup(String),
    /// The requested bitrate is outside what Opus supports. Use 6000 to 510000.
    #[error("bitrate {0} bit/s is outside 6000 to 510000")]
    Bitrate(u32),
    /// A frame given to the encoder is not exactly [`FRAME_SAMPLES`] long.
    /// A caller bug; retrying does not help.
    #[error("frame has {0} samples instead of 960")]
    FrameLength(usize),
    /// libopus failed to encode a frame. Not expected with valid frames;
    /// retrying does not help.
    #[error("opus encoding failed: {0}")]
    Encode(String),
    /// A packet is not valid Opus (damaged or not Opus at all). Retrying
    /// does not help; the message names the packet when known.
    #[error("invalid opus packet: {0}")]
    Decode(String),
    /// The packets hold less audio than `pre_skip + sample_count` announce
    /// (packets lost or the count is wrong). Retrying does not help.
    #[error("packets decode to {decoded} samples, fewer than the {expected} announced")]
    ShortStream {
        /// Samples announced after the pre-skip.
        expected: u64,
        /// Samples the packets held after the pre-skip.
        decoded: u64,
    },
}

/// A clip encoded with [`encode_pcm`]; see the module docs for the convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// One Opus packet per 20 ms frame.
    pub packets: Vec<Vec<u8>>,
    /// True length of the clip in 48 kHz samples, before padding.
    pub sample_count: u64,
    /// Samples to drop from the start of the decoded output.
    pub pre_skip: u16,
}

/// An Opus encoder for 48 kHz mono voice (`Application::Voip`), 20 ms frames.
pub struct Encoder {
    inner: opus::Encoder,
    lookahead: u16,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("lookahead", &self.lookahead)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Creates an encoder at `bitrate` bits per second ([`DEFAULT_BITRATE`] for voice).
    pub fn new(bitrate: u32) -> Result<Self, CodecError> {
        if !BITRATES.contains(&bitrate) {
            return Err(CodecError::Bitrate(bitrate));
        }
        let setup = |e: opus::Error| CodecError::Setup(e.to_string());
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip).map_err(setup)?;
        let bits = i32::try_from(bitrate).map_err(|_| CodecError::Bitrate(bitrate))?;
        inner.set_bitrate(Bitrate::Bits(bits)).map_err(setup)?;

        // Read once: libopus's getter needs `&mut`, callers only need the value.
        let lookahead = inner.get_lookahead().map_err(setup)?;
        let lookahead = u16::try_from(lookahead)
            .map_err(|_| CodecError::Setup(format!("lookahead {lookahead}")))?;
        Ok(Self { inner, lookahead })
    }

    /// Encodes one 20 ms frame of exactly [`FRAME_SAMPLES`] samples into one packet.
    pub fn encode_frame(&mut self, frame: &[f32]) -> Result<Vec<u8>, CodecError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(CodecError::FrameLength(frame.len()));
        }
        self.inner
            .encode_vec_float(frame, MAX_PACKET_BYTES)
            .map_err(|e| CodecError::Encode(e.to_string()))
    }

    /// The encoder's delay in samples, to be sent as the stream's pre-skip.
    pub fn lookahead(&self) -> u16 {
        self.lookahead
    }
}

/// Encodes a whole clip, padding as described in the module docs.
pub fn encode_pcm(pcm: &Pcm, bitrate: u32) -> Result<Encoded, CodecError> {
    let mut encoder = Encoder::new(bitrate)?;
    let pre_skip = encoder.lookahead();

    // Zeros after the clip push its last samples out past the encoder delay.
    let fed = pcm.samples.len() + usize::from(pre_skip);
    let mut packets = Vec::with_capacity(fed.div_ceil(FRAME_SAMPLES));
    let mut frame = [0f32; FRAME_SAMPLES];
    for start in (0..fed).step_by(FRAME_SAMPLES) {
        let chunk = pcm.samples.get(start..).unwrap_or_default();
        let taken = chunk.len().min(FRAME_SAMPLES);
        frame[..taken].copy_from_slice(&chunk[..taken]);
        frame[taken..].fill(0.0);
        packets.push(encoder.encode_frame(&frame)?);
    }
    Ok(Encoded {
        packets,
        sample_count: pcm.samples.len() as u64,
        pre_skip,
    })
}

/// An Opus decoder producing 48 kHz mono (stereo packets are down-mixed by libopus).
pub struct Decoder {
    inner: opus::Decoder,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    /// Creates a decoder for 48 kHz mono output.
    pub fn new() -> Result<Self, CodecError> {
        let inner = opus::Decoder::new(SAMPLE_RATE, Channels::Mono)
            .map_err(|e| CodecError::Setup(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Decodes one packet (2.5 to 120 ms of audio).
    pub fn decode_packet(&mut self, packet: &[u8]) -> Result<Vec<f32>, CodecError> {
        // An empty slice would mean "lost packet" to libopus; here it is an error.
        if packet.is_empty() {
            return Err(CodecError::Decode("packet is empty".into()));
        }
        let mut out = vec![0f32; MAX_PACKET_SAMPLES];
        let n = self
            .inner
            .decode_float(packet, &mut out, false)
            .map_err(|e| CodecError::Decode(e.to_string()))?;
        out.truncate(n);
        Ok(out)
    }

    /// Conceals one lost 20 ms frame (libopus packet-loss concealment).
    /// If libopus refuses, the frame is silence: a gap is better than an error
    /// in the middle of playback.
    pub fn decode_lost(&mut self) -> Vec<f32> {
        let mut out = vec![0f32; FRAME_SAMPLES];
        match self.inner.decode_float(&[], &mut out, false) {
            Ok(n) => out.truncate(n),
            Err(e) => {
                tracing::debug!(error = %e, "opus concealment failed, playing silence");
                out.fill(0.0);
            }
        }
        out
    }
}

/// Decodes a clip encoded with [`encode_pcm`]: decodes every packet, drops
/// `pre_skip` samples and returns exactly `sample_count` samples.
pub fn decode_packets(
    packets: &[Vec<u8>],
    pre_skip: u16,
    sample_count: u64,
) -> Result<Pcm, CodecError> {
    let mut decoder = Decoder::new()?;
    let mut samples = Vec::with_capacity(packets.len().saturating_mul(FRAME_SAMPLES));
    for (index, packet) in packets.iter().enumerate() {
        let decoded = decoder.decode_packet(packet).map_err(|e| match e {
            CodecError::Decode(reason) => CodecError::Decode(format!("packet {index}: {reason}")),
            other => other,
        })?;
        samples.extend_from_slice(&decoded);
    }

    let skip = usize::from(pre_skip).min(samples.len());
    let available = (samples.len() - skip) as u64;
    if sample_count > available {
        return Err(CodecError::ShortStream {
            expected: sample_count,
            decoded: available,
        });
    }
    samples.drain(..skip);
    samples.truncate(sample_count as usize);
    Ok(Pcm::new(samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn tone(samples: usize) -> Pcm {
        Pcm::new(
            (0..samples)
                .map(|i| 0.3 * (TAU * 440.0 * i as f32 / 48_000.0).sin())
                .collect(),
        )
    }

    // Packet count follows the convention: ceil((len + pre_skip) / 960).
    #[test]
    fn packet_count_covers_pre_skip() -> Result<(), CodecError> {
        let encoded = encode_pcm(&tone(48_000), DEFAULT_BITRATE)?;
        let expected = (48_000 + usize::from(encoded.pre_skip)).div_ceil(960);
        assert_eq!(encoded.packets.len(), expected);
        assert_eq!(encoded.sample_count, 48_000);
        assert_eq!(encoded.pre_skip, 312);
        Ok(())
    }

    /// A rising chirp, 200 Hz to 2 kHz: not periodic, so a shift cannot hide.
    fn chirp(samples: usize) -> Pcm {
        let seconds = samples as f32 / 48_000.0;
        let rise = 1_800.0 / seconds;
        Pcm::new(
            (0..samples)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    0.3 * (TAU * (200.0 * t + 0.5 * rise * t * t)).sin()
                })
                .collect(),
        )
    }

    /// Relative squared error of `decoded` against `original` when
    /// `decoded` is read `lag` samples later.
    fn error_at_lag(original: &[f32], decoded: &[f32], lag: i64) -> f32 {
        let range = 2_000..10_000i64;
        let error: f32 = range
            .clone()
            .map(|i| (decoded[(i + lag) as usize] - original[i as usize]).powi(2))
            .sum();
        let power: f32 = range.map(|i| original[i as usize].powi(2)).sum();
        error / power
    }

    // Round trip keeps the exact length and the alignment: the best match
    // over +-400 samples is within 10 samples of zero lag (Opus shifts phase
    // a little; a pre-skip mistake would show as a shift of ~312), and is close.
    #[test]
    fn round_trip_is_aligned() -> Result<(), CodecError> {
        let original = chirp(12_345);
        let encoded = encode_pcm(&original, DEFAULT_BITRATE)?;
        let decoded = decode_packets(&encoded.packets, encoded.pre_skip, encoded.sample_count)?;
        assert_eq!(decoded.samples.len(), 12_345);

        let errors =
            (-400..=400).map(|lag| (error_at_lag(&original.samples, &decoded.samples, lag), lag));
        let (error, lag) = errors.fold(
            (f32::MAX, 0),
            |best, next| if next.0 < best.0 { next } else { best },
        );
        assert!(lag.abs() <= 10, "best lag {lag}");
        assert!(error < 0.1, "relative error {error} at lag {lag}");
        Ok(())
    }

    // Asking for more samples than the packets hold is an error, not padding.
    #[test]
    fn short_stream_is_detected() -> Result<(), CodecError> {
        let encoded = encode_pcm(&tone(960), DEFAULT_BITRATE)?;
        let result = decode_packets(&encoded.packets, encoded.pre_skip, 10_000);
        assert!(matches!(
            result,
            Err(CodecError::ShortStream {
                expected: 10_000,
                ..
            })
        ));
        Ok(())
    }

    // Bad frames, bitrates and packets give errors.
    #[test]
    fn misuse_is_reported() -> Result<(), CodecError> {
        assert!(matches!(
            Encoder::new(1_000),
            Err(CodecError::Bitrate(1_000))
        ));
        let mut encoder = Encoder::new(DEFAULT_BITRATE)?;
        assert!(matches!(
            encoder.encode_frame(&[0.0; 100]),
            Err(CodecError::FrameLength(100))
        ));
        let mut decoder = Decoder::new()?;
        assert!(matches!(
            decoder.decode_packet(&[]),
            Err(CodecError::Decode(_))
        ));
        // TOC byte for code 3 (arbitrary frame count) with no count byte.
        assert!(matches!(
            decoder.decode_packet(&[0x03]),
            Err(CodecError::Decode(_))
        ));
        Ok(())
    }

    // Concealment yields one frame of samples.
    #[test]
    fn lost_frame_is_concealed() -> Result<(), CodecError> {
        let encoded = encode_pcm(&tone(4_800), DEFAULT_BITRATE)?;
        let mut decoder = Decoder::new()?;
        decoder.decode_packet(&encoded.packets[0])?;
        assert_eq!(decoder.decode_lost().len(), FRAME_SAMPLES);
        Ok(())
    }
}
