//! Handlers for follows, likes, saves, ratings, plays, history and now playing (their wire
//! types live beside them). Service calls block on the store, so each runs on a blocking
//! task; writes are flushed there too, after the service has released its locks, before the
//! answer says they succeeded.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::catalog::{album_item, artist_item, track_item};
use super::dto::{rfc3339, AlbumItem, ArtistItem, PublicUser, RatingSummary, TrackItem};
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::auth::Actor;
use crate::domain::{AlbumId, ArtistId, TrackId, UserId};
use crate::error::{Error, Result};
use crate::social::model::Source;
use crate::social::plays::{self, Outcome, PlayInput};
use crate::App;

/// Runs `f` on a blocking task.
pub async fn blocking<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&App) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Rejection> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| reject(Error::Internal(format!("blocking task: {e}"))))?
        .map_err(reject)
}

/// Runs the write `f` on a blocking task, then makes it durable before returning.
pub async fn writing<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&App) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Rejection> {
    blocking(app, move |app| {
        let out = f(app)?;
        // Flushed here, with no service lock held: a flush waits for writes in progress.
        app.store.flush_blocking()?;
        Ok(out)
    })
    .await
}

/// A page request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items to skip (default 0).
    pub offset: Option<u64>,
    /// Items to return, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

impl PageQuery {
    fn get(&self) -> std::result::Result<(u64, u64), Rejection> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(reject(Error::invalid("limit", "must be between 1 and 500")));
        }
        Ok((self.offset.unwrap_or(0), limit))
    }
}

/// Whether the caller likes a track, and its like count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LikeState {
    /// Liked.
    pub liked: bool,
    /// Likes of the track.
    pub like_count: u64,
}

/// Whether the caller saved an album, and its save count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SaveState {
    /// Saved.
    pub saved: bool,
    /// Saves of the album.
    pub save_count: u64,
}

/// Whether the caller follows an artist or user, and their follower count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowState {
    /// Following.
    pub following: bool,
    /// Followers.
    pub follower_count: u64,
}

/// A liked track.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LikedTrack<'a> {
    /// Track id.
    pub track_id: String,
    /// The track, when it is in the catalog.
    pub track: Option<TrackItem<'a>>,
    /// When it was liked, RFC 3339.
    pub liked_at: String,
}

/// A page of liked tracks, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LikedTracks<'a> {
    /// This page.
    pub items: Vec<LikedTrack<'a>>,
    /// All liked tracks.
    pub total: u64,
}

/// A saved album.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SavedAlbum<'a> {
    /// Album id.
    pub album_id: String,
    /// The album, when it is in the catalog.
    pub album: Option<AlbumItem<'a>>,
    /// When it was saved, RFC 3339.
    pub saved_at: String,
}

/// A page of saved albums, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SavedAlbums<'a> {
    /// This page.
    pub items: Vec<SavedAlbum<'a>>,
    /// All saved albums.
    pub total: u64,
}

/// A rating to give.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    /// 1 to 5.
    pub stars: u8,
    /// At most 2,000 characters.
    pub review: Option<String>,
}

/// The caller's rating and the item's summary after a change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingState {
    /// The caller's stars, `null` after removal.
    pub stars: Option<u8>,
    /// The caller's review.
    pub review: Option<String>,
    /// The item's average and count.
    pub rating: RatingSummary,
}

/// One user's rating.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingItem {
    /// Account id.
    pub user_id: String,
    /// Their username, when the account still exists.
    pub username: Option<String>,
    /// Stars.
    pub stars: u8,
    /// Review.
    pub review: Option<String>,
    /// When, RFC 3339.
    pub rated_at: String,
}

/// A page of an item's ratings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingPage {
    /// This page.
    pub items: Vec<RatingItem>,
    /// All ratings.
    pub total: u64,
    /// The average.
    pub rating: RatingSummary,
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// This page.
    pub items: Vec<PublicUser>,
    /// All of them.
    pub total: u64,
}

