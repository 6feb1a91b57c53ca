//! The social side: playlists, follows, likes, saves, ratings, plays, statistics and charts.
//!
//! # Layout
//! - [`model`]: what is stored.
//! - [`playlists`]: playlists, their ordered entries and collaborators, and who may see them.
//! - [`relations`]: likes, saves and follows with exact counts.
//! - [`ratings`]: stars and reviews with exact averages.
//! - [`plays`]: history, idempotent recording, per-day counters and charts.
//! - [`m3u`]: M3U8 export and import.
//! - this module: [`Social`], which ties them to the catalog, the artists' profiles and the
//!   permission policy. Its methods block on the store: call them from a blocking task.

pub mod m3u;
pub mod model;
pub mod playlists;
pub mod plays;
pub mod ratings;
pub mod relations;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

use self::model::Playlist;
use self::playlists::{Access, NewPlaylist, Placed, PlaylistEdit, Playlists};
use self::plays::{Plays, TrackFacts};
use self::ratings::Ratings;
use self::relations::Relation;
use crate::artists::Artists;
use crate::auth::policy::{Action, Policy};
use crate::auth::Actor;
use crate::catalog::Catalog;
use crate::domain::{now, AlbumId, ArtistId, EntryId, PlaylistId, TrackId, UnixTime, UserId};
use crate::error::{Error, Result};
use crate::store::tables::{
    ALBUM_RATINGS, ALBUM_RATINGS_BY_ITEM, ALBUM_RATING_TOTALS, ALBUM_SAVES, ARTIST_FOLLOWS,
    PLAYLIST_FOLLOWS, TRACK_LIKES, TRACK_RATINGS, TRACK_RATINGS_BY_ITEM, TRACK_RATING_TOTALS,
    USER_FOLLOWS,
};
use crate::store::Store;

/// How long a now-playing report stays visible without a newer one.
const NOW_PLAYING_TTL_SECS: i64 = 600;

/// What a listener is playing.
#[derive(Debug, Clone, Copy)]
pub struct NowPlaying {
    /// The track.
    pub track: TrackId,
    /// Seconds into it at the report.
    pub position_secs: f64,
    /// When reported.
    pub updated_at: UnixTime,
}

/// The social service.
pub struct Social {
    catalog: Arc<Catalog>,
    artists: Arc<Artists>,
    policy: Policy,
    /// Playlists.
    pub playlists: Playlists,
    /// Liked tracks.
    pub likes: Relation,
    /// Saved albums.
    pub saves: Relation,
    /// Followed artists.
    pub artist_follows: Relation,
    /// Followed users.
    pub user_follows: Relation,
    /// Followed playlists.
    pub playlist_follows: Relation,
    /// Ratings of tracks.
    pub track_ratings: Ratings<TrackId>,
    /// Ratings of albums.
    pub album_ratings: Ratings<AlbumId>,
    /// Plays, statistics and charts.
    pub plays: Plays,
    // Now playing is ephemeral by nature: a restart forgets it, as players report it again
    // within seconds.
    now_playing: RwLock<HashMap<UserId, NowPlaying>>,
    covers_dir: PathBuf,
}

impl Social {
    /// Opens the social trees; uploaded playlist covers live in `covers_dir`.
    pub fn open(
        store: &Store,
        catalog: Arc<Catalog>,
        artists: Arc<Artists>,
        policy: Policy,
        covers_dir: PathBuf,
    ) -> Result<Self> {
        Ok(Self {
            plays: Plays::open(store, catalog.clone())?,
            catalog,
            artists,
            policy,
            playlists: Playlists::open(store)?,
            likes: Relation::open(store, TRACK_LIKES)?,
            saves: Relation::open(store, ALBUM_SAVES)?,
            artist_follows: Relation::open(store, ARTIST_FOLLOWS)?,
            user_follows: Relation::open(store, USER_FOLLOWS)?,
            playlist_follows: Relation::open(store, PLAYLIST_FOLLOWS)?,
            track_ratings: Ratings::open(
                store,
                TRACK_RATINGS,
                TRACK_RATINGS_BY_ITEM,
                TRACK_RATING_TOTALS,
            )?,
            album_ratings: Ratings::open(
                store,
                ALBUM_RATINGS,
                ALBUM_RATINGS_BY_ITEM,
                ALBUM_RATING_TOTALS,
            )?,
            now_playing: RwLock::new(HashMap::new()),
            covers_dir,
        })
    }

