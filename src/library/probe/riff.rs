//! WAV (RIFF, little-endian chunks) and AIFF (IFF, big-endian chunks). The chunks are walked
//! here for tags (`LIST INFO`, AIFF text chunks, an `id3 ` chunk) and to check every size
//! against the file; symphonia reads the format chunk and counts the frames.

use symphonia::default::formats::{AiffReader, WavReader};

use super::id3::{read_id3v2, Id3v2Header};
use super::input::{Bytes, Input};
use super::tags::{utf8_or_latin1, Collector, Field, TagSet};
use super::{audio, Parsed, ProbeError, Want};

/// More chunks than this is not a real file.
const MAX_CHUNKS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Chunk {
    id: [u8; 4],
    body: u64,
    /// As declared; may run past the end of the file.
    len: u64,
}

/// The chunks of a RIFF/IFF form, the first `data_id` chunk allowed to run past the end of
/// the file (checked by the caller), any other overrun ending the walk.
fn chunks(
    input: &mut Input,
    little_endian: bool,
    data_id: &[u8; 4],
) -> Result<Vec<Chunk>, ProbeError> {
    let len = input.len();
    let mut out = Vec::new();
    let mut at = 12;
    while at + 8 <= len && out.len() < MAX_CHUNKS {
        let mut h = [0u8; 8];
        input.read_at(at, &mut h)?;
        let id = [h[0], h[1], h[2], h[3]];
        let size = [h[4], h[5], h[6], h[7]];
        let size = u64::from(if little_endian {
            u32::from_le_bytes(size)
        } else {
            u32::from_be_bytes(size)
        });
        let chunk = Chunk {
            id,
            body: at + 8,
            len: size,
        };
        out.push(chunk);
        if chunk.body + size > len {
            if &id != data_id {
                return Err(ProbeError::Corrupt(format!(
                    "truncated: the '{}' chunk ends past the end of the file",
                    String::from_utf8_lossy(&id)
                )));
            }
            break;
        }
        // Chunks are padded to an even length.
        at = chunk.body + size + (size & 1);
    }
    Ok(out)
}

/// The audio chunk, its length limited to the file. Writers streaming to a pipe leave the
/// size at 0 or 0xFFFFFFFF; any other overrun means the file was cut.
fn data_region(input: &Input, chunk: &Chunk, name: &str) -> Result<(u64, u64), ProbeError> {
    let available = input.len().saturating_sub(chunk.body);
    if chunk.len > available && chunk.len != 0 && chunk.len != u64::from(u32::MAX) {
        return Err(ProbeError::Corrupt(format!(
            "truncated: the {name} chunk declares {} bytes, the file holds {available}",
            chunk.len
        )));
    }
    let len = if chunk.len == 0 || chunk.len > available {
        available
    } else {
        chunk.len
    };
    Ok((chunk.body, len))
}

fn read_id3_chunk(
    input: &mut Input,
    chunk: &Chunk,
    col: &mut Collector,
) -> Result<Option<TagSet>, ProbeError> {
    let mut head = [0u8; 10];
    if chunk.len < 10 {
        return Ok(None);
    }
    input.read_at(chunk.body, &mut head)?;
    Ok(Id3v2Header::parse(&head).map(|h| read_id3v2(input, chunk.body, h, col)))
}

pub(super) fn parse_wav(
    input: &mut Input,
    want: Want,
    col: &mut Collector,
) -> Result<Parsed, ProbeError> {
    let all = chunks(input, true, b"data")?;
    let data = all
        .iter()
        .find(|c| &c.id == b"data")
        .ok_or_else(|| ProbeError::Corrupt("no data chunk (the file may be cut short)".into()))?;
    let (start, len) = data_region(input, data, "data")?;
    let mut parsed = Parsed::new("wav", start, start + len);
    if want.tags {
        let mut info = TagSet::default();
        for chunk in &all {
            match &chunk.id {
                b"id3 " | b"ID3 " => parsed.tags.extend(read_id3_chunk(input, chunk, col)?),
                b"LIST" => {
                    if let Err(e) = read_info(input, chunk, col, &mut info) {
                        col.warn(format!("RIFF INFO list partly unreadable: {e}"));
                    }
                }
                _ => {}
            }
        }
        // The ID3 chunk says more and is newer than INFO; INFO fills its gaps.
        parsed.tags.push(info);
    }
    if !want.audio {
        return Ok(parsed);
    }
    let reader: WavReader = audio::open(input, 0, input.len(), Vec::new(), 0)?;
    fill_pcm(&mut parsed, &audio::first_track(&reader)?, data.len, len);
    Ok(parsed)
}

