//! Handlers for browsing and searching the catalog, and for library scans.

use std::borrow::Cow;
use std::sync::Arc;

use http::StatusCode;
use warp::reply::Response;
use warp::Rejection;

use super::dto::{
    rfc3339, AlbumDetail, AlbumItem, AlbumPage, ArtQuery, ArtistDetail, ArtistItem, ArtistPage,
    CatalogQuery, GenreItem, ScanFailureDto, ScanStatusDto, SearchQuery, SearchResults, StartScan,
    SuggestQuery, Suggestion, TrackArtists, TrackDetail, TrackItem, TrackPage, WireId,
    ALBUM_ITEM_JSON, TRACK_ITEM_JSON,
};
use super::error::{reject, ErrorBody};
use super::router::PathParams;
use super::{reply_json, reply_json_sized, reply_json_written};
use crate::auth::{Action, Actor};
use crate::catalog::search::Kind;
use crate::catalog::{Album, AlbumSort, Artist, ArtistSort, ListQuery, TrackRef, TrackSort};
use crate::domain::{AlbumId, ArtistId, Track, TrackId};
use crate::error::Error;
use crate::library::ScanStatus;
use crate::App;

fn browse(app: &App, actor: Option<&Actor>) -> Result<(), Rejection> {
    app.policy.check(actor, Action::Browse).map_err(reject)
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

pub(super) fn artist_item(a: &Artist) -> ArtistItem<'_> {
    ArtistItem {
        id: WireId(*a.id.as_uuid()),
        name: Cow::Borrowed(&a.name),
        album_count: a.albums.len(),
        track_count: a.tracks.len(),
    }
}

pub(super) fn album_item(a: &Album) -> AlbumItem<'_> {
    AlbumItem {
        id: WireId(*a.id.as_uuid()),
        title: Cow::Borrowed(&a.title),
        artist_id: WireId(*a.artist_id.as_uuid()),
        artist: Cow::Borrowed(&a.artist_name),
        year: a.year,
        genres: a.genres.iter().map(|g| Cow::Borrowed(&**g)).collect(),
        track_count: a.tracks.len(),
        duration_secs: secs(a.duration_ms),
        compilation: a.compilation,
        added_at: rfc3339(a.added_at),
    }
}

pub(super) fn track_item(t: TrackRef<'_>) -> TrackItem<'_> {
    let row = t.row;
    TrackItem {
        id: WireId(*row.id.as_uuid()),
        title: Cow::Borrowed(&row.title),
        artists: TrackArtists::Row(t),
        artist_ids: TrackArtists::Row(t),
        album: Cow::Borrowed(t.album_title()),
        album_id: WireId(*row.album_id.as_uuid()),
        track_number: row.track_number,
        disc_number: row.disc_number,
        year: row.year,
        duration_secs: secs(row.duration_ms),
        format: Cow::Borrowed(&row.format),
    }
}

/// The list fields (named as lists name them) and everything else from the stored record.
fn track_detail<'a>(item: TrackItem<'a>, t: &Track) -> TrackDetail<'a> {
    TrackDetail {
        item,
        album_artists: t.tags.album_artists.clone(),
        track_total: t.tags.track_total,
        disc_total: t.tags.disc_total,
        date: t.tags.date.clone(),
        genres: t.tags.genres.clone(),
        composers: t.tags.composers.clone(),
        compilation: t.tags.compilation,
        lyrics: t.tags.lyrics.clone(),
        codec: t.audio.codec.clone(),
        bitrate_kbps: t.audio.bitrate_kbps,
        sample_rate: t.audio.sample_rate,
        channels: t.audio.channels,
        bit_depth: t.audio.bit_depth,
        size: t.file.size,
        rating: Default::default(),
        like_count: 0,
        replaygain_track_gain_db: t.tags.replaygain_track_gain_db,
        replaygain_track_peak: t.tags.replaygain_track_peak,
        replaygain_album_gain_db: t.tags.replaygain_album_gain_db,
        replaygain_album_peak: t.tags.replaygain_album_peak,
        musicbrainz_recording_id: t.tags.musicbrainz_recording_id.clone(),
        musicbrainz_album_id: t.tags.musicbrainz_album_id.clone(),
        embedded_cover: t.embedded_cover,
        added_at: rfc3339(t.added_at),
    }
}

fn list_query(q: &CatalogQuery) -> Result<ListQuery, Rejection> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(reject(Error::invalid("limit", "must be between 1 and 500")));
    }
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(reject(Error::invalid("order", "must be asc or desc"))),
    };
    let artist = match &q.artist {
        None => None,
        Some(a) => Some(
            a.parse::<ArtistId>()
                .map_err(|_| reject(Error::invalid("artist", "not an artist id")))?,
        ),
    };
    Ok(ListQuery {
        offset: q.offset.unwrap_or(0),
        limit,
        genre: q.genre.clone(),
        year_from: q.year_from,
        year_to: q.year_to,
        artist,
        format: q.format.clone(),
        descending,
    })
}

