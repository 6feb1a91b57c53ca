//! Handlers for artists: profiles, and the studio where an artist (or an admin) manages
//! albums and uploaded tracks. Wire types live beside them.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::dto::rfc3339;
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::artists::model::{AlbumKind, ArtistAlbum, Profile, UploadedTrack};
use crate::artists::{AlbumInput, AlbumView, ProfileEdit, TrackEdit};
use crate::auth::{Action, Actor};
use crate::domain::{AlbumId, ArtistId, TrackId, UserId};
use crate::error::{Error, Result as ServiceResult};
use crate::App;

/// An artist profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileDto {
    /// Profile id; also the artist's id in the catalog.
    pub id: String,
    /// The managing account, if any.
    pub owner_id: Option<String>,
    /// Name.
    pub name: String,
    /// URL-friendly unique name.
    pub slug: String,
    /// Biography.
    pub bio: String,
    /// Picture address.
    pub image_url: Option<String>,
    /// Links.
    pub links: Vec<String>,
    /// Genres.
    pub genres: Vec<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<&Profile> for ProfileDto {
    fn from(p: &Profile) -> Self {
        ProfileDto {
            id: p.id.to_string(),
            owner_id: p.owner.map(|o| o.to_string()),
            name: p.name.clone(),
            slug: p.slug.clone(),
            bio: p.bio.clone(),
            image_url: p.image_url.clone(),
            links: p.links.clone(),
            genres: p.genres.clone(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

/// Fields of a profile; all optional when editing, `name` required when creating.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Name.
    pub name: Option<String>,
    /// Slug (a-z, 0-9, '-').
    pub slug: Option<String>,
    /// Biography.
    pub bio: Option<String>,
    /// Picture address; empty removes it.
    pub image_url: Option<String>,
    /// Links (http or https).
    pub links: Option<Vec<String>>,
    /// Genres.
    pub genres: Option<Vec<String>>,
}

impl ProfileInput {
    fn edit(self) -> (Option<String>, ProfileEdit) {
        (
            self.name.clone(),
            ProfileEdit {
                name: self.name,
                slug: self.slug,
                bio: self.bio,
                image_url: self.image_url,
                links: self.links,
                genres: self.genres,
            },
        )
    }
}

/// Which account manages a profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileOwner {
    /// The account.
    pub user_id: String,
}

/// An uploaded track as its owner sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StudioTrack {
    /// Track id (the same in the catalog).
    pub id: String,
    /// Its album.
    pub album_id: String,
    /// Its artist profile.
    pub profile_id: String,
    /// Title.
    pub title: String,
    /// Position on its album.
    pub track_number: Option<u32>,
    /// Genres of its own (the album's apply when empty).
    pub genres: Vec<String>,
    /// Explicit lyrics.
    pub explicit: bool,
    /// Lyrics.
    pub lyrics: Option<String>,
    /// Featured artists.
    pub featured_artists: Vec<String>,
    /// Published by its artist.
    pub published: bool,
    /// In the catalog: published, on a published album.
    pub visible: bool,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Container format.
    pub format: String,
    /// File size in bytes.
    pub size: u64,
    /// Upload time.
    pub uploaded_at: String,
    /// Last change.
    pub updated_at: String,
}

/// An album as its owner sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StudioAlbum {
    /// Album id (the same in the catalog).
    pub id: String,
    /// Its artist profile.
    pub profile_id: String,
    /// Title.
    pub title: String,
    /// album, single, ep or compilation.
    pub kind: String,
    /// Release date.
    pub release_date: Option<String>,
    /// Genres.
    pub genres: Vec<String>,
    /// Description.
    pub description: String,
    /// Label.
    pub label: String,
    /// Whether it has a cover (`GET .../cover`).
    pub has_cover: bool,
    /// Published.
    pub published: bool,
    /// Tracks in order.
    pub tracks: Vec<StudioTrack>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// What an upload made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadResult {
    /// The new tracks' ids.
    pub track_ids: Vec<String>,
    /// The album they are on, with all its tracks.
    pub album: StudioAlbum,
}

/// Fields of an album; all optional when editing, `title` required when creating.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlbumFields {
    /// Profile to release under (creating only); the caller's own by default.
    pub profile_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// album, single, ep or compilation.
    pub kind: Option<String>,
    /// YYYY, YYYY-MM or YYYY-MM-DD; empty removes it.
    pub release_date: Option<String>,
    /// Genres.
    pub genres: Option<Vec<String>>,
    /// Description.
    pub description: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Published.
    pub published: Option<bool>,
}

