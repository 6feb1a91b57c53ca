//! Subsonic wire types, built from catalog views plus the caller's stars and ratings.
//!
//! Types follow the XML schema: ids are strings, counts and durations (seconds) integers,
//! `created` and `starred` RFC 3339 times. OpenSubsonic additions (`genres`, `artists`,
//! `displayArtist`, ...) are included; `render` leaves the nested ones out for legacy clients.

use serde::Serialize;
use uuid::Uuid;

use super::{Ctx, Res};
use crate::catalog::{Album, Artist, Reader, TrackRef};
use crate::domain::UnixTime;
use crate::http::dto::rfc3339;

/// `{"name": ...}` (OpenSubsonic `ItemGenre`).
#[derive(Debug, Serialize)]
pub struct NameRef {
    pub name: String,
}

/// `{"id", "name"}` (OpenSubsonic `ArtistID3` reference).
#[derive(Debug, Serialize)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// A song (`Child` with `isDir=false`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Song {
    pub id: String,
    pub parent: String,
    pub is_dir: bool,
    pub title: String,
    pub album: String,
    pub artist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    pub cover_art: String,
    pub size: u64,
    pub content_type: String,
    pub suffix: String,
    pub duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disc_number: Option<u32>,
    pub created: String,
    pub album_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub media_type: &'static str,
    pub is_video: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    pub genres: Vec<NameRef>,
    pub artists: Vec<IdName>,
    pub display_artist: String,
    pub album_artists: Vec<IdName>,
    pub display_album_artist: String,
}

/// An album (`AlbumID3`), optionally with its songs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumDto {
    pub id: String,
    pub name: String,
    pub artist: String,
    pub artist_id: String,
    pub cover_art: String,
    pub song_count: usize,
    pub duration: u64,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
    pub is_compilation: bool,
    pub genres: Vec<NameRef>,
    pub artists: Vec<IdName>,
    pub display_artist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub song: Option<Vec<Song>>,
}

/// An album as a directory entry (`Child` with `isDir=true`), for the folder-based methods.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumChild {
    pub id: String,
    pub parent: String,
    pub is_dir: bool,
    pub title: String,
    pub album: String,
    pub artist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    pub cover_art: String,
    pub duration: u64,
    pub created: String,
    pub album_id: String,
    pub artist_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_rating: Option<u8>,
}

/// An artist (`ArtistID3`), optionally with albums.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistDto {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_art: Option<String>,
    pub album_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<Vec<AlbumDto>>,
}

/// `{"album": [...]}`.
#[derive(Debug, Serialize)]
pub struct AlbumList<T> {
    pub album: Vec<T>,
}

/// `{"song": [...]}`.
#[derive(Debug, Serialize)]
pub struct SongList {
    pub song: Vec<Song>,
}

/// `searchResult3` and `starred2`.
#[derive(Debug, Serialize)]
pub struct Found {
    pub artist: Vec<ArtistDto>,
    pub album: Vec<AlbumDto>,
    pub song: Vec<Song>,
}

pub fn time(t: UnixTime) -> String {
    rfc3339(t)
}

