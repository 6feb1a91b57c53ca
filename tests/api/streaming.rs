//! Audio over HTTP: every range form against the real file's bytes, multipart bodies, 416,
//! conditional requests, HEAD, downloads and their count, stream tokens, missing files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_error, TestServer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// A valid PCM WAV file with `data_len` bytes of deterministic noise: large enough to span
/// several read chunks, so chunk boundaries are exercised.
fn wav(data_len: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(44 + data_len as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&2u16.to_le_bytes()); // stereo
    v.extend_from_slice(&44_100u32.to_le_bytes());
    v.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    let mut x: u32 = 0x1234_5678;
    for _ in 0..data_len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v
}

/// The file name of the generated WAV: quotes and non-ASCII test `Content-Disposition`.
const WAV_NAME: &str = "Tëst \"Song\".wav";

/// Tracks of the test library and the bytes of their files.
struct Library {
    /// The generated WAV (400,044 bytes).
    wav_id: String,
    wav: Vec<u8>,
    /// A second track (the FLAC fixture).
    flac_id: String,
    /// Its album, for artwork.
    flac_album: String,
    /// The media folder as the server sees it (a symlink, see [`vanish_media`]).
    music: PathBuf,
    /// Where the files really are.
    real: PathBuf,
}

/// Fills a media folder, starts a server on it and waits for the first scan. The media folder
/// is a symlink to the real one, so a test can make every file vanish at once without the
/// watcher noticing (see [`vanish_media`]).
async fn start(env: &[(&str, &str)]) -> (TestServer, String, Library, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir_all(real.join("Album")).unwrap();
    let wav_bytes = wav(400_000);
    let wav_path = real.join("Album").join(WAV_NAME);
    std::fs::write(&wav_path, &wav_bytes).unwrap();
    // Old enough for its modification time to be a strong validator (If-Range by date).
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&wav_path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::fs::copy(fixture("tags.flac"), real.join("Album/flac.flac")).unwrap();
    let music = dir.path().join("music");
    std::os::unix::fs::symlink(&real, &music).unwrap();

    let s = TestServer::start_in(dir.path(), env).await;
    let admin = s.admin_token().await;
    let tracks = s.tracks_when(&admin, 2).await;
    let find = |format: &str| {
        tracks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["format"] == format)
            .unwrap_or_else(|| panic!("no {format} track in {tracks}"))
            .clone()
    };
    let (w, f) = (find("wav"), find("flac"));
    let lib = Library {
        wav_id: w["id"].as_str().unwrap().to_owned(),
        wav: wav_bytes,
        flac_id: f["id"].as_str().unwrap().to_owned(),
        flac_album: f["album_id"].as_str().unwrap().to_owned(),
        music,
        real,
    };
    (s, admin, lib, dir)
}

