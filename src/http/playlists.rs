//! Handlers for playlists: fields, entries, collaborators, follows, covers and M3U8 (their
//! wire types live beside them).

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::catalog::track_item;
use super::dto::{rfc3339, TrackItem};
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use super::social::{blocking, writing, FollowState};
use crate::auth::Actor;
use crate::domain::{ArtistId, EntryId, PlaylistId, TrackId, UserId};
use crate::error::Error;
use crate::social::m3u::{self, M3uEntry};
use crate::social::model::Playlist;
use crate::social::playlists::{Access, NewPlaylist, Placed, PlaylistEdit};
use crate::App;

/// A playlist without its entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlaylistDto {
    /// Playlist id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Visible to everyone.
    pub public: bool,
    /// Collaborators may change its entries.
    pub collaborative: bool,
    /// The account that made it.
    pub owner_id: String,
    /// The artist whose page shows it, for an artist's playlist.
    pub artist_id: Option<String>,
    /// Number of entries.
    pub entry_count: u64,
    /// Number of followers.
    pub follower_count: u64,
    /// What the caller may do: `owner`, `collaborator` or `viewer`.
    pub access: String,
    /// Whether the caller follows it.
    pub following: bool,
    /// Its cover image (uploaded, or a mosaic of its albums' covers).
    pub cover_url: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
}

/// One entry of a playlist.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryDto<'a> {
    /// The entry's id (the same track may be in a playlist twice).
    pub entry_id: String,
    /// Zero-based index in the playlist.
    pub position: u64,
    /// Track id.
    pub track_id: String,
    /// Whether the track is in the catalog. An entry whose track has left the catalog (its
    /// file deleted, or removed by its artist) stays, unavailable, and plays again if the
    /// track comes back.
    pub available: bool,
    /// The track, when available.
    pub track: Option<TrackItem<'a>>,
    /// Who added it.
    pub added_by: String,
    /// When, RFC 3339.
    pub added_at: String,
}

/// A playlist with a page of its entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlaylistDetail<'a> {
    /// The playlist.
    #[serde(flatten)]
    pub playlist: PlaylistDto,
    /// Entries `offset..offset + limit`.
    pub entries: Vec<EntryDto<'a>>,
    /// Offset of this page.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
    /// Collaborators' account ids.
    pub collaborators: Vec<String>,
}

/// A new playlist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlaylist {
    /// Name, 1 to 200 characters.
    pub name: String,
    /// Description, at most 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// Visible to everyone (default false).
    #[serde(default)]
    pub public: bool,
    /// Collaborators may change its entries (default false).
    #[serde(default)]
    pub collaborative: bool,
    /// An artist profile the caller manages: the playlist is shown on its page, is public,
    /// and holds only that artist's tracks.
    pub artist_id: Option<String>,
}

/// Changes to a playlist; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlaylist {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Visible to everyone.
    pub public: Option<bool>,
    /// Collaborators may change its entries.
    pub collaborative: Option<bool>,
}

/// Tracks to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEntries {
    /// Track ids, 1 to 1,000; the same track may appear more than once.
    pub track_ids: Vec<String>,
    /// Index to insert at (default: the end).
    pub position: Option<u64>,
}

/// Where to move an entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveEntry {
    /// The entry's index after the move (past the end means last).
    pub position: u64,
}

/// Whose playlists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlaylistsQuery {
    /// An account id: that user's public playlists. Without it, the caller's own, the ones
    /// they collaborate on and the ones they follow.
    pub owner: Option<String>,
}

/// A page of entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Entries to skip (default 0).
    pub offset: Option<u64>,
    /// Entries to return, 0 to 500 (default 100).
    pub limit: Option<u64>,
}

/// Added entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddedEntries<'a> {
    /// The new entries, in order.
    pub entries: Vec<EntryDto<'a>>,
    /// Entries in the playlist now.
    pub entry_count: u64,
}

/// A list of playlists.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlaylistList {
    /// The playlists.
    pub items: Vec<PlaylistDto>,
    /// How many.
    pub total: u64,
}

fn access_name(a: Access) -> &'static str {
    match a {
        Access::Own => "owner",
        Access::Edit => "collaborator",
        Access::View | Access::Hidden => "viewer",
    }
}

