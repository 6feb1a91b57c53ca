//! Subsonic wire types, built from catalog views plus the caller's stars and ratings.
//!
//! Types follow the XML schema: ids are strings, counts and durations (seconds) integers,
//! `created` and `starred` RFC 3339 times. OpenSubsonic additions (`genres`, `artists`,
//! `displayArtist`, ...) are included; `render` leaves the nested ones out for legacy clients.

use std::borrow::Cow;
use std::collections::btree_set;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::{Ctx, Res};
use crate::catalog::{Album, Artist, Reader, TrackRef};
use crate::domain::{AlbumId, TrackId, UnixTime};
use crate::http::dto::{rfc3339, rfc3339_into, RFC3339_MAX};
use crate::http::json;

// The large answers (a 500-song search, a 100-song album) are built from borrowed catalog
// data and written straight to the response: ids and times are written as they are
// serialised instead of being formatted into strings first, and songs and albums write their
// JSON field by field (`WriteJson`). A song allocates only its path, plus its display artist
// when it has several artists and its suffix when the file extension is upper-case.

/// An id as the wire's 32 lower-case hex digits.
#[derive(Debug, Clone, Copy)]
pub struct Hex(pub Uuid);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 32];
        s.serialize_str(self.0.as_simple().encode_lower(&mut buf))
    }
}

impl Hex {
    /// As a JSON string.
    fn put(self, out: &mut Vec<u8>) {
        json::put_hex_id(out, &self.0);
    }
}

/// A moment as RFC 3339 (`2024-05-01T12:00:00Z`).
#[derive(Debug, Clone, Copy)]
pub struct Time(pub UnixTime);

impl Time {
    /// The text in `buf`; empty for a moment RFC 3339 cannot write.
    fn text(self, buf: &mut [u8; RFC3339_MAX]) -> &str {
        rfc3339_into(self.0, buf)
    }

    /// As a JSON string: digits and separators need no escaping.
    fn put(self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(self.text(&mut [0; RFC3339_MAX]).as_bytes());
        out.push(b'"');
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text(&mut [0; RFC3339_MAX]))
    }
}

/// `{"name": ...}` (OpenSubsonic `ItemGenre`).
#[derive(Debug, Serialize)]
pub struct NameRef<'a> {
    pub name: &'a str,
}

/// `{"id", "name"}` (OpenSubsonic `ArtistID3` reference).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IdName<'a> {
    pub id: Hex,
    pub name: &'a str,
}

/// Shared genre names as a list of [`NameRef`].
#[derive(Debug, Clone)]
pub struct Genres<I>(I);

impl<'a, I: Iterator<Item = &'a Arc<str>> + Clone> Serialize for Genres<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone().map(|g| NameRef { name: g }))
    }
}

/// A track's performing artists as a list of [`IdName`].
#[derive(Clone, Copy)]
pub struct SongArtists<'a>(TrackRef<'a>);

impl<'a> SongArtists<'a> {
    fn iter(self) -> impl Iterator<Item = IdName<'a>> {
        let t = self.0;
        t.row
            .artist_ids
            .iter()
            .zip(t.artist_names())
            .map(|(id, name)| IdName {
                id: Hex(*id.as_uuid()),
                name,
            })
    }
}

impl Serialize for SongArtists<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The path a song would have in an `Artist/Album/NN - Title.ext` tree; players show it and
/// some group by it. Slashes inside names become `_`.
#[derive(Debug, Clone)]
pub struct SongPath<'a> {
    album_artist: &'a str,
    album: &'a str,
    track: Option<u32>,
    title: &'a str,
    suffix: Cow<'a, str>,
}

