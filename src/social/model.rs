//! What the social side stores: playlists and their entries, ratings, plays and the counters
//! kept beside them. Stored as postcard: a new field means a new table or a migration, never
//! an edit here.

use serde::{Deserialize, Serialize};

use crate::domain::{ArtistId, EntryId, PlayId, PlaylistId, TrackId, UnixTime, UserId};

/// A playlist. Its entries live in their own table, ordered by a sparse position key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playlist {
    /// Stable id.
    pub id: PlaylistId,
    /// The account that made it; only it edits the playlist's fields and collaborators.
    pub owner: UserId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Visible to everyone (and followable); private ones are seen by owner and collaborators
    /// only.
    pub public: bool,
    /// Collaborators may add, remove and reorder entries.
    pub collaborative: bool,
    /// The artist profile it is shown on, for an artist's playlist of their own music.
    pub artist: Option<ArtistId>,
    /// MIME type of an uploaded cover (`playlist-covers/<id>`), when there is one.
    pub cover_mime: Option<String>,
    /// Number of entries, kept exact in the transactions that add and remove them.
    pub entry_count: u64,
    /// When it was made.
    pub created_at: UnixTime,
    /// Last change to its fields or entries.
    pub updated_at: UnixTime,
}

/// One entry of a playlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's own id.
    pub id: EntryId,
    /// The track it plays. The entry stays when the track leaves the catalog, and shows as
    /// unavailable until it is back.
    pub track: TrackId,
    /// Who added it.
    pub added_by: UserId,
    /// When.
    pub added_at: UnixTime,
}

/// One user's rating of a track or album.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 to 5.
    pub stars: u8,
    /// At most 2,000 characters.
    pub review: Option<String>,
    /// When it was given or last changed.
    pub rated_at: UnixTime,
}

/// Count and sum of the stars an item has received, for its average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingTotals {
    /// Ratings.
    pub count: u64,
    /// Sum of their stars.
    pub stars: u64,
}

/// Where a play started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// An album page.
    Album,
    /// A playlist.
    Playlist,
    /// A radio or mix.
    Radio,
    /// A search result.
    Search,
    /// An artist's own upload.
    Upload,
    /// Anything else.
    Other,
}

impl Source {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Album => "album",
            Source::Playlist => "playlist",
            Source::Radio => "radio",
            Source::Search => "search",
            Source::Upload => "upload",
            Source::Other => "other",
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "album" => Source::Album,
            "playlist" => Source::Playlist,
            "radio" => Source::Radio,
            "search" => Source::Search,
            "upload" => Source::Upload,
            "other" => Source::Other,
            _ => return None,
        })
    }
}

/// One play in a user's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    /// Its id.
    pub id: PlayId,
    /// The track.
    pub track: TrackId,
    /// When it started, as the player reported.
    pub started_at: UnixTime,
    /// Seconds actually listened.
    pub seconds_played: u32,
    /// What the player said about reaching the end.
    pub completed: bool,
    /// Where it started.
    pub source: Source,
}

/// Counters of one item (track, album or artist) on one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    /// Plays that started that day.
    pub plays: u64,
    /// Seconds listened in them.
    pub seconds: u64,
    /// Plays that went past 80 % of the track.
    pub complete: u64,
    /// Listeners whose latest play of the item is on this day. Summed over the last N days
    /// it is the number of distinct listeners in those days, without keeping a set per day.
    pub latest_listeners: i64,
}

/// All-time counters of one item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Plays.
    pub plays: u64,
    /// Seconds listened.
    pub seconds: u64,
    /// Plays past 80 % of the track.
    pub complete: u64,
    /// Distinct listeners.
    pub listeners: u64,
}

/// All-time counters of one listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTotals {
    /// Plays.
    pub plays: u64,
    /// Seconds listened.
    pub seconds: u64,
    /// Distinct tracks played.
    pub tracks: u64,
    /// Start of the first play.
    pub first_play: Option<UnixTime>,
    /// Start of the latest play.
    pub last_play: Option<UnixTime>,
}

/// A user's private-session setting: while it is on, nothing they play is recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privacy {
    /// Plays are neither recorded nor shown as now playing.
    pub private_session: bool,
}

/// The UTC day number of a time.
pub fn day_of(t: UnixTime) -> u32 {
    t.div_euclid(86_400).clamp(0, u32::MAX as i64) as u32
}