/// The wire form of a playlist as `actor` sees it.
pub fn playlist_dto(
    app: &App,
    actor: Option<&Actor>,
    p: &Playlist,
) -> crate::error::Result<PlaylistDto> {
    let s = &app.social;
    let access = s.playlists.access(actor, p)?;
    Ok(PlaylistDto {
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        public: p.public,
        collaborative: p.collaborative,
        owner_id: p.owner.to_string(),
        artist_id: p.artist.map(|a| a.to_string()),
        entry_count: p.entry_count,
        follower_count: s.playlist_follows.count(*p.id.as_uuid())?,
        access: access_name(access).to_owned(),
        following: match actor {
            Some(a) => s.playlist_follows.contains(a.user_id, *p.id.as_uuid())?,
            None => false,
        },
        cover_url: format!("/api/v1/playlists/{}/cover", p.id),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    })
}

fn entry_dtos<'a>(r: &'a crate::catalog::Reader<'_>, placed: Vec<Placed>) -> Vec<EntryDto<'a>> {
    placed
        .into_iter()
        .map(|p| {
            let track = r.track(p.entry.track).ok().map(track_item);
            EntryDto {
                entry_id: p.entry.id.to_string(),
                position: p.index,
                track_id: p.entry.track.to_string(),
                available: track.is_some(),
                track,
                added_by: p.entry.added_by.to_string(),
                added_at: rfc3339(p.entry.added_at),
            }
        })
        .collect()
}

fn playlist_id(p: &PathParams) -> Result<PlaylistId, Rejection> {
    p.id(0, "playlist")
}

fn track_ids(ids: &[String]) -> Result<Vec<TrackId>, Rejection> {
    ids.iter()
        .map(|s| {
            s.parse::<TrackId>().map_err(|_| {
                reject(Error::invalid(
                    "track_ids",
                    format!("{s} is not a track id"),
                ))
            })
        })
        .collect()
}

/// Creates a playlist.
#[utoipa::path(post, path = "/api/v1/playlists", tag = "playlists",
    security(("bearer" = [])), request_body = CreatePlaylist,
    responses(
        (status = 201, description = "The new playlist", body = PlaylistDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "An artist's playlist for a profile the caller does not manage", body = ErrorBody),
        (status = 404, description = "No such artist profile", body = ErrorBody),
    ))]
pub async fn create_playlist(
    app: App,
    actor: Actor,
    req: CreatePlaylist,
) -> Result<Response, Rejection> {
    let artist = match &req.artist_id {
        None => None,
        Some(a) => Some(
            a.parse::<ArtistId>()
                .map_err(|_| reject(Error::invalid("artist_id", "not an artist id")))?,
        ),
    };
    let new = NewPlaylist {
        name: req.name,
        description: req.description,
        public: req.public,
        collaborative: req.collaborative,
        artist,
    };
    let dto = writing(&app, move |app| {
        let p = app.social.create_playlist(&actor, new)?;
        playlist_dto(app, Some(&actor), &p)
    })
    .await?;
    Ok(reply_json(StatusCode::CREATED, &dto))
}

/// Lists the caller's playlists (own, collaborating, followed), or another user's public ones.
#[utoipa::path(get, path = "/api/v1/playlists", tag = "playlists",
    security(("bearer" = [])), params(PlaylistsQuery),
    responses(
        (status = 200, description = "Playlists", body = PlaylistList),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_playlists(
    app: App,
    actor: Actor,
    q: PlaylistsQuery,
) -> Result<Response, Rejection> {
    let owner = match &q.owner {
        None => None,
        Some(o) => Some(
            o.parse::<UserId>()
                .map_err(|_| reject(Error::invalid("owner", "not a user id")))?,
        ),
    };
    let list = blocking(&app, move |app| {
        let all = app.social.playlists_of(&actor, owner)?;
        let items = all
            .iter()
            .map(|p| playlist_dto(app, Some(&actor), p))
            .collect::<crate::error::Result<Vec<_>>>()?;
        Ok(PlaylistList {
            total: items.len() as u64,
            items,
        })
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &list))
}

/// A playlist with a page of its entries. Another user's private playlist is not found.
#[utoipa::path(get, path = "/api/v1/playlists/{id}", tag = "playlists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Playlist id"), EntriesQuery),
    responses(
        (status = 200, description = "The playlist", body = PlaylistDetail),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such playlist, or a private one", body = ErrorBody),
    ))]
