//! From the raw values a container holds to [`Tags`]: which key means which field, bounded and
//! cleaned text, multi-value splitting, and the fallbacks taken from the file's path.

use std::path::{Component, Path};

use super::{ProbeOptions, Tags};

/// The fields the container parsers map their keys to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Title,
    Artist,
    /// Picard's `ARTISTS`: the artists one by one, preferred over splitting `ARTIST`.
    ArtistList,
    Album,
    AlbumArtist,
    Track,
    TrackTotal,
    Disc,
    DiscTotal,
    Date,
    /// A bare year (ID3v2.3 `TYER`, ID3v1, `YEAR`), used when there is no full date.
    Year,
    Genre,
    Composer,
    Compilation,
    Lyrics,
    TrackGain,
    TrackPeak,
    AlbumGain,
    AlbumPeak,
    MbTrack,
    MbRecording,
    MbAlbum,
    MbArtist,
    MbAlbumArtist,
    MbReleaseGroup,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Artist | Field::ArtistList => "artist",
            Field::Album => "album",
            Field::AlbumArtist => "album artist",
            Field::Track | Field::TrackTotal => "track number",
            Field::Disc | Field::DiscTotal => "disc number",
            Field::Date | Field::Year => "date",
            Field::Genre => "genre",
            Field::Composer => "composer",
            Field::Compilation => "compilation",
            Field::Lyrics => "lyrics",
            Field::TrackGain | Field::TrackPeak | Field::AlbumGain | Field::AlbumPeak => {
                "replaygain"
            }
            Field::MbTrack
            | Field::MbRecording
            | Field::MbAlbum
            | Field::MbArtist
            | Field::MbAlbumArtist
            | Field::MbReleaseGroup => "musicbrainz id",
        }
    }
}

/// Keys of free-form tags (ID3v2 `TXXX`, MP4 `----:com.apple.iTunes:`), compared without case.
/// The MusicBrainz names are Picard's, where "Track Id" is the recording.
pub(super) fn freeform_field(name: &str) -> Option<Field> {
    let f = match name.trim().to_ascii_lowercase().as_str() {
        "musicbrainz release track id" => Field::MbTrack,
        "musicbrainz track id" | "musicbrainz recording id" => Field::MbRecording,
        "musicbrainz album id" => Field::MbAlbum,
        "musicbrainz artist id" => Field::MbArtist,
        "musicbrainz album artist id" => Field::MbAlbumArtist,
        "musicbrainz release group id" => Field::MbReleaseGroup,
        "replaygain_track_gain" => Field::TrackGain,
        "replaygain_track_peak" => Field::TrackPeak,
        "replaygain_album_gain" => Field::AlbumGain,
        "replaygain_album_peak" => Field::AlbumPeak,
        "artists" => Field::ArtistList,
        // ffmpeg has no ID3 frame for these and writes them as TXXX with its own key names.
        "tcmp" | "compilation" => Field::Compilation,
        "uslt" | "lyrics" | "unsyncedlyrics" => Field::Lyrics,
        "tracktotal" | "totaltracks" => Field::TrackTotal,
        "disctotal" | "totaldiscs" => Field::DiscTotal,
        _ => return None,
    };
    Some(f)
}

/// Vorbis comment (and APEv2) keys, compared without case.
pub(super) fn vorbis_field(key: &str) -> Option<Field> {
    let f = match key.trim().to_ascii_uppercase().as_str() {
        "TITLE" => Field::Title,
        "ARTIST" => Field::Artist,
        "ALBUM" => Field::Album,
        "ALBUMARTIST" | "ALBUM ARTIST" | "ALBUM_ARTIST" => Field::AlbumArtist,
        "TRACKNUMBER" | "TRACK" => Field::Track,
        "DISCNUMBER" | "DISC" => Field::Disc,
        "DATE" => Field::Date,
        "YEAR" => Field::Year,
        "GENRE" => Field::Genre,
        "COMPOSER" => Field::Composer,
        "MUSICBRAINZ_RELEASETRACKID" => Field::MbTrack,
        "MUSICBRAINZ_TRACKID" => Field::MbRecording,
        "MUSICBRAINZ_ALBUMID" => Field::MbAlbum,
        "MUSICBRAINZ_ARTISTID" => Field::MbArtist,
        "MUSICBRAINZ_ALBUMARTISTID" => Field::MbAlbumArtist,
        "MUSICBRAINZ_RELEASEGROUPID" => Field::MbReleaseGroup,
        other => return freeform_field(other),
    };
    Some(f)
}

