//! Registration modes, usernames, profiles, avatars and password changes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, token, TestServer, ADMIN_PASSWORD};

fn register(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

#[tokio::test]
async fn closed_registration_is_403() {
    let s = TestServer::start().await;
    let res = s
        .post("/api/v1/auth/register")
        .json(&register("alice", "password123"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn open_registration_validates_and_keeps_usernames_unique_ignoring_case() {
    let s = TestServer::start_with(&[("MUSEWAVE_AUTH__REGISTRATION", "open")]).await;
    let res = s
        .post("/api/v1/auth/register")
        .json(&register("Alice", "password123"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str()),
        (Some("Alice"), Some("listener"))
    );

    let res = s
        .post("/api/v1/auth/register")
        .json(&register("aLiCe", "password123"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::CONFLICT, "username_taken").await;
    let res = s
        .post("/api/v1/auth/register")
        .json(&register("../etc", "password123"))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "username");
    let res = s
        .post("/api/v1/auth/register")
        .json(&register("bob", "short"))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "password");
    // Login is case-insensitive too.
    s.login("ALICE", "password123").await;
}

#[tokio::test]
async fn invite_registration_needs_a_valid_unused_code() {
    let s = TestServer::start_with(&[("MUSEWAVE_AUTH__REGISTRATION", "invite")]).await;
    let admin = s.admin_token().await;
    let res = s
        .post("/api/v1/auth/register")
        .json(&register("carol", "password123"))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "invite_code");

    let invite: Value = s
        .post("/api/v1/admin/invites")
        .bearer_auth(&admin)
        .json(&json!({"role": "artist", "valid_hours": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = invite["code"].as_str().unwrap();
    let mut req = register("carol", "password123");
    req["invite_code"] = json!(code);
    let res = s
        .post("/api/v1/auth/register")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "artist");

    let mut again = register("dave", "password123");
    again["invite_code"] = json!(code);
    let res = s
        .post("/api/v1/auth/register")
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let invites: Value = s
        .get("/api/v1/admin/invites")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(invites[0]["used_by"].is_string());
}

#[tokio::test]
async fn profile_edit_is_validated_and_kept() {
    let s = TestServer::start().await;
    let t = s.user_with_role("erin", "listener").await;
    let res = s
        .req(Method::PATCH, "/api/v1/me")
        .bearer_auth(&t)
        .json(&json!({"display_name": "Erin K.", "bio": "Listens to everything."}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = s
        .get("/api/v1/me")
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Erin K.");
    assert_eq!(me["bio"], "Listens to everything.");

    let res = s
        .req(Method::PATCH, "/api/v1/me")
        .bearer_auth(&t)
        .json(&json!({"bio": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "bio");
    let res = s
        .req(Method::PATCH, "/api/v1/me")
        .bearer_auth(&t)
        .json(&json!({"display_name": "  "}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn avatar_is_scaled_served_and_removed() {
    let s = TestServer::start().await;
    let t = s.user_with_role("frank", "listener").await;
    let res = s
        .req(Method::PUT, "/api/v1/me/avatar")
        .bearer_auth(&t)
        .header("content-type", "image/png")
        .body(png(600, 300))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    let url = me["avatar_url"].as_str().unwrap().to_owned();

    let res = s.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (256, 128));
    let res = s
        .get(&url)
        .bearer_auth(&t)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let res = s
        .req(Method::DELETE, "/api/v1/me/avatar")
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bad_avatar_uploads_are_refused() {
    let s = TestServer::start_with(&[("MUSEWAVE_SERVER__MAX_IMAGE_BODY_BYTES", "65536")]).await;
    let t = s.user_with_role("gina", "listener").await;
    let put = |body: Vec<u8>| {
        s.req(Method::PUT, "/api/v1/me/avatar")
            .bearer_auth(&t)
            .body(body)
            .send()
    };
    assert_error(
        put(b"just some text".to_vec()).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let mut truncated = png(64, 64);
    truncated.truncate(truncated.len() / 2);
    assert_error(
        put(truncated).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    assert_error(
        put(vec![0u8; 100_000]).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Still serving.
    assert_eq!(
        s.get("/api/v1/me")
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_keeps_this_session_and_revokes_the_others() {
    let s = TestServer::start().await;
    let this = s.admin_token().await;
    let other = s.admin_token().await;
    let change = |current: &str, new: &str| {
        s.req(Method::PUT, "/api/v1/me/password")
            .bearer_auth(&this)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let res = change("wrong", "new-password-1").await.unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "current_password");

    assert_eq!(
        change(ADMIN_PASSWORD, "new-password-1")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get("/api/v1/me")
            .bearer_auth(&this)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_error(
        s.get("/api/v1/me")
            .bearer_auth(&other)
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "session_ended",
    )
    .await;
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    token(&s.login("admin", "new-password-1").await);
}