pub(super) fn parse_aiff(
    input: &mut Input,
    want: Want,
    col: &mut Collector,
) -> Result<Parsed, ProbeError> {
    let all = chunks(input, false, b"SSND")?;
    let ssnd = all
        .iter()
        .find(|c| &c.id == b"SSND")
        .ok_or_else(|| ProbeError::Corrupt("no SSND chunk (the file may be cut short)".into()))?;
    let (start, len) = data_region(input, ssnd, "SSND")?;
    // SSND starts with an offset and a block size before the samples.
    let (start, len) = (start + 8.min(len), len.saturating_sub(8));
    let mut parsed = Parsed::new("aiff", start, start + len);
    if want.tags {
        let mut text = TagSet::default();
        for chunk in &all {
            let field = match &chunk.id {
                b"ID3 " | b"id3 " => {
                    parsed.tags.extend(read_id3_chunk(input, chunk, col)?);
                    continue;
                }
                b"NAME" => Field::Title,
                b"AUTH" => Field::Artist,
                _ => continue,
            };
            let bytes = input
                .region(chunk.body, chunk.body + chunk.len)?
                .read_prefix(chunk.len, col.max_bytes(field))?;
            if let Some(value) = col.text(field, &utf8_or_latin1(&bytes)) {
                text.push(field, value);
            }
        }
        parsed.tags.push(text);
    }
    if !want.audio {
        return Ok(parsed);
    }
    let reader: AiffReader = audio::open(input, 0, input.len(), Vec::new(), 0)?;
    fill_pcm(
        &mut parsed,
        &audio::first_track(&reader)?,
        ssnd.len.saturating_sub(8),
        len,
    );
    // Symphonia derives the count from the SSND size, counting its 8-byte preamble as
    // samples; COMM states it exactly (channels u16, then frames u32).
    if let Some(comm) = all.iter().find(|c| &c.id == b"COMM" && c.len >= 6) {
        let mut b = [0u8; 4];
        input.read_at(comm.body + 2, &mut b)?;
        let stated = u64::from(u32::from_be_bytes(b));
        if let Some((frames, _)) = parsed.frames.as_mut() {
            *frames = (*frames).min(stated);
        }
    }
    Ok(parsed)
}

/// Stream parameters from symphonia; when the declared data size overran the file, the frame
/// count is scaled to the bytes that are there.
fn fill_pcm(
    parsed: &mut Parsed,
    params: &symphonia::core::codecs::CodecParameters,
    declared: u64,
    actual: u64,
) {
    parsed.codec = audio::codec_name(params.codec);
    parsed.sample_rate = params.sample_rate;
    parsed.channels = audio::channels(params);
    parsed.bit_depth = audio::bits(params).or_else(|| {
        params
            .bits_per_coded_sample
            .and_then(|b| u8::try_from(b).ok())
    });
    let frames = params.n_frames.map(|n| {
        if declared > actual && declared > 0 {
            (u128::from(n) * u128::from(actual) / u128::from(declared)) as u64
        } else {
            n
        }
    });
    parsed.frames = frames.zip(params.sample_rate);
}

/// `LIST` chunks of type `INFO`: sub-chunks of NUL-terminated text.
fn read_info(
    input: &mut Input,
    list: &Chunk,
    col: &mut Collector,
    set: &mut TagSet,
) -> Result<(), ProbeError> {
    let mut r = input.region(list.body, list.body + list.len)?;
    let mut kind = [0u8; 4];
    r.read_exact(&mut kind)?;
    if &kind != b"INFO" {
        return Ok(());
    }
    while r.remaining().unwrap_or(0) >= 8 {
        let mut id = [0u8; 4];
        r.read_exact(&mut id)?;
        let size = u64::from(r.u32_le()?);
        let padded = size + (size & 1);
        let field = match &id {
            b"INAM" => Some(Field::Title),
            b"IART" => Some(Field::Artist),
            b"IPRD" => Some(Field::Album),
            b"IGNR" => Some(Field::Genre),
            b"ICRD" => Some(Field::Date),
            b"ITRK" | b"IPRT" => Some(Field::Track),
            b"IMUS" => Some(Field::Composer),
            _ => None,
        };
        let Some(field) = field else {
            r.skip(padded.min(r.remaining().unwrap_or(0)))?;
            continue;
        };
        let bytes = r.read_prefix(size, col.max_bytes(field))?;
        r.skip((padded - size).min(r.remaining().unwrap_or(0)))?;
        let text = utf8_or_latin1(bytes.split(|&b| b == 0).next().unwrap_or_default());
        if let Some(text) = col.text(field, &text) {
            set.push(field, text);
        }
    }
    Ok(())
}