/// The values one tag (an ID3v2 tag, a comment block, an ilst atom) holds, in file order.
#[derive(Debug, Default)]
pub(super) struct TagSet {
    entries: Vec<(Field, String)>,
}

impl TagSet {
    pub(super) fn push(&mut self, field: Field, value: String) {
        self.entries.push((field, value));
    }

    pub(super) fn has(&self, field: Field) -> bool {
        self.entries.iter().any(|(f, _)| *f == field)
    }

    pub(super) fn first(&self, field: Field) -> Option<&str> {
        self.values(field).next()
    }

    fn values(&self, field: Field) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }
}

/// An embedded picture: its description always, its bytes only when asked for.
#[derive(Debug)]
pub(super) struct Picture {
    pub(super) mime: String,
    /// The ID3v2/FLAC picture type; 3 is the front cover.
    pub(super) kind: u8,
    pub(super) size: u64,
    pub(super) data: Option<Vec<u8>>,
}

const FRONT_COVER: u8 = 3;

/// What to do with picture payloads.
#[derive(Debug, Clone, Copy)]
pub(super) enum PictureMode {
    /// Record mime type and size, skip the bytes.
    Describe,
    /// Also read the bytes of the picture that would be chosen, if no larger than this.
    Read { max_bytes: usize },
}

/// What a parse collects besides stream facts: limits for text, warnings, pictures.
pub(super) struct Collector {
    text_chars: usize,
    lyrics_chars: usize,
    pub(super) picture_mode: PictureMode,
    pub(super) warnings: Vec<String>,
    pub(super) pictures: Vec<Picture>,
}

impl Collector {
    pub(super) fn new(opts: &ProbeOptions, picture_mode: PictureMode) -> Collector {
        Collector {
            text_chars: opts.max_tag_chars,
            lyrics_chars: opts.max_lyrics_chars,
            picture_mode,
            warnings: Vec::new(),
            pictures: Vec::new(),
        }
    }

    fn max_chars(&self, field: Field) -> usize {
        match field {
            Field::Lyrics => self.lyrics_chars,
            _ => self.text_chars,
        }
    }

    /// How many bytes of a value are worth reading: enough for the character limit in any of
    /// the encodings tags use (at most 4 bytes a character), plus room for a terminator.
    pub(super) fn max_bytes(&self, field: Field) -> usize {
        self.max_chars(field).saturating_mul(4).saturating_add(4)
    }

    pub(super) fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// Cleans a decoded value and cuts it to the field's limit; `None` when nothing is left.
    pub(super) fn text(&mut self, field: Field, raw: &str) -> Option<String> {
        let value = clean(raw);
        if value.is_empty() {
            return None;
        }
        let max = self.max_chars(field);
        match value.char_indices().nth(max) {
            Some((cut, _)) => {
                self.warn(format!("{} truncated to {max} characters", field.name()));
                Some(value[..cut].trim_end().to_owned())
            }
            None => Some(value.to_owned()),
        }
    }

    /// Whether the bytes of a picture of this type and size should be read.
    pub(super) fn wants_picture_data(&self, kind: u8, size: u64) -> bool {
        match self.picture_mode {
            PictureMode::Describe => false,
            PictureMode::Read { max_bytes } => {
                size <= max_bytes as u64
                    && match self.chosen() {
                        None => true,
                        Some(current) => current.kind != FRONT_COVER && kind == FRONT_COVER,
                    }
            }
        }
    }

    pub(super) fn picture(&mut self, picture: Picture) {
        self.pictures.push(picture);
    }

    /// The front cover if there is one, else the first picture.
    pub(super) fn chosen(&self) -> Option<&Picture> {
        self.chosen_index().map(|i| &self.pictures[i])
    }

    pub(super) fn into_chosen(mut self) -> Option<Picture> {
        let i = self.chosen_index()?;
        Some(self.pictures.swap_remove(i))
    }

    fn chosen_index(&self) -> Option<usize> {
        let front = self.pictures.iter().position(|p| p.kind == FRONT_COVER);
        front.or((!self.pictures.is_empty()).then_some(0))
    }
}

