//! MP3: MPEG-1/2/2.5 Layer III frames between leading ID3v2 tags and trailing APEv2/ID3v1
//! tags.

use symphonia::default::formats::MpaReader;

use super::input::Input;
use super::tags::{Collector, TagSet};
use super::{ape, audio, trailing_id3v1, Parsed, ProbeError, Want};

/// The smallest Layer III frame (8 kbit/s at 48 kHz) is 24 bytes; no file holds more frames
/// than its audio bytes over this.
const MIN_FRAME_LEN: u64 = 24;

/// How far past the tags the first frame may start (encoders and taggers leave junk).
const MAX_SYNC_SEARCH: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
struct FrameHeader {
    mpeg1: bool,
    sample_rate: u32,
    mono: bool,
    has_crc: bool,
    len: u64,
}

impl FrameHeader {
    fn parse(b: &[u8]) -> Option<FrameHeader> {
        if b.len() < 4 || b[0] != 0xff || b[1] & 0xe0 != 0xe0 {
            return None;
        }
        let version = (b[1] >> 3) & 3; // 0: 2.5, 1: reserved, 2: 2, 3: 1
        let layer = (b[1] >> 1) & 3; // 1: Layer III
        let bitrate_index = usize::from(b[2] >> 4);
        let rate_index = usize::from((b[2] >> 2) & 3);
        if version == 1
            || layer != 1
            || bitrate_index == 0
            || bitrate_index == 15
            || rate_index == 3
        {
            return None;
        }
        let mpeg1 = version == 3;
        let kbps: u64 = if mpeg1 {
            [
                0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ][bitrate_index]
        } else {
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][bitrate_index]
        };
        let sample_rate = [44100, 48000, 32000][rate_index] >> [2, 0, 1, 0][usize::from(version)];
        let padding = u64::from((b[2] >> 1) & 1);
        let coefficient = if mpeg1 { 144 } else { 72 };
        Some(FrameHeader {
            mpeg1,
            sample_rate,
            mono: b[3] >> 6 == 3,
            has_crc: b[1] & 1 == 0,
            len: coefficient * kbps * 1000 / u64::from(sample_rate) + padding,
        })
    }

    fn compatible(&self, other: &FrameHeader) -> bool {
        self.mpeg1 == other.mpeg1 && self.sample_rate == other.sample_rate
    }

    /// Where a Xing/Info tag starts: after the header and the side information.
    fn side_info_end(&self) -> usize {
        let side = match (self.mpeg1, self.mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        };
        4 + if self.has_crc { 2 } else { 0 } + side
    }
}

/// What the first frame says about the whole stream.
#[derive(Debug, Default)]
struct InfoTag {
    frames: Option<u32>,
    bytes: Option<u32>,
}

fn info_tag(frame: &[u8], header: &FrameHeader) -> Option<InfoTag> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?))
    };
    let at = header.side_info_end();
    if matches!(frame.get(at..at + 4), Some(b"Xing") | Some(b"Info")) {
        let flags = be32(at + 4)?;
        let mut next = at + 8;
        let mut tag = InfoTag::default();
        if flags & 1 != 0 {
            tag.frames = be32(next);
            next += 4;
        }
        if flags & 2 != 0 {
            tag.bytes = be32(next);
        }
        return Some(tag);
    }
    // VBRI sits 32 bytes after the header whatever the channel mode.
    if frame.get(36..40) == Some(b"VBRI") {
        return Some(InfoTag {
            bytes: be32(46),
            frames: be32(50),
        });
    }
    None
}

/// Finds the first frame at or after `start`: a valid header followed by another valid,
/// matching header (or the end of the audio). Three headers in a row are required when the
/// frame is not where the tags end, so that random bytes are not taken for MPEG.
fn find_first_frame(
    input: &mut Input,
    start: u64,
    end: u64,
) -> Result<Option<(u64, FrameHeader)>, ProbeError> {
    if let Some(h) = frames_at(input, start, end, 1)? {
        return Ok(Some((start, h)));
    }
    let search = end.saturating_sub(start).min(MAX_SYNC_SEARCH);
    let mut buf = vec![0u8; search as usize];
    input.read_at(start, &mut buf)?;
    for i in 1..buf.len() {
        if buf[i] == 0xff && FrameHeader::parse(&buf[i..]).is_some() {
            let at = start + i as u64;
            if let Some(h) = frames_at(input, at, end, 3)? {
                return Ok(Some((at, h)));
            }
        }
    }
    Ok(None)
}