/// Whom a user follows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Following<'a> {
    /// Followed users (a page).
    pub users: Vec<PublicUser>,
    /// All followed users.
    pub total_users: u64,
    /// Followed artists (a page).
    pub artists: Vec<ArtistItem<'a>>,
    /// All followed artists.
    pub total_artists: u64,
}

/// New releases from followed artists, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Feed<'a> {
    /// Albums.
    pub items: Vec<AlbumItem<'a>>,
}

/// One play report.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayBody {
    /// Track id.
    pub track_id: String,
    /// When the play started, RFC 3339.
    pub started_at: String,
    /// Seconds listened.
    pub seconds_played: u32,
    /// Whether the player reached the end.
    #[serde(default)]
    pub completed: bool,
    /// `album`, `playlist`, `radio`, `search`, `upload` or `other`.
    pub source: String,
    /// The client's key for this report (1 to 200 bytes); a retry sends the same key and is
    /// counted once.
    pub idempotency_key: String,
}

/// What became of a play report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlayResult {
    /// The play's id (the first report's, for a retry); `null` in a private session.
    pub play_id: Option<String>,
    /// Counted now.
    pub recorded: bool,
    /// Counted before, under the same key.
    pub duplicate: bool,
}

/// Many play reports, e.g. from a player that was offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayBatch {
    /// 1 to 2,000 plays.
    pub plays: Vec<PlayBody>,
}

/// A play of a batch that was refused.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectedPlay {
    /// Its index in the batch.
    pub index: usize,
    /// Machine-readable code (`invalid_request`, `not_found`).
    pub code: String,
    /// Why.
    pub message: String,
}

/// What became of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    /// Plays counted now.
    pub recorded: u64,
    /// Plays counted before (retries).
    pub duplicates: u64,
    /// Plays refused, with the reason; the others are counted.
    pub rejected: Vec<RejectedPlay>,
    /// True when the user is in a private session and nothing was recorded.
    pub private_session: bool,
}

/// A play in the history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem<'a> {
    /// Play id.
    pub play_id: String,
    /// Track id.
    pub track_id: String,
    /// The track, when it is in the catalog.
    pub track: Option<TrackItem<'a>>,
    /// Start, RFC 3339.
    pub started_at: String,
    /// Seconds listened.
    pub seconds_played: u32,
    /// Whether the player reached the end.
    pub completed: bool,
    /// Where it started.
    pub source: String,
}

/// A page of history, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct History<'a> {
    /// This page.
    pub items: Vec<HistoryItem<'a>>,
    /// All plays in the history.
    pub total: u64,
}

/// What the caller is playing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NowPlayingBody {
    /// Track id.
    pub track_id: String,
    /// Seconds into the track.
    #[serde(default)]
    pub position_secs: f64,
}

/// Someone playing something.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NowPlayingItem<'a> {
    /// Account id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// The track.
    pub track: TrackItem<'a>,
    /// Seconds into it at the last report.
    pub position_secs: f64,
    /// The last report, RFC 3339.
    pub updated_at: String,
}

fn parse_id<T: std::str::FromStr>(
    p: &PathParams,
    what: &'static str,
) -> std::result::Result<T, Rejection> {
    p.id(0, what)
}

fn parse_time(s: &str) -> Result<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| Error::invalid("started_at", "must be an RFC 3339 time"))
}

fn play_input(b: &PlayBody) -> Result<PlayInput> {
    let track = b
        .track_id
        .parse::<TrackId>()
        .map_err(|_| Error::invalid("track_id", "not a track id"))?;
    let source = Source::parse(&b.source).ok_or_else(|| {
        Error::invalid(
            "source",
            "must be album, playlist, radio, search, upload or other",
        )
    })?;
    let input = PlayInput {
        track,
        started_at: parse_time(&b.started_at)?,
        seconds_played: b.seconds_played,
        completed: b.completed,
        source,
        idempotency_key: b.idempotency_key.clone(),
    };
    plays::validate(&input, crate::domain::now())?;
    Ok(input)
}