impl AlbumFields {
    fn input(self) -> ServiceResult<AlbumInput> {
        Ok(AlbumInput {
            profile: match self.profile_id {
                Some(p) => Some(
                    p.parse::<ArtistId>()
                        .map_err(|_| Error::invalid("profile_id", "not a valid id"))?,
                ),
                None => None,
            },
            title: self.title,
            kind: match self.kind {
                Some(k) => Some(AlbumKind::parse(&k).ok_or_else(|| {
                    Error::invalid("kind", "expected album, single, ep or compilation")
                })?),
                None => None,
            },
            release_date: self.release_date,
            genres: self.genres,
            description: self.description,
            label: self.label,
            published: self.published,
        })
    }
}

/// Changes to a track.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackFields {
    /// Title.
    pub title: Option<String>,
    /// Position on its album, from 1.
    pub track_number: Option<u32>,
    /// Genres.
    pub genres: Option<Vec<String>>,
    /// Explicit lyrics.
    pub explicit: Option<bool>,
    /// Lyrics; empty removes them.
    pub lyrics: Option<String>,
    /// Featured artists.
    pub featured_artists: Option<Vec<String>>,
}

/// An album's tracks in their new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlbumTracks {
    /// Track ids in order. Tracks of the same artist's other albums move here; tracks left
    /// out become singles.
    pub track_ids: Vec<String>,
}

/// How an album is deleted.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteAlbumQuery {
    /// `keep` (default): its tracks become singles; `delete`: they are deleted too.
    pub tracks: Option<String>,
}

/// Whose albums to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StudioQuery {
    /// Admins only: every artist's albums.
    pub all: Option<bool>,
}

fn track_dto(app: &App, t: &UploadedTrack) -> ServiceResult<StudioTrack> {
    Ok(StudioTrack {
        id: t.id.to_string(),
        album_id: t.album.to_string(),
        profile_id: t.profile.to_string(),
        title: t.tags.title.clone(),
        track_number: app.artists.track_number(t)?,
        genres: t.tags.genres.clone(),
        explicit: t.explicit,
        lyrics: t.tags.lyrics.clone(),
        featured_artists: t.featured.clone(),
        published: t.published,
        visible: app.artists.is_visible(t)?,
        duration_secs: t.audio.duration_ms as f64 / 1000.0,
        format: t.audio.container.clone(),
        size: t.size,
        uploaded_at: rfc3339(t.uploaded_at),
        updated_at: rfc3339(t.updated_at),
    })
}

fn album_head(a: &ArtistAlbum, tracks: Vec<StudioTrack>) -> StudioAlbum {
    StudioAlbum {
        id: a.id.to_string(),
        profile_id: a.profile.to_string(),
        title: a.title.clone(),
        kind: a.kind.as_str().to_owned(),
        release_date: a.release_date.clone(),
        genres: a.genres.clone(),
        description: a.description.clone(),
        label: a.label.clone(),
        has_cover: a.cover_mime.is_some(),
        published: a.published,
        tracks,
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
    }
}

/// The wire form of an album with its tracks.
pub fn album_dto(app: &App, v: &AlbumView) -> ServiceResult<StudioAlbum> {
    let tracks = v
        .tracks
        .iter()
        .map(|t| track_dto(app, t))
        .collect::<ServiceResult<_>>()?;
    Ok(album_head(&v.album, tracks))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ServiceResult<T> + Send + 'static,
) -> Result<T, Rejection> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| reject(Error::Internal(format!("artists task: {e}"))))?
        .map_err(reject)
}

fn account_name(app: &App, actor: &Actor) -> Result<String, Rejection> {
    let user = app.accounts.user(actor.user_id).map_err(reject)?;
    Ok(if user.display_name.trim().is_empty() {
        user.username.to_string()
    } else {
        user.display_name
    })
}

fn album_reply(app: &App, status: StatusCode, v: &AlbumView) -> Result<Response, Rejection> {
    Ok(reply_json(status, &album_dto(app, v).map_err(reject)?))
}

