//! Where audio files live and how their bytes are served: a track id becomes an open file with
//! its validators (never a client-supplied path), ranges are decided in [`range`], bodies are
//! streamed from the file through a fixed-size buffer in [`serve`], and downloads are counted.
//!
//! Transcoding lives in [`transcode`] (the codec pipeline), [`transcoder`] (slots, plans, live
//! output) and [`cache`] (finished results, served like files).
//!
//! Only the track's id and its `file` (folder, relative path) are read from the catalog, so the
//! catalog's in-memory shape can change without touching this module.

pub mod cache;
mod open_files;
pub mod range;
pub mod serve;
pub mod transcode;
pub mod transcoder;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use self::range::{whole_seconds, Validators};
use crate::catalog::{Catalog, TrackRow};
use crate::domain::TrackId;
use crate::error::{Error, Result};
use crate::store::tables::DOWNLOADS;
use crate::store::{Store, Table};

/// The file of `t` on disk: its media folder joined with its stored relative path.
pub fn track_path(t: &TrackRow) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    Path::new(&*t.folder).join(std::ffi::OsStr::from_bytes(&t.rel))
}

/// A track's file, open and described, ready to be served.
#[derive(Debug)]
pub struct AudioFile {
    /// The track.
    pub track: TrackId,
    /// The open file; shared with the body stream that reads it.
    pub file: Arc<File>,
    /// Its length now (not as scanned): `Content-Length` must match what is read.
    pub len: u64,
    /// `ETag` and `Last-Modified`.
    pub validators: Validators,
    /// MIME type from the file's extension.
    pub mime: &'static str,
    /// The file's own name, for `Content-Disposition`.
    pub file_name: String,
    /// Where it is (never shown to clients).
    pub path: PathBuf,
    /// Its modification time now.
    pub modified: SystemTime,
    /// The track's duration as scanned, in milliseconds (0 when unknown).
    pub duration_ms: u64,
}

impl AudioFile {
    /// The file's average bitrate in kbps, when its duration is known.
    pub fn average_kbps(&self) -> Option<u32> {
        transcoder::average_kbps(self.len, self.duration_ms)
    }
}

/// The strong entity tag of a track's file: changes when the file's size or modification time
/// does, and differs between tracks even for identical files.
fn etag(track: TrackId, len: u64, mtime: SystemTime) -> String {
    let mtime_ns = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(track.as_uuid().as_bytes());
    h.update(len.to_be_bytes());
    h.update(mtime_ns.to_be_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Opens `path` for `track`. A file that is gone is [`Error::MediaMissing`], logged with its
/// path (which the client never sees).
fn open_file(track: TrackId, path: &Path) -> Result<(File, std::fs::Metadata)> {
    let missing = |reason: &dyn std::fmt::Display| {
        tracing::warn!(track = %track, path = %path.display(), %reason, "a catalogued audio file is missing");
        Error::MediaMissing
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(missing(&e));
        }
        Err(e) => return Err(Error::Io(e)),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(missing(&"not a regular file"));
    }
    Ok((file, meta))
}

/// Audio files and their download counts.
pub struct Media {
    downloads: Table<TrackId, u64>,
    open_files: open_files::OpenFiles,
}

impl Media {
    /// The service over `store`.
    pub fn new(store: &Store) -> Result<Self> {
        Ok(Self {
            downloads: store.table(DOWNLOADS)?,
            open_files: open_files::OpenFiles::default(),
        })
    }

    /// Opens the file of track `id`: 404 when the catalog does not know the id, 404 (logged)
    /// when the file has vanished since the scan.
    pub async fn open(&self, catalog: &Catalog, id: TrackId) -> Result<AudioFile> {
        let (path, duration_ms) = {
            let catalog = catalog.read();
            let row = catalog.track(id)?.row;
            (track_path(row), row.duration_ms)
        };
        let file_name = Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mime = mime_guess::from_path(&path)
            .first_raw()
            .unwrap_or("application/octet-stream");
        let (file, meta) = match self.open_files.get(id, &path) {
            Some(open) => open,
            None => {
                // open(2) and fstat(2) can block on a slow or network disk.
                let opened = path.clone();
                let (file, meta) = tokio::task::spawn_blocking(move || open_file(id, &opened))
                    .await
                    .map_err(|e| Error::Internal(format!("opening an audio file: {e}")))??;
                let file = Arc::new(file);
                self.open_files.insert(id, &path, file.clone());
                (file, meta)
            }
        };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let len = meta.len();
        Ok(AudioFile {
            track: id,
            file,
            len,
            validators: Validators {
                etag: etag(id, len, modified),
                last_modified: whole_seconds(modified),
                last_modified_is_strong: modified + Duration::from_secs(1) <= SystemTime::now(),
            },
            mime,
            file_name,
            path,
            modified,
            duration_ms,
        })
    }

    /// Counts one download of `id` and returns the new count.
    pub fn count_download(&self, id: TrackId) -> Result<u64> {
        Ok(self
            .downloads
            .update(&id, |n| Some(n.unwrap_or(0).saturating_add(1)))?
            .unwrap_or(0))
    }

    /// How many times `id` has been downloaded.
    pub fn download_count(&self, id: TrackId) -> Result<u64> {
        Ok(self.downloads.get(&id)?.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_and_change_with_the_file() {
        let (a, b) = (TrackId::new(), TrackId::new());
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let e = etag(a, 10, t);
        assert!(e.starts_with('"') && e.ends_with('"') && !e.starts_with("W/"));
        assert_eq!(e, etag(a, 10, t));
        assert_ne!(e, etag(b, 10, t));
        assert_ne!(e, etag(a, 11, t));
        assert_ne!(e, etag(a, 10, t + Duration::from_nanos(1)));
    }

    #[test]
    fn a_missing_file_is_media_missing_not_io() {
        let dir = tempfile::tempdir().unwrap();
        let r = open_file(TrackId::new(), &dir.path().join("gone.flac"));
        assert!(matches!(r, Err(Error::MediaMissing)));
        let r = open_file(TrackId::new(), &dir.path().join("gone/deeper.flac"));
        assert!(matches!(r, Err(Error::MediaMissing)));
        let r = open_file(TrackId::new(), dir.path());
        assert!(matches!(r, Err(Error::MediaMissing)));
    }
}
