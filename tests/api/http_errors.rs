//! Routing and malformed requests: every failure is a JSON error with the right status.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, TestServer};

#[tokio::test]
async fn health_and_server_info_answer() {
    let s = TestServer::start().await;
    let res = s.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let info: serde_json::Value = s
        .get("/api/v1/server")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "musewave");
    assert_eq!(info["registration"], "closed");
    assert_eq!(info["public_access"], false);
}

#[tokio::test]
async fn unknown_route_is_a_json_404_and_wrong_method_a_json_405() {
    let s = TestServer::start().await;
    assert_error(
        s.get("/api/v1/nope").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    // Under a route group's key, but no route of the group matches.
    for path in ["/api/v1/me/", "/api/v1/tracks/x/nope"] {
        assert_error(
            s.get(path).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        )
        .await;
    }
    assert_error(
        s.req(Method::DELETE, "/api/v1/me").send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_error(
        s.get("/api/v1/auth/login").send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    // Paths outside the API with no file extension are the web app's own routes.
    let res = s.get("/account").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("<title>musewave</title>"));
    assert_error(
        s.get("/missing.js").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let s = TestServer::start().await;
    let res = s
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
}

#[tokio::test]
async fn wrong_type_and_missing_field_name_the_field() {
    let s = TestServer::start().await;
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": 5, "password": "x"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "username");
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{body}"
    );
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "a", "password": "b", "extra": 1}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("extra"),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_body_is_413_with_or_without_content_length() {
    let s = TestServer::start_with(&[("MUSEWAVE_SERVER__MAX_JSON_BODY_BYTES", "1024")]).await;
    let big = json!({"username": "a".repeat(4096), "password": "x"});
    let res = s
        .post("/api/v1/auth/login")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Chunked: no Content-Length, the limit is enforced while reading.
    let chunks = vec![Ok::<_, std::io::Error>(big.to_string().into_bytes())];
    let res = s
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let s = TestServer::start().await;
    let res = s
        .post("/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body("username=admin")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn bad_ids_in_paths_are_404_not_500() {
    let s = TestServer::start().await;
    let token = s.admin_token().await;
    for id in [
        "..%2F..%2Fetc%2Fpasswd",
        "not-an-id",
        "00000000000000000000000000000000",
    ] {
        let res = s
            .get(&format!("/api/v1/users/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}
