//! Uploads: multipart (one file, an album), refusals, duplicates, resumable (tus) uploads, and
//! a server killed mid-upload.

use std::path::{Path, PathBuf};

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_error, TestServer};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

const BOUNDARY: &str = "musewave-test-boundary-7d1f";

/// A `multipart/form-data` body: files as (`field`, file name, bytes), then text fields.
pub fn multipart(files: &[(&str, &str, Vec<u8>)], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads fixtures with text fields.
pub async fn upload(
    s: &TestServer,
    token: &str,
    files: &[&str],
    fields: &[(&str, &str)],
) -> Response {
    let files: Vec<(&str, &str, Vec<u8>)> = files
        .iter()
        .map(|f| ("file", *f, std::fs::read(fixture(f)).unwrap()))
        .collect();
    s.post("/api/v1/uploads")
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&files, fields))
        .send()
        .await
        .unwrap()
}

/// Uploads and expects 201; returns the result.
pub async fn uploaded(
    s: &TestServer,
    token: &str,
    files: &[&str],
    fields: &[(&str, &str)],
) -> Value {
    let res = upload(s, token, files, fields).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Files under `uploads/<sub>`.
pub fn files_in(s: &TestServer, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.data_dir.join("uploads").join(sub))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn a_single_file_lands_as_a_draft_and_is_published_into_the_catalog() {
    let s = TestServer::start().await;
    let artist = s.user_with_role("ada", "artist").await;
    let out = uploaded(&s, &artist, &["tags.flac"], &[("genres", "Ambient")]).await;
    let id = out["track_ids"][0].as_str().unwrap().to_owned();
    let album = &out["album"];
    assert_eq!(album["kind"], "single");
    assert_eq!(album["published"], false);
    let track = &album["tracks"][0];
    assert_eq!(track["id"], id.as_str());
    assert_eq!(track["title"], "Fixture Title", "{track}");
    assert_eq!(track["genres"], serde_json::json!(["Ambient"]));
    assert_eq!(track["format"], "flac");
    assert_eq!(track["visible"], false);
    assert_eq!(files_in(&s, "audio"), vec![format!("{id}.flac")]);
    assert!(files_in(&s, "tmp").is_empty());

    // A draft is not in the catalog.
    let res = s
        .get(&format!("/api/v1/tracks/{id}"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    let res = s
        .post(&format!("/api/v1/studio/tracks/{id}/publish"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = s
        .get(&format!("/api/v1/tracks/{id}"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["title"], "Fixture Title");
    assert_eq!(t["artists"], serde_json::json!(["ada"]));
    // Listed, searched and streamed like a folder track.
    s.tracks_when(&artist, 1).await;
    let found: Value = s
        .get("/api/v1/search?q=fixture%20title")
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(found.to_string().contains(&id), "{found}");
    let audio = s
        .get(&format!("/api/v1/tracks/{id}/stream"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), StatusCode::OK);
    let bytes = audio.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(fixture("tags.flac")).unwrap());

    // A rescan of the media folders leaves uploads alone.
    let admin = s.admin_token().await;
    let res = s
        .post("/api/v1/library/scan")
        .bearer_auth(&admin)
        .json(&serde_json::json!({"full": true}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    loop {
        let st: Value = s
            .get("/api/v1/library/scan")
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if st["state"] == "idle" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.tracks_when(&artist, 1).await;
}

#[tokio::test]
async fn an_album_uploads_at_once_published_with_a_cover_and_form_fields() {
    let s = TestServer::start().await;
    let artist = s.user_with_role("band", "artist").await;
    let png = {
        let img = image_png();
        ("cover", "cover.png", img)
    };
    let mut files: Vec<(&str, &str, Vec<u8>)> = ["tags.flac", "tags.ogg", "tags.wav"]
        .iter()
        .map(|f| ("file", *f, std::fs::read(fixture(f)).unwrap()))
        .collect();
    files.push(png);
    let res = s
        .post("/api/v1/uploads")
        .bearer_auth(&artist)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(
            &files,
            &[
                ("album_title", "First Light"),
                ("album_kind", "ep"),
                ("release_date", "2024-03-01"),
                ("label", "Home"),
                ("publish", "true"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let out: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["track_ids"].as_array().unwrap().len(), 3);
    let album = &out["album"];
    assert_eq!(album["title"], "First Light");
    assert_eq!(album["kind"], "ep");
    assert_eq!(album["has_cover"], true);
    let numbers: Vec<Value> = album["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["track_number"].clone())
        .collect();
    assert_eq!(
        numbers,
        vec![Value::from(1), Value::from(2), Value::from(3)]
    );

    let album_id = album["id"].as_str().unwrap();
    let cat: Value = s
        .get(&format!("/api/v1/albums/{album_id}"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cat["title"], "First Light", "{cat}");
    assert_eq!(cat["year"], 2024);
    assert_eq!(cat["tracks"].as_array().unwrap().len(), 3);
    let cover = s
        .get(&format!("/api/v1/studio/albums/{album_id}/cover"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap();
    assert_eq!(cover.status(), StatusCode::OK);
    assert_eq!(cover.headers()["content-type"], "image/png");
}

/// A tiny valid PNG.
pub fn image_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[tokio::test]
async fn non_audio_is_refused_naming_the_file_and_nothing_is_kept() {
    let s = TestServer::start().await;
    let artist = s.user_with_role("ada", "artist").await;
    let res = upload(&s, &artist, &["tags.flac", "text.mp3"], &[]).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("text.mp3: "), "{msg}");
    assert!(files_in(&s, "audio").is_empty());
    assert!(files_in(&s, "tmp").is_empty());
    let res = upload(&s, &artist, &["empty.mp3"], &[]).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("empty"),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_files_are_refused_with_413_and_their_partial_data_deleted() {
    let s = TestServer::start_with(&[
        ("MUSEWAVE_UPLOADS__MAX_FILE_BYTES", "10000"),
        ("MUSEWAVE_UPLOADS__MAX_REQUEST_BYTES", "100000"),
    ])
    .await;
    let artist = s.user_with_role("ada", "artist").await;
    // Passing the per-file limit while streaming.
    let res = upload(&s, &artist, &["tags.flac"], &[]).await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(files_in(&s, "tmp").is_empty());
    assert!(files_in(&s, "audio").is_empty());
    // Announced by Content-Length: refused before the body is read.
    let big = vec![0u8; 200_000];
    let res = s
        .post("/api/v1/uploads")
        .bearer_auth(&artist)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[("file", "big.flac", big)], &[]))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Small files still go through.
    uploaded(&s, &artist, &["id3v23.mp3"], &[]).await;
}

#[tokio::test]
async fn the_same_audio_twice_from_one_artist_is_a_conflict_naming_the_track() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let first = uploaded(&s, &ada, &["tags.flac"], &[]).await;
    let id = first["track_ids"][0].as_str().unwrap();
    let res = upload(&s, &ada, &["tags.flac"], &[("title", "Again")]).await;
    let body = assert_error(res, StatusCode::CONFLICT, "duplicate_track").await;
    assert_eq!(body["error"]["track_id"], id);
    assert_eq!(files_in(&s, "audio").len(), 1);
    // Another artist may upload the same audio.
    let bob = s.user_with_role("bob", "artist").await;
    uploaded(&s, &bob, &["tags.flac"], &[]).await;
}

#[tokio::test]
async fn uploads_refuse_listeners_anonymous_callers_and_bad_forms() {
    let s = TestServer::start().await;
    let listener = s.user_with_role("lis", "listener").await;
    let res = upload(&s, &listener, &["tags.flac"], &[]).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = s.post("/api/v1/uploads").send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let artist = s.user_with_role("ada", "artist").await;
    let res = s
        .post("/api/v1/uploads")
        .bearer_auth(&artist)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let res = upload(&s, &artist, &["tags.flac"], &[("publish", "perhaps")]).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = upload(&s, &artist, &[], &[]).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(files_in(&s, "tmp").is_empty());
}

async fn tus(s: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.req(method, path)
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn a_tus_upload_interrupted_resumes_after_a_restart_and_finishes_as_a_track() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let artist = s.user_with_role("ada", "artist").await;
    let opts = s
        .req(Method::OPTIONS, "/api/v1/uploads/tus")
        .send()
        .await
        .unwrap();
    assert_eq!(opts.status(), StatusCode::NO_CONTENT);
    assert_eq!(opts.headers()["tus-version"], "1.0.0");
    assert!(opts.headers().contains_key("tus-max-size"));

    let audio = std::fs::read(fixture("tags.ogg")).unwrap();
    let res = tus(&s, Method::POST, "/api/v1/uploads/tus", &artist)
        .await
        .header("upload-length", audio.len().to_string())
        .header(
            "upload-metadata",
            format!("filename {},publish {}", b64("song.ogg"), b64("true")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();

    // The first part arrives, then the link drops.
    let half = audio.len() / 2;
    let res = tus(&s, Method::PATCH, &location, &artist)
        .await
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(audio[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["upload-offset"], half.to_string().as_str());

    // Wrong offset and wrong content type are refused.
    let res = tus(&s, Method::PATCH, &location, &artist)
        .await
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(audio[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::CONFLICT, "offset_mismatch").await;
    let res = tus(&s, Method::PATCH, &location, &artist)
        .await
        .header("content-type", "application/octet-stream")
        .header("upload-offset", half.to_string())
        .body(audio[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // The state survives a restart.
    s.stop().await;
    let s = TestServer::start_in(dir.path(), &[]).await;
    let artist = crate::helpers::token(&s.login("ada", "password123").await);
    let res = tus(&s, Method::HEAD, &location, &artist)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["upload-offset"], half.to_string().as_str());
    assert_eq!(
        res.headers()["upload-length"],
        audio.len().to_string().as_str()
    );
    // Someone else's upload does not exist for them.
    let other = s.user_with_role("bob", "artist").await;
    let res = tus(&s, Method::HEAD, &location, &other)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = tus(&s, Method::PATCH, &location, &artist)
        .await
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", half.to_string())
        .body(audio[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{:?}",
        res.text().await
    );
    let res = tus(&s, Method::HEAD, &location, &artist)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let tracks = s.tracks_when(&artist, 1).await;
    assert_eq!(tracks["items"][0]["format"], "ogg");
    assert!(files_in(&s, "tus").is_empty());
}

#[tokio::test]
async fn a_tus_upload_can_be_terminated_and_refuses_more_than_announced() {
    let s = TestServer::start().await;
    let artist = s.user_with_role("ada", "artist").await;
    let listener = s.user_with_role("lis", "listener").await;
    let res = tus(&s, Method::POST, "/api/v1/uploads/tus", &listener)
        .await
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = tus(&s, Method::POST, "/api/v1/uploads/tus", &artist)
        .await
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = tus(&s, Method::POST, "/api/v1/uploads/tus", &artist)
        .await
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let res = tus(&s, Method::PATCH, &location, &artist)
        .await
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(vec![1u8; 11])
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let res = tus(&s, Method::DELETE, &location, &artist)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = tus(&s, Method::HEAD, &location, &artist)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(files_in(&s, "tus").is_empty());
}

/// Starts the real binary in `dir`; returns it with its base URL once it listens.
async fn spawn_binary(dir: &Path) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_musewave"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("MUSEWAVE_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("MUSEWAVE_ADMIN_PASSWORD", crate::helpers::ADMIN_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.split("listening on ").nth(1) {
            return (child, url.trim_end_matches('/').to_owned());
        }
    }
    panic!("the server exited before listening");
}

async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let v: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// After a crash: no partial file, every file has its track and every track its file, and the
/// catalog agrees with the studio.
async fn assert_upload_invariants(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    uploads: &Path,
) {
    let list = |sub: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(uploads.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert!(list("tmp").is_empty(), "partial files: {:?}", list("tmp"));
    let tracks: Value = client
        .get(format!("{base}/api/v1/studio/tracks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<String> = tracks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}.{}",
                t["id"].as_str().unwrap(),
                t["format"].as_str().unwrap()
            )
        })
        .collect();
    ids.sort();
    assert_eq!(list("audio"), ids, "files and tracks differ");
    for t in tracks.as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let res = client
            .get(format!("{base}/api/v1/tracks/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let visible = t["visible"].as_bool().unwrap();
        assert_eq!(res.status().is_success(), visible, "{t}");
        if visible {
            let cat: Value = res.json().await.unwrap();
            let album: Value = client
                .get(format!(
                    "{base}/api/v1/studio/albums/{}",
                    t["album_id"].as_str().unwrap()
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                cat["album"], album["title"],
                "the catalog lags the album's edit"
            );
            assert_eq!(cat["album_id"], album["id"]);
        }
    }
}

#[tokio::test]
async fn a_server_killed_mid_upload_and_mid_album_edit_restarts_clean() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = dir.path().join("musewave-data").join("uploads");
    let client = reqwest::Client::new();
    let (mut child, base) = spawn_binary(dir.path()).await;
    let admin = login(&client, &base, "admin", crate::helpers::ADMIN_PASSWORD).await;
    let res = client
        .post(format!("{base}/api/v1/admin/users"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"username": "ada", "password": "password123", "role": "artist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let ada = login(&client, &base, "ada", "password123").await;
    let body = multipart(
        &["tags.flac", "tags.ogg", "tags.wav"]
            .map(|f| ("file", f, std::fs::read(fixture(f)).unwrap())),
        &[("album_title", "Before"), ("publish", "true")],
    );
    let out: Value = client
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&ada)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let album = out["album"]["id"].as_str().unwrap().to_owned();
    let ids: Vec<String> = out["track_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();

    // Album edits keep coming: retitles and reorders, each acknowledged before the next.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let editor = {
        let (client, base, ada, album, ids, done) = (
            client.clone(),
            base.clone(),
            ada.clone(),
            album.clone(),
            ids.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            for i in 0.. {
                let order = if i % 2 == 0 {
                    vec![&ids[2], &ids[0], &ids[1]]
                } else {
                    vec![&ids[0], &ids[1], &ids[2]]
                };
                let a = client
                    .patch(format!("{base}/api/v1/studio/albums/{album}"))
                    .bearer_auth(&ada)
                    .json(&serde_json::json!({"title": format!("Edit {i}")}))
                    .send()
                    .await;
                let b = client
                    .put(format!("{base}/api/v1/studio/albums/{album}/tracks"))
                    .bearer_auth(&ada)
                    .json(&serde_json::json!({"track_ids": order}))
                    .send()
                    .await;
                if a.is_err() || b.is_err() {
                    return;
                }
                done.store(i + 1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    // The kill comes amid edits, not before them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while done.load(std::sync::atomic::Ordering::Relaxed) < 3 {
        assert!(std::time::Instant::now() < deadline, "the edits stalled");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // An upload whose body stops half-way, as the server is killed.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let partial = {
        let (client, base, ada) = (client.clone(), base.clone(), ada.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/uploads"))
                .bearer_auth(&ada)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await
        })
    };
    let whole = multipart(
        &[(
            "file",
            "aac.m4a",
            std::fs::read(fixture("aac.m4a")).unwrap(),
        )],
        &[],
    );
    tx.send(Ok(whole[..whole.len() / 2].to_vec()))
        .await
        .unwrap();
    // Killed once the partial file is on disk.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(uploads.join("tmp"))
        .unwrap()
        .next()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached the disk"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    drop(tx);
    let _ = partial.await;
    editor.await.unwrap();
    // A crash between a file's rename and its commit leaves an unnamed file behind.
    std::fs::write(
        uploads
            .join("audio")
            .join("00000000000000000000000000000000.flac"),
        b"x",
    )
    .unwrap();

    let (_child, base) = spawn_binary(dir.path()).await;
    let ada = login(&client, &base, "ada", "password123").await;
    assert_upload_invariants(&client, &base, &ada, &uploads).await;
    let tracks: Value = client
        .get(format!("{base}/api/v1/tracks"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tracks["total"], 3, "{tracks}");
}
