//! Reads what the library needs from one audio file: container, codec, exact duration, stream
//! parameters, tags and whether a cover is embedded; the cover's bytes on demand; and a
//! fingerprint of the audio that survives retagging.
//!
//! # Layout
//! - `input`: bounded, buffered reads; the byte windows handed to symphonia.
//! - `mpeg`, `flac`, `ogg`, `mp4`, `riff`: one parser per container. Each walks the
//!   container's structure itself, reads tags frame by frame (skipping picture payloads), and
//!   asks symphonia (`audio`) for stream parameters where symphonia can give them cheaply.
//!   Ogg is read without symphonia (see `ogg` for why).
//! - `id3`, `ape`, `vorbis`: tag formats shared by several containers.
//! - `tags`: raw values to [`Tags`]: key mapping, text limits, artist splitting, path fallbacks.
//!
//! # Duration
//! Always an exact count of samples, never a bitrate estimate:
//! - MP3: the Xing/Info (or VBRI) frame count, less the LAME encoder delay and padding, as
//!   symphonia computes it with gapless on. Without such a header (plain CBR) the frames are
//!   counted by demuxing every frame header (no decoding), at most one per 24 bytes of audio.
//! - FLAC: STREAMINFO's total samples; when a stream left it 0, frames are demuxed and counted.
//! - Ogg: the granule position of the last page (Vorbis, FLAC); Opus subtracts the pre-skip,
//!   at 48 kHz.
//! - MP4: iTunes' `iTunSMPB` sample count when present, else the media duration cut to the
//!   edit list (which drops the AAC encoder priming), else the media or movie duration.
//! - WAV: data size over block size, via symphonia. AIFF: the `COMM` frame count.
//!
//! # Hostile files
//! Every size read from a file is checked against the file before anything is allocated or
//! skipped, every loop advances through the file, and symphonia is only given byte ranges
//! whose structure was checked first (sample tables, chunk sizes). A panic anywhere inside is
//! caught and returned as [`ProbeError::Panicked`].

#[path = "probe/ape.rs"]
mod ape;
#[path = "probe/audio.rs"]
mod audio;
#[path = "probe/flac.rs"]
mod flac;
#[path = "probe/id3.rs"]
mod id3;
#[path = "probe/input.rs"]
mod input;
#[path = "probe/mp4.rs"]
mod mp4;
#[path = "probe/mpeg.rs"]
mod mpeg;
#[path = "probe/ogg.rs"]
mod ogg;
#[path = "probe/riff.rs"]
mod riff;
#[path = "probe/tags.rs"]
mod tags;
#[path = "probe/vorbis.rs"]
mod vorbis;

#[cfg(test)]
#[path = "probe/tests.rs"]
mod tests;

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use serde::{Deserialize, Serialize};

use self::input::Input;
use self::tags::{Collector, PictureMode, TagSet};

/// How tags are interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOptions {
    /// A single artist (or album artist, composer, genre) value is split on these, ignoring
    /// ASCII case. Several values are never split further.
    pub artist_separators: Vec<String>,
    /// Names that contain a separator but are one name.
    pub artist_exceptions: Vec<String>,
    /// Longer text values are cut to this many characters, with a warning.
    pub max_tag_chars: usize,
    /// The same for lyrics, which are legitimately long.
    pub max_lyrics_chars: usize,
}

impl Default for ProbeOptions {
    /// `;` and ` / ` are how taggers join several names into one value, `feat.`/`ft.`/
    /// `featuring` how a guest is credited. `&`, `,` and a bare `/` are not separators by
    /// default: too many band names contain them ("Simon & Garfunkel", "AC/DC").
    fn default() -> Self {
        ProbeOptions {
            artist_separators: [";", " / ", " feat. ", " ft. ", " featuring "]
                .map(String::from)
                .to_vec(),
            artist_exceptions: vec!["AC/DC".into()],
            max_tag_chars: 10_000,
            max_lyrics_chars: 100_000,
        }
    }
}

/// What [`probe`] learns about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probed {
    /// "mp3", "flac", "ogg", "mp4", "wav" or "aiff".
    pub container: String,
    /// "mp3", "flac", "vorbis", "opus", "aac", "alac", "pcm_s16le", ...
    pub codec: String,
    pub duration_ms: u64,
    /// Bytes of audio payload * 8 / duration: the average, also for VBR.
    pub bitrate_kbps: Option<u32>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    /// Lossless and PCM streams only.
    pub bit_depth: Option<u8>,
    pub tags: Tags,
    pub cover: Option<CoverInfo>,
    /// Things that were wrong but not fatal, e.g. "title truncated to 10000 characters".
    pub warnings: Vec<String>,
}

