//! User administration and the permission rules that exist so far.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestServer};

async fn user_id(s: &TestServer, token: &str) -> String {
    let me: Value = s
        .get("/api/v1/me")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn listeners_and_artists_get_403_on_every_admin_endpoint() {
    let s = TestServer::start().await;
    let listener = s.user_with_role("lisa", "listener").await;
    let artist = s.user_with_role("arto", "artist").await;
    let some_id = user_id(&s, &listener).await;
    for token in [&listener, &artist] {
        let calls = [
            s.get("/api/v1/admin/users"),
            s.post("/api/v1/admin/users")
                .json(&json!({"username": "x1x", "password": "password123"})),
            s.req(Method::PATCH, &format!("/api/v1/admin/users/{some_id}"))
                .json(&json!({"role": "admin"})),
            s.req(Method::DELETE, &format!("/api/v1/admin/users/{some_id}")),
            s.post("/api/v1/admin/invites").json(&json!({})),
            s.get("/api/v1/admin/invites"),
            s.get("/api/v1/admin/backup"),
        ];
        for call in calls {
            let res = call.bearer_auth(token).send().await.unwrap();
            assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // Anonymous callers are asked to sign in instead.
    assert_error(
        s.get("/api/v1/admin/users").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Nothing was changed by the refused calls.
    let me: Value = s
        .get("/api/v1/me")
        .bearer_auth(&listener)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "listener");
}

#[tokio::test]
async fn anonymous_users_cannot_browse_profiles_unless_access_is_public() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let id = user_id(&s, &t).await;
    assert_error(
        s.get(&format!("/api/v1/users/{id}")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    drop(s);
    let s = TestServer::start_with(&[("MUSEWAVE_ACCESS__PUBLIC", "true")]).await;
    let t = s.admin_token().await;
    let id = user_id(&s, &t).await;
    let res = s.get(&format!("/api/v1/users/{id}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let profile: Value = res.json().await.unwrap();
    assert_eq!(profile["username"], "admin");
    assert!(
        profile.get("role").is_none(),
        "public profiles do not show roles"
    );
}

/// People find each other by username (to follow them, or invite them to a playlist).
#[tokio::test]
async fn profiles_are_found_by_username_in_any_case() {
    let s = TestServer::start().await;
    let alice = s.user_with_role("Alice.B", "listener").await;
    let alice_id = user_id(&s, &alice).await;
    let bob = s.user_with_role("bob", "listener").await;
    for name in ["Alice.B", "alice.b"] {
        let res = s
            .get(&format!("/api/v1/users/{name}"))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let profile: Value = res.json().await.unwrap();
        assert_eq!(profile["id"], alice_id.as_str());
        assert_eq!(profile["username"], "Alice.B");
    }
    assert_error(
        s.get("/api/v1/users/nobody")
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn admin_lists_pages_of_users() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    for name in ["u1x", "u2x", "u3x"] {
        let res = s
            .post("/api/v1/admin/users")
            .bearer_auth(&admin)
            .json(&json!({"username": name, "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = s
        .post("/api/v1/admin/users")
        .bearer_auth(&admin)
        .json(&json!({"username": "U1X", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::CONFLICT, "username_taken").await;
    let page: Value = s
        .get("/api/v1/admin/users?offset=1&limit=2")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 4);
    let names: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["u1x", "u2x"]);
    let res = s
        .get("/api/v1/admin/users?limit=0")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = s
        .get("/api/v1/admin/users?limit=abc")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn role_changes_apply_at_once() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let t = s.user_with_role("rolf", "listener").await;
    let id = user_id(&s, &t).await;
    assert_eq!(
        s.get("/api/v1/admin/users")
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = s
        .req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "admin");
    // The same token, no new login.
    assert_eq!(
        s.get("/api/v1/admin/users")
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = s
        .req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .json(&json!({"role": "superuser"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "role");
}

#[tokio::test]
async fn disabling_signs_out_and_blocks_login() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let t = s.user_with_role("dina", "listener").await;
    let id = user_id(&s, &t).await;
    let res = s
        .req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        s.get("/api/v1/me")
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = s
        .post("/api/v1/auth/login")
        .json(&json!({"username": "dina", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    s.req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .json(&json!({"disabled": false}))
        .send()
        .await
        .unwrap();
    s.login("dina", "password123").await;
}

#[tokio::test]
async fn deleting_a_user_removes_the_account_and_its_sessions() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let t = s.user_with_role("dora", "artist").await;
    let id = user_id(&s, &t).await;
    let res = s
        .req(Method::DELETE, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/api/v1/me")
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = s
        .req(Method::DELETE, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // The name is free again.
    let res = s
        .post("/api/v1/admin/users")
        .bearer_auth(&admin)
        .json(&json!({"username": "dora", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_disabled_or_deleted() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = user_id(&s, &admin).await;
    for req in [
        s.req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
            .json(&json!({"role": "listener"})),
        s.req(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
            .json(&json!({"disabled": true})),
        s.req(Method::DELETE, &format!("/api/v1/admin/users/{id}")),
    ] {
        assert_error(
            req.bearer_auth(&admin).send().await.unwrap(),
            StatusCode::CONFLICT,
            "last_admin",
        )
        .await;
    }
}
