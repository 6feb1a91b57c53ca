//! The Subsonic API at `/rest`, driven by a real third-party client (the `opensubsonic`
//! crate) in token, password and apiKey modes, plus raw requests where the wire format itself
//! is the subject (XML types, JSONP, form posts, error codes).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opensubsonic::{Auth, Client};
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestServer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Two tracks of "Fixture Album" (a compilation) and one of "Some Album" (Some Artist).
fn media(dir: &Path) {
    let music = dir.join("music");
    std::fs::create_dir_all(music.join("Fixtures")).unwrap();
    for f in ["tags.flac", "id3v24.mp3"] {
        std::fs::copy(fixture(f), music.join("Fixtures").join(f)).unwrap();
    }
    let fb = music.join("Some Artist").join("Some Album");
    std::fs::create_dir_all(&fb).unwrap();
    std::fs::copy(
        fixture("fallback/Some Artist/Some Album/07 - Path Title.flac"),
        fb.join("07 - Path Title.flac"),
    )
    .unwrap();
}

/// A listener `name` with an app password; returns (access token, app password).
async fn listener(s: &TestServer, name: &str) -> (String, String) {
    let access = s.user_with_role(name, "listener").await;
    let res = s
        .post("/api/v1/me/app-passwords")
        .bearer_auth(&access)
        .json(&json!({"name": "Phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["username"], name);
    assert_eq!(body["name"], "Phone");
    let password = body["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 24);
    (access, password)
}

fn client(s: &TestServer, auth: Auth) -> Client {
    Client::new(&s.url(""), auth)
        .unwrap()
        .with_client_name("musewave-tests")
}

/// A raw `/rest` request with `params`; returns the body as text.
async fn raw(s: &TestServer, method: &str, params: &[(&str, &str)]) -> String {
    s.get(&format!("/rest/{method}"))
        .query(params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The first element named `name` in `xml`, as its attributes.
fn xml_attrs(xml: &str, name: &str) -> Option<Vec<(String, String)>> {
    xml_all(xml, name).into_iter().next()
}

/// Every element named `name` in `xml`, as their attributes.
fn xml_all(xml: &str, name: &str) -> Vec<Vec<(String, String)>> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == name.as_bytes() => {
                out.push(
                    e.attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                                a.unescape_value().unwrap().into_owned(),
                            )
                        })
                        .collect(),
                );
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("attribute {key} missing in {attrs:?}"))
}

fn has_attr(attrs: &[(String, String)], key: &str) -> bool {
    attrs.iter().any(|(k, _)| k == key)
}

/// The error code of a failed XML envelope.
fn xml_error(xml: &str) -> i64 {
    let root = xml_attrs(xml, "subsonic-response").expect("envelope");
    assert_eq!(attr(&root, "status"), "failed", "{xml}");
    attr(&xml_attrs(xml, "error").expect("error element"), "code")
        .parse()
        .unwrap()
}

/// A JSON object's scalar fields as XML would write them, sorted by name.
fn scalars(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// The same scalar fields in a JSON object and an XML element's attributes.
fn assert_same_fields(json: &Value, xml: &[(String, String)]) {
    let mut xml = xml.to_vec();
    xml.sort();
    assert_eq!(scalars(json), xml);
}

fn is_id(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_time(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

#[tokio::test]
async fn envelope_formats_auth_modes_and_error_codes() {
    let s = TestServer::start().await;
    let (access, pw) = listener(&s, "lena").await;

    // The extensions answer without credentials.
    let ext: Value = s
        .get("/rest/getOpenSubsonicExtensions?f=json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = ext["subsonic-response"]["openSubsonicExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in [
        "formPost",
        "apiKeyAuthentication",
        "transcodeOffset",
        "songLyrics",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }

    // A real client in each auth mode.
    for auth in [
        Auth::token("lena", &pw),
        Auth::plain("lena", &pw),
        Auth::api_key(&pw),
    ] {
        let c = client(&s, auth);
        c.ping().await.expect("ping");
        assert!(c.get_license().await.unwrap().valid);
        let folders = c.get_music_folders().await.unwrap();
        assert_eq!(folders.len(), 1);
        assert_eq!(folders[0].id, 1);
        let me = c.get_user("lena").await.unwrap();
        assert_eq!(me.username, "lena");
        assert_eq!(me.admin_role, Some(false));
        assert_eq!(me.stream_role, Some(true));
    }
    let info = client(&s, Auth::api_key(&pw)).token_info().await.unwrap();
    assert_eq!(info.username, "lena");

    // The XML envelope, field by field.
    let xml = raw(
        &s,
        "ping.view",
        &[("u", "lena"), ("p", &pw), ("v", "1.12.0"), ("c", "t")],
    )
    .await;
    assert!(
        xml.contains(r#"xmlns="http://subsonic.org/restapi""#),
        "{xml}"
    );
    let root = xml_attrs(&xml, "subsonic-response").unwrap();
    assert_eq!(attr(&root, "status"), "ok");
    assert_eq!(attr(&root, "version"), "1.16.1");
    assert_eq!(attr(&root, "type"), "musewave");
    assert_eq!(attr(&root, "openSubsonic"), "true");
    assert_eq!(attr(&root, "serverVersion"), env!("CARGO_PKG_VERSION"));
    let xml = raw(
        &s,
        "getMusicFolders",
        &[("u", "lena"), ("p", &pw), ("v", "1.16.1"), ("c", "t")],
    )
    .await;
    let folder = xml_attrs(&xml, "musicFolder").unwrap();
    assert_eq!(attr(&folder, "id").parse::<i64>().unwrap(), 1);

    // JSON and JSONP; an unusable callback is refused in plain JSON.
    let enc = format!(
        "enc:{}",
        pw.bytes().map(|b| format!("{b:02X}")).collect::<String>()
    );
    let base = [
        ("u", "lena"),
        ("p", enc.as_str()),
        ("v", "1.16.1"),
        ("c", "t"),
    ];
    let res = s
        .get("/rest/ping")
        .query(&base)
        .query(&[("f", "json")])
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = res.json().await.unwrap();
    let env = &v["subsonic-response"];
    assert_eq!(env["status"], "ok");
    assert_eq!(env["type"], "musewave");
    assert_eq!(env["openSubsonic"], true);
    let jsonp = s
        .get("/rest/ping.view")
        .query(&base)
        .query(&[("f", "jsonp"), ("callback", "cb.done")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        jsonp.starts_with("cb.done({\"subsonic-response\"") && jsonp.ends_with(");"),
        "{jsonp}"
    );
    let bad = s
        .get("/rest/ping.view")
        .query(&base)
        .query(&[("f", "jsonp"), ("callback", "alert(1)//")])
        .send()
        .await
        .unwrap();
    assert!(bad.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["subsonic-response"]["status"], "failed");

    // Form POST (formPost extension), with repeated parameters in the body.
    let res = s
        .post("/rest/getUser.view")
        .form(&[
            ("u", "lena"),
            ("p", pw.as_str()),
            ("v", "1.16.1"),
            ("c", "t"),
            ("username", "lena"),
        ])
        .send()
        .await
        .unwrap();
    let xml = res.text().await.unwrap();
    let user = xml_attrs(&xml, "user").expect("user element");
    for role in [
        "adminRole",
        "settingsRole",
        "downloadRole",
        "uploadRole",
        "playlistRole",
        "coverArtRole",
        "commentRole",
        "podcastRole",
        "streamRole",
        "jukeboxRole",
        "shareRole",
        "videoConversionRole",
        "scrobblingEnabled",
    ] {
        assert!(has_attr(&user, role), "{role} in {xml}");
    }

    // Every error code, always a well-formed envelope.
    let token_of = |salt: &str| opensubsonic_token(&pw, salt);
    let good_t = token_of("abc123");
    let cases: Vec<(Vec<(&str, &str)>, i64)> = vec![
        (vec![("p", &pw), ("v", "1.16.1"), ("c", "t")], 10),
        (vec![("u", "lena"), ("p", &pw), ("c", "t")], 10),
        (vec![("u", "lena"), ("p", &pw), ("v", "1.16.1")], 10),
        (vec![("u", "lena"), ("v", "1.16.1"), ("c", "t")], 10),
        (
            vec![("u", "lena"), ("p", "wrong"), ("v", "1.16.1"), ("c", "t")],
            40,
        ),
        // The main password is never a player credential.
        (
            vec![
                ("u", "lena"),
                ("p", "password123"),
                ("v", "1.16.1"),
                ("c", "t"),
            ],
            40,
        ),
        (
            vec![
                ("u", "lena"),
                ("t", "0123456789abcdef0123456789abcdef"),
                ("s", "abc123"),
                ("v", "1.16.1"),
                ("c", "t"),
            ],
            40,
        ),
        (
            vec![
                ("u", "nobody"),
                ("t", &good_t),
                ("s", "abc123"),
                ("v", "1.16.1"),
                ("c", "t"),
            ],
            40,
        ),
        (
            vec![("u", "lena"), ("apiKey", &pw), ("v", "1.16.1"), ("c", "t")],
            43,
        ),
        (
            vec![("apiKey", "not-a-key"), ("v", "1.16.1"), ("c", "t")],
            44,
        ),
    ];
    for (params, code) in &cases {
        let xml = raw(&s, "ping", params).await;
        assert_eq!(xml_error(&xml), *code, "{params:?}: {xml}");
    }
    let ok = raw(
        &s,
        "ping",
        &[
            ("u", "lena"),
            ("t", &good_t),
            ("s", "abc123"),
            ("v", "1.16.1"),
            ("c", "t"),
        ],
    )
    .await;
    assert_eq!(
        attr(&xml_attrs(&ok, "subsonic-response").unwrap(), "status"),
        "ok"
    );
    let auth = [
        ("u", "lena"),
        ("p", pw.as_str()),
        ("v", "1.16.1"),
        ("c", "t"),
    ];
    let mut missing = auth.to_vec();
    missing.push(("id", "0123456789abcdef0123456789abcdef"));
    assert_eq!(xml_error(&raw(&s, "getAlbum", &missing).await), 70);
    let mut garbage = auth.to_vec();
    garbage.push(("id", "../../etc/passwd"));
    assert_eq!(xml_error(&raw(&s, "getSong", &garbage).await), 70);
    assert_eq!(xml_error(&raw(&s, "getAlbum", &auth).await), 10);
    let c = client(&s, Auth::token("lena", &pw));
    match c.get_album("0123456789abcdef0123456789abcdef").await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 70),
        other => panic!("expected code 70, got {other:?}"),
    }

    // Listing shows the app password without its secret; revoking it locks the player out.
    let list: Value = s
        .get("/api/v1/me/app-passwords")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(!list.to_string().contains(&pw));
    let id = items[0]["id"].as_str().unwrap();
    let res = s
        .req(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/app-passwords/{id}"),
        )
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(xml_error(&raw(&s, "ping", &auth).await), 40);
    match client(&s, Auth::api_key(&pw)).ping().await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 44),
        other => panic!("expected code 44, got {other:?}"),
    }

    // Guessing is throttled like the web sign-in.
    let wrong = [("u", "lena"), ("p", "guess"), ("v", "1.16.1"), ("c", "t")];
    for _ in 0..5 {
        raw(&s, "ping", &wrong).await;
    }
    let xml = raw(&s, "ping", &wrong).await;
    assert_eq!(xml_error(&xml), 0, "{xml}");
    assert!(xml.contains("too many failed attempts"), "{xml}");
}

/// `md5(password + salt)` as players compute it.
fn opensubsonic_token(password: &str, salt: &str) -> String {
    musewave::subsonic::credentials::subsonic_token(password, salt)
}

#[tokio::test]
async fn rest_works_under_the_base_url() {
    let s = TestServer::start_with(&[("MUSEWAVE_SERVER__BASE_URL", "/music")]).await;
    let xml = s
        .get("/music/rest/ping.view?u=x&p=y&v=1.16.1&c=t")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Reached and answered by the API (wrong credentials), not a 404 page.
    assert_eq!(xml_error(&xml), 40);
}

/// Waits until the catalog has `n` songs, as the player sees it.
async fn songs_when(c: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c
            .search3("", &opensubsonic::Search3Options::new().song_count(500))
            .await
            .unwrap();
        if r.song.len() == n {
            return;
        }
        assert!(Instant::now() < deadline, "catalog did not reach {n} songs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn players_browse_stream_and_share_one_library_with_the_web_app() {
    let dir = tempfile::tempdir().unwrap();
    media(dir.path());
    let s = TestServer::start_in(dir.path(), &[]).await;
    let (access, pw) = listener(&s, "pia").await;
    let c = client(&s, Auth::token("pia", &pw));
    songs_when(&c, 3).await;

    // Artists by index, with the fields strict clients need.
    let artists = c.get_artists(None).await.unwrap();
    let all: Vec<_> = artists.index.iter().flat_map(|i| i.artist.iter()).collect();
    // The fixtures are flagged as a compilation: their album artist is Various Artists.
    let acdc = all
        .iter()
        .find(|a| a.name == "Various Artists")
        .unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(acdc.album_count, Some(1));
    let xml = raw(
        &s,
        "getArtists",
        &[("u", "pia"), ("p", &pw), ("v", "1.16.1"), ("c", "t")],
    )
    .await;
    assert!(has_attr(
        &xml_attrs(&xml, "artists").unwrap(),
        "ignoredArticles"
    ));
    let artist = c.get_artist(&acdc.id).await.unwrap();
    assert_eq!(artist.album.len(), 1);
    let album_id = artist.album[0].id.clone();

    // The album in XML, field by field and type by type.
    let auth = [
        ("u", "pia"),
        ("p", pw.as_str()),
        ("v", "1.16.1"),
        ("c", "Symfonium"),
    ];
    let mut q = auth.to_vec();
    q.push(("id", &album_id));
    let xml = raw(&s, "getAlbum", &q).await;
    let al = xml_attrs(&xml, "album").unwrap();
    assert_eq!(attr(&al, "name"), "Fixture Album");
    assert_eq!(attr(&al, "artist"), "Various Artists");
    assert_eq!(attr(&al, "songCount").parse::<u32>().unwrap(), 2);
    let duration: u64 = attr(&al, "duration").parse().unwrap();
    assert!(duration <= 3, "{duration}");
    assert!(is_time(attr(&al, "created")), "{al:?}");
    assert!(is_id(attr(&al, "id")));
    let songs = xml_all(&xml, "song");
    assert_eq!(songs.len(), 2);
    for song in &songs {
        assert!(is_id(attr(song, "id")));
        assert_eq!(attr(song, "albumId"), album_id);
        assert_eq!(attr(song, "title"), "Fixture Title");
        assert_eq!(attr(song, "isDir"), "false");
        assert_eq!(attr(song, "track").parse::<u32>().unwrap(), 3);
        assert_eq!(attr(song, "year").parse::<i32>().unwrap(), 2021);
        attr(song, "duration").parse::<u64>().unwrap();
        attr(song, "size").parse::<u64>().unwrap();
        assert!(is_time(attr(song, "created")));
        assert!(attr(song, "contentType").starts_with("audio/"));
    }
    // OpenSubsonic's nested elements, except for legacy clients (DSub).
    assert!(xml.contains("<genres "), "{xml}");
    let mut dsub = q.clone();
    dsub[3] = ("c", "DSub");
    let legacy = raw(&s, "getAlbum", &dsub).await;
    assert!(
        !legacy.contains("<genres") && !legacy.contains("<artists"),
        "{legacy}"
    );
    assert_eq!(xml_all(&legacy, "song").len(), 2);

    // The same through the client (JSON).
    let album = c.get_album(&album_id).await.unwrap();
    assert_eq!(album.song_count, Some(2));
    let flac = album
        .song
        .iter()
        .find(|s| s.suffix.as_deref() == Some("flac"))
        .unwrap();
    let mp3 = album
        .song
        .iter()
        .find(|s| s.suffix.as_deref() == Some("mp3"))
        .unwrap();
    let song = c.get_song(&flac.id).await.unwrap();
    assert_eq!(song.album.as_deref(), Some("Fixture Album"));
    assert_eq!(song.content_type.as_deref(), Some("audio/flac"));

    // JSON and XML carry the same fields, starred and rated ones included: songs and albums
    // are written to JSON field by field, and to XML from the same tree as every other answer.
    for (method, id) in [("star", &flac.id), ("star", &album_id)] {
        let mut q = auth.to_vec();
        q.push(if id == &album_id {
            ("albumId", id)
        } else {
            ("id", id)
        });
        assert!(raw(&s, method, &q).await.contains("status=\"ok\""));
    }
    let mut rate = auth.to_vec();
    rate.extend([("id", mp3.id.as_str()), ("rating", "4")]);
    assert!(raw(&s, "setRating", &rate).await.contains("status=\"ok\""));
    let xml = raw(&s, "getAlbum", &q).await;
    let mut jq = q.clone();
    jq.push(("f", "json"));
    let body: Value = serde_json::from_str(&raw(&s, "getAlbum", &jq).await).unwrap();
    let album = &body["subsonic-response"]["album"];
    assert!(album["starred"].is_string(), "{album}");
    assert_same_fields(album, &xml_attrs(&xml, "album").unwrap());
    let json_songs = album["song"].as_array().unwrap();
    let xml_songs = xml_all(&xml, "song");
    assert_eq!(json_songs.len(), xml_songs.len());
    for (j, x) in json_songs.iter().zip(&xml_songs) {
        assert_same_fields(j, x);
    }
    assert!(json_songs.iter().any(|s| s["starred"].is_string()));
    assert!(json_songs.iter().any(|s| s["userRating"] == 4));
    for nested in ["genres", "artists", "albumArtists"] {
        let mut from_json: Vec<Vec<(String, String)>> = std::iter::once(album)
            .chain(json_songs)
            .flat_map(|o| o[nested].as_array().cloned().unwrap_or_default())
            .map(|v| scalars(&v))
            .collect();
        let mut from_xml: Vec<Vec<(String, String)>> = xml_all(&xml, nested)
            .into_iter()
            .map(|mut a| {
                a.sort();
                a
            })
            .collect();
        from_json.sort();
        from_xml.sort();
        assert!(!from_json.is_empty() || nested == "albumArtists");
        assert_eq!(from_json, from_xml, "{nested}");
    }
    // Back to no marks, which the rest of the test starts from.
    let mut unmark = auth.to_vec();
    unmark.extend([("id", flac.id.as_str()), ("albumId", album_id.as_str())]);
    assert!(raw(&s, "unstar", &unmark).await.contains("status=\"ok\""));
    rate[5].1 = "0";
    assert!(raw(&s, "setRating", &rate).await.contains("status=\"ok\""));

    // Folders view of the same library.
    let idx = c.get_indexes(None, None).await.unwrap();
    assert!(idx
        .index
        .iter()
        .flat_map(|i| &i.artist)
        .any(|a| a.name == "Some Artist"));
    let dir_artist = c.get_music_directory(&acdc.id).await.unwrap();
    assert_eq!(dir_artist.child.len(), 1);
    assert!(dir_artist.child[0].is_dir);
    let dir_album = c.get_music_directory(&album_id).await.unwrap();
    assert_eq!(dir_album.child.len(), 2);

    // Lists, genres, random songs and search.
    use opensubsonic::{AlbumListOptions, AlbumListType};
    let newest = c
        .get_album_list2(AlbumListType::Newest, &AlbumListOptions::default())
        .await
        .unwrap();
    assert_eq!(newest.len(), 2);
    let by_name = c
        .get_album_list2(
            AlbumListType::AlphabeticalByName,
            &AlbumListOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_name[0].name, "Fixture Album");
    let genres = c.get_genres().await.unwrap();
    let rock = genres.iter().find(|g| g.name == "Rock").expect("Rock");
    assert_eq!(rock.song_count, 2);
    assert_eq!(rock.album_count, 1);
    let random = c.get_random_songs(&Default::default()).await.unwrap();
    assert_eq!(random.len(), 3);
    let mut seen = std::collections::HashSet::new();
    for offset in [0, 2] {
        let page = c
            .search3(
                "\"\"",
                &opensubsonic::Search3Options::new()
                    .song_count(2)
                    .song_offset(offset),
            )
            .await
            .unwrap();
        seen.extend(page.song.into_iter().map(|s| s.id));
    }
    assert_eq!(seen.len(), 3, "an empty query pages through every song");
    let found = c.search3("path title", &Default::default()).await.unwrap();
    assert_eq!(found.song.len(), 1);
    assert_eq!(found.song[0].title, "Path Title");

    // The remaining browsing and list methods, through an apiKey client.
    let k = client(&s, Auth::api_key(&pw));
    let rock = k
        .get_songs_by_genre("Rock", &Default::default())
        .await
        .unwrap();
    assert_eq!(rock.len(), 2);
    let top = k.get_top_songs("Some Artist", None).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].title, "Path Title");
    let similar = k.get_similar_songs2(&flac.id, Some(10)).await.unwrap();
    assert!(similar.iter().all(|s| s.id != flac.id));
    k.get_artist_info2(&acdc.id, None, None).await.unwrap();
    k.get_album_info2(&album_id).await.unwrap();
    let dirs = k
        .get_album_list(
            AlbumListType::AlphabeticalByArtist,
            &AlbumListOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(dirs.len(), 2);
    assert!(dirs.iter().all(|d| d.is_dir));
    let s2 = k.search2("fixture", &Default::default()).await.unwrap();
    assert_eq!(s2.song.len(), 2);
    assert_eq!(s2.album.len(), 1);
    let old = k
        .search(&opensubsonic::SearchOptions::new().any("path"))
        .await
        .unwrap();
    assert_eq!(old.matches.len(), 1);
    assert!(k.get_starred(None).await.unwrap().song.is_empty());
    let scan = k.get_scan_status().await.unwrap();
    assert!(!scan.scanning);
    assert_eq!(scan.count, Some(3));
    assert!(k.get_bookmarks().await.unwrap().is_empty());

    // Media: the original with ranges, transcodes, artwork, lyrics.
    let mut sq = auth.to_vec();
    sq.push(("id", &flac.id));
    sq.push(("format", "raw"));
    let res = s
        .get("/rest/stream")
        .query(&sq)
        .header("Range", "bytes=100-299")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().len(), 200);
    let mut tq = auth.to_vec();
    tq.push(("id", &flac.id));
    tq.extend([
        ("format", "mp3"),
        ("maxBitRate", "64"),
        ("timeOffset", "0.5"),
    ]);
    let res = s.get("/rest/stream.view").query(&tq).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    assert!(!res.bytes().await.unwrap().is_empty());
    let original = std::fs::read(fixture("id3v24.mp3")).unwrap();
    let dl = c.download(&mp3.id).await.unwrap();
    assert_eq!(dl.as_ref(), original.as_slice());
    let art = c.get_cover_art(&album_id, Some(64)).await.unwrap();
    let img = image::load_from_memory(&art).expect("an image");
    assert!(img.width() <= 64 && img.height() <= 64);
    let lyrics = c.get_lyrics_by_song_id(&flac.id, None).await.unwrap();
    let lines: Vec<&str> = lyrics.structured_lyrics[0]
        .line
        .iter()
        .map(|l| l.value.as_str())
        .collect();
    assert_eq!(lines, ["First line", "Second line"]);
    let by_name = c
        .get_lyrics(Some("Alice"), Some("Fixture Title"))
        .await
        .unwrap();
    assert_eq!(by_name.value.as_deref(), Some("First line\nSecond line"));

    // Stars are likes, saves and follows; ratings and scrobbles are the web app's too.
    c.star(&[&flac.id], &[&album_id], &[&acdc.id])
        .await
        .unwrap();
    let likes: Value = s
        .get("/api/v1/me/likes/tracks")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(likes.to_string().contains(&flac.id), "{likes}");
    let res = s
        .req(
            reqwest::Method::PUT,
            &format!("/api/v1/tracks/{}/like", mp3.id),
        )
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let starred = c.get_starred2(None).await.unwrap();
    assert_eq!(starred.song.len(), 2);
    assert_eq!(starred.album.len(), 1);
    assert_eq!(starred.artist.len(), 1);
    assert!(starred
        .song
        .iter()
        .all(|s| s.starred.as_deref().is_some_and(is_time)));
    c.unstar(&[&mp3.id], &[], &[]).await.unwrap();
    assert_eq!(c.get_starred2(None).await.unwrap().song.len(), 1);
    c.set_rating(&flac.id, 4).await.unwrap();
    assert_eq!(c.get_song(&flac.id).await.unwrap().user_rating, Some(4));
    // An album's star and rating show wherever the album is listed.
    c.set_rating(&album_id, 3).await.unwrap();
    let album = c.get_album(&album_id).await.unwrap();
    assert_eq!(album.user_rating, Some(3));
    assert!(album.starred.as_deref().is_some_and(is_time));
    let listed = c
        .get_album_list2(AlbumListType::Starred, &AlbumListOptions::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, album_id);
    assert_eq!(listed[0].user_rating, Some(3));
    assert!(listed[0].starred.as_deref().is_some_and(is_time));
    c.scrobble(&flac.id, None, Some(false)).await.unwrap();
    let playing = c.get_now_playing().await.unwrap();
    assert_eq!(playing.len(), 1);
    assert_eq!(playing[0].child.id, flac.id);
    let when = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 60_000;
    c.scrobble(&flac.id, Some(when), None).await.unwrap();
    c.scrobble(&flac.id, Some(when), None).await.unwrap();
    let history: Value = s
        .get("/api/v1/me/history")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["total"], 1,
        "a retried scrobble counts once: {history}"
    );
    for (kind, expected) in [
        (AlbumListType::Starred, 1),
        (AlbumListType::Frequent, 1),
        (AlbumListType::Recent, 1),
        (AlbumListType::Highest, 1),
        (AlbumListType::Random, 2),
    ] {
        let list = k
            .get_album_list2(kind, &AlbumListOptions::default())
            .await
            .unwrap();
        assert_eq!(list.len(), expected, "{kind:?}");
    }
    match k.start_scan().await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 50),
        other => panic!("a listener may not scan: {other:?}"),
    }
    match k.get_avatar("pia").await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 70),
        other => panic!("no avatar yet: {other:?}"),
    }
    let res = s
        .req(reqwest::Method::PUT, "/api/v1/me/avatar")
        .bearer_auth(&access)
        .header("content-type", "image/png")
        .body(crate::accounts::png(64, 64))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    let web = s
        .get(me["avatar_url"].as_str().unwrap())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let res = s
        .get("/rest/getAvatar")
        .query(&[
            ("u", "pia"),
            ("p", pw.as_str()),
            ("v", "1.16.1"),
            ("c", "t"),
        ])
        .query(&[("username", "pia")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes, web, "the same picture as the web app's");
    assert!(image::load_from_memory(&bytes).is_ok());

    // Playlists are the web app's playlists, private ones stay private.
    let pl = c
        .create_playlist(None, Some("Road"), &[&flac.id, &mp3.id])
        .await
        .unwrap();
    assert_eq!(pl.entry.len(), 2);
    c.update_playlist(
        &pl.id,
        &opensubsonic::UpdatePlaylistOptions::new()
            .name("Road trip")
            .add_song(flac.id.clone())
            .remove_index(0),
    )
    .await
    .unwrap();
    let pl2 = c.get_playlist(&pl.id).await.unwrap();
    assert_eq!(pl2.name, "Road trip");
    let order: Vec<&str> = pl2.entry.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(order, [mp3.id.as_str(), flac.id.as_str()]);
    let mine: Value = s
        .get("/api/v1/playlists")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.to_string().contains("Road trip"), "{mine}");
    assert_eq!(c.get_playlists(None).await.unwrap().len(), 1);
    let other = s.user_with_role("otto", "listener").await;
    let res: Value = s
        .post("/api/v1/playlists")
        .bearer_auth(&other)
        .json(&json!({"name": "Secret", "public": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret_id = res["id"].as_str().unwrap();
    match c.get_playlist(secret_id).await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 70),
        other => panic!("expected code 70, got {other:?}"),
    }
    c.delete_playlist(&pl.id).await.unwrap();
    assert!(c.get_playlists(None).await.unwrap().is_empty());

    // The play queue follows the user to another device.
    c.save_play_queue(&[&flac.id, &mp3.id], Some(&mp3.id), Some(1500))
        .await
        .unwrap();
    let other_device = client(&s, Auth::plain("pia", &pw));
    let queue = other_device.get_play_queue().await.unwrap();
    assert_eq!(queue.username, "pia");
    assert_eq!(queue.current.as_deref(), Some(mp3.id.as_str()));
    assert_eq!(queue.position, Some(1500));
    assert_eq!(queue.entry.len(), 2);

    // Bookmarks in long tracks, kept per user.
    k.create_bookmark(&flac.id, 750, Some("here"))
        .await
        .unwrap();
    let marks = c.get_bookmarks().await.unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].position, 750);
    assert_eq!(marks[0].comment.as_deref(), Some("here"));
    assert_eq!(marks[0].entry.id, flac.id);
    k.delete_bookmark(&flac.id).await.unwrap();
    assert!(c.get_bookmarks().await.unwrap().is_empty());
    match k.delete_bookmark(&flac.id).await {
        Err(opensubsonic::Error::Api(e)) => assert_eq!(e.code, 70),
        other => panic!("expected code 70, got {other:?}"),
    }
}
