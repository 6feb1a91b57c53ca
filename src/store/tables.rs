//! musewave's trees, their key and value encodings, and the schema history.
//!
//! User data (accounts, sessions, invites, and later playlists, likes and plays) cannot be
//! rebuilt and is never dropped by a migration.

use super::{Key, KeyError, Migration, Schema, Store, StoreError, TableDef};
use crate::artists::model::{ArtistAlbum, Profile, TusUpload, UploadedTrack};
use crate::domain::{
    AlbumId, AppPasswordId, ArtistId, EntryId, Invite, PlayId, PlaylistId, RefreshRecord, Session,
    SessionId, Track, TrackId, User, UserId, UserSettings,
};
use crate::social::model::{
    DayCounts, Entry, Play, Playlist, Privacy, Rating, RatingTotals, Totals, UserTotals,
};
use crate::subsonic::credentials::{AppPassword, Bookmark, PlayQueue};

/// The schema this binary reads and writes.
pub const SCHEMA: Schema = Schema {
    version: 3,
    migrations: &[
        Migration {
            from: 1,
            description: "index sessions by user, so signing out everywhere needs no full scan",
            run: index_sessions_by_user,
        },
        Migration {
            from: 2,
            description: "rewrite values from JSON into the compact binary form",
            run: rewrite_values,
        },
    ],
};

/// Accounts by id.
pub const USERS: TableDef<UserId, User> = TableDef::new("userid_user");
/// Folded (lowercase) username -> account id; enforces case-insensitive uniqueness.
pub const USERNAMES: TableDef<String, UserId> = TableDef::new("username_userid");
/// Sessions by id.
pub const SESSIONS: TableDef<SessionId, Session> = TableDef::new("sessionid_session");
/// (user, session) -> (): a user's sessions, for revoking them all. Added in schema 2.
pub const USER_SESSIONS: TableDef<(UserId, SessionId), ()> = TableDef::new("userid_sessionid");
/// Hex SHA-256 of a refresh token -> what it opens.
pub const REFRESH_TOKENS: TableDef<String, RefreshRecord> = TableDef::new("refreshhash_refresh");
/// Account -> its preferences (postcard). User data. A table of its own rather than fields on
/// `User`: postcard is not self-describing, so a new field would break reading stored accounts.
/// A new tree needs no migration: a user without an entry has the default settings.
pub const USER_SETTINGS: TableDef<UserId, UserSettings> = TableDef::new("userid_settings");
/// Invite code -> invitation.
pub const INVITES: TableDef<String, Invite> = TableDef::new("code_invite");

/// Tracks by id. Library data: a rescan rebuilds it (uploads excepted, later).
pub const TRACKS: TableDef<TrackId, Track> = TableDef::new("trackid_track");
/// (media folder, path inside it as raw bytes) -> track.
pub const TRACK_PATHS: TableDef<(String, Vec<u8>), TrackId> = TableDef::new("path_trackid");
/// (fingerprint, track) -> (): finds the track a moved file used to be.
pub const TRACK_FINGERPRINTS: TableDef<(u64, TrackId), ()> = TableDef::new("fingerprint_trackid");
/// (folded album artist, folded album title) -> album id, so an album keeps its id while its
/// tracks come and go.
pub const ALBUM_KEYS: TableDef<(String, String), AlbumId> = TableDef::new("albumkey_albumid");
/// Folded artist name -> artist id.
pub const ARTIST_KEYS: TableDef<String, ArtistId> = TableDef::new("artistkey_artistid");

/// Track -> how many times it has been downloaded (JSON number). User data: a rescan keeps it,
/// and a track keeps its count when its file moves, as it keeps its id. A new tree needs no
/// migration: it starts empty, which is every track's count before downloads were counted.
pub const DOWNLOADS: TableDef<TrackId, u64> = TableDef::new("trackid_downloads");

/// Artist profile by id (the catalog artist id it names). User data. New trees, from here to
/// `TUS_UPLOADS`, need no migration: they start empty.
pub const ARTIST_PROFILES: TableDef<ArtistId, Profile> = TableDef::new("artistid_profile");
/// Profile slug -> profile; enforces unique slugs.
pub const PROFILE_SLUGS: TableDef<String, ArtistId> = TableDef::new("slug_artistid");
/// (owning account, profile) -> (): an account's profiles.
pub const USER_PROFILES: TableDef<(UserId, ArtistId), ()> = TableDef::new("userid_artistid");
/// Albums that artists made, by id (the catalog album id their published tracks carry).
/// User data.
pub const ARTIST_ALBUMS: TableDef<AlbumId, ArtistAlbum> = TableDef::new("albumid_artistalbum");
/// Uploaded tracks by id: the source of truth for them, drafts included; the catalog holds
/// the published ones. User data: a rescan never touches it.
pub const UPLOADED_TRACKS: TableDef<TrackId, UploadedTrack> = TableDef::new("trackid_upload");
/// (profile, audio fingerprint) -> uploaded track: the same audio twice from one artist is
/// refused.
pub const UPLOAD_FINGERPRINTS: TableDef<(ArtistId, u64), TrackId> =
    TableDef::new("artistid_fingerprint_trackid");