/// Trims whitespace and the NUL padding fixed-width fields (ID3v1, RIFF INFO) carry.
pub(super) fn clean(raw: &str) -> &str {
    raw.trim_matches(|c: char| c.is_whitespace() || c == '\0')
}

/// ISO-8859-1: every byte is the code point of the same number.
pub(super) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// UTF-8 when it is valid, else ISO-8859-1: what untyped tag text (ID3v1, RIFF INFO) holds.
pub(super) fn utf8_or_latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1(bytes),
    }
}

pub(super) fn utf16(bytes: &[u8], big_endian: bool) -> String {
    let units = bytes.chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Maps every parsed tag set, most trusted first, to [`Tags`]: each field comes from the first
/// set that has it.
pub(super) fn build(sources: &[TagSet], opts: &ProbeOptions) -> Tags {
    let values = |field: Field| -> Vec<&str> {
        sources
            .iter()
            .map(|s| s.values(field).collect::<Vec<_>>())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let first = |field: Field| values(field).first().map(|s| (*s).to_owned());
    let names = |field: Field| split_names(&values(field), opts);

    let (track_number, mut track_total) = first(Field::Track)
        .map(|s| number_pair(&s))
        .unwrap_or_default();
    if let Some(total) = first(Field::TrackTotal).and_then(|s| leading_number(&s)) {
        track_total = Some(total);
    }
    let (disc_number, mut disc_total) = first(Field::Disc)
        .map(|s| number_pair(&s))
        .unwrap_or_default();
    if let Some(total) = first(Field::DiscTotal).and_then(|s| leading_number(&s)) {
        disc_total = Some(total);
    }
    let date = first(Field::Date).or_else(|| first(Field::Year));
    let year = date.as_deref().and_then(year_of);
    let artist_list = names(Field::ArtistList);

    Tags {
        title: first(Field::Title),
        artists: if artist_list.is_empty() {
            names(Field::Artist)
        } else {
            artist_list
        },
        album: first(Field::Album),
        album_artists: names(Field::AlbumArtist),
        track_number,
        track_total,
        disc_number,
        disc_total,
        date,
        year,
        genres: names(Field::Genre),
        composers: names(Field::Composer),
        compilation: first(Field::Compilation).is_some_and(|s| is_true(&s)),
        lyrics: first(Field::Lyrics),
        replaygain_track_gain_db: first(Field::TrackGain).and_then(|s| decibels(&s)),
        replaygain_track_peak: first(Field::TrackPeak).and_then(|s| decibels(&s)),
        replaygain_album_gain_db: first(Field::AlbumGain).and_then(|s| decibels(&s)),
        replaygain_album_peak: first(Field::AlbumPeak).and_then(|s| decibels(&s)),
        musicbrainz_track_id: first(Field::MbTrack),
        musicbrainz_recording_id: first(Field::MbRecording),
        musicbrainz_album_id: first(Field::MbAlbum),
        musicbrainz_artist_ids: mbids(&values(Field::MbArtist)),
        musicbrainz_album_artist_ids: mbids(&values(Field::MbAlbumArtist)),
        musicbrainz_release_group_id: first(Field::MbReleaseGroup),
    }
}

/// Several values are several names; a single value is split on the configured separators.
fn split_names(values: &[&str], opts: &ProbeOptions) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        let name = clean(name);
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    };
    match values {
        [one] => split_one(one, &opts.artist_separators, &opts.artist_exceptions)
            .into_iter()
            .for_each(&mut add),
        many => many.iter().for_each(|v| add(v)),
    }
    out
}

