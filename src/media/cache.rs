//! Finished transcodes on disk (`data_dir/transcodes/`), served again like original files.
//!
//! # Layout and life of an entry
//! - One file per result, named from its [`CacheKey`] (track, source size and modification
//!   time, codec, bitrate), so a changed source never hits an old result and nothing but the
//!   name is needed to find one.
//! - A transcode writes into a temporary file (`.tmp-*`) in the same directory, and only a
//!   complete one is renamed into place: a half file is never visible, and an abandoned one is
//!   deleted when its handle drops (or at the next start, after a crash).
//! - Least recently used entries are removed after each insert until the total fits
//!   `transcode.cache_max_mb`. A hit sets the file's access time explicitly (whatever the mount's
//!   `atime` policy), so the order survives restarts: start-up scans the directory and reads it.

use std::collections::HashMap;
use std::fs::{File, FileTimes};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::transcode::Codec;
use crate::domain::TrackId;

/// Prefix of files still being written.
const TEMP_PREFIX: &str = ".tmp-";

/// What a cached result depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey {
    /// The track.
    pub track: TrackId,
    /// Size of its file when the transcode started.
    pub source_len: u64,
    /// Modification time of its file when the transcode started.
    pub source_mtime: SystemTime,
    /// Output codec.
    pub codec: Codec,
    /// Output bitrate, as the encoder used it.
    pub bitrate_kbps: u32,
}

impl CacheKey {
    /// The entry's file name: a hash of every part, and the codec's extension.
    pub fn file_name(&self) -> String {
        let mtime_ns = self
            .source_mtime
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut h = Sha256::new();
        h.update(self.track.as_uuid().as_bytes());
        h.update(self.source_len.to_be_bytes());
        h.update(mtime_ns.to_be_bytes());
        h.update([match self.codec {
            Codec::Opus => 1u8,
            Codec::Mp3 => 2,
        }]);
        h.update(self.bitrate_kbps.to_be_bytes());
        let hex: String = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        let ext = match self.codec {
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
        };
        format!("{hex}.{ext}")
    }

    /// The strong entity tag of the entry: its content is fixed by the key.
    pub fn etag(&self) -> String {
        let name = self.file_name();
        let stem = name.split('.').next().unwrap_or_default();
        format!("\"t{}\"", &stem[..stem.len().min(24)])
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    len: u64,
    accessed: SystemTime,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    total: u64,
}

/// The transcode cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
}

/// A result being written; dropped unfinished, it leaves nothing behind.
#[derive(Debug)]
pub struct Pending {
    file: tempfile::NamedTempFile,
    key: CacheKey,
}

impl Pending {
    /// Appends output.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        io::Write::write_all(self.file.as_file_mut(), data)
    }
}

impl Cache {
    /// Opens the cache in `dir` (created if missing): deletes unfinished files left by a crash,
    /// indexes the rest by access time and trims them to `max_bytes`.
    pub fn open(dir: PathBuf, max_bytes: u64) -> io::Result<Cache> {
        std::fs::create_dir_all(&dir)?;
        let mut index = Index::default();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let accessed = meta
                .accessed()
                .or_else(|_| meta.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            index.total += meta.len();
            index.entries.insert(
                name,
                Entry {
                    len: meta.len(),
                    accessed,
                },
            );
        }
        let cache = Cache {
            dir,
            max_bytes,
            index: Mutex::new(index),
        };
        cache.evict();
        Ok(cache)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Total size of the entries, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.index.lock().total
    }

    /// Opens the entry for `key`, if there is one, and marks it used.
    pub fn open_entry(&self, key: &CacheKey) -> Option<(File, PathBuf)> {
        let name = key.file_name();
        let now = SystemTime::now();
        {
            let mut index = self.index.lock();
            let entry = index.entries.get_mut(&name)?;
            entry.accessed = now;
        }
        let path = self.dir.join(&name);
        match File::open(&path) {
            Ok(file) => {
                // Best effort: only the order after a restart depends on it.
                let _ = file.set_times(FileTimes::new().set_accessed(now));
                Some((file, path))
            }
            Err(e) => {
                // Removed behind our back: forget it, and transcode again.
                tracing::warn!(path = %path.display(), error = %e, "a cached transcode is unreadable");
                self.forget(&name);
                None
            }
        }
    }

