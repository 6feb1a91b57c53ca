//! Tests against the committed fixtures (`tests/fixtures/make-audio.sh` writes them), and
//! against files built here from their parts: retagged copies, shapes of tag ffmpeg cannot
//! write, a 20 MB cover, and damaged copies.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio")
}

fn fixture(name: &str) -> Vec<u8> {
    fs::read(fixtures().join(name)).unwrap()
}

fn probe_fixture(name: &str) -> Result<Probed, ProbeError> {
    probe(&fixtures(), Path::new(name), &ProbeOptions::default())
}

fn probe_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<Probed, ProbeError> {
    fs::write(dir.join(name), bytes).unwrap();
    probe(dir, Path::new(name), &ProbeOptions::default())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The tag set make-audio.sh writes to every fully tagged fixture.
fn full_tags(artists: &[&str], compilation: bool) -> Tags {
    Tags {
        title: Some("Fixture Title".into()),
        artists: strings(artists),
        album: Some("Fixture Album".into()),
        album_artists: strings(&["AC/DC"]),
        track_number: Some(3),
        track_total: Some(12),
        disc_number: Some(1),
        disc_total: Some(2),
        date: Some("2021-05-04".into()),
        year: Some(2021),
        genres: strings(&["Rock", "Jazz"]),
        composers: strings(&["Jane Composer"]),
        compilation,
        lyrics: Some("First line\nSecond line".into()),
        replaygain_track_gain_db: Some(-6.5),
        replaygain_track_peak: Some(0.988547),
        replaygain_album_gain_db: Some(-7.25),
        replaygain_album_peak: Some(1.0),
        musicbrainz_track_id: Some("11111111-1111-4111-8111-111111111111".into()),
        musicbrainz_recording_id: Some("22222222-2222-4222-8222-222222222222".into()),
        musicbrainz_album_id: Some("33333333-3333-4333-8333-333333333333".into()),
        musicbrainz_artist_ids: strings(&[
            "44444444-4444-4444-8444-444444444444",
            "55555555-5555-4555-8555-555555555555",
        ]),
        musicbrainz_album_artist_ids: strings(&["66666666-6666-4666-8666-666666666666"]),
        musicbrainz_release_group_id: Some("77777777-7777-4777-8777-777777777777".into()),
    }
}

const MULTI: &[&str] = &["Alice", "Bob", "Carol"];
const ACDC: &[&str] = &["AC/DC"];
/// The 8x8 PNG make-audio.sh embeds.
const COVER: Option<(&str, u64)> = Some(("image/png", 96));

struct Expect {
    name: &'static str,
    container: &'static str,
    codec: &'static str,
    /// The exact length of what was encoded.
    duration_ms: u64,
    /// `ffprobe -show_entries format=duration`, where it measures the same thing (see
    /// `durations_match_ffprobe`).
    ffprobe_ms: Option<f64>,
    sample_rate: u32,
    bit_depth: Option<u8>,
    tags: Tags,
    cover: Option<(&'static str, u64)>,
}

fn expectations() -> Vec<Expect> {
    let id3v1 = Tags {
        title: Some("Fixture Title".into()),
        artists: strings(ACDC),
        album: Some("Fixture Album".into()),
        track_number: Some(3),
        date: Some("2021".into()),
        year: Some(2021),
        genres: strings(&["Rock"]),
        ..Tags::default()
    };
    vec![
        // ffprobe gives 1541.224 ms for the MP3s with a LAME tag: 59 frames of 1152 samples,
        // counting the encoder delay and padding the LAME tag tells a player to drop.
        Expect {
            name: "id3v24.mp3",
            container: "mp3",
            codec: "mp3",
            duration_ms: 1500,
            ffprobe_ms: None,
            sample_rate: 44100,
            bit_depth: None,
            tags: full_tags(MULTI, true),
            cover: COVER,
        },
        // ffprobe: 1567.347 ms, 60 frames of 576 samples with the delay and padding.
        Expect {
            name: "id3v23.mp3",
            container: "mp3",
            codec: "mp3",
            duration_ms: 1500,
            ffprobe_ms: None,
            sample_rate: 22050,
            bit_depth: None,
            tags: full_tags(ACDC, false),
            cover: None,
        },
        // No Xing header: 36 frames of 576 samples at 16 kHz. ffprobe estimates 1338.667 ms
        // from the bitrate, counting the 128-byte ID3v1 tag as audio.
        Expect {
            name: "id3v1.mp3",
            container: "mp3",
            codec: "mp3",
            duration_ms: 1296,
            ffprobe_ms: None,
            sample_rate: 16000,
            bit_depth: None,
            tags: id3v1,
            cover: None,
        },
        Expect {
            name: "tags.flac",
            container: "flac",
            codec: "flac",
            duration_ms: 1000,
            ffprobe_ms: Some(1000.0),
            sample_rate: 11025,
            bit_depth: Some(16),
            tags: full_tags(MULTI, true),
            cover: COVER,
        },
        Expect {
            name: "tags.ogg",
            container: "ogg",
            codec: "vorbis",
            duration_ms: 1300,
            ffprobe_ms: Some(1300.0),
            sample_rate: 22050,
            bit_depth: None,
            tags: full_tags(MULTI, false),
            cover: COVER,
        },
        // ffprobe does not subtract the 312-sample pre-skip.
        Expect {
            name: "tags.opus",
            container: "ogg",
            codec: "opus",
            duration_ms: 1100,
            ffprobe_ms: Some(1106.5),
            sample_rate: 48000,
            bit_depth: None,
            tags: full_tags(ACDC, false),
            cover: None,
        },
        Expect {
            name: "aac.m4a",
            container: "mp4",
            codec: "aac",
            duration_ms: 1400,
            ffprobe_ms: Some(1400.0),
            sample_rate: 22050,
            bit_depth: None,
            tags: full_tags(MULTI, true),
            cover: COVER,
        },
        Expect {
            name: "alac.m4a",
            container: "mp4",
            codec: "alac",
            duration_ms: 900,
            ffprobe_ms: Some(900.0),
            sample_rate: 8000,
            bit_depth: Some(16),
            tags: full_tags(ACDC, false),
            cover: None,
        },
        Expect {
            name: "tags.wav",
            container: "wav",
            codec: "pcm_s16le",
            duration_ms: 600,
            ffprobe_ms: Some(600.0),
            sample_rate: 8000,
            bit_depth: Some(16),
            tags: full_tags(MULTI, false),
            cover: None,
        },
        Expect {
            name: "tags.aiff",
            container: "aiff",
            codec: "pcm_s16be",
            duration_ms: 700,
            ffprobe_ms: Some(700.0),
            sample_rate: 8000,
            bit_depth: Some(16),
            tags: full_tags(ACDC, false),
            cover: None,
        },
    ]
}

#[test]
fn fixtures_probe_exactly() {
    for e in expectations() {
        let p = probe_fixture(e.name).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert_eq!(p.container, e.container, "{}", e.name);
        assert_eq!(p.codec, e.codec, "{}", e.name);
        assert_eq!(p.duration_ms, e.duration_ms, "{}", e.name);
        assert_eq!(p.sample_rate, Some(e.sample_rate), "{}", e.name);
        assert_eq!(p.channels, Some(1), "{}", e.name);
        assert_eq!(p.bit_depth, e.bit_depth, "{}", e.name);
        assert_eq!(p.tags, e.tags, "{}", e.name);
        let cover = p.cover.as_ref().map(|c| (c.mime.as_str(), c.size));
        assert_eq!(cover, e.cover, "{}", e.name);
        assert!(p.warnings.is_empty(), "{}: {:?}", e.name, p.warnings);
        let kbps = p.bitrate_kbps.unwrap();
        assert!((5..200).contains(&kbps), "{}: {kbps} kbit/s", e.name);
    }
}

#[test]
fn durations_match_ffprobe() {
    for e in expectations() {
        let Some(ffprobe) = e.ffprobe_ms else {
            continue;
        };
        let ours = probe_fixture(e.name).unwrap().duration_ms as f64;
        assert!(
            (ours - ffprobe).abs() <= 20.0,
            "{}: {ours} ms, ffprobe {ffprobe} ms",
            e.name
        );
    }
}

#[test]
fn bitrates_are_audio_bytes_over_duration() {
    // 16-bit mono at 8 kHz is 128 kbit/s whatever the tags around it.
    assert_eq!(probe_fixture("tags.wav").unwrap().bitrate_kbps, Some(128));
    assert_eq!(probe_fixture("tags.aiff").unwrap().bitrate_kbps, Some(128));
    // CBR 24 kbit/s, tag excluded.
    assert_eq!(probe_fixture("id3v1.mp3").unwrap().bitrate_kbps, Some(24));
}

#[test]
fn path_fallbacks_fill_missing_tags() {
    let p = probe_fixture("fallback/Some Artist/Some Album/07 - Path Title.flac").unwrap();
    assert_eq!(p.tags.title.as_deref(), Some("Path Title"));
    assert_eq!(p.tags.track_number, Some(7));
    assert_eq!(p.tags.album.as_deref(), Some("Some Album"));
    assert_eq!(p.tags.artists, ["Some Artist"]);
    assert_eq!(p.duration_ms, 500);
    // Tags win over the path.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("Other Artist/Other Album")).unwrap();
    fs::write(
        dir.path().join("Other Artist/Other Album/09 - Other.flac"),
        fixture("tags.flac"),
    )
    .unwrap();
    let p = probe(
        dir.path(),
        Path::new("Other Artist/Other Album/09 - Other.flac"),
        &ProbeOptions::default(),
    )
    .unwrap();
    assert_eq!(p.tags, full_tags(MULTI, true));
}

#[cfg(unix)]
#[test]
fn invalid_utf8_file_names_are_read_lossily() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = OsStr::from_bytes(b"Caf\xe9");
    let file = OsStr::from_bytes(b"02 - Gr\xfcn.flac");
    fs::create_dir(dir.path().join(folder)).unwrap();
    let rel = Path::new(folder).join(file);
    fs::write(
        dir.path().join(&rel),
        fixture("fallback/Some Artist/Some Album/07 - Path Title.flac"),
    )
    .unwrap();
    let p = probe(dir.path(), &rel, &ProbeOptions::default()).unwrap();
    assert_eq!(p.tags.title.as_deref(), Some("Gr\u{fffd}n"));
    assert_eq!(p.tags.track_number, Some(2));
    assert_eq!(p.tags.album.as_deref(), Some("Caf\u{fffd}"));
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    assert!(matches!(probe_fixture("empty.mp3"), Err(ProbeError::Empty)));
    assert!(matches!(
        probe_fixture("text.mp3"),
        Err(ProbeError::Unsupported(_))
    ));
    assert!(matches!(
        probe_fixture("random.ogg"),
        Err(ProbeError::Unsupported(_))
    ));
    match probe_fixture("truncated.flac") {
        Err(ProbeError::Corrupt(reason)) => {
            assert_eq!(
                reason,
                "truncated: the audio stops at sample 12096 of 40000"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        probe(
            &fixtures(),
            Path::new("missing.mp3"),
            &ProbeOptions::default()
        ),
        Err(ProbeError::Io(_))
    ));
    assert!(matches!(
        fingerprint(&fixtures().join("empty.mp3")),
        Err(ProbeError::Empty)
    ));
}

#[test]
fn truncated_files_of_every_format_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "tags.flac",
        "aac.m4a",
        "tags.wav",
        "tags.aiff",
        "id3v24.mp3",
        "tags.ogg",
    ] {
        let whole = fixture(name);
        let cut = &whole[..whole.len() * 9 / 10];
        match probe_bytes(dir.path(), name, cut) {
            Err(ProbeError::Corrupt(reason)) => {
                assert!(reason.contains("truncated"), "{name}: {reason}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_panic_inside_is_returned() {
    let r: Result<(), ProbeError> = guarded(|| panic!("boom"));
    assert!(matches!(r, Err(ProbeError::Panicked(m)) if m == "boom"));
}

#[test]
fn long_tags_are_truncated_with_a_warning() {
    let p = probe_fixture("long-tag.mp3").unwrap();
    let title = p.tags.title.unwrap();
    assert_eq!(title.chars().count(), 10_000);
    assert!(title.chars().all(|c| c == 'x'));
    assert_eq!(p.warnings, ["title truncated to 10000 characters"]);
    assert_eq!(p.tags.artists, ["Long Tag Artist"]);
    let p = probe(
        &fixtures(),
        Path::new("long-tag.mp3"),
        &ProbeOptions {
            max_tag_chars: 5,
            ..ProbeOptions::default()
        },
    )
    .unwrap();
    assert_eq!(p.tags.title.as_deref(), Some("xxxxx"));
}

#[test]
fn embedded_covers_are_read_on_demand() {
    let mut seen = Vec::new();
    for name in ["id3v24.mp3", "tags.flac", "tags.ogg", "aac.m4a"] {
        let (mime, bytes) = embedded_cover(&fixtures().join(name), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(mime, "image/png", "{name}");
        assert_eq!(bytes.len(), 96, "{name}");
        assert!(bytes.starts_with(b"\x89PNG"), "{name}");
        seen.push(bytes);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
    assert!(embedded_cover(&fixtures().join("tags.wav"), 1 << 20)
        .unwrap()
        .is_none());
    assert!(matches!(
        embedded_cover(&fixtures().join("tags.flac"), 95),
        Err(ProbeError::CoverTooLarge {
            size: 96,
            limit: 95
        })
    ));
}

// --- Files built from parts ----------------------------------------------------------------

fn syncsafe(n: usize) -> [u8; 4] {
    [
        (n >> 21) as u8 & 0x7f,
        (n >> 14) as u8 & 0x7f,
        (n >> 7) as u8 & 0x7f,
        n as u8 & 0x7f,
    ]
}

/// An ID3v2.4 tag of the given frames.
fn id3v24(frames: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, data) in frames {
        body.extend(id.as_bytes());
        body.extend(syncsafe(data.len()));
        body.extend([0, 0]);
        body.extend(data);
    }
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend(syncsafe(body.len()));
    tag.extend(body);
    tag
}

/// A UTF-8 text frame body.
fn text(s: &str) -> Vec<u8> {
    let mut b = vec![3];
    b.extend(s.as_bytes());
    b
}

/// The MPEG frames of id3v24.mp3, without its tag.
fn mp3_audio() -> Vec<u8> {
    let mp3 = fixture("id3v24.mp3");
    let size = mp3[6..10]
        .iter()
        .fold(0usize, |acc, &b| (acc << 7) | usize::from(b));
    mp3[10 + size..].to_vec()
}

/// tags.flac's STREAMINFO and frames around the given comments (and no picture).
fn flac_with_comments(comments: &[&str]) -> Vec<u8> {
    let flac = fixture("tags.flac");
    let mut at = 4;
    let mut streaminfo = Vec::new();
    loop {
        let (last, kind) = (flac[at] & 0x80 != 0, flac[at] & 0x7f);
        let len = u32::from_be_bytes([0, flac[at + 1], flac[at + 2], flac[at + 3]]) as usize;
        if kind == 0 {
            streaminfo = flac[at..at + 4 + len].to_vec();
        }
        at += 4 + len;
        if last {
            break;
        }
    }
    let mut block = Vec::new();
    block.extend(4u32.to_le_bytes());
    block.extend(b"test");
    block.extend((comments.len() as u32).to_le_bytes());
    for c in comments {
        block.extend((c.len() as u32).to_le_bytes());
        block.extend(c.as_bytes());
    }
    let mut out = b"fLaC".to_vec();
    out.extend(streaminfo);
    out.push(0x80 | 4);
    out.extend(&(block.len() as u32).to_be_bytes()[1..]);
    out.extend(block);
    out.extend(&flac[at..]);
    out
}

#[test]
fn several_values_are_several_artists() {
    let dir = tempfile::tempdir().unwrap();
    let flac = flac_with_comments(&[
        "ARTIST=Alice; Bob",
        "ARTIST=AC/DC",
        "ARTIST=AC/DC",
        "ALBUMARTIST=X feat. Y",
        "TRACKNUMBER=4",
        "TRACKTOTAL=9",
        "DISCNUMBER=2",
        "DISCTOTAL=3",
        "YEAR=1999",
        "UNKNOWN=1",
    ]);
    let p = probe_bytes(dir.path(), "multi.flac", &flac).unwrap();
    assert_eq!(p.tags.artists, ["Alice; Bob", "AC/DC"]);
    assert_eq!(p.tags.album_artists, ["X", "Y"]);
    assert_eq!(
        (p.tags.track_number, p.tags.track_total),
        (Some(4), Some(9))
    );
    assert_eq!((p.tags.disc_number, p.tags.disc_total), (Some(2), Some(3)));
    assert_eq!(
        (p.tags.date.as_deref(), p.tags.year),
        (Some("1999"), Some(1999))
    );

    // ID3v2.4 separates values with NULs; UFID holds the recording id, USLT the lyrics, TCMP
    // the compilation flag, and "(n)" genres name ID3v1 genres.
    let mut mp3 = id3v24(&[
        ("TPE1", text("Alice\0Bob\0")),
        ("TCON", text("(17)\08")),
        ("TCMP", text("1")),
        ("UFID", b"http://musicbrainz.org\0abc-123".to_vec()),
        ("USLT", b"\x03eng\0la la".to_vec()),
        ("APIC", b"\x03image/jpeg\0\x03\0\xff\xd8\xff".to_vec()),
    ]);
    mp3.extend(mp3_audio());
    let p = probe_bytes(dir.path(), "multi.mp3", &mp3).unwrap();
    assert_eq!(p.tags.artists, ["Alice", "Bob"]);
    assert_eq!(p.tags.genres, ["Rock", "Jazz"]);
    assert!(p.tags.compilation);
    assert_eq!(p.tags.musicbrainz_recording_id.as_deref(), Some("abc-123"));
    assert_eq!(p.tags.lyrics.as_deref(), Some("la la"));
    assert_eq!(
        p.cover,
        Some(CoverInfo {
            mime: "image/jpeg".into(),
            size: 3
        })
    );
    assert_eq!(p.duration_ms, 1500);
}

#[test]
fn unsynchronised_and_older_id3v2_tags_are_read() {
    let dir = tempfile::tempdir().unwrap();
    // ID3v2.3 with whole-tag unsynchronisation: every 0xFF is followed by a 0x00 in the file.
    let mut frame = b"TIT2".to_vec();
    let title = b"\x00\xff\xfeA\x00";
    frame.extend((title.len() as u32).to_be_bytes());
    frame.extend([0, 0]);
    frame.extend(title);
    let mut body = Vec::new();
    for &b in &frame {
        body.push(b);
        if b == 0xff {
            body.push(0);
        }
    }
    let mut mp3 = b"ID3\x03\x00\x80".to_vec();
    mp3.extend(syncsafe(body.len()));
    mp3.extend(body);
    mp3.extend(mp3_audio());
    let p = probe_bytes(dir.path(), "unsync.mp3", &mp3).unwrap();
    assert_eq!(p.tags.title.as_deref(), Some("\u{ff}\u{fe}A"));

    // ID3v2.2: three-letter frame ids and sizes.
    let mut body = b"TT2\x00\x00\x04\x00Old".to_vec();
    body.extend(b"TP1\x00\x00\x09\x01\xff\xfeB\x00o\x00b\x00");
    let mut mp3 = b"ID3\x02\x00\x00".to_vec();
    mp3.extend(syncsafe(body.len()));
    mp3.extend(body);
    mp3.extend(mp3_audio());
    let p = probe_bytes(dir.path(), "v22.mp3", &mp3).unwrap();
    assert_eq!(p.tags.title.as_deref(), Some("Old"));
    assert_eq!(p.tags.artists, ["Bob"]);
}

/// The scan's single pass must give what the two separate calls give, for every fixture,
/// good or bad.
#[test]
fn probe_and_fingerprint_agree_with_probe_then_fingerprint() {
    let opts = ProbeOptions::default();
    let mut names: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| PathBuf::from(e.file_name()))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "the fixtures are missing");
    let mut good = 0;
    for name in names {
        let together = probe_and_fingerprint(&fixtures(), &name, &opts);
        let probed = probe(&fixtures(), &name, &opts);
        match (together, probed) {
            (Ok((p, fp)), Ok(alone)) => {
                assert_eq!(p, alone, "{}", name.display());
                let separate = fingerprint(&fixtures().join(&name)).unwrap();
                assert_eq!(fp, separate, "{}", name.display());
                good += 1;
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{}", name.display()),
            (a, b) => panic!("{}: {a:?} against {b:?}", name.display()),
        }
    }
    assert!(good > 10, "only {good} fixtures probed");
}

#[test]
fn fingerprints_ignore_tags_but_not_audio() {
    let dir = tempfile::tempdir().unwrap();
    let fp = |name: &str, bytes: &[u8]| {
        fs::write(dir.path().join(name), bytes).unwrap();
        fingerprint(&dir.path().join(name)).unwrap()
    };
    let original = fingerprint(&fixtures().join("id3v24.mp3")).unwrap();
    let mut retagged = id3v24(&[("TIT2", text("A different title, and a longer tag"))]);
    retagged.extend(mp3_audio());
    assert_eq!(fp("retagged.mp3", &retagged), original);
    let mut with_v1 = mp3_audio();
    with_v1.extend(b"TAG");
    with_v1.extend([0u8; 125]);
    assert_eq!(fp("v1.mp3", &with_v1), original);

    let flac = fingerprint(&fixtures().join("tags.flac")).unwrap();
    assert_eq!(
        fp(
            "retagged.flac",
            &flac_with_comments(&["TITLE=Something else"])
        ),
        flac
    );

    let all: Vec<Fingerprint> = expectations()
        .iter()
        .map(|e| fingerprint(&fixtures().join(e.name)).unwrap())
        .collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let mut changed = mp3_audio();
    let last = changed.len() - 10;
    changed[last] ^= 1;
    assert_ne!(fp("changed.mp3", &changed), original);
    assert_eq!(format!("{original}").len(), 32);
    assert_eq!(original.0[8..], (mp3_audio().len() as u64).to_be_bytes());
}

#[test]
fn xxh64_matches_the_reference() {
    // Values from the reference implementation (python-xxhash).
    assert_eq!(xxh64(b""), 0xef46_db37_51d8_e999);
    assert_eq!(xxh64(b"a"), 0xd24e_c4f1_a98c_6e5b);
    assert_eq!(xxh64(b"abc"), 0x44bc_2cf5_ad77_0999);
    assert_eq!(
        xxh64(b"0123456789abcdef0123456789abcdef0123456789"),
        0xa761_90c3_acf0_8a1c
    );
    let bytes: Vec<u8> = (0..=255u8).cycle().take(768).collect();
    assert_eq!(xxh64(&bytes), 0x8e03_c838_c596_036f);
}

/// `VmHWM`, the process's peak resident memory, in KiB.
#[cfg(target_os = "linux")]
fn peak_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_20_mb_cover_is_measured_not_read() {
    const COVER_LEN: usize = 20 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big-cover.mp3");
    // Written piece by piece so that the test itself never holds the picture either.
    let apic_head = b"\x00image/png\0\x03\0";
    let frame_len = apic_head.len() + COVER_LEN;
    let mut file = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    file.write_all(b"ID3\x04\x00\x00").unwrap();
    file.write_all(&syncsafe(10 + frame_len)).unwrap();
    file.write_all(b"APIC").unwrap();
    file.write_all(&syncsafe(frame_len)).unwrap();
    file.write_all(&[0, 0]).unwrap();
    file.write_all(apic_head).unwrap();
    let zeros = vec![0u8; 64 * 1024];
    for _ in 0..COVER_LEN / zeros.len() {
        file.write_all(&zeros).unwrap();
    }
    file.write_all(&mp3_audio()).unwrap();
    drop(file);

    let before = peak_kib();
    let p = probe(
        dir.path(),
        Path::new("big-cover.mp3"),
        &ProbeOptions::default(),
    )
    .unwrap();
    let grown = peak_kib() - before;
    assert_eq!(
        p.cover,
        Some(CoverInfo {
            mime: "image/png".into(),
            size: COVER_LEN as u64
        })
    );
    assert_eq!(p.duration_ms, 1500);
    assert_eq!(p.tags.title.as_deref(), Some("big-cover"));
    assert!(
        grown < 8 * 1024,
        "probing raised peak memory by {grown} KiB"
    );
    assert!(matches!(
        embedded_cover(&path, 1 << 20),
        Err(ProbeError::CoverTooLarge { size, limit: 1_048_576 }) if size == COVER_LEN as u64
    ));
    assert_eq!(
        fingerprint(&path).unwrap(),
        fingerprint(&fixtures().join("id3v24.mp3")).unwrap()
    );
    assert!(peak_kib() - before < 8 * 1024);
}

/// A small deterministic generator, so damaged files are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for e in expectations() {
        let whole = fixture(e.name);
        let mut cases: Vec<Vec<u8>> = (1..24)
            .map(|i| whole[..whole.len() * i / 24].to_vec())
            .collect();
        for _ in 0..40 {
            let mut damaged = whole.clone();
            for _ in 0..1 + rng.next() % 8 {
                let at = (rng.next() % damaged.len() as u64) as usize;
                damaged[at] = rng.next() as u8;
            }
            cases.push(damaged);
        }
        for (i, bytes) in cases.iter().enumerate() {
            let name = format!("{i}-{}", e.name);
            fs::write(dir.path().join(&name), bytes).unwrap();
            let path = dir.path().join(&name);
            let results = [
                probe(dir.path(), Path::new(&name), &ProbeOptions::default()).err(),
                fingerprint(&path).err(),
                embedded_cover(&path, 1 << 20).err(),
            ];
            for err in results.into_iter().flatten() {
                assert!(!matches!(err, ProbeError::Panicked(_)), "{name}: {err}");
            }
        }
    }
}

/// Mean probe and fingerprint time per fixture, and per file of `$PROBE_TIMING_DIR` when
/// set; run with `cargo test --release probe_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn probe_timing() {
    const ROUNDS: u32 = 2000;
    let opts = ProbeOptions::default();
    let mut files: Vec<(PathBuf, PathBuf)> = expectations()
        .iter()
        .map(|e| (fixtures(), PathBuf::from(e.name)))
        .collect();
    if let Some(dir) = std::env::var_os("PROBE_TIMING_DIR") {
        let mut more: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| (PathBuf::from(&dir), PathBuf::from(e.unwrap().file_name())))
            .collect();
        more.sort();
        files.extend(more);
    }
    for (root, rel) in files {
        if probe(&root, &rel, &opts).is_err() {
            continue;
        }
        let start = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(probe(&root, &rel, &opts).unwrap());
        }
        let probe_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        let start = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(fingerprint(&root.join(&rel)).unwrap());
        }
        let fp_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        println!(
            "{:>16}: probe {probe_us:7.1} µs, fingerprint {fp_us:7.1} µs",
            rel.display()
        );
    }
}