/// Tags after mapping, cleanup and path fallbacks. Lists are trimmed, deduplicated and in
/// file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    pub title: Option<String>,
    pub artists: Vec<String>,
    pub album: Option<String>,
    pub album_artists: Vec<String>,
    pub track_number: Option<u32>,
    pub track_total: Option<u32>,
    pub disc_number: Option<u32>,
    pub disc_total: Option<u32>,
    /// As tagged: "2021-05-04", "2021", ...
    pub date: Option<String>,
    pub year: Option<i32>,
    pub genres: Vec<String>,
    pub composers: Vec<String>,
    pub compilation: bool,
    pub lyrics: Option<String>,
    pub replaygain_track_gain_db: Option<f32>,
    pub replaygain_track_peak: Option<f32>,
    pub replaygain_album_gain_db: Option<f32>,
    pub replaygain_album_peak: Option<f32>,
    /// The release track (Picard's "Release Track Id").
    pub musicbrainz_track_id: Option<String>,
    /// The recording (Picard's "Track Id" in Vorbis comments and MP4, `UFID` in ID3v2).
    pub musicbrainz_recording_id: Option<String>,
    pub musicbrainz_album_id: Option<String>,
    pub musicbrainz_artist_ids: Vec<String>,
    pub musicbrainz_album_artist_ids: Vec<String>,
    pub musicbrainz_release_group_id: Option<String>,
}

/// An embedded picture, described without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverInfo {
    pub mime: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// Not audio, or audio in a container or codec this server does not read.
    #[error("not a supported audio file: {0}")]
    Unsupported(String),
    /// Recognised, but broken: truncated, or with impossible sizes.
    #[error("corrupt audio file: {0}")]
    Corrupt(String),
    #[error("the file is empty")]
    Empty,
    /// A bug in a parser, caught so that one file cannot stop a scan.
    #[error("the audio parser failed: {0}")]
    Panicked(String),
    /// From [`embedded_cover`]: the picture exists but is larger than allowed.
    #[error("the embedded picture has {size} bytes, more than the {limit} allowed")]
    CoverTooLarge { size: u64, limit: usize },
}

/// Identifies a file's audio independently of its tags and path: equal for a moved or
/// retagged copy, different for different audio.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; 16]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Probes `root/rel` alone: the reference the tests hold [`probe_and_fingerprint`] to.
#[cfg(test)]
pub fn probe(root: &Path, rel: &Path, opts: &ProbeOptions) -> Result<Probed, ProbeError> {
    guarded(|| {
        let mut input = open(&root.join(rel))?;
        let mut col = Collector::new(opts, PictureMode::Describe);
        let parsed = parse(&mut input, Want::EVERYTHING, &mut col)?;
        Ok(described(parsed, col, rel, opts))
    })
}

/// Probes `root/rel` and takes its [`Fingerprint`], opening and parsing the file once. `rel`,
/// the path inside the media folder, supplies the title, track number, album and artist that
/// the tags lack.
pub fn probe_and_fingerprint(
    root: &Path,
    rel: &Path,
    opts: &ProbeOptions,
) -> Result<(Probed, Fingerprint), ProbeError> {
    guarded(|| {
        let mut input = open(&root.join(rel))?;
        let mut col = Collector::new(opts, PictureMode::Describe);
        let parsed = parse(&mut input, Want::EVERYTHING, &mut col)?;
        let fingerprint = payload_fingerprint(&mut input, &parsed)?;
        Ok((described(parsed, col, rel, opts), fingerprint))
    })
}

fn described(parsed: Parsed, mut col: Collector, rel: &Path, opts: &ProbeOptions) -> Probed {
    let mut tags = tags::build(&parsed.tags, opts);
    tags::apply_path_fallbacks(&mut tags, rel);
    let duration_ms = match parsed.frames {
        Some((frames, rate)) if rate > 0 => {
            ((u128::from(frames) * 1000 + u128::from(rate) / 2) / u128::from(rate)) as u64
        }
        _ => {
            col.warn("the duration is unknown".into());
            0
        }
    };
    let bitrate_kbps = (duration_ms > 0 && parsed.audio_len > 0).then(|| {
        let bits = u128::from(parsed.audio_len) * 8;
        let ms = u128::from(duration_ms);
        u32::try_from((bits + ms / 2) / ms).unwrap_or(u32::MAX)
    });
    let cover = col.chosen().map(|p| CoverInfo {
        mime: p.mime.clone(),
        size: p.size,
    });
    Probed {
        container: parsed.container.to_owned(),
        codec: parsed.codec,
        duration_ms,
        bitrate_kbps,
        sample_rate: parsed.sample_rate,
        channels: parsed.channels,
        bit_depth: parsed.bit_depth,
        tags,
        cover,
        warnings: col.warnings,
    }
}

