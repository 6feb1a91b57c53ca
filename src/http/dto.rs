//! Wire types of `/api/v1`, apart from the domain types and built from them with `From`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::TokenPair;
use crate::catalog::TrackRef;
use crate::domain::{Invite, Role, UnixTime, User};
use crate::http::json;

/// RFC 3339 form of a Unix time.
pub fn rfc3339(t: UnixTime) -> String {
    rfc3339_into(t, &mut [0; RFC3339_MAX]).to_owned()
}

/// Room for any RFC 3339 text of a Unix time (a year of up to six digits, a sign, an offset).
pub const RFC3339_MAX: usize = 64;

/// Last second of the year 9999: four-digit years end there.
const LAST_FOUR_DIGIT_YEAR_SECOND: UnixTime = 253_402_300_799;

/// RFC 3339 form of a Unix time, written into `buf`; empty for a moment it cannot express.
///
/// Moments from 1970 to 9999, all that our clocks and tags give, are written as
/// `YYYY-MM-DDTHH:MM:SSZ` from the day count (the proleptic Gregorian calendar, as the `time`
/// crate counts): a 500-song Subsonic answer writes a thousand of them, and the general
/// formatter, which writes the others, costs ten times as much.
pub fn rfc3339_into(t: UnixTime, buf: &mut [u8; RFC3339_MAX]) -> &str {
    let len = if (0..=LAST_FOUR_DIGIT_YEAR_SECOND).contains(&t) {
        utc_from_days(t, buf)
    } else {
        let mut out = &mut buf[..];
        time::OffsetDateTime::from_unix_timestamp(t)
            .ok()
            .and_then(|d| {
                d.format_into(&mut out, &time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or(0)
    };
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `t` from 1970 to 9999; returns the length written.
fn utc_from_days(t: UnixTime, buf: &mut [u8; RFC3339_MAX]) -> usize {
    let (days, secs) = (t / 86_400, t % 86_400);
    // Days to a civil date: years counted from March, so that the leap day ends a year.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + i64::from(month <= 2);
    let mut put = |at: usize, n: i64, width: usize| {
        let mut n = n;
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, secs / 3_600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ] {
        buf[at] = sep;
    }
    20
}

/// A role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    /// Browses, streams, builds playlists.
    Listener,
    /// Also uploads and manages their own music.
    Artist,
    /// Administers the server.
    Admin,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Listener => RoleDto::Listener,
            Role::Artist => RoleDto::Artist,
            Role::Admin => RoleDto::Admin,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Listener => Role::Listener,
            RoleDto::Artist => Role::Artist,
            RoleDto::Admin => Role::Admin,
        }
    }
}

/// `base_url` is `server.base_url`: handed-out URLs carry the prefix clients reach us under.
fn avatar_url(u: &User, base_url: &str) -> Option<String> {
    u.avatar_version
        .map(|v| format!("{base_url}/api/v1/users/{}/avatar?v={v}", u.id))
}

/// The signed-in user's own account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Profile text.
    pub bio: String,
    /// Role.
    pub role: RoleDto,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Avatar image URL, when one is set.
    pub avatar_url: Option<String>,
}

impl Me {
    /// The account `u`, its URLs under `base_url`.
    pub fn of(u: &User, base_url: &str) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            role: u.role.into(),
            created_at: rfc3339(u.created_at),
            avatar_url: avatar_url(u, base_url),
        }
    }
}

/// Another user's public profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicUser {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Profile text.
    pub bio: String,
    /// Avatar image URL, when one is set.
    pub avatar_url: Option<String>,
}

impl PublicUser {
    /// The profile of `u`, its URLs under `base_url`.
    pub fn of(u: &User, base_url: &str) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            avatar_url: avatar_url(u, base_url),
        }
    }
}

/// An account as admins see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUser {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: RoleDto,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

impl From<&User> for AdminUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            role: u.role.into(),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// This page.
    pub items: Vec<AdminUser>,
    /// All users.
    pub total: u64,
    /// Offset of this page.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items to skip (default 0).
    pub offset: Option<u64>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// Tokens returned by login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    /// Bearer token for `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for `POST /api/v1/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
}

