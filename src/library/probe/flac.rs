//! Native FLAC: metadata blocks (STREAMINFO, VORBIS_COMMENT, PICTURE), then frames.

use symphonia::default::formats::FlacReader;

use super::input::Input;
use super::tags::{Collector, TagSet};
use super::{audio, trailing_id3v1, vorbis, Parsed, ProbeError, Want};

const STREAMINFO: u8 = 0;
const PADDING: u8 = 1;
const VORBIS_COMMENT: u8 = 4;
const PICTURE: u8 = 6;
/// More blocks than this is not a real file.
const MAX_BLOCKS: usize = 1024;

/// The fields of STREAMINFO the probe uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamInfo {
    pub(super) min_block: u16,
    /// 0 when unknown.
    pub(super) max_frame: u32,
    pub(super) sample_rate: u32,
    pub(super) channels: u8,
    pub(super) bits: u8,
    /// 0 when the encoder did not know.
    pub(super) total_samples: u64,
}

impl StreamInfo {
    pub(super) fn parse(b: &[u8]) -> Option<StreamInfo> {
        if b.len() < 18 {
            return None;
        }
        let packed = u64::from_be_bytes(b[10..18].try_into().ok()?);
        let info = StreamInfo {
            min_block: u16::from_be_bytes([b[0], b[1]]),
            max_frame: u32::from_be_bytes([0, b[7], b[8], b[9]]),
            sample_rate: (packed >> 44) as u32,
            channels: ((packed >> 41) & 0x7) as u8 + 1,
            bits: ((packed >> 36) & 0x1f) as u8 + 1,
            total_samples: packed & 0xf_ffff_ffff,
        };
        (info.sample_rate > 0).then_some(info)
    }
}

/// Parses a FLAC stream starting with `fLaC` at `start`; `leading` are ID3v2 tags in front of
/// it, trusted less than its own comments.
pub(super) fn parse(
    input: &mut Input,
    start: u64,
    want: Want,
    col: &mut Collector,
    leading: Vec<TagSet>,
) -> Result<Parsed, ProbeError> {
    let mut pos = start + 4;
    let mut info = None;
    let mut comments = TagSet::default();
    let mut hidden = Vec::new();
    for _ in 0..MAX_BLOCKS {
        let mut h = [0u8; 4];
        input.read_at(pos, &mut h)?;
        let (last, kind) = (h[0] & 0x80 != 0, h[0] & 0x7f);
        let len = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
        let body = pos + 4;
        if body + len > input.len() {
            return Err(ProbeError::Corrupt(format!(
                "truncated: a FLAC metadata block ends at byte {}, after the end of the file",
                body + len
            )));
        }
        match kind {
            STREAMINFO => {
                let mut b = [0u8; 18];
                if len >= 18 {
                    input.read_at(body, &mut b)?;
                    info = StreamInfo::parse(&b);
                }
            }
            VORBIS_COMMENT if want.tags => {
                let result =
                    vorbis::read_comments(&mut input.region(body, body + len)?, col, &mut comments);
                if let Err(e) = result {
                    col.warn(format!("FLAC comment block partly unreadable: {e}"));
                }
            }
            PICTURE if want.tags => {
                let result =
                    vorbis::read_picture_block(&mut input.region(body, body + len)?, len, col);
                if let Err(e) = result {
                    col.warn(format!("FLAC picture block unreadable: {e}"));
                }
            }
            _ => {}
        }
        if matches!(kind, VORBIS_COMMENT | PICTURE) {
            // Symphonia would read these whole; as padding it seeks past them.
            hidden.push((pos, [h[0] & 0x80 | PADDING, h[1], h[2], h[3]]));
        }
        pos = body + len;
        if last {
            break;
        }
    }
    let info = info.ok_or_else(|| ProbeError::Corrupt("FLAC stream without STREAMINFO".into()))?;
    let (end, id3v1) = trailing_id3v1(input, pos, input.len(), want, col)?;
    let mut parsed = Parsed::new("flac", pos, end);
    parsed.tags = std::iter::once(comments)
        .chain(leading)
        .chain(id3v1)
        .collect();
    if !want.audio {
        return Ok(parsed);
    }
    if pos >= end {
        return Err(ProbeError::Corrupt(
            "truncated: the FLAC stream has no audio frames".into(),
        ));
    }
    let frames = if info.total_samples > 0 {
        check_complete(input, pos, end, &info, col)?;
        info.total_samples
    } else {
        let mut reader: FlacReader = audio::open(input, start, end, hidden, 0)?;
        audio::count_frames(&mut reader, (end - pos) / 16 + 2)
    };
    parsed.codec = "flac".into();
    parsed.frames = Some((frames, info.sample_rate));
    parsed.sample_rate = Some(info.sample_rate);
    parsed.channels = Some(info.channels);
    parsed.bit_depth = Some(info.bits);
    Ok(parsed)
}