/// Points the media folder at an empty directory: every catalogued file is gone from where the
/// catalog says it is, and no file event reaches the watcher (the real folder is untouched).
fn vanish_media(lib: &Library) {
    let empty = lib.real.with_file_name("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let tmp = lib.music.with_file_name("music.new");
    std::os::unix::fs::symlink(&empty, &tmp).unwrap();
    std::fs::rename(&tmp, &lib.music).unwrap();
}

fn stream_path(id: &str) -> String {
    format!("/api/v1/tracks/{id}/stream")
}

async fn get_range(s: &TestServer, token: &str, id: &str, range: &str) -> Response {
    s.get(&stream_path(id))
        .bearer_auth(token)
        .header(header::RANGE, range)
        .send()
        .await
        .unwrap()
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// Asserts a 206 for bytes `first..=last` of `file`.
async fn assert_partial(res: Response, file: &[u8], first: usize, last: usize) {
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let headers = res.headers().clone();
    assert_eq!(
        h(&headers, "content-range"),
        format!("bytes {first}-{last}/{}", file.len())
    );
    assert_eq!(
        h(&headers, "content-length"),
        (last - first + 1).to_string()
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), last - first + 1);
    assert!(
        body[..] == file[first..=last],
        "bytes {first}-{last} differ"
    );
}

#[tokio::test]
async fn every_range_form_returns_the_exact_bytes() {
    let (s, token, lib, _dir) = start(&[]).await;
    let (id, file) = (&lib.wav_id, &lib.wav);
    let len = file.len();

    // The whole file: exact bytes and the headers a player relies on. Asking for gzip changes
    // nothing: audio is never compressed.
    let res = s
        .get(&stream_path(id))
        .bearer_auth(&token)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(h(&headers, "accept-ranges"), "bytes");
    assert_eq!(h(&headers, "content-length"), len.to_string());
    assert!(h(&headers, "content-type").starts_with("audio/"));
    assert!(headers.get("content-encoding").is_none());
    let etag = h(&headers, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    assert!(httpdate::parse_http_date(h(&headers, "last-modified")).is_ok());
    assert!(h(&headers, "cache-control").starts_with("private"));
    assert!(res.bytes().await.unwrap()[..] == file[..]);

    assert_partial(
        get_range(&s, &token, id, "bytes=100-299").await,
        file,
        100,
        299,
    )
    .await;
    assert_partial(get_range(&s, &token, id, "bytes=0-0").await, file, 0, 0).await;
    assert_partial(
        get_range(&s, &token, id, "bytes=1000-").await,
        file,
        1000,
        len - 1,
    )
    .await;
    assert_partial(
        get_range(&s, &token, id, "bytes=-500").await,
        file,
        len - 500,
        len - 1,
    )
    .await;
    // Across the server's read chunks.
    assert_partial(
        get_range(&s, &token, id, "bytes=131000-300000").await,
        file,
        131_000,
        300_000,
    )
    .await;
    // An end past the file is clamped; a suffix longer than the file is the whole file.
    assert_partial(
        get_range(&s, &token, id, "bytes=400000-999999999").await,
        file,
        400_000,
        len - 1,
    )
    .await;
    assert_partial(
        get_range(&s, &token, id, "bytes=-99999999").await,
        file,
        0,
        len - 1,
    )
    .await;
    // Numbers beyond u64 saturate instead of failing.
    assert_partial(
        get_range(&s, &token, id, "bytes=5-99999999999999999999999999").await,
        file,
        5,
        len - 1,
    )
    .await;
}

/// Splits a `multipart/byteranges` body into (first, last, total, content type, bytes).
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(usize, usize, usize, String, Vec<u8>)> {
    let mut parts = Vec::new();
    let delimiter = format!("--{boundary}");
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .expect("body starts with the boundary");
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after the boundary");
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part headers end");
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        rest = &rest[end + 4..];
        let mut ctype = String::new();
        let mut range = None;
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(": ").unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-type" => ctype = value.to_owned(),
                "content-range" => {
                    let spec = value.strip_prefix("bytes ").unwrap();
                    let (r, total) = spec.split_once('/').unwrap();
                    let (a, b) = r.split_once('-').unwrap();
                    range = Some((
                        a.parse::<usize>().unwrap(),
                        b.parse::<usize>().unwrap(),
                        total.parse::<usize>().unwrap(),
                    ));
                }
                other => panic!("unexpected part header {other}"),
            }
        }
        let (a, b, total) = range.expect("Content-Range in every part");
        let n = b - a + 1;
        parts.push((a, b, total, ctype, rest[..n].to_vec()));
        rest = rest[n..]
            .strip_prefix(b"\r\n")
            .and_then(|r| r.strip_prefix(delimiter.as_bytes()))
            .expect("boundary after the part");
    }
}

#[tokio::test]
async fn several_ranges_come_as_multipart_byteranges() {
    let (s, token, lib, _dir) = start(&[]).await;
    let (id, file) = (&lib.wav_id, &lib.wav);
    let len = file.len();

    // Out of order, overlapping and adjacent: merged and sorted into three parts.
    let res = get_range(&s, &token, id, "bytes=-100, 0-9,5-19,20-29 ,200000-200999").await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let ctype = h(res.headers(), "content-type").to_owned();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("content type {ctype}"))
        .to_owned();
    assert!(res.headers().get("content-range").is_none());
    let declared: usize = h(res.headers(), "content-length").parse().unwrap();
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), declared);
    let parts = parse_multipart(&body, &boundary);
    let spans: Vec<(usize, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(spans, [(0, 29), (200_000, 200_999), (len - 100, len - 1)]);
    for (a, b, total, part_type, bytes) in &parts {
        assert_eq!(*total, len);
        assert!(part_type.starts_with("audio/"), "{part_type}");
        assert!(bytes[..] == file[*a..=*b], "part {a}-{b}");
    }

    // Ranges that merge into one are a plain 206.
    assert_partial(
        get_range(&s, &token, id, "bytes=0-9,10-19,5-25").await,
        file,
        0,
        25,
    )
    .await;
}

