//! End-to-end tests on small real files made with ffmpeg (3 s tones; see
//! `tests/fixtures/transcode/README.md`).
//! Outputs are checked by independent parsing: Ogg/OpusHead + libopus decode for Opus,
//! symphonia for MP3.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

/// The one path to adjust when the module moves.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transcode")
        .join(name)
}

const SOURCE_SECS: f64 = 3.0;
const SOURCES: [&str; 8] = [
    "tone.mp3",
    "tone.flac",
    "tone.ogg",
    "tone.opus",
    "tone_aac.m4a",
    "tone_alac.m4a",
    "tone.wav",
    "tone.aiff",
];
/// Duration tolerance (brief: within 0.5 s of the source).
const DURATION_TOL_SECS: f64 = 0.5;
/// Bitrate tolerance: +-25% of the target over a 3 s file.
const BITRATE_TOL: f64 = 0.25;

fn spec(codec: Codec, kbps: u32, offset: f64) -> Spec {
    Spec {
        codec,
        bitrate_kbps: kbps,
        offset_secs: offset,
    }
}

fn run_to_vec(path: &Path, spec: &Spec) -> Result<(Outcome, Vec<u8>, usize), TranscodeError> {
    let mut bytes = Vec::new();
    let mut calls = 0usize;
    let outcome = transcode(path, spec, &mut |chunk| {
        calls += 1;
        bytes.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok((outcome, bytes, calls))
}

#[derive(Debug)]
struct Probe {
    duration_secs: f64,
    kbps: f64,
    channels: usize,
    sample_rate: u32,
}

fn probe_opus(bytes: &[u8]) -> Probe {
    let mut reader = ogg::PacketReader::new(Cursor::new(bytes));
    let head = reader.read_packet_expected().expect("OpusHead packet");
    assert_eq!(&head.data[..8], b"OpusHead");
    assert_eq!(head.data[8], 1, "OpusHead version");
    let channels = head.data[9] as usize;
    let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as u64;
    assert!(
        head.first_in_page() && head.last_in_page(),
        "OpusHead alone on its page"
    );
    let tags = reader.read_packet_expected().expect("OpusTags packet");
    assert_eq!(&tags.data[..8], b"OpusTags");

    let opus_channels = if channels == 1 {
        ::opus::Channels::Mono
    } else {
        ::opus::Channels::Stereo
    };
    let mut decoder = ::opus::Decoder::new(48_000, opus_channels).expect("decoder");
    let mut pcm = vec![0f32; 5760 * channels];
    let (mut audio_bytes, mut decoded, mut last_granule, mut saw_eos) = (0usize, 0u64, 0u64, false);
    let mut prev_granule = 0u64;
    while let Some(p) = reader.read_packet().expect("valid Ogg") {
        audio_bytes += p.data.len();
        decoded += decoder
            .decode_float(&p.data, &mut pcm, false)
            .expect("decodable packet") as u64;
        if p.last_in_page() {
            let g = p.absgp_page();
            assert!(g >= prev_granule, "granule positions must not decrease");
            prev_granule = g;
        }
        last_granule = p.absgp_page();
        saw_eos |= p.last_in_stream();
    }
    assert!(saw_eos, "stream must end with an EOS page");
    assert!(
        last_granule <= decoded,
        "final granule {last_granule} beyond decoded {decoded}"
    );
    assert!(
        decoded - last_granule < 960,
        "end trimming must be less than one frame"
    );
    let duration_secs = (last_granule - pre_skip) as f64 / 48_000.0;
    Probe {
        duration_secs,
        kbps: audio_bytes as f64 * 8.0 / duration_secs / 1000.0,
        channels,
        sample_rate: 48_000,
    }
}

fn probe_mp3(bytes: &[u8]) -> Probe {
    use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_MP3};
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .expect("symphonia recognises the MP3");
    let mut format = probed.format;
    let track = format.default_track().expect("track").clone();
    assert_eq!(track.codec_params.codec, CODEC_TYPE_MP3);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .expect("mp3 decoder");
    let (mut frames, mut sample_rate, mut channels) = (0u64, 0u32, 0usize);
    while let Ok(packet) = format.next_packet() {
        let decoded = decoder.decode(&packet).expect("decodable MP3 frame");
        frames += decoded.frames() as u64;
        sample_rate = decoded.spec().rate;
        channels = decoded.spec().channels.count();
    }
    let duration_secs = frames as f64 / f64::from(sample_rate);
    Probe {
        duration_secs,
        kbps: bytes.len() as f64 * 8.0 / duration_secs / 1000.0,
        channels,
        sample_rate,
    }
}

fn probe(codec: Codec, bytes: &[u8]) -> Probe {
    match codec {
        Codec::Opus => probe_opus(bytes),
        Codec::Mp3 => probe_mp3(bytes),
    }
}

fn check(name: &str, codec: Codec, kbps: u32, offset: f64, failures: &mut Vec<String>) {
    let s = spec(codec, kbps, offset);
    let (outcome, bytes, calls) = match run_to_vec(&fixture(name), &s) {
        Ok(r) => r,
        Err(e) => {
            failures.push(format!("{name} -> {codec:?}: {e}"));
            return;
        }
    };
    let p = probe(codec, &bytes);
    let want = SOURCE_SECS - offset;
    let mut problems = Vec::new();
    if (p.duration_secs - want).abs() > DURATION_TOL_SECS {
        problems.push(format!("duration {:.3}s, want {want:.3}s", p.duration_secs));
    }
    if (outcome.duration_ms as f64 / 1000.0 - want).abs() > DURATION_TOL_SECS {
        problems.push(format!("outcome duration {} ms", outcome.duration_ms));
    }
    if (p.kbps - f64::from(kbps)).abs() > f64::from(kbps) * BITRATE_TOL {
        problems.push(format!("bitrate {:.1} kbps, want {kbps}", p.kbps));
    }
    if outcome.bytes != bytes.len() as u64 {
        problems.push("outcome byte count differs from bytes received".into());
    }
    if calls < 2 {
        problems.push(format!("output arrived in {calls} chunk(s): not streamed"));
    }
    eprintln!(
        "{name:>14} -> {codec:?} {kbps}k off {offset}: {:.3}s {:.1} kbps {}ch {} Hz, {} bytes in {calls} chunks {}",
        p.duration_secs, p.kbps, p.channels, p.sample_rate, bytes.len(), problems.join("; ")
    );
    if !problems.is_empty() {
        failures.push(format!("{name} -> {codec:?}: {}", problems.join("; ")));
    }
}

#[test]
fn every_source_to_every_codec() {
    let mut failures = Vec::new();
    for name in SOURCES {
        check(name, Codec::Opus, 64, 0.0, &mut failures);
        check(name, Codec::Mp3, 128, 0.0, &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn other_bitrates() {
    let mut failures = Vec::new();
    check("tone.flac", Codec::Opus, 24, 0.0, &mut failures);
    check("tone.flac", Codec::Opus, 160, 0.0, &mut failures);
    check("tone.flac", Codec::Mp3, 64, 0.0, &mut failures);
    check("tone.wav", Codec::Mp3, 320, 0.0, &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn offset_shortens_output() {
    let mut failures = Vec::new();
    for name in SOURCES {
        check(name, Codec::Opus, 64, 1.25, &mut failures);
        check(name, Codec::Mp3, 128, 1.25, &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn offset_beyond_end_is_a_typed_error() {
    for name in ["tone.flac", "tone.mp3", "tone.opus"] {
        let err = run_to_vec(&fixture(name), &spec(Codec::Opus, 64, 10.0)).unwrap_err();
        assert!(
            matches!(err, TranscodeError::OffsetBeyondEnd { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn mono_source_gives_mono_output() {
    for codec in [Codec::Opus, Codec::Mp3] {
        let (_, bytes, _) = run_to_vec(&fixture("tone.wav"), &spec(codec, 64, 0.0)).unwrap();
        assert_eq!(probe(codec, &bytes).channels, 1, "{codec:?}");
        let (_, bytes, _) = run_to_vec(&fixture("tone.flac"), &spec(codec, 64, 0.0)).unwrap();
        assert_eq!(probe(codec, &bytes).channels, 2, "{codec:?}");
    }
}

#[test]
fn sink_stop_ends_promptly() {
    for codec in [Codec::Opus, Codec::Mp3] {
        let mut calls = 0;
        let started = Instant::now();
        let result = transcode(&fixture("tone.flac"), &spec(codec, 96, 0.0), &mut |_| {
            calls += 1;
            Err(Stop)
        });
        assert!(
            matches!(result, Err(TranscodeError::Stopped)),
            "{codec:?}: {result:?}"
        );
        assert_eq!(calls, 1, "{codec:?}: no more output after Stop");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn sink_panic_is_caught() {
    let result = transcode(
        &fixture("tone.flac"),
        &spec(Codec::Opus, 64, 0.0),
        &mut |_| panic!("boom in the sink"),
    );
    match result {
        Err(TranscodeError::Panicked(msg)) => assert!(msg.contains("boom"), "{msg}"),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

struct TempFile(PathBuf);
impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("transcode-test-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    let missing = run_to_vec(
        Path::new("/nonexistent/x.flac"),
        &spec(Codec::Opus, 64, 0.0),
    );
    assert!(
        matches!(missing, Err(TranscodeError::Open { .. })),
        "{missing:?}"
    );

    let flac = std::fs::read(fixture("tone.flac")).unwrap();
    let m4a = std::fs::read(fixture("tone_aac.m4a")).unwrap();
    let mp3 = std::fs::read(fixture("tone.mp3")).unwrap();
    let opus = std::fs::read(fixture("tone.opus")).unwrap();
    let mut garbage_mp3 = mp3.clone();
    // Deterministic junk over the middle of the file: frames there must be skipped or refused.
    let mut x: u32 = 12345;
    for b in &mut garbage_mp3[10_000..30_000] {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    let mut garbage_opus = opus.clone();
    for b in garbage_opus[2_000..20_000].iter_mut().step_by(7) {
        *b ^= 0x5a;
    }

    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        // (name, contents, must_fail)
        (
            "text.mp3",
            b"this is not audio at all, just text\n".repeat(100),
            true,
        ),
        ("empty.flac", Vec::new(), true),
        ("trunc.flac", flac[..60].to_vec(), true),
        ("trunc.m4a", m4a[..m4a.len() / 2].to_vec(), true),
        ("trunc.mp3", mp3[..mp3.len() / 3].to_vec(), false),
        ("garbage.mp3", garbage_mp3, false),
        ("garbage.opus", garbage_opus, false),
        (
            "noise.wav",
            (0..50_000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            true,
        ),
    ];
    for (name, contents, must_fail) in cases {
        let file = TempFile::new(name, &contents);
        for codec in [Codec::Opus, Codec::Mp3] {
            let result = run_to_vec(&file.0, &spec(codec, 64, 0.0));
            eprintln!("{name} -> {codec:?}: {:?}", result.as_ref().map(|r| r.0));
            match result {
                Err(TranscodeError::Panicked(m)) => panic!("{name}: decoder panicked: {m}"),
                Err(e) => eprintln!("  error: {e}"),
                Ok(_) => assert!(!must_fail, "{name} -> {codec:?}: expected an error"),
            }
        }
    }
}

#[test]
fn validate_rejects_absurd_and_rounds_mp3() {
    for bad in [
        spec(Codec::Opus, 0, 0.0),
        spec(Codec::Opus, 5, 0.0),
        spec(Codec::Opus, 257, 0.0),
        spec(Codec::Opus, 100_000, 0.0),
        spec(Codec::Mp3, 8, 0.0),
        spec(Codec::Mp3, 31, 0.0),
        spec(Codec::Mp3, 321, 0.0),
        spec(Codec::Mp3, u32::MAX, 0.0),
        spec(Codec::Opus, 64, -1.0),
        spec(Codec::Opus, 64, f64::NAN),
        spec(Codec::Opus, 64, f64::INFINITY),
        spec(Codec::Opus, 64, 1e12),
    ] {
        let err = bad.validate().unwrap_err();
        assert!(matches!(err, TranscodeError::InvalidSpec(_)), "{bad:?}");
        assert!(!err.to_string().is_empty());
        // transcode validates before touching the file
        let r = transcode(Path::new("/nonexistent"), &bad, &mut |_| Ok(()));
        assert!(matches!(r, Err(TranscodeError::InvalidSpec(_))), "{bad:?}");
    }
    for (asked, got) in [
        (32, 32),
        (56, 48),
        (60, 64),
        (130, 128),
        (144, 128),
        (300, 320),
        (320, 320),
    ] {
        assert_eq!(
            spec(Codec::Mp3, asked, 0.0)
                .validate()
                .unwrap()
                .bitrate_kbps,
            got,
            "{asked}"
        );
    }
    assert_eq!(
        spec(Codec::Opus, 6, 0.0).validate().unwrap().bitrate_kbps,
        6
    );
    assert_eq!(
        spec(Codec::Opus, 256, 2.5).validate().unwrap(),
        spec(Codec::Opus, 256, 2.5)
    );
}

#[test]
fn content_types() {
    assert_eq!(content_type(Codec::Opus), "audio/ogg");
    assert_eq!(content_type(Codec::Mp3), "audio/mpeg");
}

/// Decodes our Ogg Opus output to mono 48 kHz, honouring pre-skip and the final granule.
fn decode_opus_mono(bytes: &[u8]) -> Vec<f32> {
    let mut reader = ogg::PacketReader::new(Cursor::new(bytes));
    let head = reader.read_packet_expected().expect("OpusHead");
    let channels = head.data[9] as usize;
    let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as usize;
    reader.read_packet_expected().expect("OpusTags");
    let ch = if channels == 1 {
        ::opus::Channels::Mono
    } else {
        ::opus::Channels::Stereo
    };
    let mut decoder = ::opus::Decoder::new(48_000, ch).expect("decoder");
    let mut buf = vec![0f32; 5760 * channels];
    let (mut out, mut last_granule) = (Vec::new(), 0u64);
    while let Some(p) = reader.read_packet().expect("valid Ogg") {
        let n = decoder
            .decode_float(&p.data, &mut buf, false)
            .expect("packet");
        out.extend(buf[..n * channels].iter().step_by(channels));
        last_granule = p.absgp_page();
    }
    out.truncate(last_granule as usize);
    out.split_off(pre_skip.min(out.len()))
}

/// Lag (in samples) at which `b` best matches `a`: b[i] ~ a[i + lag].
fn best_lag(a: &[f32], b: &[f32], around: usize, search: usize, window: usize) -> i64 {
    let mut best = (f32::MIN, 0i64);
    for lag in around - search..=around + search {
        let score: f32 = (0..window).map(|i| a[lag + i] * b[i]).sum();
        if score > best.0 {
            best = (score, lag as i64);
        }
    }
    best.1 - around as i64
}

/// Seeking must be sample-accurate: output started at an offset lines up with the same audio in
/// a full transcode. A chirp is used because, unlike a tone, it matches at only one lag.
#[test]
fn offset_is_sample_accurate() {
    const OFFSET: f64 = 0.7;
    let at = (OFFSET * 48_000.0) as usize;
    for name in ["chirp.flac", "chirp.mp3", "chirp.ogg", "chirp.opus"] {
        let full = run_to_vec(&fixture(name), &spec(Codec::Opus, 96, 0.0))
            .unwrap()
            .1;
        let part = run_to_vec(&fixture(name), &spec(Codec::Opus, 96, OFFSET))
            .unwrap()
            .1;
        let (full, part) = (decode_opus_mono(&full), decode_opus_mono(&part));
        let lag = best_lag(&full, &part, at, 1500, 4800);
        assert!(
            lag.abs() <= 2,
            "{name}: output after seek is off by {lag} samples at 48 kHz"
        );
        let want = full.len() - at;
        assert!(
            part.len().abs_diff(want) <= 2,
            "{name}: {} samples after seek, want {want}",
            part.len()
        );
    }
}

/// Deterministically damaged copies of every fixture: each run must return (Ok or a typed
/// error, including `Panicked` from the guard) without aborting or hanging.
#[test]
fn damaged_files_never_escape_as_panics() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut ok, mut errors, mut panicked) = (0, 0, 0);
    for name in SOURCES {
        let original = std::fs::read(fixture(name)).unwrap();
        for round in 0..8 {
            let mut data = original.clone();
            // Mix of scattered byte flips, a zeroed block and a truncation.
            for _ in 0..(1 + round * 4) {
                let i = (next() as usize) % data.len();
                data[i] ^= (next() as u8) | 1;
            }
            if round % 3 == 1 {
                let start = (next() as usize) % data.len();
                let end = (start + 512).min(data.len());
                data[start..end].fill(0);
            }
            if round % 4 == 3 {
                let cut = (next() as usize) % data.len();
                data.truncate(cut.max(1));
            }
            let file = TempFile::new(&format!("damaged-{round}-{name}"), &data);
            let started = Instant::now();
            match run_to_vec(&file.0, &spec(Codec::Opus, 64, 0.0)) {
                Ok(_) => ok += 1,
                Err(TranscodeError::Panicked(m)) => {
                    eprintln!("{name} round {round}: contained panic: {m}");
                    panicked += 1
                }
                Err(_) => errors += 1,
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{name} round {round}: too slow"
            );
        }
    }
    eprintln!("damaged inputs: {ok} ok, {errors} typed errors, {panicked} contained panics");
}
