//! ID3v2 (2.2, 2.3, 2.4) and ID3v1 tags, read frame by frame so that a picture frame is
//! measured and skipped rather than loaded.

use super::input::{Bytes, Input};
use super::tags::{
    freeform_field, latin1, utf16, utf8_or_latin1, Collector, Field, Picture, TagSet,
};
use super::ProbeError;

/// An ID3v2 tag's place in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Id3v2Header {
    pub(super) version: u8,
    flags: u8,
    /// Size of the frames area (after the 10-byte header, before any footer).
    size: u64,
}

const UNSYNC: u8 = 0x80;
const EXTENDED: u8 = 0x40;
const FOOTER: u8 = 0x10;

impl Id3v2Header {
    /// Parses the 10 bytes at the start of a tag; `None` if they are not one.
    pub(super) fn parse(b: &[u8]) -> Option<Id3v2Header> {
        if b.len() < 10 || &b[..3] != b"ID3" || !(2..=4).contains(&b[3]) || b[4] == 0xff {
            return None;
        }
        let size = syncsafe(&b[6..10])?;
        Some(Id3v2Header {
            version: b[3],
            flags: b[5],
            size: u64::from(size),
        })
    }

    /// The whole tag: header, frames and footer.
    pub(super) fn total_len(&self) -> u64 {
        let footer = if self.version == 4 && self.flags & FOOTER != 0 {
            10
        } else {
            0
        };
        10 + self.size + footer
    }
}

fn syncsafe(b: &[u8]) -> Option<u32> {
    if b.iter().any(|&x| x & 0x80 != 0) {
        return None;
    }
    Some(b.iter().fold(0, |acc, &x| (acc << 7) | u32::from(x)))
}

/// Reads the tag at `offset`; problems inside the tag become warnings, and whatever was read
/// before them is kept.
pub(super) fn read_id3v2(
    input: &mut Input,
    offset: u64,
    header: Id3v2Header,
    col: &mut Collector,
) -> TagSet {
    let mut set = TagSet::default();
    let end = offset + 10 + header.size;
    let result = input.region(offset + 10, end).and_then(|mut region| {
        // Up to 2.3 unsynchronisation covers the whole tag, frame headers included; 2.4 marks
        // it per frame.
        if header.flags & UNSYNC != 0 && header.version < 4 {
            read_frames(&mut Unsync::new(&mut region), header, col, &mut set)
        } else {
            read_frames(&mut region, header, col, &mut set)
        }
    });
    if let Err(e) = result {
        col.warn(format!(
            "ID3v2.{} tag partly unreadable: {e}",
            header.version
        ));
    }
    set
}

/// Removes the zero byte ID3v2 inserts after every 0xFF, while reading.
struct Unsync<'a> {
    inner: &'a mut dyn Bytes,
    last_ff: bool,
}

impl<'a> Unsync<'a> {
    fn new(inner: &'a mut dyn Bytes) -> Unsync<'a> {
        Unsync {
            inner,
            last_ff: false,
        }
    }
}

impl Bytes for Unsync<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        for slot in buf.iter_mut() {
            let mut b = self.inner.u8()?;
            if self.last_ff && b == 0 {
                b = self.inner.u8()?;
            }
            self.last_ff = b == 0xff;
            *slot = b;
        }
        Ok(())
    }

    fn skip(&mut self, mut n: u64) -> Result<(), ProbeError> {
        let mut scratch = [0u8; 4096];
        while n > 0 {
            let step = n.min(scratch.len() as u64) as usize;
            self.read_exact(&mut scratch[..step])?;
            n -= step as u64;
        }
        Ok(())
    }

    fn remaining(&self) -> Option<u64> {
        self.inner.remaining()
    }
}

fn undo_unsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut last_ff = false;
    for &b in data {
        if !(last_ff && b == 0) {
            out.push(b);
        }
        last_ff = b == 0xff;
    }
    out
}

