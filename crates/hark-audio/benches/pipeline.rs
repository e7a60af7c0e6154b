//! The send and receive paths' speed, next to opus-tools on the same file.
//!
//! Send: import (WAV 22.05 kHz → 48 kHz mono) + Opus encoding + sealing for
//! one recipient and the sender (hark-proto's envelope, as hark-node does).
//! Receive: verifying and opening the sealed frames + Opus decoding + WAV
//! writing. opusenc/opusdec run as child processes, so their figures
//! include process start-up (a few ms per run).
//!
//! Run: `cargo bench -p hark-audio --bench pipeline`. After criterion's
//! report, "x real time" figures (median of a few timed runs) are printed.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use hark_audio::codec::{decode_packets, encode_pcm, Encoded, DEFAULT_BITRATE};
use hark_audio::export::write_wav;
use hark_audio::import;
use hark_proto::envelope::{open_message, Codec, SealedFrame, Sealer, SignedHeader, SignedTrailer};
use hark_proto::identity::Identity;

const SPEECH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/audio/speech-22k05-mono-s16.wav"
);

/// Length of the fixture's audio (238018 samples at 22.05 kHz).
const AUDIO_SECONDS: f64 = 238_018.0 / 22_050.0;

/// A message sealed for one recipient and its sender.
struct Sealed {
    header: SignedHeader,
    frames: Vec<SealedFrame>,
    trailer: SignedTrailer,
    pre_skip: u16,
}

struct People {
    sender: Identity,
    recipient: Identity,
}

fn import_and_encode(bytes: &[u8]) -> Encoded {
    let imported = import::read_bytes(bytes, Some("wav")).expect("the fixture imports");
    encode_pcm(&imported.pcm, DEFAULT_BITRATE).expect("speech encodes")
}

fn import_encode_seal(bytes: &[u8], people: &People) -> Sealed {
    let encoded = import_and_encode(bytes);
    let codec = Codec {
        sample_rate: 48_000,
        frame_samples: 960,
        pre_skip: encoded.pre_skip,
        bitrate: DEFAULT_BITRATE,
    };
    let audience = [people.sender.public(), people.recipient.public()];
    let (mut sealer, header) =
        Sealer::new(&people.sender, &audience, codec, 0).expect("sealing starts");
    let last = encoded.packets.len() - 1;
    let frames = encoded
        .packets
        .iter()
        .enumerate()
        .map(|(i, p)| sealer.seal_frame(p, i == last).expect("a frame seals"))
        .collect();
    let trailer = sealer.finish(encoded.sample_count).expect("sealing ends");
    Sealed {
        header,
        frames,
        trailer,
        pre_skip: encoded.pre_skip,
    }
}

fn open_decode_wav(sealed: &Sealed, people: &People) -> Vec<u8> {
    let (_, trailer, packets) = open_message(
        &people.recipient,
        &sealed.header,
        &sealed.frames,
        &sealed.trailer,
    )
    .expect("the recipient opens it");
    let pcm = decode_packets(&packets, sealed.pre_skip, trailer.sample_count)
        .expect("own packets decode");
    let mut wav = Cursor::new(Vec::with_capacity(pcm.samples.len() * 2 + 44));
    write_wav(&mut wav, &pcm).expect("writing to memory succeeds");
    wav.into_inner()
}

fn opusenc(input: &Path, output: &Path) {
    let status = Command::new("opusenc")
        .args(["--bitrate", "24", "--quiet"])
        .arg(input)
        .arg(output)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "opusenc failed");
}

fn opusdec(input: &Path, output: &Path) {
    let status = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000"])
        .arg(input)
        .arg(output)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "opusdec failed");
}

fn tools_available() -> bool {
    ["opusenc", "opusdec"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok())
}

/// Files shared by the external-tool runs.
struct Scratch {
    _dir: tempfile::TempDir,
    opus: PathBuf,
    wav: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("a temp dir can be made");
    let opus = dir.path().join("speech.opus");
    let wav = dir.path().join("decoded.wav");
    Scratch {
        _dir: dir,
        opus,
        wav,
    }
}

fn benches(c: &mut Criterion, bytes: &[u8], people: &People, tools: Option<&Scratch>) {
    let sealed = import_encode_seal(bytes, people);
    let mut group = c.benchmark_group("speech-22k05 (10.8 s)");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("hark import+encode+seal", |b| {
        b.iter(|| import_encode_seal(bytes, people))
    });
    group.bench_function("hark open+decode+wav", |b| {
        b.iter(|| open_decode_wav(&sealed, people))
    });
    if let Some(files) = tools {
        let input = Path::new(SPEECH);
        group.bench_function("opusenc", |b| b.iter(|| opusenc(input, &files.opus)));
        opusenc(input, &files.opus);
        group.bench_function("opusdec", |b| b.iter(|| opusdec(&files.opus, &files.wav)));
    }
    group.finish();
}

/// Median wall time of `runs` calls.
fn median_time(runs: usize, mut job: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            job();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn real_time_report(bytes: &[u8], people: &People, tools: Option<&Scratch>) {
    let speed = |time: Duration| AUDIO_SECONDS / time.as_secs_f64();
    let sealed = import_encode_seal(bytes, people);
    let encode = speed(median_time(7, || drop(import_encode_seal(bytes, people))));
    let decode = speed(median_time(7, || drop(open_decode_wav(&sealed, people))));
    println!("\nx real time on {AUDIO_SECONDS:.1} s of speech (median of 7 runs):");
    println!("  hark import+encode+seal  {encode:8.0}x");
    println!("  hark open+decode+wav     {decode:8.0}x");

    let Some(files) = tools else {
        println!("  opusenc/opusdec not installed: no comparison (apt-get install -y opus-tools)");
        return;
    };
    let input = Path::new(SPEECH);
    let tool_encode = speed(median_time(7, || opusenc(input, &files.opus)));
    let tool_decode = speed(median_time(7, || opusdec(&files.opus, &files.wav)));
    println!(
        "  opusenc                  {tool_encode:8.0}x   (hark / opusenc = {:.2})",
        encode / tool_encode
    );
    println!(
        "  opusdec                  {tool_decode:8.0}x   (hark / opusdec = {:.2})",
        decode / tool_decode
    );
}

fn main() {
    let bytes = std::fs::read(SPEECH).expect("the fixture is readable");
    let files = tools_available().then(scratch);

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let people = People {
        sender: Identity::generate(),
        recipient: Identity::generate(),
    };
    benches(&mut c, &bytes, &people, files.as_ref());
    c.final_summary();
    real_time_report(&bytes, &people, files.as_ref());
}