pub async fn get_playlist(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: EntriesQuery,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), crate::auth::Action::Browse)
        .map_err(reject)?;
    let id = playlist_id(&p)?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if limit > 500 {
        return Err(reject(Error::invalid("limit", "must be at most 500")));
    }
    let (dto, placed, collaborators) = blocking(&app, move |app| {
        let (pl, _) = app.social.playlist(actor.as_ref(), id)?;
        let dto = playlist_dto(app, actor.as_ref(), &pl)?;
        let placed = app.social.playlists.entries(id, offset, limit)?;
        let collaborators = app
            .social
            .playlists
            .collaborators_of(id)?
            .into_iter()
            .map(|(u, _)| u.to_string())
            .collect::<Vec<_>>();
        Ok((dto, placed, collaborators))
    })
    .await?;
    let r = app.catalog.read();
    Ok(reply_json(
        StatusCode::OK,
        &PlaylistDetail {
            playlist: dto,
            entries: entry_dtos(&r, placed),
            offset,
            limit,
            collaborators,
        },
    ))
}

/// Changes a playlist's fields (its owner).
#[utoipa::path(patch, path = "/api/v1/playlists/{id}", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    request_body = UpdatePlaylist,
    responses(
        (status = 200, description = "The playlist", body = PlaylistDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such playlist", body = ErrorBody),
    ))]
pub async fn update_playlist(
    p: PathParams,
    app: App,
    actor: Actor,
    req: UpdatePlaylist,
) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let edit = PlaylistEdit {
        name: req.name,
        description: req.description,
        public: req.public,
        collaborative: req.collaborative,
    };
    let dto = writing(&app, move |app| {
        let pl = app.social.update_playlist(&actor, id, edit)?;
        playlist_dto(app, Some(&actor), &pl)
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &dto))
}

/// Deletes a playlist (its owner).
#[utoipa::path(delete, path = "/api/v1/playlists/{id}", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such playlist", body = ErrorBody),
    ))]
pub async fn delete_playlist(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    writing(&app, move |app| app.social.delete_playlist(&actor, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds tracks at a position (the end by default): owner and collaborators.
#[utoipa::path(post, path = "/api/v1/playlists/{id}/entries", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    request_body = AddEntries,
    responses(
        (status = 201, description = "The new entries", body = AddedEntries),
        (status = 400, description = "Invalid track list", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Neither owner nor collaborator", body = ErrorBody),
        (status = 404, description = "No such playlist or track", body = ErrorBody),
    ))]
pub async fn add_entries(
    p: PathParams,
    app: App,
    actor: Actor,
    req: AddEntries,
) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let tracks = track_ids(&req.track_ids)?;
    let position = req.position;
    let (placed, count) = writing(&app, move |app| {
        let placed = app.social.add_entries(&actor, id, &tracks, position)?;
        let count = app.social.playlists.get(id)?.entry_count;
        Ok((placed, count))
    })
    .await?;
    let r = app.catalog.read();
    Ok(reply_json(
        StatusCode::CREATED,
        &AddedEntries {
            entries: entry_dtos(&r, placed),
            entry_count: count,
        },
    ))
}

/// Removes an entry: owner and collaborators.
#[utoipa::path(delete, path = "/api/v1/playlists/{id}/entries/{entry_id}", tag = "playlists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Playlist id"),
        ("entry_id" = String, Path, description = "Entry id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Neither owner nor collaborator", body = ErrorBody),
        (status = 404, description = "No such playlist or entry", body = ErrorBody),
    ))]
pub async fn remove_entry(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let entry: EntryId = p.id(1, "playlist entry")?;
    writing(&app, move |app| app.social.remove_entry(&actor, id, entry)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Moves an entry to another position: owner and collaborators.
#[utoipa::path(post, path = "/api/v1/playlists/{id}/entries/{entry_id}/move", tag = "playlists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Playlist id"),
        ("entry_id" = String, Path, description = "Entry id")),
    request_body = MoveEntry,
    responses(
        (status = 200, description = "The entry at its new position", body = EntryDto),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Neither owner nor collaborator", body = ErrorBody),
        (status = 404, description = "No such playlist or entry", body = ErrorBody),
    ))]
pub async fn move_entry(
    p: PathParams,
    app: App,
    actor: Actor,
    req: MoveEntry,
) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let entry: EntryId = p.id(1, "playlist entry")?;
    let placed = writing(&app, move |app| {
        app.social.move_entry(&actor, id, entry, req.position)
    })
    .await?;
    let r = app.catalog.read();
    let mut dtos = entry_dtos(&r, vec![placed]);
    Ok(reply_json(StatusCode::OK, &dtos.remove(0)))
}

