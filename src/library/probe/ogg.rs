//! Ogg (Vorbis, Opus, FLAC), read page by page here rather than by symphonia: the comment
//! packet can carry a cover as a base64 `METADATA_BLOCK_PICTURE` spread over hundreds of
//! pages, which symphonia's Ogg reader would assemble in memory, and the duration only needs
//! the identification header and the last page.

use super::flac::StreamInfo;
use super::input::{Bytes, Input};
use super::tags::{Collector, TagSet};
use super::{vorbis, Parsed, ProbeError, Want};

const END_OF_STREAM: u8 = 0x04;
/// The largest page: 27-byte header, 255 lacing values, 255 segments of 255 bytes.
const MAX_PAGE: u64 = 27 + 255 + 255 * 255;

/// A page header, without its body.
#[derive(Debug, Clone)]
struct Page {
    offset: u64,
    flags: u8,
    granule: u64,
    serial: u32,
    lacing: Vec<u8>,
}

impl Page {
    fn header_len(&self) -> u64 {
        27 + self.lacing.len() as u64
    }

    fn body_len(&self) -> u64 {
        self.lacing.iter().map(|&l| u64::from(l)).sum()
    }

    fn end(&self) -> u64 {
        self.offset + self.header_len() + self.body_len()
    }
}

/// The page at `offset`, or `None` if there is no capture pattern there.
fn read_page(input: &mut Input, offset: u64) -> Result<Option<Page>, ProbeError> {
    let mut h = [0u8; 27];
    if input.read_at_most(offset, &mut h)? < 27 || &h[..4] != b"OggS" || h[4] != 0 {
        return Ok(None);
    }
    let mut lacing = vec![0u8; usize::from(h[26])];
    input.read_at(offset + 27, &mut lacing)?;
    Ok(Some(Page {
        offset,
        flags: h[5],
        granule: u64::from_le_bytes(h[6..14].try_into().unwrap_or_default()),
        serial: u32::from_le_bytes(h[14..18].try_into().unwrap_or_default()),
        lacing,
    }))
}

/// Reads one logical stream's packets across pages, as a byte stream per packet.
struct Packets<'a> {
    input: &'a mut Input,
    serial: u32,
    page: Page,
    /// Next lacing value to use.
    segment: usize,
    /// File position of the next body byte.
    pos: u64,
    /// Bytes left in the current segment.
    left: u64,
    /// Whether the current segment ends the packet (a lacing value below 255).
    last_segment: bool,
    /// Whether the current packet has been entered.
    started: bool,
}

impl<'a> Packets<'a> {
    fn new(input: &'a mut Input, first: Page) -> Packets<'a> {
        Packets {
            serial: first.serial,
            pos: first.offset + first.header_len(),
            page: first,
            input,
            segment: 0,
            left: 0,
            last_segment: false,
            started: false,
        }
    }

    /// Moves to the next segment of the current packet; false at the packet's end.
    fn next_segment(&mut self) -> Result<bool, ProbeError> {
        if self.started && self.last_segment {
            return Ok(false);
        }
        while self.segment == self.page.lacing.len() {
            self.next_page()?;
        }
        let lace = self.page.lacing[self.segment];
        self.segment += 1;
        self.left = u64::from(lace);
        self.last_segment = lace < 255;
        self.started = true;
        Ok(true)
    }

    fn next_page(&mut self) -> Result<(), ProbeError> {
        let mut at = self.page.end();
        // Pages of other streams may be interleaved; the file bounds the walk.
        loop {
            let page = read_page(self.input, at)?.ok_or_else(|| {
                ProbeError::Corrupt(format!("no Ogg page where one should start (byte {at})"))
            })?;
            if page.end() > self.input.len() {
                return Err(ProbeError::Corrupt(
                    "truncated: an Ogg page ends past the end of the file".into(),
                ));
            }
            at = page.end();
            if page.serial == self.serial {
                self.pos = page.offset + page.header_len();
                self.page = page;
                self.segment = 0;
                return Ok(());
            }
        }
    }

    /// Skips whatever is left of the current packet and positions at the next one.
    fn finish_packet(&mut self) -> Result<(), ProbeError> {
        while self.left > 0 || self.next_segment()? {
            self.pos += self.left;
            self.left = 0;
        }
        self.started = false;
        self.last_segment = false;
        Ok(())
    }

    /// Where the audio starts once the header packets are read: the next page, since the first
    /// audio packet begins on a fresh page.
    fn next_page_offset(&self) -> u64 {
        self.page.end()
    }

    fn packet_prefix(&mut self, max: usize) -> Result<Vec<u8>, ProbeError> {
        let mut out = Vec::new();
        while out.len() < max {
            if self.left == 0 && !self.next_segment()? {
                break;
            }
            let n = self.left.min((max - out.len()) as u64) as usize;
            let start = out.len();
            out.resize(start + n, 0);
            self.input.read_at(self.pos, &mut out[start..])?;
            self.pos += n as u64;
            self.left -= n as u64;
        }
        Ok(out)
    }
}

impl Bytes for Packets<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        let mut done = 0;
        while done < buf.len() {
            if self.left == 0 && !self.next_segment()? {
                return Err(ProbeError::Corrupt(
                    "an Ogg header packet ends early".into(),
                ));
            }
            let n = self.left.min((buf.len() - done) as u64) as usize;
            self.input.read_at(self.pos, &mut buf[done..done + n])?;
            self.pos += n as u64;
            self.left -= n as u64;
            done += n;
        }
        Ok(())
    }

    fn skip(&mut self, mut n: u64) -> Result<(), ProbeError> {
        while n > 0 {
            if self.left == 0 && !self.next_segment()? {
                return Err(ProbeError::Corrupt(
                    "an Ogg header packet ends early".into(),
                ));
            }
            let step = self.left.min(n);
            self.pos += step;
            self.left -= step;
            n -= step;
        }
        Ok(())
    }

    fn remaining(&self) -> Option<u64> {
        None
    }
}