// ---- likes and saves ----

/// Likes a track.
#[utoipa::path(put, path = "/api/v1/tracks/{id}/like", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "Liked", body = LikeState),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn like_track(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    like(p, app, actor, true).await
}

/// Stops liking a track.
#[utoipa::path(delete, path = "/api/v1/tracks/{id}/like", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "Not liked", body = LikeState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unlike_track(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    like(p, app, actor, false).await
}

async fn like(
    p: PathParams,
    app: App,
    actor: Actor,
    on: bool,
) -> std::result::Result<Response, Rejection> {
    let id: TrackId = parse_id(&p, "track")?;
    let count = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        if on {
            app.catalog.read().track(id)?;
        }
        app.social.likes.set(actor.user_id, *id.as_uuid(), on)
    })
    .await?;
    Ok(reply_json(
        StatusCode::OK,
        &LikeState {
            liked: on,
            like_count: count,
        },
    ))
}

/// The caller's liked tracks, newest first.
#[utoipa::path(get, path = "/api/v1/me/likes/tracks", tag = "library",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Liked tracks", body = LikedTracks),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_liked_tracks(
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let (offset, limit) = q.get()?;
    let page = blocking(&app, move |app| {
        app.social.likes.of_user(actor.user_id, offset, limit)
    })
    .await?;
    let r = app.catalog.read();
    Ok(reply_json(
        StatusCode::OK,
        &LikedTracks {
            items: page
                .items
                .into_iter()
                .map(|(id, at)| {
                    let id = TrackId::from_uuid(id);
                    LikedTrack {
                        track_id: id.to_string(),
                        track: r.track(id).ok().map(track_item),
                        liked_at: rfc3339(at),
                    }
                })
                .collect(),
            total: page.total,
        },
    ))
}

/// Saves an album.
#[utoipa::path(put, path = "/api/v1/albums/{id}/save", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "Saved", body = SaveState),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn save_album(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    save(p, app, actor, true).await
}

/// Stops saving an album.
#[utoipa::path(delete, path = "/api/v1/albums/{id}/save", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "Not saved", body = SaveState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unsave_album(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    save(p, app, actor, false).await
}

async fn save(
    p: PathParams,
    app: App,
    actor: Actor,
    on: bool,
) -> std::result::Result<Response, Rejection> {
    let id: AlbumId = parse_id(&p, "album")?;
    let count = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        if on {
            app.catalog.read().album(id)?;
        }
        app.social.saves.set(actor.user_id, *id.as_uuid(), on)
    })
    .await?;
    Ok(reply_json(
        StatusCode::OK,
        &SaveState {
            saved: on,
            save_count: count,
        },
    ))
}

/// The caller's saved albums, newest first.
#[utoipa::path(get, path = "/api/v1/me/saves/albums", tag = "library",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Saved albums", body = SavedAlbums),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_saved_albums(
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let (offset, limit) = q.get()?;
    let page = blocking(&app, move |app| {
        app.social.saves.of_user(actor.user_id, offset, limit)
    })
    .await?;
    let r = app.catalog.read();
    Ok(reply_json(
        StatusCode::OK,
        &SavedAlbums {
            items: page
                .items
                .into_iter()
                .map(|(id, at)| {
                    let id = AlbumId::from_uuid(id);
                    SavedAlbum {
                        album_id: id.to_string(),
                        album: r.album(id).ok().map(album_item),
                        saved_at: rfc3339(at),
                    }
                })
                .collect(),
            total: page.total,
        },
    ))
}

// ---- ratings ----

#[derive(Clone, Copy)]
enum Rated {
    Track(TrackId),
    Album(AlbumId),
}

fn rated(p: &PathParams, album: bool) -> std::result::Result<Rated, Rejection> {
    Ok(if album {
        Rated::Album(p.id(0, "album")?)
    } else {
        Rated::Track(p.id(0, "track")?)
    })
}

