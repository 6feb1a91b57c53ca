//! The browser app, compiled into the binary from `web-ui/` and gzip-compressed once at
//! start-up, so every request is a lookup.
//!
//! URLs: files live under `v/<version>/`, where the version is a hash of every file, so a
//! changed app has new URLs and each file can be cached for good. `index.html` answers `/`
//! and every path that does not name a file (the app routes on the path, so a deep link or a
//! reload lands in the app); it names the versioned files, so it is revalidated on each load.
//! Every URL in the app is relative to the `<base href>` written into `index.html`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::write::GzEncoder;
use http::{header, HeaderValue, StatusCode};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

#[derive(RustEmbed)]
#[folder = "web-ui/"]
struct Files;

const INDEX: &str = "index.html";
/// Versioned files never change under their URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` and unversioned files: revalidated by ETag on every use.
const REVALIDATE: &str = "no-cache";

/// One file, ready to send.
struct Asset {
    mime: HeaderValue,
    raw: Bytes,
    /// Present when compressing saves something.
    gzip: Option<Bytes>,
    /// Of the raw bytes; the gzip variant's is this with a suffix.
    etag: String,
}

/// Every file of the app, in memory.
pub struct WebUi {
    files: HashMap<String, Asset>,
    version: String,
}

impl WebUi {
    /// Reads and compresses the embedded files; `base_url` is the site's path prefix (`""` or
    /// `/music`).
    pub fn load(base_url: &str) -> Self {
        let mut hashes: Vec<(String, [u8; 32])> = Files::iter()
            .filter_map(|p| Files::get(&p).map(|f| (p.into_owned(), f.metadata.sha256_hash())))
            .collect();
        hashes.sort();
        let mut h = Sha256::new();
        for (path, hash) in &hashes {
            h.update(path.as_bytes());
            h.update(hash);
        }
        let version = hex(&h.finalize()[..6]);
        let files = hashes
            .iter()
            .filter_map(|(path, _)| {
                let file = Files::get(path)?;
                let data = if path == INDEX {
                    render_index(&String::from_utf8_lossy(&file.data), &version, base_url)
                        .into_bytes()
                } else {
                    file.data.into_owned()
                };
                Some((path.clone(), Asset::new(file.metadata.mimetype(), data)))
            })
            .collect();
        Self { files, version }
    }

    /// The response for `path` (without the leading slash), or `None` for a missing file.
    fn serve(
        &self,
        path: &str,
        accept_encoding: Option<&str>,
        inm: Option<&str>,
    ) -> Option<Response> {
        let (asset, cache) = match path.strip_prefix("v/").and_then(|p| p.split_once('/')) {
            // A page loaded before an upgrade may ask for an old version: it gets the current
            // file, but not cached under the old URL.
            Some((version, name)) => (
                self.files.get(name)?,
                if version == self.version {
                    IMMUTABLE
                } else {
                    REVALIDATE
                },
            ),
            None => match self.files.get(path).filter(|_| path != INDEX) {
                Some(asset) => (asset, REVALIDATE),
                // A path whose last segment has a dot names a file: a missing one is a 404.
                None if path
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains('.')) =>
                {
                    return None
                }
                None => (self.files.get(INDEX)?, REVALIDATE),
            },
        };
        Some(asset.respond(accepts_gzip(accept_encoding.unwrap_or("")), inm, cache))
    }
}