    /// The caller's own social data: any signed-in user.
    pub fn check_use(&self, actor: Option<&Actor>) -> Result<()> {
        self.policy.check(actor, Action::UseSocial)
    }

    /// Where an uploaded cover of `id` is kept.
    pub fn cover_path(&self, id: PlaylistId) -> PathBuf {
        self.covers_dir.join(id.to_string())
    }

    /// The directory of uploaded covers.
    pub fn covers_dir(&self) -> &std::path::Path {
        &self.covers_dir
    }

    /// Creates a playlist. An artist's playlist needs the right to manage the profile.
    pub fn create_playlist(&self, actor: &Actor, new: NewPlaylist) -> Result<Playlist> {
        self.check_use(Some(actor))?;
        if let Some(artist) = new.artist {
            let profile = self.artists.profile(artist)?;
            self.policy.check(
                Some(actor),
                Action::ManageContent {
                    owner: profile.owner,
                },
            )?;
        }
        self.playlists.create(actor.user_id, new)
    }

    /// A playlist the caller may see.
    pub fn playlist(&self, actor: Option<&Actor>, id: PlaylistId) -> Result<(Playlist, Access)> {
        self.playlists.with_access(actor, id, Access::View)
    }

    /// Changes a playlist's fields (owner only).
    pub fn update_playlist(
        &self,
        actor: &Actor,
        id: PlaylistId,
        edit: PlaylistEdit,
    ) -> Result<Playlist> {
        self.playlists.with_access(Some(actor), id, Access::Own)?;
        self.playlists.update(id, edit)
    }