/// Resumable (tus) uploads in progress by id; their bytes are in `uploads/tus/<id>`.
pub const TUS_UPLOADS: TableDef<String, TusUpload> = TableDef::new("tusid_upload");

// Social data: playlists, follows, likes, saves, ratings and plays. All of it is user data,
// never dropped by a migration. Every tree here is new in schema 3 and starts empty, which is
// what the data was before it existed, so none needs a migration.

/// Playlists by id.
pub const PLAYLISTS: TableDef<PlaylistId, Playlist> = TableDef::new("playlistid_playlist");
/// (owner, playlist) -> (): the playlists an account made.
pub const USER_PLAYLISTS: TableDef<(UserId, PlaylistId), ()> = TableDef::new("userid_playlistid");
/// (artist profile, playlist) -> (): playlists shown on an artist's page.
pub const ARTIST_PLAYLISTS: TableDef<(ArtistId, PlaylistId), ()> =
    TableDef::new("artistid_playlistid");
/// (playlist, position key) -> entry. Position keys are sparse `u64`s: an insert takes a key
/// between its neighbours, so adding or moving one entry rewrites one row, not the playlist.
pub const PLAYLIST_ENTRIES: TableDef<(PlaylistId, u64), Entry> =
    TableDef::new("playlistid_position_entry");
/// (playlist, entry) -> position key: finds an entry by id for removal and moves.
pub const ENTRY_POSITIONS: TableDef<(PlaylistId, EntryId), u64> =
    TableDef::new("playlistid_entryid_position");
/// (playlist, collaborator) -> when invited.
pub const PLAYLIST_COLLABORATORS: TableDef<(PlaylistId, UserId), i64> =
    TableDef::new("playlistid_userid_invitedat");
/// (collaborator, playlist) -> (): the playlists an account collaborates on.
pub const COLLABORATIONS: TableDef<(UserId, PlaylistId), ()> =
    TableDef::new("userid_playlistid_collab");

/// The four trees of one user -> object relation (likes, saves, follows): who relates to what
/// and since when, the same newest first, the reverse direction, and an exact count per object.
#[derive(Debug, Clone, Copy)]
pub struct RelationDefs {
    /// (user, object) -> since when.
    pub by_user: TableDef<(UserId, uuid::Uuid), i64>,
    /// (user, since, object) -> (): a user's list, in time order.
    pub by_time: TableDef<(UserId, i64, uuid::Uuid), ()>,
    /// (object, user) -> since when: an object's followers.
    pub by_object: TableDef<(uuid::Uuid, UserId), i64>,
    /// object -> how many users relate to it.
    pub counts: TableDef<uuid::Uuid, u64>,
}

/// Liked tracks.
pub const TRACK_LIKES: RelationDefs = RelationDefs {
    by_user: TableDef::new("userid_trackid_liked"),
    by_time: TableDef::new("userid_likedat_trackid"),
    by_object: TableDef::new("trackid_userid_liked"),
    counts: TableDef::new("trackid_likes"),
};
/// Saved albums.
pub const ALBUM_SAVES: RelationDefs = RelationDefs {
    by_user: TableDef::new("userid_albumid_saved"),
    by_time: TableDef::new("userid_savedat_albumid"),
    by_object: TableDef::new("albumid_userid_saved"),
    counts: TableDef::new("albumid_saves"),
};
/// Followed artists.
pub const ARTIST_FOLLOWS: RelationDefs = RelationDefs {
    by_user: TableDef::new("userid_artistid_followed"),
    by_time: TableDef::new("userid_followedat_artistid"),
    by_object: TableDef::new("artistid_userid_follower"),
    counts: TableDef::new("artistid_followers"),
};
/// Followed users.
pub const USER_FOLLOWS: RelationDefs = RelationDefs {
    by_user: TableDef::new("userid_followeeid_followed"),
    by_time: TableDef::new("userid_followedat_followeeid"),
    by_object: TableDef::new("followeeid_userid_follower"),
    counts: TableDef::new("userid_followers"),
};
/// Followed playlists.
pub const PLAYLIST_FOLLOWS: RelationDefs = RelationDefs {
    by_user: TableDef::new("userid_playlistid_followed"),
    by_time: TableDef::new("userid_followedat_playlistid"),
    by_object: TableDef::new("playlistid_userid_follower"),
    counts: TableDef::new("playlistid_followers"),
};