fn bad_sort(allowed: &str) -> Rejection {
    reject(Error::invalid("sort", format!("must be one of {allowed}")))
}

/// Lists artists.
#[utoipa::path(get, path = "/api/v1/artists", tag = "catalog",
    security(("bearer" = [])), params(CatalogQuery),
    responses(
        (status = 200, description = "A page of artists", body = ArtistPage),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_artists(
    app: App,
    actor: Option<Actor>,
    q: CatalogQuery,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let lq = list_query(&q)?;
    let sort = match q.sort.as_deref() {
        None | Some("name") => ArtistSort::Name,
        Some("date_added") => ArtistSort::DateAdded,
        Some(_) => return Err(bad_sort("name, date_added")),
    };
    let r = app.catalog.read();
    let page = r.list_artists(&lq, sort);
    Ok(reply_json(
        StatusCode::OK,
        &ArtistPage {
            items: page.items.into_iter().map(artist_item).collect(),
            total: page.total,
        },
    ))
}

/// Lists albums.
#[utoipa::path(get, path = "/api/v1/albums", tag = "catalog",
    security(("bearer" = [])), params(CatalogQuery),
    responses(
        (status = 200, description = "A page of albums", body = AlbumPage),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_albums(
    app: App,
    actor: Option<Actor>,
    q: CatalogQuery,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let lq = list_query(&q)?;
    let sort = match q.sort.as_deref() {
        None | Some("name") => AlbumSort::Name,
        Some("year") => AlbumSort::Year,
        Some("date_added") => AlbumSort::DateAdded,
        Some(_) => return Err(bad_sort("name, year, date_added")),
    };
    let r = app.catalog.read();
    let page = r.list_albums(&lq, sort);
    let size = 64 + page.items.len() * ALBUM_ITEM_JSON;
    Ok(reply_json_sized(
        StatusCode::OK,
        &AlbumPage {
            items: page.items.into_iter().map(album_item).collect(),
            total: page.total,
        },
        size,
    ))
}

/// Lists tracks.
#[utoipa::path(get, path = "/api/v1/tracks", tag = "catalog",
    security(("bearer" = [])), params(CatalogQuery),
    responses(
        (status = 200, description = "A page of tracks", body = TrackPage),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_tracks(
    app: App,
    actor: Option<Actor>,
    q: CatalogQuery,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let lq = list_query(&q)?;
    let sort = match q.sort.as_deref() {
        None | Some("name") => TrackSort::Name,
        Some("year") => TrackSort::Year,
        Some("date_added") => TrackSort::DateAdded,
        Some(_) => return Err(bad_sort("name, year, date_added")),
    };
    let r = app.catalog.read();
    let page = r.list_tracks(&lq, sort);
    let size = 64 + page.items.len() * TRACK_ITEM_JSON;
    Ok(reply_json_sized(
        StatusCode::OK,
        &TrackPage {
            items: page.items.into_iter().map(track_item).collect(),
            total: page.total,
        },
        size,
    ))
}

/// An artist with albums and top tracks.
#[utoipa::path(get, path = "/api/v1/artists/{id}", tag = "catalog",
    security(("bearer" = [])), params(("id" = String, Path, description = "Artist id")),
    responses(
        (status = 200, description = "The artist", body = ArtistDetail),
        (status = 404, description = "No such artist", body = ErrorBody),
    ))]
pub async fn get_artist(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let id: ArtistId = p.id(0, "artist")?;
    let playlists = super::playlists::artist_playlists(&app, id).map_err(reject)?;
    let follower_count = app
        .social
        .artist_follows
        .count(*id.as_uuid())
        .map_err(reject)?;
    let r = app.catalog.read();
    let artist = r.artist(id).map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &ArtistDetail {
            artist: artist_item(artist),
            albums: r
                .artist_albums(artist)
                .into_iter()
                .map(album_item)
                .collect(),
            top_tracks: r
                .top_tracks(artist, 10)
                .into_iter()
                .map(track_item)
                .collect(),
            follower_count,
            playlists,
        },
    ))
}

/// An album with its tracks in disc and track order.
#[utoipa::path(get, path = "/api/v1/albums/{id}", tag = "catalog",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album id")),
    responses(
        (status = 200, description = "The album", body = AlbumDetail),
        (status = 404, description = "No such album", body = ErrorBody),
    ))]