async fn rate(
    app: App,
    actor: Actor,
    item: Rated,
    body: Option<RatingBody>,
) -> std::result::Result<Response, Rejection> {
    let given = body.map(|b| (b.stars, b.review));
    let shown = given.clone();
    let summary = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        let s = &app.social;
        match item {
            Rated::Track(id) => {
                if given.is_some() {
                    app.catalog.read().track(id)?;
                }
                s.track_ratings.set(actor.user_id, id, given)
            }
            Rated::Album(id) => {
                if given.is_some() {
                    app.catalog.read().album(id)?;
                }
                s.album_ratings.set(actor.user_id, id, given)
            }
        }
    })
    .await?;
    Ok(reply_json(
        StatusCode::OK,
        &RatingState {
            stars: shown.as_ref().map(|(s, _)| *s),
            review: shown.and_then(|(_, r)| r).filter(|r| !r.trim().is_empty()),
            rating: summary.into(),
        },
    ))
}

/// Rates a track 1 to 5 stars, with an optional review; replaces an earlier rating.
#[utoipa::path(put, path = "/api/v1/tracks/{id}/rating", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    request_body = RatingBody,
    responses(
        (status = 200, description = "Rated", body = RatingState),
        (status = 400, description = "Stars outside 1 to 5, or a review over 2,000 characters", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn rate_track(
    p: PathParams,
    app: App,
    actor: Actor,
    body: RatingBody,
) -> std::result::Result<Response, Rejection> {
    rate(app, actor, rated(&p, false)?, Some(body)).await
}

/// Removes the caller's rating of a track.
#[utoipa::path(delete, path = "/api/v1/tracks/{id}/rating", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "Removed", body = RatingState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unrate_track(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    rate(app, actor, rated(&p, false)?, None).await
}

/// Rates an album 1 to 5 stars, with an optional review; replaces an earlier rating.
#[utoipa::path(put, path = "/api/v1/albums/{id}/rating", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    request_body = RatingBody,
    responses(
        (status = 200, description = "Rated", body = RatingState),
        (status = 400, description = "Stars outside 1 to 5, or a review over 2,000 characters", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn rate_album(
    p: PathParams,
    app: App,
    actor: Actor,
    body: RatingBody,
) -> std::result::Result<Response, Rejection> {
    rate(app, actor, rated(&p, true)?, Some(body)).await
}

/// Removes the caller's rating of an album.
#[utoipa::path(delete, path = "/api/v1/albums/{id}/rating", tag = "library",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "Removed", body = RatingState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unrate_album(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    rate(app, actor, rated(&p, true)?, None).await
}

/// A track's ratings and reviews.
#[utoipa::path(get, path = "/api/v1/tracks/{id}/ratings", tag = "library",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Track id"), PageQuery),
    responses(
        (status = 200, description = "Ratings", body = RatingPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn track_ratings(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), crate::auth::Action::Browse)
        .map_err(reject)?;
    let id: TrackId = parse_id(&p, "track")?;
    let (offset, limit) = q.get()?;
    let page = blocking(&app, move |app| {
        app.catalog.read().track(id)?;
        let (items, total) = app.social.track_ratings.of_item(id, offset, limit)?;
        let summary = app.social.track_ratings.summary(id)?;
        Ok(RatingPage {
            items: items
                .into_iter()
                .map(|(u, r)| RatingItem {
                    user_id: u.to_string(),
                    username: app.accounts.user(u).ok().map(|u| u.username.to_string()),
                    stars: r.stars,
                    review: r.review,
                    rated_at: rfc3339(r.rated_at),
                })
                .collect(),
            total,
            rating: summary.into(),
        })
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &page))
}

// ---- follows ----

/// Follows an artist.
#[utoipa::path(put, path = "/api/v1/artists/{id}/follow", tag = "follows",
    security(("bearer" = [])), params(("id" = String, Path, description = "Artist id")),
    responses(
        (status = 200, description = "Following", body = FollowState),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such artist", body = ErrorBody),
    ))]
pub async fn follow_artist(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    follow(p, app, actor, true, false).await
}

