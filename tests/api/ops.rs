//! Operating the server: `/metrics`, the `base_url` prefix, trusted proxies, SIGHUP reloads,
//! `musewave health`, and the packaged configuration.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::binary::{musewave, KillOnDrop};
use crate::helpers::{assert_error, token, TestServer, ADMIN_PASSWORD};

type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// The media folder of a server started with `TestServer::start*`.
fn music_of(s: &TestServer) -> PathBuf {
    s.data_dir.parent().unwrap().join("music")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn scrape(client: &reqwest::Client, url: &str) -> Exposition {
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = res.text().await.unwrap();
    openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("not OpenMetrics text ({e:?}):\n{text}"))
}

/// The value of `family`'s sample with `labels` (a histogram gives its count); 0 when absent.
fn value(m: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(f) = m.families.get(family) else {
        return 0.0;
    };
    f.iter_samples()
        .find(|s| {
            let set = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| match &s.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => n.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            other => panic!("unexpected value {other:?}"),
        })
        .unwrap_or(0.0)
}

async fn login_status(s: &TestServer, username: &str, password: &str) -> StatusCode {
    s.post("/api/v1/auth/login")
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn metrics_parse_and_move_with_traffic() {
    let s = TestServer::start().await;
    let before = scrape(&s.client, &s.url("/metrics")).await;
    let login = [
        ("method", "POST"),
        ("route", "/api/v1/auth/login"),
        ("status", "200"),
    ];
    let unauth = [("route", "/api/v1/me"), ("status", "401")];

    let admin = s.admin_token().await;
    assert_eq!(
        login_status(&s, "admin", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
    let res = s.get("/api/v1/me").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    std::fs::copy(fixture("tags.flac"), music_of(&s).join("a.flac")).unwrap();
    let tracks = s.tracks_when(&admin, 1).await;
    // The track is listed before the watcher's scan has finished its bookkeeping.
    s.scan_finished(&admin).await;
    let id = tracks["items"][0]["id"].as_str().unwrap().to_owned();
    let res = s
        .get(&format!("/api/v1/tracks/{id}/stream"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.bytes().await.unwrap().is_empty());

    let after = scrape(&s.client, &s.url("/metrics")).await;
    let counter = "musewave_http_requests";
    assert_eq!(
        value(&after, counter, &login) - value(&before, counter, &login),
        2.0
    );
    assert_eq!(
        value(&after, counter, &unauth) - value(&before, counter, &unauth),
        1.0
    );
    let stream = [("route", "/api/v1/tracks/{id}/stream"), ("status", "200")];
    assert_eq!(value(&after, counter, &stream), 1.0);
    // Latencies: one observation per request, per route.
    let hist = "musewave_http_request_duration_seconds";
    assert_eq!(
        value(&after, hist, &[("route", "/api/v1/auth/login")])
            - value(&before, hist, &[("route", "/api/v1/auth/login")]),
        2.0
    );
    // The first scrape itself matched no API route.
    assert!(value(&after, counter, &[("route", "other"), ("status", "200")]) >= 1.0);
    assert_eq!(
        value(&after, "musewave_library_items", &[("kind", "tracks")]),
        1.0
    );
    assert_eq!(
        value(&after, "musewave_library_items", &[("kind", "albums")]),
        1.0
    );
    assert!(value(&after, "musewave_store_size_bytes", &[]) > 0.0);
    assert_eq!(
        value(&after, "musewave_active_streams", &[]),
        0.0,
        "the stream was read to its end"
    );
    assert_eq!(value(&after, "musewave_active_transcodes", &[]), 0.0);
    assert_eq!(value(&after, "musewave_scan_running", &[]), 0.0);
    assert!(value(&after, "musewave_scan_files", &[("kind", "found")]) >= 1.0);
}

#[tokio::test]
async fn metrics_can_have_their_own_listener_or_be_off() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let s = TestServer::start_with(&[("MUSEWAVE_METRICS__LISTEN", &listen)]).await;
    let res = s.get("/metrics").send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "route_not_found").await;
    assert_eq!(
        s.get("/healthz").send().await.unwrap().status(),
        StatusCode::OK
    );
    let m = scrape(&s.client, &format!("http://{listen}/metrics")).await;
    assert_eq!(
        value(
            &m,
            "musewave_http_requests",
            &[("route", "/healthz"), ("status", "200")]
        ),
        1.0,
        "the main listener's traffic is counted"
    );
    let res = s
        .client
        .get(format!("http://{listen}/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "route_not_found").await;
    s.stop().await;

    let off = TestServer::start_with(&[("MUSEWAVE_METRICS__ENABLED", "false")]).await;
    let res = off.get("/metrics").send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "route_not_found").await;
}

#[tokio::test]
async fn base_url_serves_every_surface_under_the_prefix() {
    let s = TestServer::start_with(&[("MUSEWAVE_SERVER__BASE_URL", "/music")]).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Outside the prefix: nothing, as JSON 404s.
    for path in [
        "/healthz",
        "/api/v1/me",
        "/",
        "/rest/ping.view",
        "/musicbox/healthz",
    ] {
        let res = s.get(path).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "route_not_found").await;
    }

    // The API.
    assert_eq!(
        s.get("/music/healthz").send().await.unwrap().status(),
        StatusCode::OK
    );
    let res = s
        .post("/music/api/v1/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let admin = token(&res.json().await.unwrap());
    let me: Value = s
        .get("/music/api/v1/me")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");

    // URLs handed out carry the prefix, and work.
    std::fs::copy(fixture("tags.flac"), music_of(&s).join("a.flac")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let v: Value = s
            .get("/music/api/v1/tracks")
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(id) = v["items"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "the track did not appear: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let t: Value = s
        .post(&format!("/music/api/v1/tracks/{id}/stream-token"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stream_url = t["stream_url"].as_str().unwrap();
    assert!(
        stream_url.starts_with(&format!("/music/api/v1/tracks/{id}/stream?token=")),
        "{t}"
    );
    let res = s.get(stream_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("audio/"));

    // Redirects: to the prefix with its slash, and Location headers under the prefix.
    let res = no_redirects.get(s.url("/music")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/music/");
    let res = no_redirects
        .get(s.url("/music/api/schema/swagger-ui"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/music/api/schema/swagger-ui/");
    let res = s.get("/music/api/schema").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The web app: its base is the prefix, and the files it names load under it.
    let res = s.get("/music/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<base href=\"/music/\">"), "{html}");
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("index.html names its script");
    assert!(script.starts_with("v/"), "relative to the base: {script}");
    let res = s.get(&format!("/music/{script}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    // A deep link into the app is the app.
    let res = s.get("/music/albums/x").send().await.unwrap();
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("<base href=\"/music/\">"));

    // Subsonic's /rest is routed under the prefix like the rest, never to the web app.
    let res = s.get("/music/rest/ping.view").send().await.unwrap();
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(!ctype.starts_with("text/html"), "{ctype}");

    // And the metrics.
    scrape(&s.client, &s.url("/music/metrics")).await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let throttle = (
        "MUSEWAVE_AUTH__LOGIN_THROTTLE__MAX_FAILURES_PER_CLIENT",
        "2",
    );
    let fail = |s: &TestServer, user: &'static str, xff: &'static str| {
        s.post("/api/v1/auth/login")
            .header("x-forwarded-for", xff)
            .json(&json!({"username": user, "password": "wrong"}))
            .send()
    };

    // Behind a trusted proxy, each forwarded client has its own count.
    let s = TestServer::start_with(&[
        throttle,
        ("MUSEWAVE_SERVER__TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    for user in ["a", "b"] {
        let res = fail(&s, user, "203.0.113.7").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = fail(&s, "c", "203.0.113.7").await.unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // The client wrote the first address itself; the proxy appended the real one.
    let res = fail(&s, "c", "203.0.113.7, 198.51.100.2").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;

    // From an untrusted peer the header means nothing: one client, whatever it claims.
    let s = TestServer::start_with(&[throttle]).await;
    for (user, xff) in [("a", "203.0.113.7"), ("b", "203.0.113.8")] {
        let res = fail(&s, user, xff).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = fail(&s, "c", "198.51.100.9").await.unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

/// Collects a child's stderr as it comes.
fn capture(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

async fn eventually(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config_text(port: u16, level: &str, folders: &[&Path], drain: u32) -> String {
    let folders: Vec<String> = folders
        .iter()
        .map(|f| format!("{:?}", f.to_str().unwrap()))
        .collect();
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndrain_timeout_secs = {drain}\n\
         [library]\nfolders = [{}]\n[log]\nlevel = \"{level}\"\n",
        folders.join(", ")
    )
}

#[tokio::test]
async fn sighup_reloads_log_level_and_folders_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(fixture("tags.flac"), second.join("a.flac")).unwrap();
    let port = free_port();
    let config = dir.path().join("musewave.toml");
    std::fs::write(&config, config_text(port, "warn", &[&first], 10)).unwrap();

    let mut child = KillOnDrop(
        musewave(dir.path())
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("MUSEWAVE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = capture(child.0.stderr.take().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let health = |args: &[&str]| {
        musewave(dir.path())
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    };
    eventually("the server to listen", async || {
        health(&["--config", config.to_str().unwrap(), "health"])
    })
    .await;
    assert!(
        !health(&[
            "health",
            "--url",
            &format!("http://127.0.0.1:{}/healthz", free_port())
        ]),
        "nothing listens there"
    );

    let tokens: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = token(&tokens);
    let total = async || -> Value {
        client
            .get(format!("{base}/api/v1/tracks"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["total"]
            .clone()
    };
    assert_eq!(total().await, 0);
    assert!(
        !stderr.lock().unwrap().contains("request"),
        "at level warn, requests are not logged"
    );

    std::fs::write(&config, config_text(port, "info", &[&first, &second], 3)).unwrap();
    let pid = child.0.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());

    eventually("the new folder's track", async || total().await == 1).await;
    eventually("a request logged at level info", async || {
        client.get(format!("{base}/healthz")).send().await.unwrap();
        stderr.lock().unwrap().contains("/healthz")
    })
    .await;
    eventually("the restart notice", async || {
        let logs = stderr.lock().unwrap();
        logs.contains("restart") && logs.contains("server.drain_timeout_secs")
    })
    .await;
    {
        let logs = stderr.lock().unwrap();
        let notice = logs
            .lines()
            .find(|l| l.contains("restart"))
            .unwrap()
            .to_owned();
        assert!(
            !notice.contains("library.folders") && !notice.contains("log.level"),
            "{notice}"
        );
    }

    // A broken file is refused and the server goes on.
    std::fs::write(&config, "[server\n").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    eventually("the refusal", async || {
        stderr.lock().unwrap().contains("keeping the running one")
    })
    .await;
    assert_eq!(total().await, 1);

    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn packaged_config_is_the_example_with_service_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("config.toml.example")).unwrap();
    let packaged = std::fs::read_to_string(root.join("packaging/config.toml")).unwrap();
    // Past their opening comments, the files differ in two values only.
    let body = |s: &str| s[s.find("\n[server]").expect("a [server] table")..].to_owned();
    let expected = body(&example)
        .replace(
            "dir = \"./musewave-data\"\n",
            "dir = \"/var/lib/musewave\"\n",
        )
        .replace("folders = [\"./music\"]\n", "folders = [\"/srv/music\"]\n");
    assert_eq!(
        body(&packaged),
        expected,
        "packaging/config.toml drifted from config.toml.example"
    );

    let loaded = musewave::config::load(
        Some(&root.join("packaging/config.toml")),
        std::iter::empty(),
        &musewave::config::Overrides::default(),
    )
    .unwrap();
    let mut defaults = musewave::config::Config::default();
    defaults.data.dir = PathBuf::from("/var/lib/musewave");
    defaults.library.folders = vec![PathBuf::from("/srv/music")];
    assert_eq!(loaded, defaults);

    // The unit starts the binary on this file, in the directory the data lives in.
    let unit = std::fs::read_to_string(root.join("systemd/musewave.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/musewave --config /etc/musewave/config.toml serve"));
    assert!(unit.contains("StateDirectory=musewave"));
    assert!(unit.contains("ReadWritePaths=/var/lib/musewave"));
    assert!(unit.contains("Type=notify"));
}
