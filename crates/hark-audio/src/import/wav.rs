//! WAV input: a walk over the RIFF chunk headers checks every size against
//! the real input, then symphonia decodes the samples, which are down-mixed
//! to mono as they arrive.
//!
//! Why walk the chunks ourselves first: symphonia 0.5.5 allocates a LIST/INFO
//! entry at the size its header claims (up to 4 GB), and reports neither a
//! zero channel count nor a zero rate as such. The walk reads only chunk
//! headers and the 16 fixed bytes of `fmt `; decoding stays with symphonia.

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::RangeInclusive;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::default::formats::WavReader;

use super::{Decoded, ImportError, MAX_SECONDS};

/// Source sample rates accepted. Below 1 kHz is not speech; above 192 kHz
/// only multiplies the memory a 30-minute clip needs before resampling.
const RATES: RangeInclusive<u32> = 1_000..=192_000;

/// A data chunk size meaning "unknown, until end of file", written by tools
/// (ffmpeg, sox) that stream WAV into a pipe.
const STREAMING_SIZE: u32 = u32::MAX;

/// The fixed fields of the `fmt ` chunk that the checks need.
#[derive(Debug, Clone, Copy)]
struct Fmt {
    format_tag: u16,
    channels: u16,
    rate: u32,
    block_align: u16,
    bits: u16,
}

/// Format tags whose sample frame is exactly `channels` samples of whole
/// bytes: integer PCM, IEEE float, A-law, mu-law and the extensible header
/// (which carries one of those). Compressed formats such as ADPCM use
/// `block_align` for their own block size.
const PLAIN_SAMPLE_TAGS: [u16; 5] = [1, 3, 6, 7, 0xFFFE];

/// What the chunk walk learns before any sample is decoded.
#[derive(Debug, Clone, Copy)]
struct Layout {
    fmt: Fmt,
    /// Bytes of audio the data chunk header announces.
    data_claim: u32,
    /// Bytes of audio the input really holds (at most the claim).
    data_present: u64,
}

/// Decodes a WAV held by `source`, which is `len` bytes long and starts with
/// `RIFF....WAVE` (already sniffed).
pub(super) fn decode<S: MediaSource + 'static>(
    mut source: S,
    len: u64,
) -> Result<Decoded, ImportError> {
    let layout = walk_chunks(&mut source, len)?;
    let mut warnings = Vec::new();
    let frames = layout.frames_to_decode(&mut warnings)?;

    source.seek(SeekFrom::Start(0))?;
    let mono = decode_mono(source, frames)?;
    Ok(Decoded {
        mono,
        mono_rate: layout.fmt.rate,
        source_rate: layout.fmt.rate,
        source_channels: layout.fmt.channels,
        warnings,
    })
}

/// Visits chunk headers up to the data chunk, checking that each chunk
/// before it fits inside the input and reading `fmt ` on the way.
fn walk_chunks<R: Read + Seek>(input: &mut R, len: u64) -> Result<Layout, ImportError> {
    let mut pos = 12; // after "RIFF", the RIFF size and "WAVE"
    let mut fmt = None;
    loop {
        input.seek(SeekFrom::Start(pos))?;
        let (tag, size) = read_chunk_header(input, pos, len)?;
        let remaining = len - (pos + 8);

        if &tag == b"data" {
            let fmt = fmt.ok_or_else(|| {
                ImportError::Corrupt("data chunk comes before the fmt chunk".into())
            })?;
            let data_present = remaining.min(u64::from(size));
            return Ok(Layout {
                fmt,
                data_claim: size,
                data_present,
            });
        }
        // A header chunk reaching past the end: the data chunk is never reached.
        if u64::from(size) > remaining {
            return Err(ImportError::Truncated);
        }
        if &tag == b"fmt " {
            fmt = Some(read_fmt(input, size)?);
        }
        // Chunks are padded to an even length.
        pos += 8 + u64::from(size) + u64::from(size & 1);
    }
}

/// Reads the 8-byte chunk header at `pos`; the input ending first means the
/// file was cut inside its header.
fn read_chunk_header<R: Read>(
    input: &mut R,
    pos: u64,
    len: u64,
) -> Result<([u8; 4], u32), ImportError> {
    if pos + 8 > len {
        return Err(ImportError::Truncated);
    }
    let mut header = [0u8; 8];
    input.read_exact(&mut header)?;

    let tag = [header[0], header[1], header[2], header[3]];
    let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    Ok((tag, size))
}