enum Codec {
    Vorbis {
        rate: u32,
        channels: u8,
    },
    Opus {
        pre_skip: u64,
        channels: u8,
    },
    Flac {
        info: StreamInfo,
        header_packets: u16,
    },
}

pub(super) fn parse(
    input: &mut Input,
    want: Want,
    col: &mut Collector,
) -> Result<Parsed, ProbeError> {
    let first = read_page(input, 0)?.ok_or_else(|| ProbeError::Corrupt("no Ogg page".into()))?;
    let len = input.len();
    let mut packets = Packets::new(input, first);
    let ident = packets.packet_prefix(64)?;
    let codec = if ident.starts_with(b"\x01vorbis") && ident.len() >= 16 {
        Codec::Vorbis {
            channels: ident[11],
            rate: u32::from_le_bytes([ident[12], ident[13], ident[14], ident[15]]),
        }
    } else if ident.starts_with(b"OpusHead") && ident.len() >= 12 {
        Codec::Opus {
            channels: ident[9],
            pre_skip: u64::from(u16::from_le_bytes([ident[10], ident[11]])),
        }
    } else if ident.starts_with(b"\x7fFLAC") && ident.len() >= 13 + 4 + 4 + 18 {
        let info = StreamInfo::parse(&ident[21..])
            .ok_or_else(|| ProbeError::Corrupt("Ogg FLAC without a valid STREAMINFO".into()))?;
        Codec::Flac {
            info,
            header_packets: u16::from_be_bytes([ident[7], ident[8]]),
        }
    } else {
        let what = String::from_utf8_lossy(&ident[..ident.len().min(8)])
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .collect::<String>();
        return Err(ProbeError::Unsupported(format!(
            "Ogg stream of an unsupported codec ({what})"
        )));
    };
    packets.finish_packet()?;

    // The comment packet, then any further header packets.
    let mut comments = TagSet::default();
    let comment_result = (|| -> Result<(), ProbeError> {
        let magic: &[u8] = match codec {
            Codec::Vorbis { .. } => b"\x03vorbis",
            Codec::Opus { .. } => b"OpusTags",
            Codec::Flac { .. } => b"",
        };
        let mut got = vec![0u8; magic.len()];
        packets.read_exact(&mut got)?;
        if got != magic {
            return Err(ProbeError::Corrupt(
                "the Ogg comment header is missing".into(),
            ));
        }
        if let Codec::Flac { .. } = codec {
            packets.skip(4)?; // the metadata block header
        }
        if want.tags {
            vorbis::read_comments(&mut packets, col, &mut comments)?;
        }
        Ok(())
    })();
    if let Err(e) = comment_result {
        col.warn(format!("Ogg comments partly unreadable: {e}"));
    }
    packets.finish_packet()?;
    let more_headers = match codec {
        Codec::Vorbis { .. } => 1,
        Codec::Opus { .. } => 0,
        Codec::Flac { header_packets, .. } => header_packets.saturating_sub(1),
    };
    for _ in 0..more_headers {
        packets.finish_packet()?;
    }
    let serial = packets.serial;
    let audio_start = packets.next_page_offset();
    let mut parsed = Parsed::new("ogg", audio_start, len);
    parsed.ogg = true;
    parsed.tags.push(comments);
    if !want.audio {
        return Ok(parsed);
    }

    let last = last_page(input, serial, audio_start)?.ok_or_else(|| {
        ProbeError::Corrupt("truncated: the Ogg stream has no audio pages".into())
    })?;
    if last.flags & END_OF_STREAM == 0 {
        if last.end() < len {
            return Err(ProbeError::Corrupt(
                "truncated: the last Ogg page is incomplete".into(),
            ));
        }
        col.warn("the Ogg stream has no end-of-stream page: the file may be cut short".into());
    }
    let (codec, frames, rate, channels, bits) = match codec {
        Codec::Vorbis { rate, channels } => ("vorbis", last.granule, rate, channels, None),
        Codec::Opus { pre_skip, channels } => (
            "opus",
            last.granule.saturating_sub(pre_skip),
            48_000,
            channels,
            None,
        ),
        Codec::Flac { info, .. } => (
            "flac",
            last.granule,
            info.sample_rate,
            info.channels,
            Some(info.bits),
        ),
    };
    parsed.codec = codec.into();
    parsed.frames = Some((frames, rate));
    parsed.sample_rate = Some(rate).filter(|&r| r > 0);
    parsed.channels = Some(channels).filter(|&c| c > 0);
    parsed.bit_depth = bits;
    Ok(parsed)
}