fn track_reply(app: &App, t: &UploadedTrack) -> Result<Response, Rejection> {
    Ok(reply_json(
        StatusCode::OK,
        &track_dto(app, t).map_err(reject)?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

/// Creates an artist profile managed by the caller.
#[utoipa::path(post, path = "/api/v1/profiles", tag = "artists",
    security(("bearer" = [])), request_body = ProfileInput,
    responses(
        (status = 201, description = "The profile", body = ProfileDto),
        (status = 403, description = "Not an artist", body = ErrorBody),
        (status = 409, description = "Name or slug taken", body = ErrorBody),
    ))]
pub async fn create_profile(
    app: App,
    actor: Actor,
    body: ProfileInput,
) -> Result<Response, Rejection> {
    let (name, edit) = body.edit();
    let name = name.ok_or_else(|| reject(Error::invalid("name", "is required")))?;
    let a = app.clone();
    let p = blocking(move || a.artists.create_profile(&actor, &name, edit)).await?;
    Ok(reply_json(StatusCode::CREATED, &ProfileDto::from(&p)))
}

/// An artist profile.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Profile id")),
    responses(
        (status = 200, description = "The profile", body = ProfileDto),
        (status = 404, description = "No such profile", body = ErrorBody),
    ))]
pub async fn get_profile(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let id: ArtistId = p.id(0, "artist profile")?;
    let profile = app.artists.profile(id).map_err(reject)?;
    Ok(reply_json(StatusCode::OK, &ProfileDto::from(&profile)))
}

/// Edits an artist profile (its owner or an admin).
#[utoipa::path(patch, path = "/api/v1/profiles/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Profile id")),
    request_body = ProfileInput,
    responses(
        (status = 200, description = "The profile", body = ProfileDto),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
        (status = 409, description = "Name or slug taken", body = ErrorBody),
    ))]
pub async fn update_profile(
    p: PathParams,
    app: App,
    actor: Actor,
    body: ProfileInput,
) -> Result<Response, Rejection> {
    let id: ArtistId = p.id(0, "artist profile")?;
    let (_, edit) = body.edit();
    let a = app.clone();
    let p = blocking(move || a.artists.update_profile(&actor, id, edit)).await?;
    Ok(reply_json(StatusCode::OK, &ProfileDto::from(&p)))
}

/// The caller's artist profiles.
#[utoipa::path(get, path = "/api/v1/studio/profiles", tag = "artists",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profiles", body = Vec<ProfileDto>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_profiles(app: App, actor: Actor) -> Result<Response, Rejection> {
    let list = app.artists.profiles_of(actor.user_id).map_err(reject)?;
    let list: Vec<ProfileDto> = list.iter().map(ProfileDto::from).collect();
    Ok(reply_json(StatusCode::OK, &list))
}

/// Links an artist (from the media folders' tags, or an existing profile) to an account,
/// which then manages it. Admins only.
#[utoipa::path(put, path = "/api/v1/admin/artists/{id}/owner", tag = "admin",
    security(("bearer" = [])), params(("id" = String, Path, description = "Artist id")),
    request_body = ProfileOwner,
    responses(
        (status = 200, description = "The artist's profile", body = ProfileDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such artist or user", body = ErrorBody),
    ))]
pub async fn link_profile(
    p: PathParams,
    app: App,
    actor: Actor,
    body: ProfileOwner,
) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::Administer)
        .map_err(reject)?;
    let id: ArtistId = p.id(0, "artist")?;
    let user: UserId = body
        .user_id
        .parse()
        .map_err(|_| reject(Error::invalid("user_id", "not a valid id")))?;
    app.accounts.user(user).map_err(reject)?;
    let a = app.clone();
    let p = blocking(move || a.artists.link_profile(&actor, id, user)).await?;
    Ok(reply_json(StatusCode::OK, &ProfileDto::from(&p)))
}

// ---------------------------------------------------------------------------------------------
// Albums
// ---------------------------------------------------------------------------------------------

/// The caller's albums, drafts included (every artist's with `all=true`, for admins).
#[utoipa::path(get, path = "/api/v1/studio/albums", tag = "artists",
    security(("bearer" = [])), params(StudioQuery),
    responses(
        (status = 200, description = "Albums without their tracks", body = Vec<StudioAlbum>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_albums(app: App, actor: Actor, q: StudioQuery) -> Result<Response, Rejection> {
    let albums = app
        .artists
        .albums_of(&actor, q.all.unwrap_or(false))
        .map_err(reject)?;
    let list: Vec<StudioAlbum> = albums.iter().map(|a| album_head(a, Vec::new())).collect();
    Ok(reply_json(StatusCode::OK, &list))
}

/// Creates an empty album.
#[utoipa::path(post, path = "/api/v1/studio/albums", tag = "artists",
    security(("bearer" = [])), request_body = AlbumFields,
    responses(
        (status = 201, description = "The album", body = StudioAlbum),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not an artist, or not the profile's owner", body = ErrorBody),
    ))]
