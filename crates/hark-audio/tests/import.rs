//! Import of every fixture: the valid ones decode to the right shape and
//! length, the broken ones give their documented result, nothing panics.

use std::path::PathBuf;
use std::time::Duration;

use hark_audio::import::{self, ImportError, Imported};
use hark_audio::{FRAME_SAMPLES, SAMPLE_RATE};
use proptest::prelude::*;

const AUDIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/audio");
const BAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/bad");

fn audio(name: &str) -> PathBuf {
    PathBuf::from(AUDIO).join(name)
}

fn bad(name: &str) -> PathBuf {
    PathBuf::from(BAD).join(name)
}

/// A valid fixture and what it must import as: rate and channels stated by
/// the file, and its length in seconds (from `soxi -D`, or `opusinfo`'s
/// playback length for Ogg Opus).
struct Expected {
    file: &'static str,
    rate: u32,
    channels: u16,
    seconds: f64,
}

const VALID: &[Expected] = &[
    Expected {
        file: "speech-22k05-mono-s16.wav",
        rate: 22_050,
        channels: 1,
        seconds: 238_018.0 / 22_050.0,
    },
    Expected {
        file: "speech-16k-mono-s16.wav",
        rate: 16_000,
        channels: 1,
        seconds: 172_711.0 / 16_000.0,
    },
    Expected {
        file: "speech-48k-mono-s16.wav",
        rate: 48_000,
        channels: 1,
        seconds: 518_134.0 / 48_000.0,
    },
    Expected {
        file: "speech-44k1-stereo-s16.wav",
        rate: 44_100,
        channels: 2,
        seconds: 476_036.0 / 44_100.0,
    },
    Expected {
        file: "speech-48k-mono-f32.wav",
        rate: 48_000,
        channels: 1,
        seconds: 518_134.0 / 48_000.0,
    },
    Expected {
        file: "speech-8k-mono-u8.wav",
        rate: 8_000,
        channels: 1,
        seconds: 86_356.0 / 8_000.0,
    },
    Expected {
        file: "speech-96k-stereo-s24-extensible.wav",
        rate: 96_000,
        channels: 2,
        seconds: 3.0,
    },
    Expected {
        file: "speech-16k-mono-mulaw.wav",
        rate: 16_000,
        channels: 1,
        seconds: 172_711.0 / 16_000.0,
    },
    // Ogg Opus reports the encoder's input rate from OpusHead.
    Expected {
        file: "speech-opusenc-24k.opus",
        rate: 22_050,
        channels: 1,
        seconds: 10.794,
    },
    Expected {
        file: "speech-long-80s.opus",
        rate: 22_050,
        channels: 1,
        seconds: 71.772,
    },
    Expected {
        file: "silence-2s-48k.wav",
        rate: 48_000,
        channels: 1,
        seconds: 2.0,
    },
];

fn rms(samples: &[f32]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

// Every valid fixture imports with its rate, channel count and length
// (within one 20 ms frame), without warnings; speech is audible, silence (dithered) nearly silent.
#[test]
fn every_valid_fixture_imports() -> Result<(), ImportError> {
    for expected in VALID {
        let imported = import::read_file(&audio(expected.file))?;
        let samples = imported.pcm.samples.len() as f64;
        let want = expected.seconds * f64::from(SAMPLE_RATE);
        assert!(
            (samples - want).abs() <= FRAME_SAMPLES as f64,
            "{}: {samples} samples, expected {want}",
            expected.file
        );
        assert_eq!(imported.source_rate, expected.rate, "{}", expected.file);
        assert_eq!(
            imported.source_channels, expected.channels,
            "{}",
            expected.file
        );
        assert!(
            imported.warnings.is_empty(),
            "{}: {:?}",
            expected.file,
            imported.warnings
        );

        let level = rms(&imported.pcm.samples);
        if expected.file.starts_with("silence") {
            // The fixture is dithered: samples of 0 and +-1 LSB.
            assert!(level < 1e-4, "{}: rms {level}", expected.file);
        } else {
            assert!(
                level > 0.01 && level < 0.7,
                "{}: rms {level}",
                expected.file
            );
        }
    }
    Ok(())
}

// The 48 kHz fixture needs no resampling: its samples are the file's, scaled.
#[test]
fn native_rate_is_bit_exact() -> Result<(), ImportError> {
    let s16 = import::read_file(&audio("speech-48k-mono-s16.wav"))?;
    let f32 = import::read_file(&audio("speech-48k-mono-f32.wav"))?;
    assert_eq!(s16.pcm.samples.len(), 518_134);
    let worst = s16
        .pcm
        .samples
        .iter()
        .zip(&f32.pcm.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "s16 and f32 versions differ by {worst}");
    Ok(())
}

// Bytes in memory import like the file; a wrong name changes nothing.
#[test]
fn bytes_import_like_files_and_name_is_only_a_hint() -> Result<(), Box<dyn std::error::Error>> {
    let path = audio("speech-opusenc-24k.opus");
    let from_file = import::read_file(&path)?;
    let bytes = std::fs::read(&path)?;
    let from_bytes = import::read_bytes(&bytes, Some("wav"))?;

    assert_eq!(from_bytes.pcm, from_file.pcm);
    // A wrong name is not damage: no warning (callers refuse files with warnings).
    assert!(from_bytes.warnings.is_empty(), "{:?}", from_bytes.warnings);
    Ok(())
}

fn import_bad(name: &str) -> Result<Imported, ImportError> {
    import::read_file(&bad(name))
}

/// Checks that an error is the expected variant.
type IsExpected = fn(&ImportError) -> bool;

// Each broken fixture gets its documented error, with a one-line lower-case message.
#[test]
fn bad_fixtures_give_their_errors() {
    let cases: &[(&str, IsExpected)] = &[
        ("empty.wav", |e| matches!(e, ImportError::Empty)),
        ("truncated-header.wav", |e| {
            matches!(e, ImportError::Truncated)
        }),
        ("noise-bytes.wav", |e| {
            matches!(e, ImportError::UnknownFormat)
        }),
        ("zero-channels.wav", |e| {
            matches!(e, ImportError::ZeroChannels)
        }),
        ("zero-rate.wav", |e| matches!(e, ImportError::ZeroRate)),
        ("huge-data-claim.wav", |e| {
            matches!(e, ImportError::Corrupt(_))
        }),
        ("corrupt-page.opus", |e| {
            matches!(e, ImportError::Corrupt(_))
        }),
    ];
    for (name, expected) in cases {
        let error = match import_bad(name) {
            Ok(imported) => panic!("{name} imported {} samples", imported.pcm.samples.len()),
            Err(error) => error,
        };
        assert!(expected(&error), "{name}: {error:?}");

        let text = error.to_string();
        assert!(
            !text.contains('\n') && text.starts_with(|c: char| c.is_lowercase()),
            "{name}: {text}"
        );
    }
}

// The huge claim is named in the error, and refused before decoding.
#[test]
fn huge_claim_message_names_the_problem() {
    let error = import_bad("huge-data-claim.wav")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "damaged audio file: data chunk announces 134218 s of audio but the file holds 0.03 s"
        )
    );
}