impl SongPath<'_> {
    /// The path, built by hand: formatting machinery costs more than the path's bytes in a
    /// 500-song answer.
    fn text(&self) -> String {
        fn segment(out: &mut String, s: &str) {
            if !s.bytes().any(|b| b == b'/' || b == b'\\') {
                out.push_str(s);
                return;
            }
            for (i, part) in s.split(['/', '\\']).enumerate() {
                if i > 0 {
                    out.push('_');
                }
                out.push_str(part);
            }
        }
        let mut out = String::with_capacity(
            self.album_artist.len() + self.album.len() + self.title.len() + self.suffix.len() + 8,
        );
        segment(&mut out, self.album_artist);
        out.push('/');
        segment(&mut out, self.album);
        out.push('/');
        if let Some(n) = self.track {
            if n < 10 {
                out.push('0');
            }
            out.push_str(itoa::Buffer::new().format(n));
            out.push_str(" - ");
        }
        segment(&mut out, self.title);
        out.push('.');
        out.push_str(&self.suffix);
        out
    }
}

impl Serialize for SongPath<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// A song (`Child` with `isDir=false`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Song<'a> {
    pub id: Hex,
    pub parent: Hex,
    pub is_dir: bool,
    pub title: &'a str,
    pub album: &'a str,
    pub artist: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<&'a str>,
    pub cover_art: Hex,
    pub size: u64,
    pub content_type: &'static str,
    pub suffix: Cow<'a, str>,
    pub duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    pub path: SongPath<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disc_number: Option<u32>,
    pub created: Time,
    pub album_id: Hex,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist_id: Option<Hex>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub media_type: &'static str,
    pub is_video: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    pub genres: Genres<std::slice::Iter<'a, Arc<str>>>,
    pub artists: SongArtists<'a>,
    pub display_artist: Cow<'a, str>,
    pub album_artists: [IdName<'a>; 1],
    pub display_album_artist: &'a str,
}

/// An album (`AlbumID3`), optionally with its songs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumDto<'a> {
    pub id: Hex,
    pub name: &'a str,
    pub artist: &'a str,
    pub artist_id: Hex,
    pub cover_art: Hex,
    pub song_count: usize,
    pub duration: u64,
    pub created: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    pub is_compilation: bool,
    pub genres: Genres<btree_set::Iter<'a, Arc<str>>>,
    pub artists: [IdName<'a>; 1],
    pub display_artist: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub song: Option<Vec<Song<'a>>>,
}

/// An album as a directory entry (`Child` with `isDir=true`), for the folder-based methods.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumChild<'a> {
    pub id: Hex,
    pub parent: Hex,
    pub is_dir: bool,
    pub title: &'a str,
    pub album: &'a str,
    pub artist: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<&'a str>,
    pub cover_art: Hex,
    pub duration: u64,
    pub created: Time,
    pub album_id: Hex,
    pub artist_id: Hex,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
}

/// An artist (`ArtistID3`), optionally with albums.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistDto<'a> {
    pub id: Hex,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<Hex>,
    pub album_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<Vec<AlbumDto<'a>>>,
}

/// `{"album": [...]}`.
#[derive(Serialize)]
pub struct AlbumList<T> {
    pub album: Vec<T>,
}

/// `{"song": [...]}`.
#[derive(Serialize)]
pub struct SongList<'a> {
    pub song: Vec<Song<'a>>,
}

/// `searchResult3` and `starred2`.
#[derive(Serialize)]
pub struct Found<'a> {
    pub artist: Vec<ArtistDto<'a>>,
    pub album: Vec<AlbumDto<'a>>,
    pub song: Vec<Song<'a>>,
}

pub fn time(t: UnixTime) -> String {
    rfc3339(t)
}

/// A file's extension in lower case.
fn ext_of(rel: &[u8]) -> Cow<'_, str> {
    let name = rel.rsplit(|b| *b == b'/').next().unwrap_or(rel);
    match name.iter().rposition(|b| *b == b'.') {
        Some(i) => match String::from_utf8_lossy(&name[i + 1..]) {
            Cow::Borrowed(s) if !s.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_ascii_lowercase()),
        },
        None => Cow::Borrowed(""),
    }
}

