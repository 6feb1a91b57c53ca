//! Backups of a running server: the store's consistent export written to a temporary file and
//! handed out over the admin API, or over the control socket to `musewave backup`.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use http::{header, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use crate::error::{Error, Result};
use crate::store::Store;

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