pub async fn get_album(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let id: AlbumId = p.id(0, "album")?;
    let rating = app.social.album_ratings.summary(id).map_err(reject)?;
    let save_count = app.social.saves.count(*id.as_uuid()).map_err(reject)?;
    let r = app.catalog.read();
    let album = r.album(id).map_err(reject)?;
    let tracks: Vec<_> = r.album_tracks(album).map(track_item).collect();
    let size = 512 + tracks.len() * TRACK_ITEM_JSON;
    let detail = AlbumDetail {
        album: album_item(album),
        tracks,
        rating: rating.into(),
        save_count,
    };
    Ok(reply_json_written(StatusCode::OK, detail.to_json(size)))
}

/// Everything known about a track.
#[utoipa::path(get, path = "/api/v1/tracks/{id}", tag = "catalog",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The track", body = TrackDetail),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn get_track(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let id: TrackId = p.id(0, "track")?;
    let t = app.catalog.track(id).map_err(reject)?;
    let rating = app.social.track_ratings.summary(id).map_err(reject)?;
    let like_count = app.social.likes.count(*id.as_uuid()).map_err(reject)?;
    let r = app.catalog.read();
    let item = track_item(r.track(id).map_err(reject)?);
    let mut detail = track_detail(item, &t);
    detail.rating = rating.into();
    detail.like_count = like_count;
    Ok(reply_json(StatusCode::OK, &detail))
}

/// Genres with counts.
#[utoipa::path(get, path = "/api/v1/genres", tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every genre", body = Vec<GenreItem>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_genres(app: App, actor: Option<Actor>) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let genres: Vec<GenreItem> = app
        .catalog
        .read()
        .genres()
        .into_iter()
        .map(|g| GenreItem {
            name: g.name,
            track_count: g.tracks,
            album_count: g.albums,
        })
        .collect();
    Ok(reply_json(StatusCode::OK, &genres))
}

fn parse_kinds(raw: Option<&str>) -> Result<Vec<Kind>, Rejection> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(vec![Kind::Artist, Kind::Album, Kind::Track]);
    };
    raw.split(',')
        .map(|k| match k.trim() {
            "artist" => Ok(Kind::Artist),
            "album" => Ok(Kind::Album),
            "track" => Ok(Kind::Track),
            _ => Err(reject(Error::invalid(
                "type",
                "must list artist, album or track",
            ))),
        })
        .collect()
}

/// Searches artists, albums and tracks, ignoring case and accents: exact matches first, then
/// prefixes, then substrings.
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog",
    security(("bearer" = [])), params(SearchQuery),
    responses(
        (status = 200, description = "Results per kind", body = SearchResults),
        (status = 400, description = "Bad parameter", body = ErrorBody),
    ))]
pub async fn search(app: App, actor: Option<Actor>, q: SearchQuery) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let kinds = parse_kinds(q.kind.as_deref())?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(reject(Error::invalid("limit", "must be between 1 and 500")));
    }
    let offset = q.offset.unwrap_or(0);
    let mut out = SearchResults {
        artists: ArtistPage {
            items: Vec::new(),
            total: 0,
        },
        albums: AlbumPage {
            items: Vec::new(),
            total: 0,
        },
        tracks: TrackPage {
            items: Vec::new(),
            total: 0,
        },
    };
    let found = app
        .catalog
        .search_index()
        .search_each(&q.q, &kinds, limit, offset);
    let r = app.catalog.read();
    for (kind, results) in found {
        let ids = results.hits.iter().map(|h| uuid::Uuid::from_u128(h.id));
        let total = results.total(kind);
        match kind {
            Kind::Artist => {
                let ids: Vec<ArtistId> = ids.map(ArtistId::from_uuid).collect();
                out.artists = ArtistPage {
                    items: r.artists_by_id(&ids).into_iter().map(artist_item).collect(),
                    total,
                };
            }
            Kind::Album => {
                let ids: Vec<AlbumId> = ids.map(AlbumId::from_uuid).collect();
                out.albums = AlbumPage {
                    items: r.albums_by_id(&ids).into_iter().map(album_item).collect(),
                    total,
                };
            }
            Kind::Track => {
                let ids: Vec<TrackId> = ids.map(TrackId::from_uuid).collect();
                out.tracks = TrackPage {
                    items: r.tracks_by_id(&ids).into_iter().map(track_item).collect(),
                    total,
                };
            }
            Kind::Playlist | Kind::User => {}
        }
    }
    Ok(reply_json(StatusCode::OK, &out))
}

/// Autocomplete: names starting with a word typed so far.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "catalog",
    security(("bearer" = [])), params(SuggestQuery),
    responses(
        (status = 200, description = "Suggestions", body = Vec<Suggestion>),
        (status = 400, description = "Bad parameter", body = ErrorBody),
    ))]
