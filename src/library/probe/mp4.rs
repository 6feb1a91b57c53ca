//! MP4/M4A: the atom tree is walked here for tags (`ilst`), exact duration (`mdhd`, `elst`,
//! `iTunSMPB`) and sanity of the sample tables; symphonia then reads the codec parameters
//! from a view in which the metadata atoms are renamed `free`, so it never loads a cover.

use symphonia::default::formats::IsoMp4Reader;

use super::id3::{id3v1_genre, sniff_image};
use super::input::{Bytes, Input};
use super::tags::{freeform_field, utf16, Collector, Field, Picture, TagSet};
use super::{audio, Parsed, ProbeError, Want};

/// More children than this in one atom is not a real file.
const MAX_CHILDREN: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Atom {
    kind: [u8; 4],
    start: u64,
    body: u64,
    end: u64,
}

impl Atom {
    fn len(&self) -> u64 {
        self.end - self.body
    }
}

/// The atoms in `[start, end)`. An atom that overruns its parent is an error, except at the
/// top level, where it means the file was cut short.
fn children(input: &mut Input, start: u64, end: u64) -> Result<Vec<Atom>, ProbeError> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        if out.len() == MAX_CHILDREN {
            return Err(ProbeError::Corrupt(
                "an MP4 atom has too many children".into(),
            ));
        }
        let mut h = [0u8; 16];
        input.read_at(at, &mut h[..8])?;
        let kind = [h[4], h[5], h[6], h[7]];
        let (body, atom_end) = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
            0 => (at + 8, end),
            1 => {
                input.read_at(at + 8, &mut h[8..16])?;
                let size = u64::from_be_bytes(h[8..16].try_into().unwrap_or_default());
                (at + 16, at.saturating_add(size))
            }
            size => (at + 8, at + u64::from(size)),
        };
        if atom_end < body {
            return Err(ProbeError::Corrupt(format!(
                "the MP4 atom '{}' has an impossible size",
                String::from_utf8_lossy(&kind)
            )));
        }
        if atom_end > end {
            return Err(ProbeError::Corrupt(format!(
                "truncated: the MP4 atom '{}' ends at byte {atom_end}, past {end}",
                String::from_utf8_lossy(&kind)
            )));
        }
        out.push(Atom {
            kind,
            start: at,
            body,
            end: atom_end,
        });
        at = atom_end;
    }
    Ok(out)
}

fn child(input: &mut Input, parent: &Atom, kind: &[u8; 4]) -> Result<Option<Atom>, ProbeError> {
    Ok(children(input, parent.body, parent.end)?
        .into_iter()
        .find(|a| &a.kind == kind))
}

#[derive(Debug, Default)]
struct Track {
    handler: [u8; 4],
    timescale: u32,
    duration: u64,
    /// From the first sample entry, for codecs whose configuration symphonia does not read
    /// the channel count from.
    channels: u16,
    /// (segment duration in the movie timescale, media start time), non-empty edits only.
    edits: Vec<(u64, i64)>,
}