/// The MIME type players expect for a file extension.
pub fn mime_of(suffix: &str) -> &'static str {
    match suffix {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "m4a" | "mp4" | "m4b" | "aac" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "aif" | "aiff" => "audio/aiff",
        other => mime_guess::from_ext(other)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

/// Most stars or ratings of one kind read in one go per request; past this, each song or album
/// is looked up on its own.
const MARKS_AT_ONCE: usize = 5000;

/// The caller's stars (with their time) and ratings of one kind of item.
pub struct Marks<I> {
    stars: std::collections::HashMap<Uuid, UnixTime>,
    ratings: std::collections::HashMap<I, u8>,
}

impl<I: std::hash::Hash + Eq> Marks<I> {
    /// From a user's stars and ratings as read at once, if neither was too many to hold.
    fn of(
        stars: Option<std::collections::HashMap<Uuid, UnixTime>>,
        ratings: impl FnOnce() -> crate::error::Result<Option<Vec<(I, crate::social::model::Rating)>>>,
    ) -> Res<Option<Self>> {
        let Some(stars) = stars else {
            return Ok(None);
        };
        Ok(ratings()?.map(|r| Self {
            stars,
            ratings: r.into_iter().map(|(i, r)| (i, r.stars)).collect(),
        }))
    }

    fn get(&self, id: &I, uuid: &Uuid) -> (Option<Time>, Option<u8>) {
        (
            self.stars.get(uuid).map(|since| Time(*since)),
            self.ratings.get(id).copied(),
        )
    }
}

/// The marks in `cell`, read by `load` on the request's first use.
fn marks_in<I>(
    cell: &std::sync::OnceLock<Option<Marks<I>>>,
    load: impl FnOnce() -> Res<Option<Marks<I>>>,
) -> Res<Option<&Marks<I>>> {
    if cell.get().is_none() {
        let _ = cell.set(load()?);
    }
    Ok(cell.get().and_then(Option::as_ref))
}

impl Ctx {
    fn song_marks(&self) -> Res<Option<&Marks<TrackId>>> {
        let (social, user) = (&self.app.social, self.actor.user_id);
        marks_in(&self.song_marks, || {
            Marks::of(social.likes.of_user_upto(user, MARKS_AT_ONCE)?, || {
                social.track_ratings.of_user_upto(user, MARKS_AT_ONCE)
            })
        })
    }

    fn album_marks(&self) -> Res<Option<&Marks<AlbumId>>> {
        let (social, user) = (&self.app.social, self.actor.user_id);
        marks_in(&self.album_marks, || {
            Marks::of(social.saves.of_user_upto(user, MARKS_AT_ONCE)?, || {
                social.album_ratings.of_user_upto(user, MARKS_AT_ONCE)
            })
        })
    }

    /// When the caller starred (liked, saved, followed) `id` in `relation`.
    pub fn starred(
        &self,
        relation: &crate::social::relations::Relation,
        id: Uuid,
    ) -> Res<Option<Time>> {
        Ok(relation.since(self.actor.user_id, id)?.map(Time))
    }

    /// A song as the caller sees it.
    pub fn song<'r>(&self, r: &'r Reader<'_>, t: TrackRef<'r>) -> Res<Song<'r>> {
        let social = &self.app.social;
        let (starred, user_rating) = match self.song_marks()? {
            Some(m) => m.get(&t.id, t.id.as_uuid()),
            None => (
                self.starred(&social.likes, *t.id.as_uuid())?,
                social
                    .track_ratings
                    .of_user(self.actor.user_id, t.id)?
                    .map(|r| r.stars),
            ),
        };
        let mut names = t.artist_names();
        let display_artist = match (names.next(), names.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(one), None) => Cow::Borrowed(one),
            (Some(_), Some(_)) => Cow::Owned(t.artist_names().collect::<Vec<_>>().join(", ")),
        };
        // One lookup for both names: in a search page each song's album is a cache miss.
        let album = r.album(t.album_id).ok();
        let album_artist_name = album.map_or("", |a| a.artist_name.as_str());
        let album_title = album.map_or("", |a| a.title.as_str());
        let suffix = ext_of(&t.row.rel);
        let title: &'r str = &t.row.title;
        Ok(Song {
            id: Hex(*t.id.as_uuid()),
            parent: Hex(*t.album_id.as_uuid()),
            is_dir: false,
            title,
            album: album_title,
            artist: display_artist.clone(),
            track: t.track_number,
            year: t.year,
            genre: t.row.genres.first().map(|g| &**g),
            cover_art: Hex(*t.album_id.as_uuid()),
            size: t.size,
            content_type: mime_of(&suffix),
            bit_rate: (t.duration_ms > 0).then(|| t.size * 8 / t.duration_ms),
            path: SongPath {
                album_artist: album_artist_name,
                album: album_title,
                track: t.track_number,
                title,
                suffix: suffix.clone(),
            },
            suffix,
            duration: t.duration_ms / 1000,
            disc_number: t.disc_number,
            created: Time(t.added_at),
            album_id: Hex(*t.album_id.as_uuid()),
            artist_id: t.artist_ids.first().map(|a| Hex(*a.as_uuid())),
            kind: "music",
            media_type: "song",
            is_video: false,
            starred,
            user_rating,
            genres: Genres(t.row.genres.iter()),
            artists: SongArtists(t),
            display_artist,
            album_artists: [IdName {
                id: Hex(*t.album_artist_id.as_uuid()),
                name: album_artist_name,
            }],
            display_album_artist: album_artist_name,
        })
    }

    /// Songs as the caller sees them.
    pub fn songs<'r>(
        &self,
        r: &'r Reader<'_>,
        tracks: impl IntoIterator<Item = TrackRef<'r>>,
    ) -> Res<Vec<Song<'r>>> {
        tracks.into_iter().map(|t| self.song(r, t)).collect()
    }

    /// An album as the caller sees it, with its songs when `with_songs`.
    pub fn album<'r>(
        &self,
        r: &'r Reader<'_>,
        a: &'r Album,
        with_songs: bool,
    ) -> Res<AlbumDto<'r>> {
        let social = &self.app.social;
        let song = if with_songs {
            Some(self.songs(r, r.album_tracks(a))?)
        } else {
            None
        };
        let (starred, user_rating) = match self.album_marks()? {
            Some(m) => m.get(&a.id, a.id.as_uuid()),
            None => (
                self.starred(&social.saves, *a.id.as_uuid())?,
                social
                    .album_ratings
                    .of_user(self.actor.user_id, a.id)?
                    .map(|r| r.stars),
            ),
        };
        Ok(AlbumDto {
            id: Hex(*a.id.as_uuid()),
            name: &a.title,
            artist: &a.artist_name,
            artist_id: Hex(*a.artist_id.as_uuid()),
            cover_art: Hex(*a.id.as_uuid()),
            song_count: a.tracks.len(),
            duration: a.duration_ms / 1000,
            created: Time(a.added_at),
            year: a.year,
            genre: a.genres.first().map(|g| &**g),
            starred,
            user_rating,
            is_compilation: a.compilation,
            genres: Genres(a.genres.iter()),
            artists: [IdName {
                id: Hex(*a.artist_id.as_uuid()),
                name: &a.artist_name,
            }],
            display_artist: &a.artist_name,
            song,
        })
    }

    /// An album as a directory entry.
    pub fn album_child<'r>(&self, a: &'r Album) -> Res<AlbumChild<'r>> {
        let social = &self.app.social;
        Ok(AlbumChild {
            id: Hex(*a.id.as_uuid()),
            parent: Hex(*a.artist_id.as_uuid()),
            is_dir: true,
            title: &a.title,
            album: &a.title,
            artist: &a.artist_name,
            year: a.year,
            genre: a.genres.first().map(|g| &**g),
            cover_art: Hex(*a.id.as_uuid()),
            duration: a.duration_ms / 1000,
            created: Time(a.added_at),
            album_id: Hex(*a.id.as_uuid()),
            artist_id: Hex(*a.artist_id.as_uuid()),
            starred: self.starred(&social.saves, *a.id.as_uuid())?,
            user_rating: social
                .album_ratings
                .of_user(self.actor.user_id, a.id)?
                .map(|r| r.stars),
        })
    }

    /// An artist as the caller sees it, with albums when `with_albums`.
    pub fn artist<'r>(
        &self,
        r: &'r Reader<'_>,
        a: &'r Artist,
        with_albums: bool,
    ) -> Res<ArtistDto<'r>> {
        let album = if with_albums {
            Some(
                r.artist_albums(a)
                    .into_iter()
                    .map(|al| self.album(r, al, false))
                    .collect::<Res<Vec<_>>>()?,
            )
        } else {
            None
        };
        Ok(ArtistDto {
            id: Hex(*a.id.as_uuid()),
            name: &a.name,
            cover_art: a.albums.first().map(|al| Hex(*al.as_uuid())),
            album_count: a.albums.len(),
            starred: self.starred(&self.app.social.artist_follows, *a.id.as_uuid())?,
            album,
        })
    }
}