impl From<TokenPair> for Tokens {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            token_type: "Bearer".into(),
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
        }
    }
}

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username, any case.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Registration request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 of `a-z A-Z 0-9 _ . -`, starting with a letter or digit.
    pub username: String,
    /// At least 8 characters.
    pub password: String,
    /// Shown name; defaults to the username.
    pub display_name: Option<String>,
    /// Required when registration is by invitation.
    pub invite_code: Option<String>,
}

/// Refresh request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Profile change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New shown name, 1 to 64 characters.
    pub display_name: Option<String>,
    /// New profile text, at most 2,000 characters.
    pub bio: Option<String>,
}

/// Password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use now.
    pub current_password: String,
    /// The new password, at least 8 characters.
    pub new_password: String,
}

/// Account creation by an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Shown name; defaults to the username.
    pub display_name: Option<String>,
    /// Role; defaults to listener.
    pub role: Option<RoleDto>,
}

/// Account change by an admin; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New role.
    pub role: Option<RoleDto>,
    /// Disable (true) or enable (false). Disabling signs the user out everywhere.
    pub disabled: Option<bool>,
}

/// Invitation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Role of the account the code creates; defaults to listener.
    pub role: Option<RoleDto>,
    /// Hours the code stays valid, 1 to 8760; defaults to 168 (a week).
    pub valid_hours: Option<u32>,
}

/// An invitation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteDto {
    /// The code to hand to the invitee.
    pub code: String,
    /// Role of the account it creates.
    pub role: RoleDto,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Expiry time, RFC 3339.
    pub expires_at: String,
    /// The account created with it, once used.
    pub used_by: Option<String>,
}

impl From<&Invite> for InviteDto {
    fn from(i: &Invite) -> Self {
        Self {
            code: i.code.clone(),
            role: i.role.into(),
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            used_by: i.used_by.map(|u| u.to_string()),
        }
    }
}

/// Public facts about this server, for sign-in pages and clients.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// Always `musewave`.
    pub name: String,
    /// Server version.
    pub version: String,
    /// `closed`, `invite` or `open`.
    pub registration: String,
    /// Whether anonymous users may browse and stream.
    pub public_access: bool,
}

/// Liveness answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
}

/// Catalog list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Items to skip (default 0).
    pub offset: Option<usize>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// `name` (default), `year` (albums, tracks) or `date_added`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// Only this genre.
    pub genre: Option<String>,
    /// Only from this year on.
    pub year_from: Option<i32>,
    /// Only up to this year.
    pub year_to: Option<i32>,
    /// Only this artist's (id).
    pub artist: Option<String>,
    /// Only this container format, e.g. `flac`.
    pub format: Option<String>,
}

/// An id on the wire: 32 lowercase hex digits, written straight into the response. Catalog
/// lists carry thousands of ids, and formatting each into a `String` of its own showed up as
/// a third of their cost in allocator time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireId(pub uuid::Uuid);

impl WireId {
    /// As a JSON string.
    fn put(self, out: &mut Vec<u8>) {
        json::put_hex_id(out, &self.0);
    }
}

impl Serialize for WireId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_simple().encode_lower(&mut [0; 32]))
    }
}

impl<'de> Deserialize<'de> for WireId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        uuid::Uuid::try_parse(&text)
            .map(WireId)
            .map_err(serde::de::Error::custom)
    }
}

/// An artist in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtistItem<'a> {
    /// Artist id.
    #[schema(value_type = String)]
    pub id: WireId,
    /// Name.
    pub name: Cow<'a, str>,
    /// Albums where the artist is the album artist.
    pub album_count: usize,
    /// Tracks the artist performs on.
    pub track_count: usize,
}

/// About how many bytes an [`AlbumItem`]'s JSON takes (260 with short names): lists of them
/// get a buffer this size per item.
pub const ALBUM_ITEM_JSON: usize = 320;

/// An album in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlbumItem<'a> {
    /// Album id.
    #[schema(value_type = String)]
    pub id: WireId,
    /// Title.
    pub title: Cow<'a, str>,
    /// Album artist id.
    #[schema(value_type = String)]
    pub artist_id: WireId,
    /// Album artist name.
    pub artist: Cow<'a, str>,
    /// Year.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<Cow<'a, str>>,
    /// Number of tracks.
    pub track_count: usize,
    /// Total duration in seconds.
    pub duration_secs: f64,
    /// Whether it is a compilation.
    pub compilation: bool,
    /// When it arrived, RFC 3339.
    pub added_at: String,
}

