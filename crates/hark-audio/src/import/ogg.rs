//! Ogg Opus input (RFC 7845): pages and packets from the `ogg` crate (which
//! checks every page's CRC), audio from libopus at 48 kHz mono.
//!
//! Trimming follows the RFC: the first `pre_skip` decoded samples are dropped
//! and the stream ends at the last page's granule position, so an encoder's
//! padding is not played. A stream that starts at a non-zero granule
//! position (cut from a live stream) is handled by measuring the offset on
//! its first audio page.
//!
//! Not handled: chained streams (only the first link is imported; later
//! links are ignored without a warning) and multiplexed streams (packets of
//! other logical streams are skipped, with a warning).

use std::io::{ErrorKind, Read, Seek};

use ogg::{OggReadError, Packet, PacketReader};

use super::{Decoded, ImportError, MAX_SECONDS};
use crate::codec::Decoder;
use crate::opus_head::{OpusHead, TAGS_MAGIC};
use crate::SAMPLE_RATE;

/// Longest audio one Opus packet can carry: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: u64 = 5_760;

/// How the audio packets ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The end-of-stream page was read.
    Marked,
    /// The input ended cleanly between pages, but without an end-of-stream page.
    Unmarked,
    /// The input ended inside a page.
    Cut,
}

/// Decodes an Ogg Opus stream whose first page was sniffed as OpusHead.
pub(super) fn decode<R: Read + Seek>(input: R) -> Result<Decoded, ImportError> {
    let mut reader = PacketReader::new(input);
    let first = header_packet(&mut reader)?;
    let head = OpusHead::parse(&first.data)?;
    let serial = first.stream_serial();

    let tags = header_packet(&mut reader)?;
    if tags.stream_serial() != serial || !tags.data.starts_with(TAGS_MAGIC) {
        return Err(ImportError::Corrupt(
            "second ogg packet is not an opus comment header".into(),
        ));
    }

    let mut stream = Stream::new(head)?;
    let end = stream.read_audio(&mut reader, serial)?;
    Ok(stream.finish(end))
}

/// Reads a header packet; the input ending first means a cut header.
fn header_packet<R: Read + Seek>(reader: &mut PacketReader<R>) -> Result<Packet, ImportError> {
    match reader.read_packet() {
        Ok(Some(packet)) => Ok(packet),
        Ok(None) => Err(ImportError::Truncated),
        Err(e) => match from_ogg(e) {
            None => Err(ImportError::Truncated),
            Some(error) => Err(error),
        },
    }
}

/// Maps an ogg read error to an import error; `None` means the input ended
/// inside a page (a cut file).
fn from_ogg(error: OggReadError) -> Option<ImportError> {
    let corrupt = |what: &str| Some(ImportError::Corrupt(what.into()));
    match error {
        OggReadError::ReadError(e) if e.kind() == ErrorKind::UnexpectedEof => None,
        OggReadError::ReadError(e) => Some(ImportError::Io(e)),
        OggReadError::HashMismatch(..) => corrupt("an ogg page fails its checksum"),
        OggReadError::NoCapturePatternFound => corrupt("no ogg page where one should start"),
        OggReadError::InvalidStreamStructVer(_) => {
            corrupt("ogg page with an unknown structure version")
        }
        OggReadError::InvalidData => corrupt("ogg page structure is invalid"),
    }
}

/// Decoding state for the audio packets of one logical stream.
struct Stream {
    head: OpusHead,
    decoder: Decoder,
    /// Every decoded sample, pre-skip included.
    samples: Vec<f32>,
    /// Granule position of the first audio page, and samples decoded through it.
    first_page: Option<(u64, u64)>,
    /// Granule position of the last complete audio page.
    last_granule: Option<u64>,
    packets: usize,
    foreign_packets: usize,
}

impl Stream {
    fn new(head: OpusHead) -> Result<Self, ImportError> {
        let decoder = Decoder::new().map_err(|e| ImportError::Unsupported(e.to_string()))?;
        Ok(Self {
            head,
            decoder,
            samples: Vec::new(),
            first_page: None,
            last_granule: None,
            packets: 0,
            foreign_packets: 0,
        })
    }