/// The embedded picture (the front cover if several) as MIME type and bytes. A picture over
/// `max_bytes` is refused with [`ProbeError::CoverTooLarge`] before any of it is read.
pub fn embedded_cover(
    path: &Path,
    max_bytes: usize,
) -> Result<Option<(String, Vec<u8>)>, ProbeError> {
    guarded(|| {
        let mut input = open(path)?;
        let mut col = Collector::new(&ProbeOptions::default(), PictureMode::Read { max_bytes });
        parse(&mut input, Want::TAGS, &mut col)?;
        match col.into_chosen() {
            None => Ok(None),
            Some(p) => match p.data {
                Some(data) => Ok(Some((p.mime, data))),
                None if p.size > max_bytes as u64 => Err(ProbeError::CoverTooLarge {
                    size: p.size,
                    limit: max_bytes,
                }),
                None => Err(ProbeError::Corrupt(
                    "the embedded picture could not be read".into(),
                )),
            },
        }
    })
}

/// Bytes hashed at each of the start, middle and end of the audio payload.
const FINGERPRINT_WINDOW: u64 = 16 * 1024;

/// The fingerprint alone, from a parse of the layout only: the reference the tests hold
/// [`probe_and_fingerprint`] to.
#[cfg(test)]
pub fn fingerprint(path: &Path) -> Result<Fingerprint, ProbeError> {
    guarded(|| {
        let mut input = open(path)?;
        let mut col = Collector::new(&ProbeOptions::default(), PictureMode::Describe);
        let parsed = parse(&mut input, Want::LAYOUT, &mut col)?;
        payload_fingerprint(&mut input, &parsed)
    })
}

/// A fingerprint of the audio payload alone: XXH64 of its first, middle and last 16 KiB (all
/// of it when shorter than 48 KiB), then the payload's length, 8 bytes each, big-endian. The
/// payload is what the container holds apart from tags: MPEG frames between ID3v2 and
/// APE/ID3v1 tags, FLAC frames after the metadata blocks, the MP4 `mdat`, the WAV `data` /
/// AIFF `SSND` chunk, and for Ogg the page bodies after the header packets (page headers hold
/// sequence numbers and checksums that change when a retag adds pages). Reads at most 48 KiB
/// of audio whatever the file's size, so it costs about as much as a probe.
fn payload_fingerprint(input: &mut Input, parsed: &Parsed) -> Result<Fingerprint, ProbeError> {
    let (start, len) = (parsed.audio_start, parsed.audio_len);
    let windows = if len <= 3 * FINGERPRINT_WINDOW {
        vec![(start, len)]
    } else {
        let w = FINGERPRINT_WINDOW;
        vec![(start, w), (start + (len - w) / 2, w), (start + len - w, w)]
    };
    let mut hashed = parsed.container.as_bytes().to_vec();
    for (at, n) in windows {
        if parsed.ogg {
            ogg::page_bodies(input, at, n, start + len, &mut hashed)?;
        } else {
            let from = hashed.len();
            hashed.resize(from + n as usize, 0);
            input.read_at(at, &mut hashed[from..])?;
        }
    }
    let mut out = [0; 16];
    out[..8].copy_from_slice(&xxh64(&hashed).to_be_bytes());
    out[8..].copy_from_slice(&len.to_be_bytes());
    Ok(Fingerprint(out))
}

