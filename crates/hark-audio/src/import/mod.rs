//! Audio files in: WAV or Ogg Opus, any rate and channel count, out as
//! 48 kHz mono [`Pcm`].
//!
//! The format is sniffed from the content, never taken from the name:
//! `RIFF....WAVE` goes to `wav` (symphonia), `OggS` whose first packet is
//! `OpusHead` goes to `ogg` (ogg + libopus). Both hand back mono samples
//! at their own rate; `resample` brings them to 48 kHz.
//!
//! Cut-short input: a WAV whose data chunk is shorter than its header says,
//! and an Ogg Opus stream that stops before its end-of-stream page, are
//! imported as far as they go, with a line in [`Imported::warnings`]. A file
//! cut inside its header, before any audio, fails with
//! [`ImportError::Truncated`].
//!
//! Memory: nothing is allocated from a length field. A WAV's chunk sizes are
//! checked against the real size of the input before symphonia reads them,
//! and buffers grow only with audio actually decoded. The whole clip is held
//! at its source rate before resampling; at the [`MAX_SECONDS`] limit and
//! the highest accepted rate that is about 1.4 GB of `f32`, a known cost
//! until resampling is made streaming.

mod ogg;
mod resample;
mod wav;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::opus_head::HEAD_MAGIC;
use crate::{Pcm, SAMPLE_RATE};

/// Longest input accepted, in seconds (30 minutes).
pub const MAX_SECONDS: u64 = 30 * 60;

/// Bytes read to recognise a format: an Ogg page header with a full lacing
/// table plus the 8-byte packet magic.
const SNIFF_LEN: usize = 27 + 255 + 8;

/// A decoded, down-mixed and resampled audio file.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The audio, mono at 48 kHz.
    pub pcm: Pcm,
    /// The rate stated by the file: the WAV sample rate, or for Ogg Opus the
    /// encoder's input rate from OpusHead (48000 when it says "unknown").
    pub source_rate: u32,
    /// Channels in the file before down-mixing.
    pub source_channels: u16,
    /// Damage that did not stop the import, one sentence each: data cut
    /// short, a missing end-of-stream mark, ignored multiplexed streams.
    /// Empty for a sound file; callers may refuse any file with warnings.
    pub warnings: Vec<String>,
}

/// Why a file could not be imported. Display texts are one lower-case line
/// naming the problem; the caller adds the file name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be opened or read (missing, no permission, disk
    /// error). Retrying helps only if the cause was transient.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The input holds zero bytes. Retrying does not help.
    #[error("file is empty")]
    Empty,
    /// The content is neither WAV nor Ogg Opus (whatever the name says).
    /// Retrying does not help; convert the file first.
    #[error("not a wav or ogg opus file")]
    UnknownFormat,
    /// The file ends inside its header, before any audio. Retrying does not
    /// help; the file was probably not copied completely.
    #[error("file is cut short before its audio starts")]
    Truncated,
    /// A well-formed file using something Hark does not decode (e.g. an Ogg
    /// Vorbis stream, surround Opus, an exotic WAV codec or sample rate).
    /// Retrying does not help; convert the file first.
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The header says the audio has no channels. Retrying does not help.
    #[error("header says the audio has 0 channels")]
    ZeroChannels,
    /// The header says the sample rate is zero. Retrying does not help.
    #[error("header says the sample rate is 0")]
    ZeroRate,
    /// The file contradicts itself or its checksums (damaged bytes, a size
    /// field far beyond the real file). Retrying does not help.
    #[error("damaged audio file: {0}")]
    Corrupt(String),
    /// The audio lasts longer than [`MAX_SECONDS`]. For WAV this is known from
    /// the header before decoding; for Ogg Opus decoding stops once past the
    /// limit, so `seconds` is where it stopped. Retrying does not help.
    #[error("audio lasts {seconds} s, more than the {MAX_SECONDS} s limit")]
    TooLong {
        /// Whole seconds of audio found (or decoded before stopping).
        seconds: u64,
    },
    /// The file is well formed but holds no audio samples. Retrying does not help.
    #[error("file holds no audio samples")]
    NoAudio,
}

