//! APEv2 tags, which mp3gain and foobar2000 append to MP3 files (ReplayGain lives there).

use super::id3::{normalise_mime, sniff_image};
use super::input::{Bytes, Input};
use super::tags::{vorbis_field, Collector, Picture, TagSet};
use super::{ProbeError, Want};

const FOOTER: u64 = 32;
const HAS_HEADER: u32 = 1 << 31;

/// An APEv2 tag ending at `end`: where it starts, and its values when tags are wanted.
pub(super) fn trailing_ape(
    input: &mut Input,
    start: u64,
    end: u64,
    want: Want,
    col: &mut Collector,
) -> Result<(u64, Option<TagSet>), ProbeError> {
    if end < start + FOOTER {
        return Ok((end, None));
    }
    let mut footer = [0u8; FOOTER as usize];
    input.read_at(end - FOOTER, &mut footer)?;
    if &footer[..8] != b"APETAGEX" {
        return Ok((end, None));
    }
    let le32 = |at: usize| {
        u32::from_le_bytes([footer[at], footer[at + 1], footer[at + 2], footer[at + 3]])
    };
    let (size, count, flags) = (u64::from(le32(12)), le32(16), le32(20));
    let header = if flags & HAS_HEADER != 0 { FOOTER } else { 0 };
    let items_start = end
        .checked_sub(size)
        .filter(|&s| size >= FOOTER && s >= start + header);
    let Some(items_start) = items_start else {
        col.warn("an APEv2 tag has an impossible size and was ignored".into());
        return Ok((end, None));
    };
    let tag_start = items_start - header;
    if !want.tags {
        return Ok((tag_start, None));
    }
    let mut set = TagSet::default();
    let mut region = input.region(items_start, end - FOOTER)?;
    if let Err(e) = read_items(&mut region, count, col, &mut set) {
        col.warn(format!("APEv2 tag partly unreadable: {e}"));
    }
    Ok((tag_start, Some(set)))
}

fn read_items(
    r: &mut dyn Bytes,
    count: u32,
    col: &mut Collector,
    set: &mut TagSet,
) -> Result<(), ProbeError> {
    for _ in 0..count {
        if r.remaining() == Some(0) {
            break;
        }
        let len = u64::from(r.u32_le()?);
        let flags = r.u32_le()?;
        let mut key = Vec::new();
        loop {
            match r.u8()? {
                0 => break,
                b if key.len() < 255 => key.push(b),
                _ => return Err(ProbeError::Corrupt("an APEv2 key is too long".into())),
            }
        }
        let key = String::from_utf8_lossy(&key).into_owned();
        let binary = (flags >> 1) & 3 == 1;
        if binary && key.to_ascii_lowercase().starts_with("cover art") {
            read_cover(r, len, &key, col)?;
            continue;
        }
        match vorbis_field(&key).filter(|_| !binary) {
            Some(field) => {
                let value = r.read_prefix(len, col.max_bytes(field))?;
                for v in value.split(|&b| b == 0) {
                    if let Some(text) = col.text(field, &String::from_utf8_lossy(v)) {
                        set.push(field, text);
                    }
                }
            }
            None => r.skip(len)?,
        }
    }
    Ok(())
}

/// "Cover Art (Front)": a file name, a NUL, then the image.
fn read_cover(
    r: &mut dyn Bytes,
    len: u64,
    key: &str,
    col: &mut Collector,
) -> Result<(), ProbeError> {
    let head = r.read_vec(len.min(512))?;
    let rest = len - head.len() as u64;
    let Some(nul) = head.iter().position(|&b| b == 0) else {
        return r.skip(rest);
    };
    let image = &head[nul + 1..];
    let size = len - (nul as u64 + 1);
    let kind = if key.eq_ignore_ascii_case("cover art (front)") {
        3
    } else {
        0
    };
    let mime = normalise_mime(sniff_image(image).unwrap_or(""), image);
    let data = if col.wants_picture_data(kind, size) {
        let mut data = image.to_vec();
        data.extend(r.read_vec(rest)?);
        Some(data)
    } else {
        r.skip(rest)?;
        None
    };
    col.picture(Picture {
        mime,
        kind,
        size,
        data,
    });
    Ok(())
}