    /// Decodes audio packets of `serial` until the stream or the input ends.
    fn read_audio<R: Read + Seek>(
        &mut self,
        reader: &mut PacketReader<R>,
        serial: u32,
    ) -> Result<End, ImportError> {
        loop {
            let packet = match reader.read_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(End::Unmarked),
                Err(e) => return from_ogg(e).map_or(Ok(End::Cut), Err),
            };
            if packet.stream_serial() != serial {
                self.foreign_packets += 1;
                continue;
            }

            self.decode(&packet)?;
            if packet.last_in_stream() {
                return Ok(End::Marked);
            }
            self.check_limit()?;
        }
    }

    /// Decodes one audio packet and notes page granule positions.
    fn decode(&mut self, packet: &Packet) -> Result<(), ImportError> {
        let audio = self.decoder.decode_packet(&packet.data).map_err(|e| {
            ImportError::Corrupt(format!(
                "opus packet {} cannot be decoded ({e})",
                self.packets
            ))
        })?;
        self.samples.extend_from_slice(&audio);
        self.packets += 1;

        // -1 marks a page on which no packet ends; it carries no position.
        let granule = packet.absgp_page();
        if packet.last_in_page() && granule != u64::MAX {
            self.first_page
                .get_or_insert((granule, self.samples.len() as u64));
            self.last_granule = Some(granule);
        }
        Ok(())
    }

    /// Stops decoding once clearly past [`MAX_SECONDS`] (the exact check
    /// happens after trimming).
    fn check_limit(&self) -> Result<(), ImportError> {
        let limit = MAX_SECONDS * u64::from(SAMPLE_RATE)
            + u64::from(self.head.pre_skip)
            + MAX_PACKET_SAMPLES;
        let decoded = self.samples.len() as u64;
        if decoded > limit {
            return Err(ImportError::TooLong {
                seconds: decoded / u64::from(SAMPLE_RATE),
            });
        }
        Ok(())
    }

    /// Trims pre-skip and end padding, applies the header gain.
    fn finish(mut self, end: End) -> Decoded {
        let decoded = self.samples.len();
        let skip = usize::from(self.head.pre_skip).min(decoded);
        let stop = self.end_index().clamp(skip, decoded);
        self.samples.truncate(stop);
        self.samples.drain(..skip);

        let gain = self.head.gain_factor();
        if self.head.output_gain != 0 {
            self.samples.iter_mut().for_each(|s| *s *= gain);
        }
        let warnings = self.warnings(&end);
        Decoded {
            mono: self.samples,
            mono_rate: SAMPLE_RATE,
            source_rate: if self.head.input_rate == 0 {
                SAMPLE_RATE
            } else {
                self.head.input_rate
            },
            source_channels: u16::from(self.head.channels),
            warnings,
        }
    }

    /// Index in the decoded samples where playback ends, from the last
    /// granule position relative to the stream's starting offset.
    fn end_index(&self) -> usize {
        let (Some((first_granule, through_first)), Some(last)) =
            (self.first_page, self.last_granule)
        else {
            return self.samples.len();
        };
        // Granule position of decoded sample 0; zero for ordinary files.
        let start = first_granule.saturating_sub(through_first);
        usize::try_from(last.saturating_sub(start)).unwrap_or(usize::MAX)
    }

    fn warnings(&self, end: &End) -> Vec<String> {
        let seconds = self.samples.len() as f64 / f64::from(SAMPLE_RATE);
        let mut warnings = Vec::new();
        match end {
            End::Marked => {}
            End::Unmarked => warnings.push(format!(
                "the ogg stream ends without its end-of-stream mark and may be cut short; imported {seconds:.2} s"
            )),
            End::Cut => warnings.push(format!("the file is cut short after {seconds:.2} s")),
        }
        if self.foreign_packets > 0 {
            warnings.push(format!(
                "ignored {} packets of another stream multiplexed in the file",
                self.foreign_packets
            ));
        }
        warnings
    }
}
