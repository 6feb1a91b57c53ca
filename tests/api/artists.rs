//! Artists: profiles, album and track editing, drafts, deletes and who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestServer};
use crate::uploads::{files_in, image_png, uploaded};

async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = s.req(method, path).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn ok(s: &TestServer, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let res = call(s, method.clone(), path, token, body).await;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

#[tokio::test]
async fn profiles_are_created_edited_listed_and_linked_by_admins() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let p = ok(&s, Method::POST, "/api/v1/profiles", &ada, Some(json!({
        "name": "Ada Lovelace Trio", "bio": "Engines", "links": ["https://example.org"], "genres": ["Jazz"]
    }))).await;
    assert_eq!(p["slug"], "ada-lovelace-trio");
    let id = p["id"].as_str().unwrap();
    let p = ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/profiles/{id}"),
        &ada,
        Some(json!({"bio": "Analytical"})),
    )
    .await;
    assert_eq!(p["bio"], "Analytical");
    let mine = ok(&s, Method::GET, "/api/v1/studio/profiles", &ada, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let public = ok(
        &s,
        Method::GET,
        &format!("/api/v1/profiles/{id}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(public["name"], "Ada Lovelace Trio");

    // Names are unique; links must be web addresses.
    let bob = s.user_with_role("bob", "artist").await;
    let res = call(
        &s,
        Method::POST,
        "/api/v1/profiles",
        &bob,
        Some(json!({"name": "ada lovelace trio"})),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "artist_name_taken").await;
    let res = call(
        &s,
        Method::POST,
        "/api/v1/profiles",
        &bob,
        Some(json!({"name": "Bob", "links": ["ftp://x"]})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Another artist may not edit it.
    let res = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/profiles/{id}"),
        &bob,
        Some(json!({"bio": "mine"})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // A listener may not have one.
    let lis = s.user_with_role("lis", "listener").await;
    let res = call(
        &s,
        Method::POST,
        "/api/v1/profiles",
        &lis,
        Some(json!({"name": "Lis"})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // An admin links an artist to another account, which then manages it.
    let admin = s.admin_token().await;
    let users = ok(&s, Method::GET, "/api/v1/admin/users", &admin, None).await;
    let bob_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = call(
        &s,
        Method::PUT,
        &format!("/api/v1/admin/artists/{id}/owner"),
        &ada,
        Some(json!({"user_id": bob_id})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let p = ok(
        &s,
        Method::PUT,
        &format!("/api/v1/admin/artists/{id}/owner"),
        &admin,
        Some(json!({"user_id": bob_id})),
    )
    .await;
    assert_eq!(p["owner_id"], bob_id.as_str());
    ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/profiles/{id}"),
        &bob,
        Some(json!({"bio": "now Bob's"})),
    )
    .await;
    let res = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/profiles/{id}"),
        &ada,
        Some(json!({"bio": "x"})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn albums_are_created_edited_reordered_published_and_deleted() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let album = ok(
        &s,
        Method::POST,
        "/api/v1/studio/albums",
        &ada,
        Some(json!({
            "title": "Notes", "kind": "album", "release_date": "2023", "genres": ["Electronic"],
            "description": "On engines", "label": "Babbage"
        })),
    )
    .await;
    let aid = album["id"].as_str().unwrap().to_owned();
    assert_eq!(album["published"], false);
    let res = call(
        &s,
        Method::POST,
        "/api/v1/studio/albums",
        &ada,
        Some(json!({"title": "X", "release_date": "23"})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Three tracks into it, and one single elsewhere.
    let out = uploaded(
        &s,
        &ada,
        &["tags.flac", "tags.ogg", "tags.wav"],
        &[("album_id", &aid)],
    )
    .await;
    let ids: Vec<String> = out["track_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let single = uploaded(&s, &ada, &["id3v24.mp3"], &[]).await;
    let single_id = single["track_ids"][0].as_str().unwrap().to_owned();

    // Reorder, take in the single, leave one out (it becomes a single of its own).
    let v = ok(
        &s,
        Method::PUT,
        &format!("/api/v1/studio/albums/{aid}/tracks"),
        &ada,
        Some(json!({"track_ids": [ids[2], single_id, ids[0]]})),
    )
    .await;
    let order: Vec<&str> = v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![ids[2].as_str(), single_id.as_str(), ids[0].as_str()]
    );
    let left = ok(
        &s,
        Method::GET,
        &format!("/api/v1/studio/tracks/{}", ids[1]),
        &ada,
        None,
    )
    .await;
    assert_ne!(left["album_id"], aid.as_str());
    let res = call(
        &s,
        Method::PUT,
        &format!("/api/v1/studio/albums/{aid}/tracks"),
        &ada,
        Some(json!({"track_ids": [ids[0], ids[0]]})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Edit and publish: the catalog shows the album under its new title, in order.
    ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/albums/{aid}"),
        &ada,
        Some(json!({"title": "Notes, Revised", "published": true})),
    )
    .await;
    let cat = ok(
        &s,
        Method::GET,
        &format!("/api/v1/albums/{aid}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(cat["title"], "Notes, Revised", "{cat}");
    assert_eq!(cat["year"], 2023);
    let cat_order: Vec<&str> = cat["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(cat_order, order);
    assert_eq!(cat["tracks"][0]["track_number"], 1);
    // Published albums give their tracks to the catalog; the left-out single stays a draft.
    s.tracks_when(&ada, 3).await;

    // A cover.
    let res = s
        .req(Method::PUT, &format!("/api/v1/studio/albums/{aid}/cover"))
        .bearer_auth(&ada)
        .header("content-type", "image/png")
        .body(image_png())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .req(Method::PUT, &format!("/api/v1/studio/albums/{aid}/cover"))
        .bearer_auth(&ada)
        .header("content-type", "image/png")
        .body("not an image")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // Unpublish: gone from the catalog.
    ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/albums/{aid}"),
        &ada,
        Some(json!({"published": false})),
    )
    .await;
    s.tracks_when(&ada, 0).await;
    ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/albums/{aid}"),
        &ada,
        Some(json!({"published": true})),
    )
    .await;

    // Deleting, keeping the tracks: they become published singles.
    let res = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/studio/albums/{aid}?tracks=keep"),
        &ada,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = call(
        &s,
        Method::GET,
        &format!("/api/v1/albums/{aid}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    s.tracks_when(&ada, 3).await;
    let albums = ok(&s, Method::GET, "/api/v1/studio/albums", &ada, None).await;
    assert_eq!(albums.as_array().unwrap().len(), 4, "{albums}");
    assert!(albums
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["kind"] == "single"));

    // Deleting with the tracks: files and catalog entries go.
    let a2 = ok(
        &s,
        Method::POST,
        "/api/v1/studio/albums",
        &ada,
        Some(json!({"title": "Bin", "published": true})),
    )
    .await;
    let a2id = a2["id"].as_str().unwrap().to_owned();
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/studio/albums/{a2id}/tracks"),
        &ada,
        Some(json!({"track_ids": [ids[0], ids[2]]})),
    )
    .await;
    let res = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/studio/albums/{a2id}?tracks=delete"),
        &ada,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(files_in(&s, "audio").len(), 2);
    s.tracks_when(&ada, 1).await;
}

#[tokio::test]
async fn tracks_are_edited_published_and_deleted_with_their_files() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let out = uploaded(
        &s,
        &ada,
        &["tags.flac", "tags.ogg"],
        &[("album_title", "Two"), ("publish", "true")],
    )
    .await;
    let a = out["track_ids"][0].as_str().unwrap().to_owned();
    let b = out["track_ids"][1].as_str().unwrap().to_owned();
    let t = ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/tracks/{b}"),
        &ada,
        Some(json!({
            "title": "Renamed", "track_number": 1, "genres": ["Folk"], "explicit": true,
            "lyrics": "la la", "featured_artists": ["Guest"]
        })),
    )
    .await;
    assert_eq!(t["title"], "Renamed");
    assert_eq!(t["track_number"], 1);
    assert_eq!(t["explicit"], true);
    let cat = ok(&s, Method::GET, &format!("/api/v1/tracks/{b}"), &ada, None).await;
    assert_eq!(cat["title"], "Renamed");
    assert_eq!(cat["track_number"], 1);
    assert_eq!(cat["artists"], json!(["ada", "Guest"]));
    assert_eq!(cat["genres"], json!(["Folk"]));
    let res = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/tracks/{b}"),
        &ada,
        Some(json!({"title": ""})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/tracks/{b}"),
        &ada,
        Some(json!({"bpm": 3})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Unpublish and publish again.
    ok(
        &s,
        Method::POST,
        &format!("/api/v1/studio/tracks/{a}/unpublish"),
        &ada,
        None,
    )
    .await;
    s.tracks_when(&ada, 1).await;
    ok(
        &s,
        Method::POST,
        &format!("/api/v1/studio/tracks/{a}/publish"),
        &ada,
        None,
    )
    .await;
    s.tracks_when(&ada, 2).await;

    // Delete: the file and the catalog entry go.
    let res = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/studio/tracks/{a}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    s.tracks_when(&ada, 1).await;
    assert_eq!(files_in(&s, "audio").len(), 1);
    let res = call(
        &s,
        Method::GET,
        &format!("/api/v1/tracks/{a}/stream"),
        &ada,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The same audio may be uploaded again after a delete.
    uploaded(&s, &ada, &["tags.flac"], &[]).await;
}

#[tokio::test]
async fn drafts_are_visible_to_their_owner_and_admins_only() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let bob = s.user_with_role("bob", "artist").await;
    let lis = s.user_with_role("lis", "listener").await;
    let admin = s.admin_token().await;
    let out = uploaded(&s, &ada, &["tags.flac"], &[]).await;
    let t = out["track_ids"][0].as_str().unwrap().to_owned();
    let al = out["album"]["id"].as_str().unwrap().to_owned();
    for who in [&ada, &admin] {
        ok(
            &s,
            Method::GET,
            &format!("/api/v1/studio/tracks/{t}"),
            who,
            None,
        )
        .await;
        ok(
            &s,
            Method::GET,
            &format!("/api/v1/studio/albums/{al}"),
            who,
            None,
        )
        .await;
    }
    for who in [&bob, &lis] {
        for path in [
            format!("/api/v1/studio/tracks/{t}"),
            format!("/api/v1/studio/albums/{al}"),
            format!("/api/v1/tracks/{t}"),
            format!("/api/v1/albums/{al}"),
            format!("/api/v1/tracks/{t}/stream"),
        ] {
            let res = call(&s, Method::GET, &path, who, None).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let res = call(
            &s,
            Method::PATCH,
            &format!("/api/v1/studio/tracks/{t}"),
            who,
            Some(json!({"title": "x"})),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let listed = ok(&s, Method::GET, "/api/v1/tracks", &bob, None).await;
    assert_eq!(listed["total"], 0);
    let mine = ok(&s, Method::GET, "/api/v1/studio/tracks", &ada, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let theirs = ok(&s, Method::GET, "/api/v1/studio/tracks", &bob, None).await;
    assert_eq!(theirs.as_array().unwrap().len(), 0);
}

/// One test per forbidden case of the permissions table, on published content.
#[tokio::test]
async fn artists_touch_only_their_own_music_and_admins_moderate_anything() {
    let s = TestServer::start().await;
    let ada = s.user_with_role("ada", "artist").await;
    let bob = s.user_with_role("bob", "artist").await;
    let lis = s.user_with_role("lis", "listener").await;
    let admin = s.admin_token().await;
    let out = uploaded(
        &s,
        &ada,
        &["tags.flac", "tags.ogg"],
        &[("album_title", "Ada's"), ("publish", "true")],
    )
    .await;
    let t = out["track_ids"][0].as_str().unwrap().to_owned();
    let t2 = out["track_ids"][1].as_str().unwrap().to_owned();
    let al = out["album"]["id"].as_str().unwrap().to_owned();
    let bobs = uploaded(&s, &bob, &["tags.wav"], &[("publish", "true")]).await;
    let bob_album = bobs["album"]["id"].as_str().unwrap().to_owned();

    let forbidden: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/studio/albums/{al}"),
            Some(json!({"title": "Mine"})),
        ),
        (Method::DELETE, format!("/api/v1/studio/albums/{al}"), None),
        (
            Method::PUT,
            format!("/api/v1/studio/albums/{al}/tracks"),
            Some(json!({"track_ids": []})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/studio/tracks/{t}"),
            Some(json!({"title": "Mine"})),
        ),
        (Method::DELETE, format!("/api/v1/studio/tracks/{t}"), None),
        (
            Method::POST,
            format!("/api/v1/studio/tracks/{t}/unpublish"),
            None,
        ),
        (Method::GET, format!("/api/v1/studio/tracks/{t}"), None),
    ];
    for (m, path, body) in &forbidden {
        let res = call(&s, m.clone(), path, &bob, body.clone()).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = call(&s, m.clone(), path, &lis, body.clone()).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Adding someone else's track to one's album.
    let res = call(
        &s,
        Method::PUT,
        &format!("/api/v1/studio/albums/{bob_album}/tracks"),
        &bob,
        Some(json!({"track_ids": [t]})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Uploading into someone else's album.
    let res = crate::uploads::upload(&s, &bob, &["aac.m4a"], &[("album_id", &al)]).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Anonymous callers.
    let res = s.get("/api/v1/studio/tracks").send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    s.tracks_when(&ada, 3).await;

    // Moderation: an admin unpublishes and deletes anyone's music.
    ok(
        &s,
        Method::POST,
        &format!("/api/v1/studio/tracks/{t}/unpublish"),
        &admin,
        None,
    )
    .await;
    s.tracks_when(&ada, 2).await;
    let res = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/studio/tracks/{t2}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    ok(
        &s,
        Method::PATCH,
        &format!("/api/v1/studio/albums/{al}"),
        &admin,
        Some(json!({"published": false})),
    )
    .await;
    s.tracks_when(&ada, 1).await;
    let all = ok(
        &s,
        Method::GET,
        "/api/v1/studio/albums?all=true",
        &admin,
        None,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}