/// (user, track) -> the user's rating of a track.
pub const TRACK_RATINGS: TableDef<(UserId, TrackId), Rating> =
    TableDef::new("userid_trackid_rating");
/// (track, user) -> rating: a track's ratings.
pub const TRACK_RATINGS_BY_ITEM: TableDef<(TrackId, UserId), Rating> =
    TableDef::new("trackid_userid_rating");
/// Track -> count and sum of its ratings.
pub const TRACK_RATING_TOTALS: TableDef<TrackId, RatingTotals> =
    TableDef::new("trackid_ratingtotals");
/// (user, album) -> the user's rating of an album.
pub const ALBUM_RATINGS: TableDef<(UserId, AlbumId), Rating> =
    TableDef::new("userid_albumid_rating");
/// (album, user) -> rating: an album's ratings.
pub const ALBUM_RATINGS_BY_ITEM: TableDef<(AlbumId, UserId), Rating> =
    TableDef::new("albumid_userid_rating");
/// Album -> count and sum of its ratings.
pub const ALBUM_RATING_TOTALS: TableDef<AlbumId, RatingTotals> =
    TableDef::new("albumid_ratingtotals");

/// (user, started at, play) -> play: listening history, oldest first.
pub const PLAYS: TableDef<(UserId, i64, PlayId), Play> =
    TableDef::new("userid_startedat_playid_play");
/// (user, idempotency key) -> the play it recorded: a retried report is recognised.
pub const PLAY_KEYS: TableDef<(UserId, String), PlayId> = TableDef::new("userid_idemkey_playid");
/// (user, track) -> plays: the distinct tracks a user played, and how often.
pub const USER_TRACK_PLAYS: TableDef<(UserId, TrackId), u64> =
    TableDef::new("userid_trackid_plays");
/// User -> listening totals.
pub const USER_TOTALS: TableDef<UserId, UserTotals> = TableDef::new("userid_listeningtotals");
/// User -> private-session setting.
pub const USER_PRIVACY: TableDef<UserId, Privacy> = TableDef::new("userid_privacy");

/// The trees of one kind of play counter (tracks, albums or artists), keyed by the item's id.
#[derive(Debug, Clone, Copy)]
pub struct CounterDefs {
    /// (item, UTC day) -> that day's counters.
    pub days: TableDef<(uuid::Uuid, u32), DayCounts>,
    /// (item, listener) -> the UTC day of the listener's latest play of it.
    pub latest: TableDef<(uuid::Uuid, UserId), u32>,
    /// item -> all-time counters.
    pub totals: TableDef<uuid::Uuid, Totals>,
}

/// Play counters of tracks.
pub const TRACK_COUNTERS: CounterDefs = CounterDefs {
    days: TableDef::new("trackid_day_counts"),
    latest: TableDef::new("trackid_userid_latestday"),
    totals: TableDef::new("trackid_playtotals"),
};
/// Play counters of albums.
pub const ALBUM_COUNTERS: CounterDefs = CounterDefs {
    days: TableDef::new("albumid_day_counts"),
    latest: TableDef::new("albumid_userid_latestday"),
    totals: TableDef::new("albumid_playtotals"),
};
/// Play counters of artists.
pub const ARTIST_COUNTERS: CounterDefs = CounterDefs {
    days: TableDef::new("artistid_day_counts"),
    latest: TableDef::new("artistid_userid_latestday"),
    totals: TableDef::new("artistid_playtotals"),
};
/// (UTC day, kind: 0 track, 1 album, 2 artist, item) -> plays that day: what the charts are
/// rebuilt from at start-up, a week at a time.
pub const CHART_DAYS: TableDef<(u32, u8, uuid::Uuid), u64> = TableDef::new("day_kind_item_plays");

// Players (the Subsonic API). User data; new trees that start empty, so no migration.

/// (user, app password) -> the app password, its secret sealed with the server key.
pub const APP_PASSWORDS: TableDef<(UserId, AppPasswordId), AppPassword> =
    TableDef::new("userid_apppasswordid_apppassword");
/// Hex SHA-256 of an app password -> its owner and id: finds the account of an `apiKey`
/// without unsealing every secret.
pub const APP_PASSWORD_HASHES: TableDef<String, (UserId, AppPasswordId)> =
    TableDef::new("apppasswordhash_userid_apppasswordid");
/// User -> the play queue a player saved (`savePlayQueue`), to resume on another device.
pub const PLAY_QUEUES: TableDef<UserId, PlayQueue> = TableDef::new("userid_playqueue");
/// (user, track) -> where the user stopped in it (`createBookmark`), for long tracks.
pub const BOOKMARKS: TableDef<(UserId, TrackId), Bookmark> =
    TableDef::new("userid_trackid_bookmark");