pub async fn suggest(
    app: App,
    actor: Option<Actor>,
    q: SuggestQuery,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(reject(Error::invalid("limit", "must be between 1 and 50")));
    }
    let out: Vec<Suggestion> = app
        .catalog
        .search_index()
        .suggest(&q.q, limit)
        .into_iter()
        .map(|s| Suggestion {
            kind: match s.kind {
                Kind::Artist => "artist",
                Kind::Album => "album",
                Kind::Track => "track",
                Kind::Playlist => "playlist",
                Kind::User => "user",
            }
            .to_owned(),
            id: uuid::Uuid::from_u128(s.id).simple().to_string(),
            name: s.name,
        })
        .collect();
    Ok(reply_json(StatusCode::OK, &out))
}

fn scan_dto(s: ScanStatus) -> ScanStatusDto {
    ScanStatusDto {
        state: match s.state {
            crate::library::ScanState::Idle => "idle",
            crate::library::ScanState::Running => "running",
        }
        .to_owned(),
        full: s.full,
        files_total: s.files_total,
        files_seen: s.files_seen,
        added: s.added,
        updated: s.updated,
        moved: s.moved,
        removed: s.removed,
        failed: s.failed,
        failures: s
            .failures
            .into_iter()
            .map(|f| ScanFailureDto {
                path: f.path,
                reason: f.reason,
            })
            .collect(),
        started_at: s.started_at.map(rfc3339),
        finished_at: s.finished_at.map(rfc3339),
        files_per_sec: s.files_per_sec,
    }
}

/// The running scan's progress, or the last scan's outcome.
#[utoipa::path(get, path = "/api/v1/library/scan", tag = "library",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Scan status", body = ScanStatusDto),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn scan_status(app: App, actor: Actor) -> Result<Response, Rejection> {
    browse(&app, Some(&actor))?;
    Ok(reply_json(StatusCode::OK, &scan_dto(app.library.status())))
}

/// Starts a scan of the media folders (admins).
#[utoipa::path(post, path = "/api/v1/library/scan", tag = "library",
    security(("bearer" = [])),
    request_body = StartScan,
    responses(
        (status = 202, description = "Started", body = ScanStatusDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "A scan is already running", body = ErrorBody),
    ))]
pub async fn start_scan(app: App, actor: Actor, req: StartScan) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::Administer)
        .map_err(reject)?;
    if !Arc::clone(&app.library).start(req.full) {
        return Err(reject(Error::Conflict {
            code: "scan_running",
            message: "a scan is already running".into(),
        }));
    }
    Ok(reply_json(
        StatusCode::ACCEPTED,
        &scan_dto(app.library.status()),
    ))
}

/// The picture of an album or a track, scaled to `size` (aspect kept); a placeholder image
/// when there is none.
#[utoipa::path(get, path = "/api/v1/art/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Album or track id"), ArtQuery),
    responses(
        (status = 200, description = "The image (JPEG when scaled; SVG placeholder when there is none)", content_type = "image/*", body = Vec<u8>),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, description = "Bad size", body = ErrorBody),
        (status = 404, description = "No such album or track", body = ErrorBody),
        (status = 422, description = "The picture is unreadable", body = ErrorBody),
    ))]
pub async fn get_art(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
    q: ArtQuery,
    if_none_match: Option<String>,
) -> Result<Response, Rejection> {
    browse(&app, actor.as_ref())?;
    let id: uuid::Uuid = p.id(0, "artwork")?;
    art_response(&app, id, q.size, if_none_match.as_deref())
        .await
        .map_err(reject)
}

/// The picture of album or track `id` at `size`, or the placeholder; `304` when
/// `if_none_match` is its ETag. Shared by `/api/v1/art/{id}` and the Subsonic `getCoverArt`.
pub(crate) async fn art_response(
    app: &App,
    id: uuid::Uuid,
    size: Option<u32>,
    if_none_match: Option<&str>,
) -> Result<Response, Error> {
    use http::header::{self, HeaderValue};
    if let Some(size) = size {
        if !(crate::library::artwork::MIN_SIZE..=crate::library::artwork::MAX_SIZE).contains(&size)
        {
            return Err(Error::invalid("size", "must be between 16 and 2048"));
        }
    }
    let image = app.artwork.get(&app.catalog, id, size).await?;
    let (body, mime, etag) = match image {
        Some(img) => (img.bytes.as_ref().clone(), img.mime, img.etag),
        None => (
            crate::library::artwork::PLACEHOLDER_SVG.as_bytes().to_vec(),
            "image/svg+xml".to_owned(),
            "\"placeholder\"".to_owned(),
        ),
    };
    let mut res = if if_none_match == Some(etag.as_str()) {
        let mut r = Response::new(bytes::Bytes::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(body.into())
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(res)
}