impl AlbumItem<'_> {
    /// Its fields, as its `Serialize` writes them (see [`AlbumDetail::to_json`]).
    fn write_fields(&self, o: &mut json::Object<'_>) -> Result<(), json::Error> {
        self.id.put(o.key("id"));
        o.str("title", &self.title);
        self.artist_id.put(o.key("artist_id"));
        o.str("artist", &self.artist);
        o.int_or_null("year", self.year);
        o.strs("genres", self.genres.iter().map(|g| &**g));
        o.int("track_count", self.track_count);
        o.f64("duration_secs", self.duration_secs)?;
        o.bool("compilation", self.compilation);
        o.str("added_at", &self.added_at);
        Ok(())
    }
}

/// An item's average rating.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct RatingSummary {
    /// Mean stars (1 to 5, two decimals), `null` before the first rating.
    pub average: Option<f64>,
    /// Ratings.
    pub count: u64,
}

impl From<crate::social::ratings::Summary> for RatingSummary {
    fn from(s: crate::social::ratings::Summary) -> Self {
        Self {
            average: s.average.map(|a| (a * 100.0).round() / 100.0),
            count: s.count,
        }
    }
}

/// About how many bytes a [`TrackItem`]'s JSON takes (300 with short names): lists of them get
/// a buffer this size per item.
pub const TRACK_ITEM_JSON: usize = 384;

/// A track in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackItem<'a> {
    /// Track id.
    #[schema(value_type = String)]
    pub id: WireId,
    /// Title.
    pub title: Cow<'a, str>,
    /// Artist names.
    #[schema(value_type = Vec<String>)]
    pub artists: TrackArtists<'a, String>,
    /// Artist ids, in the same order.
    #[schema(value_type = Vec<String>)]
    pub artist_ids: TrackArtists<'a, WireId>,
    /// Album title.
    pub album: Cow<'a, str>,
    /// Album id.
    #[schema(value_type = String)]
    pub album_id: WireId,
    /// Track number.
    pub track_number: Option<u32>,
    /// Disc number.
    pub disc_number: Option<u32>,
    /// Year.
    pub year: Option<i32>,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Container format.
    pub format: Cow<'a, str>,
}

impl TrackItem<'_> {
    /// Writes what its `Serialize` writes, field for field, without serde's dispatch for each
    /// field and string: an album answer holds a hundred tracks, and that dispatch was most of
    /// its cost. A test holds the two to the same bytes.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), json::Error> {
        let mut o = json::Object::open(out);
        self.id.put(o.key("id"));
        o.str("title", &self.title);
        match &self.artists {
            TrackArtists::Row(t) => o.strs("artists", t.artist_names()),
            TrackArtists::Read(names) => o.strs("artists", names.iter().map(String::as_str)),
        }
        match &self.artist_ids {
            TrackArtists::Row(t) => {
                o.hex_ids("artist_ids", t.artist_ids.iter().map(|a| a.as_uuid()))
            }
            TrackArtists::Read(ids) => o.hex_ids("artist_ids", ids.iter().map(|a| &a.0)),
        }
        o.str("album", &self.album);
        self.album_id.put(o.key("album_id"));
        o.int_or_null("track_number", self.track_number);
        o.int_or_null("disc_number", self.disc_number);
        o.int_or_null("year", self.year);
        o.f64("duration_secs", self.duration_secs)?;
        o.str("format", &self.format);
        o.close();
        Ok(())
    }
}

/// A track's artist names or ids: read from its catalog row as they are written, so that the
/// hundreds of tracks of an album or a page allocate no lists of their own; or as read back.
pub enum TrackArtists<'a, T> {
    /// From the catalog.
    Row(TrackRef<'a>),
    /// Read from JSON.
    Read(Vec<T>),
}

impl Serialize for TrackArtists<'_, String> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Row(t) => s.collect_seq(t.artist_names()),
            Self::Read(names) => names.serialize(s),
        }
    }
}

