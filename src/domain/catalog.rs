//! The music catalog's stored entity: a track and where its audio lives. Albums, artists and
//! genres are derived from tracks; only their ids are stored (see `store::tables`).

use serde::{Deserialize, Serialize};

use super::{AlbumId, ArtistId, TrackId, UnixTime};

/// A file in a media folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Index of the media folder in `library.folders` when it was scanned.
    pub folder: String,
    /// The path inside that folder, as raw bytes (file names need not be UTF-8).
    pub rel: Vec<u8>,
    /// File size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Size plus a hash of the audio data: recognises the file after a move or rename.
    pub fingerprint: u64,
}

/// Technical facts about the audio stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// Container format, e.g. `flac`, `mp4`.
    pub container: String,
    /// Codec, e.g. `flac`, `aac`.
    pub codec: String,
    /// Exact duration in milliseconds.
    pub duration_ms: u64,
    /// Average bitrate.
    pub bitrate_kbps: Option<u32>,
    /// Sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Channel count.
    pub channels: Option<u8>,
    /// Bits per sample, for lossless formats.
    pub bit_depth: Option<u8>,
}

/// Descriptive metadata, from tags with fallbacks from the file's path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackTags {
    /// Title.
    pub title: String,
    /// Performing artists, in order.
    pub artists: Vec<String>,
    /// Album title.
    pub album: String,
    /// Album artists; empty means "the track artists".
    pub album_artists: Vec<String>,
    /// Track number on its disc.
    pub track_number: Option<u32>,
    /// Tracks on the disc.
    pub track_total: Option<u32>,
    /// Disc number.
    pub disc_number: Option<u32>,
    /// Discs in the release.
    pub disc_total: Option<u32>,
    /// Release date as tagged.
    pub date: Option<String>,
    /// Release year.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<String>,
    /// Composers.
    pub composers: Vec<String>,
    /// Part of a compilation.
    pub compilation: bool,
    /// Unsynchronised lyrics.
    pub lyrics: Option<String>,
    /// ReplayGain track gain in dB.
    pub replaygain_track_gain_db: Option<f32>,
    /// ReplayGain track peak.
    pub replaygain_track_peak: Option<f32>,
    /// ReplayGain album gain in dB.
    pub replaygain_album_gain_db: Option<f32>,
    /// ReplayGain album peak.
    pub replaygain_album_peak: Option<f32>,
    /// MusicBrainz recording id.
    pub musicbrainz_recording_id: Option<String>,
    /// MusicBrainz track id.
    pub musicbrainz_track_id: Option<String>,
    /// MusicBrainz release id.
    pub musicbrainz_album_id: Option<String>,
    /// MusicBrainz artist ids.
    pub musicbrainz_artist_ids: Vec<String>,
}

/// A track in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Stable id.
    pub id: TrackId,
    /// Where the audio is.
    pub file: MediaFile,
    /// Stream facts.
    pub audio: AudioInfo,
    /// Metadata.
    pub tags: TrackTags,
    /// The album it belongs to.
    pub album_id: AlbumId,
    /// Its performing artists' ids, in the order of `tags.artists`.
    pub artist_ids: Vec<ArtistId>,
    /// The album artist's id (Various Artists for compilations).
    pub album_artist_id: ArtistId,
    /// Whether the file has an embedded picture.
    pub embedded_cover: bool,
    /// When the track entered the catalog.
    pub added_at: UnixTime,
    /// When its metadata last changed.
    pub updated_at: UnixTime,
}
