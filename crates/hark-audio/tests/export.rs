//! Export: Ogg Opus files that opus-tools accept and decode to the right
//! length, and WAV files that re-import unchanged.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use hark_audio::codec::{decode_packets, encode_pcm, Encoded, DEFAULT_BITRATE};
use hark_audio::export::{write_ogg_opus, write_wav};
use hark_audio::import::{self, ImportError};
use hark_audio::{Pcm, FRAME_SAMPLES};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SPEECH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/audio/speech-22k05-mono-s16.wav"
);

fn encoded_speech() -> Result<(Pcm, Encoded), Box<dyn std::error::Error>> {
    let pcm = import::read_file(Path::new(SPEECH))?.pcm;
    let encoded = encode_pcm(&pcm, DEFAULT_BITRATE)?;
    Ok((pcm, encoded))
}

fn ogg_bytes(encoded: &Encoded) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    write_ogg_opus(
        &mut out,
        &encoded.packets,
        encoded.pre_skip,
        encoded.sample_count,
    )?;
    Ok(out)
}

/// Whether an opus-tools program can be run; says why not when it cannot.
fn tool_available(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found {
        eprintln!("skipping: {name} is not installed (apt-get install -y opus-tools)");
    }
    found
}

// opusinfo accepts the exported stream without warnings, and opusdec at
// 48 kHz decodes it to the clip's length within one frame.
#[test]
fn opus_tools_accept_the_export() -> TestResult {
    if !tool_available("opusinfo") || !tool_available("opusdec") {
        return Ok(());
    }
    let (pcm, encoded) = encoded_speech()?;
    let dir = tempfile::tempdir()?;
    let ogg = dir.path().join("speech.opus");
    std::fs::write(&ogg, ogg_bytes(&encoded)?)?;

    let info = Command::new("opusinfo").arg(&ogg).output()?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&info.stdout),
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(info.status.success(), "{report}");
    assert!(
        !report.contains("WARNING") && !report.contains("ERROR"),
        "{report}"
    );
    assert!(
        report.contains("Pre-skip: 312") && report.contains("Channels: 1"),
        "{report}"
    );
    assert!(report.contains("Playback length: 0m:10.794s"), "{report}");

    let wav = dir.path().join("decoded.wav");
    let status = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000"])
        .arg(&ogg)
        .arg(&wav)
        .status()?;
    assert!(status.success());
    let decoded = hound::WavReader::open(&wav)?;
    let frames = u64::from(decoded.duration());
    eprintln!(
        "opusdec: {frames} samples for {} encoded",
        encoded.sample_count
    );
    assert!(frames.abs_diff(pcm.samples.len() as u64) <= FRAME_SAMPLES as u64);
    Ok(())
}

// Hark's own importer reads the export back to exactly the decoded clip:
// same length (end trimming honoured), same samples, stated as 48 kHz mono.
#[test]
fn export_reimports_exactly() -> TestResult {
    let (_, encoded) = encoded_speech()?;
    let imported = import::read_bytes(&ogg_bytes(&encoded)?, Some("opus"))?;
    let decoded = decode_packets(&encoded.packets, encoded.pre_skip, encoded.sample_count)?;

    assert_eq!(imported.pcm.samples.len() as u64, encoded.sample_count);
    assert_eq!(imported.pcm, decoded);
    assert_eq!(
        (imported.source_rate, imported.source_channels),
        (48_000, 1)
    );
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    Ok(())
}

// Each export gets its own random serial number (bytes 14..18 of the first page).
#[test]
fn serial_numbers_differ() -> TestResult {
    let encoded = encode_pcm(&Pcm::new(vec![0.0; 4_800]), DEFAULT_BITRATE)?;
    let (a, b) = (ogg_bytes(&encoded)?, ogg_bytes(&encoded)?);
    assert_ne!(a[14..18], b[14..18]);
    Ok(())
}

// An empty clip exports as a valid stream that re-imports as "no audio".
#[test]
fn empty_clip_round_trips_to_no_audio() -> TestResult {
    let encoded = encode_pcm(&Pcm::default(), DEFAULT_BITRATE)?;
    let result = import::read_bytes(&ogg_bytes(&encoded)?, Some("opus"));
    assert!(matches!(result, Err(ImportError::NoAudio)), "{result:?}");
    Ok(())
}

// The WAV export re-imports to the same length and, within 16-bit rounding,
// the same samples; values beyond full scale come back clipped.
#[test]
fn wav_export_reimports() -> TestResult {
    let (pcm, _) = encoded_speech()?;
    let mut loud = pcm.clone();
    loud.samples[1_000] = 1.7;
    loud.samples[1_001] = -2.0;

    let mut file = Cursor::new(Vec::new());
    write_wav(&mut file, &loud)?;
    let back = import::read_bytes(file.get_ref(), Some("wav"))?;

    assert_eq!(back.pcm.samples.len(), pcm.samples.len());
    assert_eq!((back.source_rate, back.source_channels), (48_000, 1));
    assert!((back.pcm.samples[1_000] - 32767.0 / 32768.0).abs() < 1e-6);
    assert!((back.pcm.samples[1_001] + 32767.0 / 32768.0).abs() < 1e-6);
    let worst = pcm
        .samples
        .iter()
        .zip(&back.pcm.samples)
        .skip(1_002)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    // Rounding to 16 bits, plus the 32767 vs 32768 full-scale convention.
    assert!(worst <= 2.0 / 32_767.0, "worst difference {worst}");
    Ok(())
}
