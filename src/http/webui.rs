//! The browser app, compiled into the binary from `web-ui/`. Unknown paths that are not API
//! paths get `index.html`, so the app's own routes survive a reload.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use rust_embed::RustEmbed;
use warp::reply::Response;
use warp::Reply;

#[derive(RustEmbed)]
#[folder = "web-ui/"]
struct Assets;

const INDEX: &str = "index.html";

/// Serves `path` (without the leading slash) from the embedded assets.
pub fn serve(path: &str, if_none_match: Option<&str>) -> Option<Response> {
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (path, f),
        None => {
            // A path with an extension names a file: a missing one is a 404, not the app.
            if path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains('.'))
            {
                return None;
            }
            (INDEX, Assets::get(INDEX)?)
        }
    };
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut res = if if_none_match == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Bytes::from(file.data.into_owned()).into())
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // index.html names the other assets, so it is revalidated every time; the rest are
    // revalidated cheaply by ETag.
    let cache = if name == INDEX {
        "no-cache"
    } else {
        "public, max-age=3600, must-revalidate"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(res)
}