/// Invites a collaborator (the owner).
#[utoipa::path(put, path = "/api/v1/playlists/{id}/collaborators/{user_id}", tag = "playlists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Playlist id"),
        ("user_id" = String, Path, description = "Account id")),
    responses(
        (status = 204, description = "Invited"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such playlist or user", body = ErrorBody),
    ))]
pub async fn put_collaborator(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    set_collaborator(p, app, actor, true).await
}

/// Removes a collaborator (the owner).
#[utoipa::path(delete, path = "/api/v1/playlists/{id}/collaborators/{user_id}", tag = "playlists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Playlist id"),
        ("user_id" = String, Path, description = "Account id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such playlist", body = ErrorBody),
    ))]
pub async fn delete_collaborator(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    set_collaborator(p, app, actor, false).await
}

async fn set_collaborator(
    p: PathParams,
    app: App,
    actor: Actor,
    on: bool,
) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let user: UserId = p.id(1, "user")?;
    writing(&app, move |app| {
        if on {
            app.accounts.user(user)?;
        }
        app.social.set_collaborator(&actor, id, user, on)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Follows a playlist the caller may see.
#[utoipa::path(put, path = "/api/v1/playlists/{id}/follow", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    responses(
        (status = 200, description = "Following", body = FollowState),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such playlist, or a private one", body = ErrorBody),
    ))]
pub async fn follow_playlist(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    follow(p, app, actor, true).await
}

/// Stops following a playlist.
#[utoipa::path(delete, path = "/api/v1/playlists/{id}/follow", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    responses(
        (status = 200, description = "Not following", body = FollowState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unfollow_playlist(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    follow(p, app, actor, false).await
}

async fn follow(p: PathParams, app: App, actor: Actor, on: bool) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let count = writing(&app, move |app| app.social.follow_playlist(&actor, id, on)).await?;
    Ok(reply_json(
        StatusCode::OK,
        &FollowState {
            following: on,
            follower_count: count,
        },
    ))
}

/// Used by the artist page: the artist's playlists, public by construction.
pub fn artist_playlists(app: &App, artist: ArtistId) -> crate::error::Result<Vec<PlaylistDto>> {
    app.social
        .playlists
        .of_artist(artist)?
        .iter()
        .map(|p| playlist_dto(app, None, p))
        .collect()
}

/// Import parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The new playlist's name (default: the file's `#PLAYLIST`, else "Imported playlist").
    pub name: Option<String>,
    /// Make it public (default false).
    pub public: Option<bool>,
}

/// What an import matched.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    /// The new playlist.
    pub playlist: PlaylistDto,
    /// Lines matched to a catalog track, in order.
    pub matched: u64,
    /// Locations of the lines that matched nothing.
    pub unmatched: Vec<String>,
}

/// The playlist as M3U8: `#EXTINF` with duration, artist and title, then the file's path on
/// the server. Unavailable entries are left out.
#[utoipa::path(get, path = "/api/v1/playlists/{id}/export.m3u8", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    responses(
        (status = 200, description = "The playlist", content_type = "audio/x-mpegurl", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such playlist, or a private one", body = ErrorBody),
    ))]
pub async fn export_m3u8(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), crate::auth::Action::Browse)
        .map_err(reject)?;
    let id = playlist_id(&p)?;
    let (pl, entries) = blocking(&app, move |app| {
        let (pl, _) = app.social.playlist(actor.as_ref(), id)?;
        let entries = app.social.playlists.all_entries(id)?;
        Ok((pl, entries))
    })
    .await?;
    let lines: Vec<M3uEntry> = {
        let r = app.catalog.read();
        entries
            .iter()
            .filter_map(|e| r.track(e.track).ok())
            .map(|t| M3uEntry {
                location: crate::media::track_path(t.row)
                    .to_string_lossy()
                    .into_owned(),
                duration_secs: Some(t.duration_ms as f64 / 1000.0),
                artist: Some(t.artist_names().collect::<Vec<_>>().join(", ")),
                title: Some(t.title.to_string()),
            })
            .collect()
    };
    let body = m3u::write(&pl.name, &lines);
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("audio/x-mpegurl; charset=utf-8"),
    );
    headers.insert(
        http::header::CONTENT_DISPOSITION,
        http::HeaderValue::from_static("attachment; filename=\"playlist.m3u8\""),
    );
    Ok(res)
}