    /// Starts writing the result for `key`.
    pub fn begin(&self, key: CacheKey) -> io::Result<Pending> {
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        Ok(Pending { file, key })
    }

    /// Publishes a complete result under its key, then trims the cache to its cap.
    pub fn commit(&self, pending: Pending) -> io::Result<()> {
        let Pending { file, key } = pending;
        let name = key.file_name();
        file.as_file().sync_data()?;
        let len = file.as_file().metadata()?.len();
        file.persist(self.dir.join(&name)).map_err(|e| e.error)?;
        {
            let mut index = self.index.lock();
            let old = index.entries.insert(
                name,
                Entry {
                    len,
                    accessed: SystemTime::now(),
                },
            );
            index.total = index.total - old.map_or(0, |o| o.len) + len;
        }
        self.evict();
        Ok(())
    }

    fn forget(&self, name: &str) {
        let mut index = self.index.lock();
        if let Some(old) = index.entries.remove(name) {
            index.total -= old.len;
        }
    }

    /// Removes least recently used entries until the total fits the cap. Deleting a file that
    /// is being served is safe: the open handle keeps its bytes until the response ends.
    fn evict(&self) {
        loop {
            let victim = {
                let mut index = self.index.lock();
                if index.total <= self.max_bytes {
                    return;
                }
                let Some(name) = index
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.accessed)
                    .map(|(n, _)| n.clone())
                else {
                    return;
                };
                if let Some(old) = index.entries.remove(&name) {
                    index.total -= old.len;
                }
                name
            };
            let path = self.dir.join(&victim);
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "removing a cached transcode failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(bitrate_kbps: u32) -> CacheKey {
        CacheKey {
            track: TrackId::new(),
            source_len: 10,
            source_mtime: SystemTime::UNIX_EPOCH + Duration::from_secs(1),
            codec: Codec::Opus,
            bitrate_kbps,
        }
    }

    fn put(cache: &Cache, k: CacheKey, len: usize) {
        let mut p = cache.begin(k).unwrap();
        p.write(&vec![7u8; len]).unwrap();
        cache.commit(p).unwrap();
    }

    #[test]
    fn keys_differ_by_every_part() {
        let k = key(64);
        assert_eq!(k.file_name(), k.file_name());
        assert_ne!(k.file_name(), key(64).file_name());
        assert_ne!(
            k.file_name(),
            CacheKey {
                bitrate_kbps: 96,
                ..k
            }
            .file_name()
        );
        assert_ne!(
            k.file_name(),
            CacheKey {
                source_len: 11,
                ..k
            }
            .file_name()
        );
        assert!(CacheKey {
            codec: Codec::Mp3,
            ..k
        }
        .file_name()
        .ends_with(".mp3"));
    }

    #[test]
    fn least_recently_used_go_first_and_the_order_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_owned(), 250).unwrap();
        let (a, b, c) = (key(1), key(2), key(3));
        put(&cache, a, 100);
        put(&cache, b, 100);
        // Touch a: b is now the least recently used.
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.open_entry(&a).is_some());
        put(&cache, c, 100);
        assert!(cache.open_entry(&b).is_none());
        assert!(cache.open_entry(&a).is_some());
        assert!(cache.open_entry(&c).is_some());
        assert_eq!(cache.total_bytes(), 200);
        drop(cache);

        // A leftover temporary file is removed; a smaller cap trims at start.
        std::fs::write(dir.path().join(".tmp-crashed"), b"half").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let cache = Cache::open(dir.path().to_owned(), 1000).unwrap();
        assert!(cache.open_entry(&a).is_some());
        drop(cache);
        let cache = Cache::open(dir.path().to_owned(), 150).unwrap();
        assert_eq!(cache.total_bytes(), 100);
        assert!(cache.open_entry(&a).is_some(), "a was used last");
        assert!(cache.open_entry(&c).is_none());
        assert!(!dir.path().join(".tmp-crashed").exists());
    }

    #[test]
    fn an_abandoned_result_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_owned(), 1000).unwrap();
        let mut p = cache.begin(key(1)).unwrap();
        p.write(b"partial").unwrap();
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(cache.total_bytes(), 0);
    }
}
