//! Vorbis comments (FLAC, Ogg Vorbis, Opus) and FLAC picture structures, including the base64
//! `METADATA_BLOCK_PICTURE` comment, read without holding a picture in memory.

use base64::Engine;

use super::id3::normalise_mime;
use super::input::Bytes;
use super::tags::{latin1, vorbis_field, Collector, Picture, TagSet};
use super::ProbeError;

/// Keys are short; a comment whose `=` is not within this many bytes is not one we map.
const KEY_PREFIX: u64 = 256;

/// Reads a comment block (vendor string, count, `KEY=value` comments).
pub(super) fn read_comments(
    r: &mut dyn Bytes,
    col: &mut Collector,
    set: &mut TagSet,
) -> Result<(), ProbeError> {
    let vendor = r.u32_le()?;
    r.skip(u64::from(vendor))?;
    let count = r.u32_le()?;
    for _ in 0..count {
        let len = u64::from(r.u32_le()?);
        let head = r.read_vec(len.min(KEY_PREFIX))?;
        let rest = len - head.len() as u64;
        let Some(eq) = head.iter().position(|&b| b == b'=') else {
            r.skip(rest)?;
            continue;
        };
        let key = String::from_utf8_lossy(&head[..eq]);
        if key.eq_ignore_ascii_case("METADATA_BLOCK_PICTURE") {
            read_base64_picture(r, &head[eq + 1..], rest, col)?;
            continue;
        }
        let Some(field) = vorbis_field(&key) else {
            r.skip(rest)?;
            continue;
        };
        let mut value = head[eq + 1..].to_vec();
        let keep = col.max_bytes(field).saturating_sub(value.len());
        value.extend(r.read_prefix(rest, keep)?);
        if let Some(text) = col.text(field, &String::from_utf8_lossy(&value)) {
            set.push(field, text);
        }
    }
    Ok(())
}

/// The part of a FLAC picture structure before the image bytes.
struct PictureHead {
    kind: u8,
    mime: String,
    /// Offset of the image bytes from the start of the structure.
    data_offset: usize,
    data_len: u64,
}

/// Type, MIME type, description, dimensions, then the length of the image; `None` if `b` is
/// too short to hold all of that.
fn parse_picture_head(b: &[u8]) -> Option<PictureHead> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let kind = be32(0)?;
    let mime_len = usize::try_from(be32(4)?).ok()?;
    let mime = latin1(b.get(8..8usize.checked_add(mime_len)?)?);
    let desc_at = 8 + mime_len;
    let desc_len = usize::try_from(be32(desc_at)?).ok()?;
    let len_at = desc_at
        .checked_add(4)?
        .checked_add(desc_len)?
        .checked_add(16)?;
    let data_len = u64::from(be32(len_at)?);
    Some(PictureHead {
        kind: u8::try_from(kind).unwrap_or(0),
        mime,
        data_offset: len_at + 4,
        data_len,
    })
}

/// A FLAC PICTURE metadata block of `len` bytes.
pub(super) fn read_picture_block(
    r: &mut dyn Bytes,
    len: u64,
    col: &mut Collector,
) -> Result<(), ProbeError> {
    const HEAD: u64 = 4096;
    let head = r.read_vec(len.min(HEAD))?;
    let rest = len - head.len() as u64;
    let Some(p) = parse_picture_head(&head) else {
        col.warn("a FLAC picture block could not be read".into());
        return r.skip(rest);
    };
    let in_head = &head[p.data_offset.min(head.len())..];
    let mime = normalise_mime(&p.mime, in_head);
    let data = if col.wants_picture_data(p.kind, p.data_len) {
        let mut data = in_head.to_vec();
        let more = p.data_len.saturating_sub(data.len() as u64).min(rest);
        data.extend(r.read_vec(more)?);
        r.skip(rest - more)?;
        data.truncate(usize::try_from(p.data_len).unwrap_or(usize::MAX));
        Some(data)
    } else {
        r.skip(rest)?;
        None
    };
    col.picture(Picture {
        mime,
        kind: p.kind,
        size: data.as_ref().map_or(p.data_len, |d| d.len() as u64),
        data,
    });
    Ok(())
}

/// `METADATA_BLOCK_PICTURE=<base64 of a FLAC picture structure>`: decodes only enough of the
/// start to learn the type, MIME type and size, unless the bytes are wanted.
fn read_base64_picture(
    r: &mut dyn Bytes,
    already: &[u8],
    rest: u64,
    col: &mut Collector,
) -> Result<(), ProbeError> {
    const HEAD_CHARS: u64 = 8192;
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut text = already.to_vec();
    let more = rest.min(HEAD_CHARS.saturating_sub(text.len() as u64));
    text.extend(r.read_vec(more)?);
    let rest = rest - more;
    let whole = rest == 0;
    // Only whole 4-character groups decode on their own.
    let usable = if whole {
        text.len()
    } else {
        text.len() / 4 * 4
    };
    let head = engine
        .decode(&text[..usable])
        .ok()
        .and_then(|bytes| Some((parse_picture_head(&bytes)?, bytes)));
    let Some((p, head_bytes)) = head else {
        col.warn("a METADATA_BLOCK_PICTURE comment could not be read".into());
        return r.skip(rest);
    };
    let in_head = &head_bytes[p.data_offset.min(head_bytes.len())..];
    let mime = normalise_mime(&p.mime, in_head);
    let data = if col.wants_picture_data(p.kind, p.data_len) {
        text.extend(r.read_vec(rest)?);
        engine.decode(&text).ok().and_then(|all| {
            all.get(p.data_offset..)?
                .get(..usize::try_from(p.data_len).ok()?)
                .map(<[u8]>::to_vec)
        })
    } else {
        r.skip(rest)?;
        None
    };
    col.picture(Picture {
        mime,
        kind: p.kind,
        size: p.data_len,
        data,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_head_needs_every_field() {
        let mut b = Vec::new();
        b.extend(3u32.to_be_bytes());
        b.extend(9u32.to_be_bytes());
        b.extend(b"image/png");
        b.extend(2u32.to_be_bytes());
        b.extend(b"hi");
        b.extend([0u8; 16]);
        b.extend(1234u32.to_be_bytes());
        let p = parse_picture_head(&b).unwrap();
        assert_eq!(
            (p.kind, p.mime.as_str(), p.data_offset, p.data_len),
            (3, "image/png", b.len(), 1234)
        );
        for cut in 0..b.len() {
            assert!(parse_picture_head(&b[..cut]).is_none());
        }
        let mut huge = b.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_picture_head(&huge).is_none());
    }
}
