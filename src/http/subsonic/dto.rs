//! Subsonic wire types, built from catalog views plus the caller's stars and ratings.
//!
//! Types follow the XML schema: ids are strings, counts and durations (seconds) integers,
//! `created` and `starred` RFC 3339 times. OpenSubsonic additions (`genres`, `artists`,
//! `displayArtist`, ...) are included; `render` leaves the nested ones out for legacy clients.

use std::borrow::Cow;
use std::collections::btree_set;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::{Ctx, Res};
use crate::catalog::{Album, Artist, Reader, TrackRef};
use crate::domain::{AlbumId, TrackId, UnixTime};
use crate::http::dto::rfc3339;

// The large answers (a 500-song search, a 100-song album) are built from borrowed catalog
// data and written straight to the response: ids, times and paths are written as they are
// serialised instead of being formatted into strings first. A song costs no allocation
// unless it has several artists or an upper-case file extension.

/// An id as the wire's 32 lower-case hex digits.
#[derive(Debug, Clone, Copy)]
pub struct Hex(pub Uuid);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 32];
        s.serialize_str(self.0.as_simple().encode_lower(&mut buf))
    }
}

/// A moment as RFC 3339 (`2024-05-01T12:00:00Z`).
#[derive(Debug, Clone, Copy)]
pub struct Time(pub UnixTime);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        let len = {
            let mut out = &mut buf[..];
            time::OffsetDateTime::from_unix_timestamp(self.0)
                .ok()
                .and_then(|d| {
                    d.format_into(&mut out, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or(0)
        };
        s.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

/// `{"name": ...}` (OpenSubsonic `ItemGenre`).
#[derive(Debug, Serialize)]
pub struct NameRef<'a> {
    pub name: &'a str,
}

/// `{"id", "name"}` (OpenSubsonic `ArtistID3` reference).
#[derive(Debug, Serialize)]
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

impl Serialize for SongArtists<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        s.collect_seq(
            t.row
                .artist_ids
                .iter()
                .zip(t.artist_names())
                .map(|(id, name)| IdName {
                    id: Hex(*id.as_uuid()),
                    name,
                }),
        )
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

fn write_segment(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for (i, part) in s.split(['/', '\\']).enumerate() {
        if i > 0 {
            f.write_char('_')?;
        }
        f.write_str(part)?;
    }
    Ok(())
}

impl fmt::Display for SongPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_segment(f, self.album_artist)?;
        f.write_char('/')?;
        write_segment(f, self.album)?;
        f.write_char('/')?;
        if let Some(n) = self.track {
            write!(f, "{n:02} - ")?;
        }
        write_segment(f, self.title)?;
        write!(f, ".{}", self.suffix)
    }
}

impl Serialize for SongPath<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
        let album_artist_name = r.album(t.album_id).map_or("", |a| a.artist_name.as_str());
        let suffix = ext_of(&t.row.rel);
        let title: &'r str = &t.row.title;
        let album_title = t.album_title();
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
        assert_eq!(path.to_string(), "AC_DC/Back_in/03 - Hells.flac");
        assert_eq!(serde_json::to_value(&path).unwrap(), path.to_string());
    }
}
