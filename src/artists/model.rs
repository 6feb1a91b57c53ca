//! What the artists' side stores: profiles, albums, uploaded tracks and resumable uploads.
//! Stored as postcard: a new field means a new table or a migration, never an edit here.

use serde::{Deserialize, Serialize};

use crate::domain::{AlbumId, ArtistId, AudioInfo, TrackId, TrackTags, UnixTime, UserId};

/// An artist as the public sees them. Its id is the catalog artist id of its name, so the
/// catalog's artist page and the profile are one artist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The catalog artist id.
    pub id: ArtistId,
    /// The account that manages it; `None` for an artist known only from tags.
    pub owner: Option<UserId>,
    /// Name shown and credited on uploads.
    pub name: String,
    /// Unique, URL-friendly name.
    pub slug: String,
    /// Free text.
    pub bio: String,
    /// A picture's address.
    pub image_url: Option<String>,
    /// Web links.
    pub links: Vec<String>,
    /// Genres the artist plays.
    pub genres: Vec<String>,
    /// When it was made.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// Kinds of release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlbumKind {
    /// A full album.
    Album,
    /// One or two tracks.
    Single,
    /// An extended play.
    Ep,
    /// Tracks gathered from elsewhere.
    Compilation,
}

impl AlbumKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlbumKind::Album => "album",
            AlbumKind::Single => "single",
            AlbumKind::Ep => "ep",
            AlbumKind::Compilation => "compilation",
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "album" => Some(AlbumKind::Album),
            "single" => Some(AlbumKind::Single),
            "ep" => Some(AlbumKind::Ep),
            "compilation" => Some(AlbumKind::Compilation),
            _ => None,
        }
    }
}

/// An album an artist made. Every uploaded track is on exactly one (a single has its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtistAlbum {
    /// Also the catalog album id of its published tracks.
    pub id: AlbumId,
    /// The profile it is released under; its owner manages it.
    pub profile: ArtistId,
    /// Title.
    pub title: String,
    /// Album, single, EP or compilation.
    pub kind: AlbumKind,
    /// Release date, `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// Genres, given to tracks that have none of their own.
    pub genres: Vec<String>,
    /// Free text.
    pub description: String,
    /// Record label.
    pub label: String,
    /// MIME type of its cover (`uploads/covers/<id>`), when it has one.
    pub cover_mime: Option<String>,
    /// Published: its published tracks are in the catalog.
    pub published: bool,
    /// Its tracks in order; positions are their track numbers.
    pub tracks: Vec<TrackId>,
    /// When it was made.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// An uploaded track: everything needed to put it in the catalog when it is visible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadedTrack {
    /// Also its catalog id.
    pub id: TrackId,
    /// The profile it is credited to.
    pub profile: ArtistId,
    /// Its album.
    pub album: AlbumId,
    /// File name inside `uploads/audio`.
    pub file_name: String,
    /// File size.
    pub size: u64,
    /// Fingerprint key of its audio.
    pub fingerprint: u64,
    /// Stream facts.
    pub audio: AudioInfo,
    /// Metadata from tags and edits; album fields come from the album.
    pub tags: TrackTags,
    /// Whether the file embeds a picture.
    pub embedded_cover: bool,
    /// Explicit lyrics.
    pub explicit: bool,
    /// Guests credited after the main artist.
    pub featured: Vec<String>,
    /// Published (and visible once its album is).
    pub published: bool,
    /// When it arrived.
    pub uploaded_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
}

/// A resumable upload in progress. Its offset is the length of its file on disk, so it
/// survives a restart without a write per chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TusUpload {
    /// Who is uploading.
    pub owner: UserId,
    /// Announced total length.
    pub length: u64,
    /// `Upload-Metadata` pairs, decoded.
    pub metadata: Vec<(String, String)>,
    /// When it was created.
    pub created_at: UnixTime,
}
