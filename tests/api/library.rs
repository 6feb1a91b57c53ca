//! The media folder becomes a catalog: scans, the watcher, lists, details and search.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestServer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

const GOOD: &[&str] = &["id3v24.mp3", "tags.flac", "tags.ogg", "aac.m4a", "tags.wav"];
const BAD: &[&str] = &["empty.mp3", "text.mp3", "truncated.flac", "random.ogg"];
const FALLBACK: &str = "fallback/Some Artist/Some Album/07 - Path Title.flac";

/// A media folder with the good and bad fixtures in it.
fn media_with_fixtures(dir: &Path) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(music.join("Fixtures")).unwrap();
    for f in GOOD.iter().chain(BAD) {
        std::fs::copy(fixture(f), music.join("Fixtures").join(f)).unwrap();
    }
    let fb = music.join("Some Artist/Some Album");
    std::fs::create_dir_all(&fb).unwrap();
    std::fs::copy(fixture(FALLBACK), fb.join("07 - Path Title.flac")).unwrap();
    music
}

async fn get_json(s: &TestServer, token: &str, path: &str) -> Value {
    let res = s.get(path).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.json().await.unwrap()
}

/// Runs an incremental scan through the API and waits for it.
async fn rescan(s: &TestServer, token: &str) -> Value {
    loop {
        let res = s
            .post("/api/v1/library/scan")
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::ACCEPTED => break,
            // The watcher's scan got there first: wait for it, then ask again.
            StatusCode::CONFLICT => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("scan start: {other}"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = get_json(s, token, "/api/v1/library/scan").await;
        if st["state"] == "idle" {
            return st;
        }
        assert!(Instant::now() < deadline, "scan did not finish: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for<F: Fn(&Value) -> bool>(s: &TestServer, token: &str, path: &str, ok: F) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = get_json(s, token, path).await;
        if ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met on {path}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn server_with_media() -> (TestServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    media_with_fixtures(dir.path());
    let s = TestServer::start_in(dir.path(), &[]).await;
    let token = s.admin_token().await;
    (s, token, dir)
}

#[tokio::test]
async fn the_first_scan_builds_the_catalog_and_reports_bad_files() {
    let (s, token, _dir) = server_with_media().await;
    let st = s.scan_finished(&token).await;
    assert_eq!(st["added"], GOOD.len() + 1, "{st}");
    assert_eq!(st["failed"], BAD.len(), "{st}");
    let failures = st["failures"].as_array().unwrap();
    for bad in BAD {
        let f = failures
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(bad))
            .unwrap_or_else(|| panic!("{bad} not reported in {st}"));
        assert!(!f["reason"].as_str().unwrap().is_empty());
    }

    let tracks = get_json(&s, &token, "/api/v1/tracks?limit=100").await;
    assert_eq!(tracks["total"], GOOD.len() + 1);

    // The untagged file is described by its path.
    let fallback = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Path Title")
        .expect("fallback track");
    assert_eq!(fallback["artists"], json!(["Some Artist"]));
    assert_eq!(fallback["album"], "Some Album");
    assert_eq!(fallback["track_number"], 7);

    // Full detail of a tagged track.
    let flac = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["format"] == "flac" && t["title"] == "Fixture Title")
        .unwrap();
    let detail = get_json(
        &s,
        &token,
        &format!("/api/v1/tracks/{}", flac["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(detail["artists"], json!(["Alice", "Bob", "Carol"]));
    assert_eq!(detail["track_number"], 3);
    assert_eq!(detail["track_total"], 12);
    assert_eq!(detail["disc_number"], 1);
    assert_eq!(detail["year"], 2021);
    assert_eq!(detail["codec"], "flac");
    assert_eq!(detail["sample_rate"], 11025);
    assert!(
        (detail["duration_secs"].as_f64().unwrap() - 1.0).abs() < 0.05,
        "{detail}"
    );
    assert_eq!(detail["embedded_cover"], true);
    assert_eq!(detail["lyrics"], "First line\nSecond line");

    // Albums group by album artist and title, tracks in order, duration summed.
    let album = get_json(
        &s,
        &token,
        &format!("/api/v1/albums/{}", detail["album_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(album["title"], "Fixture Album");
    let sum: f64 = album["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["duration_secs"].as_f64().unwrap())
        .sum();
    assert!((album["duration_secs"].as_f64().unwrap() - sum).abs() < 0.01);

    let genres = get_json(&s, &token, "/api/v1/genres").await;
    assert!(
        genres
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Rock" && g["track_count"].as_u64().unwrap() >= 1),
        "{genres}"
    );
    s.stop().await;
}

#[tokio::test]
async fn lists_page_sort_and_filter() {
    let (s, token, _dir) = server_with_media().await;
    s.scan_finished(&token).await;
    let all = get_json(&s, &token, "/api/v1/tracks?limit=500").await;
    let page = get_json(&s, &token, "/api/v1/tracks?limit=2&offset=1").await;
    assert_eq!(page["total"], all["total"]);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["id"], all["items"][1]["id"]);

    let flac = get_json(&s, &token, "/api/v1/tracks?format=flac").await;
    assert!(flac["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["format"] == "flac"));
    assert_eq!(flac["total"], 2);
    let none = get_json(&s, &token, "/api/v1/albums?year_from=2030").await;
    assert_eq!(none["total"], 0);
    let desc = get_json(&s, &token, "/api/v1/artists?order=desc").await;
    let asc = get_json(&s, &token, "/api/v1/artists").await;
    assert_eq!(
        desc["items"][0],
        asc["items"][asc["items"].as_array().unwrap().len() - 1]
    );

    for bad in [
        "/api/v1/tracks?limit=0",
        "/api/v1/tracks?sort=colour",
        "/api/v1/albums?order=up",
        "/api/v1/albums?year_from=soon",
    ] {
        let res = s.get(bad).bearer_auth(&token).send().await.unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    for missing in [
        "/api/v1/tracks/0000000000000000000000000000000a",
        "/api/v1/albums/nope",
        "/api/v1/artists/..%2F..%2Fetc%2Fpasswd",
    ] {
        let res = s.get(missing).bearer_auth(&token).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    s.stop().await;
}

#[tokio::test]
async fn rename_keeps_the_id_and_delete_removes_the_track() {
    let (s, token, dir) = server_with_media().await;
    s.scan_finished(&token).await;
    // The only Ogg Vorbis fixture: tagged, so its metadata does not depend on its path.
    let ogg = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["format"] == "ogg")
            .cloned()
    };
    let before = ogg(&get_json(&s, &token, "/api/v1/tracks?limit=100").await).unwrap();

    let moved_dir = dir.path().join("music/Elsewhere/Deeper");
    std::fs::create_dir_all(&moved_dir).unwrap();
    std::fs::rename(
        dir.path().join("music/Fixtures/tags.ogg"),
        moved_dir.join("renamed.ogg"),
    )
    .unwrap();
    let st = rescan(&s, &token).await;
    assert_eq!(st["removed"], 0, "{st}");
    let after = get_json(&s, &token, "/api/v1/tracks?limit=100").await;
    assert_eq!(
        ogg(&after).expect("still catalogued")["id"],
        before["id"],
        "a moved file keeps its track id"
    );
    assert_eq!(after["total"], GOOD.len() + 1);

    std::fs::remove_file(moved_dir.join("renamed.ogg")).unwrap();
    rescan(&s, &token).await;
    let gone = get_json(&s, &token, "/api/v1/tracks?limit=100").await;
    assert!(ogg(&gone).is_none());
    assert_eq!(gone["total"], GOOD.len());
    let res = s
        .get(&format!(
            "/api/v1/tracks/{}",
            before["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    s.stop().await;
}

#[tokio::test]
async fn the_watcher_picks_up_new_renamed_and_deleted_files() {
    let (s, token, dir) = server_with_media().await;
    s.scan_finished(&token).await;
    let count = |v: &Value| v["total"].as_u64().unwrap();
    let base = count(&get_json(&s, &token, "/api/v1/tracks").await);

    // Copied in under a temporary name, then renamed, as copy tools do.
    let tmp = dir.path().join("music/Fixtures/.incoming.part");
    std::fs::copy(fixture("id3v23.mp3"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.path().join("music/Fixtures/new.mp3")).unwrap();
    wait_for(&s, &token, "/api/v1/tracks", |v| count(v) == base + 1).await;

    let by_format = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["format"] == "mp3")
            .map(|t| t["id"].clone())
            .collect::<Vec<_>>()
    };
    let ids = by_format(&get_json(&s, &token, "/api/v1/tracks?format=mp3&limit=100").await);
    std::fs::rename(
        dir.path().join("music/Fixtures/new.mp3"),
        dir.path().join("music/Fixtures/renamed.mp3"),
    )
    .unwrap();
    // The renamed file keeps its id: the set of mp3 ids stays the same throughout.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let now = by_format(&get_json(&s, &token, "/api/v1/tracks?format=mp3&limit=100").await);
        let mut a = ids.clone();
        let mut b = now;
        a.sort_by_key(|v| v.to_string());
        b.sort_by_key(|v| v.to_string());
        assert_eq!(a, b, "renaming keeps ids");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    std::fs::remove_file(dir.path().join("music/Fixtures/renamed.mp3")).unwrap();
    wait_for(&s, &token, "/api/v1/tracks", |v| count(v) == base).await;
    s.stop().await;
}

#[tokio::test]
async fn search_ignores_case_and_accents_and_ranks_exact_first() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    for (artist, album, file) in [
        ("Beyoncé", "Lemonade", "01 - Formation.flac"),
        ("Beyoncé", "Lemonade", "02 - Sorry.flac"),
        ("Sorry Band", "Sorry", "01 - Not Sorry At All.flac"),
    ] {
        let d = music.join(artist).join(album);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture(FALLBACK), d.join(file)).unwrap();
    }
    let s = TestServer::start_in(dir.path(), &[]).await;
    let token = s.admin_token().await;
    s.scan_finished(&token).await;

    let r = get_json(&s, &token, "/api/v1/search?q=beyonce").await;
    assert_eq!(r["artists"]["items"][0]["name"], "Beyoncé", "{r}");
    let r = get_json(&s, &token, "/api/v1/search?q=SORRY&type=track").await;
    let titles: Vec<&str> = r["tracks"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Sorry", "Not Sorry At All"],
        "exact before word match: {r}"
    );
    assert_eq!(r["artists"]["total"], 0, "only tracks were asked for");
    let r = get_json(&s, &token, "/api/v1/search?q=lemon&type=album").await;
    assert_eq!(r["albums"]["items"][0]["title"], "Lemonade");

    let sugg = get_json(&s, &token, "/api/v1/search/suggest?q=bey").await;
    assert!(
        sugg.as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "Beyoncé" && x["kind"] == "artist"),
        "{sugg}"
    );
    let res = s
        .get("/api/v1/search?q=x&type=planet")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    s.stop().await;
}

#[tokio::test]
async fn scans_are_for_admins_and_the_catalog_for_signed_in_users() {
    let (s, token, _dir) = server_with_media().await;
    s.scan_finished(&token).await;
    let listener = s.user_with_role("lena", "listener").await;
    let res = s
        .post("/api/v1/library/scan")
        .bearer_auth(&listener)
        .json(&json!({"full": true}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        s.get("/api/v1/tracks")
            .bearer_auth(&listener)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_error(
        s.get("/api/v1/tracks").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(
        s.get("/api/v1/library/scan").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let res = s
        .req(Method::POST, "/api/v1/library/scan")
        .bearer_auth(&token)
        .json(&json!({"full": "yes"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A full scan probes everything again and changes nothing.
    let res = s
        .post("/api/v1/library/scan")
        .bearer_auth(&token)
        .json(&json!({"full": true}))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        res.status(),
        StatusCode::ACCEPTED | StatusCode::CONFLICT
    ));
    s.stop().await;
}

#[tokio::test]
async fn artwork_comes_from_the_file_or_the_folder_scaled_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    media_with_fixtures(dir.path());
    // A 64x32 folder image beside the untagged track.
    let folder_img = image::RgbImage::from_fn(64, 32, |_, _| image::Rgb([0, 0, 255]));
    folder_img
        .save(dir.path().join("music/Some Artist/Some Album/Cover.JPG"))
        .unwrap();
    // A track with neither an embedded nor a folder picture.
    let bare = dir.path().join("music/Bare Artist/Bare Album");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(fixture(FALLBACK), bare.join("01 - Bare.flac")).unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let token = s.admin_token().await;
    s.scan_finished(&token).await;
    let tracks = get_json(&s, &token, "/api/v1/tracks?limit=100").await;
    let by_title = |t: &str| {
        tracks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["title"] == t)
            .cloned()
            .unwrap()
    };
    let flac = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["format"] == "flac" && t["title"] == "Fixture Title")
        .cloned()
        .unwrap();

    // Embedded: the original is the PNG in the file; a scaled one is JPEG, aspect kept.
    let res = s
        .get(&format!("/api/v1/art/{}", flac["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (8, 8));

    let url = format!(
        "/api/v1/art/{}?size=16",
        by_title("Path Title")["album_id"].as_str().unwrap()
    );
    let res = s.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (16, 8));
    let px = img.to_rgb8().get_pixel(8, 4).0;
    assert!(px[2] > 200 && px[0] < 60, "the folder image, blue: {px:?}");
    let res = s
        .get(&url)
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    // Served from the cache the second time: the same bytes.
    let again = s.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);

    let res = s
        .get(&format!(
            "/api/v1/art/{}?size=64",
            by_title("Bare")["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");

    let res = s
        .get(&format!(
            "/api/v1/art/{}?size=5",
            flac["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = s
        .get("/api/v1/art/0000000000000000000000000000000b")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        s.get(&url).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn hostile_folders_are_scanned_to_the_end() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let many = music.join("Many");
    std::fs::create_dir_all(&many).unwrap();
    // 10,000 files in one folder (hard links: cheap on disk, distinct paths for the scanner).
    std::fs::copy(fixture("tags.wav"), many.join("00000 - Track.wav")).unwrap();
    for i in 1..10_000 {
        std::fs::hard_link(
            many.join("00000 - Track.wav"),
            many.join(format!("{i:05} - Track.wav")),
        )
        .unwrap();
    }
    // A symbolic link loop, a name that is not UTF-8, a directory named like audio, a
    // 100,000-character tag and a zero-byte file.
    std::os::unix::fs::symlink(&music, music.join("loop")).unwrap();
    let odd = music.join(std::ffi::OsStr::from_bytes(b"Odd \xff Name"));
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(
        fixture("tags.flac"),
        odd.join(std::ffi::OsStr::from_bytes(b"01 - caf\xe9.flac")),
    )
    .unwrap();
    std::fs::create_dir_all(music.join("not-a-file.mp3")).unwrap();
    std::fs::copy(fixture("long-tag.mp3"), music.join("long.mp3")).unwrap();
    std::fs::copy(fixture("empty.mp3"), music.join("zero.mp3")).unwrap();
    // A link to a disk that is not there, and a file without read permission (which root
    // can read anyway, so it is only checked when the tests run as another user).
    std::os::unix::fs::symlink(dir.path().join("unmounted/x.mp3"), music.join("gone.mp3")).unwrap();
    let locked = music.join("locked.mp3");
    std::fs::copy(fixture("id3v24.mp3"), &locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let locked_is_unreadable = std::fs::File::open(&locked).is_err();

    let s = TestServer::start_in(dir.path(), &[]).await;
    let token = s.admin_token().await;
    let st = {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let st = get_json(&s, &token, "/api/v1/library/scan").await;
            if st["state"] == "idle" && st["finished_at"].is_string() {
                break st;
            }
            assert!(Instant::now() < deadline, "scan did not finish: {st}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let readable_extra = usize::from(!locked_is_unreadable);
    assert_eq!(st["added"], 10_002 + readable_extra, "{st}");
    let reasons: Vec<String> = st["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["path"], f["reason"]))
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("zero.mp3")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("loop")), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("gone.mp3") && r.contains("could not be read")),
        "{reasons:?}"
    );
    if locked_is_unreadable {
        assert!(
            reasons.iter().any(|r| r.contains("locked.mp3")),
            "{reasons:?}"
        );
    }

    let tracks = get_json(&s, &token, "/api/v1/tracks?format=mp3&limit=10").await;
    let long = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["artists"][0] == "Long Tag Artist")
        .expect("long-tag track");
    assert!(long["title"].as_str().unwrap().chars().count() <= 10_000);
    let page = get_json(&s, &token, "/api/v1/tracks?limit=1").await;
    assert_eq!(page["total"], 10_002 + readable_extra);
    s.stop().await;
}

#[tokio::test]
async fn a_folder_removed_during_the_scan_leaves_the_catalog_right() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let (keep, gone) = (music.join("Keep"), music.join("Gone"));
    for (folder, n) in [(&keep, 20), (&gone, 3000)] {
        std::fs::create_dir_all(folder).unwrap();
        std::fs::copy(fixture("tags.wav"), folder.join("0000 - Track.wav")).unwrap();
        for i in 1..n {
            std::fs::hard_link(
                folder.join("0000 - Track.wav"),
                folder.join(format!("{i:04} - Track.wav")),
            )
            .unwrap();
        }
    }
    let s = TestServer::start_in(dir.path(), &[]).await;
    let token = s.admin_token().await;
    // Remove the big folder as soon as the start-up scan has begun taking files.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = get_json(&s, &token, "/api/v1/library/scan").await;
        if st["files_seen"].as_u64().unwrap_or(0) > 0 || st["finished_at"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "scan did not start: {st}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::remove_dir_all(&gone).unwrap();
    s.scan_finished(&token).await;
    // Whatever the scan saw of the vanished folder, the catalog settles on what is on disk
    // (the watcher, or the next scan, takes out what the interrupted one added).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = get_json(&s, &token, "/api/v1/tracks?limit=1").await;
        if page["total"] == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "catalog did not settle: {page}");
        let st = rescan(&s, &token).await;
        assert_eq!(st["state"], "idle", "{st}");
    }
    let st = rescan(&s, &token).await;
    assert_eq!(
        (st["added"].as_u64(), st["removed"].as_u64()),
        (Some(0), Some(0)),
        "{st}"
    );
    let albums = get_json(&s, &token, "/api/v1/albums").await;
    assert_eq!(albums["total"], 1, "{albums}");
    s.stop().await;
}