/// Reads and checks the fixed part of `fmt ` (the walk checked it fits).
fn read_fmt<R: Read>(input: &mut R, size: u32) -> Result<Fmt, ImportError> {
    if size < 16 {
        return Err(ImportError::Corrupt(format!(
            "fmt chunk is {size} bytes, fewer than 16"
        )));
    }
    let mut raw = [0u8; 16];
    input.read_exact(&mut raw)?;

    let fmt = Fmt {
        format_tag: u16::from_le_bytes([raw[0], raw[1]]),
        channels: u16::from_le_bytes([raw[2], raw[3]]),
        rate: u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]),
        block_align: u16::from_le_bytes([raw[12], raw[13]]),
        bits: u16::from_le_bytes([raw[14], raw[15]]),
    };
    fmt.check()?;
    Ok(fmt)
}

impl Fmt {
    /// Refuses values that make the stream meaningless or too costly.
    fn check(&self) -> Result<(), ImportError> {
        if self.channels == 0 {
            return Err(ImportError::ZeroChannels);
        }
        if self.rate == 0 {
            return Err(ImportError::ZeroRate);
        }
        if self.block_align == 0 {
            return Err(ImportError::Corrupt(
                "fmt chunk says a sample frame is 0 bytes".into(),
            ));
        }
        // A frame size that disagrees with the channels and sample size
        // would make every length computed from it wrong.
        let expected = u32::from(self.channels) * u32::from(self.bits.div_ceil(8));
        if PLAIN_SAMPLE_TAGS.contains(&self.format_tag) && u32::from(self.block_align) != expected {
            return Err(ImportError::Corrupt(format!(
                "fmt chunk says a sample frame is {} bytes, but {} channels of {}-bit samples make {expected}",
                self.block_align, self.channels, self.bits
            )));
        }
        if !RATES.contains(&self.rate) {
            return Err(ImportError::Unsupported(format!(
                "sample rate {} (accepted: {} to {})",
                self.rate,
                RATES.start(),
                RATES.end()
            )));
        }
        Ok(())
    }
}

impl Layout {
    /// How many frames to decode, refusing over-long audio before decoding.
    ///
    /// A data chunk shorter than announced is imported as far as it goes,
    /// with a warning, as long as the announcement is itself plausible
    /// (within [`MAX_SECONDS`]); announcing more than the limit while holding
    /// far less is treated as a damaged header, not a cut file.
    fn frames_to_decode(&self, warnings: &mut Vec<String>) -> Result<usize, ImportError> {
        let align = u64::from(self.fmt.block_align);
        let rate = u64::from(self.fmt.rate);
        let present = self.data_present / align;
        let claimed = u64::from(self.data_claim) / align;

        if present > MAX_SECONDS * rate {
            return Err(ImportError::TooLong {
                seconds: present / rate,
            });
        }
        if self.data_claim != STREAMING_SIZE && claimed > present {
            let (had, announced) = (present as f64 / rate as f64, claimed as f64 / rate as f64);
            if claimed > MAX_SECONDS * rate {
                return Err(ImportError::Corrupt(format!(
                    "data chunk announces {announced:.0} s of audio but the file holds {had:.2} s"
                )));
            }
            warnings.push(format!(
                "the file is cut short: it holds {had:.2} s of the {announced:.2} s its header announces"
            ));
        }
        // Bounded by the real input size and by MAX_SECONDS at 192 kHz.
        Ok(present as usize)
    }
}

/// Decodes up to `frames` frames with symphonia, down-mixing to mono.
fn decode_mono<S: MediaSource + 'static>(
    source: S,
    frames: usize,
) -> Result<Vec<f32>, ImportError> {
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut reader =
        WavReader::try_new(stream, &FormatOptions::default()).map_err(from_symphonia)?;
    let track = reader.default_track().ok_or(ImportError::NoAudio)?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(from_symphonia)?;

    let mut mono = Vec::with_capacity(frames);
    let mut scratch = None;
    while mono.len() < frames {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            // End of the data chunk, or of a cut-short file (already warned
            // about). Known loss: symphonia reads up to 1152 frames per packet
            // and drops a packet the cut leaves incomplete, so a cut-short
            // file loses up to 1152 frames before its cut, unreported.
            Err(SymphoniaError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(from_symphonia(e)),
        };
        let audio = decoder.decode(&packet).map_err(from_symphonia)?;
        mix_down(audio, &mut scratch, &mut mono);
    }
    mono.truncate(frames);
    Ok(mono)
}