/// XXH64 with seed 0: fast, and specified, so fingerprints stored by one build match the next.
fn xxh64(data: &[u8]) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let round = |acc: u64, lane: u64| {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    };
    let merge = |h: u64, v: u64| (h ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4);
    let u64_at = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let stripes = data.chunks_exact(32);
    let tail = stripes.remainder();
    let mut h = if data.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        for stripe in stripes {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(&stripe[8 * i..]));
            }
        }
        let h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        v.iter().fold(h, |h, &lane| merge(h, lane))
    } else {
        P5
    };
    h = h.wrapping_add(data.len() as u64);
    let mut words = tail.chunks_exact(8);
    for word in &mut words {
        h = (h ^ round(0, u64_at(word)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        let word = u64::from(u32::from_le_bytes(rest[..4].try_into().unwrap_or_default()));
        h = (h ^ word.wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h = (h ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

fn open(path: &Path) -> Result<Input, ProbeError> {
    let input = Input::open(path)?;
    if input.len() == 0 {
        return Err(ProbeError::Empty);
    }
    Ok(input)
}

fn guarded<T>(f: impl FnOnce() -> Result<T, ProbeError>) -> Result<T, ProbeError> {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(ProbeError::Panicked(message))
    })
}

/// Which parts of a file a caller needs; parsers skip the rest.
#[derive(Debug, Clone, Copy)]
struct Want {
    /// Tags and pictures.
    tags: bool,
    /// Codec, stream parameters, duration, and the truncation checks.
    audio: bool,
}

impl Want {
    const EVERYTHING: Want = Want {
        tags: true,
        audio: true,
    };
    const TAGS: Want = Want {
        tags: true,
        audio: false,
    };
    /// Only where the audio payload is.
    #[cfg(test)]
    const LAYOUT: Want = Want {
        tags: false,
        audio: false,
    };
}

/// What a container parser found.
#[derive(Debug)]
struct Parsed {
    container: &'static str,
    codec: String,
    /// The exact duration, as a number of frames at a rate.
    frames: Option<(u64, u32)>,
    sample_rate: Option<u32>,
    channels: Option<u8>,
    bit_depth: Option<u8>,
    /// Where the audio payload is, for the bitrate and the fingerprint.
    audio_start: u64,
    audio_len: u64,
    /// The payload is Ogg pages.
    ogg: bool,
    /// Tags, most trusted first.
    tags: Vec<TagSet>,
}

impl Parsed {
    fn new(container: &'static str, audio_start: u64, audio_end: u64) -> Parsed {
        Parsed {
            container,
            codec: String::new(),
            frames: None,
            sample_rate: None,
            channels: None,
            bit_depth: None,
            audio_start,
            audio_len: audio_end.saturating_sub(audio_start),
            ogg: false,
            tags: Vec::new(),
        }
    }
}

/// Recognises the container from its first bytes (after any ID3v2 tags, which some FLAC and
/// most MP3 files start with) and hands over to its parser.
fn parse(input: &mut Input, want: Want, col: &mut Collector) -> Result<Parsed, ProbeError> {
    let (start, leading) = leading_id3v2(input, want, col)?;
    let mut head = [0u8; 12];
    let n = input.read_at_most(start, &mut head)?;
    let head = &head[..n];
    if head.starts_with(b"fLaC") {
        return flac::parse(input, start, want, col, leading);
    }
    if start == 0 {
        if head.starts_with(b"OggS") {
            return ogg::parse(input, want, col);
        }
        if head.len() >= 8 && &head[4..8] == b"ftyp" {
            return mp4::parse(input, want, col);
        }
        if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
            return riff::parse_wav(input, want, col);
        }
        if head.len() >= 12 && &head[..4] == b"FORM" && matches!(&head[8..12], b"AIFF" | b"AIFC") {
            return riff::parse_aiff(input, want, col);
        }
    }
    match mpeg::parse(input, start, want, col, leading)? {
        Some(parsed) => Ok(parsed),
        None if start >= input.len() => Err(ProbeError::Corrupt(
            "truncated: the file ends inside its ID3v2 tag".into(),
        )),
        None if start > 0 => Err(ProbeError::Unsupported(
            "an ID3v2 tag followed by no audio this server reads".into(),
        )),
        None => Err(ProbeError::Unsupported(
            "unrecognised content: not MP3, FLAC, Ogg, MP4, WAV or AIFF".into(),
        )),
    }
}

/// Reads the ID3v2 tags at the start of the file, newest version first; returns where the
/// data after them begins.
fn leading_id3v2(
    input: &mut Input,
    want: Want,
    col: &mut Collector,
) -> Result<(u64, Vec<TagSet>), ProbeError> {
    // Some files carry two tags back to back; more than this is not a real file.
    const MAX_TAGS: usize = 4;
    let mut pos = 0;
    let mut tags: Vec<(u8, TagSet)> = Vec::new();
    for _ in 0..MAX_TAGS {
        let mut head = [0u8; 10];
        if input.read_at_most(pos, &mut head)? < 10 {
            break;
        }
        let Some(header) = id3::Id3v2Header::parse(&head) else {
            break;
        };
        if want.tags {
            tags.push((header.version, id3::read_id3v2(input, pos, header, col)));
        }
        pos += header.total_len();
    }
    tags.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    Ok((pos, tags.into_iter().map(|(_, t)| t).collect()))
}

/// An ID3v1 tag in the last 128 bytes before `end`, and where the data before it ends.
fn trailing_id3v1(
    input: &mut Input,
    start: u64,
    end: u64,
    want: Want,
    col: &mut Collector,
) -> Result<(u64, Option<TagSet>), ProbeError> {
    if end < start + 128 {
        return Ok((end, None));
    }
    let mut tag = [0u8; 128];
    input.read_at(end - 128, &mut tag)?;
    if &tag[..3] != b"TAG" {
        return Ok((end, None));
    }
    let set = want.tags.then(|| id3::read_id3v1(&tag, col));
    Ok((end - 128, set))
}