macro_rules! id_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode_into(&self, out: &mut Vec<u8>) {
                self.as_uuid().encode_into(out);
            }
            fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
                uuid::Uuid::decode_from(input).map(<$t>::from_uuid)
            }
        }
    )*};
}
id_key!(
    UserId,
    SessionId,
    TrackId,
    AlbumId,
    ArtistId,
    PlaylistId,
    EntryId,
    PlayId,
    AppPasswordId
);

/// 1 -> 2: builds `userid_sessionid` from the sessions written before it existed.
fn index_sessions_by_user(store: &Store) -> Result<(), StoreError> {
    let sessions = store.table(SESSIONS)?;
    let index = store.table(USER_SESSIONS)?;
    for entry in sessions.iter() {
        let (id, session) = entry?;
        index.insert(&(session.user_id, id), &())?;
    }
    Ok(())
}

/// 2 -> 3: reads every value (JSON) and writes it back in the binary form. Rerunning it after
/// a crash part-way is harmless: both forms read.
fn rewrite_values(store: &Store) -> Result<(), StoreError> {
    fn rewrite<K: Key, V: serde::Serialize + serde::de::DeserializeOwned>(
        store: &Store,
        def: TableDef<K, V>,
    ) -> Result<(), StoreError> {
        let table = store.table(def)?;
        for entry in table.iter() {
            let (k, v) = entry?;
            table.insert(&k, &v)?;
        }
        Ok(())
    }
    rewrite(store, USERS)?;
    rewrite(store, USERNAMES)?;
    rewrite(store, SESSIONS)?;
    rewrite(store, USER_SESSIONS)?;
    rewrite(store, REFRESH_TOKENS)?;
    rewrite(store, INVITES)?;
    rewrite(store, TRACKS)?;
    rewrite(store, TRACK_PATHS)?;
    rewrite(store, TRACK_FINGERPRINTS)?;
    rewrite(store, ALBUM_KEYS)?;
    rewrite(store, ARTIST_KEYS)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::now;

    /// A store as schema 1 wrote it: sessions without the per-user index.
    #[test]
    fn schema_1_store_is_upgraded_with_a_session_index() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::StoreOptions {
            cache_capacity_bytes: 8 << 20,
        };
        let v1 = Schema {
            version: 1,
            migrations: &[],
        };
        let user = UserId::new();
        let sid = SessionId::new();
        {
            let store = Store::open(dir.path(), &opts, &v1).unwrap();
            store
                .table(SESSIONS)
                .unwrap()
                .insert(
                    &sid,
                    &Session {
                        id: sid,
                        user_id: user,
                        created_at: now(),
                        expires_at: now() + 60,
                        user_agent: String::new(),
                    },
                )
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), &opts, &SCHEMA).unwrap();
        let index = store.table(USER_SESSIONS).unwrap();
        let found: Vec<_> = index.scan_prefix(&user).map(|r| r.unwrap().0).collect();
        assert_eq!(found, vec![(user, sid)]);
        drop(index);
        drop(store);
        // And a binary that only knows schema 1 now refuses the upgraded store.
        assert!(matches!(
            Store::open(dir.path(), &opts, &v1),
            Err(StoreError::SchemaTooNew {
                found: 3,
                supported: 1
            })
        ));
    }

    /// A store as schema 2 wrote it: JSON values. After the upgrade every value is binary and
    /// reads back the same.
    #[test]
    fn schema_2_json_values_are_rewritten_in_binary() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::StoreOptions {
            cache_capacity_bytes: 8 << 20,
        };
        let v2 = Schema {
            version: 2,
            migrations: &[],
        };
        let user = User {
            id: UserId::new(),
            username: crate::domain::Username::try_from("ada".to_owned()).unwrap(),
            display_name: "Ada".into(),
            bio: "Composer".into(),
            role: crate::domain::Role::Artist,
            disabled: false,
            password_hash: "$argon2id$stub".into(),
            created_at: now(),
            avatar_version: Some(2),
        };
        let key = user.id.encode();
        {
            let store = Store::open(dir.path(), &opts, &v2).unwrap();
            store
                .insert_raw(USERS.name(), &key, &serde_json::to_vec(&user).unwrap())
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), &opts, &SCHEMA).unwrap();
        assert_eq!(store.schema_version().unwrap(), 3);
        let raw = store.get_raw(USERS.name(), &key).unwrap().unwrap();
        assert_eq!(raw[0], super::super::BINARY_VALUE);
        assert!(raw.len() < serde_json::to_vec(&user).unwrap().len());
        assert_eq!(
            store.table(USERS).unwrap().get(&user.id).unwrap(),
            Some(user)
        );
    }
}