fn read_frames(
    r: &mut dyn Bytes,
    header: Id3v2Header,
    col: &mut Collector,
    set: &mut TagSet,
) -> Result<(), ProbeError> {
    let v = header.version;
    if header.flags & EXTENDED != 0 && v >= 3 {
        let mut size = [0; 4];
        r.read_exact(&mut size)?;
        // 2.3 counts the bytes after the size field; 2.4 the whole extended header.
        let skip = if v == 3 {
            u64::from(u32::from_be_bytes(size))
        } else {
            u64::from(syncsafe(&size).unwrap_or(4)).saturating_sub(4)
        };
        r.skip(skip)?;
    }
    let mut tdat = None;
    let id_len = if v == 2 { 3 } else { 4 };
    let head_len = if v == 2 { 6 } else { 10 };
    loop {
        if r.remaining().is_some_and(|left| left < head_len) {
            break;
        }
        let mut h = [0u8; 10];
        r.read_exact(&mut h[..head_len as usize])?;
        if h[0] == 0 {
            break; // padding
        }
        let id = &h[..id_len];
        if !id
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            col.warn(format!(
                "ID3v2.{v} tag has a malformed frame; the rest is ignored"
            ));
            break;
        }
        let id = std::str::from_utf8(id).unwrap_or_default().to_owned();
        let size = match v {
            2 => u64::from(u32::from_be_bytes([0, h[3], h[4], h[5]])),
            // iTunes wrote 2.4 frame sizes as plain integers; a byte with the top bit set can
            // only mean that.
            4 => u64::from(
                syncsafe(&h[4..8]).unwrap_or_else(|| u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
            ),
            _ => u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
        };
        let f2 = h[9];
        let mut body = size;
        let mut frame_unsync = false;
        let mut skip_frame = false;
        if v == 3 {
            if f2 & 0x80 != 0 || f2 & 0x40 != 0 {
                skip_frame = true; // compressed or encrypted
            }
            if f2 & 0x20 != 0 {
                r.skip(1.min(body))?;
                body = body.saturating_sub(1);
            }
        } else if v == 4 {
            if f2 & 0x08 != 0 || f2 & 0x04 != 0 {
                skip_frame = true;
            }
            if f2 & 0x40 != 0 {
                r.skip(1.min(body))?;
                body = body.saturating_sub(1);
            }
            if f2 & 0x01 != 0 {
                r.skip(4.min(body))?; // data length indicator
                body = body.saturating_sub(4);
            }
            frame_unsync = f2 & 0x02 != 0;
        }
        if skip_frame {
            col.warn(format!(
                "ID3v2 frame {id} is compressed or encrypted and was skipped"
            ));
            r.skip(body)?;
            continue;
        }
        let frame = Frame {
            version: v,
            id: &id,
            size: body,
            unsync: frame_unsync,
        };
        read_frame(r, &frame, col, set, &mut tdat)?;
    }
    // ID3v2.3 splits a date into TYER (year) and TDAT (DDMM).
    if let (Some(year), Some(ddmm)) = (set.first(Field::Year), tdat) {
        let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
        if !set.has(Field::Date) && digits(&ddmm) && digits(year) {
            set.push(Field::Date, format!("{year}-{}-{}", &ddmm[2..], &ddmm[..2]));
        }
    }
    Ok(())
}

/// A frame's header, once its flags are dealt with.
struct Frame<'a> {
    version: u8,
    id: &'a str,
    /// Bytes of payload left to read.
    size: u64,
    /// ID3v2.4 per-frame unsynchronisation.
    unsync: bool,
}

fn read_frame(
    r: &mut dyn Bytes,
    frame: &Frame<'_>,
    col: &mut Collector,
    set: &mut TagSet,
    tdat: &mut Option<String>,
) -> Result<(), ProbeError> {
    let Frame {
        version: v,
        id,
        size,
        unsync,
    } = *frame;
    let text_field = match id {
        "TIT2" | "TT2" => Some(Field::Title),
        "TPE1" | "TP1" => Some(Field::Artist),
        "TALB" | "TAL" => Some(Field::Album),
        "TPE2" | "TP2" => Some(Field::AlbumArtist),
        "TRCK" | "TRK" => Some(Field::Track),
        "TPOS" | "TPA" => Some(Field::Disc),
        "TDRC" => Some(Field::Date),
        "TYER" | "TYE" => Some(Field::Year),
        "TCON" | "TCO" => Some(Field::Genre),
        "TCOM" | "TCM" => Some(Field::Composer),
        "TCMP" | "TCP" => Some(Field::Compilation),
        _ => None,
    };
    // Reads a bounded prefix of the frame.
    let read = |r: &mut dyn Bytes, keep: usize| -> Result<Vec<u8>, ProbeError> {
        let data = r.read_prefix(size, keep)?;
        Ok(if unsync { undo_unsync(&data) } else { data })
    };
    if let Some(field) = text_field {
        let data = read(r, col.max_bytes(field))?;
        for value in text_values(&data) {
            let value = if field == Field::Genre {
                genre_name(&value)
            } else {
                value
            };
            if let Some(value) = col.text(field, &value) {
                set.push(field, value);
            }
        }
        return Ok(());
    }
    match id {
        "TDAT" | "TDA" => {
            let data = read(r, 64)?;
            *tdat = text_values(&data).into_iter().next();
        }
        "TXXX" | "TXX" => {
            let data = read(r, col.max_bytes(Field::Lyrics))?;
            let mut values = text_values(&data).into_iter();
            let desc = values.next().unwrap_or_default();
            if let Some(field) = freeform_field(&desc) {
                for value in values {
                    if let Some(value) = col.text(field, &value) {
                        set.push(field, value);
                    }
                }
            }
        }
        "USLT" | "ULT" => {
            let data = read(r, col.max_bytes(Field::Lyrics))?;
            if data.len() > 4 {
                // encoding, language (3 bytes), description, text
                let mut with_enc = vec![data[0]];
                with_enc.extend_from_slice(&data[4..]);
                let values = text_values(&with_enc);
                if let Some(text) = values.get(1) {
                    if let Some(text) = col.text(Field::Lyrics, text) {
                        set.push(Field::Lyrics, text);
                    }
                }
            }
        }
        "UFID" | "UFI" => {
            let data = read(r, 256)?;
            if let Some(nul) = data.iter().position(|&b| b == 0) {
                if &data[..nul] == b"http://musicbrainz.org" {
                    let id = String::from_utf8_lossy(&data[nul + 1..]).into_owned();
                    if let Some(id) = col.text(Field::MbRecording, &id) {
                        set.push(Field::MbRecording, id);
                    }
                }
            }
        }
        "APIC" | "PIC" => read_picture(r, v, size, unsync, col)?,
        _ => r.skip(size)?,
    }
    Ok(())
}