/// Whether the stream holds all the samples STREAMINFO counts. The last frame header (found
/// scanning back from the end; a header-like pattern inside frame data is told apart by its
/// sample number and checksums) must end at the last sample.
fn check_complete(
    input: &mut Input,
    start: u64,
    end: u64,
    info: &StreamInfo,
    col: &mut Collector,
) -> Result<(), ProbeError> {
    // The last frame is at most the largest frame; STREAMINFO says how large that is.
    let window = match info.max_frame {
        0 => 64 * 1024,
        n => u64::from(n) + 64,
    };
    let from = end.saturating_sub(window).max(start);
    let mut buf = vec![0u8; (end - from) as usize];
    input.read_at(from, &mut buf)?;
    let mut latest = None;
    for i in (0..buf.len().saturating_sub(1)).rev() {
        let Some(h) = frame_header(&buf[i..], info) else {
            continue;
        };
        if h.end_sample == info.total_samples {
            let frame = &buf[i..];
            let (body, crc) = frame.split_at(frame.len().saturating_sub(2));
            if crc.len() < 2 || crc16(body) != u16::from_be_bytes([crc[0], crc[1]]) {
                col.warn(
                    "the last FLAC frame fails its checksum: the file may be cut short or \
                     carry trailing data"
                        .into(),
                );
            }
            return Ok(());
        }
        latest = latest.or(Some(h.end_sample));
    }
    match latest {
        Some(stop) if stop < info.total_samples => Err(ProbeError::Corrupt(format!(
            "truncated: the audio stops at sample {stop} of {}",
            info.total_samples
        ))),
        None if from == start => Err(ProbeError::Corrupt("no FLAC frame found".into())),
        _ => Ok(()),
    }
}

struct FrameHeader {
    /// The sample after the frame's last one.
    end_sample: u64,
}

/// Parses a frame header at the start of `b`, checking its CRC-8 and that it agrees with
/// STREAMINFO.
fn frame_header(b: &[u8], info: &StreamInfo) -> Option<FrameHeader> {
    if b.len() < 6 || b[0] != 0xff || b[1] & 0xfe != 0xf8 {
        return None;
    }
    let variable = b[1] & 1 == 1;
    let (size_code, rate_code) = (b[2] >> 4, b[2] & 0xf);
    let (channel_code, bits_code) = (b[3] >> 4, (b[3] >> 1) & 0x7);
    const RATES: [u32; 12] = [
        0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000,
    ];
    const BITS: [u8; 8] = [0, 8, 12, 0, 16, 20, 24, 32];
    let channels = match channel_code {
        0..=7 => channel_code + 1,
        8..=10 => 2,
        _ => return None,
    };
    if size_code == 0
        || rate_code == 0xf
        || b[3] & 1 != 0
        || channels != info.channels
        || (1..=11).contains(&rate_code) && RATES[usize::from(rate_code)] != info.sample_rate
        || bits_code != 0 && BITS[usize::from(bits_code)] != info.bits
    {
        return None;
    }
    // The frame (or, for variable block sizes, sample) number, UTF-8 style.
    let lead = b[4];
    let extra = match lead.leading_ones() {
        0 => 0,
        n @ 2..=7 => n as usize - 1,
        _ => return None,
    };
    let mut number = u64::from(lead & (0x7f >> extra));
    for i in 0..extra {
        let c = *b.get(5 + i)?;
        if c & 0xc0 != 0x80 {
            return None;
        }
        number = (number << 6) | u64::from(c & 0x3f);
    }
    let mut at = 5 + extra;
    let block = match size_code {
        1 => 192,
        2..=5 => 576 << (size_code - 2),
        6 => {
            at += 1;
            u64::from(*b.get(at - 1)?) + 1
        }
        7 => {
            at += 2;
            u64::from(u16::from_be_bytes([*b.get(at - 2)?, *b.get(at - 1)?])) + 1
        }
        _ => 256 << (size_code - 8),
    };
    at += match rate_code {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    if crc8(b.get(..at)?) != *b.get(at)? {
        return None;
    }
    let first = if variable {
        number
    } else {
        number * u64::from(info.min_block)
    };
    Some(FrameHeader {
        end_sample: first + block,
    })
}

/// FLAC frame headers end in a CRC-8 (polynomial 0x07), frames in a CRC-16 (0x8005), both
/// unreflected with a zero start: the catalogue's SMBUS and UMTS variants.
const FLAC_CRC8: crc::Crc<u8> = crc::Crc::<u8>::new(&crc::CRC_8_SMBUS);
const FLAC_CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_UMTS);

fn crc8(data: &[u8]) -> u8 {
    FLAC_CRC8.checksum(data)
}

fn crc16(data: &[u8]) -> u16 {
    FLAC_CRC16.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crcs_match_the_flac_reference() {
        // CRC-8 and CRC-16 of "123456789" with FLAC's polynomials (0x07, 0x8005).
        assert_eq!(crc8(b"123456789"), 0xf4);
        assert_eq!(crc16(b"123456789"), 0xfee8);
    }
}
