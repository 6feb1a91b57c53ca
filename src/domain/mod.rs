//! Entities and their identifiers: plain data with no I/O, shared by every layer.

mod catalog;
mod ids;
mod user;

pub use catalog::{AudioInfo, MediaFile, Track, TrackTags};
pub use ids::{
    AlbumId, AppPasswordId, ArtistId, EntryId, IdParseError, PlayId, PlaylistId, SessionId,
    TrackId, UserId,
};
pub use user::{Invite, RefreshRecord, Role, Session, User, UserSettings, Username, UsernameError};

/// Seconds since the Unix epoch. Stored as a plain integer so that it encodes compactly and
/// sorts correctly as a key part.
pub type UnixTime = i64;

/// The current time as [`UnixTime`].
pub fn now() -> UnixTime {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