pub async fn create_album(
    app: App,
    actor: Actor,
    body: AlbumFields,
) -> Result<Response, Rejection> {
    let input = body.input().map_err(reject)?;
    let name = account_name(&app, &actor)?;
    let a = app.clone();
    let v = blocking(move || a.artists.create_album(&actor, &name, input)).await?;
    album_reply(&app, StatusCode::CREATED, &v)
}

/// An album with its tracks, drafts included, for its owner or an admin.
#[utoipa::path(get, path = "/api/v1/studio/albums/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "The album", body = StudioAlbum),
        (status = 403, description = "Another artist's published album", body = ErrorBody),
        (status = 404, description = "No such album, or another artist's draft", body = ErrorBody),
    ))]
pub async fn get_album(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id: AlbumId = p.id(0, "album")?;
    let v = app.artists.album(&actor, id).map_err(reject)?;
    album_reply(&app, StatusCode::OK, &v)
}

/// Edits an album's metadata (and publishes or unpublishes it with `published`).
#[utoipa::path(patch, path = "/api/v1/studio/albums/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    request_body = AlbumFields,
    responses(
        (status = 200, description = "The album", body = StudioAlbum),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn update_album(
    p: PathParams,
    app: App,
    actor: Actor,
    body: AlbumFields,
) -> Result<Response, Rejection> {
    let id: AlbumId = p.id(0, "album")?;
    if body.profile_id.is_some() {
        return Err(reject(Error::invalid(
            "profile_id",
            "an album's artist cannot change",
        )));
    }
    let mut input = body.input().map_err(reject)?;
    let publish = input.published.take();
    let a = app.clone();
    let v = blocking(move || {
        let v = a.artists.update_album(&actor, id, input)?;
        match publish {
            Some(p) => a.artists.publish_album(&actor, id, p),
            None => Ok(v),
        }
    })
    .await?;
    album_reply(&app, StatusCode::OK, &v)
}

/// Deletes an album; `?tracks=delete` deletes its tracks too, else they become singles.
#[utoipa::path(delete, path = "/api/v1/studio/albums/{id}", tag = "artists",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Album id"), DeleteAlbumQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn delete_album(
    p: PathParams,
    app: App,
    actor: Actor,
    q: DeleteAlbumQuery,
) -> Result<Response, Rejection> {
    let id: AlbumId = p.id(0, "album")?;
    let delete_tracks = match q.tracks.as_deref() {
        None | Some("keep") => false,
        Some("delete") => true,
        Some(_) => return Err(reject(Error::invalid("tracks", "expected keep or delete"))),
    };
    let a = app.clone();
    blocking(move || a.artists.delete_album(&actor, id, delete_tracks)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sets an album's tracks and their order.
#[utoipa::path(put, path = "/api/v1/studio/albums/{id}/tracks", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    request_body = AlbumTracks,
    responses(
        (status = 200, description = "The album", body = StudioAlbum),
        (status = 400, description = "An unknown, repeated or foreign track", body = ErrorBody),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn set_album_tracks(
    p: PathParams,
    app: App,
    actor: Actor,
    body: AlbumTracks,
) -> Result<Response, Rejection> {
    let id: AlbumId = p.id(0, "album")?;
    let order = body
        .track_ids
        .iter()
        .map(|t| {
            t.parse::<TrackId>()
                .map_err(|_| reject(Error::invalid("track_ids", format!("'{t}' is not an id"))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let a = app.clone();
    let v = blocking(move || a.artists.set_album_tracks(&actor, id, order)).await?;
    album_reply(&app, StatusCode::OK, &v)
}

/// Sets an album's cover from a PNG, JPEG or WebP image sent as the raw body.
#[utoipa::path(put, path = "/api/v1/studio/albums/{id}/cover", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    request_body(content = Vec<u8>, content_type = "image/*", description = "The image"),
    responses(
        (status = 200, description = "The album", body = StudioAlbum),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 413, description = "Image too large", body = ErrorBody),
        (status = 415, description = "Not a PNG, JPEG or WebP image", body = ErrorBody),
    ))]
pub async fn put_cover(
    p: PathParams,
    app: App,
    actor: Actor,
    content_type: Option<String>,
    body: Bytes,
) -> Result<Response, Rejection> {
    let id: AlbumId = p.id(0, "album")?;
    let mime = match image::guess_format(&body) {
        Ok(image::ImageFormat::Png) => "image/png",
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::WebP) => "image/webp",
        _ => {
            return Err(reject(Error::UnsupportedMedia(format!(
                "expected a PNG, JPEG or WebP image, got {}",
                content_type.as_deref().unwrap_or("an unknown type")
            ))))
        }
    };
    let a = app.clone();
    let v = blocking(move || a.artists.set_cover(&actor, id, mime, &body)).await?;
    album_reply(&app, StatusCode::OK, &v)
}

/// An album's cover: anyone who may browse, for a published album; its owner for a draft.
#[utoipa::path(get, path = "/api/v1/studio/albums/{id}/cover", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "The image"),
        (status = 404, description = "No such album or no cover", body = ErrorBody),
    ))]
