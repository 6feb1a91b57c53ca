//! Handlers for statistics (tracks, artists, the caller) and charts, with their wire types.
//! Every figure is read from counters kept when plays are recorded, never from the plays.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::Rejection;

use super::catalog::{album_item, artist_item, track_item};
use super::dto::{rfc3339, AlbumItem, ArtistItem, RatingSummary, TrackItem};
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use super::social::blocking;
use crate::auth::Actor;
use crate::domain::{AlbumId, ArtistId, TrackId};
use crate::error::Error;
use crate::social::model::{DayCounts, Totals};
use crate::social::plays::{ChartKind, Period, Window};
use crate::App;

/// The window of a statistics request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Days to cover, today (UTC) included: 1 to 365 (default 30).
    pub days: Option<u32>,
}

impl StatsQuery {
    fn days(&self) -> Result<u32, Rejection> {
        let d = self.days.unwrap_or(30);
        if !(1..=365).contains(&d) {
            return Err(reject(Error::invalid("days", "must be between 1 and 365")));
        }
        Ok(d)
    }
}

/// One day of a series.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayPoint {
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// Plays that started that day.
    pub plays: u64,
    /// Seconds listened in them.
    pub seconds: u64,
    /// Plays past 80 % of the track.
    pub complete: u64,
    /// Listeners whose latest play was that day. Summed from today back to a day, it is the
    /// number of distinct listeners since that day.
    pub last_listened: u64,
}

/// Statistics of a track.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackStats {
    /// Track id.
    pub track_id: String,
    /// Days covered, today included.
    pub days: u32,
    /// Plays per day with plays, oldest first.
    pub series: Vec<DayPoint>,
    /// Plays in the window.
    pub plays: u64,
    /// Distinct listeners in the window.
    pub unique_listeners: u64,
    /// Mean seconds listened per play in the window.
    pub average_seconds: f64,
    /// Share of the window's plays that went past 80 % of the track (0 to 1).
    pub completion_rate: f64,
    /// Plays since the beginning.
    pub total_plays: u64,
    /// Distinct listeners since the beginning.
    pub total_listeners: u64,
    /// Users who like it.
    pub likes: u64,
    /// Downloads of its file.
    pub downloads: u64,
    /// Ratings.
    pub rating: RatingSummary,
}

/// A track with its plays.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackPlays<'a> {
    /// The track.
    pub track: TrackItem<'a>,
    /// Plays since the beginning.
    pub plays: u64,
}

/// Statistics of an artist.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArtistStats<'a> {
    /// Artist id.
    pub artist_id: String,
    /// Days covered by `series` and `plays`, today included.
    pub days: u32,
    /// Distinct listeners over the last 30 days.
    pub monthly_listeners: u64,
    /// Plays per day with plays, oldest first.
    pub series: Vec<DayPoint>,
    /// Plays in the window.
    pub plays: u64,
    /// Plays since the beginning.
    pub total_plays: u64,
    /// Distinct listeners since the beginning.
    pub total_listeners: u64,
    /// Users who follow the artist.
    pub followers: u64,
    /// The most played tracks, all time.
    pub top_tracks: Vec<TrackPlays<'a>>,
}

/// The caller's own totals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyStats<'a> {
    /// Plays recorded.
    pub plays: u64,
    /// Seconds listened.
    pub seconds_listened: u64,
    /// Distinct tracks played.
    pub distinct_tracks: u64,
    /// First recorded play, RFC 3339.
    pub first_play: Option<String>,
    /// Latest recorded play, RFC 3339.
    pub last_play: Option<String>,
    /// Liked tracks.
    pub liked_tracks: u64,
    /// Saved albums.
    pub saved_albums: u64,
    /// Artists followed.
    pub following_artists: u64,
    /// Users followed.
    pub following_users: u64,
    /// Followers.
    pub followers: u64,
    /// Playlists made.
    pub playlists: u64,
    /// Most played tracks.
    pub top_tracks: Vec<TrackPlays<'a>>,
}

/// Chart parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChartQuery {
    /// `day` (today, UTC), `week` (the last seven days) or `all` (default `week`).
    pub period: Option<String>,
    /// Entries, 1 to 100 (default 50).
    pub limit: Option<usize>,
}