impl Serialize for TrackArtists<'_, WireId> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Row(t) => s.collect_seq(t.artist_ids.iter().map(|a| WireId(*a.as_uuid()))),
            Self::Read(ids) => ids.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TrackArtists<'_, T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(Self::Read)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for TrackArtists<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Row(t) => f.debug_tuple("Row").field(&t.id).finish(),
            Self::Read(v) => f.debug_tuple("Read").field(v).finish(),
        }
    }
}

/// Everything known about a track.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackDetail<'a> {
    /// The list fields.
    #[serde(flatten)]
    pub item: TrackItem<'a>,
    /// Average stars and number of ratings.
    #[serde(default)]
    pub rating: RatingSummary,
    /// Users who like it.
    #[serde(default)]
    pub like_count: u64,
    /// Album artist names.
    pub album_artists: Vec<String>,
    /// Tracks on the disc.
    pub track_total: Option<u32>,
    /// Discs.
    pub disc_total: Option<u32>,
    /// Date as tagged.
    pub date: Option<String>,
    /// Genres.
    pub genres: Vec<String>,
    /// Composers.
    pub composers: Vec<String>,
    /// Part of a compilation.
    pub compilation: bool,
    /// Lyrics.
    pub lyrics: Option<String>,
    /// Codec.
    pub codec: String,
    /// Average bitrate in kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// Sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Channels.
    pub channels: Option<u8>,
    /// Bits per sample.
    pub bit_depth: Option<u8>,
    /// File size in bytes.
    pub size: u64,
    /// ReplayGain track gain, dB.
    pub replaygain_track_gain_db: Option<f32>,
    /// ReplayGain track peak.
    pub replaygain_track_peak: Option<f32>,
    /// ReplayGain album gain, dB.
    pub replaygain_album_gain_db: Option<f32>,
    /// ReplayGain album peak.
    pub replaygain_album_peak: Option<f32>,
    /// MusicBrainz recording id.
    pub musicbrainz_recording_id: Option<String>,
    /// MusicBrainz release id.
    pub musicbrainz_album_id: Option<String>,
    /// Whether the file embeds a cover picture.
    pub embedded_cover: bool,
    /// When it arrived, RFC 3339.
    pub added_at: String,
}

/// A page of artists.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtistPage<'a> {
    /// This page.
    pub items: Vec<ArtistItem<'a>>,
    /// All matches.
    pub total: usize,
}

/// A page of albums.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlbumPage<'a> {
    /// This page.
    pub items: Vec<AlbumItem<'a>>,
    /// All matches.
    pub total: usize,
}

/// A page of tracks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackPage<'a> {
    /// This page.
    pub items: Vec<TrackItem<'a>>,
    /// All matches.
    pub total: usize,
}

/// An artist with albums and top tracks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtistDetail<'a> {
    /// The artist.
    #[serde(flatten)]
    pub artist: ArtistItem<'a>,
    /// Albums, newest first.
    pub albums: Vec<AlbumItem<'a>>,
    /// Top tracks.
    pub top_tracks: Vec<TrackItem<'a>>,
    /// Users who follow the artist.
    #[serde(default)]
    pub follower_count: u64,
    /// The artist's own playlists of their music.
    #[serde(default)]
    pub playlists: Vec<crate::http::playlists::PlaylistDto>,
}

/// An album with its tracks in disc and track order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlbumDetail<'a> {
    /// The album.
    #[serde(flatten)]
    pub album: AlbumItem<'a>,
    /// Tracks in order.
    pub tracks: Vec<TrackItem<'a>>,
    /// Average stars and number of ratings.
    #[serde(default)]
    pub rating: RatingSummary,
    /// Users who saved the album.
    #[serde(default)]
    pub save_count: u64,
}