/// APIC: encoding, MIME type (NUL-terminated Latin-1), picture type, description, data.
/// ID3v2.2 PIC has a 3-letter image format instead of the MIME type.
fn read_picture(
    r: &mut dyn Bytes,
    v: u8,
    size: u64,
    unsync: bool,
    col: &mut Collector,
) -> Result<(), ProbeError> {
    // The description is rarely long; a picture whose header does not fit here is skipped.
    const HEAD: usize = 4096;
    let head = r.read_vec(size.min(HEAD as u64))?;
    let head = if unsync { undo_unsync(&head) } else { head };
    let rest = size - head.len() as u64;
    let parsed = (|| {
        let enc = *head.first()?;
        let (mime, after_mime) = if v == 2 {
            let format = head.get(1..4)?;
            let mime = match &format.to_ascii_uppercase()[..] {
                b"PNG" => "image/png".to_owned(),
                b"JPG" => "image/jpeg".to_owned(),
                other => format!("image/{}", String::from_utf8_lossy(other).to_lowercase()),
            };
            (mime, 4)
        } else {
            let nul = head[1..].iter().position(|&b| b == 0)? + 1;
            (latin1(&head[1..nul]), nul + 1)
        };
        let kind = *head.get(after_mime)?;
        let desc_start = after_mime + 1;
        let desc_len = terminated_len(&head[desc_start..], enc)?;
        Some((mime, kind, desc_start + desc_len))
    })();
    let Some((mime, kind, data_start)) = parsed else {
        col.warn("an ID3v2 picture frame could not be read".into());
        return r.skip(rest);
    };
    let data_len = head.len() as u64 - data_start as u64 + rest;
    let mime = normalise_mime(&mime, &head[data_start..]);
    if mime == "-->" {
        return r.skip(rest); // a link, not a picture
    }
    let data = if col.wants_picture_data(kind, data_len) {
        let mut data = head[data_start..].to_vec();
        let tail = r.read_vec(rest)?;
        data.extend_from_slice(&if unsync { undo_unsync(&tail) } else { tail });
        Some(data)
    } else {
        r.skip(rest)?;
        None
    };
    col.picture(Picture {
        mime,
        kind,
        size: data.as_ref().map_or(data_len, |d| d.len() as u64),
        data,
    });
    Ok(())
}

/// Length of a NUL-terminated string in the given ID3 encoding, terminator included.
fn terminated_len(b: &[u8], enc: u8) -> Option<usize> {
    if enc == 1 || enc == 2 {
        (0..b.len() / 2)
            .find(|&i| b[2 * i] == 0 && b[2 * i + 1] == 0)
            .map(|i| 2 * i + 2)
    } else {
        b.iter().position(|&x| x == 0).map(|i| i + 1)
    }
}