/// Makes a playlist from an M3U8 file (the body). Each line is matched to the catalog by
/// its path (absolute, or relative to a media folder), else by the `#EXTINF` artist, title
/// and duration (within two seconds).
#[utoipa::path(post, path = "/api/v1/playlists/import", tag = "playlists",
    security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "audio/x-mpegurl"),
    responses(
        (status = 201, description = "The new playlist and what matched", body = ImportResult),
        (status = 400, description = "Not UTF-8 text, or nothing in it", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
    ))]
pub async fn import_m3u8(
    app: App,
    actor: Actor,
    q: ImportQuery,
    _ctype: Option<String>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| reject(Error::invalid("body", "an M3U8 file must be UTF-8 text")))?;
    let parsed = m3u::parse(text);
    if parsed.entries.is_empty() {
        return Err(reject(Error::invalid("body", "the file lists no tracks")));
    }
    let mut folders: Vec<String> = app
        .library
        .folders()
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    folders.push(app.artists.dirs().audio_key());
    let mut matched = Vec::new();
    let mut unmatched = Vec::new();
    for e in &parsed.entries {
        let by_path = match_path(&app, &folders, &e.location);
        let found = by_path.or_else(|| {
            e.title.as_deref().and_then(|title| {
                app.catalog
                    .read()
                    .find_track(title, e.artist.as_deref(), e.duration_secs)
            })
        });
        match found {
            Some(t) => matched.push(t),
            None => unmatched.push(e.location.clone()),
        }
    }
    let name = q
        .name
        .clone()
        .or(parsed.name)
        .unwrap_or_else(|| "Imported playlist".to_owned());
    let public = q.public.unwrap_or(false);
    let n = matched.len() as u64;
    let dto = writing(&app, move |app| {
        let p = app.social.create_playlist(
            &actor,
            NewPlaylist {
                name,
                public,
                ..NewPlaylist::default()
            },
        )?;
        for chunk in matched.chunks(crate::social::playlists::MAX_ADD) {
            app.social.add_entries(&actor, p.id, chunk, None)?;
        }
        let p = app.social.playlists.get(p.id)?;
        playlist_dto(app, Some(&actor), &p)
    })
    .await?;
    Ok(reply_json(
        StatusCode::CREATED,
        &ImportResult {
            playlist: dto,
            matched: n,
            unmatched,
        },
    ))
}

/// The track at an M3U location: an absolute path inside a media folder, or a path
/// relative to one.
fn match_path(app: &App, folders: &[String], location: &str) -> Option<TrackId> {
    let location = location.strip_prefix("file://").unwrap_or(location);
    for f in folders {
        let rel = match std::path::Path::new(location).strip_prefix(f) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) if !location.starts_with('/') => {
                std::path::PathBuf::from(location.trim_start_matches("./"))
            }
            Err(_) => continue,
        };
        use std::os::unix::ffi::OsStrExt;
        if let Some((id, _, _)) = app.catalog.file_state(f, rel.as_os_str().as_bytes()) {
            return Some(id);
        }
    }
    None
}

/// The playlist's cover: the uploaded one, else a mosaic of up to four of its albums'
/// covers (JPEG).
#[utoipa::path(get, path = "/api/v1/playlists/{id}/cover", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    responses(
        (status = 200, description = "The image", content_type = "image/*", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such playlist, or no picture to make a cover from", body = ErrorBody),
    ))]
pub async fn get_cover(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), crate::auth::Action::Browse)
        .map_err(reject)?;
    let id = playlist_id(&p)?;
    let (pl, first) = blocking(&app, move |app| {
        let (pl, _) = app.social.playlist(actor.as_ref(), id)?;
        let first = app.social.playlists.first_tracks(id, 200)?;
        Ok((pl, first))
    })
    .await?;
    let (bytes, mime) = match &pl.cover_mime {
        Some(mime) => {
            let bytes = tokio::fs::read(app.social.cover_path(id))
                .await
                .map_err(|e| reject(Error::from(e)))?;
            (bytes, mime.clone())
        }
        None => (mosaic(&app, &first).await?, "image/jpeg".to_owned()),
    };
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_str(&mime)
            .unwrap_or(http::HeaderValue::from_static("application/octet-stream")),
    );
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, max-age=60"),
    );
    Ok(res)
}