/// The last whole page of `serial` with a granule position, found scanning back from the end
/// of the file; its checksum must match, so a capture pattern inside packet data is not taken
/// for a page.
fn last_page(input: &mut Input, serial: u32, floor: u64) -> Result<Option<Page>, ProbeError> {
    // Enough to hold a few maximal pages, whatever chained or multiplexed streams end with.
    const SEARCH: u64 = 4 * MAX_PAGE;
    let len = input.len();
    let from = len.saturating_sub(SEARCH).max(floor);
    let mut buf = vec![0u8; (len - from) as usize];
    input.read_at(from, &mut buf)?;
    let mut at = buf.len();
    while let Some(i) = buf[..at].windows(4).rposition(|w| w == b"OggS") {
        at = i;
        if let Some(page) = page_in(&buf[i..], from + i as u64) {
            if page.serial == serial && page.granule != u64::MAX {
                return Ok(Some(page));
            }
        }
    }
    Ok(None)
}

/// A complete page with a valid checksum at the start of `b`.
fn page_in(b: &[u8], offset: u64) -> Option<Page> {
    if b.len() < 27 || b[4] != 0 {
        return None;
    }
    let segments = usize::from(b[26]);
    let lacing = b.get(27..27 + segments)?.to_vec();
    let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
    let whole = b.get(..27 + segments + body)?;
    let stored = u32::from_le_bytes(whole[22..26].try_into().ok()?);
    if crc32(whole) != stored {
        return None;
    }
    Some(Page {
        offset,
        flags: b[5],
        granule: u64::from_le_bytes(b[6..14].try_into().ok()?),
        serial: u32::from_le_bytes(b[14..18].try_into().ok()?),
        lacing,
    })
}

/// Appends to `out` the bodies of the pages from the first page at or after `at`, until `n`
/// body bytes are copied or `end` is reached.
pub(super) fn page_bodies(
    input: &mut Input,
    at: u64,
    n: u64,
    end: u64,
    out: &mut Vec<u8>,
) -> Result<(), ProbeError> {
    // Find a page start: a capture pattern whose page is followed by another page (or the
    // end), which data that merely contains "OggS" is not.
    let mut buf = [0u8; 4096];
    let got = input.read_at_most(at, &mut buf)?;
    let mut found = None;
    for i in (0..got.saturating_sub(3)).filter(|&i| &buf[i..i + 4] == b"OggS") {
        let candidate = at + i as u64;
        // A false pattern can claim lacing past the end of the file: not a page either.
        if let Ok(Some(page)) = read_page(input, candidate) {
            let next = page.end();
            if next == end || (next < end && matches!(read_page(input, next), Ok(Some(_)))) {
                found = Some(candidate);
                break;
            }
        }
    }
    let Some(mut pos) = found else {
        return Ok(());
    };
    let mut copied = 0;
    while copied < n && pos < end {
        let Some(page) = read_page(input, pos)? else {
            break;
        };
        let take = page
            .body_len()
            .min(n - copied)
            .min(end.saturating_sub(page.offset + page.header_len()));
        let from = out.len();
        out.resize(from + take as usize, 0);
        input.read_at(page.offset + page.header_len(), &mut out[from..])?;
        copied += take;
        pos = page.end();
    }
    Ok(())
}

/// Ogg's CRC-32: polynomial 0x04c11db7, unreflected, zero start, no final xor.
const OGG_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    init: 0,
    refin: false,
    refout: false,
    xorout: 0,
    check: 0x89a1_897f,
    residue: 0,
});

/// Ogg's CRC-32 over a page whose checksum field (bytes 22..26) counts as zero.
fn crc32(page: &[u8]) -> u32 {
    let mut digest = OGG_CRC.digest();
    digest.update(page.get(..22).unwrap_or(page));
    if page.len() >= 26 {
        digest.update(&[0; 4]);
        digest.update(&page[26..]);
    }
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_oggs_and_skips_the_checksum_field() {
        // The reference check value of this CRC, over "123456789".
        assert_eq!(crc32(b"123456789"), 0x89a1_897f);
        // Whatever the checksum field holds, the page's CRC is the same.
        let mut page = vec![7u8; 40];
        let before = crc32(&page);
        page[22..26].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(crc32(&page), before);
        page[30] = 8;
        assert_ne!(crc32(&page), before);
    }
}