/// A typed answer written as JSON. By default through the generic writer; songs and albums,
/// which make up the large answers, write their fields by hand. The integration tests check
/// that the JSON carries the same fields as the XML, which is written from `Serialize`.
pub trait WriteJson: Serialize {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        json::write(out, self)
    }

    /// About how many bytes the JSON takes, so that the buffer is allocated once instead of
    /// being copied as it doubles.
    fn json_size(&self) -> usize {
        1024
    }
}

/// A song's JSON is about 800 bytes; most fit in this.
const SONG_JSON: usize = 1024;

impl WriteJson for AlbumChild<'_> {}
impl WriteJson for ArtistDto<'_> {}
#[cfg(test)]
impl WriteJson for serde_json::Value {}

/// `[{"name": ...}, ...]`.
fn put_genres<'a>(out: &mut Vec<u8>, genres: impl Iterator<Item = &'a Arc<str>>) {
    out.push(b'[');
    for (i, g) in genres.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = json::Object::open(out);
        o.str("name", g);
        o.close();
    }
    out.push(b']');
}

/// `[{"id": ..., "name": ...}, ...]`.
fn put_id_names<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = IdName<'a>>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = json::Object::open(out);
        item.id.put(o.key("id"));
        o.str("name", item.name);
        o.close();
    }
    out.push(b']');
}

