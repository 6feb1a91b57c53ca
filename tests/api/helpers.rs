//! Starting servers and building requests; assertions live in the test modules.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use musewave::config::{self, Config, Overrides};
use musewave::App;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running server and its data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: Client,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    // Keeps the directory alive for the server's lifetime; `None` when the caller owns it.
    _tmp: Option<tempfile::TempDir>,
}

/// Config for a server in `dir`, with extra `MUSEWAVE_*` variables.
pub fn test_config(dir: &Path, env: &[(&str, &str)]) -> Config {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    config::load(
        None,
        env,
        &Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(dir.join("data")),
            media_folders: Some(vec![dir.join("music")]),
            ..Overrides::default()
        },
    )
    .expect("test config loads")
}

impl TestServer {
    /// A server on a fresh temporary directory.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A server on a fresh temporary directory with extra config variables.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Self::start_in(tmp.path(), env).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server on `dir` (which may hold a previous server's data).
    pub async fn start_in(dir: &Path, env: &[(&str, &str)]) -> Self {
        let config = test_config(dir, env);
        let data_dir = config.data.dir.clone();
        let app = App::open(config).await.expect("app opens");
        app.bootstrap_admin(Some(ADMIN_PASSWORD.into()))
            .await
            .expect("first admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(musewave::run(app, listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            client: Client::new(),
            data_dir,
            shutdown: Some(tx),
            task: Some(task),
            _tmp: None,
        }
    }

    /// Stops the server and waits until its store is closed.
    pub async fn stop(mut self) {
        self.shutdown_now().await;
    }

    async fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.req(Method::POST, path)
    }

    /// Signs in and returns the token response.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let res = self
            .post("/api/v1/auth/login")
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        res.json().await.unwrap()
    }

    /// Waits (bounded) until `GET path` answers what `done` accepts, and returns that answer.
    pub async fn poll(&self, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let v: Value = self
                .get(path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if done(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "GET {path} did not reach what was awaited: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) for the current scan to finish and returns its status.
    pub async fn scan_finished(&self, token: &str) -> Value {
        self.poll(token, "/api/v1/library/scan", |st| {
            st["state"] == "idle" && st["finished_at"].is_string()
        })
        .await
    }

    /// Waits (bounded) until the catalog lists `count` tracks, and returns that list.
    pub async fn tracks_when(&self, token: &str, count: u64) -> Value {
        self.poll(token, "/api/v1/tracks?limit=100", |v| v["total"] == count)
            .await
    }

    /// An access token for the admin.
    pub async fn admin_token(&self) -> String {
        token(&self.login("admin", ADMIN_PASSWORD).await)
    }

    /// Creates a user with `role` through the admin API and returns an access token for it.
    pub async fn user_with_role(&self, username: &str, role: &str) -> String {
        let admin = self.admin_token().await;
        let res = self
            .post("/api/v1/admin/users")
            .bearer_auth(&admin)
            .json(&json!({"username": username, "password": "password123", "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        token(&self.login(username, "password123").await)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Asserts `res` is a JSON error with `status` and `code`, and returns its body.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        ctype.starts_with("application/json"),
        "content type {ctype}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "error body {body}");
    assert!(
        !body["error"]["message"].as_str().unwrap_or("").is_empty(),
        "error message in {body}"
    );
    body
}
