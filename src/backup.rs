//! Backups of a running server: the store's consistent export written to a temporary file and
//! handed out over the admin API, or over the control socket to `musewave backup`.
//!
//! sled allows one process per store, so while the server runs the CLI cannot open the store
//! itself; it asks the server through a Unix socket in the data directory instead. The socket
//! is created with mode 0600, so only the server's own user can use it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use http::{header, HeaderValue};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use warp::reply::Response;
use warp::Reply;

use crate::error::{Error, Result};
use crate::store::Store;

/// The control socket's file name in the data directory.
pub const SOCKET_NAME: &str = "control.sock";
const BACKUP_COMMAND: &str = "backup";

fn tmp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp")
}

/// Writes a consistent export of `store` to a temporary file in the data directory (deleted
/// when the returned handle drops).
pub async fn export_to_temp(store: &Store, data_dir: &Path) -> Result<tempfile::NamedTempFile> {
    let store = store.clone();
    let dir = tmp_dir(data_dir);
    tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile> {
        std::fs::create_dir_all(&dir)?;
        let mut file = tempfile::Builder::new()
            .prefix("backup-")
            .suffix(".ndjson")
            .tempfile_in(&dir)?;
        {
            let mut w = std::io::BufWriter::new(file.as_file_mut());
            store.export(&mut w)?;
            w.flush()?;
        }
        Ok(file)
    })
    .await
    .map_err(|e| Error::Internal(format!("backup task: {e}")))?
}

/// Streams an exported file as a download; the file is deleted once sent.
pub async fn file_response(file: tempfile::NamedTempFile) -> Result<Response> {
    let (mut std_file, path) = file.into_parts();
    let len = std_file.metadata()?.len();
    // The export left the cursor at the end.
    std::io::Seek::rewind(&mut std_file)?;
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(std_file), 64 << 10)
            .map(move |chunk| {
                // Owning the path here keeps the temporary file until the stream is dropped.
                let _keep = &path;
                chunk
            });
    let mut res = warp::reply::stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let name = format!(
        "attachment; filename=\"musewave-{}.backup\"",
        time::OffsetDateTime::now_utc().unix_timestamp()
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&name).expect("ascii file name"),
    );
    Ok(res)
}

/// Listens on the control socket until the task is dropped, answering `backup` requests.
pub fn listen(store: Store, data_dir: PathBuf) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = data_dir.join(SOCKET_NAME);
    // A socket left by a killed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let store = store.clone();
            let data_dir = data_dir.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &store, &data_dir).await {
                    tracing::warn!(error = %e, "control socket request failed");
                }
            });
        }
    }))
}

async fn answer(mut stream: tokio::net::UnixStream, store: &Store, data_dir: &Path) -> Result<()> {
    use tokio::io::AsyncBufReadExt;
    let (read, mut write) = stream.split();
    let mut line = String::new();
    tokio::io::BufReader::new(read).read_line(&mut line).await?;
    if line.trim() != BACKUP_COMMAND {
        write.write_all(b"ERR unknown command\n").await?;
        return Ok(());
    }
    let file = export_to_temp(store, data_dir).await?;
    write.write_all(b"OK\n").await?;
    let mut f = tokio::fs::File::open(file.path()).await?;
    tokio::io::copy(&mut f, &mut write).await?;
    write.shutdown().await?;
    Ok(())
}

/// Asks a running server for a backup through its control socket and writes it to `out`.
pub fn request_from_server(data_dir: &Path, out: &mut impl Write) -> anyhow::Result<u64> {
    use anyhow::Context;
    let path = data_dir.join(SOCKET_NAME);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).with_context(|| {
        format!(
            "while connecting to the running server at {}",
            path.display()
        )
    })?;
    writeln!(stream, "{BACKUP_COMMAND}")?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    anyhow::ensure!(
        status.trim() == "OK",
        "the server refused the backup: {}",
        status.trim()
    );
    Ok(std::io::copy(&mut reader, out)?)
}
