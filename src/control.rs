//! The control socket: how `musewave backup` and `musewave scan` reach a running server.
//!
//! sled allows one process per store, so while the server runs the CLI cannot open the store
//! itself; it asks the server through a Unix socket in the data directory instead. The socket
//! is created with mode 0600, so only the server's own user can use it. The protocol is one
//! command line in, then `OK` and the answer, or `ERR reason`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use crate::error::Result;
use crate::library::{ScanState, ScanStatus};
use crate::App;

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "control.sock";

/// Listens on the control socket until the returned task is aborted.
pub fn listen(app: App) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = app.data_dir.join(SOCKET_NAME);
    // A socket left by a killed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &app).await {
                    tracing::warn!(error = %e, "control socket request failed");
                }
            });
        }
    }))
}

async fn answer(mut stream: tokio::net::UnixStream, app: &App) -> Result<()> {
    let (read, mut write) = stream.split();
    let mut line = String::new();
    tokio::io::BufReader::new(read).read_line(&mut line).await?;
    match line.trim() {
        "backup" => {
            let file = crate::backup::export_to_temp(&app.store, &app.data_dir).await?;
            write.write_all(b"OK\n").await?;
            let mut f = tokio::fs::File::open(file.path()).await?;
            tokio::io::copy(&mut f, &mut write).await?;
        }
        cmd @ ("scan" | "scan full") => {
            // A scan already running is followed rather than refused.
            app.library.start(cmd == "scan full");
            write.write_all(b"OK\n").await?;
            loop {
                let status = app.library.status();
                let mut json = serde_json::to_vec(&status)
                    .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
                json.push(b'\n');
                write.write_all(&json).await?;
                if status.state == ScanState::Idle {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        other => {
            write
                .write_all(format!("ERR unknown command {other:?}\n").as_bytes())
                .await?;
        }
    }
    write.shutdown().await?;
    Ok(())
}

fn connect(
    data_dir: &Path,
    command: &str,
) -> anyhow::Result<BufReader<std::os::unix::net::UnixStream>> {
    use anyhow::Context;
    let path = data_dir.join(SOCKET_NAME);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).with_context(|| {
        format!(
            "while connecting to the running server at {}",
            path.display()
        )
    })?;
    writeln!(stream, "{command}")?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    anyhow::ensure!(
        status.trim() == "OK",
        "the server refused: {}",
        status.trim()
    );
    Ok(reader)
}

/// Asks a running server for a backup and writes it to `out`; returns the bytes written.
pub fn request_backup(data_dir: &Path, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut reader = connect(data_dir, "backup")?;
    Ok(std::io::copy(&mut reader, out)?)
}

/// Asks a running server to scan, calling `progress` with each status until it ends.
pub fn request_scan(
    data_dir: &Path,
    full: bool,
    mut progress: impl FnMut(&ScanStatus),
) -> anyhow::Result<ScanStatus> {
    let reader = connect(data_dir, if full { "scan full" } else { "scan" })?;
    let mut last = None;
    for line in reader.lines() {
        let status: ScanStatus = serde_json::from_str(&line?)?;
        progress(&status);
        last = Some(status);
    }
    last.ok_or_else(|| anyhow::anyhow!("the server closed the connection without a result"))
}
