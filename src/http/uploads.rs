//! Handlers for uploads: `POST /api/v1/uploads` (multipart, one file or a whole album) and
//! the tus 1.0 core protocol under `/api/v1/uploads/tus` for resumable uploads. Bodies go to
//! disk in chunks; the service does the rest.

use std::pin::Pin;

use base64::Engine;
use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::artists::{album_dto, UploadResult};
use super::error::{reject, ApiError, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::artists::files::{safe_name, Received};
use crate::artists::model::AlbumKind;
use crate::artists::UploadRequest;
use crate::auth::{Action, Actor};
use crate::domain::{AlbumId, ArtistId};
use crate::error::Error;
use crate::App;

/// A request body as a stream of byte chunks.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// The request body, unread.
pub fn body_stream() -> impl Filter<Extract = (BodyStream,), Error = Rejection> + Clone {
    warp::body::stream().map(boxed)
}

fn boxed<S, B>(s: S) -> BodyStream
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send,
{
    Box::pin(s.map(|r| r.map(|mut b| b.copy_to_bytes(b.remaining()))))
}

const TUS_VERSION: &str = "1.0.0";
const TEXT_LIMIT: usize = 100_000;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::error::Result<T> + Send + 'static,
) -> Result<T, Rejection> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| reject(Error::Internal(format!("upload task: {e}"))))?
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

fn parse_bool(field: &'static str, v: &str) -> Result<bool, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::invalid(field, "expected true or false")),
    }
}

fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Applies one text field of an upload (a form field or a tus metadata pair) to the request.
fn apply_field(req: &mut UploadRequest, name: &str, value: &str) -> Result<(), Error> {
    let text = || Some(value.to_owned());
    match name {
        "profile_id" => {
            req.new_album.profile = Some(
                value
                    .parse::<ArtistId>()
                    .map_err(|_| Error::invalid("profile_id", "not a valid id"))?,
            )
        }
        "album_id" => {
            req.album = Some(
                value
                    .parse::<AlbumId>()
                    .map_err(|_| Error::invalid("album_id", "not a valid id"))?,
            )
        }
        "album_title" => req.new_album.title = text(),
        "album_kind" => {
            req.new_album.kind = Some(AlbumKind::parse(value).ok_or_else(|| {
                Error::invalid("album_kind", "expected album, single, ep or compilation")
            })?)
        }
        "release_date" => req.new_album.release_date = text(),
        "description" => req.new_album.description = text(),
        "label" => req.new_album.label = text(),
        "publish" => req.publish = parse_bool("publish", value)?,
        "title" => req.edit.title = text(),
        "track_number" => {
            req.edit.track_number = Some(
                value
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("track_number", "expected a number"))?,
            )
        }
        "genres" => {
            req.edit.genres = Some(parse_list(value));
            req.new_album.genres = Some(parse_list(value));
        }
        "explicit" => req.edit.explicit = Some(parse_bool("explicit", value)?),
        "lyrics" => req.edit.lyrics = text(),
        "featured_artists" => req.edit.featured = Some(parse_list(value)),
        // tus clients name the file in the metadata; it is read separately.
        "filename" | "filetype" => {}
        other => {
            return Err(Error::Invalid {
                field: "form",
                message: format!("unknown field '{other}'"),
            })
        }
    }
    Ok(())
}

/// The type of a received cover, from its first bytes (clients often send no useful type).
async fn sniff_image(path: &std::path::Path) -> Result<String, Error> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 16];
    let mut f = tokio::fs::File::open(path).await?;
    let n = f.read(&mut head).await?;
    match image::guess_format(&head[..n]) {
        Ok(image::ImageFormat::Png) => Ok("image/png".to_owned()),
        Ok(image::ImageFormat::Jpeg) => Ok("image/jpeg".to_owned()),
        Ok(image::ImageFormat::WebP) => Ok("image/webp".to_owned()),
        _ => Err(Error::UnsupportedMedia(
            "cover: expected a PNG, JPEG or WebP image".to_owned(),
        )),
    }
}

/// What a multipart body held, the files already on disk.
#[derive(Default)]
struct Form {
    req: UploadRequest,
    files: Vec<Received>,
    cover: Option<(String, Received)>,
}

impl Form {
    fn discard(&self) {
        for f in self.files.iter().chain(self.cover.as_ref().map(|(_, c)| c)) {
            f.discard();
        }
    }
}

