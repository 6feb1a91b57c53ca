//! Access tokens, refresh rotation, logout and throttling.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, token, TestServer, ADMIN_PASSWORD};

async fn me_status(s: &TestServer, token: &str) -> StatusCode {
    s.get("/api/v1/me")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

fn claims_of(token: &str) -> Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

#[tokio::test]
async fn login_then_me() {
    let s = TestServer::start().await;
    let tokens = s.login("ADMIN", ADMIN_PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    let me: Value = s
        .get("/api/v1/me")
        .bearer_auth(token(&tokens))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn missing_wrong_and_malformed_credentials_are_401() {
    let s = TestServer::start().await;
    assert_error(
        s.get("/api/v1/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let res = s
        .get("/api/v1/me")
        .header("authorization", "Basic YWRtaW46eA==")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_error(res, StatusCode::UNAUTHORIZED, "bad_credentials").await;
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "nobody", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "bad_credentials").await;
}

#[tokio::test]
async fn expired_forged_alg_none_and_other_key_tokens_are_401() {
    let s = TestServer::start().await;
    let good = s.admin_token().await;
    let claims = claims_of(&good);
    let secret = std::fs::read(s.data_dir.join("jwt_secret")).unwrap();
    let sign = |claims: &Value, key: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 3600);
    let res = s
        .get("/api/v1/me")
        .bearer_auth(sign(&expired, &secret))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "token_expired").await;

    let other_key = sign(&claims, &[42u8; 64]);
    let res = s
        .get("/api/v1/me")
        .bearer_auth(other_key)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Same header and claims, but the signature of different claims.
    let mut other = claims.clone();
    other["sub"] = json!("00000000000000000000000000000001");
    let forged = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        sign(&other, &secret).rsplit_once('.').unwrap().1
    );
    let res = s
        .get("/api/v1/me")
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let res = s.get("/api/v1/me").bearer_auth(none).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let res = s
        .get("/api/v1/me")
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(me_status(&s, &good).await, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let s = TestServer::start().await;
    let first = s.login("admin", ADMIN_PASSWORD).await;
    let other_session = s.admin_token().await;
    let refresh = |t: &str| {
        s.post("/api/v1/auth/refresh")
            .json(&json!({"refresh_token": t}))
            .send()
    };
    let res = refresh(first["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(me_status(&s, &token(&second)).await, StatusCode::OK);

    // The spent token again: the session is revoked, including the newest tokens.
    let res = refresh(first["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    assert_eq!(
        me_status(&s, &token(&second)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_status(&s, &token(&first)).await,
        StatusCode::UNAUTHORIZED
    );
    let res = refresh(second["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // Another device's session is untouched.
    assert_eq!(me_status(&s, &other_session).await, StatusCode::OK);

    let res = refresh("made-up").await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens() {
    let s = TestServer::start().await;
    let tokens = s.login("admin", ADMIN_PASSWORD).await;
    let access = token(&tokens);
    let res = s
        .post("/api/v1/auth/logout")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = s
        .get("/api/v1/me")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "session_ended").await;
    let res = s
        .post("/api/v1/auth/refresh")
        .json(&json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let s =
        TestServer::start_with(&[("MUSEWAVE_AUTH__LOGIN_THROTTLE__MAX_FAILURES_PER_USER", "3")])
            .await;
    let attempt = |p: &'static str| {
        s.post("/api/v1/auth/login")
            .json(&json!({"username": "admin", "password": p}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Throttled now, even with the right password.
    let res = attempt(ADMIN_PASSWORD).await.unwrap();
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "retry-after {retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

#[tokio::test]
async fn one_client_guessing_many_usernames_is_throttled() {
    let s = TestServer::start_with(&[(
        "MUSEWAVE_AUTH__LOGIN_THROTTLE__MAX_FAILURES_PER_CLIENT",
        "4",
    )])
    .await;
    for i in 0..4 {
        let res = s
            .post("/api/v1/auth/login")
            .json(&json!({"username": format!("user{i}"), "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}