/// A MIME type from a tag, tidied; sniffed from the data when the tag gives none.
pub(super) fn normalise_mime(declared: &str, data_prefix: &[u8]) -> String {
    let m = declared.trim().to_ascii_lowercase();
    match m.as_str() {
        "" | "image/" | "image" => sniff_image(data_prefix)
            .unwrap_or("application/octet-stream")
            .into(),
        "jpg" | "jpeg" | "image/jpg" => "image/jpeg".into(),
        "png" => "image/png".into(),
        _ if !m.contains('/') && m != "-->" => format!("image/{m}"),
        _ => m,
    }
}

pub(super) fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if b.starts_with(b"GIF8") {
        Some("image/gif")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"BM") {
        Some("image/bmp")
    } else {
        None
    }
}

/// Decodes a text frame body (encoding byte, then text) into its NUL-separated values.
fn text_values(data: &[u8]) -> Vec<String> {
    let Some((&enc, body)) = data.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match enc {
        1 | 2 => {
            let mut big_endian = enc == 2;
            let units: Vec<&[u8]> = body.chunks_exact(2).collect();
            for value in units.split(|u| u == &[0, 0]) {
                let mut bytes: Vec<u8> = value.concat();
                // Each value of a UTF-16 (encoding 1) frame may carry its own BOM.
                if bytes.starts_with(&[0xff, 0xfe]) {
                    big_endian = false;
                    bytes.drain(..2);
                } else if bytes.starts_with(&[0xfe, 0xff]) {
                    big_endian = true;
                    bytes.drain(..2);
                }
                out.push(utf16(&bytes, big_endian));
            }
        }
        3 => out.extend(
            body.split(|&b| b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned()),
        ),
        _ => out.extend(body.split(|&b| b == 0).map(latin1)),
    }
    // A trailing terminator is not an empty last value.
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// TCON holds "(17)", "17", "(17)Rock", "Rock" or ID3v2.4's plain "17"; numbers name
/// ID3v1 genres.
fn genre_name(value: &str) -> String {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('(') {
        if let Some(close) = rest.find(')') {
            let (code, after) = (&rest[..close], rest[close + 1..].trim());
            if !after.is_empty() {
                return after.to_owned();
            }
            return match code {
                "RX" => "Remix".into(),
                "CR" => "Cover".into(),
                _ => code
                    .parse::<u8>()
                    .ok()
                    .and_then(id3v1_genre)
                    .map_or_else(|| v.to_owned(), str::to_owned),
            };
        }
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(name) = v.parse::<u8>().ok().and_then(id3v1_genre) {
            return name.to_owned();
        }
    }
    v.to_owned()
}

/// The 128-byte ID3v1 tag at the end of the file, if there is one.
pub(super) fn read_id3v1(b: &[u8; 128], col: &mut Collector) -> TagSet {
    let mut set = TagSet::default();
    let mut put = |field: Field, raw: &[u8], col: &mut Collector| {
        let text = utf8_or_latin1(raw.split(|&b| b == 0).next().unwrap_or_default());
        if let Some(text) = col.text(field, &text) {
            set.push(field, text);
        }
    };
    put(Field::Title, &b[3..33], col);
    put(Field::Artist, &b[33..63], col);
    put(Field::Album, &b[63..93], col);
    put(Field::Year, &b[93..97], col);
    // ID3v1.1 keeps the track number in the last comment byte, after a zero.
    if b[125] == 0 && b[126] != 0 {
        set.push(Field::Track, b[126].to_string());
    }
    if let Some(genre) = id3v1_genre(b[127]) {
        set.push(Field::Genre, genre.to_owned());
    }
    set
}

pub(super) fn id3v1_genre(code: u8) -> Option<&'static str> {
    GENRES.get(usize::from(code)).copied()
}