/// One place in a chart; exactly one of `track`, `album`, `artist` is set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChartEntry<'a> {
    /// 1 for the most played.
    pub rank: usize,
    /// Plays in the period.
    pub plays: u64,
    /// The track.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackItem<'a>>,
    /// The album.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<AlbumItem<'a>>,
    /// The artist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<ArtistItem<'a>>,
}

/// A chart.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Chart<'a> {
    /// `tracks`, `albums` or `artists`.
    pub kind: String,
    /// `day`, `week` or `all`.
    pub period: String,
    /// Most played first.
    pub items: Vec<ChartEntry<'a>>,
}

fn date_of(day: u32) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::from(day) * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

fn series(w: &Window) -> Vec<DayPoint> {
    w.days
        .iter()
        .map(|(day, c): &(u32, DayCounts)| DayPoint {
            date: date_of(*day),
            plays: c.plays,
            seconds: c.seconds,
            complete: c.complete,
            last_listened: c.latest_listeners.max(0).unsigned_abs(),
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        ((a as f64 / b as f64) * 1000.0).round() / 1000.0
    }
}

/// Statistics of a track: its artists' owners and admins.
#[utoipa::path(get, path = "/api/v1/stats/tracks/{id}", tag = "stats",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Track id"), StatsQuery),
    responses(
        (status = 200, description = "The track's statistics", body = TrackStats),
        (status = 400, description = "Bad window", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the track's artist, nor an admin", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn track_stats(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: StatsQuery,
) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let days = q.days()?;
    let stats = blocking(&app, move |app| {
        let s = &app.social;
        let owners = s.track_owners(id)?;
        app.policy.check_stats(actor.as_ref(), &owners)?;
        let w = s.plays.window(ChartKind::Tracks, *id.as_uuid(), days)?;
        let t: Totals = s.plays.totals(ChartKind::Tracks, *id.as_uuid())?;
        Ok(TrackStats {
            track_id: id.to_string(),
            days,
            series: series(&w),
            plays: w.sum.plays,
            unique_listeners: w.sum.latest_listeners.max(0) as u64,
            average_seconds: ratio(w.sum.seconds, w.sum.plays),
            completion_rate: ratio(w.sum.complete, w.sum.plays),
            total_plays: t.plays,
            total_listeners: t.listeners,
            likes: s.likes.count(*id.as_uuid())?,
            downloads: app.media.download_count(id)?,
            rating: s.track_ratings.summary(id)?.into(),
        })
    })
    .await?;
    Ok(reply_json(StatusCode::OK, &stats))
}

/// Statistics of an artist: the profile's owner and admins.
#[utoipa::path(get, path = "/api/v1/stats/artists/{id}", tag = "stats",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Artist id"), StatsQuery),
    responses(
        (status = 200, description = "The artist's statistics", body = ArtistStats),
        (status = 400, description = "Bad window", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not the artist, nor an admin", body = ErrorBody),
        (status = 404, description = "No such artist", body = ErrorBody),
    ))]
pub async fn artist_stats(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: StatsQuery,
) -> Result<Response, Rejection> {
    let id: ArtistId = p.id(0, "artist")?;
    let days = q.days()?;
    let tracks: Vec<TrackId> = {
        let r = app.catalog.read();
        r.artist(id)
            .map_err(reject)?
            .tracks
            .iter()
            .copied()
            .collect()
    };
    let (mut stats, top) = blocking(&app, move |app| {
        let s = &app.social;
        let owner = s.artist_owner(id)?;
        app.policy.check_stats(actor.as_ref(), owner.as_slice())?;
        let item = *id.as_uuid();
        let w = s.plays.window(ChartKind::Artists, item, days)?;
        let month = if days == 30 {
            w.sum.latest_listeners
        } else {
            s.plays
                .window(ChartKind::Artists, item, 30)?
                .sum
                .latest_listeners
        };
        let t = s.plays.totals(ChartKind::Artists, item)?;
        let mut top = Vec::with_capacity(tracks.len());
        for tr in tracks {
            let plays = s.plays.totals(ChartKind::Tracks, *tr.as_uuid())?.plays;
            if plays > 0 {
                top.push((tr, plays));
            }
        }
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(10);
        Ok((
            ArtistStats {
                artist_id: id.to_string(),
                days,
                monthly_listeners: month.max(0) as u64,
                series: series(&w),
                plays: w.sum.plays,
                total_plays: t.plays,
                total_listeners: t.listeners,
                followers: s.artist_follows.count(item)?,
                top_tracks: Vec::new(),
            },
            top,
        ))
    })
    .await?;
    let r = app.catalog.read();
    stats.top_tracks = top
        .into_iter()
        .filter_map(|(t, plays)| {
            r.track(t).ok().map(|t| TrackPlays {
                track: track_item(t),
                plays,
            })
        })
        .collect();
    Ok(reply_json(StatusCode::OK, &stats))
}

