//! Audio files kept open for a few seconds after they were served.
//!
//! A player seeking through a track sends a range request per seek, and many listeners of one
//! track each send their own: without this, every request would open the file again on the
//! blocking pool, a thread hand-off that costs more than serving a small range. A kept handle
//! is reused only while it is young, and only while the catalogued path still leads to the
//! file it has open: every use compares the path's `stat` with the handle's `fstat` (both
//! answered from memory for a file just served). So a file changed in place answers with its
//! new length and validators, and a file deleted, replaced, or behind a folder that moved or
//! was unmounted is opened afresh (or reported missing) at once.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::domain::TrackId;

/// How long a handle is reused after it was opened: how long an idle handle stays open.
const KEEP: Duration = Duration::from_secs(10);

/// At most this many handles are kept, so file descriptors stay bounded whatever is played.
const CAPACITY: usize = 256;

struct Kept {
    path: PathBuf,
    file: Arc<File>,
    opened: Instant,
}

/// Handles of recently served audio files, by track.
#[derive(Default)]
pub(super) struct OpenFiles {
    kept: Mutex<HashMap<TrackId, Kept>>,
}

impl OpenFiles {
    /// A kept handle of `track`'s file at `path`, with its metadata now; `None` when there is
    /// none, it is too old, or `path` no longer leads to the file it has open.
    pub(super) fn get(&self, track: TrackId, path: &Path) -> Option<(Arc<File>, Metadata)> {
        let file = {
            let kept = self.kept.lock();
            let k = kept.get(&track)?;
            (k.path == path && k.opened.elapsed() < KEEP).then(|| k.file.clone())?
        };
        let same =
            |meta: &Metadata, now: &Metadata| (meta.dev(), meta.ino()) == (now.dev(), now.ino());
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(meta), Ok(now)) if same(&meta, &now) => Some((file, meta)),
            _ => {
                self.kept.lock().remove(&track);
                None
            }
        }
    }

    /// Keeps `file`, just opened at `path`, for `track`.
    pub(super) fn insert(&self, track: TrackId, path: &Path, file: Arc<File>) {
        let mut kept = self.kept.lock();
        if kept.len() >= CAPACITY && !kept.contains_key(&track) {
            kept.retain(|_, k| k.opened.elapsed() < KEEP);
            if kept.len() >= CAPACITY {
                // Every handle is young: the oldest goes. A full scan, but only when 256 tracks
                // were started within the last few seconds.
                if let Some(oldest) = kept.iter().min_by_key(|(_, k)| k.opened).map(|(id, _)| *id) {
                    kept.remove(&oldest);
                }
            }
        }
        kept.insert(
            track,
            Kept {
                path: path.to_path_buf(),
                file,
                opened: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(path: &Path, bytes: &[u8]) {
        let mut f = File::create(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    fn kept(files: &OpenFiles, id: TrackId, path: &Path) {
        files.insert(id, path, Arc::new(File::open(path).unwrap()));
    }

    /// A new folder with `a.flac` holding `bytes`, and its handle kept for a new track.
    fn one_kept(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, OpenFiles, TrackId) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.flac");
        write(&path, bytes);
        let (files, id) = (OpenFiles::default(), TrackId::new());
        kept(&files, id, &path);
        (dir, path, files, id)
    }

    #[test]
    fn a_kept_handle_is_reused_with_fresh_metadata() {
        let (dir, path, files, id) = one_kept(b"12345");
        let (again, meta) = files.get(id, &path).unwrap();
        assert!(Arc::ptr_eq(&files.kept.lock()[&id].file, &again));
        assert_eq!(meta.len(), 5);
        // Changed in place: the same handle, the new length.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"678")
            .unwrap();
        assert_eq!(files.get(id, &path).unwrap().1.len(), 8);
        // Another path for the track (the file was moved in the catalog): not this handle.
        assert!(files.get(id, &dir.path().join("b.flac")).is_none());
        assert!(files.get(TrackId::new(), &path).is_none());
    }

    #[test]
    fn a_file_behind_a_moved_folder_is_not_served_from_its_old_handle() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        write(&dir.path().join("real/a.flac"), b"123");
        let folder = dir.path().join("music");
        std::os::unix::fs::symlink(dir.path().join("real"), &folder).unwrap();
        let path = folder.join("a.flac");
        let files = OpenFiles::default();
        let id = TrackId::new();
        kept(&files, id, &path);
        assert!(files.get(id, &path).is_some());
        // The folder now leads elsewhere; the old file still exists.
        std::fs::remove_file(&folder).unwrap();
        std::fs::create_dir(&folder).unwrap();
        assert!(files.get(id, &path).is_none());
        write(&path, b"other");
        assert!(files.get(id, &path).is_none());
    }

    #[test]
    fn a_deleted_or_replaced_file_is_not_served_from_its_old_handle() {
        let (dir, path, files, id) = one_kept(b"old");
        let new = dir.path().join("new.flac");
        write(&new, b"new!");
        std::fs::rename(&new, &path).unwrap();
        assert!(files.get(id, &path).is_none());
        kept(&files, id, &path);
        assert_eq!(files.get(id, &path).unwrap().1.len(), 4);
        std::fs::remove_file(&path).unwrap();
        assert!(files.get(id, &path).is_none());
    }

    #[test]
    fn at_most_capacity_handles_are_kept() {
        let (_dir, path, files, first) = one_kept(b"x");
        for _ in 0..CAPACITY + 10 {
            kept(&files, TrackId::new(), &path);
        }
        assert_eq!(files.kept.lock().len(), CAPACITY);
        assert!(
            files.get(first, &path).is_none(),
            "the oldest handle went first"
        );
    }
}