/// ID3v1 genres 0-191, with the Winamp extensions.
const GENRES: [&str; 192] = [
    "Blues",
    "Classic Rock",
    "Country",
    "Dance",
    "Disco",
    "Funk",
    "Grunge",
    "Hip-Hop",
    "Jazz",
    "Metal",
    "New Age",
    "Oldies",
    "Other",
    "Pop",
    "R&B",
    "Rap",
    "Reggae",
    "Rock",
    "Techno",
    "Industrial",
    "Alternative",
    "Ska",
    "Death Metal",
    "Pranks",
    "Soundtrack",
    "Euro-Techno",
    "Ambient",
    "Trip-Hop",
    "Vocal",
    "Jazz+Funk",
    "Fusion",
    "Trance",
    "Classical",
    "Instrumental",
    "Acid",
    "House",
    "Game",
    "Sound Clip",
    "Gospel",
    "Noise",
    "Alternative Rock",
    "Bass",
    "Soul",
    "Punk",
    "Space",
    "Meditative",
    "Instrumental Pop",
    "Instrumental Rock",
    "Ethnic",
    "Gothic",
    "Darkwave",
    "Techno-Industrial",
    "Electronic",
    "Pop-Folk",
    "Eurodance",
    "Dream",
    "Southern Rock",
    "Comedy",
    "Cult",
    "Gangsta",
    "Top 40",
    "Christian Rap",
    "Pop/Funk",
    "Jungle",
    "Native American",
    "Cabaret",
    "New Wave",
    "Psychedelic",
    "Rave",
    "Showtunes",
    "Trailer",
    "Lo-Fi",
    "Tribal",
    "Acid Punk",
    "Acid Jazz",
    "Polka",
    "Retro",
    "Musical",
    "Rock & Roll",
    "Hard Rock",
    "Folk",
    "Folk-Rock",
    "National Folk",
    "Swing",
    "Fast Fusion",
    "Bebop",
    "Latin",
    "Revival",
    "Celtic",
    "Bluegrass",
    "Avantgarde",
    "Gothic Rock",
    "Progressive Rock",
    "Psychedelic Rock",
    "Symphonic Rock",
    "Slow Rock",
    "Big Band",
    "Chorus",
    "Easy Listening",
    "Acoustic",
    "Humour",
    "Speech",
    "Chanson",
    "Opera",
    "Chamber Music",
    "Sonata",
    "Symphony",
    "Booty Bass",
    "Primus",
    "Porn Groove",
    "Satire",
    "Slow Jam",
    "Club",
    "Tango",
    "Samba",
    "Folklore",
    "Ballad",
    "Power Ballad",
    "Rhythmic Soul",
    "Freestyle",
    "Duet",
    "Punk Rock",
    "Drum Solo",
    "A Cappella",
    "Euro-House",
    "Dance Hall",
    "Goa",
    "Drum & Bass",
    "Club-House",
    "Hardcore Techno",
    "Terror",
    "Indie",
    "BritPop",
    "Afro-Punk",
    "Polsk Punk",
    "Beat",
    "Christian Gangsta Rap",
    "Heavy Metal",
    "Black Metal",
    "Crossover",
    "Contemporary Christian",
    "Christian Rock",
    "Merengue",
    "Salsa",
    "Thrash Metal",
    "Anime",
    "Jpop",
    "Synthpop",
    "Abstract",
    "Art Rock",
    "Baroque",
    "Bhangra",
    "Big Beat",
    "Breakbeat",
    "Chillout",
    "Downtempo",
    "Dub",
    "EBM",
    "Eclectic",
    "Electro",
    "Electroclash",
    "Emo",
    "Experimental",
    "Garage",
    "Global",
    "IDM",
    "Illbient",
    "Industro-Goth",
    "Jam Band",
    "Krautrock",
    "Leftfield",
    "Lounge",
    "Math Rock",
    "New Romantic",
    "Nu-Breakz",
    "Post-Punk",
    "Post-Rock",
    "Psytrance",
    "Shoegaze",
    "Space Rock",
    "Trop Rock",
    "World Music",
    "Neoclassical",
    "Audiobook",
    "Audio Theatre",
    "Neue Deutsche Welle",
    "Podcast",
    "Indie Rock",
    "G-Funk",
    "Dubstep",
    "Garage Rock",
    "Psybient",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genres() {
        assert_eq!(genre_name("(17)"), "Rock");
        assert_eq!(genre_name("17"), "Rock");
        assert_eq!(genre_name("(17)Hard Stuff"), "Hard Stuff");
        assert_eq!(genre_name("Jazz"), "Jazz");
        assert_eq!(genre_name("(RX)"), "Remix");
        assert_eq!(genre_name("(250)"), "(250)");
        assert_eq!(id3v1_genre(191), Some("Psybient"));
        assert_eq!(id3v1_genre(255), None);
    }

    #[test]
    fn text_values_split_and_decode() {
        assert_eq!(text_values(b"\x03A\0B\0"), ["A", "B"]);
        assert_eq!(text_values(b"\x00caf\xe9"), ["café"]);
        assert_eq!(
            text_values(b"\x01\xff\xfeA\0\0\0\xfe\xff\0B\0\0"),
            ["A", "B"]
        );
        assert_eq!(text_values(b"\x02\0A"), ["A"]);
        assert!(text_values(b"").is_empty());
        assert_eq!(
            undo_unsync(&[0xff, 0x00, 0xe0, 0xff, 0x00, 0x00]),
            [0xff, 0xe0, 0xff, 0x00]
        );
    }
}