/// Splits on any separator (ASCII case ignored), never inside an exception such as `AC/DC`.
fn split_one<'a>(s: &'a str, separators: &[String], exceptions: &[String]) -> Vec<&'a str> {
    let starts = |at: &[u8], needle: &str| {
        !needle.is_empty()
            && at.len() >= needle.len()
            && at[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
    };
    let bytes = s.as_bytes();
    let (mut parts, mut start, mut i) = (Vec::new(), 0, 0);
    // Matches can only begin on character boundaries: a separator starts with an ASCII byte or
    // a UTF-8 lead byte, never with a continuation byte, so slicing at `i` is safe.
    while i < bytes.len() {
        if let Some(e) = exceptions.iter().find(|e| starts(&bytes[i..], e)) {
            i += e.len();
        } else if let Some(sep) = separators
            .iter()
            .filter(|sep| starts(&bytes[i..], sep))
            .max_by_key(|sep| sep.len())
        {
            parts.push(&s[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// MusicBrainz ids are UUIDs, so anything else separates them, whatever the tagger used.
fn mbids(values: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for id in v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if !id.is_empty() && !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        }
    }
    out
}

/// "3/12" -> (3, 12); "3" -> (3, None); 0 means unknown.
fn number_pair(s: &str) -> (Option<u32>, Option<u32>) {
    let mut parts = s.splitn(2, '/');
    let n = parts.next().and_then(leading_number);
    let total = parts.next().and_then(leading_number);
    (n, total)
}

fn leading_number(s: &str) -> Option<u32> {
    let s = clean(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..digits].parse().ok().filter(|&n| n > 0)
}

/// The first run of four digits: "2021-05-04", "2021", "04/05/2021" all give 2021.
pub(super) fn year_of(date: &str) -> Option<i32> {
    let b = date.as_bytes();
    (0..b.len().saturating_sub(3))
        .find(|&i| {
            b[i..i + 4].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_digit())
                && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
        })
        .and_then(|i| date[i..i + 4].parse().ok())
}

fn is_true(s: &str) -> bool {
    let s = clean(s);
    s.eq_ignore_ascii_case("true")
        || s.eq_ignore_ascii_case("yes")
        || leading_number(s).is_some_and(|n| n > 0)
}

/// "-6.50 dB" -> -6.5; also plain numbers (peaks).
fn decibels(s: &str) -> Option<f32> {
    let s = clean(s);
    let s = s
        .strip_suffix("dB")
        .or_else(|| s.strip_suffix("db"))
        .or_else(|| s.strip_suffix("DB"))
        .unwrap_or(s)
        .trim();
    s.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// Fills what the tags lack from a path shaped like `Artist/Album/NN - Title.ext`.
pub(super) fn apply_path_fallbacks(tags: &mut Tags, rel: &Path) {
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let Some((file, dirs)) = parts.split_last() else {
        return;
    };
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    let (number, title) = split_track_prefix(&stem);
    if tags.title.is_none() && !title.is_empty() {
        tags.title = Some(title.to_owned());
    }
    if tags.track_number.is_none() {
        tags.track_number = number;
    }
    // `Artist/Album/CD2/01 Title.ext`: the disc folder is not the album.
    let mut dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    if let Some(disc) = dirs.last().and_then(|d| disc_folder(d)) {
        dirs.pop();
        if tags.disc_number.is_none() {
            tags.disc_number = Some(disc);
        }
    }
    let mut up = dirs
        .iter()
        .rev()
        .map(|d| clean(d))
        .filter(|d| !d.is_empty());
    if let Some(album) = up.next() {
        if tags.album.is_none() {
            tags.album = Some(album.to_owned());
        }
        if let Some(artist) = up.next() {
            if tags.artists.is_empty() {
                tags.artists = vec![artist.to_owned()];
            }
        }
    }
}

/// "07 - Title" -> (7, "Title"); "07. Title", "07_Title", "1-07 Title" likewise; a name
/// without a number prefix, or that is only a number, stays whole.
fn split_track_prefix(stem: &str) -> (Option<u32>, &str) {
    let stem = clean(stem);
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return (None, stem);
    }
    let mut rest = &stem[digits..];
    let mut number = &stem[..digits];
    // A disc prefix: "1-07 Title".
    if let Some(after) = rest.strip_prefix('-') {
        let more = after.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=3).contains(&more) && after[more..].starts_with([' ', '.', '_', '-']) {
            number = &after[..more];
            rest = &after[more..];
        }
    }
    let title = rest.trim_start_matches([' ', '.', '-', '_', ')']);
    if title.len() == rest.len() || title.is_empty() {
        return (None, stem);
    }
    (number.parse().ok().filter(|&n| n > 0), title.trim())
}

fn disc_folder(name: &str) -> Option<u32> {
    let lower = clean(name).to_ascii_lowercase();
    let rest = ["cd", "disc", "disk"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?;
    let rest = rest.trim_start_matches([' ', '_', '-']);
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ProbeOptions {
        ProbeOptions::default()
    }

    #[test]
    fn splits_single_values_but_not_exceptions() {
        let o = opts();
        assert_eq!(
            split_names(&["Alice; Bob feat. Carol"], &o),
            ["Alice", "Bob", "Carol"]
        );
        assert_eq!(split_names(&["AC/DC"], &o), ["AC/DC"]);
        assert_eq!(split_names(&["Bob FEAT. Alice;Bob"], &o), ["Bob", "Alice"]);
        assert_eq!(
            split_names(&["Jeff Beck / Rod Stewart"], &o),
            ["Jeff Beck", "Rod Stewart"]
        );
        assert_eq!(
            split_names(&["Simon & Garfunkel"], &o),
            ["Simon & Garfunkel"]
        );
        assert_eq!(split_names(&[" A ; ", "B"], &o), ["A ;", "B"]);
        assert!(split_names(&[" ; "], &o).is_empty());
        let slash = ProbeOptions {
            artist_separators: vec!["/".into()],
            ..opts()
        };
        assert_eq!(
            split_names(&["AC/DC/Björk/Ölfus"], &slash),
            ["AC/DC", "Björk", "Ölfus"]
        );
    }

    #[test]
    fn parses_numbers_dates_and_gains() {
        assert_eq!(number_pair("3/12"), (Some(3), Some(12)));
        assert_eq!(number_pair(" 03 "), (Some(3), None));
        assert_eq!(number_pair("0/0"), (None, None));
        assert_eq!(number_pair("x/12"), (None, Some(12)));
        assert_eq!(year_of("2021-05-04"), Some(2021));
        assert_eq!(year_of("04/05/2021"), Some(2021));
        assert_eq!(year_of("12345"), None);
        assert_eq!(decibels("-6.50 dB"), Some(-6.5));
        assert_eq!(decibels("+1.25dB"), Some(1.25));
        assert_eq!(decibels("0.988547"), Some(0.988547));
        assert_eq!(decibels("NaN"), None);
        assert_eq!(mbids(&["a-1/b-2; a-1"]), ["a-1", "b-2"]);
    }

    fn from_path(rel: &str) -> Tags {
        let mut tags = Tags::default();
        apply_path_fallbacks(&mut tags, Path::new(rel));
        tags
    }

    /// Tags holding only what a path can give.
    fn path_tags(
        title: &str,
        track: Option<u32>,
        album: Option<&str>,
        artist: Option<&str>,
    ) -> Tags {
        Tags {
            title: Some(title.into()),
            track_number: track,
            album: album.map(Into::into),
            artists: artist.into_iter().map(Into::into).collect(),
            ..Tags::default()
        }
    }

    #[test]
    fn path_fallbacks() {
        let cases = [
            (
                "Artist/Album/07 - Title.flac",
                path_tags("Title", Some(7), Some("Album"), Some("Artist")),
            ),
            (
                "Artist/Album/Title.mp3",
                path_tags("Title", None, Some("Album"), Some("Artist")),
            ),
            (
                "Album/07 Title.mp3",
                path_tags("Title", Some(7), Some("Album"), None),
            ),
            ("07. Title.mp3", path_tags("Title", Some(7), None, None)),
            ("1-07 Title.mp3", path_tags("Title", Some(7), None, None)),
            ("07.mp3", path_tags("07", None, None, None)),
            (
                "1999 - Party.mp3",
                path_tags("1999 - Party", None, None, None),
            ),
            (
                "A/B/CD2/03_Song.ogg",
                Tags {
                    disc_number: Some(2),
                    ..path_tags("Song", Some(3), Some("B"), Some("A"))
                },
            ),
        ];
        for (rel, expected) in cases {
            assert_eq!(from_path(rel), expected, "{rel}");
        }
    }

    #[test]
    fn truncates_on_character_boundaries_with_one_warning() {
        let mut c = Collector::new(
            &ProbeOptions {
                max_tag_chars: 3,
                ..opts()
            },
            PictureMode::Describe,
        );
        assert_eq!(c.text(Field::Title, "\0 ééééé \0").as_deref(), Some("ééé"));
        assert_eq!(c.text(Field::Title, "abcdef").as_deref(), Some("abc"));
        assert_eq!(c.text(Field::Album, "\0\0 "), None);
        assert_eq!(c.warnings, ["title truncated to 3 characters"]);
    }
}