// Cut-short data imports partially, with a warning saying how much is there.
#[test]
fn truncated_wav_imports_partially_with_warning() -> Result<(), ImportError> {
    let imported = import_bad("truncated-data.wav")?;
    // 2956 data bytes of 16-bit mono 16 kHz = 1478 frames, less up to one
    // 1152-frame symphonia packet lost at the cut: between 0 and 92 ms.
    let seconds = imported.pcm.duration().as_secs_f64();
    assert!(seconds <= 0.093, "{seconds} s");
    assert_eq!(
        imported.warnings,
        vec![
            "the file is cut short: it holds 0.09 s of the 10.79 s its header announces"
                .to_string()
        ]
    );
    Ok(())
}

// A cut Ogg Opus file imports up to its last complete page, with a warning.
#[test]
fn truncated_opus_imports_partially_with_warning() -> Result<(), ImportError> {
    let imported = import_bad("truncated.opus")?;
    // opusinfo: the complete pages hold 4.993 s.
    let duration = imported.pcm.duration();
    assert!(
        duration.abs_diff(Duration::from_millis(4_993)) <= Duration::from_millis(20),
        "{duration:?}"
    );
    assert_eq!(imported.warnings.len(), 1);
    assert!(
        imported.warnings[0].starts_with("the file is cut short"),
        "{:?}",
        imported.warnings
    );
    Ok(())
}

// A file that does not exist is an I/O error.
#[test]
fn missing_file_is_io_error() {
    let result = import::read_file(&bad("no-such-file.wav"));
    assert!(matches!(result, Err(ImportError::Io(_))));
}

/// The 22.05 kHz fixture's bytes, for the fuzz-style properties.
fn speech_wav() -> Vec<u8> {
    std::fs::read(audio("speech-22k05-mono-s16.wav")).expect("fixture is readable")
}

fn speech_opus() -> Vec<u8> {
    std::fs::read(audio("speech-opusenc-24k.opus")).expect("fixture is readable")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Random bytes, with or without a plausible magic number, never panic.
    #[test]
    fn random_bytes_never_panic(
        magic in prop::sample::select(vec![&b""[..], b"RIFF", b"OggS"]),
        body in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&body);
        let _ = import::read_bytes(&bytes, Some("wav"));
    }

    // Every truncation of a valid WAV either imports (partially) or fails cleanly.
    #[test]
    fn truncated_wav_never_panics(cut in 0usize..476_080) {
        let wav = speech_wav();
        if let Ok(imported) = import::read_bytes(&wav[..cut], Some("wav")) {
            prop_assert!(imported.pcm.samples.len() <= 518_400);
        }
    }

    // Truncated or byte-flipped Ogg Opus never panics.
    #[test]
    fn damaged_opus_never_panics(cut in 0usize..34_214, flip in 0usize..34_214, bit in 0u8..8) {
        let mut opus = speech_opus();
        opus[flip] ^= 1 << bit;
        let _ = import::read_bytes(&opus[..cut], Some("opus"));
    }

    // Damaged WAV headers (a flipped byte in the first 64) never panic.
    #[test]
    fn damaged_wav_header_never_panics(at in 0usize..64, value in any::<u8>()) {
        let mut wav = speech_wav();
        wav[at] = value;
        let _ = import::read_bytes(&wav, Some("wav"));
    }
}
