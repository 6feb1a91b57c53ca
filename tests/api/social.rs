//! Listeners: playlists (entries, collaborators, privacy), likes, saves, ratings, follows,
//! plays (idempotent, batched, concurrent) and who may see statistics.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, token, TestServer};
use crate::uploads::uploaded;

pub async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = s.req(method, path);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

pub async fn ok(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let res = call(s, method.clone(), path, Some(token), body).await;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// An artist with published tracks from `fixtures` (one single each): (token, track ids,
/// album ids, artist id).
pub async fn artist_with_tracks(
    s: &TestServer,
    name: &str,
    fixtures: &[&str],
) -> (String, Vec<String>, Vec<String>, String) {
    let t = s.user_with_role(name, "artist").await;
    let mut tracks = Vec::new();
    let mut albums = Vec::new();
    for f in fixtures {
        let out = uploaded(s, &t, &[f], &[("publish", "true"), ("title", f)]).await;
        tracks.push(out["track_ids"][0].as_str().unwrap().to_owned());
        albums.push(out["album"]["id"].as_str().unwrap().to_owned());
    }
    let track = ok(
        s,
        Method::GET,
        &format!("/api/v1/tracks/{}", tracks[0]),
        &t,
        None,
    )
    .await;
    let artist = track["artist_ids"][0].as_str().unwrap().to_owned();
    (t, tracks, albums, artist)
}

async fn entry_tracks(s: &TestServer, token: &str, playlist: &str) -> Vec<String> {
    let v = ok(
        s,
        Method::GET,
        &format!("/api/v1/playlists/{playlist}?limit=500"),
        token,
        None,
    )
    .await;
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn playlists_keep_ordered_entries_through_adds_moves_and_removals() {
    let s = TestServer::start().await;
    let (_, t, _, _) =
        artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg", "id3v24.mp3"]).await;
    let lis = s.user_with_role("lis", "listener").await;
    let p = ok(&s, Method::POST, "/api/v1/playlists", &lis, Some(json!({
        "name": " Road trip ", "description": "long drives", "public": false, "collaborative": false
    }))).await;
    assert_eq!(p["name"], "Road trip");
    assert_eq!(p["access"], "owner");
    assert_eq!(p["entry_count"], 0);
    let id = p["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/playlists/{id}");

    // The same track twice is two entries with their own ids.
    let added = ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &lis,
        Some(json!({"track_ids": [t[0], t[1], t[0]]})),
    )
    .await;
    assert_eq!(added["entry_count"], 3);
    let e: Vec<String> = added["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry_id"].as_str().unwrap().to_owned())
        .collect();
    assert_ne!(e[0], e[2]);
    assert_eq!(added["entries"][2]["position"], 2);
    assert_eq!(added["entries"][0]["track"]["title"], "tags.flac");

    ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &lis,
        Some(json!({"track_ids": [t[2]], "position": 1})),
    )
    .await;
    assert_eq!(
        entry_tracks(&s, &lis, &id).await,
        [t[0].as_str(), t[2].as_str(), t[1].as_str(), t[0].as_str()]
    );

    // The last entry to the front, then the first to past the end (it goes last).
    let moved = ok(
        &s,
        Method::POST,
        &format!("{path}/entries/{}/move", e[2]),
        &lis,
        Some(json!({"position": 0})),
    )
    .await;
    assert_eq!(moved["position"], 0);
    assert_eq!(
        entry_tracks(&s, &lis, &id).await,
        [t[0].as_str(), t[0].as_str(), t[2].as_str(), t[1].as_str()]
    );
    ok(
        &s,
        Method::POST,
        &format!("{path}/entries/{}/move", e[2]),
        &lis,
        Some(json!({"position": 99})),
    )
    .await;
    assert_eq!(
        entry_tracks(&s, &lis, &id).await,
        [t[0].as_str(), t[2].as_str(), t[1].as_str(), t[0].as_str()]
    );

    let res = call(
        &s,
        Method::DELETE,
        &format!("{path}/entries/{}", e[1]),
        Some(&lis),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        entry_tracks(&s, &lis, &id).await,
        [t[0].as_str(), t[2].as_str(), t[0].as_str()]
    );
    let res = call(
        &s,
        Method::DELETE,
        &format!("{path}/entries/{}", e[1]),
        Some(&lis),
        None,
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // Paging over the entries.
    let page = ok(
        &s,
        Method::GET,
        &format!("{path}?offset=1&limit=1"),
        &lis,
        None,
    )
    .await;
    assert_eq!(page["entry_count"], 3);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    assert_eq!(page["entries"][0]["position"], 1);
    assert_eq!(page["entries"][0]["track_id"], t[2].as_str());

    // Unknown tracks and empty lists are refused; nothing is added.
    let res = call(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        Some(&lis),
        Some(json!({"track_ids": ["00000000000000000000000000000000"]})),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = call(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        Some(&lis),
        Some(json!({"track_ids": []})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let p = ok(
        &s,
        Method::PATCH,
        &path,
        &lis,
        Some(json!({"name": "Night drive", "public": true})),
    )
    .await;
    assert_eq!(p["name"], "Night drive");
    assert_eq!(p["public"], true);
    assert_eq!(p["entry_count"], 3);
    let mine = ok(&s, Method::GET, "/api/v1/playlists", &lis, None).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], id.as_str());

    // A track that leaves the catalog stays in the playlist, shown as unavailable.
    let admin = s.admin_token().await;
    let res = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/studio/tracks/{}", t[2]),
        Some(&admin),
        None,
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    let v = ok(&s, Method::GET, &path, &lis, None).await;
    assert_eq!(v["entries"][1]["available"], false);
    assert_eq!(v["entries"][1]["track"], Value::Null);
    assert_eq!(v["entries"][0]["available"], true);

    let res = call(&s, Method::DELETE, &path, Some(&lis), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = call(&s, Method::GET, &path, Some(&lis), None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn private_playlists_do_not_leak_and_anonymous_callers_get_401() {
    let s = TestServer::start().await;
    let (_, t, _, artist) = artist_with_tracks(&s, "ada", &["tags.flac"]).await;
    let ann = s.user_with_role("ann", "listener").await;
    let bob = s.user_with_role("bob", "listener").await;
    let private = ok(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &ann,
        Some(json!({"name": "Mine"})),
    )
    .await;
    let public = ok(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &ann,
        Some(json!({"name": "Ours", "public": true})),
    )
    .await;
    let private = format!("/api/v1/playlists/{}", private["id"].as_str().unwrap());
    let public = format!("/api/v1/playlists/{}", public["id"].as_str().unwrap());

    // Another user cannot tell a private playlist from a missing one.
    for (m, p, body) in [
        (Method::GET, private.clone(), None),
        (Method::PATCH, private.clone(), Some(json!({"name": "x"}))),
        (Method::DELETE, private.clone(), None),
        (
            Method::POST,
            format!("{private}/entries"),
            Some(json!({"track_ids": [t[0]]})),
        ),
        (Method::PUT, format!("{private}/follow"), None),
        (
            Method::GET,
            "/api/v1/playlists/0000000000000000000000000000000f".into(),
            None,
        ),
    ] {
        let res = call(&s, m.clone(), &p, Some(&bob), body).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    // A public one is seen and followed, but not changed.
    let v = ok(&s, Method::GET, &public, &bob, None).await;
    assert_eq!(v["access"], "viewer");
    let res = call(
        &s,
        Method::PATCH,
        &public,
        Some(&bob),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = call(
        &s,
        Method::POST,
        &format!("{public}/entries"),
        Some(&bob),
        Some(json!({"track_ids": [t[0]]})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let f = ok(&s, Method::PUT, &format!("{public}/follow"), &bob, None).await;
    assert_eq!(f["follower_count"], 1);
    let f = ok(&s, Method::PUT, &format!("{public}/follow"), &bob, None).await;
    assert_eq!(f["follower_count"], 1);
    let v = ok(&s, Method::GET, &public, &ann, None).await;
    assert_eq!(v["follower_count"], 1);
    // Followed playlists are among bob's; ann's public list shows only the public one.
    let bobs = ok(&s, Method::GET, "/api/v1/playlists", &bob, None).await;
    assert_eq!(bobs["total"], 1);
    let ann_id = ok(&s, Method::GET, "/api/v1/me", &ann, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let anns = ok(
        &s,
        Method::GET,
        &format!("/api/v1/playlists?owner={ann_id}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(anns["total"], 1);
    assert_eq!(anns["items"][0]["name"], "Ours");
    let f = ok(&s, Method::DELETE, &format!("{public}/follow"), &bob, None).await;
    assert_eq!(f["follower_count"], 0);

    // Anonymous callers may not make playlists, follow, like, rate or report plays.
    for (m, p, body) in [
        (
            Method::POST,
            "/api/v1/playlists".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/artists/{artist}/follow"),
            None,
        ),
        (Method::PUT, format!("/api/v1/users/{ann_id}/follow"), None),
        (Method::PUT, format!("{public}/follow"), None),
        (Method::PUT, format!("/api/v1/tracks/{}/like", t[0]), None),
        (
            Method::PUT,
            format!("/api/v1/tracks/{}/rating", t[0]),
            Some(json!({"stars": 3})),
        ),
        (Method::GET, "/api/v1/me/history".to_owned(), None),
    ] {
        let res = call(&s, m.clone(), &p, None, body).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

#[tokio::test]
async fn collaborators_change_entries_but_only_the_owner_manages_the_playlist() {
    let s = TestServer::start().await;
    let (_, t, _, _) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let ann = s.user_with_role("ann", "listener").await;
    let bob = s.user_with_role("bob", "listener").await;
    let bob_id = ok(&s, Method::GET, "/api/v1/me", &bob, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = ok(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &ann,
        Some(json!({"name": "Shared", "collaborative": true})),
    )
    .await;
    let path = format!("/api/v1/playlists/{}", p["id"].as_str().unwrap());
    ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &ann,
        Some(json!({"track_ids": [t[0]]})),
    )
    .await;

    // Before the invitation the private playlist does not exist for bob.
    let res = call(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        Some(&bob),
        Some(json!({"track_ids": [t[1]]})),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // Only the owner invites.
    let res = call(
        &s,
        Method::PUT,
        &format!("{path}/collaborators/{bob_id}"),
        Some(&bob),
        None,
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = call(
        &s,
        Method::PUT,
        &format!("{path}/collaborators/{bob_id}"),
        Some(&ann),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let v = ok(&s, Method::GET, &path, &bob, None).await;
    assert_eq!(v["access"], "collaborator");
    assert_eq!(v["collaborators"], json!([bob_id]));
    let added = ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &bob,
        Some(json!({"track_ids": [t[1]], "position": 0})),
    )
    .await;
    let bobs_entry = added["entries"][0]["entry_id"].as_str().unwrap().to_owned();
    assert_eq!(added["entries"][0]["added_by"], bob_id.as_str());
    ok(
        &s,
        Method::POST,
        &format!("{path}/entries/{bobs_entry}/move"),
        &bob,
        Some(json!({"position": 1})),
    )
    .await;
    assert_eq!(
        entry_tracks(&s, &ann, p["id"].as_str().unwrap()).await,
        [t[0].as_str(), t[1].as_str()]
    );
    let res = call(
        &s,
        Method::DELETE,
        &format!("{path}/entries/{bobs_entry}"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // But the fields, the collaborators and the playlist itself are the owner's.
    let res = call(
        &s,
        Method::PATCH,
        &path,
        Some(&bob),
        Some(json!({"name": "Bob's"})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = call(&s, Method::DELETE, &path, Some(&bob), None).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // When the playlist stops being collaborative, collaborators only look.
    ok(
        &s,
        Method::PATCH,
        &path,
        &ann,
        Some(json!({"collaborative": false})),
    )
    .await;
    let res = call(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        Some(&bob),
        Some(json!({"track_ids": [t[1]]})),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // And once removed, the private playlist is gone for them.
    let res = call(
        &s,
        Method::DELETE,
        &format!("{path}/collaborators/{bob_id}"),
        Some(&ann),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = call(&s, Method::GET, &path, Some(&bob), None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn likes_saves_ratings_and_follows_are_counted_and_listed() {
    let s = TestServer::start().await;
    let (_, t, albums, artist) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let ann = s.user_with_role("ann", "listener").await;
    let bob = s.user_with_role("bob", "listener").await;

    let like = format!("/api/v1/tracks/{}/like", t[0]);
    assert_eq!(
        ok(&s, Method::PUT, &like, &ann, None).await["like_count"],
        1
    );
    assert_eq!(
        ok(&s, Method::PUT, &like, &ann, None).await["like_count"],
        1
    );
    assert_eq!(
        ok(&s, Method::PUT, &like, &bob, None).await["like_count"],
        2
    );
    assert_eq!(
        ok(&s, Method::DELETE, &like, &bob, None).await["like_count"],
        1
    );
    assert_eq!(
        ok(&s, Method::DELETE, &like, &bob, None).await["like_count"],
        1
    );
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/tracks/{}/like", t[1]),
        &ann,
        None,
    )
    .await;
    let likes = ok(&s, Method::GET, "/api/v1/me/likes/tracks", &ann, None).await;
    assert_eq!(likes["total"], 2);
    let liked: Vec<&str> = likes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["track_id"].as_str().unwrap())
        .collect();
    assert!(liked.contains(&t[0].as_str()) && liked.contains(&t[1].as_str()));
    let res = call(
        &s,
        Method::PUT,
        "/api/v1/tracks/00000000000000000000000000000001/like",
        Some(&ann),
        None,
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    let save = format!("/api/v1/albums/{}/save", albums[0]);
    assert_eq!(
        ok(&s, Method::PUT, &save, &ann, None).await["save_count"],
        1
    );
    let saves = ok(&s, Method::GET, "/api/v1/me/saves/albums", &ann, None).await;
    assert_eq!(saves["total"], 1);
    assert_eq!(saves["items"][0]["album"]["id"], albums[0].as_str());
    assert_eq!(
        ok(&s, Method::DELETE, &save, &ann, None).await["save_count"],
        0
    );

    // Ratings: one per user and item, replaced on a second rating, averaged on the item.
    let rate = format!("/api/v1/tracks/{}/rating", t[0]);
    ok(&s, Method::PUT, &rate, &ann, Some(json!({"stars": 2}))).await;
    let r = ok(
        &s,
        Method::PUT,
        &rate,
        &ann,
        Some(json!({"stars": 4, "review": "Warm"})),
    )
    .await;
    assert_eq!(r["rating"], json!({"average": 4.0, "count": 1}));
    let r = ok(&s, Method::PUT, &rate, &bob, Some(json!({"stars": 5}))).await;
    assert_eq!(r["rating"], json!({"average": 4.5, "count": 2}));
    let detail = ok(
        &s,
        Method::GET,
        &format!("/api/v1/tracks/{}", t[0]),
        &bob,
        None,
    )
    .await;
    assert_eq!(detail["rating"], json!({"average": 4.5, "count": 2}));
    assert_eq!(detail["like_count"], 1);
    let list = ok(
        &s,
        Method::GET,
        &format!("/api/v1/tracks/{}/ratings", t[0]),
        &bob,
        None,
    )
    .await;
    assert_eq!(list["total"], 2);
    let reviews: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["review"] == "Warm")
        .collect();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["username"], "ann");
    let r = ok(&s, Method::DELETE, &rate, &bob, None).await;
    assert_eq!(r["rating"], json!({"average": 4.0, "count": 1}));
    for bad in [
        json!({"stars": 0}),
        json!({"stars": 6}),
        json!({"stars": 3, "review": "x".repeat(2001)}),
    ] {
        let res = call(&s, Method::PUT, &rate, Some(&ann), Some(bad)).await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let arate = format!("/api/v1/albums/{}/rating", albums[1]);
    ok(
        &s,
        Method::PUT,
        &arate,
        &ann,
        Some(json!({"stars": 3, "review": "x".repeat(2000)})),
    )
    .await;
    let album = ok(
        &s,
        Method::GET,
        &format!("/api/v1/albums/{}", albums[1]),
        &ann,
        None,
    )
    .await;
    assert_eq!(album["rating"], json!({"average": 3.0, "count": 1}));

    // Follows: artists and users, both directions, and a feed of the artists' releases.
    let f = ok(
        &s,
        Method::PUT,
        &format!("/api/v1/artists/{artist}/follow"),
        &ann,
        None,
    )
    .await;
    assert_eq!(f["follower_count"], 1);
    let bob_id = ok(&s, Method::GET, "/api/v1/me", &bob, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ann_id = ok(&s, Method::GET, "/api/v1/me", &ann, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/users/{bob_id}/follow"),
        &ann,
        None,
    )
    .await;
    let res = call(
        &s,
        Method::PUT,
        &format!("/api/v1/users/{ann_id}/follow"),
        Some(&ann),
        None,
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let followers = ok(
        &s,
        Method::GET,
        &format!("/api/v1/users/{bob_id}/followers"),
        &bob,
        None,
    )
    .await;
    assert_eq!(followers["total"], 1);
    assert_eq!(followers["items"][0]["username"], "ann");
    let following = ok(
        &s,
        Method::GET,
        &format!("/api/v1/users/{ann_id}/following"),
        &bob,
        None,
    )
    .await;
    assert_eq!(following["total_users"], 1);
    assert_eq!(following["total_artists"], 1);
    assert_eq!(following["artists"][0]["id"], artist.as_str());
    let feed = ok(&s, Method::GET, "/api/v1/me/feed", &ann, None).await;
    let feed_ids: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(feed_ids.len(), 2);
    assert!(feed_ids.contains(&albums[0].as_str()));
    assert!(
        ok(&s, Method::GET, "/api/v1/me/feed", &bob, None).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let f = ok(
        &s,
        Method::DELETE,
        &format!("/api/v1/artists/{artist}/follow"),
        &ann,
        None,
    )
    .await;
    assert_eq!(f["follower_count"], 0);
}

fn play(track: &str, key: &str, seconds: u32) -> Value {
    json!({
        "track_id": track,
        "started_at": "2026-01-02T10:00:00Z",
        "seconds_played": seconds,
        "completed": true,
        "source": "album",
        "idempotency_key": key,
    })
}

#[tokio::test]
async fn plays_are_counted_once_per_key_and_kept_in_a_clearable_history() {
    let s = TestServer::start().await;
    let (_, t, _, _) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let ann = s.user_with_role("ann", "listener").await;

    let res = call(
        &s,
        Method::POST,
        "/api/v1/plays",
        Some(&ann),
        Some(play(&t[0], "k1", 1)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["recorded"], true);
    // The retry is answered with the first play's id and not counted.
    let res = call(
        &s,
        Method::POST,
        "/api/v1/plays",
        Some(&ann),
        Some(play(&t[0], "k1", 1)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["play_id"], first["play_id"]);

    // A batch: new plays, a retry of k1, a duplicate within the batch, and refused items.
    let batch = json!({"plays": [
        play(&t[1], "k2", 1), play(&t[0], "k1", 1), play(&t[1], "k3", 1), play(&t[1], "k3", 1),
        play("00000000000000000000000000000001", "k4", 1),
        {"track_id": t[0], "started_at": "yesterday", "seconds_played": 1, "source": "album", "idempotency_key": "k5"},
        {"track_id": t[0], "started_at": "2026-01-02T10:00:00Z", "seconds_played": 1, "source": "jukebox", "idempotency_key": "k6"},
    ]});
    let out = ok(&s, Method::POST, "/api/v1/plays/batch", &ann, Some(batch)).await;
    assert_eq!(out["recorded"], 2, "{out}");
    assert_eq!(out["duplicates"], 2);
    let refused: Vec<(u64, &str)> = out["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [
            (4, "not_found"),
            (5, "invalid_request"),
            (6, "invalid_request")
        ]
    );
    let res = call(
        &s,
        Method::POST,
        "/api/v1/plays/batch",
        Some(&ann),
        Some(json!({"plays": []})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = call(&s, Method::POST, "/api/v1/plays", Some(&ann),
        Some(json!({"track_id": t[0], "started_at": "2999-01-01T00:00:00Z", "seconds_played": 1, "source": "album", "idempotency_key": "f"}))).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let history = ok(&s, Method::GET, "/api/v1/me/history?limit=2", &ann, None).await;
    assert_eq!(history["total"], 3);
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    assert_eq!(history["items"][0]["source"], "album");
    let me = ok(&s, Method::GET, "/api/v1/me/stats", &ann, None).await;
    assert_eq!(me["plays"], 3);
    assert_eq!(me["distinct_tracks"], 2);
    assert_eq!(me["top_tracks"][0]["track"]["id"], t[1].as_str());
    assert_eq!(me["top_tracks"][0]["plays"], 2);

    // A private session records nothing.
    let settings = ok(&s, Method::GET, "/api/v1/me/settings", &ann, None).await;
    assert_eq!(settings["private_session"], false);
    ok(
        &s,
        Method::PUT,
        "/api/v1/me/settings",
        &ann,
        Some(json!({"max_bitrate_kbps": null, "private_session": true})),
    )
    .await;
    let res = call(
        &s,
        Method::POST,
        "/api/v1/plays",
        Some(&ann),
        Some(play(&t[0], "p1", 1)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let private: Value = res.json().await.unwrap();
    assert_eq!(private["recorded"], false);
    assert_eq!(
        ok(&s, Method::GET, "/api/v1/me/history", &ann, None).await["total"],
        3
    );
    ok(
        &s,
        Method::PUT,
        "/api/v1/me/settings",
        &ann,
        Some(json!({"private_session": false})),
    )
    .await;

    let res = call(&s, Method::DELETE, "/api/v1/me/history", Some(&ann), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let history = ok(&s, Method::GET, "/api/v1/me/history", &ann, None).await;
    assert_eq!(history["total"], 0);
    assert!(history["items"].as_array().unwrap().is_empty());
    // The artist's counts keep the plays.
    let admin = s.admin_token().await;
    let stats = ok(
        &s,
        Method::GET,
        &format!("/api/v1/stats/tracks/{}?days=365", t[1]),
        &admin,
        None,
    )
    .await;
    assert_eq!(stats["total_plays"], 2);
}

/// 100 clients, one user each, like and unlike two tracks and report plays (with retries)
/// all at once; every count must equal what the clients did.
#[tokio::test]
async fn concurrent_likes_and_plays_leave_exact_counts() {
    const CLIENTS: usize = 100;
    let s = TestServer::start().await;
    let (_, t, _, artist) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let admin = s.admin_token().await;
    let tokens: Vec<String> = futures_util::future::join_all((0..CLIENTS).map(|i| {
        let s = &s;
        let admin = &admin;
        async move {
            let name = format!("listener{i}");
            let res = s
                .post("/api/v1/admin/users")
                .bearer_auth(admin)
                .json(&json!({"username": name, "password": "password123", "role": "listener"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
            token(&s.login(&name, "password123").await)
        }
    }))
    .await;

    let today = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    // Client i: toggles likes in a pattern of its own, reports 3 plays with one retry, then a
    // batch with 2 new plays and a retry.
    let results = futures_util::future::join_all(tokens.iter().enumerate().map(|(i, tok)| {
        let s = &s;
        let t = &t;
        let today = today.clone();
        async move {
            let mut liked = [false, false];
            for step in 0..4 {
                let which = (i + step) % 2;
                let on = (i >> step) & 1 == 1 || step == 0;
                let m = if on { Method::PUT } else { Method::DELETE };
                ok(
                    s,
                    m,
                    &format!("/api/v1/tracks/{}/like", t[which]),
                    tok,
                    None,
                )
                .await;
                liked[which] = on;
            }
            let track = &t[i % 2];
            let p = |k: &str| {
                json!({"track_id": track, "started_at": today, "seconds_played": 30,
                "completed": false, "source": "radio", "idempotency_key": k})
            };
            for k in ["a", "b", "a", "c"] {
                let res = call(s, Method::POST, "/api/v1/plays", Some(tok), Some(p(k))).await;
                assert!(res.status().is_success());
            }
            let out = ok(
                s,
                Method::POST,
                "/api/v1/plays/batch",
                tok,
                Some(json!({"plays": [p("d"), p("b"), p("e")]})),
            )
            .await;
            assert_eq!(out["recorded"], 2);
            assert_eq!(out["duplicates"], 1);
            (liked, i % 2)
        }
    }))
    .await;

    let mut likes = [0u64; 2];
    let mut plays: HashMap<usize, u64> = HashMap::new();
    let mut listeners: HashMap<usize, u64> = HashMap::new();
    for (liked, track) in &results {
        for w in 0..2 {
            likes[w] += u64::from(liked[w]);
        }
        *plays.entry(*track).or_default() += 5;
        *listeners.entry(*track).or_default() += 1;
    }
    for w in 0..2 {
        let st = ok(
            &s,
            Method::GET,
            &format!("/api/v1/stats/tracks/{}", t[w]),
            &admin,
            None,
        )
        .await;
        assert_eq!(st["likes"], likes[w], "likes of track {w}");
        assert_eq!(st["total_plays"], plays[&w], "plays of track {w}");
        assert_eq!(st["plays"], plays[&w]);
        assert_eq!(st["total_listeners"], listeners[&w]);
        assert_eq!(st["unique_listeners"], listeners[&w]);
        assert_eq!(st["series"].as_array().unwrap().len(), 1);
    }
    let st = ok(
        &s,
        Method::GET,
        &format!("/api/v1/stats/artists/{artist}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(st["total_plays"], (CLIENTS * 5) as u64);
    assert_eq!(st["monthly_listeners"], CLIENTS as u64);
    let chart = ok(
        &s,
        Method::GET,
        "/api/v1/charts/tracks?period=day",
        &admin,
        None,
    )
    .await;
    let total: u64 = chart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["plays"].as_u64().unwrap())
        .sum();
    assert_eq!(total, (CLIENTS * 5) as u64);
}

#[tokio::test]
async fn statistics_are_for_the_tracks_artist_and_admins() {
    let s = TestServer::start().await;
    let (ada, t, _, artist) = artist_with_tracks(&s, "ada", &["tags.flac"]).await;
    let (bob, _, _, bobs_artist) = artist_with_tracks(&s, "bob", &["tags.ogg"]).await;
    let lis = s.user_with_role("lis", "listener").await;
    let admin = s.admin_token().await;
    // A play past 80 % of the track, a short one, a like, a follow.
    let track = ok(
        &s,
        Method::GET,
        &format!("/api/v1/tracks/{}", t[0]),
        &lis,
        None,
    )
    .await;
    let secs = track["duration_secs"].as_f64().unwrap().ceil() as u32;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (k, sec) in [("x", secs), ("y", 0)] {
        ok(
            &s,
            Method::POST,
            "/api/v1/plays",
            &lis,
            Some(json!({"track_id": t[0], "started_at": now,
            "seconds_played": sec, "source": "search", "idempotency_key": k})),
        )
        .await;
    }
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/tracks/{}/like", t[0]),
        &lis,
        None,
    )
    .await;
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/artists/{artist}/follow"),
        &lis,
        None,
    )
    .await;

    let track_stats = format!("/api/v1/stats/tracks/{}?days=7", t[0]);
    let artist_stats = format!("/api/v1/stats/artists/{artist}");
    for path in [&track_stats, &artist_stats] {
        let res = call(&s, Method::GET, path, Some(&lis), None).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = call(&s, Method::GET, path, Some(&bob), None).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = call(&s, Method::GET, path, None, None).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        ok(&s, Method::GET, path, &admin, None).await;
    }
    let st = ok(&s, Method::GET, &track_stats, &ada, None).await;
    assert_eq!(st["plays"], 2);
    assert_eq!(st["unique_listeners"], 1);
    assert_eq!(st["completion_rate"], 0.5);
    assert_eq!(st["average_seconds"], f64::from(secs) / 2.0);
    assert_eq!(st["likes"], 1);
    assert_eq!(st["downloads"], 0);
    assert_eq!(st["series"].as_array().unwrap().len(), 1);
    assert_eq!(st["series"][0]["plays"], 2);
    assert_eq!(st["series"][0]["last_listened"], 1, "one listener, twice");
    let st = ok(&s, Method::GET, &artist_stats, &ada, None).await;
    assert_eq!(st["monthly_listeners"], 1);
    assert_eq!(st["followers"], 1);
    assert_eq!(st["total_plays"], 2);
    assert_eq!(st["top_tracks"][0]["track"]["id"], t[0].as_str());
    // Bob sees his own.
    ok(
        &s,
        Method::GET,
        &format!("/api/v1/stats/artists/{bobs_artist}"),
        &bob,
        None,
    )
    .await;
    let res = call(
        &s,
        Method::GET,
        &format!("/api/v1/stats/tracks/{}?days=400", t[0]),
        Some(&ada),
        None,
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Charts are for everyone signed in.
    for kind in ["tracks", "albums", "artists"] {
        for period in ["day", "week", "all"] {
            let c = ok(
                &s,
                Method::GET,
                &format!("/api/v1/charts/{kind}?period={period}"),
                &lis,
                None,
            )
            .await;
            assert_eq!(c["items"][0]["rank"], 1, "{kind} {period}");
            assert_eq!(c["items"][0]["plays"], 2, "{kind} {period}");
        }
    }
    let c = ok(
        &s,
        Method::GET,
        "/api/v1/charts/artists?period=all",
        &lis,
        None,
    )
    .await;
    assert_eq!(c["items"][0]["artist"]["id"], artist.as_str());
    let res = call(
        &s,
        Method::GET,
        "/api/v1/charts/tracks?period=year",
        Some(&lis),
        None,
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn m3u8_export_imports_back_to_the_same_tracks() {
    let s = TestServer::start().await;
    let (_, t, _, _) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let lis = s.user_with_role("lis", "listener").await;
    let p = ok(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &lis,
        Some(json!({"name": "Mix"})),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    ok(
        &s,
        Method::POST,
        &format!("/api/v1/playlists/{id}/entries"),
        &lis,
        Some(json!({"track_ids": [t[1], t[0], t[1]]})),
    )
    .await;

    let res = call(
        &s,
        Method::GET,
        &format!("/api/v1/playlists/{id}/export.m3u8"),
        Some(&lis),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("audio/x-mpegurl"));
    let text = res.text().await.unwrap();
    assert!(text.starts_with("#EXTM3U\n#PLAYLIST:Mix\n"), "{text}");
    assert_eq!(text.matches("#EXTINF:").count(), 3);
    assert!(text.contains(",ada - tags.ogg\n"), "{text}");

    let import = |body: String| {
        s.post("/api/v1/playlists/import?name=Back")
            .bearer_auth(&lis)
            .header("content-type", "audio/x-mpegurl")
            .body(body)
            .send()
    };
    let res = import(text.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["matched"], 3);
    assert_eq!(out["playlist"]["name"], "Back");
    let back = out["playlist"]["id"].as_str().unwrap();
    assert_eq!(
        entry_tracks(&s, &lis, back).await,
        [t[1].as_str(), t[0].as_str(), t[1].as_str()]
    );

    // Paths from another machine: matched by artist, title and duration instead.
    let moved: String = text
        .lines()
        .map(|l| {
            if l.starts_with('/') {
                format!("/elsewhere/{}.mp3\n", l.len())
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        + "#EXTINF:10,Nobody - Nothing\n/nowhere.mp3\n";
    let out: Value = import(moved).await.unwrap().json().await.unwrap();
    assert_eq!(out["matched"], 3, "{out}");
    assert_eq!(out["unmatched"], json!(["/nowhere.mp3"]));
    let back = out["playlist"]["id"].as_str().unwrap();
    assert_eq!(
        entry_tracks(&s, &lis, back).await,
        [t[1].as_str(), t[0].as_str(), t[1].as_str()]
    );

    let res = import("#EXTM3U\n".into()).await.unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Another user's private playlist does not export.
    let bob = s.user_with_role("bob", "listener").await;
    let res = call(
        &s,
        Method::GET,
        &format!("/api/v1/playlists/{id}/export.m3u8"),
        Some(&bob),
        None,
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn covers_are_mosaics_of_album_covers_until_one_is_uploaded() {
    let s = TestServer::start().await;
    let (_, t, _, _) = artist_with_tracks(&s, "ada", &["id3v24.mp3"]).await;
    let lis = s.user_with_role("lis", "listener").await;
    let p = ok(
        &s,
        Method::POST,
        "/api/v1/playlists",
        &lis,
        Some(json!({"name": "Red"})),
    )
    .await;
    let path = format!("/api/v1/playlists/{}", p["id"].as_str().unwrap());
    let res = call(&s, Method::GET, &format!("{path}/cover"), Some(&lis), None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &lis,
        Some(json!({"track_ids": [t[0]]})),
    )
    .await;

    let res = call(&s, Method::GET, &format!("{path}/cover"), Some(&lis), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let img = image::load_from_memory(&res.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (600, 600));
    let px = img.get_pixel(300, 300);
    assert!(
        px[0] > 200 && px[1] < 60 && px[2] < 60,
        "the fixture's cover is red: {px:?}"
    );

    let png = crate::uploads::image_png();
    let bob = s.user_with_role("bob", "listener").await;
    let res = s
        .req(Method::PUT, &format!("{path}/cover"))
        .bearer_auth(&bob)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = s
        .req(Method::PUT, &format!("{path}/cover"))
        .bearer_auth(&lis)
        .body(b"not an image".to_vec())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    let res = s
        .req(Method::PUT, &format!("{path}/cover"))
        .bearer_auth(&lis)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = call(&s, Method::GET, &format!("{path}/cover"), Some(&lis), None).await;
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);
}

#[tokio::test]
async fn artists_keep_playlists_of_their_own_music_on_their_page() {
    let s = TestServer::start().await;
    let (ada, t, _, artist) = artist_with_tracks(&s, "ada", &["tags.flac"]).await;
    let (bob, bobs, _, _) = artist_with_tracks(&s, "bob", &["tags.ogg"]).await;
    let lis = s.user_with_role("lis", "listener").await;
    let body = json!({"name": "Essentials", "artist_id": artist, "collaborative": true});
    for who in [&bob, &lis] {
        let res = call(
            &s,
            Method::POST,
            "/api/v1/playlists",
            Some(who),
            Some(body.clone()),
        )
        .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let p = ok(&s, Method::POST, "/api/v1/playlists", &ada, Some(body)).await;
    assert_eq!(p["artist_id"], artist.as_str());
    assert_eq!(p["public"], true);
    assert_eq!(p["collaborative"], false);
    let path = format!("/api/v1/playlists/{}", p["id"].as_str().unwrap());
    ok(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        &ada,
        Some(json!({"track_ids": [t[0]]})),
    )
    .await;
    let res = call(
        &s,
        Method::POST,
        &format!("{path}/entries"),
        Some(&ada),
        Some(json!({"track_ids": [bobs[0]]})),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = call(
        &s,
        Method::PATCH,
        &path,
        Some(&ada),
        Some(json!({"public": false})),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["public"], true);

    let page = ok(
        &s,
        Method::GET,
        &format!("/api/v1/artists/{artist}"),
        &lis,
        None,
    )
    .await;
    assert_eq!(page["playlists"].as_array().unwrap().len(), 1);
    assert_eq!(page["playlists"][0]["name"], "Essentials");
    assert_eq!(page["playlists"][0]["entry_count"], 1);
    let res = call(&s, Method::DELETE, &path, Some(&ada), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let page = ok(
        &s,
        Method::GET,
        &format!("/api/v1/artists/{artist}"),
        &lis,
        None,
    )
    .await;
    assert!(page["playlists"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn now_playing_shows_followed_users_and_hides_private_sessions() {
    let s = TestServer::start().await;
    let (_, t, _, _) = artist_with_tracks(&s, "ada", &["tags.flac"]).await;
    let ann = s.user_with_role("ann", "listener").await;
    let bob = s.user_with_role("bob", "listener").await;
    let bob_id = ok(&s, Method::GET, "/api/v1/me", &bob, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &s,
        Method::PUT,
        &format!("/api/v1/users/{bob_id}/follow"),
        &ann,
        None,
    )
    .await;
    let res = call(
        &s,
        Method::PUT,
        "/api/v1/me/now-playing",
        Some(&bob),
        Some(json!({"track_id": t[0], "position_secs": 12.5})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let now = ok(&s, Method::GET, "/api/v1/now-playing", &ann, None).await;
    assert_eq!(now.as_array().unwrap().len(), 1);
    assert_eq!(now[0]["username"], "bob");
    assert_eq!(now[0]["track"]["id"], t[0].as_str());
    assert_eq!(now[0]["position_secs"], 12.5);
    ok(
        &s,
        Method::PUT,
        "/api/v1/me/settings",
        &bob,
        Some(json!({"private_session": true})),
    )
    .await;
    assert!(ok(&s, Method::GET, "/api/v1/now-playing", &ann, None)
        .await
        .as_array()
        .unwrap()
        .is_empty());
}

/// The ids of a search's hits of one kind, best first.
async fn search_ids(s: &TestServer, token: &str, q: &str, kind: &str) -> Vec<String> {
    let r = ok(
        s,
        Method::GET,
        &format!("/api/v1/search?q={q}&type={kind}"),
        token,
        None,
    )
    .await;
    r[format!("{kind}s")]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn plays_list_the_most_played_first_among_equal_search_matches() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let (_, t, albums, _) = artist_with_tracks(&s, "ada", &["tags.flac", "tags.ogg"]).await;
    let ann = s.user_with_role("ann", "listener").await;
    // Both titles start with the query's word: equal matches, in name order until played.
    assert_eq!(search_ids(&s, &ann, "tags", "track").await, t);
    assert_eq!(search_ids(&s, &ann, "tags", "album").await, albums);

    for key in ["p1", "p2"] {
        call(
            &s,
            Method::POST,
            "/api/v1/plays",
            Some(&ann),
            Some(play(&t[1], key, 1)),
        )
        .await;
    }
    let most_played_first = |v: &[String]| vec![v[1].clone(), v[0].clone()];
    assert_eq!(
        search_ids(&s, &ann, "tags", "track").await,
        most_played_first(&t)
    );
    assert_eq!(
        search_ids(&s, &ann, "tags", "album").await,
        most_played_first(&albums)
    );
    // A better match still comes first: an exact title outranks a more played prefix match.
    assert_eq!(search_ids(&s, &ann, "tags.flac", "track").await[0], t[0]);
    s.stop().await;

    // The order is rebuilt from the recorded plays at start-up.
    let s = TestServer::start_in(dir.path(), &[]).await;
    let ann = token(&s.login("ann", "password123").await);
    assert_eq!(
        search_ids(&s, &ann, "tags", "track").await,
        most_played_first(&t)
    );
    // Plays of the other track overtake the first's.
    for key in ["p3", "p4", "p5"] {
        call(
            &s,
            Method::POST,
            "/api/v1/plays",
            Some(&ann),
            Some(play(&t[0], key, 1)),
        )
        .await;
    }
    assert_eq!(search_ids(&s, &ann, "tags", "track").await, t);
    s.stop().await;
}