pub(super) fn parse(
    input: &mut Input,
    want: Want,
    col: &mut Collector,
) -> Result<Parsed, ProbeError> {
    let len = input.len();
    let top = children(input, 0, len)?;
    let moov = top
        .iter()
        .find(|a| &a.kind == b"moov")
        .copied()
        .ok_or_else(|| ProbeError::Corrupt("no moov atom (the file may be cut short)".into()))?;
    let mdat = top.iter().find(|a| &a.kind == b"mdat" && a.len() > 0);
    let (audio_start, audio_end) = mdat.map_or((0, 0), |a| (a.body, a.end));
    let mut parsed = Parsed::new("mp4", audio_start, audio_end);

    let mut tags = TagSet::default();
    let mut patches = Vec::new();
    let mut smpb = None;
    let mut movie = (0u32, 0u64);
    let mut track = None;
    let mut metas: Vec<Atom> = top.iter().filter(|a| &a.kind == b"meta").copied().collect();
    for atom in children(input, moov.body, moov.end)? {
        match &atom.kind {
            b"mvhd" if want.audio => movie = read_mvhd(input, &atom)?,
            b"trak" if want.audio && track.is_none() => {
                let t = read_trak(input, &atom)?;
                if &t.handler == b"soun" {
                    track = Some(t);
                }
            }
            b"udta" => {
                patches.push((atom.start + 4, *b"free"));
                metas.extend(
                    children(input, atom.body, atom.end)?
                        .into_iter()
                        .filter(|a| &a.kind == b"meta"),
                );
            }
            b"meta" => {
                patches.push((atom.start + 4, *b"free"));
                metas.push(atom);
            }
            _ => {}
        }
    }
    for meta in top.iter().filter(|a| &a.kind == b"meta") {
        patches.push((meta.start + 4, *b"free"));
    }
    for meta in metas {
        if let Err(e) = read_meta(input, &meta, want, col, &mut tags, &mut smpb) {
            col.warn(format!("MP4 metadata partly unreadable: {e}"));
        }
    }
    parsed.tags.push(tags);
    if !want.audio {
        return Ok(parsed);
    }
    if mdat.is_none() {
        return Err(ProbeError::Corrupt(
            "no mdat atom: the file holds no audio".into(),
        ));
    }
    let track =
        track.ok_or_else(|| ProbeError::Unsupported("the MP4 file has no audio track".into()))?;

    let reader: IsoMp4Reader = audio::open(input, 0, len, patches, 4)?;
    let params = audio::first_track(&reader)?;
    parsed.codec = audio::codec_name(params.codec);
    parsed.sample_rate = params.sample_rate;
    parsed.channels =
        audio::channels(&params).or_else(|| u8::try_from(track.channels).ok().filter(|&c| c > 0));
    parsed.bit_depth = audio::bits(&params);
    if params.codec == symphonia::core::codecs::CODEC_TYPE_ALAC {
        // The ALAC magic cookie ends with the 24-byte ALACSpecificConfig; byte 5 is the depth.
        parsed.bit_depth = params
            .extra_data
            .as_deref()
            .filter(|c| c.len() >= 24)
            .map(|c| c[c.len() - 24 + 5])
            .filter(|&b| b > 0);
    }
    if params.codec == symphonia::core::codecs::CODEC_TYPE_AAC {
        parsed.bit_depth = None;
        // MP4 sample entries carry a template channel count of 2; the decoder configuration
        // has the real one.
        if let Some(n) = params.extra_data.as_deref().and_then(aac_channels) {
            parsed.channels = Some(n);
        }
    }
    parsed.frames = duration(&track, movie, smpb);
    Ok(parsed)
}

/// The channel configuration of an AAC AudioSpecificConfig: object type (5 bits, or 11
/// when escaped), sampling frequency index (4 bits, or 28 with an explicit rate), channels.
fn aac_channels(config: &[u8]) -> Option<u8> {
    let bits = |from: usize, n: usize| -> Option<u32> {
        (from..from + n).try_fold(0u32, |acc, i| {
            Some((acc << 1) | u32::from((config.get(i / 8)? >> (7 - i % 8)) & 1))
        })
    };
    let mut at = 5;
    if bits(0, 5)? == 31 {
        at += 6;
    }
    at += if bits(at, 4)? == 15 { 28 } else { 4 };
    match bits(at, 4)? {
        0 => None,
        7 => Some(8),
        n => u8::try_from(n).ok(),
    }
}

/// iTunes' gapless sample count first, then the media duration cut to the edit list, then
/// the media duration alone, then the movie's.
fn duration(
    track: &Track,
    (movie_scale, movie_duration): (u32, u64),
    smpb: Option<u64>,
) -> Option<(u64, u32)> {
    let rate = track.timescale;
    if let Some(samples) = smpb.filter(|&s| s > 0 && rate > 0) {
        return Some((samples, rate));
    }
    if rate > 0 && track.duration > 0 {
        if let [(segment, media_start)] = track.edits[..] {
            let after_start = track
                .duration
                .saturating_sub(u64::try_from(media_start).unwrap_or(0));
            let frames = if movie_scale > 0 && segment > 0 {
                let in_media = (u128::from(segment) * u128::from(rate)
                    + u128::from(movie_scale) / 2)
                    / u128::from(movie_scale);
                after_start.min(u64::try_from(in_media).unwrap_or(u64::MAX))
            } else {
                after_start
            };
            return Some((frames, rate));
        }
        return Some((track.duration, rate));
    }
    (movie_scale > 0).then_some((movie_duration, movie_scale))
}

/// Version, flags, then (creation, modification, timescale, duration) in 32 or 64 bits.
fn read_times(input: &mut Input, atom: &Atom) -> Result<(u32, u64), ProbeError> {
    let mut r = input.region(atom.body, atom.end)?;
    let version = r.u8()?;
    r.skip(3)?;
    if version == 1 {
        r.skip(16)?;
        let scale = r.u32_be()?;
        let duration = (u64::from(r.u32_be()?) << 32) | u64::from(r.u32_be()?);
        Ok((scale, duration))
    } else {
        r.skip(8)?;
        let scale = r.u32_be()?;
        let duration = r.u32_be()?;
        // All ones means unknown.
        Ok((
            scale,
            if duration == u32::MAX {
                0
            } else {
                u64::from(duration)
            },
        ))
    }
}

