//! Handlers for a track's audio (stream and download, with ranges and conditional requests),
//! its download count, and the stream tokens that let `<audio>` and `<img>` URLs authenticate.
//!
//! # Callers
//! Stream, download and artwork URLs take either `Authorization: Bearer <access token>` or
//! `?token=<stream token>`; each credential sent must be valid. A stream token opens only the
//! resource it was issued for: another track or picture answers 403. Access then follows the
//! browsing rule (`Action::Browse`: anonymous only when `access.public`).
//!
//! # Transcoding
//! `format`, `bitrate`, `quality` and `offset` on the stream URL ask for a transcode (rules in
//! [`crate::media::transcoder::Transcoder::plan`]). A live transcode is sent as it is produced:
//! `200`, chunked, `Accept-Ranges: none`. A finished one is cached, and the same request is
//! then answered from the cached file like an original: exact length, `ETag`, ranges.
//!
//! # Download counting
//! A download is counted when a `GET /download` is answered with the file's first byte: a 200,
//! or a 206 whose first range starts at byte 0. Resumes and seeks (ranges starting later), HEAD,
//! 304 and 416 answers are not counted, so a player fetching a file in pieces counts once.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::dto::rfc3339;
use super::error::{reject, ErrorBody};
use super::router::PathParams;
use super::{public_path, reply_json};
use crate::auth::stream_token::Scope;
use crate::auth::{Action, Actor};
use crate::domain::{AlbumId, TrackId};
use crate::error::Error;
use crate::media::range::{decide, ByteRange, Conditions, Decision};
use crate::media::serve::Body;
use crate::media::transcode::{content_type, Codec, Spec};
use crate::media::transcoder::{Plan, StreamRequest, Transcoder};
use crate::media::AudioFile;
use crate::App;

/// The `token` query parameter of stream, download and artwork URLs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// A stream token from `POST /api/v1/tracks/{id}/stream-token` or
    /// `POST /api/v1/art/{id}/token`, for clients that cannot send an `Authorization` header.
    pub token: Option<String>,
}

/// The query of a stream URL: the token, and what to transcode to.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A stream token, as for [`TokenQuery`].
    pub token: Option<String>,
    /// Transcode to this format: `opus` (in Ogg) or `mp3`. Without `bitrate`: 96 kbps for
    /// Opus, 192 for MP3.
    #[param(value_type = Option<String>)]
    pub format: Option<Codec>,
    /// Target bitrate in kbps (Opus 6-256; MP3 32-320, rounded to an MP3 rate). Alone, it
    /// uses the default profile's format.
    pub bitrate: Option<u32>,
    /// A named profile from `transcode.profiles` (`low`, `mobile`, `high`, `compatible` by
    /// default), or `original`. Not combined with `format` or `bitrate`.
    pub quality: Option<String>,
    /// Start this many seconds into the track (transcodes only; never cached).
    pub offset: Option<f64>,
}

/// A stream token for a track, with ready-made URLs.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackToken {
    /// The token, for the `token` query parameter.
    pub token: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// The stream URL with the token, relative to the server.
    pub stream_url: String,
    /// The download URL with the token, relative to the server.
    pub download_url: String,
}

/// A stream token for a picture, with a ready-made URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtToken {
    /// The token, for the `token` query parameter.
    pub token: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// The artwork URL with the token, relative to the server (add `&size=` as needed).
    pub art_url: String,
}

/// Usage figures of a track.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackStats {
    /// The track.
    pub track_id: String,
    /// Downloads counted (see the streaming section of the README for the rule).
    pub download_count: u64,
}

/// The caller of a URL that takes either credential: each one sent must be valid; the bearer
/// token's caller wins when both are.
fn caller(
    app: &App,
    bearer: Option<Actor>,
    token: Option<&str>,
    scope: Scope,
) -> Result<Option<Actor>, Rejection> {
    let from_token = token
        .map(|t| app.accounts.authenticate_stream(t, scope))
        .transpose()
        .map_err(reject)?;
    Ok(bearer.or(from_token))
}