/// Reads and decodes an audio file. The format comes from the content; an
/// extension that disagrees is only logged (at debug level).
pub fn read_file(path: &Path) -> Result<Imported, ImportError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let head = read_head(&mut file)?;
    let format = sniff(&head)?;

    file.seek(SeekFrom::Start(0))?;
    let decoded = match format {
        Format::Wav => guard(|| wav::decode(file, len))?,
        Format::OggOpus => guard(|| ogg::decode(BufReader::new(file)))?,
    };
    let hint = path.extension().and_then(|ext| ext.to_str());
    finish(decoded, format, hint)
}

/// Decodes an audio file held in memory. `hint` is the file's extension, if
/// known; the content decides the format, and a disagreeing hint is only
/// logged (at debug level).
pub fn read_bytes(bytes: &[u8], hint: Option<&str>) -> Result<Imported, ImportError> {
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let format = sniff(head)?;

    // symphonia wants an owned ('static) source, so WAV input is copied once.
    let decoded = match format {
        Format::Wav => {
            guard(|| wav::decode(std::io::Cursor::new(bytes.to_vec()), bytes.len() as u64))?
        }
        Format::OggOpus => guard(|| ogg::decode(std::io::Cursor::new(bytes)))?,
    };
    finish(decoded, format, hint)
}

/// What a container decoder hands back: mono samples at `mono_rate`.
#[derive(Debug)]
struct Decoded {
    mono: Vec<f32>,
    mono_rate: u32,
    source_rate: u32,
    source_channels: u16,
    warnings: Vec<String>,
}

/// The formats Hark imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Wav,
    OggOpus,
}

impl Format {
    /// Extensions that honestly name this format.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Wav => &["wav", "wave"],
            Format::OggOpus => &["opus", "ogg", "oga"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::OggOpus => "ogg opus",
        }
    }
}

/// Reads up to [`SNIFF_LEN`] bytes (fewer only at end of file).
fn read_head(file: &mut File) -> Result<Vec<u8>, ImportError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    file.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Recognises the container from its first bytes.
fn sniff(head: &[u8]) -> Result<Format, ImportError> {
    if head.is_empty() {
        return Err(ImportError::Empty);
    }
    if head.starts_with(b"RIFF") {
        return sniff_riff(head);
    }
    if head.starts_with(b"OggS") {
        return sniff_ogg(head);
    }

    // A file shorter than a magic number that matches it so far was cut.
    if b"RIFF".starts_with(head) || b"OggS".starts_with(head) {
        return Err(ImportError::Truncated);
    }
    if head.starts_with(b"RIFX") || head.starts_with(b"RF64") {
        return Err(ImportError::Unsupported(
            "big-endian (rifx) or rf64 wav".into(),
        ));
    }
    Err(ImportError::UnknownFormat)
}

fn sniff_riff(head: &[u8]) -> Result<Format, ImportError> {
    match head.get(8..12) {
        None => Err(ImportError::Truncated),
        Some(b"WAVE") => Ok(Format::Wav),
        Some(_) => Err(ImportError::Unsupported(
            "riff file that is not wave audio".into(),
        )),
    }
}

/// An Ogg file is Opus if the first packet of its first page is OpusHead.
fn sniff_ogg(head: &[u8]) -> Result<Format, ImportError> {
    let Some(&segments) = head.get(26) else {
        return Err(ImportError::Truncated);
    };
    let payload = 27 + usize::from(segments);
    match head.get(payload..payload + HEAD_MAGIC.len()) {
        None => Err(ImportError::Truncated),
        Some(magic) if magic == HEAD_MAGIC => Ok(Format::OggOpus),
        Some(_) => Err(ImportError::Unsupported(
            "ogg stream that is not opus".into(),
        )),
    }
}

/// Runs a third-party parser on untrusted bytes, turning a panic inside it
/// into an error: a damaged file must never take the application down.
fn guard<T>(decode: impl FnOnce() -> Result<T, ImportError>) -> Result<T, ImportError> {
    catch_unwind(AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        tracing::debug!("audio decoder panicked on malformed input");
        Err(ImportError::Corrupt(
            "the decoder gave up on malformed data".into(),
        ))
    })
}