/// `[item, ...]`, each written by hand.
fn put_all<T: WriteJson>(out: &mut Vec<u8>, items: &[T]) -> Result<(), json::Error> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write_json(out)?;
    }
    out.push(b']');
    Ok(())
}

/// `{"key": [item, ...]}`.
fn put_list<T: WriteJson>(out: &mut Vec<u8>, key: &str, items: &[T]) -> Result<(), json::Error> {
    let mut o = json::Object::open(out);
    put_all(o.key(key), items)?;
    o.close();
    Ok(())
}

impl WriteJson for Song<'_> {
    fn json_size(&self) -> usize {
        SONG_JSON
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        // Field for field as `Song`'s `Serialize`, in the same order.
        let mut o = json::Object::open(out);
        self.id.put(o.key("id"));
        self.parent.put(o.key("parent"));
        o.bool("isDir", self.is_dir);
        o.str("title", self.title);
        o.str("album", self.album);
        o.str("artist", &self.artist);
        o.opt_int("track", self.track);
        o.opt_int("year", self.year);
        o.opt_str("genre", self.genre);
        self.cover_art.put(o.key("coverArt"));
        o.int("size", self.size);
        o.str("contentType", self.content_type);
        o.str("suffix", &self.suffix);
        o.int("duration", self.duration);
        o.opt_int("bitRate", self.bit_rate);
        o.str("path", &self.path.text());
        o.opt_int("discNumber", self.disc_number);
        self.created.put(o.key("created"));
        self.album_id.put(o.key("albumId"));
        if let Some(id) = self.artist_id {
            id.put(o.key("artistId"));
        }
        o.str("type", self.kind);
        o.str("mediaType", self.media_type);
        o.bool("isVideo", self.is_video);
        if let Some(t) = self.starred {
            t.put(o.key("starred"));
        }
        o.opt_int("userRating", self.user_rating);
        put_genres(o.key("genres"), self.genres.0.clone());
        put_id_names(o.key("artists"), self.artists.iter());
        o.str("displayArtist", &self.display_artist);
        put_id_names(o.key("albumArtists"), self.album_artists.iter().copied());
        o.str("displayAlbumArtist", self.display_album_artist);
        o.close();
        Ok(())
    }
}