/// Side of a mosaic, in pixels.
const MOSAIC: u32 = 600;

async fn mosaic(app: &App, tracks: &[TrackId]) -> Result<Vec<u8>, Rejection> {
    let albums: Vec<uuid::Uuid> = {
        let r = app.catalog.read();
        let mut seen = Vec::new();
        for t in tracks {
            if let Ok(t) = r.track(*t) {
                let a = *t.album_id.as_uuid();
                if !seen.contains(&a) {
                    seen.push(a);
                }
            }
            if seen.len() == 4 {
                break;
            }
        }
        seen
    };
    let mut pictures = Vec::new();
    for a in albums {
        if let Ok(Some(img)) = app.artwork.get(&app.catalog, a, Some(MOSAIC / 2)).await {
            pictures.push(img.bytes);
        }
    }
    if pictures.is_empty() {
        return Err(reject(Error::NotFound("playlist cover")));
    }
    tokio::task::spawn_blocking(move || -> crate::error::Result<Vec<u8>> {
        let decoded: Vec<image::DynamicImage> = pictures
            .iter()
            .filter_map(|b| image::load_from_memory(b).ok())
            .collect();
        if decoded.is_empty() {
            return Err(Error::NotFound("playlist cover"));
        }
        let mut canvas = image::RgbImage::new(MOSAIC, MOSAIC);
        if decoded.len() == 1 {
            let tile = decoded[0]
                .resize_to_fill(MOSAIC, MOSAIC, image::imageops::FilterType::Triangle)
                .to_rgb8();
            image::imageops::replace(&mut canvas, &tile, 0, 0);
        } else {
            let half = MOSAIC / 2;
            for i in 0..4u32 {
                let tile = decoded[i as usize % decoded.len()]
                    .resize_to_fill(half, half, image::imageops::FilterType::Triangle)
                    .to_rgb8();
                image::imageops::replace(
                    &mut canvas,
                    &tile,
                    i64::from((i % 2) * half),
                    i64::from((i / 2) * half),
                );
            }
        }
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&canvas)
            .map_err(|e| Error::Internal(format!("encoding a mosaic: {e}")))?;
        Ok(out)
    })
    .await
    .map_err(|e| reject(Error::Internal(format!("mosaic task: {e}"))))?
    .map_err(reject)
}

/// Uploads a cover (PNG, JPEG, WebP or GIF), replacing the mosaic: the owner.
#[utoipa::path(put, path = "/api/v1/playlists/{id}/cover", tag = "playlists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Playlist id")),
    request_body(content = Vec<u8>, content_type = "image/*"),
    responses(
        (status = 200, description = "The playlist", body = PlaylistDto),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, description = "No such playlist", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 422, description = "Not a readable image", body = ErrorBody),
    ))]
pub async fn put_cover(
    p: PathParams,
    app: App,
    actor: Actor,
    _ctype: Option<String>,
    body: bytes::Bytes,
) -> Result<Response, Rejection> {
    let id = playlist_id(&p)?;
    let dto = writing(&app, move |app| {
        app.social
            .playlists
            .with_access(Some(&actor), id, Access::Own)?;
        let mime = match image::guess_format(&body) {
            Ok(image::ImageFormat::Png) => "image/png",
            Ok(image::ImageFormat::Jpeg) => "image/jpeg",
            Ok(image::ImageFormat::WebP) => "image/webp",
            Ok(image::ImageFormat::Gif) => "image/gif",
            _ => {
                return Err(Error::Unprocessable(
                    "the cover must be a PNG, JPEG, WebP or GIF image".into(),
                ))
            }
        };
        image::load_from_memory(&body)
            .map_err(|_| Error::Unprocessable("the cover image cannot be read".into()))?;
        std::fs::create_dir_all(app.social.covers_dir())?;
        // Written aside and renamed: a reader never sees half an image.
        let mut tmp = tempfile::NamedTempFile::new_in(app.social.covers_dir())?;
        std::io::Write::write_all(&mut tmp, &body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(app.social.cover_path(id))
            .map_err(|e| Error::Io(e.error))?;
        let p = app
            .social
            .playlists
            .set_cover_mime(id, Some(mime.to_owned()))?;
        playlist_dto(app, Some(&actor), &p)
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &dto))
}
