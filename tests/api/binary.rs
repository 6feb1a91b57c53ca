//! The real `musewave` binary: first run, systemd notification, CLI commands, config errors.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

pub fn musewave(dir: &std::path::Path) -> Command {
    command(env!("CARGO_BIN_EXE_musewave"), dir)
}

/// `program` run in `dir` without the test's own musewave settings.
fn command(program: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("MUSEWAVE_") {
            c.env_remove(k);
        }
    }
    c
}

/// Kills the server if the test fails before stopping it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn version_names_the_commit() {
    let out = musewave(&std::env::temp_dir())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = String::from_utf8(out.stdout).unwrap();
    assert!(
        v.starts_with(&format!("musewave {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
}

#[test]
fn first_run_creates_folders_prints_admin_and_notifies_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Started with a low soft limit on open files, which the server raises.
    let mut child = KillOnDrop(
        command("sh", dir.path())
            .args([
                "-c",
                "ulimit -Sn 256 2>/dev/null; exec \"$0\" \"$@\"",
                env!("CARGO_BIN_EXE_musewave"),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("NOTIFY_SOCKET", &sock_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 30 s");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));

    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        stdout.read_line(&mut l).unwrap();
        lines.push(l);
    }
    let all = lines.concat();
    assert!(all.contains("username 'admin', password '"), "{all}");
    assert!(all.contains("listening on http://127.0.0.1:"), "{all}");
    assert!(dir.path().join("musewave-data").is_dir());
    assert!(dir.path().join("music").is_dir());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.0.id())).unwrap();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        files[3], files[4],
        "soft limit raised to the hard one: {files:?}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let n = sock.recv(&mut buf).expect("STOPPING=1 after SIGTERM");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn user_commands_manage_accounts_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = musewave(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(
        &["user", "add", "Mia", "--role", "artist", "--password-stdin"],
        Some("password123\n"),
    );
    assert!(ok, "{out}");
    let (ok, out) = run(&["user", "add", "mia"], None);
    assert!(!ok && out.contains("taken"), "{out}");
    let (ok, out) = run(&["user", "role", "mia", "admin"], None);
    assert!(ok && out.contains("Mia is now admin"), "{out}");
    let (ok, out) = run(&["user", "passwd", "mia"], None);
    assert!(ok && out.contains("password: "), "{out}");
    let (ok, out) = run(&["user", "list"], None);
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Mia") && l.contains("admin")),
        "{out}"
    );
    let (ok, out) = run(&["user", "role", "mia", "emperor"], None);
    assert!(!ok && out.contains("unknown role"), "{out}");
}

#[test]
fn config_check_redacts_secrets_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = musewave(dir.path())
        .args(["config", "check"])
        .env(
            "MUSEWAVE_AUTH__JWT_SECRET",
            "a-very-secret-value-that-is-long-enough",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[redacted]") && !text.contains("a-very-secret"),
        "{text}"
    );
    assert!(text.contains("listen = \"127.0.0.1:4533\""), "{text}");

    let out = musewave(dir.path())
        .args(["config", "check"])
        .env("MUSEWAVE_SERVER__LISEN", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("server.lisen") && err.contains("MUSEWAVE_SERVER__LISEN"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nlisten = \"nowhere\"\n",
    )
    .unwrap();
    let out = musewave(dir.path())
        .args(["--config", "bad.toml", "config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("server.listen"), "{err}");
}

/// Starts the binary in `dir` and returns it with its base URL once it listens.
async fn spawn_server(dir: &std::path::Path) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::from(musewave(dir));
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("MUSEWAVE_ADMIN_PASSWORD", "admin-password-for-tests")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.split("listening on ").nth(1) {
            return (child, url.trim_end_matches('/').to_owned());
        }
    }
    panic!("the server exited before listening");
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn_server(dir.path()).await;
    let client = reqwest::Client::new();
    let tokens: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "admin-password-for-tests"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = tokens["access_token"].as_str().unwrap();
    let res = client
        .post(format!("{base}/api/v1/admin/users"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"username": "durable", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let res = client
        .patch(format!("{base}/api/v1/me"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"bio": "written just before the crash"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    // SIGKILL right after the acknowledgements: no shutdown flush happens.
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let (_child, base) = spawn_server(dir.path()).await;
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "durable", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let tokens: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "admin-password-for-tests"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me: serde_json::Value = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["bio"], "written just before the crash");
}