impl WriteJson for AlbumDto<'_> {
    fn json_size(&self) -> usize {
        SONG_JSON + self.song.as_ref().map_or(0, |s| s.len() * SONG_JSON)
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        // Field for field as `AlbumDto`'s `Serialize`, in the same order.
        let mut o = json::Object::open(out);
        self.id.put(o.key("id"));
        o.str("name", self.name);
        o.str("artist", self.artist);
        self.artist_id.put(o.key("artistId"));
        self.cover_art.put(o.key("coverArt"));
        o.int("songCount", self.song_count);
        o.int("duration", self.duration);
        self.created.put(o.key("created"));
        o.opt_int("year", self.year);
        o.opt_str("genre", self.genre);
        if let Some(t) = self.starred {
            t.put(o.key("starred"));
        }
        o.opt_int("userRating", self.user_rating);
        o.bool("isCompilation", self.is_compilation);
        put_genres(o.key("genres"), self.genres.0.clone());
        put_id_names(o.key("artists"), self.artists.iter().copied());
        o.str("displayArtist", self.display_artist);
        if let Some(songs) = &self.song {
            put_all(o.key("song"), songs)?;
        }
        o.close();
        Ok(())
    }
}

impl<T: WriteJson> WriteJson for AlbumList<T> {
    fn json_size(&self) -> usize {
        self.album.iter().map(T::json_size).sum::<usize>() + 16
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        put_list(out, "album", &self.album)
    }
}

impl WriteJson for SongList<'_> {
    fn json_size(&self) -> usize {
        self.song.len() * SONG_JSON + 16
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        put_list(out, "song", &self.song)
    }
}

impl WriteJson for Found<'_> {
    fn json_size(&self) -> usize {
        let albums: usize = self.album.iter().map(WriteJson::json_size).sum();
        (self.artist.len() + self.song.len()) * SONG_JSON + albums + 32
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        let mut o = json::Object::open(out);
        put_all(o.key("artist"), &self.artist)?;
        put_all(o.key("album"), &self.album)?;
        put_all(o.key("song"), &self.song)?;
        o.close();
        Ok(())
    }
}

/// A JSON value of a wire type.
pub fn value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_come_from_the_file_name() {
        assert_eq!(ext_of(b"a.b/Song.FLAC"), "flac");
        assert_eq!(ext_of(b"dir.x/noext"), "");
        assert_eq!(mime_of("mp3"), "audio/mpeg");
        assert_eq!(mime_of("m4a"), "audio/mp4");
    }

    #[test]
    fn ids_times_and_paths_are_written_without_formatting_first() {
        let id = crate::domain::TrackId::new();
        assert_eq!(
            serde_json::to_value(Hex(*id.as_uuid())).unwrap(),
            id.to_string()
        );
        assert_eq!(
            serde_json::to_value(Time(1_714_564_800)).unwrap(),
            rfc3339(1_714_564_800)
        );
        assert_eq!(serde_json::to_string(&Time(i64::MAX)).unwrap(), "\"\"");
        let path = SongPath {
            album_artist: "AC/DC",
            album: "Back\\in",
            track: Some(3),
            title: "Hells",
            suffix: Cow::Borrowed("flac"),
        };
        assert_eq!(path.text(), "AC_DC/Back_in/03 - Hells.flac");
        let long = SongPath {
            track: Some(123),
            suffix: Cow::Borrowed("mp3"),
            ..path.clone()
        };
        assert_eq!(long.text(), "AC_DC/Back_in/123 - Hells.mp3");
        let none = SongPath {
            track: None,
            ..path.clone()
        };
        assert_eq!(none.text(), "AC_DC/Back_in/Hells.flac");
        assert_eq!(serde_json::to_value(&path).unwrap(), path.text());
    }
}