impl AlbumDetail<'_> {
    /// The answer's JSON, written as its `Serialize` writes it (tests hold the two to the same
    /// bytes), into a buffer of `capacity` bytes to begin with.
    pub fn to_json(&self, capacity: usize) -> Result<Vec<u8>, json::Error> {
        let mut out = Vec::with_capacity(capacity);
        let mut o = json::Object::open(&mut out);
        self.album.write_fields(&mut o)?;
        let tracks = o.key("tracks");
        tracks.push(b'[');
        for (i, t) in self.tracks.iter().enumerate() {
            if i > 0 {
                tracks.push(b',');
            }
            t.write_json(tracks)?;
        }
        tracks.push(b']');
        let mut rating = json::Object::open(o.key("rating"));
        rating.f64_or_null("average", self.rating.average)?;
        rating.int("count", self.rating.count);
        rating.close();
        o.int("save_count", self.save_count);
        o.close();
        Ok(out)
    }
}

/// A genre with counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GenreItem {
    /// Name.
    pub name: String,
    /// Tracks with it.
    pub track_count: usize,
    /// Albums with it.
    pub album_count: usize,
}

/// Search parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words to find.
    pub q: String,
    /// Comma-separated kinds: `artist`, `album`, `track` (default all).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Results per kind, 1 to 500 (default 20).
    pub limit: Option<usize>,
    /// Results to skip per kind.
    pub offset: Option<usize>,
}

/// Search results, best first within each kind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResults<'a> {
    /// Matching artists.
    pub artists: ArtistPage<'a>,
    /// Matching albums.
    pub albums: AlbumPage<'a>,
    /// Matching tracks.
    pub tracks: TrackPage<'a>,
}

/// Autocomplete parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What has been typed so far.
    pub q: String,
    /// At most this many suggestions, 1 to 50 (default 10).
    pub limit: Option<usize>,
}

/// One autocomplete suggestion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Suggestion {
    /// `artist`, `album` or `track`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// Scan request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartScan {
    /// Probe every file again, changed or not (default false: only new and changed files).
    #[serde(default)]
    pub full: bool,
}

/// A file a scan skipped.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanFailureDto {
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Scan progress or outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanStatusDto {
    /// `idle` or `running`.
    pub state: String,
    /// Whether every file is probed again.
    pub full: bool,
    /// Audio files found.
    pub files_total: u64,
    /// Files dealt with.
    pub files_seen: u64,
    /// New tracks.
    pub added: u64,
    /// Changed tracks.
    pub updated: u64,
    /// Moved or renamed tracks (ids kept).
    pub moved: u64,
    /// Tracks whose files are gone.
    pub removed: u64,
    /// Files skipped.
    pub failed: u64,
    /// Skipped files and why (up to 1,000).
    pub failures: Vec<ScanFailureDto>,
    /// Start, RFC 3339.
    pub started_at: Option<String>,
    /// End, RFC 3339.
    pub finished_at: Option<String>,
    /// Files per second.
    pub files_per_sec: f64,
}

/// Artwork parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtQuery {
    /// Longest side in pixels, 16 to 2048; the original picture when absent.
    pub size: Option<u32>,
    /// A stream token for this picture (`POST /api/v1/art/{id}/token`), for `<img src>`.
    pub token: Option<String>,
}

/// The caller's preferences (`GET`/`PUT /api/v1/me/settings`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDto {
    /// Highest bitrate to stream, in kbps (32 to 320), or `null` for no limit. Transcoded
    /// streams are capped at it, and an original whose average bitrate is higher is
    /// transcoded to the default profile's format at this bitrate.
    pub max_bitrate_kbps: Option<u32>,
    /// A private session: while it is on, plays are neither recorded nor shown as now
    /// playing (default false).
    #[serde(default)]
    pub private_session: bool,
}

impl From<crate::domain::UserSettings> for SettingsDto {
    fn from(s: crate::domain::UserSettings) -> Self {
        Self {
            max_bitrate_kbps: s.max_bitrate_kbps,
            private_session: false,
        }
    }
}