impl Asset {
    fn new(mime: &str, raw: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", hex(&Sha256::digest(&raw)[..12]));
        let gzip = compressible(mime)
            .then(|| gzip(&raw))
            .flatten()
            .filter(|z| z.len() < raw.len());
        Self {
            mime: HeaderValue::from_str(mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            raw: Bytes::from(raw),
            gzip: gzip.map(Bytes::from),
            etag,
        }
    }

    fn respond(&self, gzip_ok: bool, inm: Option<&str>, cache: &'static str) -> Response {
        let (body, etag, encoded) = match &self.gzip {
            Some(z) if gzip_ok => (z, format!("{}-gz\"", self.etag.trim_end_matches('"')), true),
            _ => (&self.raw, self.etag.clone(), false),
        };
        let fresh = inm.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        let mut res = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            Response::new(body.clone().into())
        };
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, self.mime.clone());
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if self.gzip.is_some() {
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if encoded && !fresh {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        res
    }
}

/// `index.html` with its placeholders filled in: `{{version}}` in the file URLs, and the
/// `<base href>` pointing at the site's prefix, which every relative URL of the app resolves
/// against.
fn render_index(template: &str, version: &str, base_url: &str) -> String {
    let html = template.replace("{{version}}", version);
    let base = format!("<base href=\"{base_url}/\">");
    match (html.find("<base "), html.find("<head>")) {
        (Some(start), _) => match html[start..].find('>') {
            Some(len) => format!("{}{base}{}", &html[..start], &html[start + len + 1..]),
            None => html,
        },
        (None, Some(head)) => {
            let at = head + "<head>".len();
            format!("{}\n{base}{}", &html[..at], &html[at..])
        }
        (None, None) => html,
    }
}

fn compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.contains("javascript")
        || mime.contains("json")
        || mime.contains("svg")
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut z = GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).ok()?;
    z.finish().ok()
}

/// Whether an `Accept-Encoding` value allows gzip (by name or `*`, with a non-zero weight).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut params = part.split(';');
        let coding = params.next().unwrap_or("").trim();
        let refused = params.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET` of any path outside `/api`, `/rest` and `/metrics` (those stay JSON 404s).
pub fn filter(base_url: &str) -> BoxedFilter<(Response,)> {
    let ui = Arc::new(WebUi::load(base_url));
    warp::get()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(
            move |full: warp::path::FullPath, ae: Option<String>, inm: Option<String>| {
                let ui = Arc::clone(&ui);
                async move {
                    let path = full.as_str().trim_start_matches('/');
                    if path == "api"
                        || path.starts_with("api/")
                        || path.starts_with("rest/")
                        || path == "metrics"
                    {
                        return Err::<Response, Rejection>(warp::reject::not_found());
                    }
                    ui.serve(path, ae.as_deref(), inm.as_deref())
                        .ok_or_else(warp::reject::not_found)
                }
            },
        )
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn index_names_versioned_files_that_exist() {
        let ui = WebUi::load("");
        let index = String::from_utf8_lossy(&ui.files[INDEX].raw).into_owned();
        assert!(!index.contains("{{"), "placeholders left in {index}");
        let prefix = format!("v/{}/", ui.version);
        let mut named = 0;
        for part in index.split(&prefix).skip(1) {
            let name = part.split('"').next().unwrap_or("");
            assert!(
                ui.files.contains_key(name),
                "index.html names missing {name}"
            );
            named += 1;
        }
        assert!(
            named >= 2,
            "index.html names the script and the style sheet"
        );
    }

    #[test]
    fn index_base_follows_the_prefix() {
        let root = WebUi::load("");
        let index = String::from_utf8_lossy(&root.files[INDEX].raw).into_owned();
        assert_eq!(index.matches("<base ").count(), 1);
        assert!(index.contains("<base href=\"/\">"), "{index}");
        let sub = WebUi::load("/music");
        let index = String::from_utf8_lossy(&sub.files[INDEX].raw).into_owned();
        assert_eq!(index.matches("<base ").count(), 1);
        assert!(index.contains("<base href=\"/music/\">"), "{index}");
        assert_eq!(
            render_index("<html><head><title>x</title>", "1", "/m"),
            "<html><head>\n<base href=\"/m/\"><title>x</title>"
        );
    }

    #[test]
    fn routes_and_files_are_told_apart() {
        let ui = WebUi::load("");
        let status = |p: &str| ui.serve(p, None, None).map(|r| r.status());
        assert_eq!(status(""), Some(StatusCode::OK));
        assert_eq!(status("albums/0123"), Some(StatusCode::OK));
        assert_eq!(status("missing.js"), None);
        assert_eq!(status(&format!("v/{}/missing.js", ui.version)), None);
        let res = ui
            .serve(&format!("v/{}/app.js", ui.version), Some("gzip"), None)
            .expect("app.js");
        assert_eq!(res.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        let old = ui
            .serve("v/000000000000/app.js", None, None)
            .expect("app.js");
        assert_eq!(old.headers()[header::CACHE_CONTROL], REVALIDATE);
    }
}