async fn read_form(
    app: &App,
    mut multipart: multer::Multipart<'static>,
    form: &mut Form,
) -> Result<(), Error> {
    let settings = app.artists.settings().clone();
    let mut used: u64 = 0;
    let bad = |e: multer::Error| Error::invalid("body", format!("malformed multipart body: {e}"));
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "file" | "files" | "file[]" => {
                let file_name = safe_name(field.file_name());
                let room = settings.max_request_bytes.saturating_sub(used);
                let limit = settings.max_file_bytes.min(room);
                let r = app
                    .artists
                    .dirs()
                    .receive(&file_name, field, limit)
                    .await
                    .map_err(|e| match e {
                        Error::TooLarge { .. } => Error::TooLarge {
                            limit: settings.max_file_bytes,
                        },
                        other => other,
                    })?;
                used += r.size;
                form.files.push(r);
            }
            "cover" => {
                let limit = app.config.server.max_image_body_bytes;
                let r = app.artists.dirs().receive("cover", field, limit).await?;
                let mime = match sniff_image(&r.path).await {
                    Ok(m) => m,
                    Err(e) => {
                        r.discard();
                        return Err(e);
                    }
                };
                if let Some((_, old)) = form.cover.replace((mime, r)) {
                    old.discard();
                }
            }
            _ => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if text.len() + chunk.len() > TEXT_LIMIT {
                        return Err(Error::invalid(
                            "form",
                            format!("field '{name}' is longer than {TEXT_LIMIT} bytes"),
                        ));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).map_err(|_| {
                    Error::invalid("form", format!("field '{name}' is not UTF-8 text"))
                })?;
                apply_field(&mut form.req, &name, &text)?;
            }
        }
    }
    Ok(())
}

/// Uploads one audio file or a whole album as `multipart/form-data`: parts named `file` (one
/// or more), an optional `cover` image, and optional text fields: `profile_id`, `album_id` (an
/// existing album) or `album_title`, `album_kind`, `release_date`, `description`, `label` (a
/// new one), `publish`, and overrides of the tags: `title`, `track_number` (one file only),
/// `genres`, `explicit`, `lyrics`, `featured_artists` (comma-separated lists).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "artists",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "multipart/form-data",
        description = "Audio files, cover and fields"),
    responses(
        (status = 201, description = "The tracks and their album", body = UploadResult),
        (status = 400, description = "Malformed form", body = ErrorBody),
        (status = 403, description = "Not an artist", body = ErrorBody),
        (status = 409, description = "This audio was already uploaded; names the track", body = ErrorBody),
        (status = 413, description = "A file or the request exceeds the limit", body = ErrorBody),
        (status = 415, description = "Not multipart, or a cover that is not an image", body = ErrorBody),
        (status = 422, description = "A file is not audio; names it and why", body = ErrorBody),
    ))]
pub async fn upload(
    app: App,
    actor: Actor,
    content_length: Option<u64>,
    content_type: Option<String>,
    body: BodyStream,
) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::Upload)
        .map_err(reject)?;
    let limit = app.artists.settings().max_request_bytes;
    if content_length.is_some_and(|n| n > limit) {
        return Err(reject(Error::TooLarge { limit }));
    }
    let boundary = content_type
        .as_deref()
        .and_then(|c| multer::parse_boundary(c).ok())
        .ok_or_else(|| {
            reject(ApiError::UnsupportedContentType {
                expected: "multipart/form-data",
            })
        })?;
    let multipart = multer::Multipart::new(body, boundary);
    let mut form = Form::default();
    if let Err(e) = read_form(&app, multipart, &mut form).await {
        form.discard();
        return Err(reject(e));
    }
    let name = match account_name(&app, &actor) {
        Ok(n) => n,
        Err(e) => {
            form.discard();
            return Err(e);
        }
    };
    let a = app.clone();
    let (view, new) = blocking(move || {
        let Form { req, files, cover } = form;
        a.artists.finish_upload(&actor, &name, req, files, cover)
    })
    .await?;
    let result = UploadResult {
        track_ids: new.iter().map(|t| t.to_string()).collect(),
        album: album_dto(&app, &view).map_err(reject)?,
    };
    Ok(reply_json(StatusCode::CREATED, &result))
}

fn tus_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn empty(status: StatusCode) -> Response {
    let mut res = Response::new(Bytes::new().into());
    *res.status_mut() = status;
    tus_headers(&mut res);
    res
}