fn read_mvhd(input: &mut Input, atom: &Atom) -> Result<(u32, u64), ProbeError> {
    read_times(input, atom)
}

fn read_trak(input: &mut Input, trak: &Atom) -> Result<Track, ProbeError> {
    let mut track = Track::default();
    for atom in children(input, trak.body, trak.end)? {
        match &atom.kind {
            b"edts" => {
                if let Some(elst) = child(input, &atom, b"elst")? {
                    track.edits = read_elst(input, &elst)?;
                }
            }
            b"mdia" => {
                for m in children(input, atom.body, atom.end)? {
                    match &m.kind {
                        b"mdhd" => (track.timescale, track.duration) = read_times(input, &m)?,
                        b"hdlr" => {
                            let mut h = [0u8; 12];
                            if m.len() >= 12 {
                                input.read_at(m.body, &mut h)?;
                                track.handler = [h[8], h[9], h[10], h[11]];
                            }
                        }
                        b"minf" => {
                            if let Some(stbl) = child(input, &m, b"stbl")? {
                                check_sample_tables(input, &stbl)?;
                                if let Some(stsd) = child(input, &stbl, b"stsd")? {
                                    // Version and flags, entry count, then the first entry:
                                    // 8 bytes of atom header and 16 before the channel count.
                                    let mut c = [0u8; 2];
                                    if stsd.len() >= 8 + 26 {
                                        input.read_at(stsd.body + 8 + 24, &mut c)?;
                                        track.channels = u16::from_be_bytes(c);
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(track)
}

fn read_elst(input: &mut Input, elst: &Atom) -> Result<Vec<(u64, i64)>, ProbeError> {
    let mut r = input.region(elst.body, elst.end)?;
    let version = r.u8()?;
    r.skip(3)?;
    let count = r.u32_be()?;
    let mut edits = Vec::new();
    // Real files have one or two edits; the rest would not change the answer.
    for _ in 0..count.min(16) {
        let (segment, media) = if version == 1 {
            let s = (u64::from(r.u32_be()?) << 32) | u64::from(r.u32_be()?);
            let m = ((u64::from(r.u32_be()?) << 32) | u64::from(r.u32_be()?)) as i64;
            (s, m)
        } else {
            (u64::from(r.u32_be()?), i64::from(r.u32_be()? as i32))
        };
        r.skip(4)?; // rate
        if media >= 0 {
            edits.push((segment, media));
        }
    }
    Ok(edits)
}

/// Symphonia allocates sample tables by their declared entry count before reading them; a
/// forged count would ask for gigabytes. Each count must fit in its atom.
fn check_sample_tables(input: &mut Input, stbl: &Atom) -> Result<(), ProbeError> {
    for atom in children(input, stbl.body, stbl.end)? {
        let (head, entry): (u64, u64) = match &atom.kind {
            b"stts" | b"ctts" | b"co64" => (8, 8),
            b"stsc" => (8, 12),
            b"stco" | b"stss" => (8, 4),
            b"stsz" => (12, 4),
            _ => continue,
        };
        let mut h = [0u8; 12];
        if atom.len() < head {
            return Err(ProbeError::Corrupt(
                "an MP4 sample table is too short".into(),
            ));
        }
        input.read_at(atom.body, &mut h[..head as usize])?;
        let count = u64::from(u32::from_be_bytes(
            h[head as usize - 4..head as usize]
                .try_into()
                .unwrap_or_default(),
        ));
        // stsz lists no sizes when all samples share one.
        let fixed_size = &atom.kind == b"stsz" && u32::from_be_bytes([h[4], h[5], h[6], h[7]]) != 0;
        if !fixed_size && head + count * entry > atom.len() {
            return Err(ProbeError::Corrupt(format!(
                "the MP4 sample table '{}' declares {count} entries but holds fewer",
                String::from_utf8_lossy(&atom.kind)
            )));
        }
    }
    Ok(())
}

fn read_meta(
    input: &mut Input,
    meta: &Atom,
    want: Want,
    col: &mut Collector,
    tags: &mut TagSet,
    smpb: &mut Option<u64>,
) -> Result<(), ProbeError> {
    // iTunes' meta is a full box (4 bytes of version and flags); QuickTime's is not.
    let mut probe = [0u8; 8];
    let start = if meta.len() >= 8 && {
        input.read_at(meta.body, &mut probe)?;
        &probe[4..8] == b"hdlr"
    } {
        meta.body
    } else {
        meta.body + 4
    };
    for ilst in children(input, start.min(meta.end), meta.end)?
        .into_iter()
        .filter(|a| &a.kind == b"ilst")
    {
        for item in children(input, ilst.body, ilst.end)? {
            read_item(input, &item, want, col, tags, smpb)?;
        }
    }
    Ok(())
}

fn read_item(
    input: &mut Input,
    item: &Atom,
    want: Want,
    col: &mut Collector,
    tags: &mut TagSet,
    smpb: &mut Option<u64>,
) -> Result<(), ProbeError> {
    let parts = children(input, item.body, item.end)?;
    let field = match &item.kind {
        b"\xa9nam" => Some(Field::Title),
        b"\xa9ART" => Some(Field::Artist),
        b"aART" => Some(Field::AlbumArtist),
        b"\xa9alb" => Some(Field::Album),
        b"\xa9wrt" => Some(Field::Composer),
        b"\xa9day" => Some(Field::Date),
        b"\xa9gen" => Some(Field::Genre),
        b"\xa9lyr" => Some(Field::Lyrics),
        b"----" => {
            let mut name = String::new();
            let mut mean = String::new();
            for p in &parts {
                if p.len() >= 4 && (&p.kind == b"name" || &p.kind == b"mean") {
                    let mut r = input.region(p.body + 4, p.end)?;
                    let text =
                        String::from_utf8_lossy(&r.read_prefix(p.len() - 4, 256)?).into_owned();
                    if &p.kind == b"name" {
                        name = text;
                    } else {
                        mean = text;
                    }
                }
            }
            if mean != "com.apple.iTunes" {
                return Ok(());
            }
            if name == "iTunSMPB" {
                if let Some(text) = data_texts(input, &parts, 256)?.first() {
                    *smpb = text
                        .split_whitespace()
                        .nth(3)
                        .and_then(|s| u64::from_str_radix(s, 16).ok());
                }
                return Ok(());
            }
            freeform_field(&name)
        }
        _ => None,
    };
    if let Some(field) = field {
        if want.tags {
            for text in data_texts(input, &parts, col.max_bytes(field))? {
                if let Some(text) = col.text(field, &text) {
                    tags.push(field, text);
                }
            }
        }
        return Ok(());
    }
    if !want.tags {
        return Ok(());
    }
    for data in parts.iter().filter(|p| &p.kind == b"data" && p.len() >= 8) {
        let payload_len = data.len() - 8;
        let mut head = [0u8; 16];
        let n = input.read_at_most(data.body, &mut head)?;
        let kind = u32::from_be_bytes([0, head[1], head[2], head[3]]);
        let payload = &head[8..n];
        let pair = |p: &[u8]| {
            (p.len() >= 6).then(|| {
                (
                    u16::from_be_bytes([p[2], p[3]]),
                    u16::from_be_bytes([p[4], p[5]]),
                )
            })
        };
        match &item.kind {
            b"trkn" | b"disk" => {
                if let Some((n, total)) = pair(payload) {
                    let (number, of) = if &item.kind == b"trkn" {
                        (Field::Track, Field::TrackTotal)
                    } else {
                        (Field::Disc, Field::DiscTotal)
                    };
                    if n > 0 {
                        tags.push(number, n.to_string());
                    }
                    if total > 0 {
                        tags.push(of, total.to_string());
                    }
                }
            }
            b"cpil" => {
                if let Some(&flag) = payload.first() {
                    tags.push(Field::Compilation, flag.to_string());
                }
            }
            b"gnre" if payload.len() >= 2 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if let Some(name) = code
                    .checked_sub(1)
                    .and_then(|c| u8::try_from(c).ok())
                    .and_then(id3v1_genre)
                {
                    tags.push(Field::Genre, name.to_owned());
                }
            }
            b"covr" => {
                let mime = match kind {
                    13 => "image/jpeg",
                    14 => "image/png",
                    27 => "image/bmp",
                    _ => sniff_image(payload).unwrap_or("application/octet-stream"),
                }
                .to_owned();
                let bytes = if col.wants_picture_data(3, payload_len) {
                    Some(
                        input
                            .region(data.body + 8, data.end)?
                            .read_vec(payload_len)?,
                    )
                } else {
                    None
                };
                col.picture(Picture {
                    mime,
                    kind: 3,
                    size: payload_len,
                    data: bytes,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The text of each `data` atom of an item, read up to `max` bytes.
fn data_texts(input: &mut Input, parts: &[Atom], max: usize) -> Result<Vec<String>, ProbeError> {
    let mut out = Vec::new();
    for data in parts.iter().filter(|p| &p.kind == b"data" && p.len() >= 8) {
        let mut r = input.region(data.body, data.end)?;
        let kind = r.u32_be()? & 0x00ff_ffff;
        r.skip(4)?; // locale
        let bytes = r.read_prefix(data.len() - 8, max)?;
        out.push(match kind {
            2 => utf16(&bytes, true),
            _ => String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    Ok(out)
}