/// The caller of `GET /api/v1/art/{id}`, which also takes a stream token for that picture.
/// Runs before the artwork handler, which then sees an ordinary caller.
pub async fn art_caller(
    p: PathParams,
    app: App,
    bearer: Option<Actor>,
    q: TokenQuery,
) -> Result<(PathParams, App, Option<Actor>), Rejection> {
    let actor = match q.token.as_deref() {
        None => bearer,
        Some(token) => {
            let id: uuid::Uuid = p.id(0, "artwork")?;
            caller(&app, bearer, Some(token), Scope::Art(id))?
        }
    };
    Ok((p, app, actor))
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Characters that RFC 8187 `attr-char` allows unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with the file's name: an ASCII fallback in a quoted string (quotes, backslashes,
/// control characters and path separators removed, other non-ASCII replaced) for old clients,
/// and the exact name as RFC 8187 `filename*` for the rest.
fn content_disposition(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .collect();
    let clean = clean.trim().trim_start_matches('.');
    let clean = if clean.is_empty() { "track" } else { clean };
    let ascii: String = clean
        .chars()
        .filter(|c| *c != '"')
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(clean, ATTR_CHAR)
    )
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A random multipart boundary: 128 bits never found in audio by chance.
fn boundary() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether the answer hands out the file's first byte (see the module notes).
fn starts_the_file(d: &Decision) -> bool {
    match d {
        Decision::Full => true,
        Decision::Single(r) => r.first == 0,
        Decision::Multi(rs) => rs.first().is_some_and(|r| r.first == 0),
        Decision::NotModified | Decision::Unsatisfiable => false,
    }
}

/// The answer to a GET or HEAD of `file`, as decided.
fn respond(method: &Method, file: AudioFile, decision: Decision) -> Response {
    let AudioFile {
        file: handle,
        len,
        validators,
        mime,
        ..
    } = file;
    let (status, body, content_type, content_range) = match decision {
        Decision::NotModified => (StatusCode::NOT_MODIFIED, None, None, None),
        Decision::Full => {
            let body = (len > 0).then(|| {
                Body::range(
                    handle,
                    ByteRange {
                        first: 0,
                        last: len - 1,
                    },
                )
            });
            (StatusCode::OK, body, Some(mime.to_owned()), None)
        }
        Decision::Single(r) => (
            StatusCode::PARTIAL_CONTENT,
            Some(Body::range(handle, r)),
            Some(mime.to_owned()),
            Some(format!("bytes {}-{}/{len}", r.first, r.last)),
        ),
        Decision::Multi(ranges) => {
            let b = boundary();
            (
                StatusCode::PARTIAL_CONTENT,
                Some(Body::multipart(handle, &ranges, len, mime, &b)),
                Some(format!("multipart/byteranges; boundary={b}")),
                None,
            )
        }
        // Turned into an error by the caller, which has the length.
        Decision::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, None, None, None),
    };
    let body_len = body.as_ref().map_or(0, Body::len);
    let mut res = match body {
        Some(body) if method != Method::HEAD => {
            warp::reply::stream(body.into_stream()).into_response()
        }
        _ => Response::default(),
    };
    *res.status_mut() = status;
    let h = res.headers_mut();
    if status != StatusCode::NOT_MODIFIED {
        // Exact, and kept on HEAD: players size their buffers from it.
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    }
    if let Some(ct) = content_type {
        insert(h, header::CONTENT_TYPE, &ct);
    }
    if let Some(cr) = content_range {
        insert(h, header::CONTENT_RANGE, &cr);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    insert(h, header::ETAG, &validators.etag);
    insert(
        h,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(validators.last_modified),
    );
    // Audio is never compressed or transformed: clients seek by byte offset. Private, since
    // access depends on who asks; an hour, as the validators make revalidation cheap.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600, no-transform"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Whether this request is the stream or the download of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Stream,
    Download,
}

async fn serve_track(
    purpose: Purpose,
    p: PathParams,
    method: Method,
    app: App,
    bearer: Option<Actor>,
    q: TokenQuery,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let actor = caller(&app, bearer, q.token.as_deref(), Scope::Track(id))?;
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let file = app.media.open(&app.catalog, id).await.map_err(reject)?;
    answer_file(purpose, &app, &method, &headers, file).map_err(reject)
}

/// The answer with `file` (an original or a cached transcode) to a GET or HEAD with
/// `headers`: ranges and conditional requests decided, downloads counted.
fn answer_file(
    purpose: Purpose,
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    file: AudioFile,
) -> Result<Response, Error> {
    let id = file.track;
    let conditions = Conditions {
        range: header_str(headers, header::RANGE),
        if_range: header_str(headers, header::IF_RANGE),
        if_none_match: header_str(headers, header::IF_NONE_MATCH),
        if_modified_since: header_str(headers, header::IF_MODIFIED_SINCE),
    };
    let decision = decide(&conditions, &file.validators, file.len);
    if decision == Decision::Unsatisfiable {
        return Err(Error::RangeNotSatisfiable { length: file.len });
    }
    let counted = purpose == Purpose::Download && method == Method::GET;
    if counted && starts_the_file(&decision) {
        app.media.count_download(id)?;
    }
    let name = file.file_name.clone();
    let mut res = respond(method, file, decision);
    if purpose == Purpose::Download {
        insert(
            res.headers_mut(),
            header::CONTENT_DISPOSITION,
            &content_disposition(&name),
        );
    }
    Ok(res)
}

/// A transcode of `file` by `spec`: from the cache when a whole-track result is there (with
/// ranges, like an original), otherwise live in a free transcoding slot.
async fn serve_transcode(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    file: AudioFile,
    spec: Spec,
) -> Result<Response, Error> {
    let key = Transcoder::cache_key(&file, &spec);
    if let Some(key) = key {
        if let Some(cached) = app.transcoder.cached(key).await? {
            return answer_file(Purpose::Stream, app, method, headers, cached);
        }
    }
    let mut res = if method == Method::HEAD {
        // The length is unknown until the transcode has run; a HEAD does not start one.
        Response::default()
    } else {
        let live = app
            .transcoder
            .start(file.track, file.path.clone(), spec, key)?;
        let body = live.into_body().await?;
        warp::reply::stream(body).into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(spec.codec)),
    );
    // Byte positions in output still being produced mean nothing yet; seek with `offset`.
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store, no-transform"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

/// A track's audio: the original file, with RFC 9110 range and conditional requests (`Range`
/// (`bytes=a-b`, `a-`, `-n`, several as `multipart/byteranges`, at most 16 specs, overlapping
/// ones merged; more, or invalid syntax, and the whole file is sent), `If-Range`,
/// `If-None-Match` and `If-Modified-Since`; never compressed), or a transcode when `format`,
/// `bitrate` or `quality` asks for one or the caller's maximum bitrate requires it. A live
/// transcode is chunked with `Accept-Ranges: none`; a cached one is served like the original.
#[utoipa::path(method(get, head), path = "/api/v1/tracks/{id}/stream", tag = "streaming",
    security(("bearer" = []), ()),
    params(
        ("id" = String, Path, description = "Track id"),
        StreamQuery,
        ("Range" = Option<String>, Header, description = "Byte ranges, e.g. `bytes=0-1023`"),
        ("If-Range" = Option<String>, Header, description = "Honour `Range` only if the file still has this ETag or date"),
        ("If-None-Match" = Option<String>, Header, description = "304 if the ETag matches"),
        ("If-Modified-Since" = Option<String>, Header, description = "304 if unchanged since (ignored with If-None-Match)"),
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/*", body = Vec<u8>),
        (status = 206, description = "The requested range, or `multipart/byteranges` for several", content_type = "audio/*", body = Vec<u8>),
        (status = 304, description = "Unchanged"),
        (status = 400, description = "Invalid format, bitrate, quality or offset (named in `field`)", body = ErrorBody),
        (status = 401, description = "Not signed in, or the token is invalid or expired", body = ErrorBody),
        (status = 403, description = "The stream token is for another resource", body = ErrorBody),
        (status = 404, description = "No such track, or its file is missing", body = ErrorBody),
        (status = 416, description = "No range overlaps the file; `Content-Range: bytes */length`", body = ErrorBody),
        (status = 422, description = "The file cannot be decoded for transcoding", body = ErrorBody),
        (status = 503, description = "Every transcoding slot is busy; see `Retry-After`", body = ErrorBody),
    ))]
pub async fn stream_track(
    p: PathParams,
    method: Method,
    app: App,
    bearer: Option<Actor>,
    q: StreamQuery,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let id: TrackId = p.id(0, "track")?;
    let actor = caller(&app, bearer, q.token.as_deref(), Scope::Track(id))?;
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let cap = user_cap(&app, actor.as_ref()).map_err(reject)?;
    serve_audio(
        &app,
        &method,
        &headers,
        cap,
        id,
        StreamRequest {
            format: q.format,
            bitrate_kbps: q.bitrate,
            quality: q.quality,
            offset_secs: q.offset,
        },
    )
    .await
    .map_err(reject)
}

/// The highest bitrate `actor` wants streamed (their settings), if any.
pub(crate) fn user_cap(app: &App, actor: Option<&Actor>) -> Result<Option<u32>, Error> {
    Ok(match actor {
        Some(a) => app.accounts.user_settings(a.user_id)?.max_bitrate_kbps,
        None => None,
    })
}

/// Track `id`'s audio for a caller already allowed to browse: the original with ranges, or
/// the transcode `request` and the bitrate `cap` ask for. Shared by
/// `/api/v1/tracks/{id}/stream` and the Subsonic `stream`.
pub(crate) async fn serve_audio(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    cap: Option<u32>,
    id: TrackId,
    request: StreamRequest,
) -> Result<Response, Error> {
    let file = app.media.open(&app.catalog, id).await?;
    match app.transcoder.plan(&request, cap, file.average_kbps())? {
        Plan::Original => answer_file(Purpose::Stream, app, method, headers, file),
        Plan::Transcode(spec) => serve_transcode(app, method, headers, file, spec).await,
    }
}

/// Track `id`'s original file as a download (counted), for an allowed caller. Shared by
/// `/api/v1/tracks/{id}/download` and the Subsonic `download`.
pub(crate) async fn serve_download(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    id: TrackId,
) -> Result<Response, Error> {
    let file = app.media.open(&app.catalog, id).await?;
    answer_file(Purpose::Download, app, method, headers, file)
}

/// A track's original file as an attachment (`Content-Disposition` with the file's name).
/// Ranges work as for the stream. Counted as a download when the answer starts at byte 0.
#[utoipa::path(method(get, head), path = "/api/v1/tracks/{id}/download", tag = "streaming",
    security(("bearer" = []), ()),
    params(
        ("id" = String, Path, description = "Track id"),
        TokenQuery,
        ("Range" = Option<String>, Header, description = "Byte ranges, as for the stream"),
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested range(s)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "Unchanged"),
        (status = 401, description = "Not signed in, or the token is invalid or expired", body = ErrorBody),
        (status = 403, description = "The stream token is for another resource", body = ErrorBody),
        (status = 404, description = "No such track, or its file is missing", body = ErrorBody),
        (status = 416, description = "No range overlaps the file", body = ErrorBody),
    ))]
pub async fn download_track(
    p: PathParams,
    method: Method,
    app: App,
    bearer: Option<Actor>,
    q: TokenQuery,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    serve_track(Purpose::Download, p, method, app, bearer, q, headers).await
}

/// A stream token for a track: put it in `?token=` of the stream or download URL where no
/// `Authorization` header can be sent. Valid for `auth.stream_token_ttl_secs`, for this track
/// only, and only while the session that asked for it lasts.
#[utoipa::path(post, path = "/api/v1/tracks/{id}/stream-token", tag = "streaming",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The token and URLs", body = TrackToken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn create_stream_token(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::Browse)
        .map_err(reject)?;
    let id: TrackId = p.id(0, "track")?;
    app.catalog.read().track(id).map_err(reject)?;
    let (token, expires) = app
        .accounts
        .issue_stream_token(&actor, Scope::Track(id), app.config.auth.stream_token_ttl)
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &TrackToken {
            stream_url: public_path(&app, &format!("/api/v1/tracks/{id}/stream?token={token}")),
            download_url: public_path(&app, &format!("/api/v1/tracks/{id}/download?token={token}")),
            expires_at: rfc3339(expires),
            token,
        },
    ))
}

/// A stream token for a picture (an album or track id), for `<img src>`.
#[utoipa::path(post, path = "/api/v1/art/{id}/token", tag = "streaming",
    security(("bearer" = [])), params(("id" = String, Path, description = "Album or track id")),
    responses(
        (status = 200, description = "The token and URL", body = ArtToken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such album or track", body = ErrorBody),
    ))]
pub async fn create_art_token(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::Browse)
        .map_err(reject)?;
    let id: uuid::Uuid = p.id(0, "artwork")?;
    let known = {
        let r = app.catalog.read();
        r.album(AlbumId::from_uuid(id)).is_ok() || r.track(TrackId::from_uuid(id)).is_ok()
    };
    if !known {
        return Err(reject(Error::NotFound("artwork")));
    }
    let (token, expires) = app
        .accounts
        .issue_stream_token(&actor, Scope::Art(id), app.config.auth.stream_token_ttl)
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &ArtToken {
            art_url: public_path(&app, &format!("/api/v1/art/{}?token={token}", id.simple())),
            expires_at: rfc3339(expires),
            token,
        },
    ))
}

/// A track's usage figures; for whoever may see its statistics (admins, for library tracks).
#[utoipa::path(get, path = "/api/v1/tracks/{id}/stats", tag = "streaming",
    security(("bearer" = [])), params(("id" = String, Path, description = "Track id")),
    responses(
        (status = 200, description = "The figures", body = TrackStats),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed to see this track's statistics", body = ErrorBody),
        (status = 404, description = "No such track", body = ErrorBody),
    ))]
pub async fn get_track_stats(
    p: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    // Library tracks have no owning account until uploads exist, so only admins see them.
    app.policy
        .check(actor.as_ref(), Action::ViewStats { owner: None })
        .map_err(reject)?;
    let id: TrackId = p.id(0, "track")?;
    app.catalog.read().track(id).map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &TrackStats {
            track_id: id.to_string(),
            download_count: app.media.download_count(id).map_err(reject)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_is_safe_and_exact() {
        assert_eq!(
            content_disposition("01 - Song.flac"),
            "attachment; filename=\"01 - Song.flac\"; filename*=UTF-8''01%20-%20Song.flac"
        );
        let d = content_disposition("Björk \"Jóga\"\r\n/..\\x.mp3");
        assert_eq!(
            d,
            "attachment; filename=\"Bj_rk J_ga..x.mp3\"; \
             filename*=UTF-8''Bj%C3%B6rk%20%22J%C3%B3ga%22..x.mp3"
        );
        assert!(HeaderValue::from_str(&d).is_ok());
        assert!(content_disposition("").contains("filename=\"track\""));
        assert!(content_disposition("../..").contains("filename=\"track\""));
        assert!(content_disposition("\u{7f}\u{0}").contains("filename=\"track\""));
    }
}