/// Stops following an artist.
#[utoipa::path(delete, path = "/api/v1/artists/{id}/follow", tag = "follows",
    security(("bearer" = [])), params(("id" = String, Path, description = "Artist id")),
    responses(
        (status = 200, description = "Not following", body = FollowState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unfollow_artist(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    follow(p, app, actor, false, false).await
}

/// Follows a user.
#[utoipa::path(put, path = "/api/v1/users/{id}/follow", tag = "follows",
    security(("bearer" = [])), params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "Following", body = FollowState),
        (status = 400, description = "Following oneself", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn follow_user(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    follow(p, app, actor, true, true).await
}

/// Stops following a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}/follow", tag = "follows",
    security(("bearer" = [])), params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "Not following", body = FollowState),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn unfollow_user(
    p: PathParams,
    app: App,
    actor: Actor,
) -> std::result::Result<Response, Rejection> {
    follow(p, app, actor, false, true).await
}

async fn follow(
    p: PathParams,
    app: App,
    actor: Actor,
    on: bool,
    user: bool,
) -> std::result::Result<Response, Rejection> {
    let id: uuid::Uuid = p.id(0, if user { "user" } else { "artist" })?;
    let count = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        if user {
            let who = UserId::from_uuid(id);
            if on {
                if who == actor.user_id {
                    return Err(Error::invalid("id", "you cannot follow yourself"));
                }
                app.accounts.user(who)?;
            }
            app.social.user_follows.set(actor.user_id, id, on)
        } else {
            if on {
                app.catalog.read().artist(ArtistId::from_uuid(id))?;
            }
            app.social.artist_follows.set(actor.user_id, id, on)
        }
    })
    .await?;
    Ok(reply_json(
        StatusCode::OK,
        &FollowState {
            following: on,
            follower_count: count,
        },
    ))
}

/// A user's followers.
#[utoipa::path(get, path = "/api/v1/users/{id}/followers", tag = "follows",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), PageQuery),
    responses(
        (status = 200, description = "Followers", body = UserPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn user_followers(
    p: PathParams,
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let id: UserId = parse_id(&p, "user")?;
    let (offset, limit) = q.get()?;
    let page = blocking(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        app.accounts.user(id)?;
        let page = app
            .social
            .user_follows
            .of_object(*id.as_uuid(), offset, limit)?;
        Ok(UserPage {
            items: page
                .items
                .iter()
                .filter_map(|(u, _)| app.accounts.user(*u).ok())
                .map(|u| PublicUser::of(&u, &app.config.server.base_url))
                .collect(),
            total: page.total,
        })
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &page))
}

/// The users and artists a user follows.
#[utoipa::path(get, path = "/api/v1/users/{id}/following", tag = "follows",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), PageQuery),
    responses(
        (status = 200, description = "Followed users and artists", body = Following),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn user_following(
    p: PathParams,
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let id: UserId = parse_id(&p, "user")?;
    let (offset, limit) = q.get()?;
    let (users, total_users, artists) = blocking(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        app.accounts.user(id)?;
        let users = app.social.user_follows.of_user(id, offset, limit)?;
        let artists = app.social.artist_follows.of_user(id, offset, limit)?;
        let list: Vec<PublicUser> = users
            .items
            .iter()
            .filter_map(|(u, _)| app.accounts.user(UserId::from_uuid(*u)).ok())
            .map(|u| PublicUser::of(&u, &app.config.server.base_url))
            .collect();
        Ok((list, users.total, artists))
    })
    .await?;
    let r = app.catalog.read();
    let ids: Vec<ArtistId> = artists
        .items
        .iter()
        .map(|(a, _)| ArtistId::from_uuid(*a))
        .collect();
    Ok(reply_json(
        StatusCode::OK,
        &Following {
            users,
            total_users,
            artists: r.artists_by_id(&ids).into_iter().map(artist_item).collect(),
            total_artists: artists.total,
        },
    ))
}

/// New releases from the artists the caller follows, newest first.
#[utoipa::path(get, path = "/api/v1/me/feed", tag = "follows",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Albums", body = Feed),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_feed(
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let (offset, limit) = q.get()?;
    let artists = blocking(&app, move |app| app.social.followed_artists(actor.user_id)).await?;
    let r = app.catalog.read();
    let mut albums: Vec<&crate::catalog::Album> = r
        .artists_by_id(&artists)
        .into_iter()
        .flat_map(|a| r.artist_albums(a))
        .collect();
    albums.sort_by(|a, b| b.added_at.cmp(&a.added_at).then(a.id.cmp(&b.id)));
    albums.dedup_by_key(|a| a.id);
    Ok(reply_json(
        StatusCode::OK,
        &Feed {
            items: albums
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(album_item)
                .collect(),
        },
    ))
}