/// The header at `at` if it and the `confirm` frames after it are valid and alike.
fn frames_at(
    input: &mut Input,
    at: u64,
    end: u64,
    confirm: usize,
) -> Result<Option<FrameHeader>, ProbeError> {
    let mut header_at = |at: u64| -> Result<Option<FrameHeader>, ProbeError> {
        if at + 4 > end {
            return Ok(None);
        }
        let mut h = [0u8; 4];
        input.read_at(at, &mut h)?;
        Ok(FrameHeader::parse(&h))
    };
    let Some(first) = header_at(at)? else {
        return Ok(None);
    };
    let mut next = at + first.len;
    for _ in 0..confirm {
        if next == end {
            break;
        }
        match header_at(next)? {
            Some(h) if h.compatible(&first) => next += h.len,
            _ => return Ok(None),
        }
    }
    Ok((next <= end).then_some(first))
}

/// Parses an MP3 whose data starts at `start` (after its ID3v2 tags); `None` if no MPEG
/// audio frames are found there.
pub(super) fn parse(
    input: &mut Input,
    start: u64,
    want: Want,
    col: &mut Collector,
    leading: Vec<TagSet>,
) -> Result<Option<Parsed>, ProbeError> {
    let (end, id3v1) = trailing_id3v1(input, start, input.len(), want, col)?;
    let (end, ape) = ape::trailing_ape(input, start, end, want, col)?;
    let Some((first, header)) = find_first_frame(input, start, end)? else {
        return Ok(None);
    };
    let mut parsed = Parsed::new("mp3", first, end);
    parsed.tags = leading;
    parsed.tags.extend(ape);
    parsed.tags.extend(id3v1);
    if !want.audio {
        return Ok(Some(parsed));
    }

    let mut frame = vec![0u8; header.len.min(end - first) as usize];
    input.read_at(first, &mut frame)?;
    let info = info_tag(&frame, &header);
    let audio_len = end - first;
    if let Some(InfoTag {
        bytes: Some(bytes),
        frames: Some(_),
    }) = info
    {
        if audio_len < u64::from(bytes) / 10 * 9 {
            return Err(ProbeError::Corrupt(format!(
                "truncated: the Xing header counts {bytes} bytes of audio, the file holds \
                 {audio_len}"
            )));
        }
    }
    let mut reader: MpaReader = audio::open(input, first, end, Vec::new(), 0)?;
    let params = audio::first_track(&reader)?;
    let rate = params.sample_rate.unwrap_or(header.sample_rate);
    let stated = info.as_ref().and_then(|i| i.frames).and(params.n_frames);
    let frames = match stated {
        Some(n) => n,
        // Plain CBR files state no length; a bitrate estimate would be off by the size of
        // any tag or junk, so count instead.
        None => audio::count_frames(&mut reader, audio_len / MIN_FRAME_LEN + 2),
    };
    parsed.codec = audio::codec_name(params.codec);
    parsed.frames = Some((frames, rate));
    parsed.sample_rate = Some(rate);
    parsed.channels = audio::channels(&params).or(Some(if header.mono { 1 } else { 2 }));
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding, stereo: 417 bytes.
        let h = FrameHeader::parse(&[0xff, 0xfb, 0x90, 0x00]).unwrap();
        assert_eq!(
            (h.mpeg1, h.sample_rate, h.mono, h.len),
            (true, 44100, false, 417)
        );
        // MPEG-2, 24 kbit/s, 16 kHz, mono: 108 bytes.
        let h = FrameHeader::parse(&[0xff, 0xf3, 0x38, 0xc0]).unwrap();
        assert_eq!(
            (h.mpeg1, h.sample_rate, h.mono, h.len),
            (false, 16000, true, 108)
        );
        // Layer II, free bitrate, reserved rate: not Layer III frames.
        assert!(FrameHeader::parse(&[0xff, 0xfd, 0x90, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xff, 0xfb, 0x00, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xff, 0xfb, 0x9c, 0x00]).is_none());
    }
}