/// Common tail of both formats: resample, check limits, log a misleading name.
fn finish(decoded: Decoded, format: Format, hint: Option<&str>) -> Result<Imported, ImportError> {
    if decoded.mono.is_empty() {
        return Err(ImportError::NoAudio);
    }
    let samples = resample::to_48k(decoded.mono, decoded.mono_rate)?;
    check_length(samples.len() as u64)?;

    // Not a warning: callers treat warnings as damage, and a wrong name is not.
    if let Some(mismatch) = extension_mismatch(format, hint) {
        tracing::debug!(%mismatch, "content and file name disagree");
    }
    let warnings = decoded.warnings;
    tracing::debug!(
        format = format.name(),
        source_rate = decoded.source_rate,
        source_channels = decoded.source_channels,
        samples = samples.len(),
        warnings = warnings.len(),
        "imported audio"
    );
    Ok(Imported {
        pcm: Pcm::new(samples),
        source_rate: decoded.source_rate,
        source_channels: decoded.source_channels,
        warnings,
    })
}

/// Refuses more than [`MAX_SECONDS`] of 48 kHz samples.
fn check_length(samples_48k: u64) -> Result<(), ImportError> {
    let seconds = samples_48k / u64::from(SAMPLE_RATE);
    if samples_48k > MAX_SECONDS * u64::from(SAMPLE_RATE) {
        return Err(ImportError::TooLong { seconds });
    }
    Ok(())
}

/// A note when the extension names another format than the content.
fn extension_mismatch(format: Format, hint: Option<&str>) -> Option<String> {
    let ext = hint?.trim_start_matches('.').to_ascii_lowercase();
    if format.extensions().contains(&ext.as_str()) {
        return None;
    }
    Some(format!(
        "the file is {} although its name ends in .{ext}",
        format.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Magic numbers decide the format; partial magic means a cut file.
    #[test]
    fn sniff_recognises_formats_and_cut_magic() {
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt ").ok(), Some(Format::Wav));
        assert!(matches!(sniff(b"RIF"), Err(ImportError::Truncated)));
        assert!(matches!(sniff(b"RIFF\0\0"), Err(ImportError::Truncated)));
        assert!(matches!(
            sniff(b"RIFF\0\0\0\0AVI "),
            Err(ImportError::Unsupported(_))
        ));
        assert!(matches!(sniff(b"ID3\x04"), Err(ImportError::UnknownFormat)));
        assert!(matches!(sniff(b""), Err(ImportError::Empty)));
    }

    // An Ogg page whose packet is not OpusHead (e.g. Vorbis) is unsupported.
    #[test]
    fn sniff_tells_opus_from_other_ogg() {
        let mut page = b"OggS".to_vec();
        page.resize(26, 0);
        page.push(1); // one lacing value
        page.push(30);
        let mut opus = page.clone();
        opus.extend_from_slice(b"OpusHead");
        page.extend_from_slice(b"\x01vorbis\0");
        assert_eq!(sniff(&opus).ok(), Some(Format::OggOpus));
        assert!(matches!(sniff(&page), Err(ImportError::Unsupported(_))));
    }

    // A note is made only when the extension disagrees with the content.
    #[test]
    fn extension_mismatch_is_noted() {
        assert_eq!(extension_mismatch(Format::Wav, Some("WAV")), None);
        assert_eq!(extension_mismatch(Format::OggOpus, None), None);
        let warning = extension_mismatch(Format::OggOpus, Some("wav"));
        assert_eq!(
            warning.as_deref(),
            Some("the file is ogg opus although its name ends in .wav")
        );
    }

    // Exactly 30 minutes is accepted, one sample more is not.
    #[test]
    fn length_limit_is_inclusive() {
        let limit = MAX_SECONDS * u64::from(SAMPLE_RATE);
        assert!(check_length(limit).is_ok());
        assert!(matches!(
            check_length(limit + 1),
            Err(ImportError::TooLong { seconds: 1800 })
        ));
    }
}