fn check_tus_version(headers: &HeaderMap) -> Result<(), Rejection> {
    match headers
        .get("tus-resumable")
        .map(|v| v.to_str().unwrap_or(""))
    {
        Some(TUS_VERSION) | None => Ok(()),
        Some(_) => Err(reject(Error::Conflict {
            code: "tus_version",
            message: format!("only tus {TUS_VERSION} is supported"),
        })),
    }
}

/// Decodes `Upload-Metadata`: comma-separated `key base64value` pairs.
fn parse_metadata(raw: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pair in raw.split(',') {
        let mut it = pair.trim().splitn(2, ' ');
        let key = it.next().unwrap_or("").trim();
        if key.is_empty() {
            return Err(Error::invalid("Upload-Metadata", "a key is empty"));
        }
        let value = match it.next() {
            Some(v) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .map_err(|_| {
                        Error::invalid("Upload-Metadata", format!("'{key}' is not base64"))
                    })?;
                String::from_utf8(bytes).map_err(|_| {
                    Error::invalid("Upload-Metadata", format!("'{key}' is not UTF-8"))
                })?
            }
            None => String::new(),
        };
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// tus: what the server supports.
#[utoipa::path(options, path = "/api/v1/uploads/tus", tag = "artists",
    responses((status = 204, description = "Tus-Version, Tus-Extension and Tus-Max-Size headers")))]
pub async fn tus_options(app: App) -> Result<Response, Rejection> {
    let mut res = empty(StatusCode::NO_CONTENT);
    let h = res.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert(
        "tus-extension",
        HeaderValue::from_static("creation,termination"),
    );
    h.insert(
        "tus-max-size",
        HeaderValue::from(app.artists.settings().max_file_bytes),
    );
    Ok(res)
}

/// tus: creates a resumable upload of `Upload-Length` bytes. `Upload-Metadata` carries
/// `filename` and the same fields as a multipart upload (`album_id`, `publish`, ...).
#[utoipa::path(post, path = "/api/v1/uploads/tus", tag = "artists",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; Location names the upload"),
        (status = 400, description = "Missing or bad Upload-Length or Upload-Metadata", body = ErrorBody),
        (status = 403, description = "Not an artist", body = ErrorBody),
        (status = 413, description = "Upload-Length exceeds the limit", body = ErrorBody),
    ))]
pub async fn tus_create(app: App, actor: Actor, headers: HeaderMap) -> Result<Response, Rejection> {
    check_tus_version(&headers)?;
    app.policy
        .check(Some(&actor), Action::Upload)
        .map_err(reject)?;
    let length: u64 = headers
        .get("upload-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            reject(Error::invalid(
                "Upload-Length",
                "a length in bytes is required",
            ))
        })?;
    let metadata = parse_metadata(headers.get("upload-metadata").and_then(|v| v.to_str().ok()))
        .map_err(reject)?;
    // The fields are checked now, so a bad one is refused before any byte is sent.
    let mut req = UploadRequest::default();
    for (k, v) in &metadata {
        apply_field(&mut req, k, v).map_err(reject)?;
    }
    let a = app.clone();
    let id = blocking(move || a.artists.tus_create(&actor, length, metadata)).await?;
    let mut res = empty(StatusCode::CREATED);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/uploads/tus/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// tus: the upload's offset.
#[utoipa::path(head, path = "/api/v1/uploads/tus/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Upload id")),
    responses(
        (status = 200, description = "Upload-Offset and Upload-Length headers"),
        (status = 404, description = "No such upload"),
    ))]
pub async fn tus_head(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let (up, offset) = app.artists.tus_get(&actor, p.text(0)).map_err(reject)?;
    let mut res = empty(StatusCode::OK);
    let h = res.headers_mut();
    h.insert("upload-offset", HeaderValue::from(offset));
    h.insert("upload-length", HeaderValue::from(up.length));
    Ok(res)
}

/// tus: appends bytes at `Upload-Offset`. The last piece runs the upload through the same
/// pipeline as a multipart upload; its track ids come back in `Upload-Track-Ids`.
#[utoipa::path(patch, path = "/api/v1/uploads/tus/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Upload id")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Appended; Upload-Offset is the new offset"),
        (status = 404, description = "No such upload", body = ErrorBody),
        (status = 409, description = "Upload-Offset differs from the server's, or duplicate audio", body = ErrorBody),
        (status = 413, description = "More bytes than Upload-Length", body = ErrorBody),
        (status = 415, description = "Wrong Content-Type", body = ErrorBody),
        (status = 422, description = "The finished file is not audio", body = ErrorBody),
    ))]