#[tokio::test]
async fn unsatisfiable_and_hostile_ranges_get_precise_answers() {
    let (s, token, lib, _dir) = start(&[]).await;
    let (id, file) = (&lib.wav_id, &lib.wav);
    let len = file.len();

    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 10, len + 20),
        "bytes=-0".to_owned(),
        "bytes=99999999999999999999999-".to_owned(),
    ] {
        let res = get_range(&s, &token, id, &range).await;
        assert_eq!(
            h(res.headers(), "content-range"),
            format!("bytes */{len}"),
            "{range}"
        );
        let body = assert_error(
            res,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
        )
        .await;
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&len.to_string()));
    }

    // Invalid syntax, an inverted range, and more ranges than the cap: the whole file.
    let many = vec!["0-0"; 10_000].join(",");
    let seventeen = vec!["0-0"; 17].join(",");
    for range in [
        "bytes=5-1".to_owned(),
        "bytes=abc".to_owned(),
        "bytes=1-2,x".to_owned(),
        "lines=1-2".to_owned(),
        format!("bytes={many}"),
        format!("bytes={seventeen}"),
    ] {
        let res = get_range(&s, &token, id, &range).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            &range[..range.len().min(40)]
        );
        assert_eq!(h(res.headers(), "content-length"), len.to_string());
        assert!(res.bytes().await.unwrap()[..] == file[..]);
    }
    // At the cap, overlapping ranges are merged into one.
    let sixteen = vec!["0-0"; 16].join(",");
    assert_partial(
        get_range(&s, &token, id, &format!("bytes={sixteen}")).await,
        file,
        0,
        0,
    )
    .await;

    // The server is still fine.
    assert_partial(get_range(&s, &token, id, "bytes=1-1").await, file, 1, 1).await;
}