// ---- plays ----

fn outcome_result(o: Outcome) -> PlayResult {
    match o {
        Outcome::Recorded(id) => PlayResult {
            play_id: Some(id.to_string()),
            recorded: true,
            duplicate: false,
        },
        Outcome::Duplicate(id) => PlayResult {
            play_id: Some(id.to_string()),
            recorded: false,
            duplicate: true,
        },
        Outcome::Private => PlayResult {
            play_id: None,
            recorded: false,
            duplicate: false,
        },
    }
}

/// Records one play. A retry with the same idempotency key is counted once (200, with the
/// first play's id); nothing is recorded in a private session.
#[utoipa::path(post, path = "/api/v1/plays", tag = "plays",
    security(("bearer" = [])), request_body = PlayBody,
    responses(
        (status = 201, description = "Recorded", body = PlayResult),
        (status = 200, description = "A retry of a recorded play, or a private session", body = PlayResult),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn record_play(
    app: App,
    actor: Actor,
    body: PlayBody,
) -> std::result::Result<Response, Rejection> {
    let input = play_input(&body).map_err(reject)?;
    let outcome = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        let facts = app
            .social
            .track_facts(&[input.track])
            .pop()
            .unwrap_or(Err(Error::NotFound("track")))?;
        let mut out = app.social.plays.record(actor.user_id, &[(input, facts)])?;
        out.pop()
            .ok_or_else(|| Error::Internal("no play outcome".into()))
    })
    .await?;
    let status = match outcome {
        Outcome::Recorded(_) => StatusCode::CREATED,
        Outcome::Duplicate(_) | Outcome::Private => StatusCode::OK,
    };
    Ok(reply_json(status, &outcome_result(outcome)))
}

/// Records up to 2,000 plays at once (a player catching up after being offline). Each play
/// is checked on its own; refused plays are listed and the rest are counted.
#[utoipa::path(post, path = "/api/v1/plays/batch", tag = "plays",
    security(("bearer" = [])), request_body = PlayBatch,
    responses(
        (status = 200, description = "What was counted", body = BatchResult),
        (status = 400, description = "Empty or oversized batch", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn record_plays(
    app: App,
    actor: Actor,
    body: PlayBatch,
) -> std::result::Result<Response, Rejection> {
    if body.plays.is_empty() || body.plays.len() > plays::MAX_BATCH {
        return Err(reject(Error::invalid(
            "plays",
            format!("must hold 1 to {} plays", plays::MAX_BATCH),
        )));
    }
    let result = writing(&app, move |app| {
        app.social.check_use(Some(&actor))?;
        let mut rejected = Vec::new();
        let parsed: Vec<(usize, PlayInput)> = body
            .plays
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match play_input(b) {
                Ok(p) => Some((i, p)),
                Err(e) => {
                    rejected.push(RejectedPlay {
                        index: i,
                        code: "invalid_request".into(),
                        message: e.to_string(),
                    });
                    None
                }
            })
            .collect();
        let tracks: Vec<TrackId> = parsed.iter().map(|(_, p)| p.track).collect();
        let facts = app.social.track_facts(&tracks);
        let mut good = Vec::with_capacity(parsed.len());
        for ((i, p), f) in parsed.into_iter().zip(facts) {
            match f {
                Ok(f) => good.push((p, f)),
                Err(e) => rejected.push(RejectedPlay {
                    index: i,
                    code: "not_found".into(),
                    message: e.to_string(),
                }),
            }
        }
        rejected.sort_by_key(|r| r.index);
        let outcomes = if good.is_empty() {
            Vec::new()
        } else {
            app.social.plays.record(actor.user_id, &good)?
        };
        Ok(BatchResult {
            recorded: outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Recorded(_)))
                .count() as u64,
            duplicates: outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Duplicate(_)))
                .count() as u64,
            private_session: outcomes.iter().any(|o| matches!(o, Outcome::Private)),
            rejected,
        })
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &result))
}