    /// Deletes a playlist (owner only), its follows and its cover.
    pub fn delete_playlist(&self, actor: &Actor, id: PlaylistId) -> Result<()> {
        self.playlists.with_access(Some(actor), id, Access::Own)?;
        self.playlists.delete(id)?;
        self.playlist_follows.forget_object(*id.as_uuid())?;
        match std::fs::remove_file(self.cover_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds catalog tracks to a playlist (owner and collaborators). An artist's playlist
    /// takes only the artist's own tracks.
    pub fn add_entries(
        &self,
        actor: &Actor,
        id: PlaylistId,
        tracks: &[TrackId],
        index: Option<u64>,
    ) -> Result<Vec<Placed>> {
        let (p, _) = self.playlists.with_access(Some(actor), id, Access::Edit)?;
        {
            let r = self.catalog.read();
            for t in tracks {
                let row = r.track(*t)?;
                if let Some(artist) = p.artist {
                    if !row.artist_ids.contains(&artist) && row.album_artist_id != artist {
                        return Err(Error::invalid(
                            "track_ids",
                            "an artist's playlist holds only that artist's tracks",
                        ));
                    }
                }
            }
        }
        self.playlists.add(id, tracks, index, actor.user_id)
    }

    /// Removes an entry (owner and collaborators).
    pub fn remove_entry(&self, actor: &Actor, id: PlaylistId, entry: EntryId) -> Result<()> {
        self.playlists.with_access(Some(actor), id, Access::Edit)?;
        self.playlists.remove(id, entry)
    }

    /// Moves an entry (owner and collaborators).
    pub fn move_entry(
        &self,
        actor: &Actor,
        id: PlaylistId,
        entry: EntryId,
        index: u64,
    ) -> Result<Placed> {
        self.playlists.with_access(Some(actor), id, Access::Edit)?;
        self.playlists.move_entry(id, entry, index)
    }

    /// Invites or removes a collaborator (owner only).
    pub fn set_collaborator(
        &self,
        actor: &Actor,
        id: PlaylistId,
        user: UserId,
        on: bool,
    ) -> Result<()> {
        let (p, _) = self.playlists.with_access(Some(actor), id, Access::Own)?;
        if p.artist.is_some() {
            return Err(Error::Conflict {
                code: "artist_playlist",
                message: "an artist's playlist has no collaborators".into(),
            });
        }
        if user == p.owner {
            return Err(Error::invalid("user_id", "the owner is not a collaborator"));
        }
        self.playlists.set_collaborator(id, user, on)
    }

    /// Follows or unfollows a playlist the caller may see; returns its follower count.
    pub fn follow_playlist(&self, actor: &Actor, id: PlaylistId, on: bool) -> Result<u64> {
        self.check_use(Some(actor))?;
        if on {
            self.playlists.with_access(Some(actor), id, Access::View)?;
        }
        self.playlist_follows.set(actor.user_id, *id.as_uuid(), on)
    }

    /// The playlists `actor` made, collaborates on or follows (`owner` = `None`), or another
    /// user's public ones.
    pub fn playlists_of(&self, actor: &Actor, owner: Option<UserId>) -> Result<Vec<Playlist>> {
        match owner {
            Some(user) if user != actor.user_id => Ok(self
                .playlists
                .owned_by(user)?
                .into_iter()
                .filter(|p| p.public)
                .collect()),
            _ => {
                let mut all = self.playlists.owned_by(actor.user_id)?;
                all.extend(self.playlists.collaborating(actor.user_id)?);
                for (id, _) in self
                    .playlist_follows
                    .of_user(actor.user_id, 0, u64::MAX)?
                    .items
                {
                    if let Ok(p) = self.playlists.get(PlaylistId::from_uuid(id)) {
                        if self.playlists.access(Some(actor), &p)? >= Access::View {
                            all.push(p);
                        }
                    }
                }
                let mut seen = std::collections::HashSet::new();
                all.retain(|p| seen.insert(p.id));
                Ok(all)
            }
        }
    }

    /// What the catalog says about each played track; unknown tracks are `NotFound`.
    pub fn track_facts(&self, tracks: &[TrackId]) -> Vec<Result<TrackFacts>> {
        let r = self.catalog.read();
        tracks
            .iter()
            .map(|t| {
                let row = r.track(*t)?;
                let artists = if row.artist_ids.is_empty() {
                    vec![row.album_artist_id]
                } else {
                    row.artist_ids.to_vec()
                };
                Ok(TrackFacts {
                    duration_ms: row.duration_ms,
                    album: row.album_id,
                    artists,
                })
            })
            .collect()
    }

    /// The accounts that own a track's artists' profiles.
    pub fn track_owners(&self, track: TrackId) -> Result<Vec<UserId>> {
        let artists: Vec<ArtistId> = {
            let r = self.catalog.read();
            let row = r.track(track)?;
            let mut a = row.artist_ids.to_vec();
            a.push(row.album_artist_id);
            a
        };
        let mut owners = Vec::new();
        for a in artists {
            if let Some(o) = self.artist_owner(a)? {
                owners.push(o);
            }
        }
        Ok(owners)
    }

    /// The account that owns an artist's profile, if any.
    pub fn artist_owner(&self, artist: ArtistId) -> Result<Option<UserId>> {
        match self.artists.profile(artist) {
            Ok(p) => Ok(p.owner),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records what `user` is playing, unless they are in a private session.
    pub fn set_now_playing(
        &self,
        user: UserId,
        track: TrackId,
        position_secs: f64,
    ) -> Result<bool> {
        self.catalog.read().track(track)?;
        if self.plays.privacy(user)?.private_session {
            self.now_playing.write().remove(&user);
            return Ok(false);
        }
        let t = now();
        let mut all = self.now_playing.write();
        all.retain(|_, n| t - n.updated_at < NOW_PLAYING_TTL_SECS);
        all.insert(
            user,
            NowPlaying {
                track,
                position_secs,
                updated_at: t,
            },
        );
        Ok(true)
    }

    /// What `user` and the users they follow are playing now.
    pub fn now_playing_for(&self, user: UserId) -> Result<Vec<(UserId, NowPlaying)>> {
        let mut who = self
            .user_follows
            .all_of_user(user)?
            .into_iter()
            .map(UserId::from_uuid)
            .collect::<Vec<_>>();
        who.push(user);
        let t = now();
        let all = self.now_playing.read();
        Ok(who
            .into_iter()
            .filter_map(|u| all.get(&u).map(|n| (u, *n)))
            .filter(|(_, n)| t - n.updated_at < NOW_PLAYING_TTL_SECS)
            .collect())
    }

    /// Forgets `user`'s now-playing report.
    pub fn clear_now_playing(&self, user: UserId) {
        self.now_playing.write().remove(&user);
    }

    /// Artists `user` follows.
    pub fn followed_artists(&self, user: UserId) -> Result<Vec<ArtistId>> {
        Ok(self
            .artist_follows
            .all_of_user(user)?
            .into_iter()
            .map(ArtistId::from_uuid)
            .collect())
    }
}