pub async fn tus_patch(
    p: PathParams,
    app: App,
    actor: Actor,
    headers: HeaderMap,
    body: BodyStream,
) -> Result<Response, Rejection> {
    check_tus_version(&headers)?;
    let id = p.text(0).to_owned();
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.split(';').next().unwrap_or("").trim() != "application/offset+octet-stream" {
        return Err(reject(ApiError::UnsupportedContentType {
            expected: "application/offset+octet-stream",
        }));
    }
    let claimed: u64 = headers
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| reject(Error::invalid("Upload-Offset", "an offset is required")))?;
    let _busy = app.artists.tus_lock(&id).map_err(reject)?;
    let (up, offset) = app.artists.tus_get(&actor, &id).map_err(reject)?;
    if claimed != offset {
        return Err(reject(Error::Conflict {
            code: "offset_mismatch",
            message: format!("the upload is at offset {offset}, not {claimed}"),
        }));
    }
    let offset = app
        .artists
        .dirs()
        .append_tus(&id, body, up.length)
        .await
        .map_err(|e| match e {
            Error::TooLarge { .. } => reject(Error::TooLarge { limit: up.length }),
            other => reject(other),
        })?;
    let mut res = empty(StatusCode::NO_CONTENT);
    res.headers_mut()
        .insert("upload-offset", HeaderValue::from(offset));
    if offset < up.length {
        return Ok(res);
    }
    let name = account_name(&app, &actor)?;
    let a = app.clone();
    let (view, new) = blocking(move || {
        let mut req = UploadRequest::default();
        let mut file_name = None;
        for (k, v) in &up.metadata {
            if k == "filename" {
                file_name = Some(v.clone());
            }
            apply_field(&mut req, k, v)?;
        }
        let file = a
            .artists
            .dirs()
            .tus_to_received(&id, &safe_name(file_name.as_deref()))?;
        let outcome = a
            .artists
            .finish_upload(&actor, &name, req, vec![file], None);
        a.artists.tus_finished(&id)?;
        outcome
    })
    .await?;
    let ids: Vec<String> = new.iter().map(|t| t.to_string()).collect();
    if let Ok(v) = HeaderValue::from_str(&ids.join(",")) {
        res.headers_mut().insert("upload-track-ids", v);
    }
    if let Ok(v) = HeaderValue::from_str(&view.album.id.to_string()) {
        res.headers_mut().insert("upload-album-id", v);
    }
    Ok(res)
}

/// tus: abandons an upload and deletes its bytes.
#[utoipa::path(delete, path = "/api/v1/uploads/tus/{id}", tag = "artists",
    security(("bearer" = [])), params(("id" = String, Path, description = "Upload id")),
    responses(
        (status = 204, description = "Terminated"),
        (status = 404, description = "No such upload", body = ErrorBody),
    ))]
pub async fn tus_delete(p: PathParams, app: App, actor: Actor) -> Result<Response, Rejection> {
    let id = p.text(0).to_owned();
    let _busy = app.artists.tus_lock(&id).map_err(reject)?;
    app.artists.tus_delete(&actor, &id).map_err(reject)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tus_metadata_decodes() {
        let m = parse_metadata(Some(
            "filename d29ybGRfZG9taW5hdGlvbi5tcDM=,publish dHJ1ZQ==,empty",
        ))
        .unwrap();
        assert_eq!(
            m,
            vec![
                ("filename".into(), "world_domination.mp3".into()),
                ("publish".into(), "true".into()),
                ("empty".into(), String::new()),
            ]
        );
        assert!(parse_metadata(Some("filename !!!")).is_err());
        assert!(parse_metadata(None).unwrap().is_empty());
    }

    #[test]
    fn form_fields_are_checked() {
        let mut r = UploadRequest::default();
        assert!(apply_field(&mut r, "publish", "maybe").is_err());
        assert!(apply_field(&mut r, "bogus", "x").is_err());
        apply_field(&mut r, "genres", "Rock, Jazz,").unwrap();
        assert_eq!(r.edit.genres, Some(vec!["Rock".into(), "Jazz".into()]));
    }
}
