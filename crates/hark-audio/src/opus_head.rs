//! The Ogg Opus identification header, "OpusHead" (RFC 7845, section 5.1),
//! and the comment header "OpusTags" (section 5.2) as far as Hark needs them.

use crate::import::ImportError;

/// First 8 bytes of the identification header packet.
pub(crate) const HEAD_MAGIC: &[u8; 8] = b"OpusHead";

/// First 8 bytes of the comment header packet.
pub(crate) const TAGS_MAGIC: &[u8; 8] = b"OpusTags";

/// Length of a mapping-family-0 header; longer headers add a mapping table.
const FAMILY0_LEN: usize = 19;

/// The fields of an OpusHead packet that decoding depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpusHead {
    /// Output channel count (1 or 2 for family 0).
    pub channels: u8,
    /// Samples at 48 kHz to drop from the start of the decoded stream.
    pub pre_skip: u16,
    /// Rate of the encoder's input, informational only (0 = unknown).
    pub input_rate: u32,
    /// Gain to apply on output, in 1/256 dB (Q7.8).
    pub output_gain: i16,
    /// Channel mapping family (0 = mono/stereo, one Opus stream).
    pub mapping_family: u8,
    /// Opus streams per packet; always 1 for family 0.
    pub stream_count: u8,
}

impl OpusHead {
    /// The header Hark writes: mono, 48 kHz input, no gain, family 0.
    pub(crate) fn mono(pre_skip: u16) -> Self {
        Self {
            channels: 1,
            pre_skip,
            input_rate: crate::SAMPLE_RATE,
            output_gain: 0,
            mapping_family: 0,
            stream_count: 1,
        }
    }

    /// Serialises a family-0 header (the only family Hark writes).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FAMILY0_LEN);
        out.extend_from_slice(HEAD_MAGIC);
        out.push(1); // version 1: major 0, minor 1

        out.push(self.channels);
        out.extend_from_slice(&self.pre_skip.to_le_bytes());
        out.extend_from_slice(&self.input_rate.to_le_bytes());
        out.extend_from_slice(&self.output_gain.to_le_bytes());
        out.push(0);
        out
    }

    /// Parses and checks an identification header from an untrusted packet.
    pub(crate) fn parse(packet: &[u8]) -> Result<Self, ImportError> {
        if !packet.starts_with(HEAD_MAGIC) {
            return Err(ImportError::Corrupt(
                "first ogg packet is not an opus identification header".into(),
            ));
        }
        if packet.len() < FAMILY0_LEN {
            return Err(ImportError::Corrupt(
                "opus identification header is too short".into(),
            ));
        }

        let head = Self::read_fields(packet);
        head.check_version(packet[8])?;
        head.check_channels(packet.len())?;
        Ok(head)
    }

    /// Reads the fixed fields; `packet` holds at least [`FAMILY0_LEN`] bytes.
    fn read_fields(packet: &[u8]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([packet[i], packet[i + 1]]);
        let mapping_family = packet[18];

        // Families other than 0 carry their stream count right after the fixed part.
        let stream_count = match (mapping_family, packet.get(19)) {
            (0, _) => 1,
            (_, Some(&count)) => count,
            (_, None) => 0,
        };
        Self {
            channels: packet[9],
            pre_skip: u16_at(10),
            input_rate: u32::from_le_bytes([packet[12], packet[13], packet[14], packet[15]]),
            output_gain: u16_at(16) as i16,
            mapping_family,
            stream_count,
        }
    }

    /// Rejects major versions other than 0; minor versions are compatible by spec.
    fn check_version(&self, version: u8) -> Result<(), ImportError> {
        if version >> 4 != 0 {
            return Err(ImportError::Unsupported(format!(
                "ogg opus header version {version}"
            )));
        }
        Ok(())
    }

    /// Accepts what a single mono libopus decoder can play: family 0 with one
    /// or two channels, or any family whose packets hold exactly one stream.
    fn check_channels(&self, packet_len: usize) -> Result<(), ImportError> {
        if self.channels == 0 {
            return Err(ImportError::ZeroChannels);
        }
        if self.mapping_family == 0 && self.channels > 2 {
            return Err(ImportError::Corrupt(format!(
                "opus mapping family 0 cannot carry {} channels",
                self.channels
            )));
        }
        if self.mapping_family != 0 && packet_len < 21 + usize::from(self.channels) {
            return Err(ImportError::Corrupt(
                "opus channel mapping table is cut short".into(),
            ));
        }
        if self.stream_count != 1 {
            // Multistream (surround) Opus needs libopus's multistream decoder,
            // which the `opus` crate does not wrap; such files are refused.
            return Err(ImportError::Unsupported(format!(
                "ogg opus with {} streams (channel mapping family {})",
                self.stream_count, self.mapping_family
            )));
        }
        Ok(())
    }

    /// The output gain as a linear factor.
    pub(crate) fn gain_factor(&self) -> f32 {
        let db = f32::from(self.output_gain) / 256.0;
        10f32.powf(db / 20.0)
    }
}

/// A comment header with vendor "hark" and no user comments.
pub(crate) fn tags_packet() -> Vec<u8> {
    let vendor = b"hark";
    let mut out = Vec::with_capacity(8 + 4 + vendor.len() + 4);
    out.extend_from_slice(TAGS_MAGIC);
    out.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    out.extend_from_slice(vendor);
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // What Hark writes, Hark reads back unchanged.
    #[test]
    fn mono_header_round_trips() -> Result<(), ImportError> {
        let head = OpusHead::mono(312);
        let bytes = head.to_bytes();
        assert_eq!(bytes.len(), 19);
        assert_eq!(OpusHead::parse(&bytes)?, head);
        Ok(())
    }

    // A header claiming zero channels is refused with the dedicated error.
    #[test]
    fn zero_channels_is_refused() {
        let mut bytes = OpusHead::mono(0).to_bytes();
        bytes[9] = 0;
        assert!(matches!(
            OpusHead::parse(&bytes),
            Err(ImportError::ZeroChannels)
        ));
    }

    // Surround (multistream) and future major versions are unsupported, not corrupt.
    #[test]
    fn multistream_and_major_version_are_unsupported() {
        let mut surround = OpusHead::mono(0).to_bytes();
        surround[9] = 6;
        surround[18] = 1;
        surround.extend_from_slice(&[4, 2, 0, 4, 1, 2, 3, 5]);
        assert!(matches!(
            OpusHead::parse(&surround),
            Err(ImportError::Unsupported(_))
        ));

        let mut v2 = OpusHead::mono(0).to_bytes();
        v2[8] = 0x20;
        assert!(matches!(
            OpusHead::parse(&v2),
            Err(ImportError::Unsupported(_))
        ));
    }

    // -6 dB of output gain (Q7.8) is a factor of about 0.5.
    #[test]
    fn gain_is_q7_8_decibels() {
        let head = OpusHead {
            output_gain: -6 * 256,
            ..OpusHead::mono(0)
        };
        assert!((head.gain_factor() - 0.501).abs() < 0.001);
    }
}