/// The caller's listening history, newest first.
#[utoipa::path(get, path = "/api/v1/me/history", tag = "plays",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Plays", body = History),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_history(
    app: App,
    actor: Actor,
    q: PageQuery,
) -> std::result::Result<Response, Rejection> {
    let (offset, limit) = q.get()?;
    let (plays, total) = blocking(&app, move |app| {
        app.social.plays.history(actor.user_id, offset, limit)
    })
    .await?;
    let r = app.catalog.read();
    Ok(reply_json(
        StatusCode::OK,
        &History {
            items: plays
                .into_iter()
                .map(|p| HistoryItem {
                    play_id: p.id.to_string(),
                    track_id: p.track.to_string(),
                    track: r.track(p.track).ok().map(track_item),
                    started_at: rfc3339(p.started_at),
                    seconds_played: p.seconds_played,
                    completed: p.completed,
                    source: p.source.as_str().to_owned(),
                })
                .collect(),
            total,
        },
    ))
}

/// Clears the caller's listening history and personal totals. Tracks' and artists' play
/// counts keep the plays.
#[utoipa::path(delete, path = "/api/v1/me/history", tag = "plays",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Cleared"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn clear_history(app: App, actor: Actor) -> std::result::Result<Response, Rejection> {
    writing(&app, move |app| {
        app.social.plays.clear_history(actor.user_id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Says what the caller is playing (kept in memory for ten minutes). Ignored in a private
/// session.
#[utoipa::path(put, path = "/api/v1/me/now-playing", tag = "plays",
    security(("bearer" = [])), request_body = NowPlayingBody,
    responses(
        (status = 204, description = "Noted"),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn put_now_playing(
    app: App,
    actor: Actor,
    body: NowPlayingBody,
) -> std::result::Result<Response, Rejection> {
    let track: TrackId = body
        .track_id
        .parse()
        .map_err(|_| reject(Error::invalid("track_id", "not a track id")))?;
    if !body.position_secs.is_finite() || body.position_secs < 0.0 {
        return Err(reject(Error::invalid(
            "position_secs",
            "must be a non-negative number",
        )));
    }
    blocking(&app, move |app| {
        app.social
            .set_now_playing(actor.user_id, track, body.position_secs)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What the caller and the users they follow are playing now.
#[utoipa::path(get, path = "/api/v1/now-playing", tag = "plays",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Now playing", body = Vec<NowPlayingItem>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn now_playing(app: App, actor: Actor) -> std::result::Result<Response, Rejection> {
    let playing = blocking(&app, move |app| {
        let all = app.social.now_playing_for(actor.user_id)?;
        Ok(all
            .into_iter()
            .filter_map(|(u, n)| app.accounts.user(u).ok().map(|user| (user, n)))
            .collect::<Vec<_>>())
    })
    .await?;
    let r = app.catalog.read();
    let items: Vec<NowPlayingItem<'_>> = playing
        .into_iter()
        .filter_map(|(user, n)| {
            r.track(n.track).ok().map(|t| NowPlayingItem {
                user_id: user.id.to_string(),
                username: user.username.to_string(),
                track: track_item(t),
                position_secs: n.position_secs,
                updated_at: rfc3339(n.updated_at),
            })
        })
        .collect();
    Ok(reply_json(StatusCode::OK, &items))
}
