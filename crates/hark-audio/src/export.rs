//! Files out: Opus packets as an Ogg Opus file (RFC 7845), PCM as a
//! 16-bit mono 48 kHz WAV (via hound).

use std::io::{Seek, Write};

use ogg::{PacketWriteEndInfo, PacketWriter};

use crate::opus_head::{tags_packet, OpusHead};
use crate::{Pcm, SAMPLE_RATE};

/// Audio packets per Ogg page: 50 packets of 20 ms, one page per second,
/// which keeps the page overhead near 1 % at 24 kbit/s.
const PACKETS_PER_PAGE: usize = 50;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Writing to the destination failed (disk full, permissions, closed
    /// pipe). Retrying helps only if the cause was transient.
    #[error("cannot write the file: {0}")]
    Io(#[from] std::io::Error),
    /// hound refused to write the WAV (e.g. more than 4 GB of samples).
    /// Retrying does not help.
    #[error("cannot write the wav file: {0}")]
    Wav(String),
    /// The packet at this index is not a valid Opus packet, so its
    /// duration, needed for granule positions, is unknown. Retrying does not help.
    #[error("opus packet {0} is invalid")]
    Packet(usize),
    /// The packets hold less audio than `pre_skip + sample_count`.
    /// Retrying does not help; the arguments disagree.
    #[error("packets hold {available} samples, fewer than the {needed} that pre-skip and sample count require")]
    ShortStream {
        /// `pre_skip + sample_count`.
        needed: u64,
        /// Total samples the packets decode to.
        available: u64,
    },
}

/// Writes `packets` (48 kHz mono Opus, as from [`crate::codec::encode_pcm`])
/// as an Ogg Opus stream: OpusHead (input rate 48000, `pre_skip`), OpusTags
/// (vendor "hark"), then audio pages of one second each, with a random
/// serial number. The last page has the end-of-stream flag and granule
/// position `pre_skip + sample_count`, so players trim the padding; packets
/// after the one that reaches that position carry no audio to play and are
/// not written.
pub fn write_ogg_opus(
    w: impl Write,
    packets: &[Vec<u8>],
    pre_skip: u16,
    sample_count: u64,
) -> Result<(), ExportError> {
    let end_granule = u64::from(pre_skip) + sample_count;
    let granules = granule_positions(packets, end_granule)?;

    let serial: u32 = rand::random();
    let mut writer = PacketWriter::new(w);
    writer.write_packet(
        OpusHead::mono(pre_skip).to_bytes(),
        serial,
        PacketWriteEndInfo::EndPage,
        0,
    )?;
    writer.write_packet(tags_packet(), serial, PacketWriteEndInfo::EndPage, 0)?;

    for (index, (packet, &granule)) in packets.iter().zip(&granules).enumerate() {
        let (end, granule) = match index + 1 {
            n if n == granules.len() => (PacketWriteEndInfo::EndStream, end_granule),
            n if n % PACKETS_PER_PAGE == 0 => (PacketWriteEndInfo::EndPage, granule),
            _ => (PacketWriteEndInfo::NormalPacket, granule),
        };
        writer.write_packet(packet.as_slice(), serial, end, granule)?;
    }
    writer.into_inner().flush()?;
    Ok(())
}

/// Cumulative sample counts after each packet, up to and including the
/// first packet that reaches `end_granule`.
fn granule_positions(packets: &[Vec<u8>], end_granule: u64) -> Result<Vec<u64>, ExportError> {
    let mut granules = Vec::with_capacity(packets.len());
    let mut total = 0u64;
    for (index, packet) in packets.iter().enumerate() {
        let samples = opus::packet::get_nb_samples(packet, SAMPLE_RATE)
            .map_err(|_| ExportError::Packet(index))?;
        total += samples as u64;
        granules.push(total);
        if total >= end_granule {
            return Ok(granules);
        }
    }
    Err(ExportError::ShortStream {
        needed: end_granule,
        available: total,
    })
}

/// Writes `pcm` as a 16-bit mono 48 kHz WAV. Samples beyond ±1.0 are
/// clipped to full scale (never wrapped around).
pub fn write_wav(w: impl Write + Seek, pcm: &Pcm) -> Result<(), ExportError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(w, spec).map_err(from_hound)?;
    for &sample in &pcm.samples {
        writer.write_sample(to_i16(sample)).map_err(from_hound)?;
    }
    writer.finalize().map_err(from_hound)
}

/// Full scale is ±32767 so that +1.0 and -1.0 stay symmetric; NaN becomes 0.
fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn from_hound(error: hound::Error) -> ExportError {
    match error {
        hound::Error::IoError(e) => ExportError::Io(e),
        other => ExportError::Wav(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_pcm, DEFAULT_BITRATE};

    // Out-of-range samples clip instead of wrapping to the opposite sign.
    #[test]
    fn conversion_clips() {
        assert_eq!(to_i16(1.5), 32767);
        assert_eq!(to_i16(-3.0), -32767);
        assert_eq!(to_i16(0.5), 16384);
        assert_eq!(to_i16(f32::NAN), 0);
    }

    // Granules accumulate 960 per packet and stop at the packet reaching the end.
    #[test]
    fn granules_stop_at_end() -> Result<(), ExportError> {
        let encoded = encode_pcm(&Pcm::new(vec![0.0; 9_600]), DEFAULT_BITRATE)
            .map_err(|e| ExportError::Wav(e.to_string()))?;
        assert_eq!(encoded.packets.len(), 11);
        let granules = granule_positions(&encoded.packets, 2_000)?;
        assert_eq!(granules, vec![960, 1_920, 2_880]);
        let short = granule_positions(&encoded.packets, 20_000);
        assert!(matches!(
            short,
            Err(ExportError::ShortStream {
                needed: 20_000,
                available: 10_560
            })
        ));
        Ok(())
    }

    // A packet that is not Opus is named by index.
    #[test]
    fn invalid_packet_is_named() {
        let packets = vec![vec![0xf8, 0xff, 0xfe], Vec::new()];
        assert!(matches!(
            granule_positions(&packets, 5_000),
            Err(ExportError::Packet(1))
        ));
    }
}