/// Appends the mean of all channels of each frame to `mono`.
fn mix_down(
    audio: AudioBufferRef<'_>,
    scratch: &mut Option<SampleBuffer<f32>>,
    mono: &mut Vec<f32>,
) {
    let spec = *audio.spec();
    let channels = spec.channels.count().max(1);
    let needed = audio.frames() * channels;

    // The interleaving buffer is reused across packets; packets share one spec.
    let buffer = match scratch {
        Some(buffer) if buffer.capacity() >= needed => buffer,
        _ => scratch.insert(SampleBuffer::new(audio.capacity() as u64, spec)),
    };
    buffer.copy_interleaved_ref(audio);

    let scale = 1.0 / channels as f32;
    let frames = buffer.samples().chunks_exact(channels);
    mono.extend(frames.map(|frame| frame.iter().sum::<f32>() * scale));
}

/// Maps symphonia's errors onto import errors.
fn from_symphonia(error: SymphoniaError) -> ImportError {
    match error {
        SymphoniaError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            ImportError::Truncated
        }
        SymphoniaError::IoError(e) => ImportError::Io(e),
        SymphoniaError::Unsupported(what) => ImportError::Unsupported(what.to_string()),
        other => ImportError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A canonical 44-byte header for 16-bit PCM, with the given data size.
    fn header(channels: u16, rate: u32, data_size: u32) -> Vec<u8> {
        let align = 2 * channels;
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(36u32.wrapping_add(data_size)).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0");
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        out.extend_from_slice(&align.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_size.to_le_bytes());
        out
    }

    fn decode_bytes(bytes: Vec<u8>) -> Result<Decoded, ImportError> {
        let len = bytes.len() as u64;
        decode(Cursor::new(bytes), len)
    }

    // Stereo frames are averaged: (0.5 + -0.25) / 2 per frame.
    #[test]
    fn stereo_is_averaged() -> Result<(), ImportError> {
        let mut bytes = header(2, 8_000, 8);
        for sample in [16384i16, -8192, 16384, -8192] {
            bytes.extend_from_slice(&sample.to_le_bytes());
        }
        let decoded = decode_bytes(bytes)?;
        assert_eq!(decoded.mono, vec![0.125, 0.125]);
        assert_eq!(decoded.source_channels, 2);
        Ok(())
    }

    // A LIST chunk claiming 4 GB in a small file is refused before symphonia sees it.
    #[test]
    fn oversized_list_chunk_is_refused() {
        let mut bytes = b"RIFF\xff\xff\xff\xffWAVELIST\xf0\xff\xff\xffINFO".to_vec();
        bytes.resize(200, 0);
        assert!(matches!(decode_bytes(bytes), Err(ImportError::Truncated)));
    }

    // A streaming header (data size 0xFFFFFFFF) plays to the end of the file, no warning.
    #[test]
    fn streaming_size_reads_to_end() -> Result<(), ImportError> {
        let mut bytes = header(1, 8_000, STREAMING_SIZE);
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 2 * 400]);
        let decoded = decode_bytes(bytes)?;
        assert_eq!(decoded.mono.len(), 400);
        assert!(decoded.warnings.is_empty());
        Ok(())
    }

    // Rates outside the accepted range are unsupported, with the rate named.
    #[test]
    fn extreme_rate_is_unsupported() {
        let bytes = header(1, 400_000, 0);
        let error = decode_bytes(bytes).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unsupported audio: sample rate 400000 (accepted: 1000 to 192000)")
        );
    }

    // 31 minutes of real data is refused from the header, before decoding.
    #[test]
    fn over_limit_is_too_long() {
        let rate = 1_000u32;
        let size = 2 * rate * 31 * 60;
        let mut bytes = header(1, rate, size);
        bytes.resize(bytes.len() + size as usize, 0);
        assert!(matches!(
            decode_bytes(bytes),
            Err(ImportError::TooLong { seconds: 1860 })
        ));
    }

    // A header whose frame size disagrees with its channels and sample
    // size is refused, not decoded at the wrong length.
    #[test]
    fn lying_block_align_is_refused() {
        let mut bytes = header(1, 8_000, 800);
        bytes[32..34].copy_from_slice(&7u16.to_le_bytes());
        bytes.resize(bytes.len() + 800, 0);
        let error = decode_bytes(bytes).err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("sample frame is 7 bytes")),
            "{error:?}"
        );
    }
}