pub async fn get_cover(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let id: AlbumId = p.id(0, "album")?;
    let (mime, path) = app.artists.cover(actor.as_ref(), id).map_err(reject)?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| reject(Error::NotFound("cover")))?;
    let mut res = Response::new(bytes.into());
    if let Ok(v) = HeaderValue::from_str(&mime) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// Tracks
// ---------------------------------------------------------------------------------------------

/// The caller's uploaded tracks, drafts included.
#[utoipa::path(get, path = "/api/v1/studio/tracks", tag = "artists",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Tracks, oldest upload first", body = Vec<StudioTrack>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_tracks(app: App, actor: Actor) -> Result<Response, Rejection> {
    let tracks = app.artists.tracks_of(&actor).map_err(reject)?;
    let list = tracks
        .iter()
        .map(|t| track_dto(&app, t))
        .collect::<ServiceResult<Vec<_>>>()
        .map_err(reject)?;
    Ok(reply_json(StatusCode::OK, &list))
}

/// An uploaded track, drafts included, for its owner or an admin.
#[utoipa::path(get, path = "/api/v1/studio/tracks/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The track", body = StudioTrack),
        (status = 403, description = "Another artist's published track", body = ErrorBody),
        (status = 404, description = "No such track, or another artist's draft", body = ErrorBody),
    ))]
pub async fn get_track(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let t = app.artists.track(&actor, id).map_err(reject)?;
    track_reply(&app, &t)
}

/// Edits a track's metadata.
#[utoipa::path(patch, path = "/api/v1/studio/tracks/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    request_body = TrackFields,
    responses(
        (status = 200, description = "The track", body = StudioTrack),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn update_track(
    p: PathParams,
    app: App,
    actor: Actor,
    body: TrackFields,
) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let edit = TrackEdit {
        title: body.title,
        track_number: body.track_number,
        genres: body.genres,
        explicit: body.explicit,
        lyrics: body.lyrics,
        featured: body.featured_artists,
    };
    let a = app.clone();
    let t = blocking(move || a.artists.update_track(&actor, id, edit)).await?;
    track_reply(&app, &t)
}

/// Deletes a track: its file and its catalog entry.
#[utoipa::path(delete, path = "/api/v1/studio/tracks/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn delete_track(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let a = app.clone();
    blocking(move || a.artists.delete_track(&actor, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Publishes a track (and its album).
#[utoipa::path(post, path = "/api/v1/studio/tracks/{id}/publish", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The track", body = StudioTrack),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn publish_track(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    set_track_published(p, app, actor, true).await
}

/// Takes a track back to draft (moderation, for admins).
#[utoipa::path(post, path = "/api/v1/studio/tracks/{id}/unpublish", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The track", body = StudioTrack),
        (status = 403, description = "Not yours", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn unpublish_track(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    set_track_published(p, app, actor, false).await
}

async fn set_track_published(
    p: PathParams,
    app: App,
    actor: Actor,
    published: bool,
) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let a = app.clone();
    let t = blocking(move || a.artists.publish_track(&actor, id, published)).await?;
    track_reply(&app, &t)
}