#[tokio::test]
async fn conditional_requests_answer_304_and_if_range_decides() {
    let (s, token, lib, _dir) = start(&[]).await;
    let (id, file) = (&lib.wav_id, &lib.wav);
    let first = s
        .get(&stream_path(id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let etag = h(first.headers(), "etag").to_owned();
    let modified = h(first.headers(), "last-modified").to_owned();
    drop(first);

    let get = |name: &'static str, value: String| {
        s.get(&stream_path(id))
            .bearer_auth(&token)
            .header(name, value)
            .send()
    };
    // Either validator gives 304, with the validators and no body.
    for res in [
        get("if-none-match", etag.clone()).await.unwrap(),
        get("if-none-match", format!("\"other\", W/{etag}"))
            .await
            .unwrap(),
        get("if-modified-since", modified.clone()).await.unwrap(),
    ] {
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(h(res.headers(), "etag"), etag);
        assert!(res.bytes().await.unwrap().is_empty());
    }
    // A stale tag is a full answer.
    let res = get("if-none-match", "\"stale\"".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // If-None-Match takes precedence: a stale tag with a current date is still a 200.
    let res = s
        .get(&stream_path(id))
        .bearer_auth(&token)
        .header("if-none-match", "\"stale\"")
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A date before the modification is a 200 too.
    let earlier = httpdate::fmt_http_date(
        httpdate::parse_http_date(&modified).unwrap() - Duration::from_secs(60),
    );
    let res = get("if-modified-since", earlier.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // If-Range: the current ETag or date keeps the range; anything else sends the whole file.
    let if_range = |value: String| {
        s.get(&stream_path(id))
            .bearer_auth(&token)
            .header("range", "bytes=10-19")
            .header("if-range", value)
            .send()
    };
    assert_partial(if_range(etag.clone()).await.unwrap(), file, 10, 19).await;
    assert_partial(if_range(modified.clone()).await.unwrap(), file, 10, 19).await;
    for stale in ["\"stale\"".to_owned(), format!("W/{etag}"), earlier] {
        let res = if_range(stale.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "If-Range: {stale}");
        assert!(res.bytes().await.unwrap()[..] == file[..]);
    }
}

#[tokio::test]
async fn head_sends_the_headers_without_a_body() {
    let (s, token, lib, _dir) = start(&[]).await;
    let len = lib.wav.len();
    let res = s
        .req(Method::HEAD, &stream_path(&lib.wav_id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(res.headers(), "content-length"), len.to_string());
    assert_eq!(h(res.headers(), "accept-ranges"), "bytes");
    assert!(res.headers().contains_key("etag"));
    assert!(res.bytes().await.unwrap().is_empty());

    let res = s
        .req(Method::HEAD, &stream_path(&lib.wav_id))
        .bearer_auth(&token)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(h(res.headers(), "content-length"), "10");
    assert_eq!(
        h(res.headers(), "content-range"),
        format!("bytes 10-19/{len}")
    );
    assert!(res.bytes().await.unwrap().is_empty());

    // The connection is still usable for a GET (no stray body bytes were sent).
    assert_partial(
        get_range(&s, &token, &lib.wav_id, "bytes=0-3").await,
        &lib.wav,
        0,
        3,
    )
    .await;
}

#[tokio::test]
async fn downloads_are_safe_attachments_counted_once_per_download() {
    let (s, admin, lib, _dir) = start(&[]).await;
    let id = &lib.wav_id;
    let download = format!("/api/v1/tracks/{id}/download");
    let stats = format!("/api/v1/tracks/{id}/stats");
    let count = || async {
        let res = s.get(&stats).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["track_id"], id.as_str());
        v["download_count"].as_u64().unwrap()
    };
    assert_eq!(count().await, 0);

    let res = s.get(&download).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        h(res.headers(), "content-disposition"),
        "attachment; filename=\"T_st Song.wav\"; filename*=UTF-8''T%C3%ABst%20%22Song%22.wav"
    );
    assert_eq!(h(res.headers(), "accept-ranges"), "bytes");
    assert!(res.bytes().await.unwrap()[..] == lib.wav[..]);
    assert_eq!(count().await, 1);

    // A resume (a range starting later) and a HEAD are not new downloads.
    let res = s
        .get(&download)
        .bearer_auth(&admin)
        .header("range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_partial(res, &lib.wav, 1000, lib.wav.len() - 1).await;
    let res = s
        .req(Method::HEAD, &download)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(count().await, 1);
    // A ranged download from the start is.
    let res = s
        .get(&download)
        .bearer_auth(&admin)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_partial(res, &lib.wav, 0, 99).await;
    assert_eq!(count().await, 2);
    // Streaming is not downloading.
    let res = s
        .get(&stream_path(id))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(count().await, 2);

    // Statistics are not for listeners.
    let listener = s.user_with_role("listener", "listener").await;
    let res = s.get(&stats).bearer_auth(&listener).send().await.unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = s.get(&stats).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn stream_token(s: &TestServer, bearer: &str, track: &str) -> Value {
    let res = s
        .post(&format!("/api/v1/tracks/{track}/stream-token"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn stream_tokens_open_their_own_track_only() {
    let (s, _admin, lib, _dir) = start(&[]).await;
    let listener = s.user_with_role("listener", "listener").await;
    let t = stream_token(&s, &listener, &lib.wav_id).await;
    let token = t["token"].as_str().unwrap().to_owned();
    let stream_url = t["stream_url"].as_str().unwrap();
    assert_eq!(
        stream_url,
        format!("/api/v1/tracks/{}/stream?token={token}", lib.wav_id)
    );
    let expires = time::OffsetDateTime::parse(
        t["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(
        ttl.whole_seconds() > 3500 && ttl.whole_seconds() <= 3600,
        "{ttl}"
    );

    // No header needed: the URL is enough, for the stream and the download.
    let res = s
        .get(stream_url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_partial(res, &lib.wav, 0, 99).await;
    let res = s
        .get(t["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap()[..] == lib.wav[..]);

    // Another track: 403, the token is known but not for this.
    let other = format!("/api/v1/tracks/{}/stream?token={token}", lib.flac_id);
    let res = s.get(&other).send().await.unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Nor does it open the track's picture.
    let res = s
        .get(&format!("/api/v1/art/{}?token={token}", lib.wav_id))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // Forged: a changed signature, or a changed payload.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}/stream?token={forged}",
            lib.wav_id
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_stream_token").await;
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}/stream?token=garbage",
            lib.wav_id
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_stream_token").await;

    // An access token is not a stream token, and a stream token is not an access token.
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}/stream?token={listener}",
            lib.wav_id
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_stream_token").await;
    let res = s
        .get(&stream_path(&lib.wav_id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = s
        .get("/api/v1/me")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Without any credential the library is private.
    let res = s.get(&stream_path(&lib.wav_id)).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // Tokens are only issued to signed-in callers, for tracks that exist.
    let res = s
        .post(&format!("/api/v1/tracks/{}/stream-token", lib.wav_id))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = s
        .post(&format!(
            "/api/v1/tracks/{}/stream-token",
            uuid::Uuid::new_v4()
        ))
        .bearer_auth(&listener)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // Signing out ends the session's stream tokens too.
    let res = s
        .post("/api/v1/auth/logout")
        .bearer_auth(&listener)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = s.get(stream_url).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "session_ended").await;
}

#[tokio::test]
async fn artwork_opens_with_its_own_token() {
    let (s, admin, lib, _dir) = start(&[]).await;
    let art = format!("/api/v1/art/{}", lib.flac_album);
    let res = s.get(&art).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let res = s
        .post(&format!("{art}/token"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    let token = t["token"].as_str().unwrap();
    let url = t["art_url"].as_str().unwrap();
    assert_eq!(url, format!("{art}?token={token}"));
    let res = s.get(&format!("{url}&size=64")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(h(res.headers(), "content-type").starts_with("image/"));
    assert!(!res.bytes().await.unwrap().is_empty());

    // The picture's token opens neither another picture nor any audio.
    let res = s
        .get(&format!("/api/v1/art/{}?token={token}", lib.flac_id))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}/stream?token={token}",
            lib.flac_id
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Unknown pictures get no token.
    let res = s
        .post(&format!("/api/v1/art/{}/token", uuid::Uuid::new_v4()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn stream_tokens_expire_after_the_configured_time() {
    let (s, admin, lib, _dir) = start(&[("MUSEWAVE_AUTH__STREAM_TOKEN_TTL_SECS", "1")]).await;
    let t = stream_token(&s, &admin, &lib.wav_id).await;
    let url = t["stream_url"].as_str().unwrap().to_owned();
    let res = s
        .get(&url)
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    // Expiry is checked with a few seconds of leeway for clock skew: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    let res = loop {
        let res = s
            .get(&url)
            .header("range", "bytes=0-0")
            .send()
            .await
            .unwrap();
        if res.status() != StatusCode::PARTIAL_CONTENT {
            break res;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_error(res, StatusCode::UNAUTHORIZED, "stream_token_expired").await;
}

#[tokio::test]
async fn public_libraries_stream_without_credentials() {
    let (s, _admin, lib, _dir) = start(&[("MUSEWAVE_ACCESS__PUBLIC", "true")]).await;
    let res = get_range_anonymous(&s, &lib.flac_id, "bytes=0-3").await;
    let flac = std::fs::read(fixture("tags.flac")).unwrap();
    assert_partial(res, &flac, 0, 3).await;
    // A credential that is sent must still be valid.
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}/stream?token=forged",
            lib.flac_id
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_stream_token").await;
}

async fn get_range_anonymous(s: &TestServer, id: &str, range: &str) -> Response {
    s.get(&stream_path(id))
        .header(header::RANGE, range)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unknown_tracks_and_vanished_files_are_json_404s() {
    let (s, token, lib, _dir) = start(&[]).await;
    for id in [uuid::Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        for path in [stream_path(&id), format!("/api/v1/tracks/{id}/download")] {
            let res = s.get(&path).bearer_auth(&token).send().await.unwrap();
            assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        }
    }

    // Served once, so the server may hold the file open; it must still notice it is gone.
    assert_partial(
        get_range(&s, &token, &lib.wav_id, "bytes=0-9").await,
        &lib.wav,
        0,
        9,
    )
    .await;
    vanish_media(&lib);
    for path in [
        stream_path(&lib.wav_id),
        format!("/api/v1/tracks/{}/download", lib.wav_id),
    ] {
        let res = s.get(&path).bearer_auth(&token).send().await.unwrap();
        let body = assert_error(res, StatusCode::NOT_FOUND, "media_missing").await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("missing"), "{message}");
        // The server's paths are never sent.
        assert!(!message.contains(lib.real.to_str().unwrap()), "{message}");
        assert!(!message.contains("Album"), "{message}");
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_leaves_the_server_serving() {
    let (s, token, lib, _dir) = start(&[]).await;
    // Read one chunk of several streams, then drop them.
    for _ in 0..20 {
        let mut res = s
            .get(&stream_path(&lib.wav_id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(!res.chunk().await.unwrap().unwrap().is_empty());
    }
    assert_partial(
        get_range(&s, &token, &lib.wav_id, "bytes=-10").await,
        &lib.wav,
        lib.wav.len() - 10,
        lib.wav.len() - 1,
    )
    .await;
}
