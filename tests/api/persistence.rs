//! What survives: restarts, backups and restores, and the schema guard.

use std::process::Command;

use musewave::store::{Schema, Store, StoreOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{test_config, TestServer, ADMIN_PASSWORD};

#[tokio::test]
async fn accounts_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let admin = s.admin_token().await;
    let res = s
        .post("/api/v1/admin/users")
        .bearer_auth(&admin)
        .json(&json!({"username": "kept", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let tokens = s.login("kept", "password123").await;
    s.stop().await;

    let s = TestServer::start_in(dir.path(), &[]).await;
    // Same signing secret and session: the old access token still works.
    let res = s
        .get("/api/v1/me")
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    s.login("kept", "password123").await;
    s.stop().await;
}

/// Runs the binary off the test's runtime thread: the server under test shares that thread.
async fn output(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn musewave(data_dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musewave"));
    c.arg("--data-dir").arg(data_dir).args(args);
    c
}

#[tokio::test]
async fn backup_of_a_running_server_restores_into_a_new_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]).await;
    let admin = s.admin_token().await;
    for name in ["bk1", "bk2"] {
        s.post("/api/v1/admin/users")
            .bearer_auth(&admin)
            .json(&json!({"username": name, "password": "password123"}))
            .send()
            .await
            .unwrap();
    }
    let file = dir.path().join("musewave.backup");
    let out = output(musewave(
        &s.data_dir,
        &["backup".as_ref(), file.as_os_str()],
    ))
    .await;
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("running server"));

    // The admin API gives the same kind of file.
    let res = s
        .get("/api/v1/admin/backup")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let via_api = res.text().await.unwrap();
    assert!(via_api.lines().next().unwrap().contains("musewave-backup"));

    let restored = tempfile::tempdir().unwrap();
    let restored_data = restored.path().join("data");
    let restore = || musewave(&restored_data, &["restore".as_ref(), file.as_os_str()]);
    let out = output(restore()).await;
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restoring over a store that has data is refused.
    let again = output(restore()).await;
    assert!(!again.status.success());

    let r = TestServer::start_in(restored.path(), &[]).await;
    r.login("bk1", "password123").await;
    r.login("bk2", "password123").await;
    r.login("admin", ADMIN_PASSWORD).await;
    r.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn a_store_from_a_newer_musewave_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), &[]);
    let future = Schema {
        version: musewave::store::tables::SCHEMA.version + 1,
        migrations: &[],
    };
    let opts = StoreOptions {
        cache_capacity_bytes: 1 << 20,
    };
    drop(Store::open(&musewave::store_path(&config), &opts, &future).unwrap());
    let err = match musewave::App::open(config).await {
        Ok(_) => panic!("a newer store must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&format!("schema version {}", future.version))
            && err.contains("upgrade musewave"),
        "{err}"
    );
}
