//! The web app in a real browser: `tests/e2e/webui.mjs` drives Debian's headless Chromium
//! (through playwright-core) against a real server whose media folder holds the audio
//! fixtures. Screenshots of every step land in `target/e2e-screenshots/`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{assert_error, TestServer, ADMIN_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Audio the browser plays (MP3, FLAC, Ogg Vorbis, Ogg Opus), one file the scan skips, and
/// one untagged file described by its path.
const MEDIA: &[(&str, &str)] = &[
    ("id3v24.mp3", "Fixtures/id3v24.mp3"),
    ("id3v23.mp3", "Fixtures/id3v23.mp3"),
    ("tags.flac", "Fixtures/tags.flac"),
    ("tags.ogg", "Fixtures/tags.ogg"),
    ("tags.opus", "Fixtures/tags.opus"),
    ("truncated.flac", "Fixtures/truncated.flac"),
    (
        "fallback/Some Artist/Some Album/07 - Path Title.flac",
        "Some Artist/Some Album/07 - Path Title.flac",
    ),
];
const PLAYABLE_TRACKS: u64 = 6;

#[tokio::test(flavor = "multi_thread")]
async fn web_app_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir() && Path::new(CHROMIUM).exists(),
        "the browser tests need Debian's chromium and playwright-core: \
         `apt-get install chromium` and `npm ci --prefix tests/e2e` (.ci/run does both)"
    );

    let dir = tempfile::tempdir().unwrap();
    for (from, to) in MEDIA {
        let to = dir.path().join("music").join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join("tests/fixtures/audio").join(from), to).unwrap();
    }
    let server = TestServer::start_in(dir.path(), &[]).await;
    server
        .tracks_when(&server.admin_token().await, PLAYABLE_TRACKS)
        .await;

    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| root.join("target"))
        .join("e2e-screenshots");
    let run = tokio::process::Command::new("node")
        .arg(e2e.join("webui.mjs"))
        .arg(server.url("/"))
        .arg(&shots)
        .env("MUSEWAVE_E2E_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .current_dir(&e2e)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // A bound on a hung browser, not a measurement: the steps take seconds.
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser tests finish within five minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser tests failed ({}); screenshots in {}\n{stdout}\n{stderr}",
        out.status,
        shots.display()
    );
    println!("{stdout}");
    server.stop().await;
}

/// Files come compressed under versioned, immutable URLs; `index.html` answers deep links and
/// is revalidated; API paths stay JSON.
#[tokio::test]
async fn app_files_are_compressed_and_cached_by_version() {
    let s = TestServer::start().await;
    let res = s.get("/albums/0123").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let etag = res.headers()["etag"].clone();
    let index = res.text().await.unwrap();
    let script = index
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("index.html names its script");
    assert!(script.starts_with("v/"), "versioned script URL {script}");

    let again = s
        .get("/")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let js = s
        .get(&format!("/{script}"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(js.headers()["content-encoding"], "gzip");
    assert_eq!(js.headers()["vary"], "accept-encoding");
    let plain = s.get(&format!("/{script}")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_len = plain.bytes().await.unwrap().len();
    assert!(js.bytes().await.unwrap().len() < plain_len);

    assert_eq!(
        s.get("/v/0/missing.js").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        s.get("/api/v1/nothing-here").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
}