fn ext_of(rel: &[u8]) -> String {
    let name = rel.rsplit(|b| *b == b'/').next().unwrap_or(rel);
    match name.iter().rposition(|b| *b == b'.') {
        Some(i) => String::from_utf8_lossy(&name[i + 1..]).to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The MIME type players expect for a file extension.
pub fn mime_of(suffix: &str) -> String {
    match suffix {
        "mp3" => "audio/mpeg".into(),
        "flac" => "audio/flac".into(),
        "m4a" | "mp4" | "m4b" | "aac" => "audio/mp4".into(),
        "ogg" | "oga" => "audio/ogg".into(),
        "opus" => "audio/ogg".into(),
        "wav" => "audio/wav".into(),
        "aif" | "aiff" => "audio/aiff".into(),
        other => mime_guess::from_ext(other)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned(),
    }
}

/// Strips characters a path segment cannot hold.
fn segment(s: &str) -> String {
    s.replace(['/', '\\'], "_")
}

/// Most likes or ratings read in one go per request; past this, songs are looked up one by one.
const MARKS_AT_ONCE: usize = 5000;

/// The caller's likes (with their time) and track ratings.
pub struct SongMarks {
    likes: std::collections::HashMap<Uuid, UnixTime>,
    ratings: std::collections::HashMap<crate::domain::TrackId, u8>,
}

impl Ctx {
    fn song_marks(&self) -> Res<Option<&SongMarks>> {
        if self.song_marks.get().is_none() {
            let social = &self.app.social;
            let user = self.actor.user_id;
            let marks = match social.likes.of_user_upto(user, MARKS_AT_ONCE)? {
                Some(likes) => social
                    .track_ratings
                    .of_user_upto(user, MARKS_AT_ONCE)?
                    .map(|r| SongMarks {
                        likes,
                        ratings: r.into_iter().map(|(t, r)| (t, r.stars)).collect(),
                    }),
                None => None,
            };
            let _ = self.song_marks.set(marks);
        }
        Ok(self.song_marks.get().and_then(Option::as_ref))
    }

    /// When the caller starred (liked, saved, followed) `id` in `relation`.
    pub fn starred(
        &self,
        relation: &crate::social::relations::Relation,
        id: Uuid,
    ) -> Res<Option<String>> {
        Ok(relation.since(self.actor.user_id, id)?.map(time))
    }

    /// A song as the caller sees it.
    pub fn song(&self, r: &Reader<'_>, t: &TrackRef<'_>) -> Res<Song> {
        let social = &self.app.social;
        let (starred, user_rating) = match self.song_marks()? {
            Some(m) => (
                m.likes.get(t.id.as_uuid()).map(|since| time(*since)),
                m.ratings.get(&t.id).copied(),
            ),
            None => (
                self.starred(&social.likes, *t.id.as_uuid())?,
                social
                    .track_ratings
                    .of_user(self.actor.user_id, t.id)?
                    .map(|r| r.stars),
            ),
        };
        let artists: Vec<IdName> = t
            .artist_ids
            .iter()
            .zip(t.artist_names())
            .map(|(id, name)| IdName {
                id: id.to_string(),
                name: name.to_owned(),
            })
            .collect();
        let album = r.album(t.album_id).ok();
        let album_artist_name = album.map_or(String::new(), |a| a.artist_name.clone());
        let display_artist = artists
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let suffix = ext_of(&t.rel);
        let title = t.title.to_string();
        let album_title = t.album_title().to_owned();
        Ok(Song {
            id: t.id.to_string(),
            parent: t.album_id.to_string(),
            is_dir: false,
            path: format!(
                "{}/{}/{}{}.{}",
                segment(&album_artist_name),
                segment(&album_title),
                t.track_number
                    .map_or(String::new(), |n| format!("{n:02} - ")),
                segment(&title),
                suffix
            ),
            title,
            album: album_title,
            artist: display_artist.clone(),
            track: t.track_number,
            year: t.year,
            genre: t.genres.first().map(|g| g.to_string()),
            cover_art: t.album_id.to_string(),
            size: t.size,
            content_type: mime_of(&suffix),
            bit_rate: (t.duration_ms > 0).then(|| t.size * 8 / t.duration_ms),
            suffix,
            duration: t.duration_ms / 1000,
            disc_number: t.disc_number,
            created: time(t.added_at),
            album_id: t.album_id.to_string(),
            artist_id: t.artist_ids.first().map(|a| a.to_string()),
            kind: "music",
            media_type: "song",
            is_video: false,
            starred,
            user_rating,
            genres: t
                .genres
                .iter()
                .map(|g| NameRef {
                    name: g.to_string(),
                })
                .collect(),
            artists,
            display_artist,
            album_artists: vec![IdName {
                id: t.album_artist_id.to_string(),
                name: album_artist_name.clone(),
            }],
            display_album_artist: album_artist_name,
        })
    }

    /// Songs as the caller sees them.
    pub fn songs<'r>(
        &self,
        r: &Reader<'_>,
        tracks: impl IntoIterator<Item = TrackRef<'r>>,
    ) -> Res<Vec<Song>> {
        tracks.into_iter().map(|t| self.song(r, &t)).collect()
    }

    /// An album as the caller sees it, with its songs when `with_songs`.
    pub fn album(&self, r: &Reader<'_>, a: &Album, with_songs: bool) -> Res<AlbumDto> {
        let social = &self.app.social;
        let song = if with_songs {
            Some(self.songs(r, r.album_tracks(a))?)
        } else {
            None
        };
        Ok(AlbumDto {
            id: a.id.to_string(),
            name: a.title.clone(),
            artist: a.artist_name.clone(),
            artist_id: a.artist_id.to_string(),
            cover_art: a.id.to_string(),
            song_count: a.tracks.len(),
            duration: a.duration_ms / 1000,
            created: time(a.added_at),
            year: a.year,
            genre: a.genres.iter().next().map(|g| g.to_string()),
            starred: self.starred(&social.saves, *a.id.as_uuid())?,
            user_rating: social
                .album_ratings
                .of_user(self.actor.user_id, a.id)?
                .map(|r| r.stars),
            is_compilation: a.compilation,
            genres: a
                .genres
                .iter()
                .map(|g| NameRef {
                    name: g.to_string(),
                })
                .collect(),
            artists: vec![IdName {
                id: a.artist_id.to_string(),
                name: a.artist_name.clone(),
            }],
            display_artist: a.artist_name.clone(),
            song,
        })
    }

    /// An album as a directory entry.
    pub fn album_child(&self, a: &Album) -> Res<AlbumChild> {
        let social = &self.app.social;
        Ok(AlbumChild {
            id: a.id.to_string(),
            parent: a.artist_id.to_string(),
            is_dir: true,
            title: a.title.clone(),
            album: a.title.clone(),
            artist: a.artist_name.clone(),
            year: a.year,
            genre: a.genres.iter().next().map(|g| g.to_string()),
            cover_art: a.id.to_string(),
            duration: a.duration_ms / 1000,
            created: time(a.added_at),
            album_id: a.id.to_string(),
            artist_id: a.artist_id.to_string(),
            starred: self.starred(&social.saves, *a.id.as_uuid())?,
            user_rating: social
                .album_ratings
                .of_user(self.actor.user_id, a.id)?
                .map(|r| r.stars),
        })
    }

    /// An artist as the caller sees it, with albums when `with_albums`.
    pub fn artist(&self, r: &Reader<'_>, a: &Artist, with_albums: bool) -> Res<ArtistDto> {
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
            id: a.id.to_string(),
            name: a.name.clone(),
            cover_art: a.albums.iter().next().map(|al| al.to_string()),
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
}
