//! The API document covers every route, and its explorer works offline.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestServer;

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.insert(v.as_str().unwrap().to_owned());
                }
                refs(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_reference_resolves() {
    let s = TestServer::start().await;
    let doc: Value = s
        .get("/api/schema")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // The router's own list of routes: each must be in the document.
    let dir = tempfile::tempdir().unwrap();
    let app = musewave::App::open(crate::helpers::test_config(dir.path(), &[]))
        .await
        .unwrap();
    let (_, routes) = musewave::http::api(&app);
    assert!(routes.len() >= 20, "{} routes", routes.len());
    for r in &routes {
        for m in r.http_methods() {
            let method = m.as_str().to_lowercase();
            assert!(
                doc["paths"][&r.path][&method].is_object(),
                "{method} {} is missing from /api/schema",
                r.path
            );
        }
    }

    // And each documented path is actually routed (not the router's 404).
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "00000000000000000000000000000000");
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = s.req(m, &concrete).send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["code"], "route_not_found",
                "{method} {path} is documented but not routed"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }

    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "unresolved {r}"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let s = TestServer::start().await;
    let res = s.get("/api/schema/swagger-ui/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN references");
    let res = s
        .get("/api/schema/swagger-ui/swagger-ui-bundle.js")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().len() > 100_000);
    let init = s
        .get("/api/schema/swagger-ui/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/schema"), "{init}");
}
