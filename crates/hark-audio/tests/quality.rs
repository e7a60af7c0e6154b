//! Calibration of the log-spectral distance: Opus round trips of real
//! speech score under `SAME_SPEECH_MAX_LSD_DB`, different clips above it.
//! Run with `--nocapture` to see the measured numbers.

use hark_audio::codec::{decode_packets, encode_pcm, DEFAULT_BITRATE};
use hark_audio::quality::{log_spectral_distance, SAME_SPEECH_MAX_LSD_DB};
use hark_audio::{import, Pcm};
use rand::{Rng, SeedableRng};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const AUDIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/audio");

fn speech(name: &str) -> Result<Pcm, Box<dyn std::error::Error>> {
    Ok(import::read_file(&std::path::Path::new(AUDIO).join(name))?.pcm)
}

fn round_trip(pcm: &Pcm, bitrate: u32) -> Result<Pcm, Box<dyn std::error::Error>> {
    let encoded = encode_pcm(pcm, bitrate)?;
    Ok(decode_packets(
        &encoded.packets,
        encoded.pre_skip,
        encoded.sample_count,
    )?)
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

// Every speech fixture survives a 24 kbit/s round trip with the same
// length and a distance clearly under the threshold (at most half of it).
#[test]
fn round_trips_score_as_same_speech() -> TestResult {
    for name in [
        "speech-48k-mono-s16.wav",
        "speech-22k05-mono-s16.wav",
        "speech-44k1-stereo-s16.wav",
        "speech-8k-mono-u8.wav",
        "speech-96k-stereo-s24-extensible.wav",
    ] {
        let original = speech(name)?;
        let decoded = round_trip(&original, DEFAULT_BITRATE)?;
        assert_eq!(decoded.samples.len(), original.samples.len(), "{name}");

        let distance = log_spectral_distance(&original, &decoded);
        eprintln!("{name}: opus 24 kbit/s round trip LSD {distance:.2} dB");
        assert!(
            distance < SAME_SPEECH_MAX_LSD_DB / 2.0,
            "{name}: {distance:.2} dB"
        );
    }
    Ok(())
}

// A higher bitrate is closer to the original than a lower one.
#[test]
fn distance_follows_bitrate() -> TestResult {
    let original = speech("speech-48k-mono-s16.wav")?;
    let low = log_spectral_distance(&original, &round_trip(&original, 8_000)?);
    let high = log_spectral_distance(&original, &round_trip(&original, 64_000)?);
    eprintln!("8 kbit/s LSD {low:.2} dB, 64 kbit/s LSD {high:.2} dB");
    assert!(high < low, "64k {high:.2} dB vs 8k {low:.2} dB");
    Ok(())
}

// Different clips score clearly above the threshold (at least 1.5 times it):
// the same speech reversed, the same speech 300 ms late, and white noise
// with the same RMS level.
#[test]
fn different_clips_score_above_threshold() -> TestResult {
    let original = speech("speech-48k-mono-s16.wav")?;
    let len = original.samples.len();

    let reversed = Pcm::new(original.samples.iter().rev().copied().collect());
    let shift = 48_000 * 300 / 1_000;
    let mut late = vec![0.0; shift];
    late.extend_from_slice(&original.samples[..len - shift]);
    let late = Pcm::new(late);

    let level = rms(&original.samples) * 3f32.sqrt(); // uniform noise in +-a has rms a/sqrt(3)
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let noise = Pcm::new((0..len).map(|_| rng.gen_range(-level..level)).collect());
    assert!((rms(&noise.samples) / rms(&original.samples) - 1.0).abs() < 0.01);

    for (what, other) in [
        ("reversed", &reversed),
        ("300 ms late", &late),
        ("white noise", &noise),
    ] {
        let distance = log_spectral_distance(&original, other);
        eprintln!("original vs {what}: LSD {distance:.2} dB");
        assert!(
            distance > SAME_SPEECH_MAX_LSD_DB * 1.5,
            "{what}: {distance:.2} dB"
        );
    }
    Ok(())
}