impl From<SettingsDto> for crate::domain::UserSettings {
    fn from(s: SettingsDto) -> Self {
        Self {
            max_bitrate_kbps: s.max_bitrate_kbps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the `time` crate writes for `t`.
    fn by_time_crate(t: UnixTime) -> String {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    #[test]
    fn times_are_written_as_the_time_crate_writes_them() {
        let days = |d: i64| d * 86_400;
        for t in [
            0,
            59,
            days(59),         // 1970-03-01
            days(11_016) - 1, // the last second of 2000-02-29
            days(11_016),     // 2000-03-01
            days(47_541),     // 2100-03-01
            LAST_FOUR_DIGIT_YEAR_SECOND,
            // Before 1970: the general formatter.
            -1,
        ] {
            assert_eq!(rfc3339(t), by_time_crate(t), "{t}");
        }
        // Past 9999 RFC 3339 has no form.
        assert_eq!(rfc3339(LAST_FOUR_DIGIT_YEAR_SECOND + 1), "");
    }

    /// A real catalog's album (tracks with several artists, missing numbers, text that needs
    /// escaping) and the same answer as read back: each written by hand and through serde.
    #[test]
    fn album_details_written_by_hand_are_what_serde_writes() {
        use crate::catalog::{Catalog, TrackDraft};
        use crate::domain::{AudioInfo, MediaFile, TrackTags};
        use crate::http::catalog::{album_item, track_item};

        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(
            dir.path(),
            &crate::store::StoreOptions::default(),
            &crate::store::tables::SCHEMA,
        )
        .unwrap();
        let catalog = Catalog::open(store).unwrap();
        let draft = |i: u32, title: &str, artists: &[&str], numbered: bool| TrackDraft {
            file: MediaFile {
                folder: "/music".into(),
                rel: format!("{i}.flac").into_bytes(),
                size: 1,
                mtime_ns: 0,
                fingerprint: u64::from(i),
            },
            audio: AudioInfo {
                container: "flac".into(),
                codec: "flac".into(),
                duration_ms: [0, 1, 1_234, 3_600_000, 123_456_789][i as usize % 5],
                ..AudioInfo::default()
            },
            tags: TrackTags {
                title: title.into(),
                artists: artists.iter().map(|a| (*a).to_owned()).collect(),
                album: "Ünïcode \\ \"quoted\" album".into(),
                album_artists: vec!["Alice".into()],
                track_number: numbered.then_some(i),
                disc_number: numbered.then_some(1),
                year: numbered.then_some(1999),
                genres: vec!["Jazz".into(), "Tab\there".into()],
                ..TrackTags::default()
            },
            embedded_cover: false,
            album_id: None,
        };
        let titles = ["Say \"hi\"\n", "", "Ωmega \u{1}", "plain", "emoji 🎵"];
        let mut last = None;
        for (i, title) in titles.iter().enumerate() {
            let artists: &[&str] = match i {
                0 => &["Alice", "Bob \"B\""],
                1 => &[],
                _ => &["Alice"],
            };
            let id = crate::domain::TrackId::new();
            catalog
                .replace_many(vec![(id, draft(i as u32, title, artists, i % 2 == 0))], &[])
                .unwrap();
            last = Some(id);
        }
        let r = catalog.read();
        let album = r
            .album(r.track(last.unwrap()).unwrap().row.album_id)
            .unwrap();
        for rating in [
            RatingSummary::default(),
            RatingSummary {
                average: Some(4.25),
                count: 3,
            },
            RatingSummary {
                average: Some(1.0 / 3.0),
                count: 3,
            },
        ] {
            let detail = AlbumDetail {
                album: album_item(album),
                tracks: r.album_tracks(album).map(track_item).collect(),
                rating,
                save_count: 7,
            };
            assert_eq!(detail.tracks.len(), titles.len());
            let by_hand = detail.to_json(16).unwrap();
            assert_eq!(
                String::from_utf8(by_hand.clone()).unwrap(),
                String::from_utf8(json::to_vec(&detail).unwrap()).unwrap()
            );
            assert_eq!(by_hand, serde_json::to_vec(&detail).unwrap());
            // Read back, the artists are lists of their own (the other branch).
            let read: AlbumDetail = serde_json::from_slice(&by_hand).unwrap();
            assert!(matches!(read.tracks[0].artists, TrackArtists::Read(_)));
            assert_eq!(read.to_json(16).unwrap(), by_hand);
        }
    }

    proptest! {
        #[test]
        fn any_time_is_written_as_the_time_crate_writes_it(t in 0..=LAST_FOUR_DIGIT_YEAR_SECOND) {
            prop_assert_eq!(rfc3339(t), by_time_crate(t));
        }
    }
}