/// The caller's listening totals.
#[utoipa::path(get, path = "/api/v1/me/stats", tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Totals", body = MyStats),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn my_stats(app: App, actor: Actor) -> Result<Response, Rejection> {
    let (mut stats, top) = blocking(&app, move |app| {
        let s = &app.social;
        let u = actor.user_id;
        let t = s.plays.user_totals(u)?;
        Ok((
            MyStats {
                plays: t.plays,
                seconds_listened: t.seconds,
                distinct_tracks: t.tracks,
                first_play: t.first_play.map(rfc3339),
                last_play: t.last_play.map(rfc3339),
                liked_tracks: s.likes.count_of_user(u)?,
                saved_albums: s.saves.count_of_user(u)?,
                following_artists: s.artist_follows.count_of_user(u)?,
                following_users: s.user_follows.count_of_user(u)?,
                followers: s.user_follows.count(*u.as_uuid())?,
                playlists: s.playlists.owned_by(u)?.len() as u64,
                top_tracks: Vec::new(),
            },
            s.plays.user_top_tracks(u, 10)?,
        ))
    })
    .await?;
    let r = app.catalog.read();
    stats.top_tracks = top
        .into_iter()
        .filter_map(|(t, plays)| {
            r.track(t).ok().map(|t| TrackPlays {
                track: track_item(t),
                plays,
            })
        })
        .collect();
    Ok(reply_json(StatusCode::OK, &stats))
}

/// The most played tracks, albums or artists of the day, the week or all time.
#[utoipa::path(get, path = "/api/v1/charts/{kind}", tag = "stats",
    security(("bearer" = [])),
    params(("kind" = String, Path, description = "`tracks`, `albums` or `artists`"), ChartQuery),
    responses(
        (status = 200, description = "The chart", body = Chart),
        (status = 400, description = "Bad period or limit", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such chart", body = ErrorBody),
    ))]
pub async fn chart(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: ChartQuery,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), crate::auth::Action::Browse)
        .map_err(reject)?;
    let kind = match p.text(0) {
        "tracks" => ChartKind::Tracks,
        "albums" => ChartKind::Albums,
        "artists" => ChartKind::Artists,
        _ => return Err(reject(Error::NotFound("chart"))),
    };
    let (period, period_name) = match q.period.as_deref() {
        Some("day") => (Period::Day, "day"),
        None | Some("week") => (Period::Week, "week"),
        Some("all") => (Period::All, "all"),
        Some(_) => return Err(reject(Error::invalid("period", "must be day, week or all"))),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(reject(Error::invalid("limit", "must be between 1 and 100")));
    }
    // A few extra, for items that have left the catalog since they were played.
    let ranked = app.social.plays.chart(kind, period, limit + 16);
    let r = app.catalog.read();
    let mut items = Vec::with_capacity(limit);
    for (id, plays) in ranked {
        if items.len() == limit {
            break;
        }
        let mut e = ChartEntry {
            rank: items.len() + 1,
            plays,
            track: None,
            album: None,
            artist: None,
        };
        let found = match kind {
            ChartKind::Tracks => r
                .track(TrackId::from_uuid(id))
                .ok()
                .map(|t| e.track = Some(track_item(t))),
            ChartKind::Albums => r
                .album(AlbumId::from_uuid(id))
                .ok()
                .map(|a| e.album = Some(album_item(a))),
            ChartKind::Artists => r
                .artist(ArtistId::from_uuid(id))
                .ok()
                .map(|a| e.artist = Some(artist_item(a))),
        };
        if found.is_some() {
            items.push(e);
        }
    }
    Ok(reply_json(
        StatusCode::OK,
        &Chart {
            kind: p.text(0).to_owned(),
            period: period_name.to_owned(),
            items,
        },
    ))
}
